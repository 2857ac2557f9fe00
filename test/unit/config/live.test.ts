/**
 * planConfigChange: which differences of a new configuration the running proxy applies at once
 * (and as which backend changes), and which wait for a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planConfigChange, validateConfig, type SluiceConfig } from '../../../src/config/index.js';

type Hosts = readonly (string | [string, number])[];

function config(opts: { w?: Hosts; r?: Hosts; extra?: Record<string, unknown>; dh?: Record<string, unknown> } = {}): SluiceConfig {
  const hp = (h: string | [string, number]) => {
    const [addr, weight] = typeof h === 'string' ? [h, 1] : h;
    return { host: addr.split(':')[0], port: Number(addr.split(':')[1]), weight };
  };
  return validateConfig({
    listen: { port: 8066 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'app',
      writeHosts: (opts.w ?? ['w0:3306', 'w1:3306']).map(hp),
      readHosts: (opts.r ?? ['r0:3306', 'r1:3306']).map(hp),
      failover: { enabled: true, dnindexFile: '/tmp/dnindex' },
      ...opts.dh,
    },
    ...opts.extra,
  });
}

const summary = (p: ReturnType<typeof planConfigChange>) => ({
  remove: p.remove.map((r) => `${r.role}:${r.hostId}`),
  add: p.add.map((a) => `${a.role}:${a.host}:${a.port}@${a.weight}`),
  reweight: p.reweight.map((r) => `${r.hostId}@${r.weight}`),
  live: p.live,
  restart: p.restart,
});

const cases: { name: string; next: SluiceConfig; writer?: number; want: ReturnType<typeof summary>; notes?: RegExp }[] = [
  { name: 'no change', next: config(), want: { remove: [], add: [], reweight: [], live: [], restart: [] } },
  {
    name: 'a readHost added with a weight',
    next: config({ r: ['r0:3306', 'r1:3306', ['r2:3306', 3]] }),
    want: { remove: [], add: ['read:r2:3306@3'], reweight: [], live: ['dataHost.readHosts'], restart: [] },
  },
  {
    name: 'a readHost removed, another re-weighted',
    next: config({ r: [['r1:3306', 4]] }),
    want: { remove: ['read:r0:3306'], add: [], reweight: ['r1:3306@4'], live: ['dataHost.readHosts'], restart: [] },
  },
  {
    name: 'a writeHost appended',
    next: config({ w: ['w0:3306', 'w1:3306', 'w2:3306'] }),
    want: { remove: [], add: ['write:w2:3306@1'], reweight: [], live: ['dataHost.writeHosts'], restart: [] },
  },
  {
    name: 'a writeHost after the active one removed',
    next: config({ w: ['w0:3306'] }),
    want: { remove: ['write:w1:3306'], add: [], reweight: [], live: ['dataHost.writeHosts'], restart: [] },
  },
  {
    name: 'the active writeHost removed → restart',
    next: config({ w: ['w1:3306'] }),
    want: { remove: [], add: [], reweight: [], live: [], restart: ['dataHost.writeHosts'] },
    notes: /the active writeHost \(w0:3306\) would leave/,
  },
  {
    name: 'a writeHost before the active one removed → restart',
    writer: 1,
    next: config({ w: ['w1:3306'] }),
    want: { remove: [], add: [], reweight: [], live: [], restart: ['dataHost.writeHosts'] },
    notes: /writeHost 0, before the active writeHost 1/,
  },
  {
    name: 'writeHosts re-ordered → restart',
    next: config({ w: ['w1:3306', 'w0:3306'] }),
    want: { remove: [], add: [], reweight: [], live: [], restart: ['dataHost.writeHosts'] },
    notes: /changed order/,
  },
  {
    name: 'a writeHost inserted before existing ones → restart',
    next: config({ w: ['w0:3306', 'w9:3306', 'w1:3306'] }),
    want: { remove: [], add: [], reweight: [], live: [], restart: ['dataHost.writeHosts'] },
    notes: /can only be appended/,
  },
  {
    name: 'accounts, whitelist, limits and SQL log are live; pool, listen and heartbeat wait for a restart',
    next: config({
      extra: {
        users: [{ name: 'app', password: 'app' }, { name: 'ops', password: 'x', maxConnections: 3 }],
        clients: ['10.0.0.0/8'],
        maxConnections: 50,
        listen: { port: 8067 },
        log: { sql: true, level: 'debug' },
        session: { readYourWritesMs: 100, holdConnectionMs: 10 },
      },
      dh: { pool: { max: 7 }, heartbeat: { intervalMs: 500 } },
    }),
    want: {
      remove: [],
      add: [],
      reweight: [],
      live: ['clients', 'log.sql', 'maxConnections', 'session.readYourWritesMs', 'users'],
      restart: ['dataHost.heartbeat', 'dataHost.pool', 'listen', 'log.level', 'session.holdConnectionMs'],
    },
  },
];

for (const c of cases) {
  test(`planConfigChange: ${c.name}`, () => {
    const running = config();
    const plan = planConfigChange(running, c.next, c.writer ?? 0);
    assert.deepEqual(summary(plan), c.want);
    if (c.notes) assert.match(plan.notes.join('; '), c.notes);
    else assert.deepEqual(plan.notes, []);
    // The config to run with: live parts from next, the rest as running.
    for (const path of plan.live) assert.deepEqual(pick(plan.config, path), pick(c.next, path), `${path} taken`);
    for (const path of plan.restart) assert.deepEqual(pick(plan.config, path), pick(running, path), `${path} kept`);
  });
}

test('planConfigChange: running host order is the kept hosts then the new ones', () => {
  const plan = planConfigChange(config(), config({ r: [['r2:3306', 2], 'r1:3306'] }), 0);
  assert.deepEqual(plan.config.dataHost.readHosts.map((h) => `${h.host}:${h.port}@${h.weight}`), ['r1:3306@1', 'r2:3306@2']);
});

function pick(c: SluiceConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);
}
