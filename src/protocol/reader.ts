/**
 * Bounds-checked reading of one packet payload.
 *
 * Every read checks the remaining length first and throws `ProtocolError` on truncated or
 * malformed input, so decoders built on it are total. Buffers returned by `bytes`, `rest`,
 * `lenencBuffer` and `nulBuffer` are views into the payload (no copy): copy them if the payload
 * memory may be reused while you keep them.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_data_types.html
 */
import { ProtocolError } from './errors.js';

const EMPTY = Buffer.alloc(0);

/** Reads a length-encoded integer's value at `offset` and the number of bytes it occupies. */
export interface LenencInt {
  value: number | bigint | null;
  size: number;
}

/**
 * A cursor over one payload. Fixed-width integers are little-endian (`int<n>` in the docs);
 * `u64` returns a bigint because 64-bit values do not fit a number.
 */
export class PacketReader {
  private readonly buf: Buffer;
  private pos: number;
  private readonly end: number;

  /** Reads `buf` from `offset` (default 0) to its end. */
  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.end = buf.length;
    if (!Number.isInteger(offset) || offset < 0 || offset > this.end) {
      throw new ProtocolError(`reader offset ${offset} outside packet of ${this.end} bytes`, 'truncated');
    }
    this.pos = offset;
  }

  /** Current cursor position within the payload. */
  get offset(): number {
    return this.pos;
  }

  /** Bytes left after the cursor. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new ProtocolError(
        `truncated packet: ${what} needs ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`,
        'truncated',
      );
    }
  }

  /** The next byte without consuming it, or undefined at the end. */
  peek(): number | undefined {
    return this.pos < this.end ? this.buf[this.pos] : undefined;
  }

  u8(): number {
    this.need(1, 'int<1>');
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    this.need(2, 'int<2>');
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3, 'int<3>');
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(): number {
    this.need(4, 'int<4>');
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8, 'int<8>');
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * Length-encoded integer: `0xfb` is SQL NULL (in rows), `0xfc`/`0xfd`/`0xfe` prefix 2/3/8-byte
   * values, `0xff` is invalid (it is the ERR header). Values above 2^53 come back as bigint.
   */
  lenencInt(): number | bigint | null {
    const r = readLenencInt(this.buf, this.pos, this.end);
    this.pos += r.size;
    return r.value;
  }

  /** A length-encoded integer that must be a non-NULL length fitting the rest of the packet. */
  lenencLength(): number {
    const v = this.lenencInt();
    if (v === null) throw new ProtocolError(`unexpected NULL length at offset ${this.pos - 1}`, 'malformed');
    if (typeof v === 'bigint' || v > this.end - this.pos) {
      throw new ProtocolError(`length ${v} exceeds the ${this.end - this.pos} bytes left`, 'truncated');
    }
    return v;
  }

  /** Length-encoded string as bytes; null for the NULL marker `0xfb`. */
  lenencBuffer(): Buffer | null {
    if (this.peek() === 0xfb) {
      this.pos++;
      return null;
    }
    return this.bytes(this.lenencLength());
  }

  /** Length-encoded UTF-8 string; NULL is rejected (use `lenencBuffer` where NULL is legal). */
  lenencString(): string {
    return this.bytes(this.lenencLength()).toString('utf8');
  }

  /** Bytes up to (not including) the next NUL, consuming the NUL. Throws if there is none. */
  nulBuffer(): Buffer {
    const idx = this.buf.indexOf(0, this.pos);
    if (idx < 0 || idx >= this.end) {
      throw new ProtocolError(`missing NUL terminator after offset ${this.pos}`, 'missing-nul');
    }
    const out = this.buf.subarray(this.pos, idx);
    this.pos = idx + 1;
    return out;
  }

  /** NUL-terminated UTF-8 string. */
  nulString(): string {
    return this.nulBuffer().toString('utf8');
  }

  /**
   * NUL-terminated string, or the rest of the packet when the NUL is missing. Some servers and
   * clients omit the final NUL of the last field (e.g. the auth plugin name, MySQL bug #59453).
   */
  nulStringOrRest(): string {
    const idx = this.buf.indexOf(0, this.pos);
    if (idx < 0 || idx >= this.end) return this.rest().toString('utf8');
    const out = this.buf.toString('utf8', this.pos, idx);
    this.pos = idx + 1;
    return out;
  }

  bytes(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0) throw new ProtocolError(`invalid length ${n}`, 'malformed');
    this.need(n, `string<${n}>`);
    const out = n === 0 ? EMPTY : this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Fixed-length UTF-8 string. */
  string(n: number): string {
    return this.bytes(n).toString('utf8');
  }

  /** Everything after the cursor (string<EOF>). */
  rest(): Buffer {
    return this.bytes(this.end - this.pos);
  }

  /** The rest of the packet as UTF-8. */
  restString(): string {
    return this.rest().toString('utf8');
  }

  skip(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new ProtocolError(`invalid skip ${n}`, 'malformed');
    this.need(n, `skip ${n}`);
    this.pos += n;
  }

  /** Throws if anything is left; for packets whose layout has no optional tail. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new ProtocolError(`${this.end - this.pos} unexpected trailing bytes in ${what}`, 'trailing-bytes');
    }
  }
}

/**
 * Decodes a length-encoded integer at `offset` without allocating a reader; `end` bounds the
 * packet (defaults to `buf.length`). Throws `ProtocolError` if it runs past `end` or starts with
 * the invalid prefix `0xff`.
 */
export function readLenencInt(buf: Buffer, offset: number, end: number = buf.length): LenencInt {
  if (offset >= end) throw new ProtocolError(`truncated length-encoded integer at ${offset}`, 'truncated');
  const first = buf[offset] as number;
  if (first < 0xfb) return { value: first, size: 1 };
  if (first === 0xfb) return { value: null, size: 1 };
  if (first === 0xfc) {
    if (offset + 3 > end) throw new ProtocolError(`truncated int<lenenc> at ${offset}`, 'truncated');
    return { value: buf.readUInt16LE(offset + 1), size: 3 };
  }
  if (first === 0xfd) {
    if (offset + 4 > end) throw new ProtocolError(`truncated int<lenenc> at ${offset}`, 'truncated');
    return { value: buf.readUIntLE(offset + 1, 3), size: 4 };
  }
  if (first === 0xfe) {
    if (offset + 9 > end) throw new ProtocolError(`truncated int<lenenc> at ${offset}`, 'truncated');
    const big = buf.readBigUInt64LE(offset + 1);
    return { value: big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big, size: 9 };
  }
  throw new ProtocolError(`invalid length-encoded integer prefix 0xff at ${offset}`, 'malformed');
}

/**
 * Offset just past the length-encoded integer at `offset`, without allocating. Used on the hot
 * path to step over affected-rows / last-insert-id in OK packets.
 */
export function skipLenencInt(buf: Buffer, offset: number, end: number = buf.length): number {
  if (offset >= end) throw new ProtocolError(`truncated length-encoded integer at ${offset}`, 'truncated');
  const first = buf[offset] as number;
  const size = first < 0xfb ? 1 : first === 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : first === 0xfe ? 9 : 0;
  if (size === 0) throw new ProtocolError(`invalid length-encoded integer prefix 0xff at ${offset}`, 'malformed');
  if (offset + size > end) throw new ProtocolError(`truncated int<lenenc> at ${offset}`, 'truncated');
  return offset + size;
}
