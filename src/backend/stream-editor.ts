/**
 * The relay's slow path: a scanner (response-scanner.ts) lists OK packets that must look
 * different to the client (session tracking); this applies those replacements to the byte
 * stream, holding back only the bytes of a packet the scanner has not decided yet.
 */
import type { ResponseScanner } from './response-scanner.js';

/**
 * Applies a scanner's packet replacements to the relayed byte stream. Bytes of a packet that may
 * still be replaced (its header or first byte not yet seen, or being captured) are held back
 * until the scanner has decided; everything else passes at once.
 */
export class StreamEditor {
  /** Bytes received but not yet given out, starting at stream offset `heldStart`. */
  private held: Buffer | undefined;

  /** Nothing held back: a chunk without edits can be written as it came. */
  get idle(): boolean {
    return this.held === undefined;
  }

  reset(): void {
    this.held = undefined;
  }

  /**
   * `chunk` (starting at stream offset `base`) was just pushed to `scanner`: returns the bytes
   * now final, with the scanner's replacements applied (and cleared).
   */
  take(chunk: Buffer, base: number, scanner: ResponseScanner): Buffer {
    const held = this.held;
    const pending = held === undefined ? chunk : Buffer.concat([held, chunk]);
    const pendingStart = held === undefined ? base : base - held.length;
    const end = scanner.decidedEnd - pendingStart;
    const parts: Buffer[] = [];
    let at = 0;
    for (const edit of scanner.edits) {
      parts.push(pending.subarray(at, edit.start - pendingStart), edit.bytes);
      at = edit.end - pendingStart;
    }
    scanner.edits.length = 0;
    if (end > at) parts.push(pending.subarray(at, end));
    this.held = Math.max(end, at) < pending.length ? Buffer.from(pending.subarray(Math.max(end, at))) : undefined;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
