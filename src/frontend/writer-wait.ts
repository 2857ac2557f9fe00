/**
 * Statements that wait for a writeHost instead of failing: routing (routing/ — pure) tells
 * where a statement goes, and when the answer is "the writeHost, which cannot take it now"
 * during a failover, a promotion or a planned switchover, the statement waits (bounded by
 * failover.promotionWaitMs) for one that can. A statement that was not sent yet sees a pause,
 * not an error.
 */
import { CR_CONN_HOST_ERROR, route } from '../routing/router.js';
import type { Classification, RouteDecision } from '../routing/types.js';
import { HostUnavailable } from './session-connections.js';
import type { SessionScope } from './session-scope.js';

/** ER_OPTION_PREVENTS_STATEMENT: what the router answers for a write to a read-only writeHost. */
const ER_OPTION_PREVENTS_STATEMENT = 1290;

export class WriterWait {
  constructor(private readonly scope: SessionScope) {}

  /**
   * Where a statement goes. A statement that needs the writeHost when there is none to take it
   * waits for one (bounded by failover.promotionWaitMs) instead of failing, so a failover or a
   * planned switchover is a pause, not an error, for a statement that was not sent yet:
   *  - right after a failover with `failover.promote`, the new writeHost still says read_only=ON
   *    until the proxy has promoted it (which waits for it to apply what it received): a write
   *    waits for the promotion instead of failing with 1290;
   *  - while the writeHost is down and failover may replace it, for the switch;
   *  - during a planned switchover (view.writesPaused), for the new writeHost — except what an
   *    open transaction or pinned session runs: those finish on the old writeHost first.
   * Otherwise the decision is returned as is, not in a promise: a statement's every await
   * allocates, and its objects live until the next scavenge, so with many sessions in flight
   * each one more costs more.
   */
  decide(c: Classification): RouteDecision | Promise<RouteDecision> {
    const decision = route(c, this.scope.routeState(), this.scope.ctx.cluster());
    return this.awaitsWriter(decision) ? this.awaitWriter(c, decision) : decision;
  }

  private async awaitWriter(c: Classification, decision: RouteDecision): Promise<RouteDecision> {
    const { ctx } = this.scope;
    const deadline = Date.now() + ctx.config().dataHost.failover.promotionWaitMs;
    ctx.stats.heldForWriter++;
    while (this.awaitsWriter(decision) && Date.now() < deadline && !this.scope.ch.closed) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      decision = route(c, this.scope.routeState(), ctx.cluster());
    }
    return decision;
  }

  /**
   * A command failed because the writeHost gave no connection (refused, unreachable): nothing was
   * sent. When failover may replace it and the session holds nothing there, waits (bounded by
   * promotionWaitMs) for another writeHost to take over; true = one did, run the command again.
   */
  async awaitReplacedWriter(err: unknown): Promise<boolean> {
    const { ctx } = this.scope;
    if (!(err instanceof HostUnavailable) || this.scope.inScope() || this.scope.ch.closed) return false;
    // The server is unreachable — not a full pool or a refused login on a living one.
    if (!/ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNRESET/.test(err.reason)) return false;
    const failover = ctx.config().dataHost.failover;
    const view = ctx.cluster();
    const writerId = view.hosts.find((h) => h.role === 'write' && h.index === view.writerIndex)?.id;
    if (!failover.enabled || writerId !== err.hostId || !view.hosts.some((h) => h.role === 'write' && h.id !== err.hostId)) return false;
    const deadline = Date.now() + failover.promotionWaitMs;
    ctx.stats.heldForWriter++;
    while (Date.now() < deadline && !this.scope.ch.closed) {
      const w = ctx.cluster().writer;
      if (w !== undefined && w.id !== err.hostId) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  private awaitsWriter(decision: RouteDecision): boolean {
    const { ctx } = this.scope;
    const view = ctx.cluster();
    if (decision.target === 'writer') return view.writesPaused !== undefined && !this.scope.inScope();
    if (decision.target !== 'error' || view.writesRefused !== undefined) return false;
    const failover = ctx.config().dataHost.failover;
    if (decision.errno === ER_OPTION_PREVENTS_STATEMENT) return failover.promote;
    // No usable writeHost: worth waiting only when one may come (failover, or a switchover).
    if (decision.errno !== CR_CONN_HOST_ERROR) return false;
    return view.writesPaused !== undefined || (failover.enabled && view.hosts.some((h) => h.role === 'write' && h.index !== view.writerIndex));
  }
}
