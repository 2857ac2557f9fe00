import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ConfigError, validateConfig } from '../../../src/config/index.js';

/** Smallest valid config; tests clone and break it. */
function minimal(): Record<string, any> {
  return {
    listen: { port: 8066 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'app',
      writeHosts: [{ host: '127.0.0.1', port: 3311 }],
    },
  };
}

function errorsOf(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(err.message.includes(err.errors[0] ?? '<none>'), 'message lists the problems');
    return [...err.errors];
  }
  assert.fail('expected validateConfig to throw');
}

function expectError(raw: unknown, expected: string): void {
  const errors = errorsOf(raw);
  assert.ok(errors.includes(expected), `expected ${JSON.stringify(expected)} among:\n${errors.join('\n')}`);
}

function mutate(fn: (c: Record<string, any>) => void): Record<string, any> {
  const c = minimal();
  fn(c);
  return c;
}

test('defaults are applied to a minimal config', () => {
  const c = validateConfig(minimal());
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 8066 });
  assert.deepEqual(c.users, [{ name: 'app', password: 'app' }]);
  assert.equal(c.dataHost.balance, 1);
  assert.equal(c.dataHost.loadBalance, 'round-robin');
  assert.deepEqual(c.dataHost.writeHosts, [{ host: '127.0.0.1', port: 3311, weight: 1 }]);
  assert.deepEqual(c.dataHost.readHosts, []);
  assert.deepEqual(c.dataHost.pool, { min: 2, max: 64, idleTimeoutMs: 60000, acquireTimeoutMs: 10000, connectTimeoutMs: 3000 });
  assert.deepEqual(c.dataHost.heartbeat, { sql: 'SELECT 1', intervalMs: 1000, timeoutMs: 1000, retries: 3 });
  assert.deepEqual(c.dataHost.failover, {
    enabled: false,
    dnindexFile: 'conf/dnindex.properties',
    promote: false,
    rejoin: false,
    catchUpTimeoutMs: 60_000,
    promotionWaitMs: 10_000,
    // Off with failover off: no other writeHost could take a transaction over.
    transactionReplay: false,
    transactionReplayMaxBytes: 1024 * 1024,
  });
  assert.deepEqual(c.dataHost.replication, { maxLagSeconds: 10, checkEveryMs: 2000, readmitAfter: 3 });
  assert.deepEqual(c.session, {
    holdConnectionMs: 50,
    maxPacketSize: 64 * 1024 * 1024,
    readYourWritesMs: 0,
    consistency: 'session',
    consistencyTimeoutMs: 2000,
    idleTimeoutMs: 0,
    writeTimeoutMs: 60000,
  });
  assert.deepEqual(c.log, { level: 'info', format: 'auto', sql: false, slowMs: 0, maxStatementLength: 1024, maskLiterals: false });
  assert.deepEqual(c.clients, []);
  assert.equal(c.maxConnections, 4096);
  assert.equal(c.admin, undefined);
  assert.equal(c.http, undefined);
  assert.equal(c.serverVersion, undefined);
  assert.ok(!('serverVersion' in c));
});

test('failover is enabled by default with two writeHosts, and can be turned off', () => {
  const two = mutate((c) => c.dataHost.writeHosts.push({ host: '127.0.0.1', port: 3312 }));
  assert.equal(validateConfig(two).dataHost.failover.enabled, true);
  two.dataHost.failover = { enabled: false };
  assert.equal(validateConfig(two).dataHost.failover.enabled, false);
});

test('failover.user / failover.password: the promotion account, optional, given together', () => {
  const c = validateConfig(mutate((c) => (c.dataHost.failover = { promote: true, user: 'sluice_admin', password: 'admin' })));
  assert.equal(c.dataHost.failover.user, 'sluice_admin');
  assert.equal(c.dataHost.failover.password, 'admin');
  const empty = validateConfig(mutate((c) => (c.dataHost.failover = { user: 'root', password: '' })));
  assert.equal(empty.dataHost.failover.password, '');
  const none = validateConfig(minimal());
  assert.equal(none.dataHost.failover.user, undefined, 'absent: dataHost.user is used');
  assert.equal(none.dataHost.failover.password, undefined);
  expectError(
    mutate((c) => (c.dataHost.failover = { user: 'root' })),
    'dataHost.failover.password: is required when failover.user is set (use "" for an empty password)',
  );
  expectError(mutate((c) => (c.dataHost.failover = { password: 'x' })), 'dataHost.failover.user: is required when failover.password is set');
  expectError(mutate((c) => (c.dataHost.failover = { user: '', password: 'x' })), 'dataHost.failover.user: must not be empty');
  expectError(mutate((c) => (c.dataHost.failover = { user: 'a', password: 5 })), 'dataHost.failover.password: must be a string (quote it in YAML), got 5');
  expectError(mutate((c) => (c.dataHost.failover = { usr: 'a' })), 'dataHost.failover.usr: unknown key (did you mean "user"?)');
});

test('failover.rejoin needs promote; its replication account is given together', () => {
  const c = validateConfig(mutate((c) => (c.dataHost.failover = { promote: true, rejoin: true, replicationUser: 'repl', replicationPassword: 'r' })));
  assert.deepEqual([c.dataHost.failover.rejoin, c.dataHost.failover.replicationUser, c.dataHost.failover.replicationPassword], [true, 'repl', 'r']);
  expectError(
    mutate((c) => (c.dataHost.failover = { rejoin: true })),
    'dataHost.failover.rejoin: needs failover.promote: true (servers are re-pointed at a writeHost the proxy has promoted)',
  );
  expectError(
    mutate((c) => (c.dataHost.failover = { promote: true, rejoin: true, replicationUser: 'repl' })),
    'dataHost.failover.replicationPassword: replicationUser and replicationPassword are given together',
  );
});

test('failover.catchUpTimeoutMs / promotionWaitMs: configurable, range-checked', () => {
  const c = validateConfig(mutate((c) => (c.dataHost.failover = { promote: true, catchUpTimeoutMs: 5000, promotionWaitMs: 0 })));
  assert.deepEqual([c.dataHost.failover.catchUpTimeoutMs, c.dataHost.failover.promotionWaitMs], [5000, 0]);
  const errors = errorsOf(mutate((c) => (c.dataHost.failover = { catchUpTimeoutMs: 500, promotionWaitMs: -1 })));
  assert.ok(errors.some((e) => e.startsWith('dataHost.failover.catchUpTimeoutMs:')), errors.join('\n'));
  assert.ok(errors.some((e) => e.startsWith('dataHost.failover.promotionWaitMs:')), errors.join('\n'));
});

test('explicit values are kept', () => {
  const c = validateConfig(
    mutate((c) => {
      c.listen.host = '10.0.0.1';
      c.users[0].defaultSchema = 'shop';
      c.dataHost.balance = 3;
      c.dataHost.loadBalance = 'consistent-hash';
      c.dataHost.readHosts = [{ host: 'r1', port: 3306, weight: 0 }];
      c.dataHost.pool = { min: 0, max: 1, idleTimeoutMs: 5, acquireTimeoutMs: 6, connectTimeoutMs: 7 };
      c.dataHost.heartbeat = { sql: 'SELECT user()', intervalMs: 10, timeoutMs: 20, retries: 1 };
      c.dataHost.failover = { enabled: true, dnindexFile: '/var/lib/sluice/dnindex', promote: true };
      c.dataHost.replication = { maxLagSeconds: 0.5, checkEveryMs: 100, readmitAfter: 1 };
      c.session = { holdConnectionMs: 0, maxPacketSize: 1024, readYourWritesMs: 250, consistency: 'global', consistencyTimeoutMs: 300, idleTimeoutMs: 900000, writeTimeoutMs: 0 };
      c.log = { level: 'silent' };
      c.serverVersion = '8.0.36-sluice';
    }),
  );
  assert.equal(c.listen.host, '10.0.0.1');
  assert.equal(c.users[0]?.defaultSchema, 'shop');
  assert.equal(c.dataHost.balance, 3);
  assert.equal(c.dataHost.loadBalance, 'consistent-hash');
  assert.deepEqual(c.dataHost.readHosts, [{ host: 'r1', port: 3306, weight: 0 }]);
  assert.deepEqual(c.dataHost.pool, { min: 0, max: 1, idleTimeoutMs: 5, acquireTimeoutMs: 6, connectTimeoutMs: 7 });
  assert.deepEqual(c.dataHost.heartbeat, { sql: 'SELECT user()', intervalMs: 10, timeoutMs: 20, retries: 1 });
  assert.deepEqual(c.dataHost.failover, {
    enabled: true,
    dnindexFile: '/var/lib/sluice/dnindex',
    promote: true,
    rejoin: false,
    catchUpTimeoutMs: 60_000,
    promotionWaitMs: 10_000,
    transactionReplay: true,
    transactionReplayMaxBytes: 1024 * 1024,
  });
  assert.deepEqual(c.dataHost.replication, { maxLagSeconds: 0.5, checkEveryMs: 100, readmitAfter: 1 });
  assert.deepEqual(c.session, { holdConnectionMs: 0, maxPacketSize: 1024, readYourWritesMs: 250, consistency: 'global', consistencyTimeoutMs: 300, idleTimeoutMs: 900000, writeTimeoutMs: 0 });
  assert.equal(c.log.level, 'silent');
  assert.equal(c.serverVersion, '8.0.36-sluice');
});

test('null sections and values (empty YAML values) mean "use the default"', () => {
  const c = validateConfig(
    mutate((c) => {
      c.dataHost.readHosts = null;
      c.dataHost.pool = null;
      c.dataHost.heartbeat = { retries: null };
      c.session = null;
    }),
  );
  assert.deepEqual(c.dataHost.readHosts, []);
  assert.equal(c.dataHost.pool.max, 64);
  assert.equal(c.dataHost.heartbeat.retries, 3);
});

test('the result is deep-frozen and does not alias the input', () => {
  const raw = minimal();
  const c = validateConfig(raw);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.dataHost));
  assert.ok(Object.isFrozen(c.dataHost.writeHosts));
  assert.ok(Object.isFrozen(c.dataHost.writeHosts[0]));
  assert.ok(Object.isFrozen(c.users[0]));
  assert.ok(Object.isFrozen(c.dataHost.pool));
  assert.throws(() => {
    (c.dataHost.pool as { max: number }).max = 1;
  }, TypeError);
  raw.dataHost.writeHosts[0].port = 1;
  assert.equal(c.dataHost.writeHosts[0]?.port, 3311);
  assert.ok(!Object.isFrozen(raw.dataHost));
});

test('baseDir resolves a relative dnindexFile and places the default next to the config', () => {
  const base = path.resolve('/etc/sluice');
  assert.equal(validateConfig(minimal(), { baseDir: base }).dataHost.failover.dnindexFile, path.join(base, 'dnindex.properties'));
  const rel = mutate((c) => (c.dataHost.failover = { dnindexFile: 'state/dnindex' }));
  assert.equal(validateConfig(rel, { baseDir: base }).dataHost.failover.dnindexFile, path.join(base, 'state/dnindex'));
  const abs = mutate((c) => (c.dataHost.failover = { dnindexFile: '/var/dnindex' }));
  assert.equal(validateConfig(abs, { baseDir: base }).dataHost.failover.dnindexFile, '/var/dnindex');
});

test('listen.port 0 means "any free port" (tests)', () => {
  assert.equal(validateConfig(mutate((c) => (c.listen.port = 0))).listen.port, 0);
});

test('the root must be a mapping', () => {
  assert.deepEqual(errorsOf(null), ['(root): must be a mapping, got null']);
  assert.deepEqual(errorsOf([1]), ['(root): must be a mapping, got a list']);
  assert.deepEqual(errorsOf('listen: 1'), ['(root): must be a mapping, got "listen: 1"']);
});

test('required sections and fields', () => {
  assert.deepEqual(errorsOf({}), [
    'listen: is required (host and port the proxy listens on)',
    'users: is required (a non-empty list)',
    'dataHost: is required',
  ]);
  expectError(mutate((c) => delete c.listen.port), 'listen.port: is required');
  expectError(mutate((c) => delete c.users[0].name), 'users[0].name: is required');
  expectError(mutate((c) => delete c.users[0].password), 'users[0].password: is required');
  expectError(mutate((c) => delete c.dataHost.name), 'dataHost.name: is required');
  expectError(mutate((c) => delete c.dataHost.user), 'dataHost.user: is required');
  expectError(mutate((c) => delete c.dataHost.password), 'dataHost.password: is required');
  expectError(mutate((c) => delete c.dataHost.writeHosts), 'dataHost.writeHosts: is required (a non-empty list)');
  expectError(mutate((c) => delete c.dataHost.writeHosts[0].host), 'dataHost.writeHosts[0].host: is required');
  expectError(mutate((c) => delete c.dataHost.writeHosts[0].port), 'dataHost.writeHosts[0].port: is required');
});

test('empty lists and strings', () => {
  expectError(mutate((c) => (c.users = [])), 'users: must not be empty');
  expectError(mutate((c) => (c.dataHost.writeHosts = [])), 'dataHost.writeHosts: must not be empty');
  expectError(mutate((c) => (c.users[0].name = '')), 'users[0].name: must not be empty');
  expectError(mutate((c) => (c.dataHost.writeHosts[0].host = ' ')), 'dataHost.writeHosts[0].host: must not be empty');
  expectError(mutate((c) => (c.dataHost.heartbeat = { sql: '' })), 'dataHost.heartbeat.sql: must not be empty');
  // empty passwords are legal (MySQL allows them)
  validateConfig(mutate((c) => ((c.users[0].password = ''), (c.dataHost.password = ''))));
});

test('unknown keys are errors, with a suggestion for near misses', () => {
  expectError(mutate((c) => (c.dataHost.writeHost = [])), 'dataHost.writeHost: unknown key (did you mean "writeHosts"?)');
  expectError(mutate((c) => (c.listen.prot = 1)), 'listen.prot: unknown key (did you mean "port"?)');
  expectError(mutate((c) => (c.dataHost.pool = { maxx: 3 })), 'dataHost.pool.maxx: unknown key (did you mean "max"?)');
  expectError(mutate((c) => (c.dataHost.heartbeat = { interval: 5 })), 'dataHost.heartbeat.interval: unknown key (did you mean "intervalMs"?)');
  expectError(mutate((c) => (c.users[0].pasword = 'x')), 'users[0].pasword: unknown key (did you mean "password"?)');
  expectError(mutate((c) => (c.dataHost.readHosts = [{ host: 'a', port: 1, wieght: 2 }])), 'dataHost.readHosts[0].wieght: unknown key (did you mean "weight"?)');
  expectError(mutate((c) => (c.frobnicate = true)), 'frobnicate: unknown key');
  expectError(mutate((c) => (c.log = { levle: 'info' })), 'log.levle: unknown key (did you mean "level"?)');
});

test('type and range errors', () => {
  expectError(
    mutate((c) => c.dataHost.writeHosts.push({ host: 'h', port: 'abc' })),
    'dataHost.writeHosts[1].port: must be an integer 1-65535, got "abc"',
  );
  expectError(mutate((c) => (c.listen.port = -1)), 'listen.port: must be an integer 0-65535, got -1');
  expectError(mutate((c) => (c.listen.port = 70000)), 'listen.port: must be an integer 0-65535, got 70000');
  expectError(mutate((c) => (c.listen.port = 80.5)), 'listen.port: must be an integer 0-65535, got 80.5');
  expectError(mutate((c) => (c.listen.port = '8066')), 'listen.port: must be an integer 0-65535, got "8066"');
  expectError(mutate((c) => (c.dataHost.writeHosts[0].port = 0)), 'dataHost.writeHosts[0].port: must be an integer 1-65535, got 0');
  expectError(mutate((c) => (c.listen.host = 5)), 'listen.host: must be a string (quote it in YAML), got 5');
  expectError(mutate((c) => (c.users[0].password = 123456)), 'users[0].password: must be a string (quote it in YAML), got 123456');
  expectError(mutate((c) => (c.dataHost.password = true)), 'dataHost.password: must be a string (quote it in YAML), got true');
  expectError(mutate((c) => (c.dataHost.writeHosts[0].weight = -1)), 'dataHost.writeHosts[0].weight: must be an integer >= 0, got -1');
  expectError(mutate((c) => (c.dataHost.balance = 4)), 'dataHost.balance: must be one of 0, 1, 2, 3, got 4');
  expectError(mutate((c) => (c.dataHost.balance = '1')), 'dataHost.balance: must be one of 0, 1, 2, 3, got "1"');
  expectError(
    mutate((c) => (c.dataHost.loadBalance = 'rr')),
    'dataHost.loadBalance: must be one of "round-robin", "least-conn", "consistent-hash", got "rr"',
  );
  expectError(mutate((c) => (c.dataHost.pool = { min: -1 })), 'dataHost.pool.min: must be an integer >= 0, got -1');
  expectError(mutate((c) => (c.dataHost.pool = { max: 0 })), 'dataHost.pool.max: must be an integer >= 1, got 0');
  expectError(mutate((c) => (c.dataHost.pool = { idleTimeoutMs: 0 })), 'dataHost.pool.idleTimeoutMs: must be an integer 1-2147483647, got 0');
  expectError(
    mutate((c) => (c.dataHost.pool = { acquireTimeoutMs: 2 ** 31 })),
    'dataHost.pool.acquireTimeoutMs: must be an integer 1-2147483647, got 2147483648',
  );
  expectError(mutate((c) => (c.dataHost.pool = { connectTimeoutMs: null, min: 'x' })), 'dataHost.pool.min: must be an integer >= 0, got "x"');
  expectError(mutate((c) => (c.dataHost.heartbeat = { retries: 0 })), 'dataHost.heartbeat.retries: must be an integer >= 1, got 0');
  expectError(mutate((c) => (c.dataHost.heartbeat = { intervalMs: 0 })), 'dataHost.heartbeat.intervalMs: must be an integer 1-2147483647, got 0');
  expectError(mutate((c) => (c.dataHost.heartbeat = { timeoutMs: -5 })), 'dataHost.heartbeat.timeoutMs: must be an integer 1-2147483647, got -5');
  expectError(mutate((c) => (c.dataHost.failover = { enabled: 'yes' })), 'dataHost.failover.enabled: must be true or false, got "yes"');
  expectError(mutate((c) => (c.dataHost.failover = { promote: 1 })), 'dataHost.failover.promote: must be true or false, got 1');
  expectError(mutate((c) => (c.dataHost.failover = { dnindexFile: '' })), 'dataHost.failover.dnindexFile: must not be empty');
  expectError(mutate((c) => (c.dataHost.replication = { maxLagSeconds: -1 })), 'dataHost.replication.maxLagSeconds: must be a number >= 0, got -1');
  expectError(
    mutate((c) => (c.dataHost.replication = { maxLagSeconds: Number.POSITIVE_INFINITY })),
    'dataHost.replication.maxLagSeconds: must be a number >= 0, got Infinity',
  );
  expectError(mutate((c) => (c.dataHost.replication = { checkEveryMs: 0 })), 'dataHost.replication.checkEveryMs: must be an integer 1-2147483647, got 0');
  expectError(mutate((c) => (c.dataHost.replication = { readmitAfter: 0 })), 'dataHost.replication.readmitAfter: must be an integer >= 1, got 0');
  expectError(mutate((c) => (c.session = { holdConnectionMs: -1 })), 'session.holdConnectionMs: must be an integer 0-2147483647, got -1');
  expectError(mutate((c) => (c.session = { maxPacketSize: 100 })), 'session.maxPacketSize: must be an integer 1024-1073741824, got 100');
  expectError(mutate((c) => (c.log = { level: 'verbose' })), 'log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "verbose"');
  expectError(mutate((c) => (c.serverVersion = 8)), 'serverVersion: must be a string (quote it in YAML), got 8');
  expectError(mutate((c) => (c.users[0].defaultSchema = '')), 'users[0].defaultSchema: must not be empty');
  expectError(mutate((c) => (c.dataHost.name = 'dh 1')), 'dataHost.name: must contain only letters, digits, "_", "." and "-" (it is a key in the dnindex file), got "dh 1"');
});

test('wrong container types', () => {
  expectError(mutate((c) => (c.listen = 8066)), 'listen: must be a mapping, got 8066');
  expectError(mutate((c) => (c.users = { name: 'app' })), 'users: must be a list, got a mapping');
  expectError(mutate((c) => (c.users = ['app'])), 'users[0]: must be a mapping, got "app"');
  expectError(mutate((c) => (c.dataHost.readHosts = '127.0.0.1:3312')), 'dataHost.readHosts: must be a list, got "127.0.0.1:3312"');
  expectError(mutate((c) => (c.dataHost.pool = [])), 'dataHost.pool: must be a mapping, got a list');
  expectError(mutate((c) => (c.dataHost = 'dh1')), 'dataHost: must be a mapping, got "dh1"');
});

test('pool.min > pool.max is an error, never clamped', () => {
  expectError(mutate((c) => (c.dataHost.pool = { min: 10, max: 5 })), 'dataHost.pool.min: must be <= pool.max (5), got 10');
  expectError(mutate((c) => (c.dataHost.pool = { min: 65 })), 'dataHost.pool.min: must be <= pool.max (64), got 65');
});

test('duplicate host:port across writeHosts and readHosts', () => {
  expectError(
    mutate((c) => (c.dataHost.readHosts = [{ host: '127.0.0.1', port: 3312 }, { host: '127.0.0.1', port: 3311 }])),
    'dataHost.readHosts[1]: duplicate host 127.0.0.1:3311 (also dataHost.writeHosts[0])',
  );
  expectError(
    mutate((c) => c.dataHost.writeHosts.push({ host: '127.0.0.1', port: 3311 })),
    'dataHost.writeHosts[1]: duplicate host 127.0.0.1:3311 (also dataHost.writeHosts[0])',
  );
  expectError(
    mutate((c) => (c.dataHost.readHosts = [{ host: 'localhost', port: 3311 }])),
    'dataHost.readHosts[0]: duplicate host localhost:3311 (also dataHost.writeHosts[0])',
  );
  expectError(
    mutate((c) => (c.dataHost.readHosts = [{ host: 'DB1', port: 3306 }, { host: 'db1', port: 3306 }])),
    'dataHost.readHosts[1]: duplicate host db1:3306 (also dataHost.readHosts[0])',
  );
  // same host, other port: fine
  validateConfig(mutate((c) => (c.dataHost.readHosts = [{ host: '127.0.0.1', port: 3312 }])));
});

test('duplicate user names', () => {
  expectError(
    mutate((c) => c.users.push({ name: 'bob', password: '' }, { name: 'app', password: 'x' })),
    'users[2].name: duplicate user "app" (also users[0])',
  );
});

test('every problem is reported at once', () => {
  const errors = errorsOf({
    listen: { port: 'abc', hots: 'x' },
    users: [{ name: 'a', password: 1 }, { name: 'a', password: 'b' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      writeHosts: [{ host: 'h', port: 1 }, { host: 'h', port: 1 }],
      pool: { min: 9, max: 3 },
      heartbeat: { retries: 0 },
      balance: 7,
    },
    log: { level: 'loud' },
  });
  assert.deepEqual(errors, [
    'listen.hots: unknown key (did you mean "host"?)',
    'listen.port: must be an integer 0-65535, got "abc"',
    'users[0].password: must be a string (quote it in YAML), got 1',
    'users[1].name: duplicate user "a" (also users[0])',
    'dataHost.writeHosts[1]: duplicate host h:1 (also dataHost.writeHosts[0])',
    'dataHost.balance: must be one of 0, 1, 2, 3, got 7',
    'dataHost.password: is required',
    'dataHost.pool.min: must be <= pool.max (3), got 9',
    'dataHost.heartbeat.retries: must be an integer >= 1, got 0',
    'log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"',
  ]);
});

test('ConfigError message lists every problem', () => {
  const err = new ConfigError(['a: x', 'b: y'], 'conf/x.yaml');
  assert.equal(err.name, 'ConfigError');
  assert.equal(err.message, 'invalid configuration in conf/x.yaml (2 problems):\n  - a: x\n  - b: y');
  assert.ok(Object.isFrozen(err.errors));
});

test('operations settings: clients whitelist, limits, admin and http endpoints', () => {
  const c = validateConfig({
    ...minimal(),
    clients: ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'],
    maxConnections: 100,
    admin: { port: 9066, user: 'admin', password: 'secret' },
    http: { port: 9067 },
    users: [{ name: 'app', password: 'app', maxConnections: 5 }],
  });
  assert.deepEqual(c.clients, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
  assert.equal(c.maxConnections, 100);
  assert.deepEqual(c.admin, { host: '127.0.0.1', port: 9066, user: 'admin', password: 'secret' });
  assert.deepEqual(c.http, { host: '127.0.0.1', port: 9067 });
  assert.equal(c.users[0]!.maxConnections, 5);
  assert.throws(
    () => validateConfig({ ...minimal(), clients: ['10.0.0.0/33', 'example.com'], admin: { port: 9066, user: 'a', password: 'b' }, http: { port: 9066 } }),
    (err: unknown) => {
      const e = err as ConfigError;
      assert.ok(e.errors.some((m) => m.startsWith('clients[0]:')));
      assert.ok(e.errors.some((m) => m.startsWith('clients[1]:')));
      assert.ok(e.errors.some((m) => m.startsWith('http.port:')));
      return true;
    },
  );
});

test('limits: defaults like MariaDB connect_timeout / max_connect_errors, every problem listed, unknown keys refused', () => {
  assert.deepEqual(validateConfig(minimal()).limits, {
    handshakeTimeoutMs: 10_000,
    maxUnauthenticated: 256,
    maxUnauthenticatedPerAddress: 32,
    failedLoginThreshold: 3,
    failedLoginMaxDelayMs: 30_000,
    maxConnectErrors: 100,
  });
  const c = validateConfig({ ...minimal(), limits: { handshakeTimeoutMs: 0, maxConnectErrors: 0, failedLoginThreshold: 0 } });
  assert.equal(c.limits.handshakeTimeoutMs, 0);
  assert.equal(c.limits.maxConnectErrors, 0);
  assert.deepEqual(
    errorsOf({ ...minimal(), limits: { handshakeTimeoutMs: -1, failedLoginMaxDelayMs: 10, maxUnauthenticated: 4, maxUnauthenticatedPerAddress: 8, maxConnectError: 1 } }),
    [
      'limits.maxConnectError: unknown key (did you mean "maxConnectErrors"?)',
      'limits.handshakeTimeoutMs: must be an integer 0-2147483647, got -1',
      'limits.failedLoginMaxDelayMs: must be an integer 1000-2147483647, got 10',
      'limits.maxUnauthenticatedPerAddress: is larger than limits.maxUnauthenticated (4)',
    ],
  );
});
