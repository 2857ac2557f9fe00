/**
 * What backend connections are made of, apart from the connection itself: the capabilities the
 * proxy asks of backends, the options a connection is opened with, the errors it raises, the
 * session state it carries, and where a relayed result goes.
 */
import type { Logger } from 'pino';
import { Capability } from '../protocol/constants.js';
import type { BackendTlsOptions } from './backend-tls.js';

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
  /**
   * How long a relayed result waits for a client that takes nothing (session.writeTimeoutMs,
   * read at each wait) before the connection is closed; absent or 0 = forever.
   */
  readonly clientWriteTimeoutMs?: () => number;
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
  override readonly name: string = 'BackendGoneError';
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
 * The client read nothing of a result for `writeTimeoutMs` (relay.ts): the backend connection was
 * closed mid-result, like a lost backend; the session closes the client.
 */
export class ClientWriteTimeout extends BackendGoneError {
  override readonly name = 'ClientWriteTimeout';
  constructor(
    readonly writeTimeoutMs: number,
    bytesForwarded: number,
  ) {
    super(`client read nothing of the result for ${writeTimeoutMs} ms`, bytesForwarded, true);
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
