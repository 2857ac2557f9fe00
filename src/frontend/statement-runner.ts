/**
 * Runs one statement for a session: decide where it goes (routing/ — pure), borrow or reuse a
 * backend connection (skipping hosts that cannot give one), bring it to the session's state,
 * relay the backend's answer as raw bytes, then record what the answer changed and observe it
 * (statistics, SQL log, slow log). "Borrow, try, retry elsewhere" is backend-attempts.ts; what an
 * answer changed is statement-effects.ts; waiting for a writeHost is writer-wait.ts; bringing an
 * open transaction back after its connection was lost is transaction-replay.ts.
 */
import { HoldLastSink } from '../backend/hold-last-sink.js';
import { observeStatement, recordStatementEffects } from './statement-effects.js';
import { BackendAttempts, type OnBackendGone } from './backend-attempts.js';
import { encodePacket, physicalPacketCount } from '../protocol/framer.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { encodeErrFor } from './authenticate.js';
import { route, toWriter } from '../routing/router.js';
import { parseGtids, TRACKING_VARIABLES, type GtidPosition } from '../cluster/gtid.js';
import { CausalReads } from './causal-reads.js';
import type { Classification, RouteDecision } from '../routing/types.js';
import { BackendConnection, BackendGoneError } from '../backend/backend-connection.js';
import { inSync, syncConnection, type DesiredSessionState, type SyncNeeds } from '../backend/session-sync.js';
import { mayCommit, TransactionJournal, type Recording } from './transaction-journal.js';
import { TransactionReplay } from './transaction-replay.js';
import { WriterWait } from './writer-wait.js';
import type { OkView, ResponseShape, ResponseSummary } from '../backend/response-scanner.js';
import type { HeldConnection } from './session-connections.js';
import type { SessionScope } from './session-scope.js';
import { mayWrite, recordReset } from './session-state.js';

/** An open transaction's connection, lost: where, why, and the error the client gets without replay. */
interface LostTransaction {
  readonly hostId: string;
  readonly cause: string;
  readonly error: SqlError;
}

/** What the journal keeps of a statement: its payload (a copy: the client's buffer is not ours), or its builder. */
function recordingOf(c: Classification, shape: ResponseShape, source: CommandSource): Recording {
  if (typeof source === 'function') return { c, shape, command: source, bytes: source.bytes ?? 0 };
  return { c, shape, command: Buffer.from(source.payload), bytes: source.payload.length };
}

/** Called with the connection and the answer's summary once a command's answer was relayed. */
type OnRelayed = (held: HeldConnection, summary: ResponseSummary) => void;

/** A command whose bytes do not depend on the backend connection. */
export interface FixedCommand {
  readonly payload: Buffer;
  /** The client's own framing of `payload` (sequence 0), forwarded without a copy. */
  readonly frame: Buffer | undefined;
}

/**
 * A payload built for the chosen connection (prepared statements: that connection's statement
 * id). `ready` says whether building it needs no round trip to the server (already prepared).
 */
export interface BuiltCommand {
  (conn: BackendConnection): Promise<Buffer>;
  readonly ready?: (conn: BackendConnection) => boolean;
  /** What keeping it costs (a prepared execution's parameters), for transactionReplayMaxBytes. */
  readonly bytes?: number;
}

/** Fixed bytes, or a payload built for the chosen connection. */
export type CommandSource = FixedCommand | BuiltCommand;

/**
 * Part of a result already reached the client when its backend died: the client connection was
 * closed (the only honest signal left, DESIGN §6) and nothing more is sent.
 */
export class ResultInterrupted extends Error {
  override readonly name = 'ResultInterrupted';
}

/**
 * The connection of an open transaction died under a statement that had not committed anything
 * (nothing of its answer reached the client): transaction replay may bring it back (run()).
 */
class TransactionLost extends Error {
  override readonly name = 'TransactionLost';
  constructor(
    readonly hostId: string,
    readonly reason: string,
  ) {
    super(`${hostId}: ${reason}`);
  }
}

const DONE: Promise<void> = Promise.resolve();

/** A session's transaction outlived its writeHost (see lostTransaction). */
const WRITER_CHANGED = new SqlError(
  'Connection was killed: the writeHost changed during this transaction (failover); it was rolled back — start it again',
  1927,
  '70100',
);

export class StatementRunner {
  /** Reads that must see earlier writes (session.consistency). */
  readonly causal: CausalReads;
  private readonly attempts: BackendAttempts;
  private readonly writerWait: WriterWait;
  /** The open transaction's commands and answers, for transaction replay. */
  readonly journal: TransactionJournal;
  private readonly replayer: TransactionReplay;
  /** What is being recorded of the statement running now (undefined: nothing). */
  private recording: Recording | undefined;

  constructor(private readonly scope: SessionScope) {
    this.causal = new CausalReads(scope);
    this.attempts = new BackendAttempts(scope);
    this.writerWait = new WriterWait(scope);
    this.journal = new TransactionJournal(() => {
      const f = scope.ctx.config().dataHost.failover;
      return { enabled: f.transactionReplay, maxBytes: f.transactionReplayMaxBytes };
    });
    this.replayer = new TransactionReplay(scope, this.journal, (held, needs, lastInsertId) =>
      this.replay(held.conn, needs, { ...scope.s, lastInsertId }),
    );
  }

  /** Where a statement goes; it may first wait for a writeHost (writer-wait.ts). */
  decide(c: Classification): RouteDecision | Promise<RouteDecision> {
    return this.writerWait.decide(c);
  }

  /** Synchronous routing, for commands that never wait for a promotion. */
  decideNow(c: Classification): RouteDecision {
    return route(c, this.scope.routeState(), this.scope.ctx.cluster());
  }

  /** After a HostUnavailable from the writeHost: whether a new one took over (writer-wait.ts). */
  awaitReplacedWriter(err: unknown): Promise<boolean> {
    return this.writerWait.awaitReplacedWriter(err);
  }

  /** Runs `work` on a connection for the decision, trying again elsewhere as backend-attempts.ts says. */
  withBackend<T>(decision: RouteDecision, digest: string, work: (held: HeldConnection) => Promise<T>, onGone: OnBackendGone): Promise<T> {
    return this.attempts.run(decision, digest, work, onGone);
  }

  /**
   * Brings `conn` to the session's state: usually nothing to send, and then nothing to wait for
   * (undefined, not a resolved promise: see decide).
   */
  sync(conn: BackendConnection, needs: SyncNeeds): Promise<void> | undefined {
    const state = this.scope.s;
    if (!inSync(conn, state, needs)) return this.replay(conn, needs);
    // What the statement about to run leaves behind (warnings, ROW_COUNT()) is this session's.
    conn.state.diagnosticsSession = state.sessionId;
    return undefined;
  }

  private async replay(conn: BackendConnection, needs: SyncNeeds, desired: DesiredSessionState = this.scope.s): Promise<void> {
    const state = this.scope.s;
    await syncConnection(conn, desired, needs);
    // The replay may have set the client's own tracking list, without the proxy's GTID.
    for (const name of TRACKING_VARIABLES) if (state.vars.has(name)) conn.gtidTracking = false;
    conn.state.diagnosticsSession = state.sessionId;
  }

  /**
   * Runs one command on the backend the decision names and relays the answer. The command is
   * either fixed bytes (`payload`, and `frame` when the client's framing can be reused) or built
   * for the chosen backend connection (prepared statements: that connection's statement id).
   *
   * A read for a session that must see earlier writes (session.consistency) runs at once on a
   * readHost known to have applied them; on any other it first waits for them there, the wait
   * sent in the same packet as the read (no round trip; it returns at once when the host has
   * them); when the wait times out, the read runs on the writeHost.
   */
  run(
    decision: RouteDecision,
    c: Classification,
    shape: ResponseShape,
    source: CommandSource,
    onRelayed?: OnRelayed,
  ): Promise<void> {
    const scope = this.scope;
    const stats = scope.ctx.stats;
    stats.statements++;
    const lost = this.lostTransaction(decision);
    if (lost !== undefined) return this.recoverThenRun(lost, c, shape, source, onRelayed);
    if (decision.target === 'error') {
      this.refuse(decision);
      return DONE;
    }
    const recording = decision.target !== 'reader' && this.journal.records(c, scope.s) ? recordingOf(c, shape, source) : undefined;
    this.recording = recording;
    // The selector picks the readHost as always (weights, least-conn and hashing are not bent
    // towards whichever replica was probed last); relayOn then skips the wait when that host is
    // known to have the writes, and otherwise sends it in the same packet as the read.
    const waitFor = decision.target === 'reader' ? scope.requiredPosition() : undefined;
    const relayed = this.relayOn(decision, waitFor, c, shape, source, onRelayed);
    // A transaction's statement whose connection died may be replayed elsewhere (recoverThenRun).
    if (recording !== undefined && scope.inScope()) {
      return relayed.then(
        () => undefined,
        (err: unknown) => {
          if (!(err instanceof TransactionLost)) throw err;
          return this.recoverThenRun({ hostId: err.hostId, cause: err.reason, error: sqlError('CR_SERVER_LOST', err.hostId) }, c, shape, source, onRelayed);
        },
      );
    }
    // Only a consistency wait can fail: without one, the relay's promise is the statement's
    // (its value, true, means nothing to the caller; no async frame here, see withBackend).
    if (waitFor === undefined) return relayed as Promise<unknown> as Promise<void>;
    return this.orOnWriter(relayed, c, shape, source, onRelayed);
  }

  /**
   * The session's open transaction lost its connection (`lost`): replays it on the writeHost and
   * runs the statement there (transaction-replay.ts), or gives the client `lost.error` as before.
   */
  private async recoverThenRun(lost: LostTransaction, c: Classification, shape: ResponseShape, source: CommandSource, onRelayed: OnRelayed | undefined): Promise<void> {
    if (await this.replayer.recover(lost.hostId, lost.cause)) {
      return this.run(this.decideNow(c), c, shape, source, onRelayed);
    }
    this.abandonTransaction();
    throw lost.error;
  }

  /** The readHost had not applied the session's writes in time: the writeHost has them. */
  private async orOnWriter(relayed: Promise<boolean>, c: Classification, shape: ResponseShape, source: CommandSource, onRelayed: OnRelayed | undefined): Promise<void> {
    if (await relayed) return;
    const scope = this.scope;
    scope.ctx.stats.consistency.fallback++;
    const decision = toWriter(c, scope.ctx.cluster(), 'consistency');
    if (decision.target === 'error') this.refuse(decision);
    else await this.relayOn(decision, undefined, c, shape, source, onRelayed);
  }

  private refuse(decision: Extract<RouteDecision, { target: 'error' }>): void {
    this.scope.ctx.stats.errors++;
    this.scope.ch.send(encodeErrFor(new SqlError(decision.message, decision.errno, decision.sqlState)), 1);
  }

  /**
   * Relays the command on a connection for `decision`; with `waitFor`, only after that
   * connection's host has applied it. Returns false when the wait failed (nothing reached the
   * client; the caller runs it on the writeHost). Not async itself: it returns withBackend's
   * promise rather than wrapping it in one more.
   */
  private relayOn(
    decision: RouteDecision,
    waitFor: GtidPosition | undefined,
    c: Classification,
    shape: ResponseShape,
    source: CommandSource,
    onRelayed: OnRelayed | undefined,
  ): Promise<boolean> {
    const scope = this.scope;
    const { ctx } = scope;
    const fixed = typeof source === 'function' ? undefined : (source.frame ?? encodePacket(source.payload, 0));
    const okView = scope.okView();
    return this.withBackend(
      decision,
      c.digest,
      (held) => {
        const { conn } = held;
        const onWriter = conn.hostId === ctx.cluster().writer?.id;
        held.pools.statements++;
        scope.active = conn;
        const needs = { userVars: c.readsUserVariables, lastInsertId: c.readsLastInsertId, diagnostics: c.needsLastConnection };
        const mustWait = waitFor !== undefined && this.causal.mustWait(conn, waitFor);
        if (!mustWait && fixed !== undefined && conn.gtidTracking && inSync(conn, scope.s, needs) && !this.publishesWrite(c, onWriter)) {
          // The usual statement: nothing to wait for, replay or prepare first, so the relay's
          // promise is the only one (no async frame around it; see withBackend).
          conn.state.diagnosticsSession = scope.s.sessionId;
          // A command over 16 MiB travels as several packets; the reply continues their sequence.
          const firstReplySeq = physicalPacketCount((source as FixedCommand).payload.length) & 0xff;
          const started = performance.now();
          return conn
            .relay(fixed, shape, scope.ch.output, firstReplySeq, okView, this.recording !== undefined)
            .then((summary) => this.relayed(held, c, onWriter, summary, started, okView, onRelayed));
        }
        return this.relayAfterPreparing(held, onWriter, needs, mustWait ? waitFor : undefined, c, shape, source, fixed, okView, onRelayed);
      },
      (err, held, attempt) => {
        if (err.bytesForwarded > 0) {
          scope.closeForInterruptedResult(err, held.conn.hostId);
          throw new ResultInterrupted(err.message);
        }
        const wasInScope = scope.inScope();
        // A BEGIN that opens the session's first transaction changed nothing yet either.
        const safeToRetry =
          !scope.killed &&
          attempt === 0 &&
          !wasInScope &&
          (decision.target === 'reader' || !err.commandSent || c.kind === 'read' || (c.kind === 'begin' && !c.multiStatement));
        if (safeToRetry) {
          scope.log.info({ backend: held.conn.hostId, err: err.message }, 'backend connection lost before any reply; retrying');
          return true;
        }
        if (wasInScope) {
          if (this.recording !== undefined && !scope.killed) {
            if (!mayCommit(c)) throw new TransactionLost(held.conn.hostId, err.message);
            this.replayer.report('commit-in-flight', { lost: held.conn.hostId, cause: err.message, statement: c.verb });
          }
          this.abandonTransaction();
        }
        return false;
      },
    );
  }

  /**
   * relayOn's work when something must happen before the command goes out: the consistency wait
   * (`waitFor`: alone first, or in the command's packet), the session-state replay, turning GTID
   * tracking back on, or building the command for this connection (prepared statements).
   */
  private async relayAfterPreparing(
    held: HeldConnection,
    onWriter: boolean,
    needs: SyncNeeds,
    waitFor: GtidPosition | undefined,
    c: Classification,
    shape: ResponseShape,
    source: CommandSource,
    fixed: Buffer | undefined,
    okView: OkView,
    onRelayed: OnRelayed | undefined,
  ): Promise<boolean> {
    const scope = this.scope;
    const { conn } = held;
    // The state replay (USE of a schema the session just created) or the lazy prepare (of a
    // table it just created) would fail on a replica that lacks the writes: wait before them.
    // Otherwise the wait travels in the same packet as the statement.
    const waitFirst = waitFor !== undefined && (!inSync(conn, scope.s, needs) || (typeof source === 'function' && !source.ready?.(conn)));
    if (waitFirst && !(await this.causal.waitAlone(conn, waitFor))) {
      scope.active = undefined;
      scope.backends.finishStatement(held, scope.inScope());
      return false;
    }
    const syncing = this.sync(conn, needs);
    if (syncing !== undefined) await syncing;
    if (!conn.gtidTracking) await conn.trackGtids(true);
    const payload = typeof source === 'function' ? await source(conn) : source.payload;
    const command = fixed ?? encodePacket(payload, 0);
    const firstReplySeq = physicalPacketCount(payload.length) & 0xff;
    const started = performance.now();
    let summary: ResponseSummary;
    // consistency: global across worker processes: the write's OK waits until every worker
    // knows its GTID (publishWrite), so no read anywhere can start after it without it.
    const holdBack = this.publishesWrite(c, onWriter) ? new HoldLastSink(scope.ch.output) : undefined;
    if (waitFor !== undefined && !waitFirst) {
      const relayed = await this.causal.relayAfterWait(conn, waitFor, command, shape, scope.ch.output, firstReplySeq, okView);
      if (relayed === undefined) {
        scope.active = undefined;
        this.dropStaleRead(held, c);
        return false;
      }
      summary = relayed;
    } else {
      summary = await conn.relay(command, shape, holdBack ?? scope.ch.output, firstReplySeq, okView, this.recording !== undefined);
    }
    if (holdBack === undefined) return this.relayed(held, c, onWriter, summary, started, okView, onRelayed);
    if (summary.localInfile) holdBack.release(); // the client must see the file request to answer it
    const done = await this.relayed(held, c, onWriter, summary, started, okView, onRelayed);
    if (summary.gtid !== undefined) await this.publishWrite(summary.gtid);
    holdBack.release();
    return done;
  }

  /** A write on the writeHost whose OK must wait for publishWrite (consistency: global, worker processes). */
  private publishesWrite(c: Classification, onWriter: boolean): boolean {
    const ctx = this.scope.ctx;
    return onWriter && ctx.publishWrite !== undefined && ctx.config().session.consistency === 'global' && (mayWrite(c) || c.kind === 'commit');
  }

  /** Makes a commit known to every worker process (consistency: global); a failure is logged, not the client's. */
  private async publishWrite(gtid: string): Promise<void> {
    try {
      await this.scope.ctx.publishWrite?.(parseGtids(gtid));
    } catch (err) {
      this.scope.log.warn({ err: (err as Error).message }, 'could not tell the other workers about a write (consistency: global)');
    }
  }

  /** The backend's answer has been relayed: counters, LOAD DATA LOCAL's file, then finishRelayed. */
  private relayed(
    held: HeldConnection,
    c: Classification,
    onWriter: boolean,
    summary: ResponseSummary,
    started: number,
    okView: OkView,
    onRelayed: OnRelayed | undefined,
  ): boolean | Promise<boolean> {
    const stats = this.scope.ctx.stats;
    if (onWriter) stats.routedToWriter++;
    else stats.routedToReader++;
    if (!summary.localInfile) return this.finishRelayed(held, c, summary, started, onRelayed);
    return this.relayLocalInfile(held.conn, okView).then((s) => this.finishRelayed(held, c, s, started, onRelayed));
  }

  /** Statistics and logs, then what the statement changed in the session and on its connection. */
  private finishRelayed(held: HeldConnection, c: Classification, summary: ResponseSummary, started: number, onRelayed: OnRelayed | undefined): true {
    observeStatement(this.scope, c, held.conn, summary, performance.now() - started);
    this.scope.active = undefined;
    onRelayed?.(held, summary);
    recordStatementEffects(this.scope, c, summary, held);
    this.journal.after(held.conn.hostId, this.recording, summary, this.scope.s);
    this.recording = undefined;
    return true;
  }

  /**
   * A read whose consistency wait failed ran on a stale readHost and its result was dropped. A
   * plain read left nothing behind; `START TRANSACTION READ ONLY` left a transaction open there,
   * so that connection is closed rather than handed to anyone.
   */
  private dropStaleRead(held: HeldConnection, c: Classification): void {
    const { backends } = this.scope;
    if (c.kind === 'read') {
      backends.finishStatement(held, this.scope.inScope());
      return;
    }
    backends.forget(held);
    held.pools.discard(held.conn);
  }

  /**
   * LOAD DATA LOCAL: the backend asked for the file (relayed to the client as part of the
   * response). The client now sends it as packets ending with an empty one; they are forwarded
   * as they come, never buffered whole, and the backend's final OK/ERR is relayed.
   */
  private async relayLocalInfile(conn: BackendConnection, okView: OkView): Promise<ResponseSummary> {
    const ch = this.scope.ch;
    for (;;) {
      const p = await ch.next();
      if (!p) {
        // The client left mid-file: the backend is waiting for the rest, so it cannot be reused.
        conn.destroy();
        throw new BackendGoneError('client closed during LOAD DATA LOCAL', 1, true);
      }
      const frames = p.frame ?? encodePacket(p.payload, p.seq);
      if (p.payload.length === 0) return conn.relay(frames, 'ok', ch.output, (p.lastSeq + 1) & 0xff, okView);
      await conn.forward(frames);
    }
  }

  /**
   * Whether the session's transaction (or pinned state) lost its connection before this
   * statement; the lost connection is dropped. Two ways:
   *  - the connection was closed while the client was idle (the server ended it — KILL,
   *    wait_timeout, a crash — and rolled the transaction back): continuing on a fresh connection
   *    would silently run the rest in autocommit, so the answer is 2013, as from the server;
   *  - it lives on a host that is no longer the writeHost (failover or a switch meanwhile):
   *    running the statement on the new writeHost would silently split the transaction, so the
   *    answer is 1927 and the session starts over.
   * Either way transaction replay may first bring the transaction back (recoverThenRun).
   */
  private lostTransaction(decision: RouteDecision): LostTransaction | undefined {
    const { backends, ctx, log } = this.scope;
    const lostOn = backends.takeLostAnchor();
    if (lostOn !== undefined) {
      // With transaction replay, its outcome says this once (transaction-replay.ts).
      if (!this.journal.enabled) log.warn({ backend: lostOn }, 'backend connection of an open transaction was closed by the server; transaction lost');
      return { hostId: lostOn, cause: 'the connection was closed between statements', error: sqlError('CR_SERVER_LOST', lostOn) };
    }
    if (decision.target !== 'writer' && decision.target !== 'error') return undefined;
    const anchorHost = backends.anchorHostId();
    if (anchorHost === undefined || !this.scope.inScope()) return undefined;
    const writer = ctx.cluster().writer;
    if (writer !== undefined && writer.id === anchorHost) return undefined;
    if (!this.journal.enabled) log.warn({ anchor: anchorHost, writer: writer?.id }, 'writeHost changed under an open transaction; aborting it');
    backends.dropAnchor();
    return { hostId: anchorHost, cause: 'the writeHost changed', error: WRITER_CHANGED };
  }

  /**
   * For commands that are not replayed (COM_STMT_PREPARE): an open transaction whose connection
   * the server closed while the client was idle fails with 2013 (see lostTransaction).
   */
  checkAnchorAlive(): void {
    const lostOn = this.scope.backends.takeLostAnchor();
    if (lostOn === undefined) return;
    this.scope.log.warn({ backend: lostOn }, 'backend connection of an open transaction was closed by the server; transaction lost');
    this.abandonTransaction();
    throw sqlError('CR_SERVER_LOST', lostOn);
  }

  /** The backend died inside a transaction: the server rolled it back, so does the session. */
  abandonTransaction(): void {
    const s = this.scope.s;
    s.inTransaction = false;
    s.autocommit = true;
    recordReset(s, this.scope.authed.charset);
  }
}

