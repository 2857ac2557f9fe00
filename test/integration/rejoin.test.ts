/**
 * failover.rejoin against a private sandbox (primary server_id 1 and replica1 server_id 2 as
 * writeHosts [0, 1], replica2 server_id 3 as the readHost): after the primary is SIGKILLed and
 * replica1 promoted, replica2 follows replica1 and serves reads again, and the old primary, once
 * back, is fenced and joined as a replica of replica1 — what seed 003's scripts did by hand
 * (mysqlreplicate, then `add slave` from cron).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox/index.js';
import { serverId, startProxy } from '../helpers/proxy.js';
import { sandboxInfo, startPrivateSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';

const HEARTBEAT = { intervalMs: 300, timeoutMs: 300, retries: 3 };

let sb: Sandbox;
let info: SandboxInfo;

before(async () => {
  sb = await startPrivateSandbox({ replicas: 2, semiSync: true });
  info = sandboxInfo(sb);
  await sb.primary.query('CREATE TABLE IF NOT EXISTS sluice_test.rj_t (id INT PRIMARY KEY)');
  await sb.waitForReplication();
});

after(async () => {
  await sb?.stop();
});

type Server = Sandbox['primary'];

/** writeHosts [primary, replica1], readHost replica2; promote and rejoin with the sandbox accounts. */
function rejoinProxy(s: Sandbox, sandbox: SandboxInfo): ReturnType<typeof startProxy> {
  const [primary, replica1, replica2] = [s.primary, s.replicas[0]!, s.replicas[1]!];
  return startProxy({
    sandbox,
    dataHost: {
      writeHosts: [
        { host: primary.host, port: primary.port },
        { host: replica1.host, port: replica1.port },
      ],
      readHosts: [{ host: replica2.host, port: replica2.port }],
      heartbeat: HEARTBEAT,
      failover: {
        enabled: true,
        promote: true,
        rejoin: true,
        user: s.adminUser,
        password: s.adminPassword,
        replicationUser: 'repl',
        replicationPassword: 'repl',
        dnindexFile: path.join(s.dir, 'dnindex-rejoin.properties'),
      },
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
  });
}

async function source(server: Server): Promise<{ port: number; io: string; sql: string; error: string }> {
  const rows = (await server.query('SHOW SLAVE STATUS')) as Record<string, unknown>[];
  const r = rows[0];
  if (!r) return { port: 0, io: 'No', sql: 'No', error: 'not a replica' };
  return {
    port: Number(r['Master_Port']),
    io: String(r['Slave_IO_Running']),
    sql: String(r['Slave_SQL_Running']),
    error: `${String(r['Last_IO_Error'] ?? '')} ${String(r['Last_SQL_Error'] ?? '')}`.trim(),
  };
}

async function hasRow(server: Server, id: number): Promise<boolean> {
  const rows = (await server.query(`SELECT COUNT(*) AS n FROM sluice_test.rj_t WHERE id = ${id}`)) as { n: number }[];
  return Number(rows[0]?.n) === 1;
}

test('failover with rejoin: replicas follow the new writeHost, the old master comes back as a replica, reads spread again', { timeout: 120_000 }, async () => {
  const [primary, replica1, replica2] = [sb.primary, sb.replicas[0]!, sb.replicas[1]!];
  const proxy = await rejoinProxy(sb, info);
  const c = await proxy.connect();
  try {
    await c.query('INSERT INTO rj_t VALUES (1)');
    await sb.waitForReplication();

    primary.kill('SIGKILL');
    await waitFor(() => proxy.sluice.cluster.view.writerIndex === 1, { timeoutMs: 10_000, what: 'the switch to replica1' });
    await waitFor(async () => c.query('INSERT INTO rj_t VALUES (2)').then(() => true, () => false), { timeoutMs: 10_000, what: 'a write on the new writeHost' });
    assert.equal(await serverId(c, '/*master*/ '), replica1.serverId);

    // replica2 followed the dead primary; now it follows replica1 and has the new row.
    await waitFor(async () => {
      const s = await source(replica2);
      return s.port === replica1.port && s.io === 'Yes' && s.sql === 'Yes';
    }, { timeoutMs: 15_000, what: 'replica2 replicating from replica1' });
    await waitFor(() => hasRow(replica2, 2), { timeoutMs: 10_000, what: 'row 2 on replica2' });
    await waitFor(async () => (await serverId(c)) === replica2.serverId, { timeoutMs: 15_000, what: 'reads on replica2 again' });

    // The old primary comes back: fenced read-only, then joined as a replica of replica1.
    await primary.start();
    await waitFor(async () => {
      const s = await source(primary);
      return s.port === replica1.port && s.io === 'Yes' && s.sql === 'Yes';
    }, { timeoutMs: 20_000, what: 'the old primary replicating from replica1' });
    await waitFor(() => hasRow(primary, 2), { timeoutMs: 10_000, what: 'row 2 on the old primary' });
    const [ro] = (await primary.query('SELECT @@GLOBAL.read_only AS ro')) as { ro: number }[];
    assert.equal(Number(ro!.ro), 1, 'the old primary stays read-only');
    await c.query('INSERT INTO rj_t VALUES (3)');
    await waitFor(() => hasRow(primary, 3), { timeoutMs: 10_000, what: 'row 3 on the old primary' });
    // balance 1: the standby writeHost serves reads once seen replicating.
    await waitFor(async () => (await serverId(c)) === primary.serverId, { timeoutMs: 15_000, what: 'reads on the old primary' });
    assert.equal(proxy.sluice.cluster.view.writerIndex, 1, 'no preemption');
  } finally {
    await c.end().catch(() => undefined);
    await proxy.close();
  }
});

test('rejoin of a server whose history diverged fails on the server, which stays out of read rotation', { timeout: 120_000 }, async () => {
  const sb2 = await startPrivateSandbox({ replicas: 2, semiSync: true });
  const [primary, replica1, replica2] = [sb2.primary, sb2.replicas[0]!, sb2.replicas[1]!];
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  try {
    await primary.query('CREATE TABLE IF NOT EXISTS sluice_test.rj_t (id INT PRIMARY KEY)');
    await sb2.waitForReplication();
    proxy = await rejoinProxy(sb2, sandboxInfo(sb2));
    // replica1 stops receiving; a write reaches the primary and replica2 only. replica1 will be
    // the new writer without it: replica2's history then has a transaction its new source lacks.
    await replica1.query('STOP SLAVE IO_THREAD');
    await primary.query('INSERT INTO sluice_test.rj_t VALUES (10)');
    await waitFor(() => hasRow(replica2, 10), { timeoutMs: 10_000, what: 'row 10 on replica2' });
    primary.kill('SIGKILL');
    await waitFor(() => proxy!.sluice.cluster.view.writerIndex === 1, { timeoutMs: 10_000, what: 'the switch to replica1' });
    // The rejoin is attempted (replica2 now names replica1) and the server refuses it.
    await waitFor(async () => {
      const s = await source(replica2);
      return s.port === replica1.port && s.io !== 'Yes' && s.error !== '';
    }, { timeoutMs: 15_000, what: 'replica2 pointed at replica1 and refusing' });
    const c = await proxy.connect();
    try {
      for (let i = 0; i < 10; i++) assert.notEqual(await serverId(c), replica2.serverId, 'the diverged replica serves no reads');
    } finally {
      await c.end();
    }
    const h = proxy.sluice.cluster.view.hosts.find((x) => x.port === replica2.port)!;
    assert.equal(h.readable, false);
  } finally {
    await proxy?.close();
    await sb2.stop();
  }
});
