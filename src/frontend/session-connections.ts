/**
 * The backend connections one client session keeps between statements.
 *
 * - `last`: the connection that ran the previous statement, so `SHOW WARNINGS`, `ROW_COUNT()`
 *   and `FOUND_ROWS()` see that statement.
 * - `anchor`: the connection an open transaction or pinned state (temporary tables, locks …)
 *   lives on; never given back while that lasts.
 * - While the client is active, at most one connection per host it used, so a client whose
 *   reads alternate between readHosts costs no pool round trip per statement. They go back once
 *   the client has been idle for holdConnectionMs (the server's sweeper), at once when that is 0,
 *   and before the session would ever wait for a pool — so two sessions never wait on each other's
 *   connections.
 *
 * A connection that carries state another session must not see is reset before it goes back.
 */
import type { Logger } from 'pino';
import type { HostView } from '../cluster/view.js';
import { sqlError } from '../protocol/error-codes.js';
import type { RouteDecision } from '../routing/types.js';
import type { BackendConnection } from '../backend/backend-connection.js';
import type { HostPools, PoolKey } from '../backend/host-pools.js';
import { backendLogThrottle } from '../backend/log-throttle.js';
import type { SessionContext } from './session-context.js';

export interface HeldConnection {
  readonly conn: BackendConnection;
  readonly pools: HostPools;
}

/** A backend could not give a connection (refused, timed out, pool exhausted). */
export class HostUnavailable extends Error {
  override readonly name = 'HostUnavailable';
  constructor(
    readonly hostId: string,
    readonly reason: string,
  ) {
    super(`${hostId}: ${reason}`);
  }
}

export class SessionConnections {
  private readonly conns = new Map<string, HeldConnection>();
  private last: HeldConnection | undefined;
  private anchor: HeldConnection | undefined;
  /** Connections holding open server-side cursors (count per connection): never given back idle. */
  private readonly cursorHolds = new Map<HeldConnection, number>();

  constructor(
    private readonly ctx: Pick<SessionContext, 'config' | 'cluster' | 'pools' | 'selector'>,
    private readonly log: Logger,
  ) {}

  /** Host of the connection a transaction or pinned state lives on, if any. */
  anchorHostId(): string | undefined {
    return this.anchor?.conn.hostId;
  }

  /**
   * Drops the anchor (its transaction or pinned state is lost, e.g. the writeHost changed): the
   * connection is closed, never given to anyone else.
   */
  dropAnchor(): void {
    const anchor = this.anchor;
    if (!anchor) return;
    this.forget(anchor);
    anchor.pools.discard(anchor.conn);
  }

  /**
   * The anchor's connection is closed (the server ended it between statements: KILL,
   * wait_timeout, a restart): the transaction or pinned state on it is gone. Forgets it and
   * returns its host so the session can report that; undefined when the anchor is fine.
   */
  takeLostAnchor(): string | undefined {
    const anchor = this.anchor;
    if (!anchor || anchor.conn.alive) return undefined;
    this.forget(anchor);
    anchor.pools.discard(anchor.conn);
    return anchor.conn.hostId;
  }

  /** A cursor was opened on `held`: it stays with the session until the cursor is closed. */
  holdForCursor(held: HeldConnection): void {
    this.cursorHolds.set(held, (this.cursorHolds.get(held) ?? 0) + 1);
  }

  /** A cursor on `held` was closed (or exhausted). */
  releaseCursorHold(held: HeldConnection): void {
    const n = (this.cursorHolds.get(held) ?? 0) - 1;
    if (n > 0) this.cursorHolds.set(held, n);
    else this.cursorHolds.delete(held);
  }

  /** Hosts a connection is kept to (admin SHOW @@CONNECTION). */
  heldHosts(): string[] {
    return [...this.conns.keys()];
  }

  holdsLast(): boolean {
    return this.last !== undefined && this.last.conn.alive;
  }

  /**
   * The connection for a decision: the one kept on that host (returned without a promise: the
   * hot path), else the host to borrow one from (see borrow()).
   */
  resolve(decision: RouteDecision, digest: string, excluded: ReadonlySet<string> | undefined): HeldConnection | HostView {
    if (decision.target === 'last' && this.holdsLast()) return this.last!;
    if (decision.target === 'anchor' && this.anchor?.conn.alive) return this.anchor;
    const host = this.pickHost(decision, digest, excluded);
    const kept = this.conns.get(host.id);
    if (kept) {
      if (kept.conn.alive) return kept;
      this.forget(kept);
      kept.pools.discard(kept.conn);
    }
    return host;
  }

  /** The living connection kept to a host, if any (borrow() would replace it in the books). */
  keptOn(hostId: string): HeldConnection | undefined {
    const kept = this.conns.get(hostId);
    return kept?.conn.alive ? kept : undefined;
  }

  /** Borrows a connection to `host` and keeps it; gives back idle ones first if it would wait. */
  async borrow(host: HostView, key: PoolKey): Promise<HeldConnection> {
    const pools = this.ctx.pools(host.id);
    if (!pools) throw sqlError('CR_CONN_HOST_ERROR', host.id, 'unknown backend');
    if (pools.wouldWait(key)) this.releaseIdle();
    let conn: BackendConnection;
    try {
      conn = await pools.acquire(key);
    } catch (err) {
      // Once per statement retry of every client while the host is down: rate-limited per host
      // (the first line of an episode carries this session's bindings, summaries the latest one's).
      const message = (err as Error).message;
      backendLogThrottle.hit(`cannot get a backend connection ${host.id}`, ({ suppressed, windowMs }) => {
        if (suppressed === 0) this.log.warn({ backend: host.id, err: message }, 'cannot get a backend connection');
        else {
          this.log.warn(
            { backend: host.id, err: message, suppressed, windowMs },
            `cannot get a backend connection (${suppressed} more in the last ${windowMs / 1000} s)`,
          );
        }
      });
      throw new HostUnavailable(host.id, (err as Error).message);
    }
    const held: HeldConnection = { conn, pools };
    this.conns.set(host.id, held);
    return held;
  }

  /** resolve(), then borrow() when nothing is kept on that host. */
  async lease(
    decision: RouteDecision,
    digest: string,
    excluded: ReadonlySet<string> | undefined,
    key: PoolKey,
  ): Promise<HeldConnection> {
    const target = this.resolve(decision, digest, excluded);
    return 'conn' in target ? target : this.borrow(target, key);
  }

  /**
   * After a statement on `held`: it becomes the last connection, and the anchor while the session
   * is in a transaction or pinned (`inScope`); the others go back now when holdConnectionMs is 0.
   */
  finishStatement(held: HeldConnection, inScope: boolean): void {
    this.last = held;
    if (inScope) this.anchor ??= held;
    else this.anchor = undefined;
    if (this.ctx.config().session.holdConnectionMs === 0) this.releaseIdle();
  }

  /** Whether a kept connection could be given back when idle (not the anchor, no open cursor). */
  keepsReleasable(): boolean {
    for (const held of this.conns.values()) if (held !== this.anchor && !this.cursorHolds.has(held)) return true;
    return false;
  }

  /** Gives back all but the anchor once the session has been idle for holdConnectionMs. */
  sweep(now: number, idleSince: number): void {
    if (this.conns.size > 0 && now - idleSince >= this.ctx.config().session.holdConnectionMs) this.releaseIdle();
  }

  /** Drops a connection from the books (it died, or is being given back). */
  forget(held: HeldConnection): void {
    if (this.conns.get(held.conn.hostId) === held) this.conns.delete(held.conn.hostId);
    if (this.last === held) this.last = undefined;
    if (this.anchor === held) this.anchor = undefined;
    this.cursorHolds.delete(held);
  }

  /** Gives back every kept connection except the anchor and those holding open cursors. */
  releaseIdle(): void {
    for (const held of [...this.conns.values()]) {
      if (held !== this.anchor && !this.cursorHolds.has(held)) void this.giveBack(held, false);
    }
  }

  /**
   * Gives back every connection, the anchor too (COM_RESET_CONNECTION, COM_CHANGE_USER, end of
   * session). The anchor of a session still in a transaction or pinned (`inScope`) is reset.
   */
  async releaseAll(forceReset: boolean, inScope: boolean): Promise<void> {
    const anchor = this.anchor;
    await Promise.all([...this.conns.values()].map((h) => this.giveBack(h, forceReset || (inScope && h === anchor))));
  }

  /** In-use connections of a host (least-conn): one function for the session, not one per statement. */
  private readonly activeConnections = (id: string): number => this.ctx.pools(id)?.stats().borrowed ?? 0;

  /** The host a writer/reader decision lands on (the selector picks among readers). */
  private pickHost(decision: RouteDecision, digest: string, excluded: ReadonlySet<string> | undefined): HostView {
    const view = this.ctx.cluster();
    let host: HostView | undefined;
    if (decision.target === 'in-order') {
      host = decision.hosts.find((h) => excluded === undefined || !excluded.has(h.id));
      if (!host) throw sqlError('CR_CONN_HOST_ERROR', view.dataHost, 'no backend is available');
    } else if (decision.target === 'reader') {
      const candidates = excluded === undefined ? decision.candidates : decision.candidates.filter((h) => !excluded.has(h.id));
      host =
        candidates.length === 0
          ? view.writer
          : this.ctx.selector.pick(candidates, digest, this.activeConnections);
    } else {
      // 'writer', and 'last' when nothing ran yet ('error' never gets here)
      host = view.writer;
    }
    if (!host) throw sqlError('CR_CONN_HOST_ERROR', view.dataHost, 'no writeHost is available');
    return host;
  }

  /** Returns a connection to its pool, reset first when it carries state (or `reset`). */
  private async giveBack(held: HeldConnection, reset: boolean): Promise<void> {
    // Open cursors are connection state too: COM_RESET_CONNECTION closes them.
    if (this.cursorHolds.has(held)) reset = true;
    this.forget(held);
    const { conn, pools } = held;
    if (!conn.alive) {
      pools.discard(conn);
      return;
    }
    // User variables are only replayed for statements that name them; a procedure reading one
    // would see this session's value, so a connection carrying any is reset.
    if (!reset && !conn.state.dirty && conn.state.userVars.size === 0) {
      pools.release(conn);
      return;
    }
    try {
      await conn.reset();
      pools.release(conn);
    } catch (err) {
      this.log.info({ backend: conn.hostId, err: (err as Error).message }, 'reset of a backend connection failed; discarding');
      pools.discard(conn);
    }
  }
}
