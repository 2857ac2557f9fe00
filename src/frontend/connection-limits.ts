/**
 * Client connections counted against `maxConnections` and `users[].maxConnections`. One process
 * counts its own sessions (ConnectionCounts); worker processes ask the primary, which counts the
 * whole group, so the limits mean the same whatever the number of workers.
 */
export interface ConnectionLimits {
  /** A new client connection takes a place; false: `max` (0 = no limit) is reached. */
  open(max: number): boolean | Promise<boolean>;
  /** An authenticated session of `user` counts against `limit` (0 = no limit); false: over it. */
  login(user: string, limit: number): boolean | Promise<boolean>;
  /** A connection ended; `user` = the user its login was counted for (undefined: none). */
  close(user: string | undefined): void;
}

export class ConnectionCounts implements ConnectionLimits {
  private total = 0;
  private readonly byUser = new Map<string, number>();

  get connections(): number {
    return this.total;
  }

  open(max: number): boolean {
    if (max > 0 && this.total >= max) return false;
    this.total++;
    return true;
  }

  login(user: string, limit: number): boolean {
    const n = (this.byUser.get(user) ?? 0) + 1;
    if (limit > 0 && n > limit) return false;
    this.byUser.set(user, n);
    return true;
  }

  close(user: string | undefined): void {
    if (this.total > 0) this.total--;
    if (user === undefined) return;
    const n = (this.byUser.get(user) ?? 0) - 1;
    if (n > 0) this.byUser.set(user, n);
    else this.byUser.delete(user);
  }

  /** Takes back everything `other` counted (a worker that died: its connections are gone). */
  subtract(other: ConnectionCounts): void {
    this.total = Math.max(0, this.total - other.total);
    for (const [user, n] of other.byUser) {
      const left = (this.byUser.get(user) ?? 0) - n;
      if (left > 0) this.byUser.set(user, left);
      else this.byUser.delete(user);
    }
  }
}
