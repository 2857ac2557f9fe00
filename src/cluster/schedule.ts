/** Timing helpers of the cluster's probing loops (the monitor, the backend locks). */

/** Calls `fn` every `everyMs` (fixed rate: measured from the previous tick, not from the end of the call). */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly everyMs: number,
    private readonly fn: () => Promise<void>,
  ) {}

  start(firstDelayMs: number): void {
    let next = Date.now() + firstDelayMs;
    const tick = (): void => {
      if (this.stopped) return;
      void this.fn();
      const now = Date.now();
      next += this.everyMs;
      if (next < now) next = now + this.everyMs; // fell behind (event loop stall): do not burst
      this.timer = setTimeout(tick, next - now);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, firstDelayMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

/**
 * Runs `fn` one at a time. A call while it runs is not dropped: one more run starts as soon as
 * the current one ends (so with timeoutMs == intervalMs a hung host still gets a probe per tick,
 * and the detection bound holds).
 */
export class Serial {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly fn: () => Promise<void>,
    private readonly active: () => boolean,
  ) {}

  run(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.fn().finally(() => {
      this.running = undefined;
      if (this.again && this.active()) {
        this.again = false;
        void this.run();
      }
      this.again = false;
    });
    return this.running;
  }

  /** Waits for the run in progress (if any). */
  async settle(): Promise<void> {
    this.again = false;
    await this.running?.catch(() => undefined);
  }
}
