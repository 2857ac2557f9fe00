/**
 * The server side of the connection phase: greeting, optional TLS upgrade (SSLRequest), handshake
 * response, optional auth switch, password check. Front-end accounts are the proxy's own (`users`
 * in the config); the backend credentials are separate, as in Mycat and Atlas.
 *
 * Each account names its plugin (`auth`, default mysql_native_password). The greeting offers
 * mysql_native_password; a client that answered with another plugin than the account's gets an
 * AuthSwitchRequest to the account's plugin (both ways). caching_sha2_password: a correct
 * scramble gets fast-auth success (0x01 0x03); with `auth.cachingSha2FullAuth: always` the client
 * is asked for full authentication (0x01 0x04) and sends its password in clear over TLS, or
 * RSA-encrypted with the proxy's public key (which it may request with 0x02) over plain TCP.
 *
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
import { timingSafeEqual } from 'node:crypto';
import { CLIENT_MYSQL, Capability, MariaDbCapability, ServerStatus } from '../protocol/constants.js';
import {
  cachingSha2Digest,
  createScramble,
  decryptPasswordWithPrivateKey,
  storedNativeHash,
  verifyCachingSha2Scramble,
  verifyNativePassword,
} from '../protocol/auth.js';
import {
  decodeHandshakeResponse,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeInitialHandshake,
  isSslRequest,
} from '../protocol/handshake.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { encodeErr } from '../protocol/responses.js';
import type { FrontendAuthPlugin, FrontendUser } from '../config/types.js';
import type { ClientChannel } from './client-channel.js';
import { defaultFrontendSecurity, type FrontendSecurity } from './tls.js';

/**
 * What the proxy offers clients. Never advertise what cannot be honoured end to end.
 * COMPRESS is zlib, done by the proxy on the client side only (client-channel.ts); zstd
 * (ZSTD_COMPRESSION_ALGORITHM) is not offered: Node 20's zlib has no zstd.
 */
export const FRONTEND_CAPABILITIES =
  (Capability.LONG_PASSWORD |
    Capability.FOUND_ROWS |
    Capability.LONG_FLAG |
    Capability.CONNECT_WITH_DB |
    Capability.COMPRESS |
    Capability.LOCAL_FILES |
    Capability.IGNORE_SPACE |
    Capability.PROTOCOL_41 |
    Capability.INTERACTIVE |
    Capability.IGNORE_SIGPIPE |
    Capability.TRANSACTIONS |
    Capability.SECURE_CONNECTION |
    Capability.MULTI_STATEMENTS |
    Capability.MULTI_RESULTS |
    Capability.PS_MULTI_RESULTS |
    Capability.PLUGIN_AUTH |
    Capability.CONNECT_ATTRS |
    Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
    Capability.CAN_HANDLE_EXPIRED_PASSWORDS |
    Capability.DEPRECATE_EOF |
    // Backends always track session state (the proxy reads commit GTIDs from it); a client that
    // asks sees the changes its statements caused, others the plain OK (protocol/tracked-ok.ts).
    // Needs backends that offer it: MariaDB 10.2+, MySQL 5.7+.
    Capability.SESSION_TRACK) >>>
  0;

/**
 * MariaDB extended capabilities the proxy can honour end to end. The greeting offers these only
 * where every backend offers them too (AuthenticateOptions.mariadbCapabilities), and a session's
 * backend connections ask for exactly what its client negotiated (pool key), so relayed bytes
 * always match.
 * - EXTENDED_METADATA: column definitions carry one more lenenc block; the proxy never looks
 *   inside column definitions (it counts them), so it relays them as they are.
 * - STMT_BULK_OPERATIONS: COM_STMT_BULK_EXECUTE, see bulk-execute.ts.
 * Not offered:
 * - CACHE_METADATA: the server then leaves column definitions out of COM_STMT_EXECUTE responses
 *   when they did not change since that backend statement last sent them. Backend statements
 *   are prepared lazily and shared by every session using the connection, and one client
 *   statement runs on several backends, so what the server believes the client has cached is
 *   not what this client has (e.g. metadata changed by DDL after the client's own prepare on
 *   another backend would never reach it); the column-count packet also changes shape.
 * - PROGRESS: progress reports arrive as ERR packets (errno 65535) in the middle of a response;
 *   the response scanner would take the first one for the end of the response.
 * - BULK_UNIT_RESULTS: the insert ids then come back as result set rows instead of the OK
 *   packet, which the session reads to know which connection holds LAST_INSERT_ID().
 * - COM_MULTI: deprecated, and would batch commands the session must route one by one.
 */
export const FRONTEND_MARIADB_CAPABILITIES = (MariaDbCapability.EXTENDED_METADATA | MariaDbCapability.STMT_BULK_OPERATIONS) >>> 0;

/** utf8mb4_general_ci: the collation the greeting announces (user-pain #21: not latin1). */
export const GREETING_COLLATION = 45;

const NATIVE: FrontendAuthPlugin = 'mysql_native_password';

/** caching_sha2_password AuthMoreData bytes. */
const FAST_AUTH_SUCCESS = Buffer.from([0x01, 0x03]);
const PERFORM_FULL_AUTHENTICATION = Buffer.from([0x01, 0x04]);
const REQUEST_PUBLIC_KEY = 0x02;

const EMPTY = Buffer.alloc(0);

/** ER_HANDSHAKE_ERROR ("Bad handshake"): the client broke the protocol. */
const HANDSHAKE_ERROR_ERRNO = 1043;

/** Used when the caller gives no settings (unit tests): no TLS, fast-path caching_sha2. */
let fallbackSecurity: FrontendSecurity | undefined;
function securityFor(given: FrontendSecurity | undefined): FrontendSecurity {
  return given ?? (fallbackSecurity ??= defaultFrontendSecurity());
}

export interface AuthenticatedClient {
  readonly user: FrontendUser;
  /** Capabilities in force: what the client asked for that we offer. */
  readonly capabilities: number;
  /** MariaDB extended capabilities in force (0 for a MySQL client, or when none were offered). */
  readonly mariadbCapabilities: number;
  /** Collation id from the handshake response. */
  readonly charset: number;
  readonly database: string | undefined;
  readonly connectAttrs: ReadonlyMap<string, string> | undefined;
  /**
   * Sequence id of the last packet of the exchange (the client's, or the proxy's fast-auth
   * success); the server's OK/ERR uses the next one.
   */
  readonly lastSeq: number;
  /** The scramble of this connection (COM_CHANGE_USER verifies against it too). */
  readonly scramble: Buffer;
  /** The connection runs over TLS. */
  readonly secure: boolean;
}

export interface AuthenticateOptions {
  readonly connectionId: number;
  readonly serverVersion: string;
  readonly users: readonly FrontendUser[];
  readonly remoteAddress: string;
  /**
   * TLS and caching_sha2_password settings (src/frontend/tls.ts). Default: what app.ts
   * registered for this `users` list, else no TLS and fast-path caching_sha2.
   */
  readonly security?: FrontendSecurity;
  /**
   * MariaDB extended capabilities every backend offers (bits of MariaDbCapability); the greeting
   * offers those of them the proxy honours (FRONTEND_MARIADB_CAPABILITIES). Absent or 0: the
   * greeting says MySQL (CLIENT_MYSQL set) and nothing changes for any client.
   */
  readonly mariadbCapabilities?: number;
  /**
   * Called once the password was checked, before the answer goes out; the answer waits for it
   * (the failed-login delay, edge-admission.ts).
   */
  settle?(user: string, granted: boolean): Promise<void>;
}

/** Thrown after the ERR packet was sent: the caller only closes the connection. */
export class AuthFailed extends Error {
  override readonly name = 'AuthFailed';

  /** `handshakeError`: the client broke the protocol (bad packet, TLS failure), not a wrong password. */
  constructor(
    message: string,
    readonly handshakeError = false,
  ) {
    super(message);
  }
}

export async function authenticate(ch: ClientChannel, opts: AuthenticateOptions): Promise<AuthenticatedClient | undefined> {
  const security = securityFor(opts.security);
  const tlsOffer = security.tls;
  const scramble = createScramble();
  if (tlsOffer) ch.watchForSslRequest();
  const mariadbOffer = ((opts.mariadbCapabilities ?? 0) & FRONTEND_MARIADB_CAPABILITIES) >>> 0;
  // A MariaDB server announces extended capabilities by clearing CLIENT_MYSQL (bit 0); the
  // client answers in the last 4 reserved bytes of its response, with bit 0 clear as well.
  let greetingCaps = (FRONTEND_CAPABILITIES | (tlsOffer ? Capability.SSL : 0)) >>> 0;
  if (mariadbOffer !== 0) greetingCaps = (greetingCaps & ~CLIENT_MYSQL) >>> 0;
  ch.send(
    encodeInitialHandshake({
      protocolVersion: 10,
      serverVersion: opts.serverVersion,
      connectionId: opts.connectionId,
      authPluginData: scramble,
      capabilities: greetingCaps,
      charset: GREETING_COLLATION,
      statusFlags: ServerStatus.AUTOCOMMIT,
      authPluginName: NATIVE,
      ...(mariadbOffer !== 0 ? { mariadbCapabilities: mariadbOffer } : {}),
    }),
    0,
  );
  let first = await ch.next();
  if (!first) return undefined;
  let seq = first.lastSeq;
  const fail = (err: SqlError): never => {
    ch.send(encodeErrFor(err), (seq + 1) & 0xff);
    throw new AuthFailed(err.message, err.errno === HANDSHAKE_ERROR_ERRNO);
  };
  if (isSslRequest(first.payload)) {
    if (!tlsOffer) fail(sqlError('ER_HANDSHAKE_ERROR'));
    try {
      await ch.upgradeToTls(tlsOffer!.context);
    } catch (err) {
      throw new AuthFailed(`TLS handshake failed: ${(err as Error).message}`, true);
    }
    // The handshake response follows over TLS, its sequence id continuing the SSLRequest's.
    first = await ch.next();
    if (!first) return undefined;
    seq = first.lastSeq;
  } else if (tlsOffer?.require) {
    fail(sqlError('ER_SECURE_TRANSPORT_REQUIRED'));
  }
  let response;
  try {
    response = decodeHandshakeResponse(first.payload);
  } catch {
    return fail(sqlError('ER_HANDSHAKE_ERROR'));
  }
  if ((response.capabilities & Capability.PROTOCOL_41) === 0) fail(sqlError('ER_HANDSHAKE_ERROR'));

  const result = await exchange(ch, {
    scramble,
    userName: response.user,
    users: opts.users,
    // A client without CLIENT_PLUGIN_AUTH answers the greeting's plugin (native).
    clientPlugin: response.authPluginName ?? NATIVE,
    token: response.authResponse,
    seq,
    security,
    remoteAddress: opts.remoteAddress,
  });
  if (result.status === 'gone') return undefined;
  seq = result.lastSeq;
  await opts.settle?.(response.user, result.status === 'ok');
  if (result.status === 'denied') return fail(result.error);
  const user = result.user;
  return {
    user,
    capabilities: (response.capabilities & FRONTEND_CAPABILITIES) >>> 0,
    // Present only when the client cleared CLIENT_MYSQL; never more than was offered.
    mariadbCapabilities: ((response.mariadbCapabilities ?? 0) & mariadbOffer) >>> 0,
    charset: response.charset,
    database: response.database || user.defaultSchema,
    connectAttrs: response.connectAttrs,
    lastSeq: seq,
    scramble,
    secure: ch.isSecure,
  };
}

/** The client's COM_CHANGE_USER fields that take part in authentication. */
export interface ChangeUserRequest {
  readonly user: string;
  readonly authResponse: Buffer;
  /** Plugin the auth response was computed for (undefined: mysql_native_password). */
  readonly authPluginName: string | undefined;
}

export interface ChangeUserOptions {
  /** The connection's scramble (AuthenticatedClient.scramble). */
  readonly scramble: Buffer;
  readonly users: readonly FrontendUser[];
  readonly remoteAddress: string;
  readonly security?: FrontendSecurity;
}

export type ChangeUserResult =
  /** Authenticated: send the OK (or a schema error) with sequence id `nextSeq`. */
  | { readonly status: 'ok'; readonly user: FrontendUser; readonly nextSeq: number }
  /** Refused: send `encodeErrFor(error)` with sequence id `nextSeq`, then close the connection. */
  | { readonly status: 'denied'; readonly error: SqlError; readonly nextSeq: number }
  /** The client went away during the exchange. */
  | { readonly status: 'gone' };

/**
 * Verifies a COM_CHANGE_USER with the same per-account plugin logic as the login: an auth
 * switch when the client's plugin is not the account's, caching_sha2 fast or full
 * authentication. Packets it sends start at sequence id 1 (the command was 0). Sends no OK/ERR
 * itself.
 */
export async function verifyChangeUser(
  ch: ClientChannel,
  req: ChangeUserRequest,
  opts: ChangeUserOptions,
): Promise<ChangeUserResult> {
  const result = await exchange(ch, {
    scramble: opts.scramble,
    userName: req.user,
    users: opts.users,
    clientPlugin: req.authPluginName ?? NATIVE,
    token: req.authResponse,
    seq: 0,
    security: securityFor(opts.security),
    remoteAddress: opts.remoteAddress,
  });
  if (result.status === 'gone') return result;
  const nextSeq = (result.lastSeq + 1) & 0xff;
  return result.status === 'ok'
    ? { status: 'ok', user: result.user, nextSeq }
    : { status: 'denied', error: result.error, nextSeq };
}

interface ExchangeInput {
  readonly scramble: Buffer;
  readonly userName: string;
  readonly users: readonly FrontendUser[];
  /** Plugin `token` was computed with. */
  readonly clientPlugin: string;
  readonly token: Buffer;
  /** Sequence id of the client's packet that carried `token`. */
  readonly seq: number;
  readonly security: FrontendSecurity;
  readonly remoteAddress: string;
}

type ExchangeResult =
  | { readonly status: 'ok'; readonly user: FrontendUser; readonly lastSeq: number }
  | { readonly status: 'denied'; readonly error: SqlError; readonly lastSeq: number }
  | { readonly status: 'gone' };

/**
 * Everything after the client's first token: switch to the account's plugin if needed, then
 * verify. `lastSeq` is the sequence id of the last packet exchanged (either side).
 */
async function exchange(ch: ClientChannel, x: ExchangeInput): Promise<ExchangeResult> {
  let seq = x.seq;
  const user = x.users.find((u) => u.name === x.userName);
  const target = user?.auth ?? NATIVE;
  let token = x.token;
  const send = (payload: Buffer): void => {
    seq = (seq + 1) & 0xff;
    ch.send(payload, seq);
  };
  const receive = async (): Promise<Buffer | undefined> => {
    const p = await ch.next();
    if (p) seq = p.lastSeq;
    return p?.payload;
  };
  if (x.clientPlugin !== target) {
    // E.g. a MySQL 8 client that starts with caching_sha2_password for a native account, or
    // the reverse. The switch carries the same scramble (plus the NUL servers append).
    send(encodeAuthSwitchRequest(target, x.scramble));
    const switched = await receive();
    if (switched === undefined) return { status: 'gone' };
    token = switched;
  }
  const ok = (): ExchangeResult => ({ status: 'ok', user: user!, lastSeq: seq });
  const denied = (): ExchangeResult => ({
    status: 'denied',
    error: sqlError('ER_ACCESS_DENIED_ERROR', x.userName, x.remoteAddress, token.length > 0 ? 'YES' : 'NO'),
    lastSeq: seq,
  });
  if (!user) return denied();
  if (target === NATIVE) {
    return verifyNativePassword(x.scramble, token, storedNativeHash(user.password)) ? ok() : denied();
  }

  // caching_sha2_password (the only other plugin accounts can name)
  const digest = storedCachingSha2Digest(user.password);
  if (token.length === 0 || digest.length === 0) {
    // The empty password: the client sends an empty token and the server answers OK at once.
    return token.length === 0 && digest.length === 0 ? ok() : denied();
  }
  if (x.security.cachingSha2FullAuth === 'never') {
    // The proxy always "has the cache": a wrong scramble is a wrong password (1045 at once,
    // where MySQL would fall back to full authentication first).
    if (!verifyCachingSha2Scramble(x.scramble, token, digest)) return denied();
    send(FAST_AUTH_SUCCESS);
    return ok();
  }

  send(PERFORM_FULL_AUTHENTICATION);
  let reply = await receive();
  if (reply === undefined) return { status: 'gone' };
  let password: string | undefined;
  if (ch.isSecure) {
    // Over TLS the client sends the password itself, NUL-terminated.
    const nul = reply.indexOf(0);
    password = reply.toString('utf8', 0, nul < 0 ? reply.length : nul);
  } else {
    const keys = await x.security.rsaKeys();
    if (reply.length === 1 && reply[0] === REQUEST_PUBLIC_KEY) {
      send(encodeAuthMoreData(Buffer.from(keys.publicPem, 'latin1')));
      reply = await receive();
      if (reply === undefined) return { status: 'gone' };
    }
    try {
      password = decryptPasswordWithPrivateKey(reply, x.scramble, keys.privatePem);
    } catch {
      password = undefined; // not RSA-encrypted with our key (e.g. a clear password over plain TCP)
    }
  }
  return password !== undefined && timingSafeEqual(cachingSha2Digest(password), digest) ? ok() : denied();
}

/**
 * SHA256(SHA256(pw)) to verify caching_sha2_password against, from a plain password or its
 * stored `sha2:<64 hex>` form. The empty password yields an empty Buffer ("no password").
 */
export function storedCachingSha2Digest(passwordOrDigest: string): Buffer {
  if (passwordOrDigest === '') return EMPTY;
  if (/^sha2:[0-9a-fA-F]{64}$/.test(passwordOrDigest)) return Buffer.from(passwordOrDigest.slice(5), 'hex');
  return cachingSha2Digest(passwordOrDigest);
}

/** The stored form `sha2:<64 hex>` of a password, for the config (see conf/sluice.yaml). */
export function cachingSha2StoredForm(password: string): string {
  return `sha2:${cachingSha2Digest(password).toString('hex')}`;
}

export function encodeErrFor(err: SqlError): Buffer {
  return encodeErr({ errno: err.errno, sqlState: err.sqlState, message: err.message });
}
