/**
 * One client connection: authenticate, then answer commands one at a time.
 *
 * For each statement: classify (routing/), decide (routing/router — pure), borrow or reuse a
 * backend connection (backend/), bring it to the session's state, relay the backend's answer as
 * raw bytes, then record what the answer changed (session-state). The session holds at most one
 * backend connection between statements — the one its last statement ran on — so that a
 * transaction, a temporary table or `SHOW WARNINGS` sees the same server thread. While the client
 * is active it also keeps one connection per host it used, so alternating reads cost no pool
 * round trip; those go back to the pools once the client has been idle for holdConnectionMs, and
 * before the session would ever wait for a pool — so two sessions never wait on each other.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from '../config/types.js';
import type { ClusterView, HostView } from '../cluster/view.js';
import { Capability, ServerStatus } from '../protocol/constants.js';
import { decodeCommand, encodeQuery, type ClientCommand } from '../protocol/commands.js';
import { encodePacket, physicalPacketCount } from '../protocol/framer.js';
import { encodeEof, encodeOk } from '../protocol/responses.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { storedNativeHash, verifyNativePassword } from '../protocol/auth.js';
import { encodeAuthSwitchRequest } from '../protocol/handshake.js';
import { classify } from '../routing/classify.js';
import { route } from '../routing/router.js';
import type { Classification, RouteDecision } from '../routing/types.js';
import type { Selector } from '../backend/selectors.js';
import type { HostPools } from '../backend/host-pools.js';
import {
  BackendConnection,
  BackendGoneError,
  BackendSqlError,
  WIRE_FORMAT_CAPABILITIES,
} from '../backend/backend-connection.js';
import { inSync, syncConnection } from '../backend/session-sync.js';
import type { ResponseShape, ResponseSummary } from '../backend/response-scanner.js';
import { ClientChannel } from './client-channel.js';
import { AuthFailed, authenticate, encodeErrFor, type AuthenticatedClient } from './authenticate.js';
import {
  dirtiesConnection,
  inTransactionScope,
  isPinned,
  newSessionState,
  recordReset,
  recordStatement,
  routeState,
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
}

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
  /**
   * Backend connections this session keeps between statements, at most one per host (see the
   * file comment). An active client alternating between readHosts reuses them instead of
   * borrowing from the pools for every statement.
   */
  private readonly conns = new Map<string, HeldConnection>();
  /** The connection that ran the previous statement (SHOW WARNINGS, ROW_COUNT() …). */
  private last: HeldConnection | undefined;
  /**
   * The connection an open transaction or pinned state lives on: never given back while that
   * lasts (it is also in `conns`).
   */
  private anchor: HeldConnection | undefined;
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
        await this.releaseAll(true);
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
    const decision = route(c, routeState(this.state!, this.holdsLast()), this.ctx.cluster());
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
    return route(READ, routeState(this.state!, this.holdsLast()), this.ctx.cluster());
  }

  private writerDecision(): RouteDecision {
    return route(NEUTRAL, routeState(this.state!, this.holdsLast()), this.ctx.cluster());
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
        const target = this.resolve(decision, c.digest, excluded);
        held = 'conn' in target ? target : await this.borrow(target);
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
          this.finishStatement(held);
          throw new SqlError(err.message, err.errno, err.sqlState);
        }
        this.forget(held);
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
      recordStatement(s, c, { statusFlags: summary.statusFlags, lastInsertId: summary.lastInsertId });
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
    this.finishStatement(held);
  }

  /**
   * After a statement on `held`: it becomes the last connection; it anchors the session while a
   * transaction or pinned state lives on it; the rest go back now (holdConnectionMs = 0) or when
   * the sweeper finds the session idle.
   */
  private finishStatement(held: HeldConnection): void {
    this.last = held;
    const s = this.state!;
    if (inTransactionScope(s) || isPinned(s)) this.anchor ??= held;
    else this.anchor = undefined;
    if (this.ctx.config.session.holdConnectionMs === 0) this.releaseIdle();
  }

  /** Called periodically by the server: gives back connections of a session idle long enough. */
  sweep(now: number): void {
    if (this.busy || this.conns.size === 0) return;
    if (now - this.idleSince >= this.ctx.config.session.holdConnectionMs) this.releaseIdle();
  }

  private holdsLast(): boolean {
    return this.last !== undefined && this.last.conn.alive;
  }

  /**
   * Finds the connection for a decision: the one this session keeps on that host (returned
   * without a promise: the hot path), else the host to borrow one from (see borrow()).
   */
  private resolve(decision: RouteDecision, digest: string, excluded: ReadonlySet<string> | undefined): HeldConnection | HostView {
    if (decision.target === 'last' && this.holdsLast()) return this.last!;
    const host = this.pickHost(decision, digest, excluded);
    const kept = this.conns.get(host.id);
    if (kept) {
      if (kept.conn.alive) return kept;
      this.forget(kept);
      kept.pools.discard(kept.conn);
    }
    return host;
  }

  /**
   * Borrows a connection to `host` from its pool and keeps it. Before it could wait for a pool,
   * the session gives back what it does not need, so it never waits while sitting on
   * connections another session may be waiting for.
   */
  private async borrow(host: HostView): Promise<HeldConnection> {
    const pools = this.ctx.pools(host.id);
    if (!pools) throw sqlError('CR_CONN_HOST_ERROR', host.id, 'unknown backend');
    const key = this.poolKey();
    if (pools.wouldWait(key)) this.releaseIdle();
    let conn: BackendConnection;
    try {
      conn = await pools.acquire(key);
    } catch (err) {
      this.log.warn({ backend: host.id, err: (err as Error).message }, 'cannot get a backend connection');
      throw new HostUnavailable(host.id, (err as Error).message);
    }
    const held: HeldConnection = { conn, pools };
    this.conns.set(host.id, held);
    return held;
  }

  /** resolve(), then borrow() when nothing is kept on that host. */
  private async lease(decision: RouteDecision, digest: string, excluded: ReadonlySet<string> | undefined): Promise<HeldConnection> {
    const target = this.resolve(decision, digest, excluded);
    return 'conn' in target ? target : this.borrow(target);
  }

  /** The host a writer/reader decision lands on (the selector picks among readers). */
  private pickHost(decision: RouteDecision, digest: string, excluded: ReadonlySet<string> | undefined): HostView {
    const view = this.ctx.cluster();
    let host: HostView | undefined;
    if (decision.target === 'reader') {
      const candidates = excluded === undefined ? decision.candidates : decision.candidates.filter((h) => !excluded.has(h.id));
      host =
        candidates.length === 0
          ? view.writer
          : this.ctx.selector.pick(candidates, digest, (id) => this.ctx.pools(id)?.stats().borrowed ?? 0);
    } else {
      // 'writer', and 'last' when nothing ran yet ('error' never reaches here)
      host = view.writer;
    }
    if (!host) throw sqlError('CR_CONN_HOST_ERROR', view.dataHost, 'no writeHost is available');
    return host;
  }

  private poolKey(): { wireCapabilities: number; charset: number } {
    return {
      wireCapabilities: (this.client!.capabilities & WIRE_FORMAT_CAPABILITIES) >>> 0,
      charset: this.client!.charset,
    };
  }

  /** Drops a connection from the session's books (it died or is being given back). */
  private forget(held: HeldConnection): void {
    if (this.conns.get(held.conn.hostId) === held) this.conns.delete(held.conn.hostId);
    if (this.last === held) this.last = undefined;
    if (this.anchor === held) this.anchor = undefined;
  }

  /** Gives back every kept connection except the anchor. */
  private releaseIdle(): void {
    for (const held of [...this.conns.values()]) {
      if (held !== this.anchor) void this.giveBack(held, false);
    }
  }

  /** Gives back every connection, the anchor too (reset, change user, end of session). */
  private async releaseAll(forceReset: boolean): Promise<void> {
    const inScope = this.state !== undefined && (inTransactionScope(this.state) || isPinned(this.state));
    await Promise.all(
      [...this.conns.values()].map((held) => this.giveBack(held, forceReset || (inScope && held === this.anchor))),
    );
  }

  /**
   * Returns a connection to its pool. One that carries state another session must not see
   * (temporary tables, locks, an open transaction, verbatim SETs) is reset first.
   */
  private async giveBack(held: HeldConnection, reset: boolean): Promise<void> {
    this.forget(held);
    const { conn, pools } = held;
    if (!conn.alive) {
      pools.discard(conn);
      return;
    }
    if (!reset && !conn.state.dirty) {
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
        held = await this.lease(decision, '', excluded);
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
      this.finishStatement(held);
      return undefined;
    } catch (err) {
      if (err instanceof BackendSqlError) {
        this.finishStatement(held);
        return new SqlError(err.message, err.errno, err.sqlState);
      }
      this.forget(held);
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
    await this.releaseAll(true);
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
  async interrupt(queryOnly: boolean, key: { wireCapabilities: number; charset: number }): Promise<void> {
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
    await this.releaseAll(false);
    this.ch.close();
  }
}

interface HeldConnection {
  readonly conn: BackendConnection;
  readonly pools: HostPools;
}

class HostUnavailable extends Error {
  override readonly name = 'HostUnavailable';
  constructor(
    readonly hostId: string,
    readonly reason: string,
  ) {
    super(`${hostId}: ${reason}`);
  }
}

/** `KILL [CONNECTION | QUERY] <id>` — the id is the proxy's, translated per backend. */
function parseKill(sql: string): { id: number; queryOnly: boolean } | undefined {
  const m = /^\s*KILL\s+(?:(CONNECTION|QUERY)\s+)?(\d+)\s*;?\s*$/i.exec(sql);
  if (!m) return undefined;
  return { id: Number(m[2]), queryOnly: (m[1] ?? '').toUpperCase() === 'QUERY' };
}

/** A classification for commands that carry no SQL: goes wherever the session is. */
const NEUTRAL: Classification = Object.freeze({
  kind: 'other',
  verb: '',
  digest: '',
  hint: undefined,
  forwardSql: undefined,
  readOnlyTransaction: false,
  needsWriter: false,
  needsLastConnection: false,
  readsLastInsertId: false,
  readsUserVariables: false,
  assignsUserVariables: false,
  acquiresNamedLock: false,
  releasesNamedLock: false,
  createsTemporaryTable: false,
  dropsTemporaryTable: false,
  multiStatement: false,
  assignments: [],
  schema: undefined,
  source: 'lexer',
});

const READ: Classification = Object.freeze({ ...NEUTRAL, kind: 'read' });
