/**
 * Config fields for TLS and authentication: top-level `tls` and `auth`, `users[].auth` and the
 * stored password forms, `dataHost.tls`. Paths are resolved against the config's directory and
 * must name usable files; every problem is listed at once.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, validateConfig } from '../../../src/config/index.js';
import { loadFrontendSecurity } from '../../../src/frontend/tls.js';
import { loadBackendTls } from '../../../src/backend/backend-tls.js';
import { cachingSha2StoredForm } from '../../../src/frontend/authenticate.js';
import { generateSandboxTls } from '../../../src/sandbox/index.js';

let dir: string;
let noCerts: string | false = false;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-config-tls-'));
  try {
    await generateSandboxTls(path.join(dir, 'certs'), path.join(dir, 'openssl.log'));
  } catch (err) {
    noCerts = `openssl CLI unavailable: ${(err as Error).message.split('\n')[0]}`;
  }
  const rsa = (name: string) => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    writeFileSync(path.join(dir, `${name}-private.pem`), privateKey);
    writeFileSync(path.join(dir, `${name}-public.pem`), publicKey);
  };
  rsa('a');
  rsa('b');
  writeFileSync(path.join(dir, 'garbage.pem'), 'not a pem\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

function minimal(extra: Record<string, unknown> = {}, dataHost: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { port: 8066 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: { name: 'dh1', user: 'app', password: 'app', writeHosts: [{ host: '127.0.0.1', port: 3311 }], ...dataHost },
    ...extra,
  };
}

function errorsOf(raw: unknown, baseDir = dir): string[] {
  try {
    validateConfig(raw, { baseDir });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.errors];
  }
  assert.fail('expected a ConfigError');
}

test('without the new keys nothing changes (no tls, no auth, no dataHost.tls, no users[].auth)', () => {
  const c = validateConfig(minimal());
  assert.equal(c.tls, undefined);
  assert.equal(c.auth, undefined);
  assert.equal(c.dataHost.tls, undefined);
  assert.deepEqual(c.users, [{ name: 'app', password: 'app' }]);
  const sec = loadFrontendSecurity(c);
  assert.equal(sec.tls, undefined);
  assert.equal(sec.cachingSha2FullAuth, 'never');
  assert.equal(loadBackendTls(c.dataHost.tls), undefined);
});

test('tls: paths relative to the config directory, require defaults to false, loads at start-up', (t) => {
  if (noCerts) return t.skip(noCerts);
  const c = validateConfig(minimal({ tls: { cert: 'certs/server-cert.pem', key: 'certs/server-key.pem', ca: 'certs/ca.pem' } }), { baseDir: dir });
  assert.deepEqual(c.tls, {
    cert: path.join(dir, 'certs/server-cert.pem'),
    key: path.join(dir, 'certs/server-key.pem'),
    ca: path.join(dir, 'certs/ca.pem'),
    require: false,
    minVersion: 'TLSv1.2',
  });
  const sec = loadFrontendSecurity(c);
  assert.ok(sec.tls?.context);
  assert.equal(sec.tls?.require, false);
  const r = validateConfig(minimal({ tls: { cert: 'certs/server-cert.pem', key: 'certs/server-key.pem', require: true } }), { baseDir: dir });
  assert.equal(r.tls?.require, true);
});

test('tls: every problem is listed (missing files, unusable PEM, wrong types, unknown keys)', (t) => {
  if (noCerts) return t.skip(noCerts);
  const errors = errorsOf(minimal({ tls: { cert: 'nope.pem', key: 'garbage.pem', ca: 'missing-ca.pem', require: 'yes', cipher: 'x' } }));
  const has = (re: RegExp) => assert.ok(errors.some((e) => re.test(e)), `${re} among:\n${errors.join('\n')}`);
  has(/^tls\.cert: file not found: .*nope\.pem$/);
  has(/^tls\.key: not a usable private key \(PEM\)/);
  has(/^tls\.ca: file not found: .*missing-ca\.pem$/);
  has(/^tls\.require: must be true or false, got "yes"$/);
  has(/^tls\.cipher: unknown key \(did you mean "ciphers"\?\)/);
  assert.deepEqual(errorsOf(minimal({ tls: {} })), ['tls.cert: is required', 'tls.key: is required']);
  // A key that does not match the certificate.
  const mismatch = errorsOf(minimal({ tls: { cert: 'certs/server-cert.pem', key: 'certs/ca-key.pem' } }));
  assert.ok(mismatch.some((e) => /^tls: not a usable certificate\/key pair/.test(e)), mismatch.join('\n'));
});

test('tls.minVersion and tls.ciphers: checked, and applied to the secure context', (t) => {
  if (noCerts) return t.skip(noCerts);
  const files = { cert: 'certs/server-cert.pem', key: 'certs/server-key.pem' };
  const c = validateConfig(minimal({ tls: { ...files, minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384' } }), { baseDir: dir });
  assert.equal(c.tls?.minVersion, 'TLSv1.3');
  assert.equal(c.tls?.ciphers, 'TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384');
  assert.ok(loadFrontendSecurity(c).tls?.context);
  const errors = errorsOf(minimal({ tls: { ...files, minVersion: 'TLSv1.4', ciphers: 'NO-SUCH-CIPHER' } }));
  const has = (re: RegExp) => assert.ok(errors.some((e) => re.test(e)), `${re} among:\n${errors.join('\n')}`);
  has(/^tls\.minVersion: must be one of "TLSv1", "TLSv1\.1", "TLSv1\.2", "TLSv1\.3", got "TLSv1\.4"$/);
  has(/^tls\.ciphers: not a usable cipher list: .*no cipher match/);
  assert.deepEqual(errorsOf(minimal({ tls: { ...files, ciphers: 7 } })), ['tls.ciphers: must be a string (quote it in YAML), got 7']);
});

test('users[].auth and the stored password forms', () => {
  const digest = cachingSha2StoredForm('pw');
  assert.match(digest, /^sha2:[0-9a-f]{64}$/);
  const c = validateConfig(
    minimal({
      users: [
        { name: 'a', password: 'pw', auth: 'caching_sha2_password' },
        { name: 'b', password: digest, auth: 'caching_sha2_password' },
        { name: 'c', password: '*' + 'A'.repeat(40), auth: 'mysql_native_password' },
      ],
    }),
  );
  assert.deepEqual(
    c.users.map((u) => u.auth),
    ['caching_sha2_password', 'caching_sha2_password', 'mysql_native_password'],
  );
  const errors = errorsOf(
    minimal({
      users: [
        { name: 'a', password: 'pw', auth: 'sha256_password' },
        { name: 'b', password: '*' + 'A'.repeat(40), auth: 'caching_sha2_password' },
        { name: 'c', password: digest },
        { name: 'd', password: 'sha2:abc', auth: 'caching_sha2_password' },
      ],
    }),
  );
  assert.equal(errors.length, 4, errors.join('\n'));
  assert.match(errors[0]!, /^users\[0\]\.auth: must be one of "mysql_native_password", "caching_sha2_password", got "sha256_password"$/);
  assert.match(errors[1]!, /^users\[1\]\.password: a mysql_native_password hash .* cannot authenticate a caching_sha2_password user/);
  assert.match(errors[2]!, /^users\[2\]\.password: a caching_sha2_password digest .* cannot authenticate a mysql_native_password user/);
  assert.match(errors[3]!, /^users\[3\]\.password: starts with "sha2:" but is not "sha2:" \+ 64 hex digits/);
});

test('dataHost.tls: defaults, CA path, servername; problems listed', (t) => {
  const plain = validateConfig(minimal({}, { tls: { enabled: true } }));
  assert.deepEqual(plain.dataHost.tls, { enabled: true, verify: true });
  assert.deepEqual(loadBackendTls(plain.dataHost.tls), { rejectUnauthorized: true });
  assert.equal(loadBackendTls(validateConfig(minimal({}, { tls: {} })).dataHost.tls), undefined, 'enabled defaults to false');
  const errors = errorsOf(minimal({}, { tls: { enabled: 'on', verify: 1, ca: 'none.pem', servername: '', sni: 'x' } }));
  assert.deepEqual(errors.sort(), [
    'dataHost.tls.ca: file not found: ' + path.join(dir, 'none.pem'),
    'dataHost.tls.enabled: must be true or false, got "on"',
    'dataHost.tls.servername: must not be empty',
    'dataHost.tls.sni: unknown key',
    'dataHost.tls.verify: must be true or false, got 1',
  ]);
  if (noCerts) return t.skip(noCerts);
  const c = validateConfig(minimal({}, { tls: { enabled: true, verify: false, ca: 'certs/ca.pem', servername: 'db.internal' } }), { baseDir: dir });
  assert.deepEqual(c.dataHost.tls, { enabled: true, verify: false, ca: path.join(dir, 'certs/ca.pem'), servername: 'db.internal' });
  const opts = loadBackendTls(c.dataHost.tls);
  assert.equal(opts?.rejectUnauthorized, false);
  assert.equal(opts?.servername, 'db.internal');
  assert.match(opts?.ca?.toString() ?? '', /BEGIN CERTIFICATE/);
});

test('auth: full-auth mode and RSA key files', async () => {
  const c = validateConfig(minimal({ auth: { cachingSha2FullAuth: 'always', rsaPrivateKey: 'a-private.pem' } }), { baseDir: dir });
  assert.deepEqual(c.auth, { cachingSha2FullAuth: 'always', rsaPrivateKey: path.join(dir, 'a-private.pem') });
  const sec = loadFrontendSecurity(c);
  assert.equal(sec.cachingSha2FullAuth, 'always');
  const keys = await sec.rsaKeys();
  assert.match(keys.publicPem, /BEGIN PUBLIC KEY/, 'public key derived from the private key');
  assert.deepEqual(validateConfig(minimal({ auth: {} })).auth, { cachingSha2FullAuth: 'never' });
  const generated = await loadFrontendSecurity(validateConfig(minimal())).rsaKeys();
  assert.match(generated.privatePem, /BEGIN PRIVATE KEY/, 'a key pair is generated when none is configured');

  const errors = errorsOf(minimal({ auth: { cachingSha2FullAuth: 'sometimes', rsaPublicKey: 'a-public.pem' } }));
  assert.deepEqual(errors, [
    'auth.cachingSha2FullAuth: must be one of "never", "always", got "sometimes"',
    'auth.rsaPublicKey: needs auth.rsaPrivateKey as well',
  ]);
  assert.deepEqual(errorsOf(minimal({ auth: { rsaPrivateKey: 'a-private.pem', rsaPublicKey: 'b-public.pem' } })), [
    'auth.rsaPublicKey: does not belong to auth.rsaPrivateKey',
  ]);
  const bad = errorsOf(minimal({ auth: { rsaPrivateKey: 'garbage.pem' } }));
  assert.match(bad[0]!, /^auth\.rsaPrivateKey: not a usable private key \(PEM\)/);
});
