/**
 * The server side of the connection phase: greeting, handshake response, optional auth switch,
 * password check. Front-end accounts are the proxy's own (`users` in the config); the backend
 * credentials are separate, as in Mycat and Atlas.
 *
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
import { Capability, ServerStatus } from '../protocol/constants.js';
import { createScramble, storedNativeHash, verifyNativePassword } from '../protocol/auth.js';
import {
  decodeHandshakeResponse,
  encodeAuthSwitchRequest,
  encodeInitialHandshake,
  isSslRequest,
} from '../protocol/handshake.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { encodeErr } from '../protocol/responses.js';
import type { FrontendUser } from '../config/types.js';
import type { ClientChannel } from './client-channel.js';

/** What the proxy offers clients. Never advertise what cannot be honoured end to end. */
export const FRONTEND_CAPABILITIES =
  (Capability.LONG_PASSWORD |
    Capability.FOUND_ROWS |
    Capability.LONG_FLAG |
    Capability.CONNECT_WITH_DB |
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
    Capability.DEPRECATE_EOF) >>>
  0;

/** utf8mb4_general_ci: the collation the greeting announces (user-pain #21: not latin1). */
export const GREETING_COLLATION = 45;

const NATIVE = 'mysql_native_password';

export interface AuthenticatedClient {
  readonly user: FrontendUser;
  /** Capabilities in force: what the client asked for that we offer. */
  readonly capabilities: number;
  /** Collation id from the handshake response. */
  readonly charset: number;
  readonly database: string | undefined;
  readonly connectAttrs: ReadonlyMap<string, string> | undefined;
  /** Sequence id of the client's last packet; the server's reply uses the next one. */
  readonly lastSeq: number;
  /** The scramble of this connection (COM_CHANGE_USER verifies against it too). */
  readonly scramble: Buffer;
}

export interface AuthenticateOptions {
  readonly connectionId: number;
  readonly serverVersion: string;
  readonly users: readonly FrontendUser[];
  readonly remoteAddress: string;
}

/** Thrown after the ERR packet was sent: the caller only closes the connection. */
export class AuthFailed extends Error {
  override readonly name = 'AuthFailed';
}

export async function authenticate(ch: ClientChannel, opts: AuthenticateOptions): Promise<AuthenticatedClient | undefined> {
  const scramble = createScramble();
  ch.send(
    encodeInitialHandshake({
      protocolVersion: 10,
      serverVersion: opts.serverVersion,
      connectionId: opts.connectionId,
      authPluginData: scramble,
      capabilities: FRONTEND_CAPABILITIES,
      charset: GREETING_COLLATION,
      statusFlags: ServerStatus.AUTOCOMMIT,
      authPluginName: NATIVE,
    }),
    0,
  );
  const first = await ch.next();
  if (!first) return undefined;
  let seq = first.lastSeq;
  const fail = (err: SqlError): never => {
    ch.send(encodeErrFor(err), (seq + 1) & 0xff);
    throw new AuthFailed(err.message);
  };
  if (isSslRequest(first.payload)) fail(sqlError('ER_HANDSHAKE_ERROR'));
  let response;
  try {
    response = decodeHandshakeResponse(first.payload);
  } catch {
    return fail(sqlError('ER_HANDSHAKE_ERROR'));
  }
  if ((response.capabilities & Capability.PROTOCOL_41) === 0) fail(sqlError('ER_HANDSHAKE_ERROR'));

  const user = opts.users.find((u) => u.name === response.user);
  let token = response.authResponse;
  if (response.authPluginName !== undefined && response.authPluginName !== NATIVE) {
    // E.g. a MySQL 8 client that starts with caching_sha2_password: ask it for native.
    ch.send(encodeAuthSwitchRequest(NATIVE, Buffer.concat([scramble, Buffer.from([0])])), (seq + 1) & 0xff);
    const switched = await ch.next();
    if (!switched) return undefined;
    seq = switched.lastSeq;
    token = switched.payload;
  }
  const usingPassword = token.length > 0 ? 'YES' : 'NO';
  if (!user || !verifyNativePassword(scramble, token, storedNativeHash(user.password))) {
    fail(sqlError('ER_ACCESS_DENIED_ERROR', response.user, opts.remoteAddress, usingPassword));
  }
  return {
    user: user!,
    capabilities: (response.capabilities & FRONTEND_CAPABILITIES) >>> 0,
    charset: response.charset,
    database: response.database || user!.defaultSchema,
    connectAttrs: response.connectAttrs,
    lastSeq: seq,
    scramble,
  };
}


export function encodeErrFor(err: SqlError): Buffer {
  return encodeErr({ errno: err.errno, sqlState: err.sqlState, message: err.message });
}
