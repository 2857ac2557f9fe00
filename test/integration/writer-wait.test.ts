/**
 * Autocommit statements that were never sent wait for the new writeHost instead of failing
 * (failover with promote, private semi-sync sandbox): a write issued right after the writeHost
 * was SIGKILLed — before the heartbeats have declared it down, so the proxy still routes to it
 * and gets a refused connection — runs on the new writeHost once it is promoted; and one issued
 * after the writer was declared down waits the same way.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox/index.js';
import { serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { sandboxInfo, startPrivateSandbox } from '../helpers/sandbox.js';

const HEARTBEAT = { intervalMs: 500, timeoutMs: 500, retries: 3 };

let sb: Sandbox;
let proxy: TestProxy;

before(async () => {
  sb = await startPrivateSandbox({ replicas: 1, semiSync: true });
  await sb.primary.query('CREATE TABLE sluice_test.ww_t (id INT PRIMARY KEY)');
  await sb.waitForReplication();
  proxy = await startProxy({
    sandbox: sandboxInfo(sb),
    dataHost: {
      writeHosts: [
        { host: sb.primary.host, port: sb.primary.port },
        { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port },
      ],
      readHosts: [],
      heartbeat: HEARTBEAT,
      failover: { enabled: true, promote: true, user: sb.adminUser, password: sb.adminPassword, dnindexFile: path.join(sb.dir, 'dnindex-ww.properties') },
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
  });
});

after(async () => {
  await proxy?.close();
  await sb?.stop();
});

test('writes issued while the writeHost is dead but not yet replaced wait for the new one and succeed', { timeout: 60_000 }, async () => {
  // Connections in the pool to the primary, as under load.
  const warm = await proxy.connect();
  await warm.query('INSERT INTO sluice_test.ww_t VALUES (1)');
  warm.destroy();
  const c1 = await proxy.connect();
  const c2 = await proxy.connect();
  const held0 = proxy.sluice.stats.heldForWriter;
  const t0 = Date.now();
  sb.primary.kill('SIGKILL');
  // Soon after (the dead server's sockets are closed, so nothing can be sent on them): the proxy
  // still believes in the primary, and its new connection is refused. (A statement written to a
  // connection at the very moment the server dies is sent-and-unanswered: 2013, never re-run.)
  await new Promise((r) => setTimeout(r, 100));
  const early = c1.query('INSERT INTO sluice_test.ww_t VALUES (2)');
  // After the heartbeats declared it down (3 × 500 ms), before the new writer is promoted or not.
  await new Promise((r) => setTimeout(r, HEARTBEAT.retries * HEARTBEAT.intervalMs + 100));
  const late = c2.query('INSERT INTO sluice_test.ww_t VALUES (3)');
  await Promise.all([early, late]);
  const took = Date.now() - t0;
  assert.equal(await serverId(c1, '/*master*/ '), sb.replicas[0]!.serverId);
  const rows = (await sb.replicas[0]!.query('SELECT id FROM sluice_test.ww_t ORDER BY id')) as { id: number }[];
  assert.deepEqual(rows.map((r) => Number(r.id)), [1, 2, 3]);
  assert.ok(proxy.sluice.stats.heldForWriter > held0, 'counted as held');
  process.stdout.write(`# writes issued right after the writeHost died succeeded on the new one after ${took} ms\n`);
  c1.destroy();
  c2.destroy();
});
