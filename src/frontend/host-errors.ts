/**
 * MariaDB's host cache for max_connect_errors: consecutive handshake errors per client address
 * (bad packets, aborted handshakes, handshake timeouts — never a wrong password). An address
 * whose count reached the limit is refused before the handshake (ER_HOST_IS_BLOCKED, 1129) until
 * a login from it succeeds or an operator flushes the table (admin FLUSH HOSTS). Pure: the
 * caller passes the limit and the time.
 *
 * Bounded: at most `capacity` addresses; the least recently touched one goes first. An address
 * pushed out starts again from 0 (as in MariaDB, whose host cache has host_cache_size entries);
 * reaching that needs errors from `capacity` other addresses.
 */

export interface HostErrorRow {
  readonly address: string;
  /** Consecutive handshake errors. */
  readonly errors: number;
  readonly blocked: boolean;
  /** When the last error happened (ms, Date.now()). */
  readonly lastErrorAt: number;
}

interface Entry {
  errors: number;
  lastErrorAt: number;
}

export const HOST_ERRORS_CAPACITY = 10_000;

export class HostErrors {
  private readonly byAddress = new Map<string, Entry>();

  constructor(private readonly capacity = HOST_ERRORS_CAPACITY) {}

  /** Whether `address` is refused under `maxErrors` (0: nobody is). */
  isBlocked(address: string, maxErrors: number): boolean {
    return maxErrors > 0 && (this.byAddress.get(address)?.errors ?? 0) >= maxErrors;
  }

  /** One more handshake error; true when this one blocked the address. */
  add(address: string, maxErrors: number, now: number): boolean {
    const e = this.byAddress.get(address) ?? { errors: 0, lastErrorAt: now };
    this.byAddress.delete(address); // re-inserted last: Map order is the eviction order
    e.errors++;
    e.lastErrorAt = now;
    this.byAddress.set(address, e);
    if (this.byAddress.size > this.capacity) this.byAddress.delete(this.byAddress.keys().next().value!);
    return maxErrors > 0 && e.errors === maxErrors;
  }

  /** A login succeeded: the count starts again. True when the address was in the table. */
  reset(address: string): boolean {
    return this.byAddress.delete(address);
  }

  /** FLUSH HOSTS: forgets every address; returns how many were blocked. */
  flush(maxErrors: number): number {
    const blocked = this.blockedCount(maxErrors);
    this.byAddress.clear();
    return blocked;
  }

  blockedCount(maxErrors: number): number {
    if (maxErrors === 0) return 0;
    let n = 0;
    for (const e of this.byAddress.values()) if (e.errors >= maxErrors) n++;
    return n;
  }

  /** Blocked addresses. */
  blockedAddresses(maxErrors: number): string[] {
    if (maxErrors === 0) return [];
    return [...this.byAddress].filter(([, e]) => e.errors >= maxErrors).map(([a]) => a);
  }

  /** Every address with errors, most errors first. */
  rows(maxErrors: number): HostErrorRow[] {
    return [...this.byAddress]
      .map(([address, e]) => ({ address, errors: e.errors, blocked: maxErrors > 0 && e.errors >= maxErrors, lastErrorAt: e.lastErrorAt }))
      .sort((a, b) => b.errors - a.errors || a.address.localeCompare(b.address));
  }

  get size(): number {
    return this.byAddress.size;
  }
}
