/**
 * One client connection: authenticate, then answer commands one at a time.
 *
 * This file is the session loop: it reads a command and hands it to the module that owns it —
 * text statements and backend-answered commands to the statement runner (route, borrow with
 * retry, relay, observe), COM_STMT_* to prepared-commands, and what the proxy answers itself
 * (schema, change user, reset, KILL) to local-commands. All of them share one SessionScope.
 */
import type { Logger } from 'pino';
import { Capability } from '../protocol/constants.js';
import { decodeCommand, encodeQuery, type ClientCommand } from '../protocol/commands.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { classify } from '../routing/classify.js';
import { plainClassification } from '../routing/classification.js';
import { stripMycatBytes } from '../routing/hints.js';
import type { Classification } from '../routing/types.js';
import { rewriteConnectionId, rewritesConnectionId } from '../routing/connection-id.js';
import type { PoolKey } from '../backend/host-pools.js';
import type { ResponseShape } from '../backend/response-scanner.js';
import type { ClientChannel } from './client-channel.js';
import { HostUnavailable } from './session-connections.js';
import { AuthFailed, authenticate, encodeErrFor } from './authenticate.js';
import { newSessionState } from './session-state.js';
import { formatPosition } from '../cluster/gtid.js';
import type { KillTarget, SessionContext } from './session-context.js';
import { SessionScope } from './session-scope.js';
import { ResultInterrupted, StatementRunner } from './statement-runner.js';
import { PreparedCommands } from './prepared-commands.js';
import { LocalCommands, parseKill } from './local-commands.js';
import { killsInMultiStatement } from '../routing/multi-kill.js';
import type { Sweepable } from './idle-sweeper.js';
import type { PendingHandshake } from './edge-admission.js';

export type { SessionContext } from './session-context.js';

export class Session implements KillTarget, Sweepable {
  readonly connectedAt = Date.now();
  private readonly scope: SessionScope;
  private readonly runner: StatementRunner;
  private readonly prepared: PreparedCommands;
  private readonly local: LocalCommands;
  /** When the last command finished (ms, Date.now()); the sweeper releases idle connections. */
  private idleSince = 0;
  /** Login or a command is running: the sweeper must not touch the connections. */
  private busy = true;
  /** The user this session's login was counted for (ConnectionLimits.close at its end). */
  countedUser: string | undefined;
  /** Closes the client after the session's own wait_timeout of idleness (armWaitTimeout). */
  private waitTimer: NodeJS.Timeout | undefined;
  /**
   * Closes the client after session.idleTimeoutMs without a command (armIdleTimeout). Made once
   * and re-armed with refresh() when a command ends: no allocation per statement. It may fire
   * while a command runs or after a reload changed the setting; idleTimedOut checks.
   */
  private idleTimer: NodeJS.Timeout | undefined;
  private idleTimerMs = 0;

  /** `handshake`: the limits the login is held to (timeout, failed-login delay); absent in unit uses. */
  constructor(
    id: number,
    ch: ClientChannel,
    ctx: SessionContext,
    log: Logger,
    private readonly handshake?: PendingHandshake,
  ) {
    const remote = ch.socket.remoteAddress ?? 'unknown';
    this.scope = new SessionScope(id, ch, ctx, log.child({ conn: id, client: remote }));
    handshake?.attach(ch, () => this.terminate());
    this.runner = new StatementRunner(this.scope);
    this.prepared = new PreparedCommands(this.scope, this.runner);
    this.local = new LocalCommands(this.scope, this.runner, this.prepared);
  }

  get id(): number {
    return this.scope.id;
  }

  get remoteAddress(): string {
    return this.scope.remoteAddress;
  }

  get user(): string | undefined {
    return this.scope.client?.user.name;
  }

  /** Text of the statement running now, for SHOW @@CONNECTION. */
  get currentSql(): string | undefined {
    return this.scope.currentSql;
  }

  /**
   * Where the session's open transaction or pinned state lives (admin SHOW @@CONNECTION: who is
   * still holding a host being drained); undefined when the session holds nothing there.
   */
  get transactionHost(): string | undefined {
    return this.scope.inScope() ? this.scope.backends.anchorHostId() : undefined;
  }

  /** Hosts this session holds a backend connection to right now. */
  get heldHosts(): readonly string[] {
    return this.scope.backends.heldHosts();
  }

  get schema(): string | undefined {
    return this.scope.state?.schema;
  }

  /** GTIDs of the session's commits (what its reads must see), for SHOW @@CONNECTION. */
  get lastGtid(): string | undefined {
    const p = this.scope.state?.writePosition;
    return p !== undefined && p.size > 0 ? formatPosition(p) : undefined;
  }

  /** Runs the connection to its end. Never throws. */
  async run(): Promise<void> {
    const scope = this.scope;
    const { ch, ctx } = scope;
    const handshake = this.handshake;
    try {
      let client;
      try {
        client = await authenticate(ch, {
          connectionId: scope.id,
          serverVersion: ctx.serverVersion(),
          users: ctx.config().users,
          remoteAddress: scope.remoteAddress,
          security: ctx.security,
          mariadbCapabilities: ctx.mariadbCapabilities(),
          ...(handshake ? { settle: (user: string, granted: boolean) => handshake.settle(user, granted) } : {}),
        });
      } catch (err) {
        handshake?.end(err);
        throw err;
      }
      handshake?.end();
      if (!client) return;
      scope.client = client;
      const limit = client.user.maxConnections ?? 0;
      if (!(await ctx.limits.login(client.user.name, limit))) {
        ch.send(
          encodeErrFor(sqlError('ER_USER_LIMIT_REACHED', client.user.name, 'max_user_connections', limit)),
          (client.lastSeq + 1) & 0xff,
        );
        return;
      }
      this.countedUser = client.user.name;
      const multi = (client.capabilities & Capability.MULTI_STATEMENTS) !== 0;
      scope.state = newSessionState(scope.id, client.charset, multi, ctx.serverSqlModeUnmodelled());
      if (client.database !== undefined) {
        const err = await this.local.changeSchema(client.database);
        if (err) {
          ch.send(encodeErrFor(err), (client.lastSeq + 1) & 0xff);
          return;
        }
      }
      ch.send(scope.okPayload(), (client.lastSeq + 1) & 0xff);
      // Compression starts after this OK (the OK itself is plain), in both directions.
      if (client.capabilities & Capability.COMPRESS) ch.startCompression();
      scope.log.debug({ user: client.user.name }, 'client authenticated');
      this.becameIdle();
      await this.commandLoop();
    } catch (err) {
      if (!(err instanceof AuthFailed)) scope.log.error({ err }, 'session failed');
      else scope.log.info({ reason: err.message }, 'authentication failed');
    } finally {
      await this.cleanup();
    }
  }

  private async commandLoop(): Promise<void> {
    const { ch, log } = this.scope;
    for (;;) {
      const packet = await ch.next();
      if (!packet) break;
      if (packet.seq !== 0) {
        log.warn({ seq: packet.seq }, 'command packet with non-zero sequence id; closing');
        break;
      }
      let cmd: ClientCommand;
      try {
        cmd = decodeCommand(packet.payload, this.scope.authed.capabilities);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'malformed command packet; closing');
        break;
      }
      if (cmd.type === 'quit') break;
      if (this.scope.inScope()) this.runner.journal.command(cmd.type);
      this.busy = true;
      clearTimeout(this.waitTimer);
      try {
        const running = this.dispatch(cmd, packet.payload, packet.frame);
        if (running !== undefined) await running;
      } catch (err) {
        // Nothing was sent anywhere (no connection could be had): after a new writeHost
        // took over, the command runs there once, as if it had arrived then.
        if (await this.runner.awaitReplacedWriter(err)) {
          try {
            const again = this.dispatch(cmd, packet.payload, packet.frame);
            if (again !== undefined) await again;
          } catch (err2) {
            this.replyError(err2);
          }
        } else this.replyError(err);
      } finally {
        this.becameIdle();
        this.armWaitTimeout();
      }
      if (this.scope.killed || ch.closed) break;
    }
    const bad = ch.protocolError;
    if (bad) {
      log.warn({ err: bad.message }, 'bad packet from client; closing');
      // Like the server: say why before closing (the client reports 1153, not a bare 2013).
      if ((bad as { code?: string }).code === 'packet-too-large') {
        ch.send(encodeErrFor(sqlError('ER_NET_PACKET_TOO_LARGE')), 1);
      }
    }
  }

  /**
   * `frame` is the client's packet as received (header included) when it can be forwarded as is.
   * Returns the command's own promise (no async wrapper of its own: one promise less per
   * statement), or nothing when the command was answered at once.
   */
  private dispatch(cmd: ClientCommand, payload: Buffer, frame: Buffer | undefined): Promise<void> | void {
    switch (cmd.type) {
      case 'query':
        return this.query(cmd.sql, cmd.raw, payload, frame);
      case 'init-db':
        return this.local.initDb(cmd.schema);
      case 'ping':
        this.scope.ch.send(this.scope.okPayload(), 1);
        return;
      case 'field-list':
        return this.forward(READ, payload, 'field-list');
      case 'statistics':
        return this.forward(NEUTRAL, payload, 'single');
      case 'set-option':
        return this.local.setOption(cmd.option);
      case 'reset-connection':
        return this.local.resetConnection();
      case 'change-user':
        return this.local.changeUser(cmd);
      case 'process-kill':
        return this.local.kill(cmd.connectionId, false);
      case 'stmt-prepare':
        return this.prepared.prepare(cmd.sql);
      case 'stmt-execute':
        return this.prepared.execute(cmd.statementId, cmd.flags, cmd.iterationCount, cmd.body);
      case 'stmt-send-long-data':
        return this.prepared.longData(cmd.statementId, cmd.paramId, cmd.data); // no response
      case 'stmt-close':
        return this.prepared.close(cmd.statementId); // no response
      case 'stmt-reset':
        return this.prepared.reset(cmd.statementId);
      case 'stmt-fetch':
        return this.prepared.fetch(cmd.statementId, cmd.numRows);
      case 'stmt-bulk-execute':
        return this.prepared.bulkExecute(cmd);
      default:
        this.scope.ch.send(encodeErrFor(sqlError('ER_UNKNOWN_COM_ERROR')), 1);
        return;
    }
  }

  /** COM_QUERY */
  private async query(sql: string, raw: Buffer, payload: Buffer, frame: Buffer | undefined): Promise<void> {
    const c = classify(sql);
    if (c.verb === 'KILL') {
      const kill = parseKill(sql, this.scope.id);
      if (kill) return this.local.kill(kill.id, kill.queryOnly);
    }
    if (c.multiStatement && c.statements?.some((s) => s.verb === 'KILL')) {
      const mk = killsInMultiStatement(sql);
      if (mk) {
        // The proxy's ids: the session runs these KILLs, the backend gets DO 0 in their place.
        // As on the server, a failing KILL ends the multi-statement with its error.
        if (!raw.equals(Buffer.from(sql, 'utf8'))) throw sqlError('ER_NOT_SUPPORTED_YET', 'KILL in a multi-statement of non-UTF-8 text');
        for (const k of mk.kills) {
          const err = await this.local.killTarget(k.id, k.queryOnly);
          if (err) throw err;
        }
        return this.runner.run(await this.runner.decide(c), c, 'query', { payload: encodeQuery(mk.forwardSql), frame: undefined });
      }
    }
    const decided = this.runner.decide(c);
    const decision = decided instanceof Promise ? await decided : decided;
    this.scope.currentSql = sql;
    try {
      const source = rewritesConnectionId(c)
        ? { payload: connectionIdQuery(c, sql, raw, payload, this.scope.id), frame: undefined }
        : c.forwardSql !== undefined
          ? { payload: forwardedQuery(c, sql, raw), frame: undefined }
          : { payload, frame };
      await this.runner.run(decision, c, 'query', source);
    } finally {
      this.scope.currentSql = undefined;
    }
  }

  /** A non-statement command answered by a backend (COM_FIELD_LIST, COM_STATISTICS). */
  private forward(c: Classification, payload: Buffer, shape: ResponseShape): Promise<void> {
    return this.runner.run(this.runner.decideNow(c), NEUTRAL, shape, { payload, frame: undefined });
  }

  /**
   * A session that set its own wait_timeout is closed after that many idle seconds, as the
   * server would close it (the server's timeout only reaches the pooled backend connections,
   * which the proxy replaces silently). The server-wide default stays the server's business:
   * only an explicit SET in this session arms it.
   */
  private armWaitTimeout(): void {
    const value = this.scope.state?.vars.get('wait_timeout');
    if (value === undefined) return;
    const seconds = Number(value);
    if (!Number.isFinite(seconds) || seconds <= 0) return;
    this.waitTimer = setTimeout(() => {
      this.scope.log.info({ waitTimeout: seconds }, 'client idle longer than its wait_timeout; closing');
      this.scope.ctx.stats.clientTimeouts['wait-timeout']++;
      this.scope.killed = true;
      this.scope.ch.close();
    }, seconds * 1000);
    this.waitTimer.unref();
  }

  /** A command (or the login) finished: what the session keeps goes back after holdConnectionMs. */
  private becameIdle(): void {
    this.busy = false;
    this.idleSince = Date.now();
    if (this.scope.backends.keepsReleasable()) this.scope.ctx.idleSweeper?.watch(this, this.idleSince);
    this.armIdleTimeout(this.scope.ctx.config().session.idleTimeoutMs);
  }

  /** (Re)starts the idle clock: `ms` from now (0: off). */
  private armIdleTimeout(ms: number): void {
    if (ms <= 0) return; // a timer armed before a reload turned it off fires once and does nothing
    if (this.idleTimer !== undefined && this.idleTimerMs === ms) {
      this.idleTimer.refresh();
      return;
    }
    clearTimeout(this.idleTimer);
    this.idleTimerMs = ms;
    this.idleTimer = setTimeout(this.idleTimedOut, ms);
    this.idleTimer.unref();
  }

  /**
   * session.idleTimeoutMs without a command: the client is closed, and cleanup() gives back what
   * it held — an open transaction's connection is reset (rolled back) first, never handed on as is.
   */
  private readonly idleTimedOut = (): void => {
    const scope = this.scope;
    if (this.busy || scope.ch.closed) return; // a command runs: its end re-arms the clock
    const ms = scope.ctx.config().session.idleTimeoutMs;
    if (ms <= 0) return;
    const idleMs = Date.now() - this.idleSince;
    if (idleMs < ms) {
      // A reload lengthened it while this session was idle: wait for the rest.
      clearTimeout(this.idleTimer);
      this.idleTimerMs = 0;
      this.idleTimer = setTimeout(this.idleTimedOut, ms - idleMs);
      this.idleTimer.unref();
      return;
    }
    scope.log.info({ idleTimeoutMs: ms, inTransaction: scope.state?.inTransaction ?? false }, 'client idle longer than session.idleTimeoutMs; closing');
    scope.ctx.stats.clientTimeouts.idle++;
    scope.killed = true;
    scope.ch.close();
  };

  /** Called by the server's sweeper once the session has been idle for holdConnectionMs. */
  sweep(now: number): void {
    if (!this.busy) this.scope.backends.sweep(now, this.idleSince);
  }

  /** Closes the client connection (proxy shutdown, KILL from the admin port). */
  terminate(): void {
    this.scope.killed = true;
    this.scope.ch.destroy();
  }

  /** KILL from a session of another worker process: the backend KILL uses this session's account. */
  interruptFromElsewhere(queryOnly: boolean): Promise<void> {
    return this.interrupt(queryOnly, this.scope.poolKey());
  }

  /** Called by another session's KILL. */
  async interrupt(queryOnly: boolean, key: PoolKey): Promise<void> {
    const scope = this.scope;
    const active = scope.active;
    if (active) {
      const pools = scope.ctx.pools(active.hostId);
      if (pools) {
        try {
          const killer = await pools.connectDirect(key);
          try {
            await killer.query(`KILL ${queryOnly ? 'QUERY' : 'CONNECTION'} ${active.threadId}`);
          } finally {
            killer.quit();
          }
        } catch (err) {
          scope.log.warn({ err: (err as Error).message }, 'could not kill the backend thread');
        }
      }
    }
    if (!queryOnly) {
      scope.killed = true;
      if (!active) scope.ch.close();
    }
  }

  private replyError(err: unknown): void {
    const { ch, ctx, log } = this.scope;
    if (err instanceof ResultInterrupted) return; // the client connection is already closed
    ctx.stats.errors++;
    if (err instanceof SqlError) {
      ch.send(encodeErrFor(err), 1);
      return;
    }
    if (err instanceof HostUnavailable) {
      ch.send(encodeErrFor(sqlError('CR_CONN_HOST_ERROR', err.hostId, err.reason)), 1);
      return;
    }
    // Internal errors never reach the client verbatim (DESIGN §6).
    log.error({ err }, 'internal error while serving a command');
    ch.send(encodeErrFor(sqlError('ER_UNKNOWN_ERROR')), 1);
  }

  private async cleanup(): Promise<void> {
    this.busy = true; // the sweeper keeps out
    clearTimeout(this.waitTimer);
    clearTimeout(this.idleTimer);
    const scope = this.scope;
    // The client left mid-statement: that connection's state is unknown.
    scope.active?.destroy();
    await scope.backends.releaseAll(false, scope.inScope());
    scope.ch.close();
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

/**
 * COM_QUERY with CONNECTION_ID() answered by the session's id. The rewrite works on the text, so
 * it is only sent when the client's bytes are that text's UTF-8 (any ASCII statement, whatever
 * the charset); otherwise the statement goes unchanged rather than with re-encoded literals.
 */
function connectionIdQuery(c: Classification, sql: string, raw: Buffer, payload: Buffer, id: number): Buffer {
  if (c.forwardSql !== undefined) return encodeQuery(rewriteConnectionId(c.forwardSql, id));
  if (!raw.equals(Buffer.from(sql, 'utf8'))) return payload;
  return encodeQuery(rewriteConnectionId(sql, id));
}

/** Commands that carry no SQL: NEUTRAL goes wherever the session is (writer), READ like a read. */
const NEUTRAL = plainClassification('other');
const READ = plainClassification('read');
