/**
 * Gives back the backend connections of sessions that have been idle for holdConnectionMs.
 *
 * One timer for the whole server. Sessions that finish a command still keeping connections are
 * listed in the order they became idle (one that finishes another command moves to the end), so
 * a tick visits only those idle long enough and stops at the first that is not: its work is the
 * connections it gives back, not the number of sessions. A sweep over all sessions every
 * holdConnectionMs / 2 made every open client cost CPU all the time — the idle ones of an
 * application's pool, and each busy one once per tick.
 */

/** A session as the sweeper sees it. */
export interface Sweepable {
  /** Gives back what has been idle for holdConnectionMs (nothing when it is busy again). */
  sweep(now: number): void;
}

export class IdleSweeper {
  /** Sessions keeping connections → when they became idle; oldest first. */
  private readonly idle = new Map<Sweepable, number>();
  private readonly timer: NodeJS.Timeout;

  /** `holdMs` is read at every tick: a reload may change it. */
  constructor(
    intervalMs: number,
    private readonly holdMs: () => number,
  ) {
    this.timer = setInterval(() => this.sweep(Date.now()), intervalMs);
    this.timer.unref();
  }

  /** `s` became idle at `since` keeping connections it may give back. */
  watch(s: Sweepable, since: number): void {
    this.idle.delete(s);
    this.idle.set(s, since);
  }

  /** Sessions listed (idle, or busy since they were listed). */
  get watched(): number {
    return this.idle.size;
  }

  /** One tick (the timer calls it; exposed for tests). */
  sweep(now: number): void {
    const hold = this.holdMs();
    for (const [s, since] of this.idle) {
      if (now - since < hold) return; // every later one became idle later still
      this.idle.delete(s);
      // A session busy again since then gives nothing back now; it is listed again when idle.
      s.sweep(now);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.idle.clear();
  }
}
