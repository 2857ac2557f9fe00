/**
 * Packet framing: 4-byte headers (3-byte payload length, 1-byte sequence id) and the 16 MiB
 * continuation rule. A payload of 2^24-1 bytes or more is sent as 2^24-1-byte physical packets
 * with consecutive sequence ids, ended by a shorter packet, which is empty when the payload
 * length is an exact multiple of 2^24-1.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 */
import { MAX_PACKET_PAYLOAD, PACKET_HEADER_LENGTH } from './constants.js';
import { ProtocolError } from './errors.js';
import { ChunkQueue } from './chunk-queue.js';

/** One logical packet, continuations already joined. */
export interface DecodedPacket {
  /** Sequence id of the first physical packet. */
  seq: number;
  /** Sequence id of the last physical packet (the next packet in the exchange uses lastSeq+1). */
  lastSeq: number;
  payload: Buffer;
  /**
   * Header + payload as received, when the packet was one physical packet inside one input
   * chunk (a view, no copy): a proxy can forward it without re-framing. Undefined otherwise.
   */
  frame?: Buffer | undefined;
}

/** Number of physical packets (and sequence ids) a payload of `length` bytes takes. */
export function physicalPacketCount(length: number): number {
  return Math.floor(length / MAX_PACKET_PAYLOAD) + 1;
}

/** Writes a header at `offset`; `seq` is taken modulo 256. */
export function writePacketHeader(target: Buffer, offset: number, length: number, seq: number): void {
  target[offset] = length & 0xff;
  target[offset + 1] = (length >>> 8) & 0xff;
  target[offset + 2] = (length >>> 16) & 0xff;
  target[offset + 3] = seq & 0xff;
}

/** Copies `payload` with its header(s) into `target` at `offset`; returns the offset after it. */
function writeFramed(target: Buffer, offset: number, payload: Buffer, seq: number): number {
  const count = physicalPacketCount(payload.length);
  let src = 0;
  for (let i = 0; i < count; i++) {
    const len = Math.min(MAX_PACKET_PAYLOAD, payload.length - src);
    writePacketHeader(target, offset, len, seq + i);
    offset += PACKET_HEADER_LENGTH;
    payload.copy(target, offset, src, src + len);
    offset += len;
    src += len;
  }
  return offset;
}

/**
 * Frames one logical payload as a single Buffer: splits at 2^24-1 bytes with incrementing
 * sequence ids (mod 256) and appends the empty trailing packet an exact multiple needs.
 * The packet after it uses `seq + physicalPacketCount(payload.length)`.
 */
export function encodePacket(payload: Buffer, seq: number): Buffer {
  const count = physicalPacketCount(payload.length);
  const out = Buffer.allocUnsafe(payload.length + count * PACKET_HEADER_LENGTH);
  writeFramed(out, 0, payload, seq);
  return out;
}

/**
 * Frames several logical payloads with consecutive sequence ids into one Buffer, so that a whole
 * reply goes out in one socket write.
 */
export function encodePackets(payloads: readonly Buffer[], firstSeq: number): Buffer {
  let total = 0;
  for (const p of payloads) total += p.length + physicalPacketCount(p.length) * PACKET_HEADER_LENGTH;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  let seq = firstSeq;
  for (const p of payloads) {
    offset = writeFramed(out, offset, p, seq);
    seq += physicalPacketCount(p.length);
  }
  return out;
}

/**
 * Turns a byte stream into logical packets. Feed socket chunks with `push`, then drain with
 * `next()` until it returns undefined.
 *
 * Input chunks are queued, not concatenated, so a large packet arriving in many chunks costs one
 * copy when it completes; a packet lying inside a single chunk is returned as a view of it.
 * A logical packet larger than `maxPacketSize` fails as soon as the header that makes it too
 * large arrives, before its bytes are buffered. After any `ProtocolError` the stream is out of
 * sync: the decoder stays failed and the connection must be closed.
 */
export class PacketDecoder {
  private readonly maxPacketSize: number;
  private readonly input = new ChunkQueue();
  /** Completed 2^24-1-byte physical packets of a logical packet still being reassembled. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private firstSeq = 0;
  private prevSeq = 0;
  private failure: ProtocolError | undefined;

  constructor(maxPacketSize: number) {
    if (!Number.isInteger(maxPacketSize) || maxPacketSize < 0) {
      throw new RangeError(`maxPacketSize must be a non-negative integer, got ${maxPacketSize}`);
    }
    this.maxPacketSize = maxPacketSize;
  }

  /** Bytes held: unconsumed input plus any partly reassembled continuation packet. */
  get buffered(): number {
    return this.input.length + this.partsLength;
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    this.input.push(chunk);
  }

  /** The next complete logical packet, or undefined if more input is needed. */
  next(): DecodedPacket | undefined {
    if (this.failure) throw this.failure;
    for (;;) {
      const input = this.input;
      if (input.length < PACKET_HEADER_LENGTH) return undefined;
      const length = input.peekByte(0) | (input.peekByte(1) << 8) | (input.peekByte(2) << 16);
      const seq = input.peekByte(3);
      const continuing = this.parts.length > 0;
      if (continuing && seq !== ((this.prevSeq + 1) & 0xff)) {
        return this.fail(
          new ProtocolError(
            `continuation packet has sequence id ${seq}, expected ${(this.prevSeq + 1) & 0xff}`,
            'bad-sequence',
          ),
        );
      }
      if (this.partsLength + length > this.maxPacketSize) {
        return this.fail(
          new ProtocolError(
            `packet of at least ${this.partsLength + length} bytes exceeds the limit of ${this.maxPacketSize}`,
            'packet-too-large',
          ),
        );
      }
      if (input.length < PACKET_HEADER_LENGTH + length) return undefined;

      // A packet that sits whole in one chunk can be forwarded as is: keep a view of its frame.
      const frame = !continuing && length < MAX_PACKET_PAYLOAD ? input.view(PACKET_HEADER_LENGTH + length) : undefined;
      input.consume(PACKET_HEADER_LENGTH);
      const body = input.take(length);
      if (!continuing) this.firstSeq = seq;
      this.prevSeq = seq;
      if (length === MAX_PACKET_PAYLOAD) {
        // A full-size physical packet always continues, possibly with an empty one.
        this.parts.push(body);
        this.partsLength += length;
        continue;
      }
      let payload = body;
      if (continuing) {
        this.parts.push(body);
        payload = Buffer.concat(this.parts, this.partsLength + length);
        this.parts = [];
        this.partsLength = 0;
      }
      return { seq: this.firstSeq, lastSeq: seq, payload, frame };
    }
  }

  private fail(err: ProtocolError): never {
    this.failure = err;
    throw err;
  }
}
