/**
 * One client connection: authenticate, then answer commands one at a time.
 *
 * For each statement: classify (routing/), decide (routing/router — pure), borrow or reuse a
 * backend connection (backend/), bring it to the session's state, relay the backend's answer as
 * raw bytes, then record what the answer changed (session-state). Which backend connections the
 * session keeps between statements, and when they go back, is session-connections' concern.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from '../config/types.js';
import type { ClusterView } from '../cluster/view.js';
import { Capability, ServerStatus } from '../protocol/constants.js';
import { decodeCommand, encodeQuery, encodeStmtFetch, encodeStmtReset, encodeStmtSendLongData, type ClientCommand } from '../protocol/commands.js';
import { decodeExecuteBody, withStatementId } from '../protocol/statements.js';
import { encodePacket, physicalPacketCount } from '../protocol/framer.js';
import { encodeEof, encodeOk } from '../protocol/responses.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { classify, plainClassification, stripMycatBytes } from '../routing/classify.js';
import { route } from '../routing/router.js';
import type { Classification, RouteDecision, SessionRouteState } from '../routing/types.js';
import type { Selector } from '../backend/selectors.js';
import type { HostPools, PoolKey } from '../backend/host-pools.js';
import {
  BackendConnection,
  BackendGoneError,
  BackendSqlError,
  WIRE_FORMAT_CAPABILITIES,
} from '../backend/backend-connection.js';
import { inSync, syncConnection } from '../backend/session-sync.js';
import type { ResponseShape, ResponseSummary } from '../backend/response-scanner.js';
import { ClientChannel } from './client-channel.js';
import { HostUnavailable, SessionConnections, type HeldConnection } from './session-connections.js';
import { SessionStatements, executeOnBackend } from './prepared-statements.js';
import { AuthFailed, authenticate, encodeErrFor, verifyChangeUser, type AuthenticatedClient } from './authenticate.js';
import type { FrontendSecurity } from './tls.js';
import type { StatementStats } from './statement-stats.js';
import {
  dirtiesConnection,
  inTransactionScope,
  isPinned,
  newSessionState,
  pinReasons,
  recordReset,
  recordStatement,
  routeState,
  type PinReason,
  type SessionState,
} from './session-state.js';

/** What a session needs from the rest of the proxy (built once in app.ts). */
export interface SessionContext {
  /** The running configuration; read at each use, because accounts and limits change live. */
  config(): SluiceConfig;
  cluster(): ClusterView;
  pools(hostId: string): HostPools | undefined;
  readonly selector: Selector;
  /** Other sessions by proxy connection id (KILL). */
  session(id: number): Session | undefined;
  /** Authenticated sessions of a user (per-user maxConnections). */
  connectionsOf(user: string): number;
  serverVersion(): string;
  /** The writeHost's global sql_mode has quoting the lexer does not model (sessions start pinned). */
  serverSqlModeUnmodelled(): boolean;
  readonly stats: SessionStats;
  /** Front-end TLS and authentication settings (frontend/tls.ts). */
  readonly security: FrontendSecurity;
  /** Per-digest statistics every statement is recorded in. */
  readonly statementStats: StatementStats;
}

/** Counters a session bumps; read by metrics and admin views. */
export interface SessionStats {
  statements: number;
  routedToWriter: number;
  routedToReader: number;
  errors: number;
  retries: number;
  /** Sessions that became pinned to their writeHost connection, by reason. */
  pins: Record<PinReason, number>;
}

export function newSessionStats(): SessionStats {
  return {
    statements: 0,
    routedToWriter: 0,
    routedToReader: 0,
    errors: 0,
    retries: 0,
    pins: {
      'temporary-table': 0,
      'named-lock': 0,
      'table-lock': 0,
      'user-variable': 0,
      'multi-statement': 0,
      'next-transaction': 0,
      'prepared-statement': 0,
      'sql-mode': 0,
    },
  };
}

const NO_PINS: readonly PinReason[] = [];

export class Session {
  readonly id: number;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  private readonly ch: ClientChannel;
  private readonly ctx: SessionContext;
  private readonly log: Logger;
  private client: AuthenticatedClient | undefined;
  private state: SessionState | undefined;
  /** The backend connections this session keeps between statements (see session-connections). */
  private readonly backends: SessionConnections;
  /** Server-side prepared statements under the proxy's ids. */
  private readonly statements = new SessionStatements();
  /** Open server-side cursors: client statement id → the connection holding it, its id there. */
  private readonly cursors = new Map<number, { readonly held: HeldConnection; readonly backendId: number }>();
  /** When the last command finished (ms, Date.now()); the sweeper releases idle connections. */
  private idleSince = 0;
  /** Login or a command is running: the sweeper must not touch the connections. */
  private busy = true;
  /** The connection running the current statement (KILL QUERY targets it). */
  private active: BackendConnection | undefined;
  /** Text of the statement running now, for SHOW @@CONNECTION. */
  currentSql: string | undefined;
  private killed = false;

  constructor(id: number, ch: ClientChannel, ctx: SessionContext, log: Logger) {
    this.id = id;
    this.ch = ch;
    this.ctx = ctx;
    this.remoteAddress = ch.socket.remoteAddress ?? 'unknown';
    this.log = log.child({ conn: id, client: this.remoteAddress });
    this.backends = new SessionConnections(ctx, this.log);
  }

  get user(): string | undefined {
    return this.client?.user.name;
  }

  /**
   * Where the session's open transaction or pinned state lives (admin SHOW @@CONNECTION: who is
   * still holding a host being drained); undefined when the session holds nothing there.
   */
  get transactionHost(): string | undefined {
    return this.inScope() ? this.backends.anchorHostId() : undefined;
  }

  /** Hosts this session holds a backend connection to right now. */
  get heldHosts(): readonly string[] {
    return this.backends.heldHosts();
  }

  get schema(): string | undefined {
    return this.state?.schema;
  }

  /** Runs the connection to its end. Never throws. */
  async run(): Promise<void> {
    try {
      const client = await authenticate(this.ch, {
        connectionId: this.id,
        serverVersion: this.ctx.serverVersion(),
        users: this.ctx.config().users,
        remoteAddress: this.remoteAddress,
        security: this.ctx.security,
      });
      if (!client) return;
      this.client = client;
      const limit = client.user.maxConnections ?? 0;
      // This session already counts itself once authenticated (user is set).
      if (limit > 0 && this.ctx.connectionsOf(client.user.name) > limit) {
        this.ch.send(
          encodeErrFor(sqlError('ER_USER_LIMIT_REACHED', client.user.name, 'max_user_connections', limit)),
          (client.lastSeq + 1) & 0xff,
        );
        return;
      }
      const multi = (client.capabilities & Capability.MULTI_STATEMENTS) !== 0;
      this.state = newSessionState(this.id, client.charset, multi, this.ctx.serverSqlModeUnmodelled());
      if (client.database !== undefined) {
        const err = await this.changeSchema(client.database);
        if (err) {
          this.ch.send(encodeErrFor(err), (client.lastSeq + 1) & 0xff);
          return;
        }
      }
      this.ch.send(this.okPayload(), (client.lastSeq + 1) & 0xff);
      // Compression starts after this OK (the OK itself is plain), in both directions.
      if (client.capabilities & Capability.COMPRESS) this.ch.startCompression();
      this.log.debug({ user: client.user.name }, 'client authenticated');
      this.busy = false;
      this.idleSince = Date.now();
      await this.commandLoop();
    } catch (err) {
      if (!(err instanceof AuthFailed)) this.log.error({ err }, 'session failed');
      else this.log.info({ reason: err.message }, 'authentication failed');
    } finally {
      await this.cleanup();
    }
  }

  private async commandLoop(): Promise<void> {
    for (;;) {
      const packet = await this.ch.next();
      if (!packet) break;
      if (packet.seq !== 0) {
        this.log.warn({ seq: packet.seq }, 'command packet with non-zero sequence id; closing');
        break;
      }
      let cmd: ClientCommand;
      try {
        cmd = decodeCommand(packet.payload, this.client!.capabilities);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'malformed command packet; closing');
        break;
      }
      if (cmd.type === 'quit') break;
      this.busy = true;
      try {
        await this.dispatch(cmd, packet.payload, packet.frame);
      } catch (err) {
        this.replyError(err);
      } finally {
        this.busy = false;
        this.idleSince = Date.now();
      }
      if (this.killed || this.ch.closed) break;
    }
    const bad = this.ch.protocolError;
    if (bad) {
      this.log.warn({ err: bad.message }, 'bad packet from client; closing');
      // Like the server: say why before closing (the client reports 1153, not a bare 2013).
      if ((bad as { code?: string }).code === 'packet-too-large') {
        this.ch.send(encodeErrFor(sqlError('ER_NET_PACKET_TOO_LARGE')), 1);
      }
    }
  }

  /** `frame` is the client's packet as received (header included) when it can be forwarded as is. */
  private async dispatch(cmd: ClientCommand, payload: Buffer, frame: Buffer | undefined): Promise<void> {
    switch (cmd.type) {
      case 'query':
        return this.query(cmd.sql, cmd.raw, payload, frame);
      case 'init-db': {
        const err = await this.changeSchema(cmd.schema);
        this.ch.send(err ? encodeErrFor(err) : this.okPayload(), 1);
        return;
      }
      case 'ping':
        this.ch.send(this.okPayload(), 1);
        return;
      case 'field-list':
        return this.forward(this.readDecision(), payload, 'field-list');
      case 'statistics':
        return this.forward(this.writerDecision(), payload, 'single');
      case 'set-option': {
        this.state!.multiStatements = cmd.option === 0;
        const status = this.statusFlags();
        this.ch.send(
          this.deprecateEof ? encodeOk({ statusFlags: status }, this.client!.capabilities, 0xfe) : encodeEof(0, status),
          1,
        );
        return;
      }
      case 'reset-connection':
        this.cursors.clear(); // their connections are reset below
        await this.backends.releaseAll(true, this.inScope());
        recordReset(this.state!, this.client!.charset);
        this.statements.clear();
        this.ch.send(this.okPayload(), 1);
        return;
      case 'change-user':
        return this.changeUser(cmd);
      case 'process-kill':
        return this.kill(cmd.connectionId, false);
      case 'stmt-prepare':
        return this.prepareStatement(cmd.sql);
      case 'stmt-execute':
        return this.executeStatement(cmd.statementId, cmd.flags, cmd.iterationCount, cmd.body);
      case 'stmt-send-long-data':
        return this.longData(cmd.statementId, cmd.paramId, cmd.data); // no response
      case 'stmt-close':
        await this.closeCursor(cmd.statementId);
        this.statements.close(cmd.statementId); // no response
        return;
      case 'stmt-reset': {
        const stmt = this.statements.get(cmd.statementId);
        if (!stmt) throw sqlError('ER_UNKNOWN_STMT_HANDLER', cmd.statementId, 'mysqld_stmt_reset');
        stmt.longData.clear();
        stmt.longDataBytes = 0;
        await this.closeCursor(cmd.statementId);
        this.ch.send(this.okPayload(), 1);
        return;
      }
      case 'stmt-fetch':
        return this.fetchCursor(cmd.statementId, cmd.numRows);
      default:
        this.ch.send(encodeErrFor(sqlError('ER_UNKNOWN_COM_ERROR')), 1);
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Statements

  private async query(sql: string, raw: Buffer, payload: Buffer, frame: Buffer | undefined): Promise<void> {
    const c = classify(sql);
    if (c.verb === 'KILL') {
      const kill = parseKill(sql);
      if (kill) return this.kill(kill.id, kill.queryOnly);
    }
    let decision = route(c, this.routeState(), this.ctx.cluster());
    if (this.awaitsPromotion(decision)) decision = await this.waitForPromotion(c);
    this.currentSql = sql;
    try {
      const source = c.forwardSql !== undefined ? { payload: forwardedQuery(c, sql, raw), frame: undefined } : { payload, frame };
      await this.execute(decision, c, 'query', source);
    } finally {
      this.currentSql = undefined;
    }
  }

  /** Runs a non-statement command that is answered by a backend (COM_FIELD_LIST, COM_STATISTICS). */
  private forward(decision: RouteDecision, payload: Buffer, shape: ResponseShape): Promise<void> {
    return this.execute(decision, NEUTRAL, shape, { payload, frame: undefined });
  }

  private readDecision(): RouteDecision {
    return route(READ, this.routeState(), this.ctx.cluster());
  }

  private writerDecision(): RouteDecision {
    return route(NEUTRAL, this.routeState(), this.ctx.cluster());
  }

  /**
   * Runs one command on the backend the decision names and relays the answer. The command is
   * either fixed bytes (`payload`, and `frame` when the client's framing can be reused) or built
   * for the chosen backend connection (prepared statements: that connection's statement id).
   */
  private async execute(
    decision: RouteDecision,
    c: Classification,
    shape: ResponseShape,
    source: CommandSource,
    onRelayed?: (held: HeldConnection, summary: ResponseSummary) => void,
  ): Promise<void> {
    const stats = this.ctx.stats;
    const fixed = typeof source === 'function' ? undefined : (source.frame ?? encodePacket(source.payload, 0));
    stats.statements++;
    this.checkAnchorAlive();
    this.checkWriterUnchanged(decision);
    if (decision.target === 'error') {
      stats.errors++;
      this.ch.send(encodeErrFor(new SqlError(decision.message, decision.errno, decision.sqlState)), 1);
      return;
    }
    let excluded: Set<string> | undefined; // hosts that failed this statement (rare: allocated on demand)
    for (let attempt = 0; ; attempt++) {
      let held: HeldConnection;
      try {
        const target = this.backends.resolve(decision, c.digest, excluded);
        held = 'conn' in target ? target : await this.backends.borrow(target, this.poolKey());
      } catch (err) {
        if (err instanceof HostUnavailable && decision.target === 'reader' && attempt < 3) {
          (excluded ??= new Set()).add(err.hostId);
          stats.retries++;
          continue;
        }
        throw err;
      }
      if (held.conn.hostId === this.ctx.cluster().writer?.id) stats.routedToWriter++;
      else stats.routedToReader++;
      held.pools.statements++;
      const { conn } = held;
      this.active = conn;
      try {
        const state = this.state!;
        const needs = { userVars: c.readsUserVariables, lastInsertId: c.readsLastInsertId };
        if (!inSync(conn, state, needs)) await syncConnection(conn, state, needs);
        const payload = typeof source === 'function' ? await source(conn) : source.payload;
        const command = fixed ?? encodePacket(payload, 0);
        // A command over 16 MiB travels as several packets; the reply continues their sequence.
        const firstReplySeq = physicalPacketCount(payload.length) & 0xff;
        const started = performance.now();
        let summary = await conn.relay(command, shape, this.ch.output, firstReplySeq);
        if (summary.localInfile) summary = await this.relayLocalInfile(conn);
        this.observe(c, conn, summary, performance.now() - started);
        this.active = undefined;
        onRelayed?.(held, summary);
        this.afterStatement(c, summary, held);
        return;
      } catch (err) {
        this.active = undefined;
        if (err instanceof BackendSqlError) {
          // The replay failed (e.g. the schema was dropped meanwhile): report it as the server would.
          this.backends.finishStatement(held, this.inScope());
          throw new SqlError(err.message, err.errno, err.sqlState);
        }
        this.backends.forget(held);
        held.pools.discard(conn);
        if (!(err instanceof BackendGoneError)) throw err;
        if (err.bytesForwarded > 0) {
          // Part of a result reached the client: the only honest signal left is a closed
          // connection (the client reports 2013), DESIGN §6.
          this.log.warn({ backend: conn.hostId, err: err.message }, 'backend lost during a result; closing client');
          this.ch.destroy();
          return;
        }
        const wasInScope = inTransactionScope(this.state!) || isPinned(this.state!);
        const safeToRetry =
          !this.killed &&
          attempt === 0 &&
          !wasInScope &&
          (decision.target === 'reader' || !err.commandSent || c.kind === 'read');
        if (safeToRetry) {
          this.log.info({ backend: conn.hostId, err: err.message }, 'backend connection lost before any reply; retrying');
          stats.retries++;
          if (decision.target === 'reader') (excluded ??= new Set()).add(conn.hostId);
          continue;
        }
        if (wasInScope) this.abandonTransaction();
        throw sqlError('CR_SERVER_LOST', conn.hostId);
      }
    }
  }

  /**
   * LOAD DATA LOCAL: the backend asked for the file (relayed to the client as part of the
   * response). The client now sends it as packets ending with an empty one; they are forwarded
   * as they come, never buffered whole, and the backend's final OK/ERR is relayed.
   */
  private async relayLocalInfile(conn: BackendConnection): Promise<ResponseSummary> {
    for (;;) {
      const p = await this.ch.next();
      if (!p) {
        // The client left mid-file: the backend is waiting for the rest, so it cannot be reused.
        conn.destroy();
        throw new BackendGoneError('client closed during LOAD DATA LOCAL', 1, true);
      }
      const frames = p.frame ?? encodePacket(p.payload, p.seq);
      if (p.payload.length === 0) return conn.relay(frames, 'ok', this.ch.output, (p.lastSeq + 1) & 0xff);
      await conn.forward(frames);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Prepared statements (COM_STMT_*)

  /**
   * COM_STMT_PREPARE: prepared on the backend the statement would run on (so a bad statement is
   * reported at prepare time, as by the server); the client gets the proxy's statement id.
   */
  private async prepareStatement(sql: string): Promise<void> {
    const c = classify(sql);
    let decision = route(c, this.routeState(), this.ctx.cluster());
    if (this.awaitsPromotion(decision)) decision = await this.waitForPromotion(c);
    if (decision.target === 'error') throw new SqlError(decision.message, decision.errno, decision.sqlState);
    this.checkAnchorAlive();
    let excluded: Set<string> | undefined;
    for (let attempt = 0; ; attempt++) {
      let held: HeldConnection;
      try {
        held = await this.backends.lease(decision, c.digest, excluded, this.poolKey());
      } catch (err) {
        if (err instanceof HostUnavailable && decision.target === 'reader' && attempt < 3) {
          (excluded ??= new Set()).add(err.hostId);
          continue;
        }
        throw err;
      }
      const { conn } = held;
      try {
        const state = this.state!;
        const needs = { userVars: false, lastInsertId: false };
        if (!inSync(conn, state, needs)) await syncConnection(conn, state, needs);
        const prepared = await conn.prepared(state.schema, sql);
        const stmt = this.statements.add(sql, c, prepared.numParams, prepared.numColumns);
        const [ok, ...definitions] = prepared.response;
        this.ch.sendAll([withStatementId(ok!, stmt.id), ...definitions], 1);
        this.backends.finishStatement(held, this.inScope());
        return;
      } catch (err) {
        if (err instanceof BackendSqlError) {
          this.backends.finishStatement(held, this.inScope());
          throw new SqlError(err.message, err.errno, err.sqlState);
        }
        this.backends.forget(held);
        held.pools.discard(conn);
        if (err instanceof BackendGoneError && attempt === 0 && !this.inScope()) {
          if (decision.target === 'reader') (excluded ??= new Set()).add(conn.hostId);
          continue;
        }
        throw err instanceof BackendGoneError ? sqlError('CR_SERVER_LOST', conn.hostId) : err;
      }
    }
  }

  /**
   * COM_STMT_EXECUTE: routed like the statement's text would be (reads to readHosts, writes and
   * anything in a transaction to the writeHost), prepared on that connection if it is not yet,
   * long data replayed there, then the result relayed as raw bytes.
   */
  private async executeStatement(id: number, flags: number, iterationCount: number, rawBody: Buffer): Promise<void> {
    const stmt = this.statements.get(id);
    if (!stmt) throw sqlError('ER_UNKNOWN_STMT_HANDLER', id, 'mysqld_stmt_execute');
    // Executing again closes the statement's cursor, as on the server (it may run elsewhere now).
    await this.closeCursor(id);
    const body = decodeExecuteBody(rawBody, stmt.numParams);
    if (body.types) stmt.types = body.types;
    if (stmt.numParams > 0 && !stmt.types) throw sqlError('ER_WRONG_ARGUMENTS', 'mysqld_stmt_execute');
    const c = stmt.classification;
    let decision = route(c, this.routeState(), this.ctx.cluster());
    if (this.awaitsPromotion(decision)) decision = await this.waitForPromotion(c);
    this.currentSql = stmt.sql;
    let backendId = 0;
    // A cursor lives on the connection that opened it: the session keeps that connection until
    // the cursor is exhausted, reset or closed (COM_STMT_FETCH goes there).
    const keepCursor =
      flags & CURSOR_TYPE_READ_ONLY
        ? (held: HeldConnection, summary: ResponseSummary): void => {
            if (summary.error !== undefined || !(summary.statusFlags & ServerStatus.CURSOR_EXISTS)) return;
            this.cursors.set(id, { held, backendId });
            this.backends.holdForCursor(held);
          }
        : undefined;
    try {
      await this.execute(
        decision,
        c,
        'query',
        async (conn) => {
          const prepared = await conn.prepared(this.state!.schema, stmt.sql);
          backendId = prepared.id;
          for (const [param, chunks] of stmt.longData) {
            for (const chunk of chunks) conn.send(encodeStmtSendLongData(prepared.id, param, chunk));
          }
          return executeOnBackend(stmt, prepared.id, flags, iterationCount, body);
        },
        keepCursor,
      );
    } finally {
      this.currentSql = undefined;
      stmt.longData.clear();
      stmt.longDataBytes = 0;
    }
  }

  /**
   * COM_STMT_FETCH: the next rows of the statement's open cursor, from the connection that holds
   * it (rows relayed as the server sends them). An exhausted cursor is closed by the server.
   */
  private async fetchCursor(id: number, numRows: number): Promise<void> {
    if (!this.statements.get(id)) throw sqlError('ER_UNKNOWN_STMT_HANDLER', id, 'mysqld_stmt_fetch');
    const cursor = this.cursors.get(id);
    if (!cursor) throw new SqlError(`The statement (${id}) has no open cursor.`, ER_STMT_HAS_NO_OPEN_CURSOR, 'HY000');
    const { held } = cursor;
    if (!held.conn.alive) {
      this.dropCursor(id);
      throw sqlError('CR_SERVER_LOST', held.conn.hostId);
    }
    this.active = held.conn;
    try {
      const summary = await held.conn.relay(encodePacket(encodeStmtFetch(cursor.backendId, numRows), 0), 'rows', this.ch.output, 1);
      if (summary.error !== undefined || !(summary.statusFlags & ServerStatus.CURSOR_EXISTS)) this.dropCursor(id);
    } catch (err) {
      this.dropCursor(id);
      this.backends.forget(held);
      held.pools.discard(held.conn);
      if (err instanceof BackendGoneError && err.bytesForwarded > 0) {
        this.ch.destroy();
        return;
      }
      throw err instanceof BackendGoneError ? sqlError('CR_SERVER_LOST', held.conn.hostId) : err;
    } finally {
      this.active = undefined;
    }
  }

  /** Forgets a cursor the server already closed (exhausted, failed, connection gone). */
  private dropCursor(id: number): void {
    const cursor = this.cursors.get(id);
    if (!cursor) return;
    this.cursors.delete(id);
    this.backends.releaseCursorHold(cursor.held);
  }

  /** Closes a statement's open cursor on its backend (COM_STMT_RESET there), if it has one. */
  private async closeCursor(id: number): Promise<void> {
    const cursor = this.cursors.get(id);
    if (!cursor) return;
    this.dropCursor(id);
    const { held } = cursor;
    if (!held.conn.alive) return;
    try {
      await held.conn.command(encodeStmtReset(cursor.backendId), 'ok');
    } catch (err) {
      this.log.info({ backend: held.conn.hostId, err: (err as Error).message }, 'closing a cursor failed; discarding the connection');
      this.backends.forget(held);
      held.pools.discard(held.conn);
    }
  }

  /** COM_STMT_SEND_LONG_DATA: kept until the execution picks its backend (no response). */
  private longData(id: number, param: number, data: Buffer): void {
    const stmt = this.statements.get(id);
    if (!stmt) return; // the server, too, can only complain at execute time
    // The chunk may be a view of the socket's read buffer: keep a copy.
    const chunks = stmt.longData.get(param) ?? [];
    chunks.push(Buffer.from(data));
    stmt.longData.set(param, chunks);
    stmt.longDataBytes += data.length;
    if (stmt.longDataBytes > this.ctx.config().session.maxPacketSize) {
      // Bounded like max_allowed_packet on the server; the execution then fails cleanly.
      this.log.warn({ statement: id, bytes: stmt.longDataBytes }, 'long data over maxPacketSize; dropping it');
      stmt.longData.clear();
      stmt.longDataBytes = 0;
    }
  }

  /** Statistics, SQL log and slow log for one finished statement. */
  private observe(c: Classification, conn: BackendConnection, summary: ResponseSummary, ms: number): void {
    const onWriter = conn.hostId === this.ctx.cluster().writer?.id;
    const failed = summary.error !== undefined;
    if (c.digest !== '') this.ctx.statementStats.record(c.digest, ms, summary.rows, onWriter, failed);
    const log = this.ctx.config().log;
    const slow = log.slowMs > 0 && ms >= log.slowMs;
    if (!log.sql && !slow) return;
    const text = log.maskLiterals ? c.digest : (this.currentSql ?? c.digest);
    const entry = {
      conn: this.id,
      user: this.user,
      backend: conn.hostId,
      ms: Math.round(ms * 1000) / 1000,
      rows: summary.rows,
      affected: Number(summary.affectedRows),
      ...(failed ? { errno: summary.error!.errno } : {}),
      sql: text.length > log.maxStatementLength ? `${text.slice(0, log.maxStatementLength)}…` : text,
    };
    if (slow) this.log.warn({ ...entry, log: 'slow' }, 'slow statement');
    else this.log.info({ ...entry, log: 'sql' }, 'statement');
  }

  private afterStatement(c: Classification, summary: ResponseSummary, held: HeldConnection): void {
    const s = this.state!;
    const conn = held.conn;
    if (summary.error === undefined) {
      const pinnedBefore = isPinned(s) ? pinReasons(s) : NO_PINS;
      recordStatement(s, c, { statusFlags: summary.statusFlags, lastInsertId: summary.lastInsertId, at: Date.now() });
      if (dirtiesConnection(c) || c.kind === 'set') this.countNewPins(pinnedBefore);
      // The connection ran the statement itself, so it now carries what the session recorded.
      if (c.kind === 'set' || c.kind === 'use') {
        conn.state.schema = s.schema;
        conn.state.charsetSql = s.charsetSql;
        conn.state.vars = new Map(s.vars);
        for (const a of c.assignments) if (a.type === 'user' && a.literal) conn.state.userVars.set(a.name, a.valueSql);
        for (const [k, v] of s.statements) {
          if (conn.state.statements.get(k) !== v) {
            conn.state.statements.set(k, v);
            conn.state.dirty = true;
          }
        }
      }
      if (summary.lastInsertId !== 0 && summary.lastInsertId !== 0n) conn.state.lastInsertIdSession = s.sessionId;
      if (dirtiesConnection(c)) conn.state.dirty = true;
    } else {
      this.ctx.stats.errors++;
    }
    this.backends.finishStatement(held, this.inScope());
  }

  /** Called periodically by the server: gives back connections of a session idle long enough. */
  sweep(now: number): void {
    if (!this.busy) this.backends.sweep(now, this.idleSince);
  }

  /**
   * Right after a failover with `failover.promote`, the new writeHost still says
   * read_only=ON until the proxy has promoted it (which waits for it to apply what it received).
   * A write then waits for the promotion (bounded) instead of failing with 1290.
   */
  private awaitsPromotion(decision: RouteDecision): boolean {
    return (
      decision.target === 'error' &&
      decision.errno === ER_OPTION_PREVENTS_STATEMENT &&
      this.ctx.config().dataHost.failover.promote
    );
  }

  private async waitForPromotion(c: Classification): Promise<RouteDecision> {
    const deadline = Date.now() + this.ctx.config().dataHost.failover.promotionWaitMs;
    let decision = route(c, this.routeState(), this.ctx.cluster());
    while (this.awaitsPromotion(decision) && Date.now() < deadline && !this.ch.closed) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      decision = route(c, this.routeState(), this.ctx.cluster());
    }
    return decision;
  }

  private routeState(): SessionRouteState {
    return routeState(this.state!, this.backends.holdsLast(), Date.now(), this.ctx.config().session.readYourWritesMs, this.backends.anchorHostId());
  }

  /** Counts each pin reason the statement just added (user-pain #18: say why sessions pin). */
  private countNewPins(before: readonly PinReason[]): void {
    for (const reason of pinReasons(this.state!)) {
      if (!before.includes(reason)) this.ctx.stats.pins[reason]++;
    }
  }

  private inScope(): boolean {
    const s = this.state;
    return s !== undefined && (inTransactionScope(s) || isPinned(s));
  }

  private poolKey(): PoolKey {
    return {
      wireCapabilities: (this.client!.capabilities & WIRE_FORMAT_CAPABILITIES) >>> 0,
      charset: this.client!.charset,
    };
  }

  /**
   * A transaction (or pinned state: temporary tables, locks …) lives on a connection to a host
   * that is no longer the writeHost — failover or a manual switch happened meanwhile. Running the
   * statement on the new writeHost would silently split the transaction, so it fails once with a
   * clear error, the session starts over, and its next statement uses the new writeHost.
   */
  private checkWriterUnchanged(decision: RouteDecision): void {
    if (decision.target !== 'writer' && decision.target !== 'error') return;
    const anchorHost = this.backends.anchorHostId();
    if (anchorHost === undefined || !this.inScope()) return;
    const writer = this.ctx.cluster().writer;
    if (writer !== undefined && writer.id === anchorHost) return;
    this.log.warn({ anchor: anchorHost, writer: writer?.id }, 'writeHost changed under an open transaction; aborting it');
    this.backends.dropAnchor();
    this.abandonTransaction();
    throw WRITER_CHANGED;
  }

  /**
   * The connection holding the transaction (or pinned state) was closed by the server while the
   * client was idle. The server rolled the transaction back; continuing on a fresh connection
   * would silently run the rest of it in autocommit. So the statement fails with 2013, as it would
   * against the server itself, and the session starts over.
   */
  private checkAnchorAlive(): void {
    const lostOn = this.backends.takeLostAnchor();
    if (lostOn === undefined) return;
    this.log.warn({ backend: lostOn }, 'backend connection of an open transaction was closed by the server; transaction lost');
    this.abandonTransaction();
    throw sqlError('CR_SERVER_LOST', lostOn);
  }

  /** The backend died inside a transaction: the server rolled it back, so does the session. */
  private abandonTransaction(): void {
    const s = this.state!;
    s.inTransaction = false;
    s.autocommit = true;
    recordReset(s, this.client!.charset);
  }

  // ---------------------------------------------------------------------------------------------
  // Commands the proxy answers itself (with help from a backend)

  /** Validates and records a schema change (USE via COM_INIT_DB, or the handshake's database). */
  private async changeSchema(schema: string): Promise<SqlError | undefined> {
    // Any host can tell whether a schema exists; a read decision keeps logins working while the
    // writeHost is down, and stays on the session's connection inside a transaction.
    const decision = this.readDecision();
    if (decision.target === 'error') return new SqlError(decision.message, decision.errno, decision.sqlState);
    try {
      this.checkAnchorAlive();
    } catch (err) {
      return err as SqlError;
    }
    // A dead readHost is skipped (as for reads), down to the writeHost.
    const excluded = new Set<string>();
    let held: HeldConnection | undefined;
    while (!held) {
      try {
        held = await this.backends.lease(decision, '', excluded, this.poolKey());
      } catch (err) {
        if (err instanceof HostUnavailable && decision.target === 'reader' && !excluded.has(err.hostId)) {
          excluded.add(err.hostId);
          continue;
        }
        if (err instanceof SqlError) return err;
        if (err instanceof HostUnavailable) return sqlError('CR_CONN_HOST_ERROR', err.hostId, err.reason);
        return sqlError('CR_CONN_HOST_ERROR', this.ctx.cluster().dataHost, (err as Error).message);
      }
    }
    try {
      await held.conn.initDb(schema);
      this.state!.schema = schema;
      this.backends.finishStatement(held, this.inScope());
      return undefined;
    } catch (err) {
      if (err instanceof BackendSqlError) {
        this.backends.finishStatement(held, this.inScope());
        return new SqlError(err.message, err.errno, err.sqlState);
      }
      this.backends.forget(held);
      held.pools.discard(held.conn);
      return sqlError('CR_SERVER_LOST', held.conn.hostId);
    }
  }

  /** COM_CHANGE_USER: the same per-user plugin checks as a login, then a fresh session. */
  private async changeUser(cmd: Extract<ClientCommand, { type: 'change-user' }>): Promise<void> {
    const client = this.client!;
    const verdict = await verifyChangeUser(this.ch, cmd, {
      scramble: client.scramble,
      users: this.ctx.config().users,
      remoteAddress: this.remoteAddress,
      security: this.ctx.security,
    });
    if (verdict.status === 'gone') return;
    if (verdict.status === 'denied') {
      this.ch.send(encodeErrFor(verdict.error), verdict.nextSeq & 0xff);
      this.killed = true; // the server closes the connection after a failed COM_CHANGE_USER
      return;
    }
    this.cursors.clear(); // their connections are reset below
    await this.backends.releaseAll(true, this.inScope());
    this.statements.clear();
    const charset = cmd.charset ?? client.charset;
    this.client = { ...client, user: verdict.user, charset };
    this.state = newSessionState(this.id, charset, this.state!.multiStatements, this.ctx.serverSqlModeUnmodelled());
    if (cmd.database) {
      const err = await this.changeSchema(cmd.database);
      if (err) {
        this.ch.send(encodeErrFor(err), verdict.nextSeq & 0xff);
        return;
      }
    }
    this.ch.send(this.okPayload(), verdict.nextSeq & 0xff);
  }

  /** KILL [CONNECTION | QUERY] id, with the proxy's connection ids. */
  private async kill(targetId: number, queryOnly: boolean): Promise<void> {
    const target = this.ctx.session(targetId);
    if (!target) {
      this.ch.send(encodeErrFor(sqlError('ER_NO_SUCH_THREAD', targetId)), 1);
      return;
    }
    if (target.user !== this.user) {
      this.ch.send(encodeErrFor(sqlError('ER_KILL_DENIED_ERROR', targetId)), 1);
      return;
    }
    await target.interrupt(queryOnly, this.poolKey());
    if (target === this && !queryOnly) {
      this.ch.send(encodeErrFor(sqlError('ER_CONNECTION_KILLED')), 1);
      return;
    }
    this.ch.send(this.okPayload(), 1);
  }

  /** Closes the client connection (proxy shutdown, KILL from the admin port). */
  terminate(): void {
    this.killed = true;
    this.ch.destroy();
  }

  /** Called by another session's KILL. */
  async interrupt(queryOnly: boolean, key: PoolKey): Promise<void> {
    const active = this.active;
    if (active) {
      const pools = this.ctx.pools(active.hostId);
      if (pools) {
        try {
          const killer = await pools.connectDirect(key);
          try {
            await killer.query(`KILL ${queryOnly ? 'QUERY' : 'CONNECTION'} ${active.threadId}`);
          } finally {
            killer.quit();
          }
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'could not kill the backend thread');
        }
      }
    }
    if (!queryOnly) {
      this.killed = true;
      if (!active) this.ch.close();
    }
  }

  // ---------------------------------------------------------------------------------------------

  private get deprecateEof(): boolean {
    return (this.client!.capabilities & Capability.DEPRECATE_EOF) !== 0;
  }

  private statusFlags(): number {
    const s = this.state;
    let flags = 0;
    if (!s || s.autocommit) flags |= ServerStatus.AUTOCOMMIT;
    if (s?.inTransaction) flags |= ServerStatus.IN_TRANS;
    return flags;
  }

  private okPayload(): Buffer {
    return encodeOk({ statusFlags: this.statusFlags() }, this.client?.capabilities ?? 0);
  }

  private replyError(err: unknown): void {
    this.ctx.stats.errors++;
    if (err instanceof SqlError) {
      this.ch.send(encodeErrFor(err), 1);
      return;
    }
    if (err instanceof HostUnavailable) {
      this.ch.send(encodeErrFor(sqlError('CR_CONN_HOST_ERROR', err.hostId, err.reason)), 1);
      return;
    }
    // Internal errors never reach the client verbatim (DESIGN §6).
    this.log.error({ err }, 'internal error while serving a command');
    this.ch.send(encodeErrFor(sqlError('ER_UNKNOWN_ERROR')), 1);
  }

  private async cleanup(): Promise<void> {
    this.busy = true; // the sweeper keeps out
    const active = this.active;
    if (active) {
      // The client left mid-statement: that connection's state is unknown.
      active.destroy();
    }
    await this.backends.releaseAll(false, this.inScope());
    this.ch.close();
  }
}

/**
 * COM_QUERY for a statement whose Mycat hint was stripped: the client's own bytes minus the hint
 * (so a latin1 / GBK client's text is not re-encoded), or the UTF-8 text when they cannot be cut.
 */
function forwardedQuery(c: Classification, sql: string, raw: Buffer): Buffer {
  const bytes = c.strippedRanges !== undefined ? stripMycatBytes(raw, sql, c.strippedRanges) : undefined;
  return bytes !== undefined ? encodeQuery(bytes) : encodeQuery(c.forwardSql!);
}

/** A command whose bytes do not depend on the backend connection. */
interface FixedCommand {
  readonly payload: Buffer;
  /** The client's own framing of `payload` (sequence 0), forwarded without a copy. */
  readonly frame: Buffer | undefined;
}

/** Fixed bytes, or a payload built for the chosen connection (prepared statements). */
type CommandSource = FixedCommand | ((conn: BackendConnection) => Promise<Buffer>);

/** COM_STMT_EXECUTE flag: open a read-only cursor (COM_STMT_FETCH). */
const CURSOR_TYPE_READ_ONLY = 1;

/** ER_STMT_HAS_NO_OPEN_CURSOR: COM_STMT_FETCH on a statement without an open cursor. */
const ER_STMT_HAS_NO_OPEN_CURSOR = 1421;

/** ER_OPTION_PREVENTS_STATEMENT: what the router answers for a write to a read-only writeHost. */
const ER_OPTION_PREVENTS_STATEMENT = 1290;

/** A session's transaction outlived its writeHost (see checkWriterUnchanged). */
const WRITER_CHANGED = new SqlError(
  'Connection was killed: the writeHost changed during this transaction (failover); it was rolled back — start it again',
  1927,
  '70100',
);

/** `KILL [CONNECTION | QUERY] <id>` — the id is the proxy's, translated per backend. */
function parseKill(sql: string): { id: number; queryOnly: boolean } | undefined {
  const m = /^\s*KILL\s+(?:(CONNECTION|QUERY)\s+)?(\d+)\s*;?\s*$/i.exec(sql);
  if (!m) return undefined;
  return { id: Number(m[2]), queryOnly: (m[1] ?? '').toUpperCase() === 'QUERY' };
}

/** Commands that carry no SQL: NEUTRAL goes wherever the session is (writer), READ like a read. */
const NEUTRAL = plainClassification('other');
const READ = plainClassification('read');
