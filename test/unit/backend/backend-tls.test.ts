/**
 * Backend connections over TLS (dataHost.tls) against a server played by the proxy's own front
 * end (authenticate() with TLS and caching_sha2_password full authentication): SSLRequest,
 * certificate verification, the password sent over TLS instead of asking for the RSA key, and the
 * connection's socket replaced by the TLS socket for everything after the handshake.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { BackendConnection } from '../../../src/backend/backend-connection.js';
import { ClientChannel } from '../../../src/frontend/client-channel.js';
import { authenticate, type AuthenticatedClient } from '../../../src/frontend/authenticate.js';
import type { FrontendSecurity } from '../../../src/frontend/tls.js';
import { Capability, ServerStatus } from '../../../src/protocol/constants.js';
import { encodeOk } from '../../../src/protocol/status-packets.js';
import { generateSandboxTls, type SandboxTls } from '../../../src/sandbox/index.js';

let certs: SandboxTls | undefined;
let dir: string;
let skip: string | false = false;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-backend-tls-'));
  try {
    certs = await generateSandboxTls(dir, path.join(dir, 'openssl.log'));
  } catch (err) {
    skip = `no certificates (openssl CLI missing?): ${(err as Error).message.split('\n')[0]}`;
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface FakeServer {
  readonly port: number;
  readonly logins: AuthenticatedClient[];
  readonly failures: string[];
  close(): Promise<void>;
}

/** A "backend" that authenticates with the front-end code and answers every command with OK. */
async function fakeServer(withTls: boolean): Promise<FakeServer> {
  const security: FrontendSecurity = {
    tls: withTls
      ? { context: tls.createSecureContext({ cert: readFileSync(certs!.cert), key: readFileSync(certs!.key) }), require: true }
      : undefined,
    cachingSha2FullAuth: 'always',
    rsaKeys: () => Promise.reject(new Error('no RSA: the password must come over TLS')),
  };
  const logins: AuthenticatedClient[] = [];
  const failures: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const ch = new ClientChannel(socket, 1 << 24);
    void (async () => {
      try {
        const client = await authenticate(ch, {
          connectionId: 99,
          serverVersion: '8.4.3-fake',
          users: [{ name: 'app', password: 'tls-pass', auth: 'caching_sha2_password' }],
          remoteAddress: '127.0.0.1',
          security,
        });
        if (!client) return;
        logins.push(client);
        const ok = encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, client.capabilities);
        ch.send(ok, (client.lastSeq + 1) & 0xff);
        for (let p = await ch.next(); p; p = await ch.next()) ch.send(ok, 1);
      } catch (err) {
        failures.push((err as Error).message);
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

function connect(port: number, tlsOptions: Parameters<typeof BackendConnection.connect>[0]['tls']): Promise<BackendConnection> {
  return BackendConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'app',
    password: 'tls-pass',
    wireCapabilities: Capability.DEPRECATE_EOF,
    charset: 45,
    connectTimeoutMs: 3000,
    logger: pino({ level: 'silent' }),
    ...(tlsOptions ? { tls: tlsOptions } : {}),
  });
}

test('TLS handshake, caching_sha2 full authentication with the password over TLS, commands over TLS', async (t) => {
  if (skip) return t.skip(skip);
  const s = await fakeServer(true);
  try {
    const conn = await connect(s.port, { ca: readFileSync(certs!.ca), rejectUnauthorized: true });
    assert.equal(conn.secure, true);
    assert.equal(s.logins.length, 1);
    assert.equal(s.logins[0]!.secure, true, 'the server side saw a TLS login');
    assert.deepEqual(await conn.query('DO 1'), [], 'commands run over the TLS socket');
    await conn.ping();
    conn.destroy();
  } finally {
    await s.close();
  }
});

test('certificate verification: a name the certificate does not carry is refused; verify off accepts it', async (t) => {
  if (skip) return t.skip(skip);
  const s = await fakeServer(true);
  try {
    await assert.rejects(
      connect(s.port, { ca: readFileSync(certs!.ca), rejectUnauthorized: true, servername: 'db.example.com' }),
      /TLS to backend 127\.0\.0\.1:\d+ failed: .*(altnames|does not match)/i,
    );
    await assert.rejects(connect(s.port, { rejectUnauthorized: true }), /TLS to backend .* failed: .*(self.signed|issuer|verify)/i);
    const conn = await connect(s.port, { rejectUnauthorized: false });
    assert.equal(conn.secure, true);
    conn.destroy();
  } finally {
    await s.close();
  }
});

test('a backend that does not offer TLS is refused when dataHost.tls is enabled', async (t) => {
  if (skip) return t.skip(skip);
  const s = await fakeServer(false);
  try {
    await assert.rejects(connect(s.port, { rejectUnauthorized: false }), /does not offer TLS/);
  } finally {
    await s.close();
  }
});
