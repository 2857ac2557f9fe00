/**
 * Transaction replay (failover.transactionReplay) against a private semi-sync sandbox (a primary
 * and one replica, both writeHosts, promote + rejoin): open transactions whose writeHost dies
 * (SIGKILL) or moves (switchover) are run again on the new writeHost and go on as if nothing
 * happened — idle between statements or with a statement in flight, with prepared statements
 * and session variables. A replay whose answers differ, a transaction over the size limit and a
 * connection the server itself killed give the client the error instead; a COMMIT in flight is
 * never run again (2013).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { Sandbox } from '../../src/sandbox/index.js';
import { errnoOf, serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { promotingFailover, sandboxInfo, startPrivateSandbox, waitFor } from '../helpers/sandbox.js';

const ADMIN = { host: '127.0.0.1', port: 0, user: 'admin', password: 'replay' };
const TABLE = 'sluice_test.tr_t';
const MAX_BYTES = 4096;
const ER_CONNECTION_KILLED = 1927;
const CR_SERVER_LOST = 2013;

let sb: Sandbox;
let proxy: TestProxy;
type Server = Sandbox['primary'];

before(async () => {
  sb = await startPrivateSandbox({ replicas: 1, semiSync: true, semiSyncTimeoutMs: 5_000 });
  await sb.primary.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, v INT, note VARCHAR(64))`);
  await sb.primary.query(`INSERT INTO ${TABLE} VALUES (1, 10, ''), (2, 20, ''), (3, 30, ''), (4, 40, ''), (5, 50, ''), (6, 60, '')`);
  await sb.waitForReplication();
  proxy = await startProxy({
    sandbox: sandboxInfo(sb),
    admin: ADMIN,
    // Sessions keep the connections they used (reads on the standby too) until they go idle.
    session: { holdConnectionMs: 60_000 },
    dataHost: {
      writeHosts: [
        { host: sb.primary.host, port: sb.primary.port },
        { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port },
      ],
      readHosts: [],
      heartbeat: { intervalMs: 300, timeoutMs: 300, retries: 3 },
      failover: promotingFailover(sb, path.join(sb.dir, 'dnindex-replay.properties'), { promotionWaitMs: 4_000, transactionReplayMaxBytes: MAX_BYTES }),
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
  });
});

after(async () => {
  await proxy?.close();
  await sb?.stop();
});

const replays = (): Record<string, number> => ({ ...proxy.sluice.stats.replays });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function writerServer(): Server {
  const view = proxy.sluice.cluster.view;
  return sb.servers.find((s) => s.port === view.writer?.port)!;
}

function otherServer(): Server {
  return sb.servers.find((s) => s !== writerServer())!;
}

async function adminRun(sql: string): Promise<string> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: proxy.sluice.adminAddress!.port, user: ADMIN.user, password: ADMIN.password });
  try {
    const [r] = await c.query(sql);
    return String((r as { info?: string }).info ?? JSON.stringify(r));
  } finally {
    await c.end();
  }
}

/** The proxy sees `s` replicating from the writeHost (what a switchover to it needs). */
async function replicatingInView(s: Server): Promise<void> {
  await waitFor(
    () => {
      const h = proxy.sluice.cluster.view.hosts.find((x) => x.port === s.port);
      return h?.status === 'up' && h.replication?.ioState === 'yes' && h.replication.sqlRunning;
    },
    { timeoutMs: 30_000, what: `${s.name} replicating in the proxy's view` },
  ).catch(async (err: unknown) => {
    const h = proxy.sluice.cluster.view.hosts.find((x) => x.port === s.port);
    throw new Error(`${(err as Error).message}: ${JSON.stringify(h)} ${JSON.stringify(await s.query('SHOW SLAVE STATUS'))}`);
  });
}

/** A planned switchover to the server that is not the writeHost now. */
async function switchover(): Promise<void> {
  const to = otherServer();
  await replicatingInView(to);
  const index = proxy.sluice.cluster.view.hosts.findIndex((h) => h.port === to.port);
  assert.match(await adminRun(`SWITCHOVER dh1:${index}`), /switchover done/);
}

async function row(server: Server, id: number): Promise<{ v: number; note: string } | undefined> {
  const rows = (await server.query(`SELECT v, note FROM ${TABLE} WHERE id = ?`, [id])) as { v: number; note: string }[];
  return rows[0] === undefined ? undefined : { v: Number(rows[0].v), note: rows[0].note };
}

test('SIGKILL of the writeHost: open transactions, idle or with a statement in flight, are replayed on the new writeHost and commit', { timeout: 90_000 }, async () => {
  const before = replays();
  const oldWriter = writerServer();
  const newWriter = otherServer();
  // a: session variables set before the transaction, a prepared statement inside it; idle at the kill.
  const a = await proxy.connect();
  // A read first: it goes to the standby (a readHost too), so a keeps a connection there, which
  // the replay must use rather than push out of the books with another one.
  const [[readOn]] = (await a.query('SELECT @@server_id AS id')) as unknown as [[{ id: number }]];
  assert.equal(Number(readOn.id), newWriter.serverId);
  await a.query("SET @who = 'a', time_zone = '+03:00'");
  await a.query('BEGIN');
  const [[seen]] = (await a.query(`SELECT v FROM ${TABLE} WHERE id = 1 FOR UPDATE`)) as unknown as [[{ v: number }]];
  assert.equal(Number(seen.v), 10);
  await a.execute(`UPDATE ${TABLE} SET v = v + ? WHERE id = ?`, [5, 1]);
  await a.query(`INSERT INTO ${TABLE} VALUES (100, 0, CONCAT(@who, ' ', @@time_zone))`);
  // b: a statement of the transaction is running when the server dies.
  const b = await proxy.connect();
  await b.query('BEGIN');
  await b.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 2`);
  const inFlight = b.query(`SELECT SLEEP(1) AS s, v FROM ${TABLE} WHERE id = 2`);
  await sleep(300);
  // d: its BEGIN is in flight too (the server is stopped, then killed).
  const d = await proxy.connect();
  oldWriter.kill('SIGSTOP');
  const begun = d.query('BEGIN');
  await sleep(200);
  const t0 = Date.now();
  oldWriter.kill('SIGKILL');

  const [[slept]] = (await inFlight) as unknown as [[{ s: number; v: number }]];
  assert.equal(Number(slept.v), 21, 'the in-flight statement ran after the replay, and saw the transaction');
  await b.execute(`UPDATE ${TABLE} SET v = v + ? WHERE id = ?`, [1, 2]);
  await b.query('COMMIT');
  await a.query(`INSERT INTO ${TABLE} VALUES (101, 0, 'after')`);
  await a.query('COMMIT');
  await begun;
  await d.query(`INSERT INTO ${TABLE} VALUES (102, 0, 'begun in flight')`);
  await d.query('COMMIT');
  const took = Date.now() - t0;

  assert.equal(await serverId(a, '/*master*/ '), newWriter.serverId);
  assert.deepEqual(await row(newWriter, 1), { v: 15, note: '' });
  assert.deepEqual(await row(newWriter, 100), { v: 0, note: 'a +03:00' });
  assert.deepEqual(await row(newWriter, 101), { v: 0, note: 'after' });
  assert.deepEqual(await row(newWriter, 2), { v: 22, note: '' });
  assert.deepEqual(await row(newWriter, 102), { v: 0, note: 'begun in flight' });
  const now = replays();
  assert.equal(now['replayed']! - before['replayed']!, 2, `outcomes: ${JSON.stringify(now)}`);
  process.stdout.write(`# writeHost SIGKILL: 2 open transactions replayed (one with a statement in flight), a BEGIN in flight run again; all committed ${took} ms after the kill\n`);
  a.destroy();
  b.destroy();
  d.destroy();
  // Every connection the sessions held on the new writeHost went back to its pool.
  const pools = proxy.sluice.pools(`${newWriter.host}:${newWriter.port}`)!;
  await waitFor(() => pools.stats().borrowed === 0, { timeoutMs: 5_000, what: 'no backend connection left borrowed on the new writeHost' });
  // The old primary comes back and follows the new writeHost (the next tests switch to it).
  await oldWriter.start();
  await replicatingInView(oldWriter);
});

test('switchover: a transaction whose reads are unchanged is replayed; one whose read row changed gets the error', { timeout: 90_000 }, async () => {
  const before = replays();
  const unchanged = await proxy.connect();
  await unchanged.query('BEGIN');
  await unchanged.query(`SELECT v FROM ${TABLE} WHERE id = 5`);
  await unchanged.query(`UPDATE ${TABLE} SET note = 'kept' WHERE id = 5`);
  const changed = await proxy.connect();
  await changed.query('BEGIN');
  const [[three]] = (await changed.query(`SELECT v FROM ${TABLE} WHERE id = 3`)) as unknown as [[{ v: number }]];
  assert.equal(Number(three.v), 30);

  await switchover();
  // Between the original read and the replay, another session changes the row on the new writeHost.
  const other = await proxy.connect();
  await other.query(`UPDATE ${TABLE} SET v = 31 WHERE id = 3`);
  other.destroy();

  assert.equal(await errnoOf(() => changed.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 4`)), ER_CONNECTION_KILLED);
  await unchanged.query('COMMIT');
  assert.deepEqual(await row(writerServer(), 5), { v: 50, note: 'kept' });
  assert.deepEqual(await row(writerServer(), 4), { v: 40, note: '' }, 'the refused transaction left nothing');
  // The refused session starts over and works.
  await changed.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 4`);
  assert.deepEqual(await row(writerServer(), 4), { v: 41, note: '' });
  const now = replays();
  assert.equal(now['replayed']! - before['replayed']!, 1, `outcomes: ${JSON.stringify(now)}`);
  assert.equal(now['mismatch']! - before['mismatch']!, 1, `outcomes: ${JSON.stringify(now)}`);
  unchanged.destroy();
  changed.destroy();
});

test('a transaction larger than transactionReplayMaxBytes is not replayed: the client gets the error', { timeout: 90_000 }, async () => {
  const before = replays();
  const big = await proxy.connect();
  await big.query('BEGIN');
  await big.query(`SELECT v FROM ${TABLE} WHERE id = 6 /* ${'x'.repeat(MAX_BYTES)} */`);
  await switchover();
  assert.equal(await errnoOf(() => big.query(`UPDATE ${TABLE} SET v = 0 WHERE id = 6`)), ER_CONNECTION_KILLED);
  assert.equal(replays()['not-replayable']! - before['not-replayable']!, 1);
  assert.deepEqual(await row(writerServer(), 6), { v: 60, note: '' });
  big.destroy();
});

test('a transaction whose connection the living writeHost killed (KILL) is not replayed: 2013', { timeout: 30_000 }, async () => {
  const before = replays();
  const c = await proxy.connect();
  await c.query('BEGIN');
  await c.query(`UPDATE ${TABLE} SET v = 0 WHERE id = 6`);
  const [[t]] = (await c.query('SELECT @@pseudo_thread_id AS id')) as unknown as [[{ id: number }]];
  await writerServer().query(`KILL CONNECTION ${Number(t.id)}`);
  await sleep(300);
  assert.equal(await errnoOf(() => c.query('SELECT 1')), CR_SERVER_LOST);
  assert.equal(replays()['not-replayable']! - before['not-replayable']!, 1);
  assert.deepEqual(await row(writerServer(), 6), { v: 60, note: '' });
  c.destroy();
});

test('a COMMIT in flight when the writeHost dies is never run again: the client gets 2013', { timeout: 90_000 }, async () => {
  const before = replays();
  const writer = writerServer();
  const standby = otherServer();
  await replicatingInView(standby);
  // Semi-sync turns itself back on once a replica acknowledges a new transaction.
  const nudge = await proxy.connect();
  await waitFor(
    async () => {
      await nudge.query(`UPDATE ${TABLE} SET v = v + 1 WHERE id = 1`);
      const rows = (await writer.query("SHOW STATUS LIKE 'Rpl_semi_sync_master_status'")) as { Value: string }[];
      return rows[0]?.Value === 'ON';
    },
    { timeoutMs: 20_000, what: 'semi-sync active on the writeHost' },
  ).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await writer.query("SHOW GLOBAL STATUS LIKE 'Rpl_semi%'"))} ${JSON.stringify(await writer.query("SHOW GLOBAL VARIABLES LIKE 'rpl_semi%'"))}`);
  });
  nudge.destroy();
  // The standby stops receiving: the COMMIT waits for its acknowledgement (semiSyncTimeoutMs).
  await standby.query('STOP SLAVE IO_THREAD');
  const c = await proxy.connect();
  await c.query('BEGIN');
  await c.query(`INSERT INTO ${TABLE} VALUES (200, 0, 'commit in flight')`);
  const commit = errnoOf(() => c.query('COMMIT'));
  await sleep(500);
  writer.kill('SIGKILL');
  assert.equal(await commit, CR_SERVER_LOST);
  assert.equal(replays()['commit-in-flight']! - before['commit-in-flight']!, 1);
  // The new writeHost never got it, and the proxy did not run it again there.
  await waitFor(() => proxy.sluice.cluster.view.writer?.port === standby.port && proxy.sluice.cluster.view.writer.readOnly === false, {
    timeoutMs: 20_000,
    what: 'the standby promoted',
  });
  assert.equal(await row(standby, 200), undefined);
  c.destroy();
});
