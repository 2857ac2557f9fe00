/**
 * Planned switchover (admin SWITCHOVER / SWITCH @@DATASOURCE with failover.promote) under load,
 * against a private semi-sync sandbox: mysql2 clients running autocommit writes and short
 * transactions, and the mariadb CLI running a script, see no error; no acknowledged write is
 * lost; the old writeHost ends read-only and replicating from the new one; and back again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { Sandbox } from '../../src/sandbox/index.js';
import { serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { promotingFailover, sandboxInfo, startPrivateSandbox, waitFor } from '../helpers/sandbox.js';

const ADMIN = { host: '127.0.0.1', port: 0, user: 'admin', password: 'switch' };
const TABLE = 'sluice_test.so_t';

let sb: Sandbox;
let proxy: TestProxy;

before(async () => {
  sb = await startPrivateSandbox({ replicas: 2, semiSync: true, semiSyncTimeoutMs: 10_000 });
  await sb.primary.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, via VARCHAR(8))`);
  await sb.primary.query('CREATE TABLE sluice_test.so_counter (k INT PRIMARY KEY, n INT)');
  await sb.primary.query('INSERT INTO sluice_test.so_counter VALUES (1, 0)');
  await sb.waitForReplication();
  const [primary, replica1, replica2] = [sb.primary, sb.replicas[0]!, sb.replicas[1]!];
  proxy = await startProxy({
    sandbox: sandboxInfo(sb),
    admin: ADMIN,
    top: { http: { host: '127.0.0.1', port: 0 } },
    dataHost: {
      writeHosts: [
        { host: primary.host, port: primary.port },
        { host: replica1.host, port: replica1.port },
      ],
      readHosts: [{ host: replica2.host, port: replica2.port }],
      heartbeat: { intervalMs: 300, timeoutMs: 300, retries: 3 },
      failover: promotingFailover(sb, path.join(sb.dir, 'dnindex-switchover.properties')),
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
  });
});

after(async () => {
  await proxy?.close();
  await sb?.stop();
});

async function adminRun(sql: string): Promise<string> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: proxy.sluice.adminAddress!.port, user: ADMIN.user, password: ADMIN.password });
  try {
    const [r] = await c.query(sql);
    return String((r as { info?: string; message?: string }).info ?? (r as { message?: string }).message ?? JSON.stringify(r));
  } finally {
    await c.end();
  }
}

interface Load {
  acked: Set<number>;
  errors: string[];
  transactions: number;
  stop(): Promise<void>;
}

let nextId = 1;

/** Autocommit inserts and short read-write transactions through the proxy, in a loop, no retries. */
function startLoad(clients: number): Load {
  const load: Load = { acked: new Set(), errors: [], transactions: 0, stop: async () => {} };
  let running = true;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const c = await proxy.connect();
    try {
      while (running) {
        const id = nextId++;
        try {
          if (i % 2 === 0) {
            await c.query(`INSERT INTO ${TABLE} VALUES (?, 'auto')`, [id]);
          } else {
            await c.query('BEGIN');
            await c.query(`INSERT INTO ${TABLE} VALUES (?, 'trx')`, [id]);
            await c.query('UPDATE sluice_test.so_counter SET n = n + 1 WHERE k = 1');
            await c.query('SELECT n FROM sluice_test.so_counter WHERE k = 1');
            await c.query('COMMIT');
            load.transactions++;
          }
          load.acked.add(id);
        } catch (err) {
          load.errors.push(`${(err as { errno?: number }).errno} ${(err as Error).message}`);
          return;
        }
      }
    } finally {
      c.destroy();
    }
  });
  load.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return load;
}

/** The mariadb CLI running `count` inserts (one every 10 ms) in batch mode: it stops at the first error. */
function cliScript(count: number): Promise<{ code: number | null; stderr: string; ids: number[] }> {
  const ids = Array.from({ length: count }, () => nextId++);
  const child = spawn('mariadb', ['-h127.0.0.1', `-P${proxy.port}`, `-u${sb.user}`, `-p${sb.password}`, '--batch', 'sluice_test'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string; ids: number[] }>((resolve) => child.once('exit', (code) => resolve({ code, stderr, ids })));
  void (async () => {
    for (const id of ids) {
      child.stdin.write(`INSERT INTO so_t VALUES (${id}, 'cli');\n`);
      await new Promise((r) => setTimeout(r, 10));
    }
    child.stdin.end();
  })();
  return done;
}

async function idsOn(s: Sandbox['primary']): Promise<Set<number>> {
  return new Set(((await s.query(`SELECT id FROM ${TABLE}`)) as { id: number }[]).map((r) => Number(r.id)));
}

async function writerId(): Promise<number> {
  const c = await proxy.connect();
  try {
    return await serverId(c, '/*master*/ ');
  } finally {
    c.destroy();
  }
}

/** The proxy sees `s` replicating from the writeHost (what a switchover to it needs). */
async function replicatingInView(s: Sandbox['primary']): Promise<void> {
  await waitFor(
    () => {
      const h = proxy.sluice.cluster.view.hosts.find((x) => x.port === s.port);
      return h?.status === 'up' && h.replication?.ioState === 'yes' && h.replication.sqlRunning;
    },
    { timeoutMs: 20_000, what: `${s.name} replicating in the proxy's view` },
  );
}

for (const [spelling, from, to, index] of [
  ['SWITCHOVER dh1:1', 'primary', 'replica1', 1],
  ['SWITCH @@DATASOURCE dh1:0', 'replica1', 'primary', 0],
] as const) {
  test(`${spelling} under load: no client error, nothing lost, the old writeHost follows the new one`, { timeout: 90_000 }, async () => {
    const servers = { primary: sb.primary, replica1: sb.replicas[0]! };
    await replicatingInView(servers[to]);
    const load = startLoad(8);
    const cli = cliScript(150);
    await new Promise((r) => setTimeout(r, 500));
    const message = await adminRun(spelling);
    assert.match(message, new RegExp(`switchover done: active writeHost is now ${index} `));
    await new Promise((r) => setTimeout(r, 700));
    await load.stop();
    const script = await cli;

    assert.deepEqual(load.errors, [], 'no mysql2 client saw an error');
    assert.equal(script.code, 0, `the mariadb CLI script ran without an error: ${script.stderr}`);
    assert.ok(load.transactions > 0 && load.acked.size > 50, `load ran (${load.acked.size} writes, ${load.transactions} transactions)`);
    assert.equal(await writerId(), servers[to].serverId);
    const onNew = await idsOn(servers[to]);
    const lost = [...load.acked, ...script.ids].filter((id) => !onNew.has(id));
    assert.deepEqual(lost, [], 'acknowledged writes missing on the new writeHost');
    await waitFor(
      async () => {
        const ro = (await servers[from].query('SELECT @@read_only AS ro')) as { ro: number }[];
        const st = ((await servers[from].query('SHOW SLAVE STATUS')) as Record<string, unknown>[])[0];
        return Number(ro[0]!.ro) === 1 && st?.['Slave_IO_Running'] === 'Yes' && Number(st['Master_Port']) === servers[to].port;
      },
      { timeoutMs: 20_000, what: `${from} read-only and replicating from ${to}` },
    );
    // The target: writes held at most 1 s plus the new writeHost's catch-up.
    const paused = Number(/writes waited (\d+) ms/.exec(message)?.[1]);
    const catchUp = Number(/ in (\d+) ms\); recorded/.exec(message)?.[1]);
    process.stdout.write(`# ${spelling}: ${message}; ${load.acked.size + script.ids.length} writes, ${load.transactions} transactions, 0 errors, 0 lost\n`);
    assert.ok(paused - catchUp <= 1_000, `writes waited ${paused} ms, ${catchUp} ms of it the catch-up (target ≤ 1 s plus catch-up)`);
  });
}

test('SET OFFLINE of the active writeHost under load hands over first: no client error, nothing lost', { timeout: 60_000 }, async () => {
  await replicatingInView(sb.replicas[0]!);
  const load = startLoad(6);
  await new Promise((r) => setTimeout(r, 500));
  const ndx = proxy.sluice.cluster.view.hosts.findIndex((h) => h.port === sb.primary.port) + 1;
  await adminRun(`SET OFFLINE ${ndx}`);
  await new Promise((r) => setTimeout(r, 500));
  await load.stop();
  assert.deepEqual(load.errors, [], 'no client saw an error');
  assert.equal(proxy.sluice.cluster.view.hosts[ndx - 1]!.status, 'offline');
  assert.equal(await writerId(), sb.replicas[0]!.serverId);
  const onNew = await idsOn(sb.replicas[0]!);
  assert.deepEqual([...load.acked].filter((id) => !onNew.has(id)), [], 'acknowledged writes missing on the new writeHost');
  assert.ok(load.acked.size > 20);
});

test('SWITCHOVER refuses what it cannot do, and says why', async () => {
  await assert.rejects(adminRun(`SWITCHOVER dh1:${proxy.sluice.cluster.view.writerIndex}`), /already the active writeHost/);
  await assert.rejects(adminRun('SWITCHOVER dh1:0'), /offline/);
  await assert.rejects(adminRun('SWITCHOVER dh1:5'), /no such writeHost/);
  await assert.rejects(adminRun('SWITCHOVER other:1'), /unknown dataHost/);
  // Counted: three done (two switchovers, one SET OFFLINE), and the three refusals above (not the unknown dataHost: no switchover was asked for).
  const metrics = await (await fetch(`http://127.0.0.1:${proxy.sluice.httpAddress!.port}/metrics`)).text();
  assert.match(metrics, /sluice_switchovers_total\{outcome="done"\} 3\n/);
  assert.match(metrics, /sluice_switchovers_total\{outcome="failed"\} 0\n/);
  assert.match(metrics, /sluice_switchovers_total\{outcome="refused"\} 3\n/);
  assert.match(metrics, /sluice_switchover_last_pause_seconds \d/);
  assert.match(metrics, /sluice_statements_held_total \d+/);
});
