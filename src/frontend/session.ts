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
import { decodeCommand, encodeQuery, type ClientCommand } from '../protocol/commands.js';
import { encodePacket, physicalPacketCount } from '../protocol/framer.js';
import { encodeEof, encodeOk } from '../protocol/responses.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { storedNativeHash, verifyNativePassword } from '../protocol/auth.js';
import { encodeAuthSwitchRequest } from '../protocol/handshake.js';
import { classify, plainClassification } from '../routing/classify.js';
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
import { AuthFailed, authenticate, encodeErrFor, type AuthenticatedClient } from './authenticate.js';
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
  readonly config: SluiceConfig;
  cluster(): ClusterView;
  pools(hostId: string): HostPools | undefined;
  readonly selector: Selector;
  /** Other sessions by proxy connection id (KILL). */
  session(id: number): Session | undefined;
  serverVersion(): string;
  readonly stats: SessionStats;
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
    },
  };
}

const NO_PINS: readonly PinReason[] = [];

const NATIVE = 'mysql_native_password';

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

  get schema(): string | undefined {
    return this.state?.schema;
  }

  /** Runs the connection to its end. Never throws. */
  async run(): Promise<void> {
    try {
      const client = await authenticate(this.ch, {
        connectionId: this.id,
        serverVersion: this.ctx.serverVersion(),
        users: this.ctx.config.users,
        remoteAddress: this.remoteAddress,
      });
      if (!client) return;
      this.client = client;
      const multi = (client.capabilities & Capability.MULTI_STATEMENTS) !== 0;
      this.state = newSessionState(this.id, client.charset, multi);
      if (client.database !== undefined) {
        const err = await this.changeSchema(client.database);
        if (err) {
          this.ch.send(encodeErrFor(err), (client.lastSeq + 1) & 0xff);
          return;
        }
      }
      this.ch.send(this.okPayload(), (client.lastSeq + 1) & 0xff);
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
        return this.query(cmd.sql, payload, frame);
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
        await this.backends.releaseAll(true, this.inScope());
        recordReset(this.state!, this.client!.charset);
        this.ch.send(this.okPayload(), 1);
        return;
      case 'change-user':
        return this.changeUser(cmd);
      case 'process-kill':
        return this.kill(cmd.connectionId, false);
      case 'stmt-close':
      case 'stmt-send-long-data':
        return; // these commands have no response
      default:
        this.ch.send(encodeErrFor(sqlError('ER_UNKNOWN_COM_ERROR')), 1);
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Statements

  private async query(sql: string, payload: Buffer, frame: Buffer | undefined): Promise<void> {
    const c = classify(sql);
    if (c.verb === 'KILL') {
      const kill = parseKill(sql);
      if (kill) return this.kill(kill.id, kill.queryOnly);
    }
    const decision = route(c, this.routeState(), this.ctx.cluster());
    this.currentSql = sql;
    try {
      if (c.forwardSql !== undefined) await this.execute(decision, c, encodeQuery(c.forwardSql), 'query', undefined);
      else await this.execute(decision, c, payload, 'query', frame);
    } finally {
      this.currentSql = undefined;
    }
  }

  /** Runs a non-statement command that is answered by a backend (COM_FIELD_LIST, COM_STATISTICS). */
  private forward(decision: RouteDecision, payload: Buffer, shape: ResponseShape): Promise<void> {
    return this.execute(decision, NEUTRAL, payload, shape, undefined);
  }

  private readDecision(): RouteDecision {
    return route(READ, this.routeState(), this.ctx.cluster());
  }

  private writerDecision(): RouteDecision {
    return route(NEUTRAL, this.routeState(), this.ctx.cluster());
  }

  /**
   * Runs one command on the backend the decision names and relays the answer. `payload` is the
   * command unframed; `frame`, when given, is the same command already framed with sequence 0.
   */
  private async execute(
    decision: RouteDecision,
    c: Classification,
    payload: Buffer,
    shape: ResponseShape,
    frame: Buffer | undefined,
  ): Promise<void> {
    const stats = this.ctx.stats;
    const command = frame ?? encodePacket(payload, 0);
    // A command over 16 MiB travels as several packets; the reply continues their sequence.
    const firstReplySeq = physicalPacketCount(payload.length) & 0xff;
    stats.statements++;
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
      const { conn } = held;
      this.active = conn;
      try {
        const state = this.state!;
        const needs = { userVars: c.readsUserVariables, lastInsertId: c.readsLastInsertId };
        if (!inSync(conn, state, needs)) await syncConnection(conn, state, needs);
        const summary = await conn.relay(command, shape, this.ch.socket, firstReplySeq);
        this.active = undefined;
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

  private routeState(): SessionRouteState {
    return routeState(this.state!, this.backends.holdsLast(), Date.now(), this.ctx.config.session.readYourWritesMs);
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

  private async changeUser(cmd: Extract<ClientCommand, { type: 'change-user' }>): Promise<void> {
    const client = this.client!;
    let token = cmd.authResponse;
    let seq = 1;
    if (cmd.authPluginName !== undefined && cmd.authPluginName !== NATIVE) {
      this.ch.send(encodeAuthSwitchRequest(NATIVE, Buffer.concat([client.scramble, Buffer.from([0])])), seq);
      const reply = await this.ch.next();
      if (!reply) return;
      token = reply.payload;
      seq = reply.lastSeq + 1;
    }
    const user = this.ctx.config.users.find((u) => u.name === cmd.user);
    if (!user || !verifyNativePassword(client.scramble, token, storedNativeHash(user.password))) {
      this.ch.send(
        encodeErrFor(sqlError('ER_ACCESS_DENIED_ERROR', cmd.user, this.remoteAddress, token.length > 0 ? 'YES' : 'NO')),
        seq & 0xff,
      );
      this.killed = true; // the server closes the connection after a failed COM_CHANGE_USER
      return;
    }
    await this.backends.releaseAll(true, this.inScope());
    const charset = cmd.charset ?? client.charset;
    this.client = { ...client, user, charset };
    this.state = newSessionState(this.id, charset, this.state!.multiStatements);
    if (cmd.database) {
      const err = await this.changeSchema(cmd.database);
      if (err) {
        this.ch.send(encodeErrFor(err), seq & 0xff);
        return;
      }
    }
    this.ch.send(this.okPayload(), seq & 0xff);
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

/** `KILL [CONNECTION | QUERY] <id>` — the id is the proxy's, translated per backend. */
function parseKill(sql: string): { id: number; queryOnly: boolean } | undefined {
  const m = /^\s*KILL\s+(?:(CONNECTION|QUERY)\s+)?(\d+)\s*;?\s*$/i.exec(sql);
  if (!m) return undefined;
  return { id: Number(m[2]), queryOnly: (m[1] ?? '').toUpperCase() === 'QUERY' };
}

/** Commands that carry no SQL: NEUTRAL goes wherever the session is (writer), READ like a read. */
const NEUTRAL = plainClassification('other');
const READ = plainClassification('read');
