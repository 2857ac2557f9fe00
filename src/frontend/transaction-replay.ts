/**
 * Transaction replay (failover.transactionReplay): the writeHost connection of an open
 * transaction was lost — the server died, or the writeHost moved (failover, switchover) — before
 * COMMIT was sent. The server rolled the transaction back; rather than tell the client, the
 * session waits for a writeHost (bounded by failover.promotionWaitMs), brings a connection there
 * to the session's state, runs the transaction's commands again (transaction-journal.ts) and
 * carries on only if every answer has the checksum of the one the client already got. Otherwise
 * the client gets the error it would have got without replay, and the log says why.
 *
 * Never replayed: a COMMIT (or anything that may commit) that was sent and not answered — its
 * outcome is unknown, the client gets 2013 (mayCommit) — and a transaction whose connection the
 * server itself ended while the server lives on (KILL, wait_timeout): somebody meant it.
 */
import { encodePacket, physicalPacketCount } from '../protocol/framer.js';
import { DISCARD_SINK } from '../backend/relay.js';
import { BackendGoneError, BackendSqlError } from '../backend/backend-connection.js';
import type { HostView } from '../cluster/view.js';
import { HostUnavailable, type HeldConnection } from './session-connections.js';
import type { SessionScope } from './session-scope.js';
import type { ReplayOutcome, TransactionJournal } from './transaction-journal.js';
import type { SyncNeeds } from '../backend/session-sync.js';
import { inTransactionScope, pinReasons } from './session-state.js';

/** The session's state replay for a connection (the statement runner's sync). */
type Sync = (held: HeldConnection, needs: SyncNeeds, lastInsertId: number | bigint) => Promise<void>;

const POLL_MS = 20;

export class TransactionReplay {
  constructor(
    private readonly scope: SessionScope,
    private readonly journal: TransactionJournal,
    private readonly sync: Sync,
  ) {}

  /** Counts an outcome and says it in the log, once per lost transaction. */
  report(outcome: ReplayOutcome, fields: Record<string, unknown>): void {
    const { ctx, log } = this.scope;
    ctx.stats.replays[outcome]++;
    if (outcome === 'replayed') log.info(fields, 'transaction replayed on the new writeHost');
    else log.warn({ ...fields, outcome }, 'transaction lost with its writeHost connection; not replayed');
  }

  /**
   * The open transaction's connection to `lostHost` is gone (already forgotten by the session).
   * Returns true when the transaction lives again, with identical answers so far, on a new
   * connection that is now the session's anchor; false when the client must get the error.
   */
  async recover(lostHost: string, cause: string): Promise<boolean> {
    const { scope, journal } = this;
    const { ctx } = scope;
    if (!journal.enabled) return false;
    if (!inTransactionScope(scope.s)) {
      // Pinned state without a transaction (temporary tables, locks …): nothing to replay.
      scope.log.warn({ lost: lostHost, cause, pins: pinReasons(scope.s) }, 'the session lost its pinned state with its writeHost connection');
      return false;
    }
    const base = { lost: lostHost, cause, statements: journal.commands.length };
    const why = journal.whyNot(scope.s) ?? this.notOnWriteHost(lostHost);
    if (why !== undefined) {
      this.report('not-replayable', { ...base, reason: why });
      return false;
    }
    if (ctx.cluster().writer?.id === lostHost && (await this.serverAnswers(lostHost))) {
      this.report('not-replayable', { ...base, reason: 'the writeHost is alive and closed the connection itself (KILL, wait_timeout)' });
      return false;
    }
    const started = Date.now();
    const deadline = started + ctx.config().dataHost.failover.promotionWaitMs;
    let lastError = 'no writable writeHost';
    while (Date.now() < deadline && !scope.ch.closed && !scope.killed) {
      const writer = this.writableWriter();
      if (writer === undefined) {
        await sleep(POLL_MS);
        continue;
      }
      // A connection the session already keeps there (its reads used that host) serves; another
      // borrowed for the same host would push it out of the books without giving it back.
      let held: HeldConnection;
      try {
        held = scope.backends.keptOn(writer.id) ?? (await scope.backends.borrow(writer, scope.poolKey()));
      } catch (err) {
        if (!(err instanceof HostUnavailable)) throw err;
        lastError = err.message;
        await sleep(POLL_MS);
        continue;
      }
      const result = await this.runAgain(held);
      const fields = { ...base, to: writer.id, ms: Date.now() - started };
      if (result === undefined) {
        scope.backends.finishStatement(held, true); // the session's anchor from now on
        this.report('replayed', fields);
        return true;
      }
      scope.backends.forget(held);
      held.pools.discard(held.conn); // closing it rolls back what was replayed
      this.report(result.outcome, { ...fields, reason: result.reason });
      return false;
    }
    this.report('failed', { ...base, reason: `${lastError} within failover.promotionWaitMs` });
    return false;
  }

  /** Runs the journal on `held`; undefined when every answer matched. */
  private async runAgain(held: HeldConnection): Promise<{ outcome: ReplayOutcome; reason: string } | undefined> {
    const { scope, journal } = this;
    const { conn } = held;
    scope.active = conn;
    try {
      await this.sync(held, { userVars: true, lastInsertId: true }, journal.lastInsertIdAtStart);
      if (!conn.gtidTracking) await conn.trackGtids(true);
      if (journal.startsWithAutocommitOff) await conn.query('SET autocommit = 0');
      const okView = scope.okView();
      let n = 0;
      for (const entry of journal.commands) {
        n++;
        const payload = typeof entry.command === 'function' ? await entry.command(conn) : entry.command;
        const summary = await conn.relay(encodePacket(payload, 0), entry.shape, DISCARD_SINK, physicalPacketCount(payload.length) & 0xff, okView, true);
        if (summary.checksum !== entry.checksum) {
          return { outcome: 'mismatch', reason: `statement ${n} answered differently (${entry.digest.slice(0, 120)})` };
        }
      }
      return undefined;
    } catch (err) {
      if (err instanceof BackendGoneError || err instanceof BackendSqlError) return { outcome: 'failed', reason: err.message };
      throw err;
    } finally {
      scope.active = undefined;
    }
  }

  /** A transaction that ran on a readHost (READ ONLY) is not the writeHost's to replay. */
  private notOnWriteHost(lostHost: string): string | undefined {
    const host = this.scope.ctx.cluster().hosts.find((h) => h.id === lostHost);
    if (host?.role !== 'write' || this.journal.recordedOn !== undefined && this.journal.recordedOn !== lostHost) {
      return 'the transaction did not run on a writeHost';
    }
    return undefined;
  }

  /** The writeHost the replay may use now: up, promoted, not paused for a switchover. */
  private writableWriter(): HostView | undefined {
    const { ctx } = this.scope;
    const view = ctx.cluster();
    const w = view.writer;
    if (w === undefined || w.status !== 'up' || view.writesPaused !== undefined || view.writesRefused !== undefined) return undefined;
    if (ctx.config().dataHost.failover.promote && w.readOnly === true) return undefined;
    return w;
  }

  /** Whether the server behind `hostId` accepts a new connection now (then it did not die). */
  private async serverAnswers(hostId: string): Promise<boolean> {
    const pools = this.scope.ctx.pools(hostId);
    if (!pools) return false;
    try {
      const probe = await pools.connectDirect(this.scope.poolKey());
      probe.quit();
      return true;
    } catch {
      return false;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
