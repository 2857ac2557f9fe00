/**
 * Rate limit for log lines that repeat once per client retry while a backend is down (32 clients
 * retrying against a dead writeHost wrote ~1,800 lines in 1.4 s).
 *
 * Per key (e.g. message + host): the first occurrence is logged at once; further ones within the
 * window are only counted; at the end of the window one summary line reports how many were
 * suppressed (with the latest details) and a new window starts. A window with no suppressed
 * occurrence ends the episode: the next occurrence is logged at once again.
 */
export interface ThrottledLine {
  /** Occurrences not logged since the previous line of this key (0 for the first one). */
  readonly suppressed: number;
  /** Length of the window the count covers, in ms. */
  readonly windowMs: number;
}

interface Episode {
  suppressed: number;
  emit: (line: ThrottledLine) => void;
  timer: NodeJS.Timeout;
}

export class LogThrottle {
  private readonly episodes = new Map<string, Episode>();

  constructor(readonly windowMs = 5_000) {}

  /**
   * Reports one occurrence of `key`; `emit` writes the line (now, or as the window's summary —
   * the last `emit` given in a window is the one used for its summary).
   */
  hit(key: string, emit: (line: ThrottledLine) => void): void {
    const ep = this.episodes.get(key);
    if (ep !== undefined) {
      ep.suppressed++;
      ep.emit = emit;
      return;
    }
    const episode: Episode = { suppressed: 0, emit, timer: this.arm(key) };
    this.episodes.set(key, episode);
    emit({ suppressed: 0, windowMs: this.windowMs });
  }

  /** Number of keys in an episode (for tests). */
  get size(): number {
    return this.episodes.size;
  }

  /** Drops every episode without writing summaries (tests, shutdown). */
  clear(): void {
    for (const ep of this.episodes.values()) clearTimeout(ep.timer);
    this.episodes.clear();
  }

  private arm(key: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const ep = this.episodes.get(key);
      if (ep === undefined) return;
      if (ep.suppressed === 0) {
        this.episodes.delete(key);
        return;
      }
      const suppressed = ep.suppressed;
      ep.suppressed = 0;
      ep.timer = this.arm(key);
      ep.emit({ suppressed, windowMs: this.windowMs });
    }, this.windowMs);
    timer.unref();
    return timer;
  }
}

/** Shared by the backend pools and the sessions: one episode per (message, backend host). */
export const backendLogThrottle = new LogThrottle(5_000);
