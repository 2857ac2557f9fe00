/**
 * Sluice as a group of worker processes behind one port (`workers: 2`, the built proxy as it is
 * deployed), in front of a private sandbox: primary (server_id 1) and replica1 (2) as writeHosts
 * [0, 1], replica2 (3) as the readHost, failover with promotion on.
 *
 * What an operator and an application must not be able to tell from one process: connections
 * land on both workers and the admin port lists them all with unique ids; KILL reaches a session
 * in the other worker; /metrics and /status.json add both workers up; limits count the group;
 * admin changes reach both workers; consistency: global covers writes of the other worker; a
 * worker killed under load is replaced while the other worker's clients see nothing; a dead
 * writeHost is replaced once, for every worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { Sandbox } from '../../src/sandbox/index.js';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { startBuiltProxy, type BuiltProxy } from '../helpers/built-proxy.js';
import { validateConfig } from '../../src/config/index.js';
import { SANDBOX_PROXY_ADMIN_USER, sandboxProxyConfig } from '../../src/sandbox/index.js';
import { ControlPlane } from '../../src/control-plane.js';
import { DataPlane } from '../../src/data-plane.js';
import { loadFrontendSecurity } from '../../src/frontend/tls.js';
import { formatPosition } from '../../src/cluster/gtid.js';
import { sandboxInfo, startPrivateSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';

const HEARTBEAT = { intervalMs: 300, timeoutMs: 300, retries: 3 };
const ADMIN_PASSWORD = 'workers-admin';
const CHROMIUM = '/usr/bin/chromium';

let sb: Sandbox;
let info: SandboxInfo;
let proxy: BuiltProxy;
let adminPort: number;
let httpPort: number;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function groupConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    workers: 2,
    dataHost: {
      name: 'dh1',
      user: info.user,
      password: info.password,
      writeHosts: [
        { host: sb.primary.host, port: sb.primary.port },
        { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port },
      ],
      readHosts: [{ host: sb.replicas[1]!.host, port: sb.replicas[1]!.port }],
      heartbeat: HEARTBEAT,
      failover: { enabled: true, promote: true, dnindexFile: path.join(sb.dir, 'dnindex.properties'), user: sb.adminUser, password: sb.adminPassword },
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
    admin: { host: '127.0.0.1', port: adminPort, user: SANDBOX_PROXY_ADMIN_USER, password: ADMIN_PASSWORD },
    http: { host: '127.0.0.1', port: httpPort },
    ...extra,
  };
}

const connect = (opts: mysql.ConnectionOptions = {}): Promise<mysql.Connection> =>
  mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: info.user, password: info.password, database: info.database, ...opts });

const adminConnect = (): Promise<mysql.Connection> =>
  mysql.createConnection({ host: '127.0.0.1', port: adminPort, user: SANDBOX_PROXY_ADMIN_USER, password: ADMIN_PASSWORD });

async function adminRows(sql: string): Promise<Record<string, unknown>[]> {
  const a = await adminConnect();
  try {
    const [rows] = await a.query(sql);
    return rows as Record<string, unknown>[];
  } finally {
    await a.end();
  }
}

async function connectionId(c: mysql.Connection): Promise<number> {
  const [[row]] = (await c.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
  return Number(row.id);
}

async function serverId(c: mysql.Connection): Promise<number> {
  const [[row]] = (await c.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
  return Number(row.id);
}

/** Worker (1 or 2) holding each proxy connection id, from SHOW @@CONNECTION. */
async function workerOf(): Promise<Map<number, number>> {
  const rows = await adminRows('SHOW @@CONNECTION');
  return new Map(rows.map((r) => [Number(r['ID']), Number(r['WORKER'])]));
}

/** Opens connections until there is one on each worker; returns [on worker 1, on worker 2] and the rest. */
async function onBothWorkers(): Promise<{ w1: mysql.Connection; w2: mysql.Connection; all: mysql.Connection[] }> {
  const all: mysql.Connection[] = [];
  for (let i = 0; i < 8; i++) all.push(await connect());
  const ids = await Promise.all(all.map(connectionId));
  const workers = await workerOf();
  const w1 = all[ids.findIndex((id) => workers.get(id) === 1)];
  const w2 = all[ids.findIndex((id) => workers.get(id) === 2)];
  assert.ok(w1 && w2, `connections on both workers: ${JSON.stringify([...workers])}`);
  return { w1, w2, all };
}

async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  assert.ok(line, `${name}${labels} in /metrics`);
  return Number(line.split(' ')[1]);
}

before(async () => {
  sb = await startPrivateSandbox({ replicas: 2, semiSync: true });
  info = sandboxInfo(sb);
  await sb.primary.query('CREATE TABLE IF NOT EXISTS sluice_test.w_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
  await sb.waitForReplication();
  adminPort = await freePort();
  httpPort = await freePort();
  proxy = await startBuiltProxy(info, groupConfig());
});

after(async () => {
  if (process.env['SLUICE_TEST_DEBUG'] && proxy) writeFileSync(path.join(sb.dir, '..', 'sluice-workers-test.log'), proxy.log());
  await proxy?.stop();
  await sb?.stop();
});

describe('one port, two workers', () => {
  test('the start-up log says how many workers run and why; two worker processes run', () => {
    const listening = proxy.log().split('\n').find((l) => l.includes('sluice listening'))!;
    assert.match(listening, /"workers":2/);
    assert.match(listening, /workers: 2 as configured/);
    assert.equal(proxy.children().length, 2);
  });

  test('connections land on both workers; ids are unique and what CONNECTION_ID() says; reads split', async () => {
    const { all } = await onBothWorkers();
    try {
      const ids = await Promise.all(all.map(connectionId));
      assert.equal(new Set(ids).size, ids.length, 'unique connection ids');
      const workers = await workerOf();
      for (const id of ids) assert.ok(workers.has(id), `SHOW @@CONNECTION lists ${id}`);
      assert.deepEqual(new Set(ids.map((id) => workers.get(id))), new Set([1, 2]));
      for (const c of all) assert.notEqual(await serverId(c), 1, 'a read goes to a replica');
      const [res] = (await all[0]!.query('INSERT INTO w_t (v) VALUES (1)')) as unknown as [{ affectedRows: number }];
      assert.equal(res.affectedRows, 1);
    } finally {
      await Promise.all(all.map((c) => c.end()));
    }
  });

  test('KILL QUERY and KILL reach a session in the other worker', async () => {
    const { w1, w2, all } = await onBothWorkers();
    try {
      const victim = await connectionId(w2);
      const sleeping = w2.query('SELECT SLEEP(20) AS s').then(
        ([rows]) => ({ value: Number((rows as { s: unknown }[])[0]!.s) }),
        (err: { errno?: number }) => ({ errno: err.errno }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await w1.query(`KILL QUERY ${victim}`);
      const outcome = await sleeping;
      // MariaDB: SLEEP returns 1 when interrupted (1317 when the kill lands before it sleeps).
      assert.ok('value' in outcome ? outcome.value === 1 : outcome.errno === 1317, JSON.stringify(outcome));
      assert.ok(Date.now() - started < 10_000);
      assert.equal(await connectionId(w2), victim, 'the session goes on after KILL QUERY');
      await w1.query(`KILL ${victim}`);
      await assert.rejects(w2.query('SELECT 1'));
      await assert.rejects(w1.query('KILL 999999999'), (err: { errno?: number }) => err.errno === 1094);
    } finally {
      await Promise.all(all.map((c) => c.end().catch(() => undefined)));
    }
  });

  test('admin KILL @@CONNECTION reaches every worker', async () => {
    const { w1, w2, all } = await onBothWorkers();
    try {
      const ids = [await connectionId(w1), await connectionId(w2)];
      const a = await adminConnect();
      await a.query(`KILL @@CONNECTION ${ids.join(',')}`);
      await a.end();
      await assert.rejects(w1.query('SELECT 1'));
      await assert.rejects(w2.query('SELECT 1'));
    } finally {
      await Promise.all(all.map((c) => c.end().catch(() => undefined)));
    }
  });

  test('/metrics and /status.json add both workers up', async () => {
    const before = await metric('sluice_statements_total', '{route="reader"}');
    const { w1, w2, all } = await onBothWorkers();
    try {
      for (let i = 0; i < 5; i++) await w1.query('SELECT 1 FROM w_t LIMIT 1');
      for (let i = 0; i < 7; i++) await w2.query('SELECT 1 FROM w_t LIMIT 1');
      const after = await metric('sluice_statements_total', '{route="reader"}');
      assert.ok(after - before >= 12, `reader statements grew by ${after - before}`);
      assert.equal(await metric('sluice_client_connections'), all.length);
      assert.ok((await metric('process_cpu_seconds_total')) > 0);
      const status = (await (await fetch(`http://127.0.0.1:${httpPort}/status.json`)).json()) as {
        clientConnections: number;
        workers: { worker: number; clientConnections: number; pid: number }[];
      };
      assert.equal(status.clientConnections, all.length);
      assert.deepEqual(status.workers.map((w) => w.worker).sort(), [1, 2]);
      assert.equal(status.workers.reduce((n, w) => n + w.clientConnections, 0), all.length);
      assert.deepEqual(status.workers.map((w) => w.pid).sort(), proxy.children().sort());
      // The status page shows one row per worker, and the total.
      if (existsSync(CHROMIUM)) {
        const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
        try {
          const page = await browser.newPage();
          await page.goto(`http://127.0.0.1:${httpPort}/`);
          await page.waitForSelector('#workers tbody tr');
          const rows = (await page.evaluate(`[...document.querySelectorAll('#workers tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent))`)) as string[][];
          assert.deepEqual(rows.map((r) => r[0]).sort(), ['1', '2']);
          assert.equal(rows.reduce((n, r) => n + Number(r[2]), 0), all.length);
          assert.equal(await page.textContent('#clients'), String(all.length));
        } finally {
          await browser.close();
        }
      } else if (process.env['CI'] === 'true') assert.fail(`${CHROMIUM} missing (CI=true: .ci/install-deps installs it)`);
    } finally {
      await Promise.all(all.map((c) => c.end()));
    }
  });

  test('maxConnections counts the whole group (SIGHUP reload reaches every worker)', async () => {
    const file = proxy.configFile;
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(original), maxConnections: 3 }));
    proxy.signal('SIGHUP');
    await waitFor(() => proxy.log().includes('"source":"SIGHUP"'), { what: 'the reload' });
    const open: mysql.Connection[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await connect());
      // Whichever worker the fourth lands on, the group is full.
      for (let i = 0; i < 2; i++) await assert.rejects(connect(), (err: { errno?: number }) => err.errno === 1040);
    } finally {
      await Promise.all(open.map((c) => c.end()));
      writeFileSync(file, original);
      proxy.signal('SIGHUP');
      await waitFor(async () => {
        const cs = await Promise.all(Array.from({ length: 4 }, () => connect().catch(() => undefined)));
        await Promise.all(cs.map((c) => c?.end()));
        return cs.every(Boolean);
      }, { what: 'the limit lifted' });
    }
    assert.equal(proxy.log().split('\n').filter((l) => l.includes('"source":"SIGHUP"') && l.includes('configuration applied')).length, 2, 'one reload per SIGHUP');
  });

  test('users[].maxConnections counts the whole group (admin RELOAD @@CONFIG)', async () => {
    const file = proxy.configFile;
    const original = readFileSync(file, 'utf8');
    const conf = JSON.parse(original) as { users: Record<string, unknown>[] };
    writeFileSync(file, JSON.stringify({ ...conf, users: conf.users.map((u) => ({ ...u, maxConnections: 2 })) }));
    await adminRows('RELOAD @@CONFIG');
    const open: mysql.Connection[] = [];
    try {
      for (let i = 0; i < 2; i++) open.push(await connect());
      for (let i = 0; i < 2; i++) await assert.rejects(connect(), (err: { errno?: number }) => err.errno === 1226);
    } finally {
      await Promise.all(open.map((c) => c.end()));
      writeFileSync(file, original);
      await adminRows('RELOAD @@CONFIG');
    }
    // The sessions that ended gave their places back, in the group's count.
    const again = await Promise.all([connect(), connect(), connect()]);
    await Promise.all(again.map((c) => c.end()));
  });

  test('what start-up learns about the servers is said once, not once per worker', async () => {
    // pool.idleTimeoutMs above the server's wait_timeout (28800 s): a warning at start-up.
    const conf = groupConfig({ admin: undefined, http: undefined }) as { dataHost: Record<string, unknown> };
    const second = await startBuiltProxy(info, { ...conf, dataHost: { ...conf.dataHost, pool: { idleTimeoutMs: 30_000_000 } } });
    try {
      await waitFor(() => second.log().includes('pool.idleTimeoutMs is not below'), { what: 'the warning' });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(second.log().split('\n').filter((l) => l.includes('pool.idleTimeoutMs is not below')).length, 1);
    } finally {
      await second.stop();
    }
  });

  test('a busy port stops a group from starting, naming the setting', async () => {
    await assert.rejects(
      startBuiltProxy(info, groupConfig({ listen: { host: '127.0.0.1', port: proxy.port }, admin: undefined, http: undefined })),
      /listen\.port: 127\.0\.0\.1:\d+ is in use/,
    );
  });

  test('SET OFFLINE n FORCE cuts the connections to that host in both workers', async () => {
    const { w1, w2, all } = await onBothWorkers();
    try {
      // A read-only transaction on readHost 3 (server_id 3) in each worker.
      for (const c of [w1, w2]) {
        await waitFor(async () => {
          await c.query('START TRANSACTION READ ONLY');
          if ((await serverId(c)) === 3) return true;
          await c.query('COMMIT');
          return false;
        }, { what: 'a transaction on backend 3' });
      }
      const sockets = async (): Promise<number> => (await adminRows('SHOW @@BACKEND')).filter((r) => String(r['HOST']).endsWith(`:${sb.replicas[1]!.port}`) && r['STATE'] !== 'idle').length;
      assert.ok((await sockets()) >= 2, 'both workers hold a connection to backend 3');
      await adminRows('SET OFFLINE 3 FORCE');
      for (const c of [w1, w2]) await assert.rejects(serverId(c), (err: { errno?: number }) => err.errno === 2013);
      assert.equal(await sockets(), 0);
      for (const c of [w1, w2]) assert.notEqual(await serverId(c), 3, 'the session goes on elsewhere');
    } finally {
      await adminRows('SET ONLINE 3');
      await Promise.all(all.map((c) => c.end()));
    }
  });

  test('REMOVE BACKEND and ADD SLAVE on the admin port reach both workers', async () => {
    const replica2 = sb.replicas[1]!;
    const { all } = await onBothWorkers();
    try {
      await adminRows('REMOVE BACKEND 3');
      for (const c of all) for (let i = 0; i < 3; i++) assert.notEqual(await serverId(c), 3, 'removed backend serves nothing');
      await adminRows(`ADD SLAVE ${replica2.host}:${replica2.port}`);
      // Both workers route reads to it once it is readable again.
      const workers = await workerOf();
      const ids = await Promise.all(all.map(connectionId));
      for (const w of [1, 2]) {
        const c = all[ids.findIndex((id) => workers.get(id) === w)]!;
        await waitFor(async () => (await serverId(c)) === 3, { timeoutMs: 15_000, what: `worker ${w} reading from the added backend` });
      }
    } finally {
      await Promise.all(all.map((c) => c.end()));
    }
  });
});

describe('consistency: global across workers', () => {
  test('a read in one worker sees a write acknowledged by the other', { timeout: 60_000 }, async () => {
    for (const r of sb.replicas) {
      await r.query('STOP SLAVE');
      await r.query('CHANGE MASTER TO MASTER_DELAY = 1');
      await r.query('START SLAVE');
    }
    const file = proxy.configFile;
    const original = readFileSync(file, 'utf8');
    const conf = JSON.parse(original) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...conf, session: { consistency: 'global', consistencyTimeoutMs: 5_000 } }));
    proxy.signal('SIGHUP');
    await waitFor(() => proxy.log().split('\n').some((l) => l.includes('configuration applied') && l.includes('session.consistency')), { what: 'the reload' });
    const { w1, w2, all } = await onBothWorkers();
    try {
      for (const [writer, reader] of [
        [w1, w2],
        [w2, w1],
      ] as const) {
        const [[{ n: was }]] = (await reader.query('SELECT COUNT(*) AS n FROM w_t')) as unknown as [[{ n: number }]];
        await writer.query('INSERT INTO w_t (v) VALUES (2)');
        const [[now]] = (await reader.query('SELECT COUNT(*) AS n, @@server_id AS sid FROM w_t')) as unknown as [[{ n: number; sid: number }]];
        assert.equal(Number(now.n), Number(was) + 1, 'the other worker\'s session sees the insert');
        assert.notEqual(Number(now.sid), 1, 'read on a replica (it waited there)');
      }
    } finally {
      await Promise.all(all.map((c) => c.end()));
      writeFileSync(file, original);
      proxy.signal('SIGHUP');
      for (const r of sb.replicas) {
        await r.query('STOP SLAVE');
        await r.query('CHANGE MASTER TO MASTER_DELAY = 0');
        await r.query('START SLAVE');
      }
      await sb.waitForReplication();
    }
  });
});

describe('consistency: global holds the OK of a write until the workers know it', () => {
  test('the client sees the OK only after publishWrite resolved; reads and autocommit-off writes too', async () => {
    const config = validateConfig({ ...sandboxProxyConfig({ ...info, dir: sb.dir }, 0), session: { consistency: 'global' }, log: { level: 'silent' } });
    const log = pino({ level: 'silent' });
    const control = new ControlPlane(config, undefined, log, { monitor: false });
    const published: string[] = [];
    let release: () => void = () => undefined;
    const data = new DataPlane({
      config: () => control.config,
      cluster: control.cluster,
      positions: control.positions,
      pool: config.dataHost.pool,
      security: loadFrontendSecurity(config),
      backendTls: undefined,
      publishWrite: (p) => {
        published.push(formatPosition(p));
        return new Promise<void>((r) => (release = r));
      },
      log,
    });
    await control.start();
    await data.prepare();
    const { port } = await data.listen('127.0.0.1', 0);
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: info.user, password: info.password, database: info.database });
    try {
      let done = false;
      const insert = c.query('INSERT INTO w_t (v) VALUES (4)').then(() => (done = true));
      await waitFor(() => published.length === 1, { what: 'the write published' });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(done, false, 'the OK is held while the workers are told');
      release();
      await insert;
      assert.match(published[0]!, /^\d+-\d+-\d+$/);
      // A read holds nothing back.
      await c.query('SELECT COUNT(*) FROM w_t');
      assert.equal(published.length, 1);
    } finally {
      await c.end();
      await data.close();
      await control.close();
    }
  });
});

describe('faults', () => {
  test('SIGKILL of one worker under load: the other worker\'s clients see nothing; the worker is replaced', { timeout: 60_000 }, async () => {
    const { all } = await onBothWorkers();
    const ids = await Promise.all(all.map(connectionId));
    const workers = await workerOf();
    const status = (await (await fetch(`http://127.0.0.1:${httpPort}/status.json`)).json()) as { workers: { worker: number; pid: number }[] };
    const victimPid = status.workers.find((w) => w.worker === 1)!.pid;
    const survivors = all.filter((_, i) => workers.get(ids[i]!) === 2);
    const lost = all.filter((_, i) => workers.get(ids[i]!) === 1);
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loops = survivors.map(async (c) => {
      while (!stop) {
        try {
          await c.query('SELECT COUNT(*) FROM w_t');
          ok++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      process.kill(victimPid, 'SIGKILL');
      for (const c of lost) await assert.rejects(c.query('SELECT 1'), 'a client of the killed worker sees its connection closed');
      await waitFor(
        async () => {
          const now = (await (await fetch(`http://127.0.0.1:${httpPort}/status.json`)).json()) as { workers: { worker: number; pid: number; restarts: number }[] };
          return now.workers.some((w) => w.worker === 1 && w.pid !== victimPid && w.restarts === 1);
        },
        { timeoutMs: 20_000, what: 'a replacement worker accepting clients' },
      );
      const okBefore = ok;
      await waitFor(() => ok > okBefore + 20, { what: 'survivors still running' });
      stop = true;
      await Promise.all(loops);
      assert.deepEqual(failures, [], 'no statement failed on the other worker');
      assert.match(proxy.log(), /worker exited; its clients were disconnected/);
      // New clients land on both workers again, with fresh ids.
      const fresh = await onBothWorkers();
      await Promise.all(fresh.all.map((c) => c.end()));
    } finally {
      stop = true;
      await Promise.all(all.map((c) => c.end().catch(() => undefined)));
    }
  });

  test('SIGKILL of the writeHost: exactly one switch, in the primary; every worker writes to the new writeHost', { timeout: 60_000 }, async () => {
    const { w1, w2, all } = await onBothWorkers();
    try {
      sb.primary.kill('SIGKILL');
      for (const c of [w1, w2]) {
        await waitFor(
          async () => {
            try {
              await c.query('INSERT INTO w_t (v) VALUES (3)');
              return true;
            } catch {
              return false;
            }
          },
          { timeoutMs: 15_000, what: 'writes through each worker' },
        );
      }
      await c2ServerIdOnWriter(w1);
      await c2ServerIdOnWriter(w2);
      const log = proxy.log().split('\n');
      assert.equal(log.filter((l) => l.includes('writeHost switched')).length, 1, 'one switch');
      assert.equal(log.filter((l) => l.includes('promoted writeHost')).length, 1, 'one promotion');
      assert.ok(log.filter((l) => l.includes('writeHost switched')).every((l) => !l.includes('"worker"')), 'decided by the primary');
    } finally {
      await Promise.all(all.map((c) => c.end().catch(() => undefined)));
    }
  });

  test('SIGTERM drains every worker and the group exits 0', async () => {
    const children = proxy.children();
    const started = Date.now();
    const code = await proxy.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 10_000, `stopped in ${Date.now() - started} ms`);
    for (const pid of children) assert.throws(() => process.kill(pid, 0), 'worker process gone');
  });
});

/** In a transaction the session's statements run on the writeHost: it must be replica1 (server_id 2) now. */
async function c2ServerIdOnWriter(c: mysql.Connection): Promise<void> {
  await c.query('BEGIN');
  const id = await serverId(c);
  await c.query('COMMIT');
  assert.equal(id, 2, 'the new writeHost');
}
