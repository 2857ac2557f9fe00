/**
 * Front-end accounts with caching_sha2_password through the proxy, with real clients: mysql2
 * (fast path; full authentication with the proxy's RSA key over plain TCP and with the clear
 * password over TLS) and the mariadb CLI (libmariadb's caching_sha2_password plugin).
 * The unit tests (test/unit/frontend/authenticate.test.ts) pin the exchanges byte by byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysqlCallback from 'mysql2';
import type mysql from 'mysql2/promise';
import { cachingSha2StoredForm } from '../../src/frontend/authenticate.js';
import { errnoOf, startProxy, type TestProxy } from '../helpers/proxy.js';
import { getSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';

const execFileP = promisify(execFile);

const SHA_USER = { name: 'sha', password: 'sha-secret', auth: 'caching_sha2_password' };
const SHA_DIGEST_USER = { name: 'shad', password: cachingSha2StoredForm('digest-secret'), auth: 'caching_sha2_password' };

/** Where Debian's libmariadb3 keeps its client plugins. */
const PLUGIN = '/usr/lib/x86_64-linux-gnu/libmariadb3/plugin/caching_sha2_password.so';
const noPlugin = existsSync(PLUGIN) ? false : `libmariadb's caching_sha2_password plugin is missing (${PLUGIN})`;
if (noPlugin) process.stdout.write(`# skipping the mariadb CLI caching_sha2 tests: ${noPlugin}\n`);

let sb: SandboxInfo;
before(async () => {
  sb = await getSandbox();
});

function users(): ({ name: string; password: string } & Record<string, unknown>)[] {
  return [{ name: sb.user, password: sb.password }, SHA_USER, SHA_DIGEST_USER];
}

async function closeWhenIdle(proxy: TestProxy | undefined): Promise<void> {
  if (!proxy) return;
  await waitFor(() => proxy.sluice.frontend.sessionCount === 0, { what: 'client sessions to end' }).catch(() => undefined);
  await proxy.close();
}

/** mysql2's caching_sha2_password plugin, reporting the RSA key the server sent (if any). */
type AuthPlugins = NonNullable<mysql.ConnectionOptions['authPlugins']>;
function sha2Plugin(onKey: (pem: string) => void): AuthPlugins {
  const plugins = (mysqlCallback as unknown as { authPlugins: Record<string, (opts: object) => AuthPlugins[string]> }).authPlugins;
  return { caching_sha2_password: plugins['caching_sha2_password']!({ onServerPublicKey: (key: Buffer) => onKey(key.toString()) }) };
}

async function one(conn: mysql.Connection, sql = 'SELECT 1 + 1 AS v'): Promise<unknown> {
  const [rows] = await conn.query(sql);
  return (rows as { v: unknown }[])[0]!.v;
}

async function cli(port: number, user: string, password: string, extra: string[] = []): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP(
      'mariadb',
      ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', user, `-p${password}`, '-N', ...extra, '-e', 'SELECT 6 * 7'],
      { timeout: 20_000 },
    );
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

describe('caching_sha2_password, fast path', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy({ users: users() });
  });
  after(() => closeWhenIdle(proxy));

  test('mysql2 logs in as a caching_sha2 account (switch + fast auth) and runs queries', async () => {
    let key: string | undefined;
    const conn = await proxy.connect({ user: 'sha', password: 'sha-secret', authPlugins: sha2Plugin((k) => (key = k)) });
    try {
      assert.equal(await one(conn), 2);
      assert.equal(key, undefined, 'no full authentication on the fast path');
    } finally {
      await conn.end();
    }
    const d = await proxy.connect({ user: 'shad', password: 'digest-secret' });
    await d.end();
  });

  test('COM_CHANGE_USER to a caching_sha2 account and back to a native one', async () => {
    const conn = await proxy.connect();
    try {
      await conn.changeUser({ user: 'sha', password: 'sha-secret' });
      const [who] = await conn.query("SELECT 'switched' AS v");
      assert.deepEqual(who, [{ v: 'switched' }]);
      await conn.changeUser({ user: sb.user, password: sb.password });
      assert.equal(await one(conn), 2);
    } finally {
      await conn.end();
    }
  });

  test('a wrong password gets 1045; the native account keeps working', async () => {
    assert.equal(await errnoOf(() => proxy.connect({ user: 'sha', password: 'nope' })), 1045);
    assert.equal(await errnoOf(() => proxy.connect({ user: 'shad', password: 'sha-secret' })), 1045);
    const conn = await proxy.connect();
    await conn.end();
  });

  test('mariadb CLI as a caching_sha2 account', async (t) => {
    if (noPlugin) return t.skip(noPlugin);
    const ok = await cli(proxy.port, 'sha', 'sha-secret', ['--skip-ssl']);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /^42$/m);
    const wrong = await cli(proxy.port, 'sha', 'bad', ['--skip-ssl']);
    assert.match(wrong.out, /ERROR 1045 \(28000\)/, wrong.out);
    // Without its plugin the CLI cannot answer the switch: proof that caching_sha2 was used.
    const noPluginDir = await cli(proxy.port, 'sha', 'sha-secret', ['--skip-ssl', '--plugin-dir=/nonexistent']);
    assert.notEqual(noPluginDir.code, 0);
    assert.match(noPluginDir.out, /caching_sha2_password/, noPluginDir.out);
  });
});

describe('caching_sha2_password, full authentication (auth.cachingSha2FullAuth: always)', () => {
  let proxy: TestProxy;
  let noTls: string | false = false;
  before(async () => {
    noTls = sb.tls ? false : 'the sandbox has no TLS certificates';
    proxy = await startProxy({
      users: users(),
      auth: { cachingSha2FullAuth: 'always' },
      ...(sb.tls ? { tls: { cert: sb.tls.cert, key: sb.tls.key } } : {}),
    });
  });
  after(() => closeWhenIdle(proxy));

  test('mysql2 over plain TCP: asks for the RSA public key and sends the encrypted password', async () => {
    let key: string | undefined;
    const conn = await proxy.connect({ user: 'sha', password: 'sha-secret', authPlugins: sha2Plugin((k) => (key = k)) });
    try {
      assert.match(key ?? '', /-----BEGIN PUBLIC KEY-----/);
      assert.equal(await one(conn), 2);
    } finally {
      await conn.end();
    }
    assert.equal(await errnoOf(() => proxy.connect({ user: 'sha', password: 'nope' })), 1045);
  });

  test('mysql2 over TLS: the password in clear, no RSA key', async (t) => {
    if (noTls) return t.skip(noTls);
    let key: string | undefined;
    const conn = await proxy.connect({
      user: 'shad',
      password: 'digest-secret',
      ssl: { ca: readFileSync(sb.tls!.ca) },
      authPlugins: sha2Plugin((k) => (key = k)),
    });
    try {
      assert.equal(key, undefined);
      assert.equal(await one(conn), 2);
    } finally {
      await conn.end();
    }
    assert.equal(
      await errnoOf(() => proxy.connect({ user: 'shad', password: 'nope', ssl: { ca: readFileSync(sb.tls!.ca) } })),
      1045,
    );
  });

  test('mariadb CLI: full authentication over plain TCP (RSA) and over TLS', async (t) => {
    if (noPlugin) return t.skip(noPlugin);
    const plain = await cli(proxy.port, 'sha', 'sha-secret', ['--skip-ssl']);
    assert.equal(plain.code, 0, plain.out);
    assert.match(plain.out, /^42$/m);
    if (noTls) return;
    const secure = await cli(proxy.port, 'sha', 'sha-secret', [`--ssl-ca=${sb.tls!.ca}`, '--ssl-verify-server-cert']);
    assert.equal(secure.code, 0, secure.out);
    assert.match(secure.out, /^42$/m);
    const wrong = await cli(proxy.port, 'sha', 'bad', ['--skip-ssl']);
    assert.match(wrong.out, /ERROR 1045 \(28000\)/, wrong.out);
  });
});

test('a configured RSA key pair (auth.rsaPrivateKey / rsaPublicKey) is the one clients get', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-rsa-'));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(path.join(dir, 'private.pem'), privateKey);
  writeFileSync(path.join(dir, 'public.pem'), publicKey);
  const proxy = await startProxy({
    users: users(),
    auth: {
      cachingSha2FullAuth: 'always',
      rsaPrivateKey: path.join(dir, 'private.pem'),
      rsaPublicKey: path.join(dir, 'public.pem'),
    },
  });
  try {
    let key: string | undefined;
    const conn = await proxy.connect({ user: 'sha', password: 'sha-secret', authPlugins: sha2Plugin((k) => (key = k)) });
    await conn.end();
    assert.equal(key?.trim(), publicKey.trim());
  } finally {
    await closeWhenIdle(proxy);
    rmSync(dir, { recursive: true, force: true });
  }
});
