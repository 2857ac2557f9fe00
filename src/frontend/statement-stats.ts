/**
 * Per-digest statement statistics (ProxySQL's query digest): how often each statement shape ran,
 * how long it took, how many rows it returned and which host class served it. Fed by the session
 * after every statement; read by the admin port (`SHOW @@SQL`, `SELECT * FROM stats`) and metrics.
 * Bounded: past `maxDigests` shapes, new ones are counted under one overflow entry.
 */

export interface DigestStats {
  readonly digest: string;
  count: number;
  errors: number;
  totalMs: number;
  maxMs: number;
  rows: number;
  /** Executions served by the writeHost / by other hosts. */
  writer: number;
  reader: number;
  lastSeenAt: number;
}

const OVERFLOW = '(other statements: digest table full)';

export class StatementStats {
  private readonly byDigest = new Map<string, DigestStats>();
  /** Latency buckets (ms upper bounds) for a histogram in metrics. */
  static readonly BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000] as const;
  /** Counts per bucket (last = +Inf), and the sum, by route. */
  readonly histogram = {
    writer: { counts: new Array<number>(StatementStats.BUCKETS_MS.length + 1).fill(0), sumMs: 0 },
    reader: { counts: new Array<number>(StatementStats.BUCKETS_MS.length + 1).fill(0), sumMs: 0 },
  };

  constructor(private readonly maxDigests = 5000) {}

  record(digest: string, ms: number, rows: number, onWriter: boolean, failed: boolean): void {
    let s = this.byDigest.get(digest);
    if (!s) {
      const key = this.byDigest.size >= this.maxDigests ? OVERFLOW : digest;
      s = this.byDigest.get(key);
      if (!s) {
        s = { digest: key, count: 0, errors: 0, totalMs: 0, maxMs: 0, rows: 0, writer: 0, reader: 0, lastSeenAt: 0 };
        this.byDigest.set(key, s);
      }
    }
    s.count++;
    if (failed) s.errors++;
    s.totalMs += ms;
    if (ms > s.maxMs) s.maxMs = ms;
    s.rows += rows;
    if (onWriter) s.writer++;
    else s.reader++;
    s.lastSeenAt = Date.now();
    const h = onWriter ? this.histogram.writer : this.histogram.reader;
    h.sumMs += ms;
    let i = 0;
    while (i < StatementStats.BUCKETS_MS.length && ms > StatementStats.BUCKETS_MS[i]!) i++;
    h.counts[i]!++;
  }

  /** The `n` shapes with the most total time. */
  top(n: number): DigestStats[] {
    return [...this.byDigest.values()].sort((a, b) => b.totalMs - a.totalMs).slice(0, n);
  }

  reset(): void {
    this.byDigest.clear();
  }

  get size(): number {
    return this.byDigest.size;
  }
}
