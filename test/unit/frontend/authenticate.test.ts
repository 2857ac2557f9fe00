/**
 * The server side of the connection phase (src/frontend/authenticate.ts) against clients built
 * from the project's codec (test/helpers/raw-client.ts): mysql_native_password and
 * caching_sha2_password accounts, auth switches both ways, caching_sha2 fast path, full
 * authentication with the proxy's RSA key and over TLS, TLS upgrade (also when the ClientHello
 * arrives in the same TCP segment as the SSLRequest), require_secure_transport, and
 * verifyChangeUser (COM_CHANGE_USER).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ClientChannel } from '../../../src/frontend/client-channel.js';
import {
  AuthFailed,
  authenticate,
  cachingSha2StoredForm,
  encodeErrFor,
  verifyChangeUser,
  type AuthenticatedClient,
} from '../../../src/frontend/authenticate.js';
import type { FrontendSecurity } from '../../../src/frontend/tls.js';
import type { FrontendUser } from '../../../src/config/types.js';
import { Capability, ServerStatus } from '../../../src/protocol/constants.js';
import { PacketDecoder, encodePacket } from '../../../src/protocol/framer.js';
import { encodeOk } from '../../../src/protocol/status-packets.js';
import { decodeCommand, encodeChangeUser } from '../../../src/protocol/commands.js';
import {
  decodeAuthSwitchRequest,
  decodeInitialHandshake,
  encodeHandshakeResponse,
  encodeSslRequest,
} from '../../../src/protocol/handshake.js';
import { nativePasswordHash, scrambleCachingSha2, scrambleNativePassword } from '../../../src/protocol/auth.js';
import { generateSandboxTls, type SandboxTls } from '../../../src/sandbox/index.js';
import { RawClient, errnoOfPacket } from '../../helpers/raw-client.js';

const USERS: FrontendUser[] = [
  { name: 'native', password: 'n-pass' },
  { name: 'nativehash', password: `*${nativePasswordHash('h-pass').toString('hex').toUpperCase()}` },
  { name: 'sha', password: 's-pass', auth: 'caching_sha2_password' },
  { name: 'shadigest', password: cachingSha2StoredForm('d-pass'), auth: 'caching_sha2_password' },
  { name: 'shaempty', password: '', auth: 'caching_sha2_password' },
];

const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const RSA_KEYS = Promise.resolve({ publicPem: rsa.publicKey, privatePem: rsa.privateKey });

let certs: SandboxTls | undefined;
let certDir: string | undefined;
let skipTls: string | false = false;

before(async () => {
  certDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-auth-test-'));
  try {
    certs = await generateSandboxTls(certDir, path.join(certDir, 'openssl.log'));
  } catch (err) {
    skipTls = `no certificates (openssl CLI missing?): ${(err as Error).message.split('\n')[0]}`;
  }
});

after(() => {
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

function security(opts: { tls?: boolean; require?: boolean; fullAuth?: 'never' | 'always' } = {}): FrontendSecurity {
  return {
    tls: opts.tls
      ? {
          context: tls.createSecureContext({ cert: readFileSync(certs!.cert), key: readFileSync(certs!.key) }),
          require: opts.require ?? false,
        }
      : undefined,
    cachingSha2FullAuth: opts.fullAuth ?? 'never',
    rsaKeys: () => RSA_KEYS,
  };
}

interface AuthServer {
  readonly port: number;
  /** Every successful login, in order. */
  readonly logins: AuthenticatedClient[];
  /** Why logins failed (AuthFailed messages). */
  readonly failures: string[];
  close(): Promise<void>;
}

/**
 * A listener that runs authenticate() for each connection, then answers OK; afterwards it
 * handles COM_CHANGE_USER with verifyChangeUser and answers any other command with OK.
 */
async function authServer(sec: FrontendSecurity): Promise<AuthServer> {
  const logins: AuthenticatedClient[] = [];
  const failures: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const ch = new ClientChannel(socket, 1 << 24);
    void (async () => {
      try {
        const client = await authenticate(ch, {
          connectionId: 7,
          serverVersion: '8.0.99-test',
          users: USERS,
          remoteAddress: '127.0.0.1',
          security: sec,
        });
        if (!client) return;
        logins.push(client);
        const ok = encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, client.capabilities);
        ch.send(ok, (client.lastSeq + 1) & 0xff);
        for (;;) {
          const p = await ch.next();
          if (!p) return;
          const cmd = decodeCommand(p.payload, client.capabilities);
          if (cmd.type === 'quit') return ch.close();
          if (cmd.type !== 'change-user') {
            ch.send(ok, 1);
            continue;
          }
          const r = await verifyChangeUser(ch, cmd, { scramble: client.scramble, users: USERS, remoteAddress: '127.0.0.1', security: sec });
          if (r.status === 'gone') return;
          if (r.status === 'denied') {
            ch.send(encodeErrFor(r.error), r.nextSeq);
            return ch.close();
          }
          logins.push({ ...client, user: r.user });
          ch.send(ok, r.nextSeq);
        }
      } catch (err) {
        if (err instanceof AuthFailed) failures.push(err.message);
        else failures.push(`unexpected: ${(err as Error).stack}`);
        ch.close();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    logins,
    failures,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function loginErrno(p: Promise<RawClient>): Promise<number> {
  try {
    (await p).close();
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (typeof errno === 'number') return errno;
    throw err;
  }
  assert.fail('expected the login to fail');
}

const NATIVE = 'mysql_native_password';
const SHA2 = 'caching_sha2_password';

describe('plain TCP, fast path', () => {
  let srv: AuthServer;
  before(async () => (srv = await authServer(security())));
  after(() => srv.close());

  test('the greeting offers mysql_native_password and no CLIENT_SSL without TLS', async () => {
    const c = await RawClient.connect(srv.port, 'native', 'n-pass');
    assert.equal(c.serverCapabilities & Capability.SSL, 0);
    assert.deepEqual(c.authSteps, []);
    assert.equal(srv.logins.at(-1)?.user.name, 'native');
    assert.equal(srv.logins.at(-1)?.secure, false);
    c.close();
  });

  test('native account: *HEX stored hash, wrong password → 1045 with the MySQL message', async () => {
    (await RawClient.connect(srv.port, 'nativehash', 'h-pass')).close();
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'native', 'wrong')), 1045);
    assert.match(srv.failures.at(-1) ?? '', /^Access denied for user 'native'@'127\.0\.0\.1' \(using password: YES\)$/);
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'nobody', 'x')), 1045);
  });

  test('a client starting with caching_sha2_password is switched to native for a native account', async () => {
    const c = await RawClient.connect(srv.port, 'native', 'n-pass', undefined, 0, SHA2);
    assert.deepEqual(c.authSteps, [`switch:${NATIVE}`]);
    c.close();
  });

  test('a client starting with native is switched to caching_sha2_password, then fast auth', async () => {
    const c = await RawClient.connect(srv.port, 'sha', 's-pass', undefined, 0, NATIVE);
    assert.deepEqual(c.authSteps, [`switch:${SHA2}`, 'fast-auth']);
    assert.equal(srv.logins.at(-1)?.user.name, 'sha');
    c.close();
  });

  test('caching_sha2 client and account: fast auth without a switch; sha2:<hex> stored digest', async () => {
    const c = await RawClient.connect(srv.port, 'sha', 's-pass', undefined, 0, SHA2);
    assert.deepEqual(c.authSteps, ['fast-auth']);
    c.close();
    const d = await RawClient.connect(srv.port, 'shadigest', 'd-pass', undefined, 0, SHA2);
    assert.deepEqual(d.authSteps, ['fast-auth']);
    d.close();
  });

  test('caching_sha2: wrong password → 1045 (directly, after a switch, and for the empty-password account)', async () => {
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'sha', 'wrong', undefined, 0, SHA2)), 1045);
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'sha', 'wrong', undefined, 0, NATIVE)), 1045);
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'sha', '', undefined, 0, SHA2)), 1045);
    assert.match(srv.failures.at(-1) ?? '', /using password: NO/);
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'shaempty', 'x', undefined, 0, SHA2)), 1045);
    const e = await RawClient.connect(srv.port, 'shaempty', '', undefined, 0, SHA2);
    assert.deepEqual(e.authSteps, [], 'empty password: OK at once');
    e.close();
  });

  test('the auth switch repeats the greeting scramble (20 bytes + NUL, as MySQL sends it)', async () => {
    const raw = net.connect({ host: '127.0.0.1', port: srv.port });
    const packets = packetReader(raw);
    const greeting = decodeInitialHandshake(await packets.next());
    raw.write(encodePacket(handshakeResponse('sha', scrambleNativePassword('s-pass', greeting.authPluginData), NATIVE), 1));
    const sw = await packets.next();
    assert.equal(sw[0], 0xfe);
    const { pluginName, pluginData } = decodeAuthSwitchRequest(sw);
    assert.equal(pluginName, SHA2);
    assert.deepEqual(pluginData, greeting.authPluginData.subarray(0, 20));
    assert.equal(sw.length, 1 + SHA2.length + 1 + 21);
    raw.write(encodePacket(scrambleCachingSha2('s-pass', pluginData), 3));
    assert.deepEqual(await packets.next(), Buffer.from([0x01, 0x03]));
    assert.equal(packets.lastSeq(), 4);
    assert.equal((await packets.next())[0], 0x00);
    assert.equal(packets.lastSeq(), 5);
    raw.destroy();
  });

  test('verifyChangeUser: native → caching_sha2 account (switch + fast auth), then a wrong password', async () => {
    const c = await RawClient.connect(srv.port, 'native', 'n-pass');
    const greetingScramble = srv.logins.at(-1)!.scramble;
    c.send(
      encodeChangeUser(
        {
          user: 'sha',
          authResponse: scrambleNativePassword('s-pass', greetingScramble),
          database: undefined,
          charset: 45,
          authPluginName: NATIVE,
          connectAttrs: undefined,
        },
        c.capabilities,
      ),
      0,
    );
    const sw = decodeAuthSwitchRequest(await c.next());
    assert.equal(sw.pluginName, SHA2);
    c.send(scrambleCachingSha2('s-pass', sw.pluginData), 2);
    assert.deepEqual(await c.next(), Buffer.from([0x01, 0x03]));
    assert.equal((await c.next())[0], 0x00);
    assert.equal(c.lastSeq, 4);
    assert.equal(srv.logins.at(-1)?.user.name, 'sha');
    c.send(
      encodeChangeUser(
        {
          user: 'sha',
          authResponse: scrambleCachingSha2('nope', greetingScramble),
          database: undefined,
          charset: 45,
          authPluginName: SHA2,
          connectAttrs: undefined,
        },
        c.capabilities,
      ),
      0,
    );
    const err = await c.next();
    assert.equal(errnoOfPacket(err), 1045);
    assert.equal(c.lastSeq, 1);
    assert.ok(await c.waitClosed());
  });
});

describe('caching_sha2 full authentication over plain TCP (RSA)', () => {
  let srv: AuthServer;
  before(async () => (srv = await authServer(security({ fullAuth: 'always' }))));
  after(() => srv.close());

  test('the client asks for the public key, then sends the RSA-encrypted password', async () => {
    const c = await RawClient.connect(srv.port, 'sha', 's-pass', undefined, 0, SHA2);
    assert.deepEqual(c.authSteps, ['full-auth', 'public-key']);
    c.close();
    const d = await RawClient.connect(srv.port, 'shadigest', 'd-pass', undefined, 0, NATIVE);
    assert.deepEqual(d.authSteps, [`switch:${SHA2}`, 'full-auth', 'public-key']);
    d.close();
  });

  test('a client that already has the key encrypts at once', async () => {
    const c = await RawClient.connect(srv.port, 'sha', 's-pass', undefined, 0, SHA2, { serverPublicKey: rsa.publicKey });
    assert.deepEqual(c.authSteps, ['full-auth']);
    c.close();
  });

  test('wrong password → 1045; a clear-text password over plain TCP is refused', async () => {
    assert.equal(await loginErrno(RawClient.connect(srv.port, 'sha', 'wrong', undefined, 0, SHA2)), 1045);
    assert.equal(
      await loginErrno(RawClient.connect(srv.port, 'sha', 's-pass', undefined, 0, SHA2, { clearPasswordWithoutTls: true })),
      1045,
    );
  });

  test('native accounts are unaffected', async () => {
    const c = await RawClient.connect(srv.port, 'native', 'n-pass');
    assert.deepEqual(c.authSteps, []);
    c.close();
  });
});

describe('TLS', () => {
  test('SSLRequest upgrades the connection; the response continues with sequence id 2', async (t) => {
    if (skipTls) return t.skip(skipTls);
    const srv = await authServer(security({ tls: true }));
    try {
      const c = await RawClient.connect(srv.port, 'native', 'n-pass', undefined, 0, NATIVE, { tls: { ca: readFileSync(certs!.ca), servername: 'localhost' } });
      assert.ok(c.serverCapabilities & Capability.SSL, 'greeting offers CLIENT_SSL');
      assert.ok(c.cipher, 'TLS in use');
      assert.equal(c.lastSeq, 3, 'OK after SSLRequest (1) and response (2)');
      assert.equal(srv.logins.at(-1)?.secure, true);
      // Commands keep working over TLS.
      assert.equal((await c.command(Buffer.from([0x0e])))[0]?.[0], 0x00);
      c.close();
      // TLS is optional: plain logins still work.
      (await RawClient.connect(srv.port, 'native', 'n-pass')).close();
    } finally {
      await srv.close();
    }
  });

  test('caching_sha2 full authentication over TLS: the password in clear, no RSA', async (t) => {
    if (skipTls) return t.skip(skipTls);
    const srv = await authServer(security({ tls: true, fullAuth: 'always' }));
    try {
      const opts = { tls: { ca: readFileSync(certs!.ca), servername: 'localhost' } };
      const c = await RawClient.connect(srv.port, 'sha', 's-pass', undefined, 0, SHA2, opts);
      assert.deepEqual(c.authSteps, ['full-auth']);
      c.close();
      const d = await RawClient.connect(srv.port, 'shadigest', 'd-pass', undefined, 0, NATIVE, opts);
      assert.deepEqual(d.authSteps, [`switch:${SHA2}`, 'full-auth']);
      d.close();
      assert.equal(await loginErrno(RawClient.connect(srv.port, 'sha', 'wrong', undefined, 0, SHA2, opts)), 1045);
    } finally {
      await srv.close();
    }
  });

  test('require: a plain login gets 3159 (ER_SECURE_TRANSPORT_REQUIRED), a TLS login works', async (t) => {
    if (skipTls) return t.skip(skipTls);
    const srv = await authServer(security({ tls: true, require: true }));
    try {
      assert.equal(await loginErrno(RawClient.connect(srv.port, 'native', 'n-pass')), 3159);
      assert.match(srv.failures.at(-1) ?? '', /insecure transport are prohibited while --require_secure_transport=ON/);
      const c = await RawClient.connect(srv.port, 'native', 'n-pass', undefined, 0, NATIVE, { tls: { ca: readFileSync(certs!.ca), servername: 'localhost' } });
      c.close();
    } finally {
      await srv.close();
    }
  });

  test('a ClientHello in the same TCP segment as the SSLRequest is not lost', async (t) => {
    if (skipTls) return t.skip(skipTls);
    const srv = await authServer(security({ tls: true }));
    try {
      const raw = net.connect({ host: '127.0.0.1', port: srv.port });
      const greetingChunk = await new Promise<Buffer>((r) => raw.once('data', r));
      const greeting = decodeInitialHandshake(greetingChunk.subarray(4));
      const caps = (Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH | Capability.SSL) >>> 0;
      const sslFrame = encodePacket(encodeSslRequest({ capabilities: caps, maxPacketSize: 1 << 24, charset: 45 }), 1);
      // A stream whose first write (the ClientHello) goes out glued to the SSLRequest.
      let first = true;
      const glued = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          raw.write(first ? Buffer.concat([sslFrame, chunk]) : chunk, cb);
          first = false;
        },
        final(cb) {
          raw.end();
          cb();
        },
      });
      raw.on('data', (d: Buffer) => glued.push(d));
      raw.on('end', () => glued.push(null));
      const secured = tls.connect({ socket: glued, ca: readFileSync(certs!.ca), servername: 'localhost' });
      await new Promise<void>((resolve, reject) => {
        secured.once('secureConnect', resolve);
        secured.once('error', reject);
      });
      const packets = packetReader(secured);
      secured.write(encodePacket(handshakeResponse('native', scrambleNativePassword('n-pass', greeting.authPluginData), NATIVE, caps), 2));
      assert.equal((await packets.next())[0], 0x00);
      assert.equal(packets.lastSeq(), 3);
      secured.destroy();
      raw.destroy();
    } finally {
      await srv.close();
    }
  });

  test('a client that sends an SSLRequest and then garbage is dropped, the server keeps going', async (t) => {
    if (skipTls) return t.skip(skipTls);
    const srv = await authServer(security({ tls: true }));
    try {
      const raw = net.connect({ host: '127.0.0.1', port: srv.port });
      await new Promise<Buffer>((r) => raw.once('data', r));
      const caps = (Capability.PROTOCOL_41 | Capability.SSL) >>> 0;
      raw.write(encodePacket(encodeSslRequest({ capabilities: caps, maxPacketSize: 1 << 24, charset: 45 }), 1));
      raw.write(Buffer.from('this is not a TLS ClientHello at all\r\n'));
      await new Promise<void>((r) => raw.on('close', () => r()));
      assert.match(srv.failures.at(-1) ?? '', /^TLS handshake failed/);
      (await RawClient.connect(srv.port, 'native', 'n-pass')).close();
    } finally {
      await srv.close();
    }
  });

  test('an SSLRequest when TLS is not offered is refused with 1043', async () => {
    const srv = await authServer(security());
    try {
      const raw = net.connect({ host: '127.0.0.1', port: srv.port });
      const packets = packetReader(raw);
      await packets.next();
      raw.write(encodePacket(encodeSslRequest({ capabilities: Capability.PROTOCOL_41, maxPacketSize: 1 << 24, charset: 45 }), 1));
      assert.equal(errnoOfPacket(await packets.next()), 1043);
      raw.destroy();
    } finally {
      await srv.close();
    }
  });
});

// -------------------------------------------------------------------------------------------------

function handshakeResponse(user: string, token: Buffer, plugin: string, caps?: number): Buffer {
  return encodeHandshakeResponse({
    capabilities: caps ?? (Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH),
    maxPacketSize: 1 << 24,
    charset: 45,
    user,
    authResponse: token,
    database: undefined,
    authPluginName: plugin,
    connectAttrs: undefined,
  });
}

/** Reads packets from any stream. */
function packetReader(stream: NodeJS.ReadableStream): { next(): Promise<Buffer>; lastSeq(): number } {
  const decoder = new PacketDecoder(1 << 24);
  const queue: { seq: number; payload: Buffer }[] = [];
  let last = 0;
  let wake: (() => void) | undefined;
  stream.on('data', (d: Buffer) => {
    decoder.push(d);
    for (let p = decoder.next(); p; p = decoder.next()) queue.push({ seq: p.lastSeq, payload: Buffer.from(p.payload) });
    wake?.();
  });
  return {
    async next() {
      const deadline = Date.now() + 5000;
      while (queue.length === 0) {
        if (Date.now() > deadline) throw new Error('timed out waiting for a packet');
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      const p = queue.shift()!;
      last = p.seq;
      return p.payload;
    },
    /** Sequence id of the packet `next()` returned last. */
    lastSeq: () => last,
  };
}
