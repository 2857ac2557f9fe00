/**
 * Failed-login delays, as MySQL's connection_control plugin: once a (user, address) has failed
 * `threshold` logins in a row, every further attempt of it — right or wrong password — is
 * answered late, so a guesser cannot tell a right password by its speed either. The delay doubles
 * from 1 s with each further failure, up to `maxDelayMs`; a successful login clears the record.
 * Pure: the caller passes the settings and the time, and does the waiting (a timer, never
 * blocking other clients).
 *
 * Bounded: at most `capacity` records (the least recently touched goes first), and a record
 * untouched for EXPIRY_MS is forgotten, so guessing from ever new addresses or user names cannot
 * grow memory without end.
 */

export interface ThrottleSettings {
  /** Failures in a row before attempts are delayed; 0 = no delays. */
  readonly threshold: number;
  readonly maxDelayMs: number;
}

interface Record_ {
  failures: number;
  touchedAt: number;
}

/** The first delay; each further failure doubles it. */
export const FIRST_DELAY_MS = 1_000;
/** A record nobody touched for this long is forgotten (the guesser starts again at 0 failures). */
export const EXPIRY_MS = 60 * 60_000;
export const THROTTLE_CAPACITY = 10_000;

/** How long the attempt after `failures` failures in a row waits (0 below the threshold). */
export function delayAfter(failures: number, s: ThrottleSettings): number {
  if (s.threshold === 0 || failures < s.threshold) return 0;
  const steps = failures - s.threshold;
  // 2^steps overflows to Infinity long before it matters; Math.min caps it.
  return Math.min(s.maxDelayMs, FIRST_DELAY_MS * 2 ** Math.min(steps, 40));
}

export class LoginThrottle {
  private readonly records = new Map<string, Record_>();

  constructor(private readonly capacity = THROTTLE_CAPACITY) {}

  /**
   * One login attempt of `user` from `address` was checked (`granted`: the password was right).
   * Returns how long to wait before answering it; the record then counts the outcome.
   */
  attempt(user: string, address: string, granted: boolean, s: ThrottleSettings, now: number): number {
    this.expire(now);
    const key = `${address}\u0000${user}`;
    const r = this.records.get(key);
    const delay = delayAfter(r?.failures ?? 0, s);
    if (granted) {
      this.records.delete(key);
      return delay;
    }
    if (s.threshold === 0) return 0; // nothing to count for
    this.records.delete(key); // re-inserted last: Map order is the eviction and expiry order
    this.records.set(key, { failures: (r?.failures ?? 0) + 1, touchedAt: now });
    if (this.records.size > this.capacity) this.records.delete(this.records.keys().next().value!);
    return delay;
  }

  /** Failures in a row of `user` from `address` (0 when none are recorded). */
  failures(user: string, address: string): number {
    return this.records.get(`${address}\u0000${user}`)?.failures ?? 0;
  }

  get size(): number {
    return this.records.size;
  }

  /** Records are in touch order: drop from the front while they are too old. */
  private expire(now: number): void {
    for (const [key, r] of this.records) {
      if (now - r.touchedAt < EXPIRY_MS) return;
      this.records.delete(key);
    }
  }
}
