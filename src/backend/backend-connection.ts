/**
 * One raw connection from the proxy to a backend MySQL/MariaDB server.
 *
 * It speaks the client side of the protocol through our own codec (not mysql2) because results
 * are relayed as raw bytes: the connection hands every chunk it reads to a ResponseScanner and
 * writes it straight to the client socket, pausing the backend socket while the client's buffer
 * is full (backpressure end to end). Internal commands (session-state replay, USE, KILL) are
 * read through a PacketDecoder instead.
 *
 * A connection runs one command at a time; the pool and the session guarantee that.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { Capability, Command } from '../protocol/constants.js';
import { PacketDecoder, encodePacket } from '../protocol/framer.js';
import {
  encodeChangeUser,
  encodeInitDb,
  encodeQuery,
  encodeSetOption,
  encodeSimpleCommand,
  encodeStmtClose,
  encodeStmtPrepare,
} from '../protocol/commands.js';
import { ResponseScanner, ScanError, type OkView, type ResponseShape, type ResponseSummary } from './response-scanner.js';
import { DISCARD_SINK, ResponseRelay } from './relay.js';
import { flavorOf, trackingSql, type GtidFlavor } from '../cluster/gtid.js';
import { wrapBackendTls, type BackendTlsOptions } from './backend-tls.js';
import {
  BackendGoneError,
  BackendSqlError,
  type ClientSink,
  type ConnectOptions,
  type ConnectionSessionState,
} from './backend-types.js';
import { authResponseFor, authStep, negotiate, type AuthProgress } from './backend-auth.js';
import { rowsFrom } from './internal-results.js';
import { PreparedCache, type PrepareTold, type PreparedOnBackend } from './prepared-cache.js';

const NO_WRITE_TIMEOUT = (): number => 0;

export * from './backend-types.js';
export type { PreparedOnBackend } from './prepared-cache.js';

let nextBackendSerial = 1;

export class BackendConnection {
  /** Proxy-side serial, for logs and SHOW @@BACKEND. */
  readonly serial = nextBackendSerial++;
  readonly host: string;
  readonly port: number;
  /** `host:port` */
  readonly hostId: string;
  readonly wireCapabilities: number;
  readonly charset: number;
  /** Thread id the server gave this connection (what CONNECTION_ID() returns). */
  threadId = 0;
  serverVersion = '';
  /** Capabilities in force on this connection (ours ∩ server's). */
  capabilities = 0;
  /** MariaDB extended capabilities in force (what the pool key asked for; 0 for MySQL). */
  readonly mariadbCapabilities: number;
  /** MariaDB extended capabilities the server's greeting offered (0 for MySQL). */
  serverMariadbCapabilities = 0;
  readonly createdAt = Date.now();
  lastUsedAt = Date.now();
  readonly state: ConnectionSessionState;
  /** MariaDB or MySQL (GTID syntax, wait function, tracking variable). */
  flavor: GtidFlavor = 'mysql';
  /**
   * Every commit's OK carries its GTID (session tracking set up on this connection). False when
   * the server cannot (no CLIENT_SESSION_TRACK, unknown variable) or a client statement changed
   * the tracked variables; then writes here are not causally tracked.
   */
  gtidTracking = false;

  /** The backend socket: the TLS socket once the handshake switched to TLS. */
  private socket: net.Socket;
  /** The connection runs over TLS. */
  secure = false;
  private readonly log: Logger;
  private closed = false;
  private closeReason: string | undefined;
  /** Where incoming bytes go: the decoder (internal commands) or the relay scanner. */
  private sink: ((chunk: Buffer) => void) | undefined;
  private onGone: ((err: Error) => void) | undefined;
  private busy = false;
  /** Account the connection logs in as, kept for COM_CHANGE_USER (clearSchema). */
  private readonly account: { readonly user: string; readonly password: string };
  /** session.writeTimeoutMs, read at each wait of the relay for a client. */
  private readonly writeTimeoutMs: () => number;
  /** The server's scramble from the greeting: COM_CHANGE_USER answers it. */
  private authSeed: Buffer = Buffer.alloc(0);

  private constructor(socket: net.Socket, opts: ConnectOptions) {
    this.socket = socket;
    this.account = { user: opts.user, password: opts.password };
    this.host = opts.host;
    this.port = opts.port;
    this.hostId = `${opts.host}:${opts.port}`;
    this.wireCapabilities = opts.wireCapabilities;
    this.charset = opts.charset;
    this.mariadbCapabilities = (opts.mariadbCapabilities ?? 0) >>> 0;
    this.log = opts.logger;
    this.writeTimeoutMs = opts.clientWriteTimeoutMs ?? NO_WRITE_TIMEOUT;
    this.state = {
      schema: undefined,
      charsetSql: '',
      vars: new Map(),
      userVars: new Map(),
      statements: new Map(),
      multiStatements: false,
      lastInsertIdSession: undefined,
      diagnosticsSession: undefined,
      dirty: false,
    };
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    this.wireSocket(socket);
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.sink) this.sink(chunk);
    else this.fail(`unsolicited ${chunk.length} bytes from backend`);
  };
  private readonly onSocketError = (err: Error): void => this.fail(err.message);
  private readonly onSocketClose = (): void => this.fail('connection closed by backend');

  private wireSocket(socket: net.Socket): void {
    socket.on('data', this.onSocketData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
  }

  /**
   * Switches to TLS after the SSLRequest was written: the TLS socket replaces the plain one for
   * good (relay and internal commands read and write it). Rejects when the TLS handshake or the
   * certificate check fails.
   */
  private async startTls(tlsOptions: BackendTlsOptions): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.onSocketData);
    plain.off('error', this.onSocketError);
    plain.off('close', this.onSocketClose);
    plain.on('error', () => undefined); // errors surface on the TLS socket
    const { socket, secure } = wrapBackendTls(plain, this.host, tlsOptions);
    this.socket = socket;
    this.wireSocket(socket);
    const gone = this.onGone;
    try {
      await new Promise<void>((resolve, reject) => {
        this.onGone = (err) => reject(new Error(`TLS to backend ${this.hostId} failed: ${err.message}`));
        secure.then(resolve, () => undefined);
      });
    } finally {
      if (!this.closed) this.onGone = gone;
    }
    this.secure = true;
  }

  /** Opens a connection and completes the handshake and authentication. */
  static async connect(opts: ConnectOptions): Promise<BackendConnection> {
    const socket = net.connect({ host: opts.host, port: opts.port });
    const conn = new BackendConnection(socket, opts);
    const timer = setTimeout(() => conn.fail(`connect timeout after ${opts.connectTimeoutMs} ms`), opts.connectTimeoutMs);
    try {
      await conn.handshake(opts);
      conn.flavor = flavorOf(conn.serverVersion);
      await conn.trackGtids();
      return conn;
    } catch (err) {
      conn.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return !this.closed;
  }

  get isBusy(): boolean {
    return this.busy;
  }

  /** The proxy's end of the socket (matches the backend's PROCESSLIST Host column). */
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** Why the connection closed, for logs. */
  get deathReason(): string | undefined {
    return this.closeReason;
  }

  destroy(): void {
    if (!this.closed) this.fail('destroyed by proxy');
    this.socket.destroy();
  }

  /** Sends COM_QUIT and closes; used when a pool retires an idle connection. */
  quit(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = 'quit';
    this.socket.end(encodePacket(encodeSimpleCommand(Command.QUIT), 0));
    this.socket.destroySoon();
  }

  private fail(reason: string): void {
    if (this.closed) {
      // Already failed; a late 'close' after 'error' needs no second report.
      return;
    }
    this.closed = true;
    this.closeReason = reason;
    this.socket.destroy();
    const gone = this.onGone;
    this.onGone = undefined;
    this.sink = undefined;
    gone?.(new Error(reason));
  }

  // ---------------------------------------------------------------------------------------------
  // Handshake

  private async handshake(opts: ConnectOptions): Promise<void> {
    const decoder = new PacketDecoder(16 * 1024 * 1024);
    const packets: Buffer[] = [];
    let lastSeq = 0;
    let waiter: (() => void) | undefined;
    let failure: Error | undefined;
    this.sink = (chunk) => {
      decoder.push(chunk);
      for (let p = decoder.next(); p; p = decoder.next()) {
        lastSeq = p.lastSeq;
        packets.push(p.payload);
      }
      waiter?.();
    };
    this.onGone = (err) => {
      failure = err;
      waiter?.();
    };
    const nextPacket = async (): Promise<Buffer> => {
      while (packets.length === 0) {
        if (failure) throw new BackendGoneError(failure.message, 0, false);
        await new Promise<void>((resolve) => (waiter = resolve));
        waiter = undefined;
      }
      return packets.shift()!;
    };
    const send = (payload: Buffer): void => {
      lastSeq = (lastSeq + 1) & 0xff;
      this.socket.write(encodePacket(payload, lastSeq));
    };
    const tls = opts.tls;
    const agreed = await negotiate(
      {
        next: nextPacket,
        send,
        startTls: tls ? () => this.startTls(tls) : undefined,
        secure: () => this.secure,
      },
      { ...opts, mariadbCapabilities: this.mariadbCapabilities },
    );
    this.threadId = agreed.threadId;
    this.authSeed = agreed.authSeed;
    this.serverVersion = agreed.serverVersion;
    this.capabilities = agreed.capabilities;
    this.serverMariadbCapabilities = agreed.serverMariadbCapabilities;
    this.state.charsetSql = `collation:${opts.charset}`;
    this.sink = undefined;
    this.onGone = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Relay: the hot path

  /**
   * Writes a client command (already framed) and streams the backend's response to `client`
   * as raw bytes. Resolves with what the response said (status flags, error, insert id).
   * Without a command it relays the response to what was already written (LOAD DATA LOCAL).
   */
  relay(
    command: Buffer | undefined,
    shape: ResponseShape,
    client: ClientSink,
    firstSeq: number,
    okView?: OkView,
    checksum = false,
  ): Promise<ResponseSummary> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, false));
    this.busy = true;
    const done = this.beginRelay(shape, client, firstSeq, okView, checksum);
    if (command !== undefined) this.socket.write(command);
    return done;
  }

  /**
   * Runs `prefixSql` for the proxy and, pipelined behind it in the same write (no extra round
   * trip), `command`, whose response is relayed to `client` only if `accept` approves the
   * prefix's rows; otherwise that response is read and dropped. Used to wait for a GTID on a
   * replica right before a read (`MASTER_GTID_WAIT`): a wait that timed out means the read ran
   * on a stale replica, and the client must not see it. `prefixMs`: how long the prefix took
   * (the wait alone, not the command after it).
   */
  relayAfter(
    prefixSql: string,
    accept: (rows: (string | null)[][]) => boolean,
    command: Buffer,
    shape: ResponseShape,
    client: ClientSink,
    firstSeq: number,
    okView?: OkView,
  ): Promise<{ accepted: boolean; summary: ResponseSummary; prefixMs: number }> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, false));
    this.busy = true;
    this.lastUsedAt = Date.now();
    const sent = performance.now();
    const prefix = new ResponseScanner('query', this.capabilities, 1);
    const decoder = new PacketDecoder(1024 * 1024);
    const packets: Buffer[] = [];
    return new Promise((resolve, reject) => {
      this.onGone = (err) => {
        this.busy = false;
        reject(new BackendGoneError(err.message, 0, true));
      };
      this.sink = (chunk) => {
        let used: number;
        try {
          used = prefix.push(chunk);
          decoder.push(used === chunk.length ? chunk : chunk.subarray(0, used));
          for (let p = decoder.next(); p; p = decoder.next()) packets.push(p.payload);
        } catch (err) {
          this.fail(`protocol error from backend: ${(err as Error).message}`);
          return;
        }
        if (!prefix.done) return;
        const prefixMs = performance.now() - sent;
        let accepted = false;
        try {
          accepted = accept(rowsFrom(packets, this.capabilities));
        } catch {
          accepted = false; // an ERR (no such function, replication not running): not waited
        }
        this.beginRelay(shape, accepted ? client : DISCARD_SINK, firstSeq, okView).then(
          (summary) => resolve({ accepted, summary, prefixMs }),
          reject,
        );
        if (used < chunk.length) this.relayer.onData(chunk.subarray(used));
      };
      this.socket.write(Buffer.concat([encodePacket(encodeQuery(prefixSql), 0), command]));
    });
  }

  private beginRelay(shape: ResponseShape, client: ClientSink, firstSeq: number, okView: OkView | undefined, checksum = false): Promise<ResponseSummary> {
    this.lastUsedAt = Date.now();
    this.sink = this.relayer.onData;
    this.onGone = this.relayer.onGone;
    return this.relayer.begin(shape, this.capabilities, client, firstSeq, okView, checksum);
  }

  /** Streams responses to clients (relay.ts); one per connection, reused by every statement. */
  private readonly relayer = new ResponseRelay({
    pause: () => this.socket.pause(),
    resume: () => this.socket.resume(),
    fail: (reason) => this.fail(reason),
    writeTimeoutMs: () => this.writeTimeoutMs(),
    finished: () => {
      this.sink = undefined;
      this.onGone = undefined;
      this.busy = false;
      this.lastUsedAt = Date.now();
    },
  });

  // ---------------------------------------------------------------------------------------------
  // Internal commands (replay, USE, KILL …): small results read whole.

  /**
   * Runs a command for the proxy itself and returns the packets of its response, read whole
   * (responses of internal commands are small).
   */
  command(payload: Buffer, shape: ResponseShape = 'query'): Promise<Buffer[]> {
    return this.exchange(payload, shape);
  }

  /**
   * Writes packets the client sends in the middle of a command (the file of LOAD DATA LOCAL),
   * resolving once the socket accepts more: the client is read no faster than the backend takes.
   */
  forward(frames: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, true));
    if (this.socket.write(frames)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** Writes a command that has no response (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE). */
  send(payload: Buffer): void {
    if (!this.closed) this.socket.write(encodePacket(payload, 0));
  }

  private exchange(payload: Buffer, shape: ResponseShape = 'query'): Promise<Buffer[]> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, false));
    this.busy = true;
    const decoder = new PacketDecoder(64 * 1024 * 1024);
    const scanner = new ResponseScanner(shape, this.capabilities, 1);
    const packets: Buffer[] = [];
    return new Promise<Buffer[]>((resolve, reject) => {
      this.onGone = (err) => {
        this.busy = false;
        reject(new BackendGoneError(err.message, 0, true));
      };
      this.sink = (chunk) => {
        try {
          scanner.push(chunk);
          decoder.push(chunk);
          for (let p = decoder.next(); p; p = decoder.next()) packets.push(p.payload);
        } catch (err) {
          this.fail(`protocol error from backend: ${(err as Error).message}`);
          return;
        }
        if (scanner.done) {
          this.sink = undefined;
          this.onGone = undefined;
          this.busy = false;
          this.lastUsedAt = Date.now();
          resolve(packets);
        }
      };
      this.socket.write(encodePacket(payload, 0));
    });
  }

  /**
   * Runs SQL for the proxy itself. Returns the rows of the last result set as text (or [] for
   * statements without one); an ERR becomes a BackendSqlError.
   */
  async query(sql: string): Promise<(string | null)[][]> {
    const packets = await this.exchange(encodeQuery(sql));
    return rowsFrom(packets, this.capabilities);
  }

  /** COM_INIT_DB */
  async initDb(schema: string): Promise<void> {
    rowsFrom(await this.exchange(encodeInitDb(schema)), this.capabilities);
    this.state.schema = schema;
  }

  /** COM_SET_OPTION: turn multi-statements on or off. */
  async setMultiStatements(on: boolean): Promise<void> {
    rowsFrom(await this.exchange(encodeSetOption(on ? 0 : 1)), this.capabilities);
    this.state.multiStatements = on;
  }

  /** COM_PING */
  async ping(): Promise<void> {
    rowsFrom(await this.exchange(encodeSimpleCommand(Command.PING)), this.capabilities);
  }

  /**
   * COM_RESET_CONNECTION: drops temporary tables, locks, user variables and session variables,
   * rolls back, keeps the schema. Afterwards the connection is as fresh as a new one.
   */
  async reset(): Promise<void> {
    rowsFrom(await this.exchange(encodeSimpleCommand(Command.RESET_CONNECTION)), this.capabilities);
    this.forgetSessionState();
    // The tracked variables are back to the global defaults: ask for the commit GTIDs again.
    await this.trackGtids();
  }

  /**
   * Leaves the connection without a default schema, which only COM_CHANGE_USER without a database
   * can do (MySQL has no "unselect database"; COM_RESET_CONNECTION keeps it). It re-authenticates
   * and resets everything COM_RESET_CONNECTION does, so it is only used for a session that has
   * no schema meeting a connection that has one.
   */
  async clearSchema(): Promise<void> {
    if (this.closed) throw new BackendGoneError(this.closeReason ?? 'closed', 0, false);
    const progress: AuthProgress = { plugin: 'mysql_native_password', seed: this.authSeed };
    const { user, password } = this.account;
    const queue = { decoder: new PacketDecoder(16 * 1024 * 1024), packets: [] as { payload: Buffer; seq: number }[] };
    let reply = await this.authRoundTrip(
      encodeChangeUser(
        {
          user,
          authResponse: authResponseFor(progress.plugin, password, progress.seed),
          database: undefined,
          charset: this.charset,
          authPluginName: progress.plugin,
          connectAttrs: undefined,
        },
        this.capabilities,
      ),
      0,
      queue,
    );
    for (;;) {
      const step = authStep(reply.payload, progress, password, this.secure);
      if (step.done) break;
      reply = await this.authRoundTrip(step.send, (reply.seq + 1) & 0xff, queue);
    }
    this.state.schema = undefined;
    this.forgetSessionState();
    // The tracked variables are back to the global defaults: ask for the commit GTIDs again.
    await this.trackGtids();
    // Whether COM_SET_OPTION survives COM_CHANGE_USER differs between servers: say it again.
    await this.setMultiStatements(this.state.multiStatements);
  }

  /**
   * Writes one packet (when given) and reads the next one whole: the steps of COM_CHANGE_USER.
   * `queue` carries packets that arrived together with an earlier one across the steps.
   */
  private authRoundTrip(
    payload: Buffer | undefined,
    seq: number,
    queue: { readonly decoder: PacketDecoder; readonly packets: { payload: Buffer; seq: number }[] },
  ): Promise<{ payload: Buffer; seq: number }> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, false));
    const queued = queue.packets.shift();
    if (queued) return Promise.resolve(queued);
    this.busy = true;
    return new Promise((resolve, reject) => {
      this.onGone = (err) => {
        this.busy = false;
        reject(new BackendGoneError(err.message, 0, true));
      };
      this.sink = (chunk) => {
        queue.decoder.push(chunk);
        for (let p = queue.decoder.next(); p; p = queue.decoder.next()) {
          queue.packets.push({ payload: Buffer.from(p.payload), seq: p.lastSeq });
        }
        const first = queue.packets.shift();
        if (!first) return;
        this.sink = undefined;
        this.onGone = undefined;
        this.busy = false;
        resolve(first);
      };
      if (payload !== undefined) this.socket.write(encodePacket(payload, seq));
    });
  }

  /** After COM_RESET_CONNECTION / COM_CHANGE_USER: the server forgot the session (not the schema). */
  private forgetSessionState(): void {
    const s = this.state;
    s.charsetSql = `collation:${this.charset}`;
    s.vars.clear();
    s.userVars.clear();
    s.statements.clear();
    s.lastInsertIdSession = undefined;
    s.diagnosticsSession = undefined;
    s.dirty = false;
    // The server deallocated every prepared statement of this connection.
    this.preparedStatements.clear();
  }

  /**
   * Makes every commit's OK on this connection carry its GTID (session tracking). A server that
   * cannot leaves gtidTracking off; causal reads then treat writes here as untracked.
   */
  async trackGtids(keepSessionList = false): Promise<void> {
    this.gtidTracking = false;
    if ((this.capabilities & Capability.SESSION_TRACK) === 0 || this.trackingRefused) return;
    try {
      await this.query(trackingSql(this.flavor, keepSessionList));
      this.gtidTracking = true;
    } catch (err) {
      if (!(err instanceof BackendSqlError)) throw err;
      this.trackingRefused = true;
      this.log.debug({ backend: this.hostId, err: err.message }, 'GTID tracking not available on this backend');
    }
  }

  /** The server refused the tracking variable once: it will not take it later either. */
  private trackingRefused = false;

  // ---------------------------------------------------------------------------------------------
  // Prepared statements: the per-connection cache (prepared-cache.ts) asks this connection.

  private readonly preparedStatements = new PreparedCache({
    prepare: (sql) => this.exchange(encodeStmtPrepare(sql), 'prepare'),
    close: (id) => this.send(encodeStmtClose(id)),
  });

  /** See PreparedCache.prepared. */
  prepared(schema: string | undefined, sql: string, told?: PrepareTold): Promise<PreparedOnBackend> {
    return this.preparedStatements.prepared(schema, sql, told);
  }

  /** See PreparedCache.cached. */
  cachedPrepared(schema: string | undefined, sql: string, told?: PrepareTold): PreparedOnBackend | undefined {
    return this.preparedStatements.cached(schema, sql, told);
  }

  /** See PreparedCache.prepareFresh. */
  prepareFresh(schema: string | undefined, sql: string): Promise<PreparedOnBackend> {
    return this.preparedStatements.prepareFresh(schema, sql);
  }
}

export { ScanError };
