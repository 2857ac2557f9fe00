/**
 * Input bytes as they arrived, chunk by chunk, for the decoders that cut them into packets or
 * frames (framer.ts, compressed.ts). Chunks are queued, not concatenated: a unit lying inside one
 * chunk is taken as a view of it, and one spread over several costs a single copy when complete.
 */
export class ChunkQueue {
  /** Chunks before `head` are consumed, and `headOffset` bytes of chunks[head] too. */
  private chunks: Buffer[] = [];
  private head = 0;
  private headOffset = 0;
  /** Unconsumed bytes across the queue. */
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Drops everything (a decoder that failed). */
  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.headOffset = 0;
    this.length = 0;
  }

  /** Byte `i` of the unconsumed input; callers guarantee `i < length`. */
  peekByte(i: number): number {
    let idx = this.head;
    let off = this.headOffset + i;
    for (;;) {
      const c = this.chunks[idx] as Buffer;
      if (off < c.length) return c[off] as number;
      off -= c.length;
      idx++;
    }
  }

  /** The next `n` bytes as a view, when they lie in one chunk (else undefined); nothing is consumed. */
  view(n: number): Buffer | undefined {
    const first = this.chunks[this.head];
    if (first === undefined || this.headOffset + n > first.length) return undefined;
    return first.subarray(this.headOffset, this.headOffset + n);
  }

  /** Drops `n` bytes of input (n <= length). */
  consume(n: number): void {
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[this.head] as Buffer;
      const avail = c.length - this.headOffset;
      if (n < avail) {
        this.headOffset += n;
        return;
      }
      n -= avail;
      this.advanceChunk();
    }
  }

  /** Removes and returns `n` bytes of input (n <= length): a view if they sit in one chunk. */
  take(n: number): Buffer {
    if (n === 0) return EMPTY_CHUNK;
    const whole = this.view(n);
    if (whole !== undefined) {
      this.consume(n);
      return whole;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.head] as Buffer;
      const len = Math.min(c.length - this.headOffset, n - filled);
      c.copy(out, filled, this.headOffset, this.headOffset + len);
      filled += len;
      this.consume(len);
    }
    return out;
  }

  private advanceChunk(): void {
    this.chunks[this.head] = EMPTY_CHUNK; // let the consumed chunk be collected
    this.head++;
    this.headOffset = 0;
    // Compact occasionally so the queue array does not grow without bound on long streams.
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY_CHUNK = Buffer.alloc(0);
