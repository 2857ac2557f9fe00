/**
 * Health and failover through the proxy, with real processes killed and stopped (a private
 * sandbox: primary server_id 1 and replica1 server_id 2 as writeHosts [0, 1], replica2 server_id 3
 * as the readHost).
 *
 * - SIGSTOP a readHost under a read load: zero failed autocommit reads; SIGCONT: it rejoins.
 * - STOP SLAVE on a replica: it leaves rotation; START SLAVE: it rejoins after catching up.
 * - SIGKILL the writeHost under a write load: writes succeed again on the next writeHost within
 *   retries × interval + timeout + 1 s; dnindex holds the new index; a restarted Sluice keeps it;
 *   the old writeHost, back, gets no writes; a transaction that was open fails clearly and the
 *   session's next statement uses the new writeHost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import type { Sandbox } from '../../src/sandbox/index.js';
import { serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { sandboxInfo, startPrivateSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';

const HEARTBEAT = { intervalMs: 300, timeoutMs: 300, retries: 3 };
/** What the issue promises: retries × interval + timeout, plus 1 s. */
const SWITCH_BOUND_MS = HEARTBEAT.retries * HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs + 1000;

let sb: Sandbox;
let info: SandboxInfo;
let dnindex: string;

function proxyConfig(): Parameters<typeof startProxy>[0] {
  return {
    sandbox: info,
    dataHost: {
      writeHosts: [
        { host: sb.primary.host, port: sb.primary.port },
        { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port },
      ],
      readHosts: [{ host: sb.replicas[1]!.host, port: sb.replicas[1]!.port }],
      heartbeat: HEARTBEAT,
      failover: { enabled: true, promote: true, dnindexFile: dnindex, user: sb.adminUser, password: sb.adminPassword },
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
  };
}

before(async () => {
  sb = await startPrivateSandbox({ replicas: 2, semiSync: true });
  info = sandboxInfo(sb);
  dnindex = path.join(sb.dir, 'dnindex.properties');
  await sb.primary.query('CREATE TABLE IF NOT EXISTS sluice_test.fo_t (id INT AUTO_INCREMENT PRIMARY KEY, client INT, n INT)');
  await sb.waitForReplication();
});

after(async () => {
  await sb?.stop();
});

describe('readHosts leave and rejoin rotation', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy({
      ...proxyConfig(),
      // Two readHosts here (the standby writeHost also reads with balance 1).
    });
  });
  after(() => proxy?.close());

  test('SIGSTOP a readHost under a read load: no autocommit read fails; SIGCONT: it rejoins', { timeout: 60_000 }, async () => {
    const clients = await Promise.all(Array.from({ length: 4 }, () => proxy.connect()));
    const replica = sb.replicas[1]!; // server_id 3
    let failures = 0;
    let reads = 0;
    const seen = new Set<number>();
    let stop = false;
    const loops = clients.map(async (c) => {
      while (!stop) {
        try {
          seen.add(await serverId(c));
          reads++;
        } catch (err) {
          failures++;
          if (process.env['SLUICE_TEST_DEBUG']) process.stderr.write(`read failed: ${(err as Error).message}\n`);
        }
      }
    });
    try {
      await waitFor(() => seen.has(2) && seen.has(3), { what: 'reads on both readable hosts' });
      replica.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, SWITCH_BOUND_MS + 500));
      seen.clear();
      await waitFor(() => seen.size > 0 && reads > 0, { what: 'reads while stopped' });
      const whileStopped = new Set(seen);
      replica.kill('SIGCONT');
      seen.clear();
      await waitFor(() => seen.has(3), { timeoutMs: 15_000, what: 'the readHost to rejoin' });
      stop = true;
      await Promise.all(loops);
      assert.equal(failures, 0, `${failures} failed reads of ${reads}`);
      assert.ok(!whileStopped.has(3), 'the stopped host served nothing');
    } finally {
      stop = true;
      replica.kill('SIGCONT');
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  test('STOP SLAVE takes a replica out of rotation; START SLAVE brings it back once caught up', { timeout: 60_000 }, async () => {
    const c = await proxy.connect();
    const replica = sb.replicas[1]!;
    try {
      await replica.query('STOP SLAVE');
      await waitFor(
        async () => {
          for (let i = 0; i < 6; i++) if ((await serverId(c)) === 3) return false;
          return true;
        },
        { timeoutMs: 10_000, what: 'server 3 out of rotation' },
      );
      await replica.query('START SLAVE');
      await waitFor(
        async () => {
          for (let i = 0; i < 6; i++) if ((await serverId(c)) === 3) return true;
          return false;
        },
        { timeoutMs: 15_000, what: 'server 3 back in rotation' },
      );
    } finally {
      await replica.query('START SLAVE').catch(() => undefined);
      await c.end();
    }
  });
});

describe('writeHost failover', () => {
  test('SIGKILL the writeHost under a write load: writes move to the next writeHost in time, and stay there', { timeout: 120_000 }, async () => {
    const proxy = await startProxy(proxyConfig());
    const writers = await Promise.all(Array.from({ length: 4 }, () => proxy.connect()));
    const inTx = await proxy.connect();
    let stop = false;
    let lastFailureAt = 0;
    let firstSuccessAfterKill = 0;
    let killedAt = 0;
    const loops = writers.map(async (c, client) => {
      for (let n = 0; !stop; n++) {
        try {
          await c.query('INSERT INTO fo_t (client, n) VALUES (?, ?)', [client, n]);
          if (killedAt > 0 && firstSuccessAfterKill === 0 && Date.now() > lastFailureAt) firstSuccessAfterKill = Date.now();
        } catch {
          lastFailureAt = Date.now();
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 500));
      await inTx.query('BEGIN');
      await inTx.query('INSERT INTO fo_t (client, n) VALUES (99, 0)');

      killedAt = Date.now();
      sb.primary.kill('SIGKILL');
      await waitFor(() => proxy.sluice.cluster.view.writerIndex === 1, { timeoutMs: SWITCH_BOUND_MS + 2000, what: 'the switch' });
      const switchedAfter = Date.now() - killedAt;
      assert.ok(switchedAfter <= SWITCH_BOUND_MS, `switched after ${switchedAfter} ms (bound ${SWITCH_BOUND_MS})`);

      // Writes succeed again, on replica1 (server_id 2).
      const [rows] = await writers[0]!.query('INSERT INTO fo_t (client, n) VALUES (7, 7)');
      assert.ok((rows as mysql.ResultSetHeader).affectedRows === 1);
      assert.equal(await serverId(writers[0]!, '/*master*/ '), 2);
      await waitFor(() => firstSuccessAfterKill > 0, { what: 'a successful write after the kill' });
      assert.ok(firstSuccessAfterKill - killedAt <= SWITCH_BOUND_MS + 500, `first write ok ${firstSuccessAfterKill - killedAt} ms after the kill`);

      // The transaction that was open on the dead writeHost fails clearly; the next statement works.
      await assert.rejects(inTx.query('INSERT INTO fo_t (client, n) VALUES (99, 1)'), (err: { errno?: number }) =>
        [1927, 2013].includes(err.errno ?? 0),
      );
      assert.equal(await serverId(inTx, '/*master*/ '), 2);

      // dnindex says so.
      assert.match(readFileSync(dnindex, 'utf8'), /^dh1=1$/m);
    } finally {
      stop = true;
      await Promise.all(loops);
      await Promise.all([...writers, inTx].map((c) => c.end().catch(() => undefined)));
      await proxy.close();
    }

    // A restarted Sluice keeps the new writeHost; the old one, back, gets no writes.
    await sb.primary.start();
    const again = await startProxy(proxyConfig());
    try {
      assert.equal(again.sluice.cluster.view.writerIndex, 1, 'index read from dnindex at start-up');
      const c = await again.connect();
      await c.query('INSERT INTO fo_t (client, n) VALUES (8, 8)');
      assert.equal(await serverId(c, '/*master*/ '), 2);
      await new Promise((r) => setTimeout(r, HEARTBEAT.intervalMs * 4));
      assert.equal(again.sluice.cluster.view.writerIndex, 1, 'no preemption by the recovered old writeHost');
      await c.end();
      // Fencing: the old writeHost was set read_only once reachable.
      await waitFor(
        async () => {
          const rows = (await sb.primary.query('SELECT @@global.read_only AS ro')) as { ro: number }[];
          return Number(rows[0]?.ro) === 1;
        },
        { timeoutMs: 10_000, what: 'the old writeHost to be fenced read_only' },
      );
    } finally {
      await again.close();
    }
  });
});
