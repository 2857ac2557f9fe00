/**
 * Gives back the backend connections of sessions that have been idle for holdConnectionMs.
 *
 * One timer for the whole server, and a tick visits only the sessions that finished a command
 * still keeping connections it could give back — not every open session. Applications keep
 * pools of client connections that sit idle for minutes; with a sweep over all sessions every
 * holdConnectionMs / 2, each of them cost the proxy CPU all the time, however little it was used.
 */

/** A session as the sweeper sees it. */
export interface Sweepable {
  /**
   * Gives back what has been idle long enough. Returns whether it still keeps a connection a
   * later tick may give back (false: busy, closed or nothing left, so the sweeper forgets it;
   * the session asks again when it finishes its next command).
   */
  sweep(now: number): boolean;
}

export class IdleSweeper {
  private readonly keeping = new Set<Sweepable>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.sweep(Date.now()), intervalMs);
    this.timer.unref();
  }

  /** `s` finished a command and keeps connections: visit it until it has given them back. */
  watch(s: Sweepable): void {
    this.keeping.add(s);
  }

  /** Sessions the next tick visits. */
  get watched(): number {
    return this.keeping.size;
  }

  /** One tick (the timer calls it; exposed for tests). */
  sweep(now: number): void {
    for (const s of this.keeping) if (!s.sweep(now)) this.keeping.delete(s);
  }

  close(): void {
    clearInterval(this.timer);
    this.keeping.clear();
  }
}
