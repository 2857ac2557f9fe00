/**
 * The network lab (test/helpers/netlab.ts) with real processes: a sandbox whose three servers
 * each run on a lab host of their own, and a built Sluice on a fourth. Partitions, isolation and
 * delay act between individual hosts; destroy() leaves nothing behind. Skipped (with the reason)
 * where network namespaces cannot be made (not root, no iproute2); the delay check also where
 * the kernel has no netem.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import net from 'node:net';
import mysql from 'mysql2/promise';
import { SANDBOX_PROXY_ADMIN_USER, sandboxProxyConfig, type Sandbox, type SandboxServer } from '../../src/sandbox/index.js';
import { startBuiltProxy, type BuiltProxy } from '../helpers/built-proxy.js';
import { NetLab, type LabHost } from '../helpers/netlab.js';
import { sandboxInfo, startPrivateSandbox, waitFor } from '../helpers/sandbox.js';

const unavailable = await NetLab.unavailable();
const noDelay = unavailable ?? (await NetLab.delayUnavailable());

/** Replicas give up on a silent primary after this many seconds (MariaDB's default: 60). */
const NET_TIMEOUT_S = 4;
const HEARTBEAT = { intervalMs: 300, timeoutMs: 300, retries: 2 };
const ADMIN = { port: 9066, password: 'netlab' };

let lab: NetLab;
let hosts: Record<'primary' | 'replica1' | 'replica2' | 'proxy', LabHost>;
let sb: Sandbox;
let proxy: BuiltProxy | undefined;

/** Root over the server's unix socket: reaches it whatever the network does. */
async function viaSocket(s: SandboxServer, sql: string): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({ socketPath: s.socketPath, user: sb.adminUser, password: sb.adminPassword });
  try {
    return (await conn.query(sql))[0] as Record<string, unknown>[];
  } finally {
    await conn.end();
  }
}

async function ioRunning(replica: SandboxServer): Promise<string> {
  return String((await viaSocket(replica, 'SHOW SLAVE STATUS'))[0]?.['Slave_IO_Running']);
}

/** Milliseconds a TCP handshake from this process to `address:port` takes (median of 5). */
async function connectMs(address: string, port: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: address, port }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[2]!;
}

async function backendStates(p: BuiltProxy): Promise<Record<string, string>> {
  const conn = await mysql.createConnection({ host: p.host, port: ADMIN.port, user: SANDBOX_PROXY_ADMIN_USER, password: ADMIN.password });
  try {
    const [rows] = await conn.query('SELECT * FROM backends');
    return Object.fromEntries((rows as { address: string; state: string }[]).map((r) => [r.address, r.state]));
  } finally {
    await conn.end();
  }
}

/** A process that builds a lab with one host, says its names, and waits to be killed. */
async function labInChild(): Promise<{ kill(sig: NodeJS.Signals): Promise<void>; netns: string; bridge: string }> {
  const script =
    "import { NetLab } from './test/helpers/netlab.ts'; const lab = await NetLab.create('nlk'); const h = await lab.addHost('a');" +
    'console.log(JSON.stringify({ netns: h.netns, bridge: lab.bridge })); setInterval(() => {}, 1000);';
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    void exited.then(() => reject(new Error(`lab process exited early: ${out}`)));
  });
  const names = JSON.parse(line) as { netns: string; bridge: string };
  return {
    ...names,
    kill: async (sig) => {
      child.kill(sig);
      await exited;
    },
  };
}

const netnsList = (): string[] =>
  execFileSync('ip', ['netns', 'list'])
    .toString()
    .split('\n')
    .map((l) => l.split(' ')[0]!);
const hasLink = (name: string): boolean => execFileSync('ip', ['-o', 'link', 'show']).toString().includes(` ${name}:`);

test('a lab does not outlive its process: torn down on SIGTERM; a SIGKILLed one by the next create()', { skip: unavailable }, async () => {
  const terminated = await labInChild();
  assert.ok(netnsList().includes(terminated.netns));
  await terminated.kill('SIGTERM');
  assert.ok(!netnsList().includes(terminated.netns), 'namespace removed on SIGTERM');
  assert.ok(!hasLink(terminated.bridge), 'bridge removed on SIGTERM');

  const killed = await labInChild();
  await killed.kill('SIGKILL');
  assert.ok(netnsList().includes(killed.netns), 'a SIGKILLed process cannot clean up');
  const next = await NetLab.create('nlk');
  await next.destroy();
  assert.ok(!netnsList().includes(killed.netns), 'swept by the next create()');
  assert.ok(!hasLink(killed.bridge), 'its bridge swept too');
});

describe('network lab: hosts, partitions, isolation, delay', { skip: unavailable }, () => {
  before(async () => {
    const t = Date.now();
    lab = await NetLab.create('nl');
    hosts = {
      primary: await lab.addHost('primary'),
      replica1: await lab.addHost('replica1'),
      replica2: await lab.addHost('replica2'),
      proxy: await lab.addHost('proxy'),
    };
    const labMs = Date.now() - t;
    sb = await startPrivateSandbox({
      replicas: 2,
      placement: [hosts.primary, hosts.replica1, hosts.replica2],
      extraArgs: [`--slave-net-timeout=${NET_TIMEOUT_S}`],
    });
    const sandboxMs = Date.now() - t - labMs;
    const info = sandboxInfo(sb);
    const dataHost = { ...(sandboxProxyConfig({ ...info, dir: sb.dir }, 0)['dataHost'] as object), heartbeat: HEARTBEAT };
    proxy = await startBuiltProxy(info, { dataHost }, { netns: hosts.proxy.netns, host: hosts.proxy.address, admin: ADMIN });
    process.stderr.write(`# netlab: lab ${labMs} ms, sandbox ${sandboxMs} ms, proxy ${Date.now() - t - labMs - sandboxMs} ms\n`);
  });

  after(async () => {
    await proxy?.stop();
    await sb?.stop();
    await lab?.destroy();
  });

  test('a lab host: its own namespace, its address, the subnet route only; spawn() gives the program’s own pid', async () => {
    const routes = execFileSync('ip', ['-n', hosts.primary.netns, '-4', 'route', 'show']).toString().trim();
    assert.equal(routes, `${lab.subnet} dev eth0 proto kernel scope link src ${hosts.primary.address}`);
    const child = lab.spawn(hosts.replica1, 'sleep', ['30'], { stdio: 'ignore' });
    try {
      await waitFor(() => readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep', { what: 'sleep running' });
      // `ip netns exec` execs: the pid is sleep's own, and it runs in the host's namespace.
      const ns = readlinkSync(`/proc/${child.pid}/ns/net`);
      assert.equal(ns, `net:[${statSync(`/run/netns/${hosts.replica1.netns}`).ino}]`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('each server listens on its host’s address; replication crosses the lab', async () => {
    assert.deepEqual(
      sb.servers.map((s) => [s.host, s.netns]),
      [hosts.primary, hosts.replica1, hosts.replica2].map((h) => [h.address, h.netns]),
    );
    for (const s of sb.servers) {
      const [row] = (await s.query('SELECT @@bind_address AS b, @@slave_net_timeout AS t')) as Record<string, unknown>[];
      assert.deepEqual(row, { b: s.host, t: NET_TIMEOUT_S });
    }
    for (const r of sb.replicas) {
      const [st] = await viaSocket(r, 'SHOW SLAVE STATUS');
      assert.equal(st?.['Master_Host'], hosts.primary.address);
    }
    await sb.primary.query('CREATE TABLE sluice_test.nl_t (id INT PRIMARY KEY, v VARCHAR(20))');
    await sb.primary.query("INSERT INTO sluice_test.nl_t VALUES (1, 'crossed')");
    await sb.waitForReplication(10_000);
    for (const r of sb.replicas) assert.deepEqual(await r.query('SELECT v FROM sluice_test.nl_t'), [{ v: 'crossed' }]);
  });

  test('Sluice on its own host: writes go to the primary, reads to the replicas', async () => {
    assert.ok(proxy);
    // Its pid is node's own (`ip netns exec` execs), in the proxy host's namespace: stop() reaches it.
    assert.equal(readlinkSync(`/proc/${proxy.pid}/exe`), process.execPath);
    assert.equal(readlinkSync(`/proc/${proxy.pid}/ns/net`), `net:[${statSync(`/run/netns/${hosts.proxy.netns}`).ino}]`);
    const c = await mysql.createConnection({ host: proxy.host, port: proxy.port, user: sb.user, password: sb.password, database: sb.database });
    try {
      await c.query("INSERT INTO nl_t VALUES (2, 'via proxy')");
      await c.query('BEGIN');
      const [[inTransaction]] = (await c.query('SELECT @@server_id AS id')) as unknown as [{ id: number }[]];
      await c.query('COMMIT');
      assert.equal(inTransaction?.id, 1);
      const ids = new Set<number>();
      for (let i = 0; i < 6; i++) ids.add(((await c.query('SELECT @@server_id AS id'))[0] as { id: number }[])[0]!.id);
      assert.deepEqual([...ids].sort(), [2, 3]);
      assert.deepEqual(await sb.primary.query('SELECT v FROM sluice_test.nl_t WHERE id = 2'), [{ v: 'via proxy' }]);
    } finally {
      await c.end();
    }
  });

  test('partition(proxy, primary): the primary times out from the proxy’s host, the replicas do not; heal() restores it', async () => {
    assert.ok(proxy);
    const [primary, r1, r2] = sb.servers as [SandboxServer, SandboxServer, SandboxServer];
    const from = hosts.proxy;
    assert.equal(await lab.tcpProbe(from, primary.host, primary.port), 'connected');
    await lab.partition(hosts.proxy, hosts.primary);
    const t = Date.now();
    assert.equal(await lab.tcpProbe(from, primary.host, primary.port, 1_500), 'timeout');
    assert.ok(Date.now() - t >= 1_400, 'silence, not a quick error');
    assert.equal(await lab.tcpProbe(from, r1.host, r1.port), 'connected');
    assert.equal(await lab.tcpProbe(from, r2.host, r2.port), 'connected');
    // Only that pair: this process still reaches the primary, and so do the replicas (replication).
    assert.equal((await primary.query('SELECT 1 AS one')) instanceof Array, true);
    assert.equal(await ioRunning(r1), 'Yes');
    // Sluice's heartbeats see it.
    const addr = `${primary.host}:${primary.port}`;
    await waitFor(async () => (await backendStates(proxy!))[addr] !== 'up', { timeoutMs: 10_000, what: 'the primary down in Sluice' });
    assert.equal((await backendStates(proxy))[`${r1.host}:${r1.port}`], 'up');
    // Reads through it still reach the replicas.
    const c = await mysql.createConnection({ host: proxy.host, port: proxy.port, user: sb.user, password: sb.password, connectTimeout: 3_000 });
    try {
      const [rows] = await c.query({ sql: 'SELECT @@server_id AS id', timeout: 3_000 });
      assert.ok([2, 3].includes((rows as { id: number }[])[0]!.id));
    } finally {
      c.destroy();
    }

    await lab.heal(hosts.proxy, hosts.primary);
    assert.equal(await lab.tcpProbe(from, primary.host, primary.port), 'connected');
    await waitFor(async () => (await backendStates(proxy!))[addr] === 'up', { timeoutMs: 10_000, what: 'the primary up again in Sluice' });
  });

  test(`isolate(primary): with slave_net_timeout ${NET_TIMEOUT_S} the replicas' IO threads reconnect within seconds; the socket still reaches it; healAll() resumes`, async () => {
    const [primary, ...replicas] = sb.servers as [SandboxServer, ...SandboxServer[]];
    await lab.isolate(hosts.primary);
    const t = Date.now();
    const noticed = Promise.all(
      replicas.map((r) =>
        waitFor(async () => (await ioRunning(r)) === 'Connecting', {
          timeoutMs: (3 * NET_TIMEOUT_S + 3) * 1000,
          intervalMs: 100,
          what: `${r.name} IO thread Connecting`,
        }),
      ),
    ).then(() => Date.now() - t);
    // Nothing comes back from it: not to the test process, not to the proxy's host.
    assert.equal(await lab.tcpProbe(hosts.proxy, primary.host, primary.port, 1_000), 'timeout');
    await assert.rejects(mysql.createConnection({ host: primary.host, port: primary.port, user: 'x', connectTimeout: 1_000 }), /ETIMEDOUT/);
    // A write on the primary (over its socket) does not reach the replicas while it is cut off.
    await viaSocket(primary, "INSERT INTO sluice_test.nl_t VALUES (3, 'isolated')");
    const noticedMs = await noticed;
    process.stderr.write(`# netlab: replicas noticed the isolated primary after ${noticedMs} ms\n`);
    assert.ok(noticedMs < (NET_TIMEOUT_S + 3) * 1000, `noticed after ${noticedMs} ms`);
    for (const r of replicas) assert.deepEqual(await viaSocket(r, 'SELECT v FROM sluice_test.nl_t WHERE id = 3'), []);

    await lab.healAll();
    for (const r of replicas) await waitFor(async () => (await ioRunning(r)) === 'Yes', { timeoutMs: 15_000, intervalMs: 200, what: `${r.name} IO thread Yes` });
    await sb.waitForReplication(15_000);
    for (const r of replicas) assert.deepEqual(await viaSocket(r, 'SELECT v FROM sluice_test.nl_t WHERE id = 3'), [{ v: 'isolated' }]);
  });

  test('delay(host, ms) adds to every round trip with it; clearDelay() removes it', { skip: noDelay }, async () => {
    const { host, port } = sb.primary;
    const before = await connectMs(host, port);
    await lab.delay(hosts.primary, 150);
    const delayed = await connectMs(host, port);
    await lab.clearDelay(hosts.primary);
    const after = await connectMs(host, port);
    assert.ok(delayed - before >= 130, `handshake ${before.toFixed(1)} ms → ${delayed.toFixed(1)} ms with 150 ms delay`);
    assert.ok(after < before + 50, `back to ${after.toFixed(1)} ms`);
  });

  test('destroy() removes the namespaces, the veths and the bridge; a second call is harmless', async () => {
    assert.equal(await proxy?.stop(), 0, 'the proxy itself got SIGTERM and shut down cleanly');
    proxy = undefined;
    await sb.stop();
    const names = lab.hosts.map((h) => h.netns);
    assert.ok(netnsList().includes(names[0]!));
    await lab.destroy();
    await lab.destroy();
    const list = netnsList();
    for (const n of names) assert.ok(!list.includes(n), `${n} still listed`);
    assert.ok(!hasLink(lab.bridge), 'bridge gone');
    assert.ok(!execFileSync('ip', ['-o', 'link', 'show']).toString().includes(` ${lab.prefix}h`), 'veths gone');
    assert.equal(existsSync(`/run/sluice-netlab/10.231.${lab.octet}.json`), false);
  });
});
