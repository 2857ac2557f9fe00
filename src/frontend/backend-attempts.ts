/**
 * Borrow, try, try again elsewhere: runs a statement's work on a backend connection for a route
 * decision. A readHost that cannot give a connection is skipped (down to the writeHost), as is
 * each host of an in-order decision but the last; an ERR from the session-state replay is the
 * client's error; a connection that died is discarded and `onGone` decides whether to try again
 * (elsewhere, for readers and in-order). The only place that loops over hosts for a statement.
 */
import { SqlError, sqlError } from '../protocol/error-codes.js';
import type { RouteDecision } from '../routing/types.js';
import type { HostView } from '../cluster/view.js';
import { BackendGoneError, BackendSqlError } from '../backend/backend-connection.js';
import { HostUnavailable, type HeldConnection } from './session-connections.js';
import type { SessionScope } from './session-scope.js';

/**
 * What to do when the backend connection died under `work` (it is already forgotten and
 * discarded): return true to try again elsewhere, or throw what the client should see.
 */
export type OnBackendGone = (err: BackendGoneError, held: HeldConnection, attempt: number) => boolean;

/** Where the loop starts (or carries on after a failure). */
interface Attempt {
  readonly attempt: number;
  /** Hosts that failed this statement (rare: allocated on demand). */
  readonly excluded?: Set<string> | undefined;
  readonly skipped?: HostUnavailable | undefined;
  readonly skips: number;
  /** The host already chosen for this attempt. */
  readonly first?: HostView | undefined;
}

/** A readHost that cannot give a connection is skipped; this many times at most per statement. */
const MAX_HOST_SKIPS = 3;

export class BackendAttempts {
  constructor(private readonly scope: SessionScope) {}

  /**
   * Runs `work` on a connection for the decision. A readHost that cannot give a connection is
   * skipped (down to the writeHost), as is each host of an in-order decision but the last; an
   * ERR from the session-state replay is the client's error; a connection that died is
   * discarded and `onGone` decides whether to try again (elsewhere, for readers and in-order).
   *
   * The usual statement runs on a connection the session keeps: then there is no loop and no
   * async frame here, only `work`'s promise with a handler that carries on as the loop would if
   * it fails. With hundreds of sessions in flight, every frame of a statement's await chain is
   * memory touched again when its answer comes, long after it was last in cache.
   */
  run<T>(
    decision: RouteDecision,
    digest: string,
    work: (held: HeldConnection) => Promise<T>,
    onGone: OnBackendGone,
  ): Promise<T> {
    let target: HeldConnection | HostView;
    try {
      target = this.scope.backends.resolve(decision, digest, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!('conn' in target)) return this.loop(decision, digest, work, onGone, { attempt: 0, skips: 0, first: target });
    const held = target;
    let running: Promise<T>;
    try {
      running = work(held);
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.catch((err: unknown) =>
      this.loop(decision, digest, work, onGone, this.afterFailure(err, held, decision, onGone, { attempt: 0, skips: 0 })),
    );
  }

  private async loop<T>(
    decision: RouteDecision,
    digest: string,
    work: (held: HeldConnection) => Promise<T>,
    onGone: OnBackendGone,
    from: Attempt,
  ): Promise<T> {
    const { backends, ctx } = this.scope;
    const elsewhere = decision.target === 'reader' || decision.target === 'in-order';
    const maxSkips = decision.target === 'in-order' ? decision.hosts.length : MAX_HOST_SKIPS;
    let { excluded, skipped, skips, first } = from;
    for (let attempt = from.attempt; ; attempt++) {
      let held: HeldConnection;
      try {
        const target = first ?? backends.resolve(decision, digest, excluded);
        first = undefined;
        held = 'conn' in target ? target : await backends.borrow(target, this.scope.poolKey());
      } catch (err) {
        if (err instanceof HostUnavailable && elsewhere && skips++ < maxSkips) {
          (excluded ??= new Set()).add(err.hostId);
          skipped = err;
          ctx.stats.retries++;
          continue;
        }
        // Every host of an in-order decision failed: the last one's reason says why.
        throw decision.target === 'in-order' && skipped !== undefined ? skipped : err;
      }
      try {
        return await work(held);
      } catch (err) {
        ({ excluded, skipped } = this.afterFailure(err, held, decision, onGone, { attempt, excluded, skipped, skips }));
      }
    }
  }

  /**
   * `work` failed on `held` in attempt `now.attempt`: throws what the client should see, or says
   * how to try again (the connection is forgotten and discarded; when the decision allows
   * another host, the next attempt avoids this one).
   */
  private afterFailure(err: unknown, held: HeldConnection, decision: RouteDecision, onGone: OnBackendGone, now: Attempt): Attempt {
    const { backends, ctx } = this.scope;
    this.scope.active = undefined;
    if (err instanceof BackendSqlError) {
      // The replay failed (e.g. the schema was dropped meanwhile): report it as the server would.
      backends.finishStatement(held, this.scope.inScope());
      throw new SqlError(err.message, err.errno, err.sqlState);
    }
    backends.forget(held);
    held.pools.discard(held.conn);
    if (!(err instanceof BackendGoneError)) throw err;
    if (!onGone(err, held, now.attempt)) throw sqlError('CR_SERVER_LOST', held.conn.hostId);
    ctx.stats.retries++;
    if (decision.target !== 'reader' && decision.target !== 'in-order') return { ...now, attempt: now.attempt + 1 };
    const excluded = now.excluded ?? new Set<string>();
    excluded.add(held.conn.hostId);
    return { attempt: now.attempt + 1, excluded, skipped: new HostUnavailable(held.conn.hostId, err.message), skips: now.skips };
  }
}
