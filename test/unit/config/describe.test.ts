/** describeConfig: what a configuration does, in words, and which settings do nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeConfig, validateConfig } from '../../../src/config/index.js';

function config(extra: { dataHost?: Record<string, unknown>; top?: Record<string, unknown> } = {}) {
  return validateConfig({
    listen: { host: '127.0.0.1', port: 8066 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'app',
      writeHosts: [{ host: 'db1', port: 3306 }, { host: 'db2', port: 3306 }],
      readHosts: [{ host: 'db3', port: 3306 }],
      failover: { enabled: true, promote: true, user: 'sluice_admin', password: 'x', dnindexFile: '/tmp/dnindex' },
      ...extra.dataHost,
    },
    ...extra.top,
  });
}

test('balance 0 is described without a load balancer; the consistency mode is described', () => {
  const text = describeConfig(config({ dataHost: { balance: 0 } })).lines.join('\n');
  assert.match(text, /reads: balance 0: every read goes to the writeHost \(no splitting\); /);
  assert.doesNotMatch(text, /spread by/);
  assert.match(describeConfig(config()).lines.join('\n'), /a session's reads see its own writes \(consistency: session, by GTID\) \(waiting at most 2000 ms/);
});

test('a sound configuration: its behaviour in words, no warnings', () => {
  const { lines, warnings } = describeConfig(config());
  assert.deepEqual(warnings, []);
  const text = lines.join('\n');
  assert.match(text, /clients connect to 127\.0\.0\.1:8066 as app; from any address; at most 4096 connections/);
  assert.match(text, /writeHost db1:3306, then db2:3306 in that order/);
  assert.match(text, /reads: balance 1: reads go to the readHosts and the standby writeHosts, spread by round-robin/);
  assert.match(text, /failover: on — after about 4000 ms without an answer \(3 × 1000 ms \+ 1000 ms\)/);
  assert.match(text, /promotes it \(STOP REPLICA, read_only=OFF\) and fences the others/);
  assert.match(text, /back after 3 healthy checks, one every 2000 ms \(about 6 s\)/);
  assert.match(text, /admin port off; HTTP off/);
});

const cases: { name: string; extra: Parameters<typeof config>[0]; warning: RegExp }[] = [
  { name: 'balance 0 with readHosts', extra: { dataHost: { balance: 0 } }, warning: /balance is 0: the 1 readHost\(s\) never get reads/ },
  {
    name: 'balance 3 with only weight-0 readHosts',
    extra: { dataHost: { balance: 3, readHosts: [{ host: 'db3', port: 3306, weight: 0 }] } },
    warning: /balance is 3 \(readHosts only\) but no readHost has a weight above 0/,
  },
  {
    name: 'failover off with a standby',
    extra: { dataHost: { failover: { enabled: false, dnindexFile: '/tmp/dnindex' } } },
    warning: /failover.enabled is false with several writeHosts/,
  },
  {
    name: 'failover without promote',
    extra: { dataHost: { failover: { enabled: true, promote: false, dnindexFile: '/tmp/dnindex' } } },
    warning: /promote is false: a standby that runs read_only=ON .* is never chosen/,
  },
  {
    name: 'promote without its own account',
    extra: { dataHost: { failover: { enabled: true, promote: true, dnindexFile: '/tmp/dnindex' } } },
    warning: /promote without failover.user/,
  },
  {
    name: 'rejoin without a replication account',
    extra: { dataHost: { failover: { enabled: true, promote: true, rejoin: true, user: 'a', password: 'b', dnindexFile: '/tmp/dnindex' } } },
    warning: /rejoin without replicationUser/,
  },
  {
    name: 'heartbeat timeout above the interval',
    extra: { dataHost: { heartbeat: { intervalMs: 500, timeoutMs: 2000 } } },
    warning: /timeoutMs \(2000\) is above intervalMs \(500\)/,
  },
  {
    name: 'admin port on all interfaces with a plain password',
    extra: { top: { admin: { host: '0.0.0.0', port: 9066, user: 'admin', password: 'secret' } } },
    warning: /admin port listens on 0\.0\.0\.0 with a plain-text password/,
  },
  {
    name: 'failover on with one writeHost',
    extra: { dataHost: { writeHosts: [{ host: 'db1', port: 3306 }], failover: { enabled: true, dnindexFile: '/tmp/dnindex' } } },
    warning: /failover.enabled is true with one writeHost: there is nothing to fail over to/,
  },
  {
    name: 'readYourWritesMs (deprecated)',
    extra: { top: { session: { readYourWritesMs: 500 } } },
    warning: /session.readYourWritesMs is deprecated/,
  },
  {
    name: 'the default admin password',
    extra: { top: { admin: { host: '127.0.0.1', port: 9066, user: 'admin', password: 'admin' } } },
    warning: /the admin password is "admin"/,
  },
];

for (const c of cases) {
  test(`describeConfig warns: ${c.name}`, () => {
    const { warnings } = describeConfig(config(c.extra));
    assert.ok(warnings.some((w) => c.warning.test(w)), `expected ${c.warning} among:\n${warnings.join('\n')}`);
  });
}
