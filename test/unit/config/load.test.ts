import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile, parseConfigText, saveConfigFile, validateConfig } from '../../../src/config/index.js';
import { SANDBOX_APP, SANDBOX_DEFAULT_PORTS, sandboxProxyConfig } from '../../../src/sandbox/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const example = path.join(repoRoot, 'conf/sluice.yaml');

function tmpDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'sluice-config-test-'));
}

function configErrors(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return [...err.errors];
  }
  assert.fail('expected a ConfigError');
}

test('conf/sluice.yaml validates and matches the sandbox defaults', () => {
  const c = loadConfigFile(example);
  assert.deepEqual(c.listen, { host: '127.0.0.1', port: 8066 });
  assert.deepEqual(c.users.map((u) => [u.name, u.password]), [['app', 'app']]);
  assert.equal(c.dataHost.name, 'dh1');
  assert.equal(c.dataHost.user, 'app');
  assert.equal(c.dataHost.password, 'app');
  assert.deepEqual(c.dataHost.writeHosts.map((h) => `${h.host}:${h.port}`), ['127.0.0.1:3311']);
  assert.deepEqual(c.dataHost.readHosts.map((h) => `${h.host}:${h.port}`), ['127.0.0.1:3312', '127.0.0.1:3313']);
  // the example spells out the defaults
  assert.deepEqual(c.dataHost.pool, { min: 2, max: 64, idleTimeoutMs: 60000, acquireTimeoutMs: 10000, connectTimeoutMs: 3000 });
  assert.deepEqual(c.dataHost.heartbeat, { sql: 'SELECT 1', intervalMs: 1000, timeoutMs: 1000, retries: 3 });
  assert.deepEqual(c.session, {
    holdConnectionMs: 50,
    maxPacketSize: 64 * 1024 * 1024,
    readYourWritesMs: 0,
    consistency: 'session',
    consistencyTimeoutMs: 2000,
    idleTimeoutMs: 0,
    writeTimeoutMs: 60000,
  });
  // relative dnindexFile → next to the config file (conf/dnindex.properties)
  assert.equal(c.dataHost.failover.dnindexFile, path.join(repoRoot, 'conf/dnindex.properties'));
  assert.ok(Object.isFrozen(c.dataHost.readHosts));
});

test('conf/sluice.yaml is the sandbox proxy config on its default ports, except for the differences both name', () => {
  const fromFile = loadConfigFile(example);
  const d = SANDBOX_DEFAULT_PORTS;
  const host = '127.0.0.1';
  const sandbox = validateConfig(
    sandboxProxyConfig(
      {
        primary: { host, port: d.servers },
        replicas: [{ host, port: d.servers + 1 }, { host, port: d.servers + 2 }],
        user: SANDBOX_APP.user,
        password: SANDBOX_APP.password,
        // the sandbox keeps its dnindex file in its own directory (difference 1)
        dir: path.dirname(example),
      },
      d.listen,
      // a fresh admin password per sandbox run instead of "admin" (difference 2)
      { admin: { port: d.admin, password: fromFile.admin!.password }, http: { port: d.http } },
    ),
  );
  // The example spells out what the sandbox leaves to defaults or to its connect line
  // (difference 3: defaultSchema; auth is the default plugin).
  const users = fromFile.users.map(({ defaultSchema: _s, auth: _a, ...u }) => u);
  assert.equal(fromFile.users[0]?.defaultSchema, 'sluice_test');
  assert.deepEqual({ ...fromFile, users }, sandbox);
});

test('YAML syntax errors carry line and column', () => {
  const errors = configErrors(() => parseConfigText('listen:\n  port: 8066\nusers: [a, b\ndataHost: {}\n', 'x.yaml'));
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', /^x\.yaml:4:1: .+\(YAML syntax\)$/);
});

test('duplicate YAML keys are syntax errors, not last-one-wins', () => {
  const errors = configErrors(() => parseConfigText('listen:\n  port: 1\n  port: 2\n', 'dup.yaml'));
  assert.deepEqual(errors, ['dup.yaml:3:3: Map keys must be unique (YAML syntax)']);
});

test('an empty file is reported, not crashed on', () => {
  assert.deepEqual(
    configErrors(() => parseConfigText('', 'empty.yaml')),
    ['(root): must be a mapping, got null'],
  );
});

test('validation problems keep their paths and name the file in the message', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'listen: {port: 8066}\nusers: []\ndataHost: {name: x, user: u, password: p, writeHosts: [{host: h, port: abc}]}\n');
    let caught: unknown;
    try {
      loadConfigFile(file);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError);
    assert.deepEqual(caught.errors, ['users: must not be empty', 'dataHost.writeHosts[0].port: must be an integer 1-65535, got "abc"']);
    assert.match(caught.message, new RegExp(`in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(2 problems\\)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unreadable file is a ConfigError', () => {
  const errors = configErrors(() => loadConfigFile('/nonexistent/sluice.yaml'));
  assert.match(errors[0] ?? '', /^\/nonexistent\/sluice\.yaml: cannot read: ENOENT/);
});

test('relative dnindexFile is resolved against the config file directory', () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'a.yaml');
    const text = readFileSync(example, 'utf8').replace('dnindexFile: dnindex.properties', 'dnindexFile: state/dnindex.properties');
    writeFileSync(file, text);
    assert.equal(loadConfigFile(file).dataHost.failover.dnindexFile, path.join(dir, 'state/dnindex.properties'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('saveConfigFile writes atomically and round-trips', () => {
  const dir = tmpDir();
  try {
    const original = loadConfigFile(example);
    const file = path.join(dir, 'saved.yaml');
    saveConfigFile(file, original);
    assert.deepEqual(readdirSync(dir), ['saved.yaml'], 'no temp file left behind');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /dnindexFile: .*conf\/dnindex\.properties/);
    const again = loadConfigFile(file);
    assert.deepEqual(again, original);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
