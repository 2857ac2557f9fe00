/**
 * Prepared statements answer as the server would: a prepare after a table changed describes the
 * new columns (never a cached backend statement's old ones), and a prepared SET takes effect
 * without breaking the session. One backend connection per host and no read split, so every
 * statement meets the same backend connection and its statement cache.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

let proxy: TestProxy;
let c: mysql.Connection;

before(async () => {
  proxy = await startProxy({ dataHost: { balance: 0, pool: { min: 0, max: 1 } } });
  c = await proxy.connect();
});

after(async () => {
  await c?.end();
  await proxy?.close();
});

type Info = Awaited<ReturnType<mysql.Connection['prepare']>> & { statement: { columns: { name: string }[] } };

async function prepared(conn: mysql.Connection, sql: string): Promise<Info> {
  return (await conn.prepare(sql)) as Info;
}

describe('prepared statement metadata', () => {
  test('a prepare after ALTER TABLE describes the new columns, and the execution matches', async () => {
    await c.query('DROP TABLE IF EXISTS ps_shape');
    await c.query('CREATE TABLE ps_shape (id INT PRIMARY KEY, a INT)');
    await c.query('INSERT INTO ps_shape VALUES (1, 10)');
    const before = await prepared(c, 'SELECT * FROM ps_shape');
    assert.deepEqual(before.statement.columns.map((col) => col.name), ['id', 'a']);
    await before.execute([]);
    c.unprepare('SELECT * FROM ps_shape'); // mysql2 caches by text: the second prepare must reach the proxy
    await c.query('ALTER TABLE ps_shape ADD b INT');
    const after = await prepared(c, 'SELECT * FROM ps_shape');
    try {
      assert.deepEqual(after.statement.columns.map((col) => col.name), ['id', 'a', 'b']);
      const [rows, fields] = (await after.execute([])) as unknown as [Record<string, unknown>[], { name: string }[]];
      assert.deepEqual(fields.map((f) => f.name), ['id', 'a', 'b']);
      assert.deepEqual(rows, [{ id: 1, a: 10, b: null }]);
    } finally {
      c.unprepare('SELECT * FROM ps_shape');
    }
  });

  test('another session’s prepare after ALTER TABLE describes the new columns too', async () => {
    await c.query('DROP TABLE IF EXISTS ps_shape2');
    await c.query('CREATE TABLE ps_shape2 (id INT PRIMARY KEY)');
    const first = await proxy.connect();
    await (await prepared(first, 'SELECT * FROM ps_shape2')).execute([]);
    await first.end();
    await c.query('ALTER TABLE ps_shape2 ADD z VARCHAR(3)');
    const second = await proxy.connect();
    try {
      const info = await prepared(second, 'SELECT * FROM ps_shape2');
      assert.deepEqual(info.statement.columns.map((col) => col.name), ['id', 'z']);
    } finally {
      await second.end();
    }
  });
});

describe('prepared SET (reads split over the replicas)', () => {
  let split: TestProxy;
  before(async () => {
    split = await startProxy();
  });
  after(async () => {
    await split?.close();
  });

  test('a prepared SET with a bound value takes effect and the session goes on', async () => {
    const s = await split.connect();
    try {
      await s.execute('SET character_set_results = ?', ['latin1']);
      const [rows] = await s.execute('SELECT ? AS n', [1]);
      assert.deepEqual(rows, [{ n: 1 }]);
      for (let i = 0; i < 3; i++) {
        const [cs] = await s.query('SELECT @@character_set_results AS cs');
        assert.deepEqual(cs, [{ cs: 'latin1' }]);
        const [ps] = await s.execute('SELECT @@character_set_results AS cs');
        assert.deepEqual(ps, [{ cs: 'latin1' }]);
      }
    } finally {
      await s.end();
    }
  });

  test('later statements see it wherever they run; the session is counted as pinned', async () => {
    const s = await split.connect();
    try {
      const before = split.sluice.stats.pins['prepared-set'];
      await s.execute('SET time_zone = ?', ['+03:00']);
      for (let i = 0; i < 4; i++) {
        const [tz] = await s.query('SELECT @@time_zone AS tz');
        assert.deepEqual(tz, [{ tz: '+03:00' }]);
      }
      assert.equal(split.sluice.stats.pins['prepared-set'], before + 1);
    } finally {
      await s.end();
    }
  });
});
