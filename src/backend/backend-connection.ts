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
import { CLIENT_MYSQL, Capability, Command } from '../protocol/constants.js';
import { PacketDecoder, encodePacket } from '../protocol/framer.js';
import {
  decodeInitialHandshake,
  encodeHandshakeResponse,
  decodeAuthSwitchRequest,
  encodeSslRequest,
  type InitialHandshake,
} from '../protocol/handshake.js';
import { scrambleNativePassword, scrambleCachingSha2, encryptPasswordWithPublicKey } from '../protocol/auth.js';
import { decodeErr, decodeTextRow } from '../protocol/responses.js';
import {
  encodeChangeUser,
  encodeInitDb,
  encodeQuery,
  encodeSetOption,
  encodeSimpleCommand,
  encodeStmtClose,
  encodeStmtPrepare,
} from '../protocol/commands.js';
import { decodeStmtPrepareOk } from '../protocol/statements.js';
import { ResponseScanner, ScanError, StreamEditor, type OkView, type ResponseShape, type ResponseSummary } from './response-scanner.js';
import { flavorOf, trackingSql, type GtidFlavor } from '../cluster/gtid.js';
import { wrapBackendTls, type BackendTlsOptions } from './backend-tls.js';

/**
 * Capabilities the proxy always asks of a backend (if the server offers them). Never
 * CLIENT_COMPRESS: backends sit on the proxy's own network, and results are scanned and relayed
 * as plain bytes (a client that asked for compression gets it on the client side only).
 */
export const BASE_BACKEND_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.LONG_FLAG |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.CONNECT_ATTRS |
  // Every OK then reports what the statement changed, the commit's GTID among it (causal reads);
  // the relay shows the client only what it negotiated (protocol/tracked-ok.ts).
  Capability.SESSION_TRACK;

/**
 * Client capabilities that change the bytes of a response. A backend connection relays raw
 * results only to clients that negotiated the same set, so pools are keyed by them
 * (DESIGN §7). MULTI_STATEMENTS is not here: it is toggled per connection with COM_SET_OPTION.
 */
export const WIRE_FORMAT_CAPABILITIES =
  Capability.DEPRECATE_EOF | Capability.FOUND_ROWS | Capability.IGNORE_SPACE | Capability.LOCAL_FILES;

/**
 * Where a relayed result goes: the client's socket itself, or a writer that frames the bytes for
 * a client that negotiated compression. `write` returns false while the client cannot take more;
 * 'drain' says when it can again (the relay pauses the backend in between).
 */
export interface ClientSink {
  write(chunk: Buffer): boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
  readonly destroyed: boolean;
}

export interface BackendEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** TLS toward this backend (dataHost.tls); absent = plain TCP. */
  readonly tls?: BackendTlsOptions;
}

export interface ConnectOptions extends BackendEndpoint {
  /** Wire-format capability bits (subset of WIRE_FORMAT_CAPABILITIES) this connection must use. */
  readonly wireCapabilities: number;
  /** Collation id sent in the handshake (the client's), so no SET NAMES is needed later. */
  readonly charset: number;
  /**
   * MariaDB extended capabilities this connection must use: exactly what the clients it serves
   * negotiated (extended metadata changes the bytes of column definitions). Absent or 0: the
   * connection says CLIENT_MYSQL and gets none, as from a MySQL server.
   */
  readonly mariadbCapabilities?: number;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
}

/** The backend closed or failed while a command was running. */
export class BackendGoneError extends Error {
  override readonly name = 'BackendGoneError';
  constructor(
    message: string,
    /** Bytes of the response already written to the client: a retry is only safe at 0. */
    readonly bytesForwarded: number,
    /** The command was written to the socket (the server may have run it). */
    readonly commandSent: boolean,
  ) {
    super(message);
  }
}

/**
 * The server's greeting lacks capabilities the connection must have (e.g. a backend added later
 * that offers less than the clients of this pool negotiated). Carries what the server offered,
 * so its pools learn it (HostPools.mariadbCapabilities).
 */
export class BackendLacksCapabilities extends Error {
  override readonly name = 'BackendLacksCapabilities';
  constructor(
    message: string,
    /** MariaDB extended capabilities of the server's greeting (0 for MySQL). */
    readonly serverMariadbCapabilities: number,
  ) {
    super(message);
  }
}

/** An ERR packet from the backend during an internal command or the handshake. */
export class BackendSqlError extends Error {
  override readonly name = 'BackendSqlError';
  constructor(
    readonly errno: number,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/** Session state a backend connection carries; compared against a session's before each use. */
export interface ConnectionSessionState {
  schema: string | undefined;
  /** Last `SET NAMES …` / `SET CHARACTER SET …` fragment applied, or the handshake collation. */
  charsetSql: string;
  /** Session system variables set on this connection (name → value SQL). */
  vars: Map<string, string>;
  /** User variables set on this connection (name → literal SQL). */
  userVars: Map<string, string>;
  /** Verbatim statements applied (see DesiredSessionState.statements). */
  statements: Map<string, string>;
  multiStatements: boolean;
  /** Session whose LAST_INSERT_ID() value this connection holds. */
  lastInsertIdSession: number | undefined;
  /**
   * Session that ran the last statement here, so its warnings, ROW_COUNT() and FOUND_ROWS() are
   * this session's (undefined: none since a reset).
   */
  diagnosticsSession: number | undefined;
  /**
   * The connection holds state that cannot be diffed (temporary tables, named locks, table locks,
   * `SET @x = expr`): it must be reset before another session may use it.
   */
  dirty: boolean;
}

/** A sink that drops everything (a read whose consistency wait failed is thrown away). */
const DISCARD: ClientSink = {
  write: () => true,
  once: () => undefined,
  off: () => undefined,
  destroyed: false,
};

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
      this.socket.write(encodePacket(payload, (lastSeq + 1) & 0xff));
    };

    const greeting = await nextPacket();
    if (greeting[0] === 0xff) throw errFrom(greeting);
    const hs: InitialHandshake = decodeInitialHandshake(greeting);
    this.threadId = hs.connectionId;
    this.authSeed = Buffer.from(hs.authPluginData.subarray(0, 20));
    this.serverVersion = hs.serverVersion;
    const wanted = (BASE_BACKEND_CAPABILITIES | opts.wireCapabilities) >>> 0;
    this.capabilities = (wanted & hs.capabilities) >>> 0;
    if ((this.capabilities & Capability.PROTOCOL_41) === 0) throw new Error('backend does not speak protocol 4.1');
    this.serverMariadbCapabilities = (hs.mariadbCapabilities ?? 0) >>> 0;
    const missingWire = (opts.wireCapabilities & ~hs.capabilities) >>> 0;
    if (missingWire !== 0) throw new BackendLacksCapabilities(`backend lacks capabilities 0x${missingWire.toString(16)}`, this.serverMariadbCapabilities);
    const ext = this.mariadbCapabilities;
    const missingExt = (ext & ~this.serverMariadbCapabilities) >>> 0;
    if (missingExt !== 0) {
      throw new BackendLacksCapabilities(`backend lacks MariaDB capabilities 0x${missingExt.toString(16)}`, this.serverMariadbCapabilities);
    }
    // Asking for extended capabilities means clearing CLIENT_MYSQL. Without any, the reserved
    // bytes stay zero, which a MariaDB server reads as "no extended capabilities" either way.
    if (ext !== 0) this.capabilities = (this.capabilities & ~CLIENT_MYSQL) >>> 0;
    const extField = ext !== 0 ? { mariadbCapabilities: ext } : {};
    if (opts.tls) {
      if ((hs.capabilities & Capability.SSL) === 0) throw new Error('backend does not offer TLS (dataHost.tls.enabled is on)');
      // SSLRequest (seq 1), TLS handshake, then the handshake response (seq 2) over TLS.
      this.capabilities = (this.capabilities | Capability.SSL) >>> 0;
      send(encodeSslRequest({ capabilities: this.capabilities, maxPacketSize: 0x40000000, charset: opts.charset, ...extField }));
      lastSeq = (lastSeq + 1) & 0xff;
      await this.startTls(opts.tls);
    }

    let plugin = hs.authPluginName || 'mysql_native_password';
    let seed = hs.authPluginData.subarray(0, 20);
    send(
      encodeHandshakeResponse({
        capabilities: this.capabilities,
        maxPacketSize: 0x40000000,
        charset: opts.charset,
        user: opts.user,
        authResponse: authResponseFor(plugin, opts.password, seed),
        database: undefined,
        authPluginName: plugin,
        ...extField,
        connectAttrs: new Map([
          ['_client_name', 'sluice'],
          ['program_name', 'sluice'],
        ]),
      }),
    );

    for (;;) {
      const reply = await nextPacket();
      const head = reply[0];
      if (head === 0x00) break; // OK: authenticated
      if (head === 0xff) throw errFrom(reply);
      if (head === 0xfe) {
        // Auth switch: the server wants another plugin (or a fresh scramble).
        const sw = decodeAuthSwitchRequest(reply);
        plugin = sw.pluginName;
        seed = sw.pluginData.subarray(0, 20);
        send(authResponseFor(plugin, opts.password, seed));
        continue;
      }
      if (head === 0x01) {
        // AuthMoreData: caching_sha2_password fast/full auth, or a public key.
        const data = reply.subarray(1);
        if (plugin === 'caching_sha2_password' && data.length === 1 && data[0] === 0x03) continue; // fast auth ok
        if (plugin === 'caching_sha2_password' && data.length === 1 && data[0] === 0x04) {
          // Full authentication: over TLS the password itself, else ask for the server's RSA key.
          send(this.secure ? Buffer.concat([Buffer.from(opts.password, 'utf8'), Buffer.from([0])]) : Buffer.from([0x02]));
          continue;
        }
        if (data.toString('latin1').includes('BEGIN PUBLIC KEY')) {
          send(encryptPasswordWithPublicKey(opts.password, seed, data.toString('latin1')));
          continue;
        }
        throw new Error(`unexpected auth data from backend (plugin ${plugin})`);
      }
      throw new Error(`unexpected packet 0x${(head ?? 0).toString(16)} during backend authentication`);
    }
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
  ): Promise<ResponseSummary> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, false));
    this.busy = true;
    const done = this.beginRelay(shape, client, firstSeq, okView);
    if (command !== undefined) this.socket.write(command);
    return done;
  }

  /**
   * Runs `prefixSql` for the proxy and, pipelined behind it in the same write (no extra round
   * trip), `command`, whose response is relayed to `client` only if `accept` approves the
   * prefix's rows; otherwise that response is read and dropped. Used to wait for a GTID on a
   * replica right before a read (`MASTER_GTID_WAIT`): a wait that timed out means the read ran
   * on a stale replica, and the client must not see it.
   */
  relayAfter(
    prefixSql: string,
    accept: (rows: (string | null)[][]) => boolean,
    command: Buffer,
    shape: ResponseShape,
    client: ClientSink,
    firstSeq: number,
    okView?: OkView,
  ): Promise<{ accepted: boolean; summary: ResponseSummary }> {
    if (this.closed) return Promise.reject(new BackendGoneError(this.closeReason ?? 'closed', 0, false));
    this.busy = true;
    this.lastUsedAt = Date.now();
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
        let accepted = false;
        try {
          accepted = accept(rowsFrom(packets, this.capabilities));
        } catch {
          accepted = false; // an ERR (no such function, replication not running): not waited
        }
        this.beginRelay(shape, accepted ? client : DISCARD, firstSeq, okView).then(
          (summary) => resolve({ accepted, summary }),
          reject,
        );
        if (used < chunk.length) this.onRelayData(chunk.subarray(used));
      };
      this.socket.write(Buffer.concat([encodePacket(encodeQuery(prefixSql), 0), command]));
    });
  }

  private beginRelay(shape: ResponseShape, client: ClientSink, firstSeq: number, okView: OkView | undefined): Promise<ResponseSummary> {
    this.lastUsedAt = Date.now();
    this.scanner.reset(shape, this.capabilities, firstSeq, okView);
    this.relayClient = client;
    this.forwarded = 0;
    this.editor.reset();
    this.sink = this.onRelayData;
    this.onGone = this.onRelayGone;
    return new Promise<ResponseSummary>((resolve, reject) => {
      this.relayResolve = resolve;
      this.relayReject = reject;
    });
  }

  // Relay state: one scanner and bound callbacks per connection, so a statement allocates
  // nothing but its promise.
  private readonly scanner = new ResponseScanner('query', 0, 1);
  private relayClient: ClientSink | undefined;
  private relayResolve: ((summary: ResponseSummary) => void) | undefined;
  private relayReject: ((err: Error) => void) | undefined;
  private forwarded = 0;
  /** Holds back packets that may still be rewritten (slow path only). */
  private readonly editor = new StreamEditor();

  private readonly resumeBackend = (): void => {
    this.relayClient?.off('close', this.clientGone);
    this.socket.resume();
  };

  /**
   * The client closed while the relay waited for it to drain: no 'drain' will ever come. The rest
   * of the result cannot be read into nothing cheaply and the connection is mid-response, so it is
   * closed (the statement fails as for a backend lost, and the session ends with its client).
   */
  private readonly clientGone = (): void => {
    this.relayClient?.off('drain', this.resumeBackend);
    this.fail('client went away during a result');
  };

  private readonly onRelayGone = (err: Error): void => {
    this.busy = false;
    this.relayClient?.off('drain', this.resumeBackend);
    this.relayClient?.off('close', this.clientGone);
    const reject = this.relayReject;
    this.endRelay();
    reject?.(new BackendGoneError(err.message, this.forwarded, true));
  };

  private readonly onRelayData = (chunk: Buffer): void => {
    const scanner = this.scanner;
    const base = scanner.consumed;
    let used: number;
    try {
      used = scanner.push(chunk);
    } catch (err) {
      this.fail(`protocol error from backend: ${(err as Error).message}`);
      return;
    }
    if (used !== chunk.length) {
      this.fail(`backend sent ${chunk.length - used} bytes past the end of a response`);
      return;
    }
    const client = this.relayClient!;
    if (client.destroyed) {
      // The client is gone: stop pulling a result nobody will read.
      this.fail('client went away during a result');
      return;
    }
    this.forwarded += chunk.length;
    // The hot path: nothing held back, nothing to rewrite — the chunk goes out as it came.
    const writable =
      this.editor.idle && scanner.edits.length === 0 && scanner.decidedEnd === base + chunk.length
        ? client.write(chunk)
        : this.writeEdited(chunk, base, client);
    if (!writable && !scanner.done) {
      this.socket.pause();
      client.once('drain', this.resumeBackend);
      client.once('close', this.clientGone);
      if (client.destroyed) this.clientGone(); // closed before the listener was there
    }
    if (scanner.done) {
      const resolve = this.relayResolve!;
      this.endRelay();
      this.busy = false;
      this.lastUsedAt = Date.now();
      resolve(scanner.summary);
    }
  };

  /** The slow path: the editor applies the scanner's replacements and holds back what is undecided. */
  private writeEdited(chunk: Buffer, base: number, client: ClientSink): boolean {
    const out = this.editor.take(chunk, base, this.scanner);
    return out.length === 0 ? true : client.write(out);
  }

  private endRelay(): void {
    this.editor.reset();
    this.sink = undefined;
    this.onGone = undefined;
    this.relayClient = undefined;
    this.relayResolve = undefined;
    this.relayReject = undefined;
  }

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
    let plugin = 'mysql_native_password';
    let seed: Buffer = this.authSeed;
    const { user, password } = this.account;
    const queue = { decoder: new PacketDecoder(16 * 1024 * 1024), packets: [] as { payload: Buffer; seq: number }[] };
    let reply = await this.authRoundTrip(
      encodeChangeUser(
        { user, authResponse: authResponseFor(plugin, password, seed), database: undefined, charset: this.charset, authPluginName: plugin, connectAttrs: undefined },
        this.capabilities,
      ),
      0,
      queue,
    );
    for (;;) {
      const head = reply.payload[0];
      if (head === 0x00) break;
      if (head === 0xff) throw errFrom(reply.payload);
      let answer: Buffer;
      if (head === 0xfe) {
        const sw = decodeAuthSwitchRequest(reply.payload);
        plugin = sw.pluginName;
        seed = sw.pluginData.subarray(0, 20);
        answer = authResponseFor(plugin, password, seed);
      } else if (head === 0x01 && plugin === 'caching_sha2_password' && reply.payload[1] === 0x03 && reply.payload.length === 2) {
        reply = await this.authRoundTrip(undefined, 0, queue);
        continue;
      } else if (head === 0x01 && plugin === 'caching_sha2_password' && reply.payload[1] === 0x04 && this.secure) {
        answer = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]);
      } else {
        throw new Error(`unexpected packet 0x${(head ?? 0).toString(16)} during COM_CHANGE_USER`);
      }
      reply = await this.authRoundTrip(answer, (reply.seq + 1) & 0xff, queue);
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
  // Prepared statements: a bounded per-connection cache keyed by schema + SQL. Client sessions
  // never see these ids (the proxy translates), so sharing them between sessions is safe.

  private readonly preparedStatements = new Map<string, PreparedOnBackend>();

  /**
   * The statement prepared on this connection for `sql` in `schema`, preparing it when it is not
   * (an ERR from the server becomes a BackendSqlError). `told` is what the client was told at its
   * own prepare: a cached statement prepared before that whose column count differs describes a
   * table that has changed since, so it is prepared again rather than executed under a shape
   * the client never saw.
   */
  async prepared(
    schema: string | undefined,
    sql: string,
    told?: { readonly numColumns: number; readonly serial: number },
  ): Promise<PreparedOnBackend> {
    const key = preparedKey(schema, sql);
    const hit = this.cachedPrepared(schema, sql, told);
    if (hit) {
      // Map order is insertion order: re-insert to mark it recently used.
      this.preparedStatements.delete(key);
      this.preparedStatements.set(key, hit);
      return hit;
    }
    return this.prepareFresh(schema, sql);
  }

  /** What prepared() would answer without asking the server; undefined when it would prepare. */
  cachedPrepared(
    schema: string | undefined,
    sql: string,
    told?: { readonly numColumns: number; readonly serial: number },
  ): PreparedOnBackend | undefined {
    const hit = this.preparedStatements.get(preparedKey(schema, sql));
    return hit && (told === undefined || hit.numColumns === told.numColumns || hit.serial >= told.serial) ? hit : undefined;
  }

  /**
   * Prepares `sql` on the server now, whatever is cached: a client's COM_STMT_PREPARE must get
   * the metadata the server gives today (an ALTER TABLE since the cached prepare changes it).
   * The fresh statement replaces the cached one; the least recently used one is closed when the
   * cache is full, so a connection never holds more than PREPARED_PER_CONNECTION.
   */
  async prepareFresh(schema: string | undefined, sql: string): Promise<PreparedOnBackend> {
    const key = preparedKey(schema, sql);
    const packets = await this.exchange(encodeStmtPrepare(sql), 'prepare');
    const first = packets[0]!;
    if (first[0] === 0xff) throw errFrom(first);
    const ok = decodeStmtPrepareOk(first);
    const entry: PreparedOnBackend = {
      id: ok.statementId,
      numParams: ok.numParams,
      numColumns: ok.numColumns,
      response: packets,
      serial: nextPrepareSerial++,
    };
    const old = this.preparedStatements.get(key);
    if (old) {
      this.preparedStatements.delete(key);
      this.send(encodeStmtClose(old.id));
    } else if (this.preparedStatements.size >= PREPARED_PER_CONNECTION) {
      const [oldKey, lru] = this.preparedStatements.entries().next().value as [string, PreparedOnBackend];
      this.preparedStatements.delete(oldKey);
      this.send(encodeStmtClose(lru.id));
    }
    this.preparedStatements.set(key, entry);
    return entry;
  }
}

function preparedKey(schema: string | undefined, sql: string): string {
  return `${schema ?? ''}\u0000${sql}`;
}

/** Orders backend prepares across connections (see `prepared()`'s `told`). */
let nextPrepareSerial = 1;

/** Most statements one backend connection keeps prepared (the server's max_prepared_stmt_count is global). */
const PREPARED_PER_CONNECTION = 256;

/** A statement prepared on one backend connection. */
export interface PreparedOnBackend {
  /** The backend's statement id (valid on that connection only). */
  readonly id: number;
  readonly numParams: number;
  readonly numColumns: number;
  /** The PREPARE response as the server sent it (PREPARE_OK, definitions, EOFs), payloads. */
  readonly response: readonly Buffer[];
  /** When it was prepared, relative to every other backend prepare of this process. */
  readonly serial: number;
}

function authResponseFor(plugin: string, password: string, seed: Buffer): Buffer {
  switch (plugin) {
    case 'mysql_native_password':
      return scrambleNativePassword(password, seed);
    case 'caching_sha2_password':
      return scrambleCachingSha2(password, seed);
    default:
      throw new Error(`backend asks for unsupported auth plugin ${plugin}`);
  }
}

function errFrom(payload: Buffer): BackendSqlError {
  const e = decodeErr(payload);
  return new BackendSqlError(e.errno, e.sqlState, e.message);
}

/** Interprets the packets of a finished internal command. */
function rowsFrom(packets: readonly Buffer[], capabilities: number): (string | null)[][] {
  const first = packets[0];
  if (first === undefined) throw new Error('empty response');
  const last = packets[packets.length - 1]!;
  if (last[0] === 0xff) throw errFrom(last);
  if (first[0] === 0x00 || first[0] === 0xfe) return [];
  // Result set: count, column definitions, [EOF], rows, EOF/OK. Multi-results: keep the last set.
  const rows: (string | null)[][] = [];
  let i = 0;
  const deprecateEof = (capabilities & Capability.DEPRECATE_EOF) !== 0;
  while (i < packets.length) {
    const head = packets[i]!;
    if (head[0] === 0x00 || head[0] === 0xfe) {
      i++;
      continue;
    }
    const columns = head[0]!;
    rows.length = 0;
    i += 1 + columns + (deprecateEof ? 0 : 1);
    while (i < packets.length) {
      const p = packets[i]!;
      if (p[0] === 0xfe && p.length < 0xffffff && (deprecateEof || p.length < 9)) {
        i++;
        break;
      }
      rows.push(decodeTextRow(p, columns).map((v) => (v === null ? null : v.toString('utf8'))));
      i++;
    }
  }
  return rows;
}

export { ScanError };
