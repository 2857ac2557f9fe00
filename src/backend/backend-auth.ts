/**
 * The client side of authentication toward a backend, after the first answer was sent: what to
 * answer each packet the server sends, until its OK. The login handshake and COM_CHANGE_USER
 * (clearing a connection's schema) go through the same steps.
 *
 * mysql_native_password and caching_sha2_password: auth switch, caching_sha2 fast path, and
 * full authentication with the password over TLS or encrypted with the server's RSA key.
 */
import { CLIENT_MYSQL, Capability } from '../protocol/constants.js';
import {
  decodeAuthSwitchRequest,
  decodeInitialHandshake,
  encodeHandshakeResponse,
  encodeSslRequest,
} from '../protocol/handshake.js';
import { encryptPasswordWithPublicKey, scrambleCachingSha2, scrambleNativePassword } from '../protocol/auth.js';
import { errFrom } from './internal-results.js';
import { BASE_BACKEND_CAPABILITIES, BackendLacksCapabilities } from './backend-types.js';

/** The packets of a login, as the connection reads and writes them. */
export interface HandshakeIo {
  /** The next packet from the server (payload). */
  next(): Promise<Buffer>;
  /** Writes a packet with the next sequence id. */
  send(payload: Buffer): void;
  /** After the SSLRequest: switch the socket to TLS (absent: no TLS toward this backend). */
  readonly startTls: (() => Promise<void>) | undefined;
  /** The socket runs over TLS (full caching_sha2 authentication may then send the password). */
  secure(): boolean;
}

/** What the login settled. */
export interface Negotiated {
  /** The server's thread id for this connection (CONNECTION_ID() there). */
  readonly threadId: number;
  /** The greeting's scramble (COM_CHANGE_USER answers it again). */
  readonly authSeed: Buffer;
  readonly serverVersion: string;
  /** Capabilities in force (ours ∩ the server's). */
  readonly capabilities: number;
  /** MariaDB extended capabilities the greeting offered (0 for MySQL). */
  readonly serverMariadbCapabilities: number;
}

/**
 * Reads the greeting, agrees on capabilities (the wire-format and MariaDB extended bits the pool
 * key demands, or BackendLacksCapabilities), switches to TLS when asked, and authenticates.
 */
export async function negotiate(
  io: HandshakeIo,
  opts: {
    readonly wireCapabilities: number;
    readonly mariadbCapabilities: number;
    readonly charset: number;
    readonly user: string;
    readonly password: string;
  },
): Promise<Negotiated> {
  const greeting = await io.next();
  if (greeting[0] === 0xff) throw errFrom(greeting);
  const hs = decodeInitialHandshake(greeting);
  const wanted = (BASE_BACKEND_CAPABILITIES | opts.wireCapabilities) >>> 0;
  let capabilities = (wanted & hs.capabilities) >>> 0;
  if ((capabilities & Capability.PROTOCOL_41) === 0) throw new Error('backend does not speak protocol 4.1');
  const serverMariadbCapabilities = (hs.mariadbCapabilities ?? 0) >>> 0;
  const missingWire = (opts.wireCapabilities & ~hs.capabilities) >>> 0;
  if (missingWire !== 0) throw new BackendLacksCapabilities(`backend lacks capabilities 0x${missingWire.toString(16)}`, serverMariadbCapabilities);
  const ext = opts.mariadbCapabilities;
  const missingExt = (ext & ~serverMariadbCapabilities) >>> 0;
  if (missingExt !== 0) {
    throw new BackendLacksCapabilities(`backend lacks MariaDB capabilities 0x${missingExt.toString(16)}`, serverMariadbCapabilities);
  }
  // Asking for extended capabilities means clearing CLIENT_MYSQL. Without any, the reserved
  // bytes stay zero, which a MariaDB server reads as "no extended capabilities" either way.
  if (ext !== 0) capabilities = (capabilities & ~CLIENT_MYSQL) >>> 0;
  const extField = ext !== 0 ? { mariadbCapabilities: ext } : {};
  if (io.startTls) {
    if ((hs.capabilities & Capability.SSL) === 0) throw new Error('backend does not offer TLS (dataHost.tls.enabled is on)');
    // SSLRequest (seq 1), TLS handshake, then the handshake response (seq 2) over TLS.
    capabilities = (capabilities | Capability.SSL) >>> 0;
    io.send(encodeSslRequest({ capabilities, maxPacketSize: 0x40000000, charset: opts.charset, ...extField }));
    await io.startTls();
  }

  const progress: AuthProgress = { plugin: hs.authPluginName || 'mysql_native_password', seed: hs.authPluginData.subarray(0, 20) };
  io.send(
    encodeHandshakeResponse({
      capabilities,
      maxPacketSize: 0x40000000,
      charset: opts.charset,
      user: opts.user,
      authResponse: authResponseFor(progress.plugin, opts.password, progress.seed),
      database: undefined,
      authPluginName: progress.plugin,
      ...extField,
      connectAttrs: new Map([
        ['_client_name', 'sluice'],
        ['program_name', 'sluice'],
      ]),
    }),
  );
  for (;;) {
    const step = authStep(await io.next(), progress, opts.password, io.secure());
    if (step.done) break;
    if (step.send !== undefined) io.send(step.send);
  }
  return {
    threadId: hs.connectionId,
    authSeed: Buffer.from(hs.authPluginData.subarray(0, 20)),
    serverVersion: hs.serverVersion,
    capabilities,
    serverMariadbCapabilities,
  };
}

/** The scramble answering `seed` with `plugin`. */
export function authResponseFor(plugin: string, password: string, seed: Buffer): Buffer {
  switch (plugin) {
    case 'mysql_native_password':
      return scrambleNativePassword(password, seed);
    case 'caching_sha2_password':
      return scrambleCachingSha2(password, seed);
    default:
      throw new Error(`backend asks for unsupported auth plugin ${plugin}`);
  }
}

/** Where an authentication is: the plugin in use and its seed (an auth switch changes both). */
export interface AuthProgress {
  plugin: string;
  seed: Buffer;
}

/**
 * What to do with the server's next packet: `done` on its OK, else `send` this answer (undefined:
 * send nothing and read the next packet). Throws the server's ERR as a BackendSqlError, and on
 * anything unexpected.
 */
export function authStep(
  reply: Buffer,
  progress: AuthProgress,
  password: string,
  secure: boolean,
): { readonly done: true } | { readonly done: false; readonly send: Buffer | undefined } {
  const head = reply[0];
  if (head === 0x00) return { done: true };
  if (head === 0xff) throw errFrom(reply);
  if (head === 0xfe) {
    // Auth switch: the server wants another plugin (or a fresh scramble).
    const sw = decodeAuthSwitchRequest(reply);
    progress.plugin = sw.pluginName;
    progress.seed = sw.pluginData.subarray(0, 20);
    return { done: false, send: authResponseFor(progress.plugin, password, progress.seed) };
  }
  if (head === 0x01) {
    // AuthMoreData: caching_sha2_password fast/full auth, or a public key.
    const data = reply.subarray(1);
    const sha2 = progress.plugin === 'caching_sha2_password';
    if (sha2 && data.length === 1 && data[0] === 0x03) return { done: false, send: undefined }; // fast auth ok
    if (sha2 && data.length === 1 && data[0] === 0x04) {
      // Full authentication: over TLS the password itself, else ask for the server's RSA key.
      return { done: false, send: secure ? Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]) : Buffer.from([0x02]) };
    }
    if (data.toString('latin1').includes('BEGIN PUBLIC KEY')) {
      return { done: false, send: encryptPasswordWithPublicKey(password, progress.seed, data.toString('latin1')) };
    }
    throw new Error(`unexpected auth data from backend (plugin ${progress.plugin})`);
  }
  throw new Error(`unexpected packet 0x${(head ?? 0).toString(16)} during backend authentication`);
}
