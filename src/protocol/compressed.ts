/**
 * The compressed protocol (CLIENT_COMPRESS, zlib): a layer under the ordinary packet framing.
 * Once negotiated, everything after the OK that ends authentication travels in compressed
 * frames: 3-byte payload length, 1-byte compressed sequence id, 3-byte length before
 * compression (0: the payload is sent as is), then the payload. A frame's payload is any run of
 * bytes of the ordinary packet stream: a packet may span frames, a frame may carry several.
 *
 * The compressed sequence id has its own counter, restarted with each command like the ordinary
 * one (the reply's first frame follows the client's last frame); keeping it is the caller's job.
 * Only zlib is here: zstd (CLIENT_ZSTD_COMPRESSION_ALGORITHM) is not in Node 20's zlib.
 *
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_compression.html
 */
import zlib from 'node:zlib';
import { ProtocolError } from './errors.js';
import { ChunkQueue } from './chunk-queue.js';

export const COMPRESSED_HEADER_LENGTH = 7;

/**
 * Shorter payloads go uncompressed, as the servers do (MIN_COMPRESS_LENGTH): deflate's header
 * and checksum make them larger, not smaller.
 */
export const MIN_COMPRESS_LENGTH = 50;

/**
 * Most plain bytes one frame carries. Deflate's window is 32 KiB, so larger frames barely
 * compress better, while each synchronous deflate holds the event loop for its whole input;
 * relayed socket chunks (at most 64 KiB) fit in one frame. It also keeps every payload below
 * 0xffffff, a length some clients (mysql2) would read as "continued in the next frame".
 */
export const MAX_FRAME_INPUT = 64 * 1024;

/**
 * Level 1: a proxy compresses every result it relays on its event loop; level 1 is markedly
 * faster than the servers' default 6 and compresses row data almost as well.
 */
export const DEFAULT_COMPRESSION_LEVEL = 1;

export interface EncodedFrames {
  /** The frames, one after the other, for one socket write. */
  readonly bytes: Buffer;
  /** How many frames (compressed sequence ids) they took. */
  readonly count: number;
}

/**
 * Frames `data` (any bytes of the ordinary packet stream) as compressed packets with sequence ids
 * from `firstSeq` (mod 256). Up to MAX_FRAME_INPUT bytes go in one frame; a piece that is short
 * or does not shrink is sent uncompressed.
 */
export function encodeCompressed(data: Buffer, firstSeq: number, level = DEFAULT_COMPRESSION_LEVEL): EncodedFrames {
  if (data.length <= MAX_FRAME_INPUT) {
    const payload = compressPiece(data, level);
    const out = Buffer.allocUnsafe(COMPRESSED_HEADER_LENGTH + payload.length);
    writeFrame(out, 0, payload, payload === data ? 0 : data.length, firstSeq);
    return { bytes: out, count: 1 };
  }
  const payloads: Buffer[] = [];
  const plainLengths: number[] = [];
  let total = 0;
  for (let start = 0; start < data.length; start += MAX_FRAME_INPUT) {
    const piece = data.subarray(start, start + MAX_FRAME_INPUT);
    const payload = compressPiece(piece, level);
    payloads.push(payload);
    plainLengths.push(payload === piece ? 0 : piece.length);
    total += COMPRESSED_HEADER_LENGTH + payload.length;
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < payloads.length; i++) {
    offset = writeFrame(out, offset, payloads[i]!, plainLengths[i]!, firstSeq + i);
  }
  return { bytes: out, count: payloads.length };
}

/** The deflated piece, or the piece itself when deflating would not make it shorter. */
function compressPiece(piece: Buffer, level: number): Buffer {
  if (piece.length < MIN_COMPRESS_LENGTH) return piece;
  const deflated = zlib.deflateSync(piece, { level });
  return deflated.length < piece.length ? deflated : piece;
}

function writeFrame(target: Buffer, offset: number, payload: Buffer, plainLength: number, seq: number): number {
  target.writeUIntLE(payload.length, offset, 3);
  target[offset + 3] = seq & 0xff;
  target.writeUIntLE(plainLength, offset + 4, 3);
  payload.copy(target, offset + COMPRESSED_HEADER_LENGTH);
  return offset + COMPRESSED_HEADER_LENGTH + payload.length;
}

/** One frame's content, decompressed. */
export interface DecodedFrame {
  /** The frame's compressed sequence id. */
  readonly seq: number;
  /** Bytes of the ordinary packet stream (a view of the input when sent uncompressed). */
  readonly payload: Buffer;
}

/**
 * Turns the bytes of a compressed connection into frames of the plain stream. Feed socket chunks
 * with `push`, then drain with `next()` until it returns undefined; feed each payload to a
 * PacketDecoder. At most one frame (< 16 MiB, the format's limit) is buffered. After any
 * `ProtocolError` (a length that does not match, data that does not inflate) the decoder stays
 * failed and the connection must be closed.
 */
export class CompressedDecoder {
  private readonly input = new ChunkQueue();
  private failure: ProtocolError | undefined;

  /** Bytes held, not yet returned in a frame. */
  get buffered(): number {
    return this.input.length;
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    this.input.push(chunk);
  }

  next(): DecodedFrame | undefined {
    if (this.failure) throw this.failure;
    const input = this.input;
    if (input.length < COMPRESSED_HEADER_LENGTH) return undefined;
    const length = input.peekByte(0) | (input.peekByte(1) << 8) | (input.peekByte(2) << 16);
    const seq = input.peekByte(3);
    const plainLength = input.peekByte(4) | (input.peekByte(5) << 8) | (input.peekByte(6) << 16);
    if (input.length < COMPRESSED_HEADER_LENGTH + length) return undefined;
    input.consume(COMPRESSED_HEADER_LENGTH);
    const body = input.take(length);
    if (plainLength === 0) return { seq, payload: body };
    if (length === 0) {
      return this.fail(new ProtocolError(`compressed frame ${seq} is empty but claims ${plainLength} bytes`, 'bad-compressed-frame'));
    }
    let payload: Buffer;
    try {
      // The declared length bounds the output: a frame cannot inflate into more than it claims.
      payload = zlib.inflateSync(body, { maxOutputLength: plainLength });
    } catch (err) {
      const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      return this.fail(
        new ProtocolError(
          tooLarge
            ? `compressed frame ${seq} inflates to more than the ${plainLength} bytes it claims`
            : `compressed frame ${seq} does not inflate: ${(err as Error).message}`,
          tooLarge ? 'compressed-length-mismatch' : 'inflate-failed',
        ),
      );
    }
    if (payload.length !== plainLength) {
      return this.fail(
        new ProtocolError(
          `compressed frame ${seq} inflates to ${payload.length} bytes, not the ${plainLength} it claims`,
          'compressed-length-mismatch',
        ),
      );
    }
    return { seq, payload };
  }

  private fail(err: ProtocolError): never {
    this.failure = err;
    this.input.clear();
    throw err;
  }
}

