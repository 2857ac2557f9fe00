/**
 * Growable builder for one packet payload (no header; `framer.ts` adds headers).
 *
 * Encoders work from values the proxy itself produced, so out-of-range input is a programming
 * error and surfaces as a RangeError, unlike decoders, which throw `ProtocolError` on peer input.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_data_types.html
 */

export class PacketWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialCapacity = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Size in bytes of `n` as a length-encoded integer. */
  static lenencIntSize(n: number | bigint): number {
    if (typeof n === 'bigint') {
      if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError(`lenenc int out of range: ${n}`);
      return n < 251n ? 1 : n < 0x10000n ? 3 : n < 0x1000000n ? 4 : 9;
    }
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`lenenc int out of range: ${n}`);
    return n < 251 ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9;
  }

  /** Makes room for `n` more bytes, doubling so that appends stay amortised O(1). */
  private ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < needed) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.pos = this.buf.writeUInt8(v, this.pos);
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.pos = this.buf.writeUInt16LE(v, this.pos);
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.pos = this.buf.writeUIntLE(v, this.pos, 3);
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(toU32(v), this.pos);
    return this;
  }

  u64(v: bigint | number): this {
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64LE(typeof v === 'bigint' ? v : BigInt(v), this.pos);
    return this;
  }

  /** Length-encoded integer (1, 3, 4 or 9 bytes). */
  lenencInt(v: number | bigint): this {
    const size = PacketWriter.lenencIntSize(v);
    if (size === 1) return this.u8(Number(v));
    if (size === 3) return this.u8(0xfc).u16(Number(v));
    if (size === 4) return this.u8(0xfd).u24(Number(v));
    return this.u8(0xfe).u64(v);
  }

  /** The NULL marker of text rows (`0xfb`). */
  nullMarker(): this {
    return this.u8(0xfb);
  }

  lenencBuffer(b: Uint8Array): this {
    this.lenencInt(b.length);
    return this.bytes(b);
  }

  lenencString(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.lenencInt(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
    return this;
  }

  /** UTF-8 string followed by a NUL. The string itself must not contain NUL. */
  nulString(s: string): this {
    this.string(s);
    return this.u8(0);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** UTF-8 string without length or terminator (string<fix> / string<EOF>). */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
    return this;
  }

  /** `n` zero bytes (fillers and reserved fields). */
  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /**
   * The payload written so far. It is a view of the internal buffer, not a copy; later appends
   * never change those bytes (they only write past them or into a new buffer).
   */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Accepts uint32 values and also int32 ones, because flag words built with `|` come out negative
 * once bit 31 is set; both map to the same four bytes.
 */
function toU32(v: number): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
    throw new RangeError(`int<4> out of range: ${v}`);
  }
  return v >>> 0;
}
