/**
 * The data path under real clients: many at once, the mariadb CLI, huge results with bounded
 * proxy memory, packets over 16 MiB both ways, and the commands besides COM_QUERY.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { errnoOf, serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { adminConnection } from '../helpers/sandbox.js';
import { startBuiltProxy } from '../helpers/built-proxy.js';

const execFileP = promisify(execFile);

let proxy: TestProxy;

before(async () => {
  proxy = await startProxy();
  const admin = await adminConnection(proxy.sandbox.primary);
  try {
    // Rows over 16 MiB need a larger max_allowed_packet on every server (new connections).
    await admin.query('SET GLOBAL max_allowed_packet = 64 * 1024 * 1024');
    for (const r of proxy.sandbox.replicas) {
      const c = await adminConnection(r);
      await c.query('SET GLOBAL max_allowed_packet = 64 * 1024 * 1024');
      await c.end();
    }
    await admin.query('CREATE TABLE IF NOT EXISTS sluice_test.dp_t (id INT AUTO_INCREMENT PRIMARY KEY, n INT, big LONGTEXT) ENGINE=InnoDB');
  } finally {
    await admin.end();
  }
});

after(async () => {
  await proxy?.close();
});

describe('many clients', () => {
  test('200 concurrent clients each write and read their own rows', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => proxy.connect()));
    try {
      const results = await Promise.all(
        clients.map(async (c, i) => {
          const [res] = await c.query('INSERT INTO dp_t (n) VALUES (?)', [i]);
          const id = (res as mysql.ResultSetHeader).insertId;
          const [rows] = await c.query('/*master*/ SELECT n FROM dp_t WHERE id = ?', [id]);
          const sid = await serverId(c);
          return { n: Number((rows as { n: number }[])[0]!.n), sid };
        }),
      );
      results.forEach((r, i) => assert.equal(r.n, i));
      const sids = new Set(results.map((r) => r.sid));
      assert.ok(!sids.has(1) && sids.size === 2, `reads spread over the replicas, saw ${[...sids]}`);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});

describe('the mariadb command-line client', () => {
  test('runs reads and writes through the proxy', async () => {
    const args = ['-h', '127.0.0.1', '-P', String(proxy.port), '-u', proxy.sandbox.user, `-p${proxy.sandbox.password}`, 'sluice_test', '-N', '-B'];
    const { stdout } = await execFileP('mariadb', [...args, '-e', 'SELECT @@server_id']);
    assert.ok(['2', '3'].includes(stdout.trim()), stdout);
    const w = await execFileP('mariadb', [...args, '-e', 'INSERT INTO dp_t (n) VALUES (-1); SELECT ROW_COUNT()']);
    assert.equal(w.stdout.trim(), '1');
    const bad = await execFileP('mariadb', [...args, '-e', 'SELECT * FROM nope']).catch((e: { stderr: string }) => e);
    assert.match((bad as { stderr: string }).stderr, /ERROR 1146/);
  });
});

describe('large results and packets', () => {
  test('a 1 GB result streams through with proxy RSS under 150 MB', { timeout: 240_000 }, async (t) => {
    const sb = proxy.sandbox;
    const built = await startBuiltProxy(sb);
    const port = built.port;
    try {
      const startKb = built.memoryKb('VmRSS');
      // mariadb --quick reads row by row (mysql_use_result), so the client keeps no copy either.
      const { stdout } = await execFileP(
        'bash',
        [
          '-c',
          `mariadb --quick -h 127.0.0.1 -P ${port} -u ${sb.user} -p${sb.password} -N -B sluice_test -e "SELECT REPEAT('x', 1048576) FROM seq_1_to_1000" | wc -c`,
        ],
        { maxBuffer: 1024 * 1024 },
      );
      assert.equal(Number(stdout.trim()), 1000 * (1048576 + 1));
      const hwmKb = built.memoryKb('VmHWM');
      t.diagnostic(`proxy RSS after start-up ${startKb >> 10} MB, peak while streaming 1 GB ${hwmKb >> 10} MB`);
      assert.ok(hwmKb < 150 * 1024, `proxy peak RSS ${Math.round(hwmKb / 1024)} MB (after start-up: ${startKb >> 10} MB)`);
    } finally {
      await built.stop();
    }
  });

  test('rows and statements over 16 MiB pass both ways', async () => {
    // A fresh proxy: its backend connections are opened after max_allowed_packet was raised.
    const p = await startProxy();
    const c = await p.connect();
    try {
      const big = 'y'.repeat(17 * 1024 * 1024 + 3);
      const [res] = await c.query('INSERT INTO dp_t (n, big) VALUES (?, ?)', [17, big]);
      const id = (res as mysql.ResultSetHeader).insertId;
      const [rows] = await c.query('/*master*/ SELECT big FROM dp_t WHERE id = ?', [id]);
      assert.ok((rows as { big: string }[])[0]!.big === big, 'the 17 MiB value came back intact');
      const [exact] = await c.query(`SELECT REPEAT('z', ${0xffffff - 5}) AS s`);
      assert.equal((exact as { s: string }[])[0]!.s.length, 0xffffff - 5);
    } finally {
      await c.end();
      await p.close();
    }
  });
});

describe('commands besides COM_QUERY', () => {
  let c: mysql.Connection;
  before(async () => {
    c = await proxy.connect();
  });
  after(async () => {
    await c?.end();
  });

  test('COM_PING', async () => {
    await c.ping();
  });

  test('COM_CHANGE_USER re-authenticates and resets the session', async () => {
    await c.query("SET @x = 'before'");
    await c.changeUser({ user: proxy.sandbox.user, password: proxy.sandbox.password, database: 'sluice_test' });
    const [rows] = await c.query('SELECT @x AS x, DATABASE() AS db');
    assert.deepEqual(rows, [{ x: null, db: 'sluice_test' }]);
  });

  test('COM_CHANGE_USER with a wrong password fails with 1045', async () => {
    const d = await proxy.connect();
    assert.equal(await errnoOf(() => d.changeUser({ user: proxy.sandbox.user, password: 'nope' })), 1045);
    d.destroy();
  });

  test('KILL QUERY with the proxy’s connection id interrupts a running statement', async () => {
    const victim = await proxy.connect();
    const killer = await proxy.connect();
    try {
      const id = victim.threadId!;
      const started = Date.now();
      const running = errnoOf(() => victim.query('/*master*/ SELECT SLEEP(20)'));
      await new Promise((r) => setTimeout(r, 300));
      await killer.query(`KILL QUERY ${id}`);
      // SLEEP() interrupted returns 1 rather than an error on MariaDB; either way it ends early.
      await running.catch(() => 0);
      assert.ok(Date.now() - started < 10_000, 'the sleep was interrupted');
      assert.equal(await serverId(victim, '/*master*/ '), 1, 'the victim session is still usable');
    } finally {
      await victim.end();
      await killer.end();
    }
  });

  test('KILL of an unknown id → 1094', async () => {
    assert.equal(await errnoOf(() => c.query('KILL 999999')), 1094);
  });
});

describe('pooled connections', () => {
  test('a pooled connection killed by the server is replaced without a client error', async () => {
    const p = await startProxy({ session: { holdConnectionMs: 0 } });
    const client = await p.connect();
    try {
      for (let i = 0; i < 4; i++) await serverId(client);
      // Kill every connection the app user has on both replicas (what wait_timeout does).
      for (const r of p.sandbox.replicas) {
        const admin = await adminConnection(r);
        const [rows] = await admin.query(
          "SELECT id FROM information_schema.PROCESSLIST WHERE user = ? AND command = 'Sleep'",
          [p.sandbox.user],
        );
        for (const row of rows as { id: number }[]) await admin.query(`KILL ${row.id}`).catch(() => undefined);
        await admin.end();
      }
      await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 6; i++) assert.ok([2, 3].includes(await serverId(client)));
    } finally {
      await client.end();
      await p.close();
    }
  });

  test('a transaction whose backend connection was killed while idle fails with 2013 instead of continuing elsewhere', async () => {
    const client = await proxy.connect();
    const admin = await adminConnection(proxy.sandbox.primary);
    try {
      await client.query('BEGIN');
      await client.query("INSERT INTO dp_t (n) VALUES (424242)");
      // The backend's own thread id (CONNECTION_ID() is the proxy's id).
      const [ids] = await client.query('SELECT @@pseudo_thread_id AS id');
      // The server ends the connection between statements (wait_timeout, KILL, a restart):
      // the open transaction is rolled back there.
      await admin.query(`KILL ${(ids as { id: number }[])[0]!.id}`);
      await new Promise((r) => setTimeout(r, 100));
      // Running the next statement on a fresh connection would silently leave the transaction
      // (the INSERT above is gone, this one would autocommit).
      assert.equal(await errnoOf(() => client.query("INSERT INTO dp_t (n) VALUES (424243)")), 2013);
      const [rows] = await admin.query('SELECT COUNT(*) AS n FROM sluice_test.dp_t WHERE n IN (424242, 424243)');
      assert.equal(Number((rows as { n: number }[])[0]!.n), 0, 'nothing of the lost transaction was committed');
      // The session goes on, out of the transaction (autocommit again), on a new connection.
      assert.ok((await serverId(client)) > 0);
      await client.query('INSERT INTO dp_t (n) VALUES (424244)');
      const [after] = await admin.query('SELECT COUNT(*) AS n FROM sluice_test.dp_t WHERE n = 424244');
      assert.equal(Number((after as { n: number }[])[0]!.n), 1, 'committed at once');
    } finally {
      await client.end();
      await admin.end();
    }
  });
});
