/** The sandbox is real: three servers, GTID replication, read-only replicas, a fenced app account. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Sandbox } from '../../src/sandbox/index.js';
import { adminQuery, connectApp, getSandbox, startPrivateSandbox, waitFor } from '../helpers/sandbox.js';

const sb = await getSandbox();
const servers = [sb.primary, ...sb.replicas];

test('three servers with server_id 1, 2, 3', async () => {
  assert.equal(sb.replicas.length, 2);
  const ids = await Promise.all(servers.map(async (s) => Number((await adminQuery<{ id: unknown }>(s, 'SELECT @@server_id AS id'))[0]?.id)));
  assert.deepEqual(ids, [1, 2, 3]);
  assert.deepEqual(servers.map((s) => s.serverId), [1, 2, 3]);
  assert.equal(new Set(servers.map((s) => s.port)).size, 3);
});

test('replicas are read_only, the primary is not', async () => {
  const ro = await Promise.all(servers.map(async (s) => Number((await adminQuery<{ ro: unknown }>(s, 'SELECT @@read_only AS ro'))[0]?.ro)));
  assert.deepEqual(ro, [0, 1, 1]);
});

test('the database and accounts exist on every server', async () => {
  for (const s of servers) {
    const conn = await connectApp(s);
    try {
      const [rows] = await conn.query('SELECT DATABASE() AS db, CURRENT_USER() AS u');
      assert.deepEqual(rows, [{ db: 'sluice_test', u: 'app@%' }]);
    } finally {
      await conn.end();
    }
  }
});

test('the app account lacks SUPER and READ_ONLY ADMIN', async () => {
  const grants = (await adminQuery<Record<string, string>>(sb.primary, "SHOW GRANTS FOR 'app'@'%'"))
    .map((r) => Object.values(r)[0] ?? '')
    .join('\n');
  assert.doesNotMatch(grants, /SUPER|READ_ONLY ADMIN|ALL PRIVILEGES/);
  assert.match(grants, /SELECT, INSERT, UPDATE, DELETE/);
});

test('a row inserted on the primary appears on both replicas', async () => {
  const table = `sandbox_repl_${process.pid}`;
  const marker = randomUUID();
  const primary = await connectApp(sb.primary);
  try {
    await primary.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))`);
    await primary.query(`INSERT INTO ${table} (v) VALUES (?)`, [marker]);
    for (const r of sb.replicas) {
      await waitFor(
        async () => (await adminQuery(r, `SELECT v FROM ${table} WHERE v = ?`, [marker])).length === 1,
        { timeoutMs: 10_000, what: `the row on ${r.name}` },
      );
    }
  } finally {
    await primary.query(`DROP TABLE IF EXISTS ${table}`);
    await primary.end();
  }
});

test('app cannot write on a replica (1290 read-only)', async () => {
  const table = `sandbox_ro_${process.pid}`;
  await adminQuery(sb.primary, `CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY)`);
  try {
    for (const r of sb.replicas) {
      await waitFor(async () => (await adminQuery(r, `SHOW TABLES LIKE '${table}'`)).length === 1, {
        what: `${table} on ${r.name}`,
      });
      const conn = await connectApp(r);
      try {
        await assert.rejects(conn.query(`INSERT INTO ${table} VALUES (1)`), (err: { errno?: number }) => {
          assert.equal(err.errno, 1290);
          return true;
        });
        await assert.rejects(conn.query('CREATE TABLE sandbox_never (id INT)'), (err: { errno?: number }) => {
          assert.equal(err.errno, 1290);
          return true;
        });
      } finally {
        await conn.end();
      }
    }
  } finally {
    await adminQuery(sb.primary, `DROP TABLE IF EXISTS ${table}`);
  }
});

test('SHOW SLAVE STATUS shows both replication threads running', async () => {
  const statusSql = sb.kind === 'mariadb' ? 'SHOW SLAVE STATUS' : 'SHOW REPLICA STATUS';
  const prefix = sb.kind === 'mariadb' ? 'Slave' : 'Replica';
  for (const r of sb.replicas) {
    const conn = await connectApp(r); // the app account may monitor replication
    try {
      const [rows] = await conn.query(statusSql);
      const row = (rows as Record<string, unknown>[])[0];
      assert.ok(row !== undefined, `${r.name} is a replica`);
      assert.equal(row[`${prefix}_IO_Running`], 'Yes');
      assert.equal(row[`${prefix}_SQL_Running`], 'Yes');
      assert.equal(Number(row[sb.kind === 'mariadb' ? 'Master_Port' : 'Source_Port']), sb.primary.port);
    } finally {
      await conn.end();
    }
  }
});

describe('server lifecycle (private sandbox: kill, stop, restart)', () => {
  let own: Sandbox;
  before(async () => {
    own = await startPrivateSandbox({ replicas: 1 });
  });

  test('a SIGKILLed replica restarts on its datadir and catches up', async () => {
    const [replica] = own.replicas;
    assert.ok(replica !== undefined);
    const pid = replica.pid;
    assert.ok(pid !== undefined);
    replica.kill('SIGKILL');
    await waitFor(() => replica.pid === undefined, { what: 'the replica to exit' });
    await own.primary.query('CREATE TABLE sluice_test.lifecycle (id INT PRIMARY KEY)');
    await own.primary.query('INSERT INTO sluice_test.lifecycle VALUES (1), (2)');
    await replica.start();
    assert.notEqual(replica.pid, pid);
    await own.waitForReplication(20_000);
    assert.deepEqual(await replica.query('SELECT COUNT(*) AS n FROM sluice_test.lifecycle'), [{ n: 2 }]);
  });

  test('a SIGSTOPped primary still stops cleanly, and comes back', async () => {
    own.primary.kill('SIGSTOP');
    assert.ok(own.primary.pid !== undefined, 'a stopped process is still alive');
    await own.primary.stop();
    assert.equal(own.primary.pid, undefined);
    await own.primary.start();
    await own.primary.query('INSERT INTO sluice_test.lifecycle VALUES (3)');
    await own.waitForReplication(20_000);
    assert.deepEqual(await own.replicas[0]?.query('SELECT COUNT(*) AS n FROM sluice_test.lifecycle'), [{ n: 3 }]);
  });
});
