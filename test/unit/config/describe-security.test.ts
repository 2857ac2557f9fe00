/** `sluice check` warnings about weak client TLS and plain-text passwords on an exposed listener. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeConfig, type SluiceConfig } from '../../../src/config/index.js';
import { validateConfig } from '../../../src/config/index.js';
import { weakCipherEntries } from '../../../src/config/describe-security.js';

const NATIVE_HASH = '*' + 'A'.repeat(40);

function config(extra: Record<string, unknown> = {}): SluiceConfig {
  return validateConfig({
    listen: { host: '127.0.0.1', port: 8066 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: { name: 'dh1', user: 'app', password: 'app', writeHosts: [{ host: 'db1', port: 3306 }], readHosts: [{ host: 'db2', port: 3306 }], failover: { dnindexFile: '/tmp/dnindex' } },
    ...extra,
  });
}

/** A validated config with a `tls` section as the checker leaves it (no files needed here). */
function withTls(c: SluiceConfig, tls: Partial<NonNullable<SluiceConfig['tls']>>): SluiceConfig {
  return { ...c, tls: { cert: '/x/cert.pem', key: '/x/key.pem', require: false, minVersion: 'TLSv1.2', ...tls } };
}

const warningsOf = (c: SluiceConfig): readonly string[] => describeConfig(c).warnings;

test('loopback listener, defaults: no security warning', () => {
  assert.deepEqual(warningsOf(config()), []);
  assert.deepEqual(warningsOf(withTls(config(), {})), []);
  assert.deepEqual(warningsOf(withTls(config(), { minVersion: 'TLSv1.3', ciphers: 'HIGH:!aNULL:!MD5:!RC4' })), []);
});

test('tls.minVersion below TLSv1.2 is a warning', () => {
  for (const v of ['TLSv1', 'TLSv1.1'] as const) {
    const w = warningsOf(withTls(config(), { minVersion: v }));
    assert.equal(w.length, 1, w.join('\n'));
    assert.match(w[0]!, new RegExp(`^tls\\.minVersion is ${v.replace('.', '\\.')}: TLS 1\\.0 and 1\\.1 are deprecated`));
  }
});

test('tls.ciphers with weak suites is a warning naming them; removed ones are not', () => {
  const w = warningsOf(withTls(config(), { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:RC4-SHA:DES-CBC3-SHA:NULL-MD5:EXP-RC4-MD5:!aNULL:-3DES' }));
  assert.equal(w.length, 1, w.join('\n'));
  assert.match(w[0]!, /^tls\.ciphers allows weak suites \(RC4-SHA, DES-CBC3-SHA, NULL-MD5, EXP-RC4-MD5\)/);
  assert.deepEqual(weakCipherEntries('HIGH:!RC4:!3DES:!eNULL:!EXPORT:!MD5:-DES'), []);
  assert.deepEqual(weakCipherEntries('DEFAULT:+3DES'), ['+3DES']);
  assert.deepEqual(weakCipherEntries('ALL:eNULL'), ['eNULL']);
  assert.deepEqual(weakCipherEntries('ECDHE+AESGCM:aNULL'), ['aNULL']);
  assert.deepEqual(weakCipherEntries('DEFAULT@SECLEVEL=1 @SECLEVEL=0'), ['@SECLEVEL=0']);
  assert.deepEqual(weakCipherEntries('TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256'), []);
  assert.deepEqual(weakCipherEntries('ADH-AES256-SHA:ECDHE-RSA-RC4-SHA'), ['ADH-AES256-SHA', 'ECDHE-RSA-RC4-SHA']);
});

test('a listener off loopback without TLS: a warning naming the plain-text passwords, never their values', () => {
  const c = config({
    listen: { host: '0.0.0.0', port: 8066 },
    users: [
      { name: 'app', password: 's3cret-app' },
      { name: 'hashed', password: NATIVE_HASH },
      { name: 'report', password: 'r3port' },
    ],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'backend-pw',
      writeHosts: [{ host: 'db1', port: 3306 }, { host: 'db2', port: 3306 }],
      failover: { enabled: true, promote: true, user: 'adm', password: 'fo-pw', dnindexFile: '/tmp/dnindex' },
    },
    admin: { host: '127.0.0.1', port: 9066, user: 'admin', password: 'adm1n-pw' },
  });
  const w = warningsOf(c).filter((x) => x.startsWith('clients connect to'));
  assert.equal(w.length, 1, warningsOf(c).join('\n'));
  assert.match(
    w[0]!,
    /^clients connect to 0\.0\.0\.0 \(not loopback\) without TLS \(no tls section\): .*plain-text passwords \(users\[app\]\.password, users\[report\]\.password, dataHost\.password, dataHost\.failover\.password, admin\.password\); configure tls/,
  );
  for (const secret of ['s3cret-app', 'r3port', 'backend-pw', 'fo-pw', 'adm1n-pw']) assert.ok(!w[0]!.includes(secret), `${secret} not in the warning`);
  // The listen default (all interfaces) counts as exposed.
  assert.ok(warningsOf(config({ listen: { port: 8066 } })).some((x) => x.startsWith('clients connect to 0.0.0.0 (not loopback)')));
  assert.ok(warningsOf(config({ listen: { host: '10.0.0.5', port: 8066 } })).some((x) => x.startsWith('clients connect to 10.0.0.5')));
  // With TLS for clients, or on loopback, none.
  assert.deepEqual(warningsOf(withTls(c, {})).filter((x) => x.startsWith('clients connect to')), []);
  for (const host of ['127.0.0.1', '::1', 'localhost']) {
    assert.deepEqual(warningsOf(config({ listen: { host, port: 8066 } })), [], host);
  }
});
