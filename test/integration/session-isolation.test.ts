/**
 * No session state crosses sessions through pooled backend connections: one backend connection
 * per host (pool max 1) and no read split, so session B always gets the very connection session A
 * just used. Each expectation is what a fresh connection straight to the server shows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { errnoOf, startProxy, type TestProxy } from '../helpers/proxy.js';
import { connectApp, getSandbox } from '../helpers/sandbox.js';

let proxy: TestProxy;

before(async () => {
  proxy = await startProxy({ dataHost: { balance: 0, pool: { min: 0, max: 1 } } });
  const c = await proxy.connect();
  await c.query('CREATE TABLE IF NOT EXISTS iso_t (id INT PRIMARY KEY)');
  await c.query('DROP PROCEDURE IF EXISTS iso_read_u');
  await c.query('CREATE PROCEDURE iso_read_u() SELECT @iso_u AS v');
  await c.end();
});

after(async () => {
  await proxy?.close();
});

async function one<T = unknown>(c: mysql.Connection, sql: string): Promise<T> {
  const [rows] = await c.query(sql);
  return Object.values((rows as Record<string, unknown>[])[0]!)[0] as T;
}

/** Runs `a` in one session, ends it, then `b` in a new session (without a default database unless `bDb`). */
async function afterAnother<T>(
  a: (c: mysql.Connection) => Promise<unknown>,
  b: (c: mysql.Connection) => Promise<T>,
  bDb?: string,
): Promise<T> {
  const first = await proxy.connect();
  await a(first);
  await first.end();
  const second = await proxy.connect({ database: bDb });
  try {
    return await b(second);
  } finally {
    await second.end();
  }
}

/** What a fresh direct connection to the primary answers. */
async function direct<T>(fn: (c: mysql.Connection) => Promise<T>, database?: string): Promise<T> {
  const sb = await getSandbox();
  const c = await connectApp(sb.primary, { database });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('nothing crosses sessions through a pooled connection', () => {
  test('schema: a session without a default database has none (DATABASE() NULL, 1046)', async () => {
    assert.equal(await direct((c) => one(c, 'SELECT DATABASE()')), null);
    const [db, errno] = await afterAnother(
      (c) => c.query('SELECT COUNT(*) FROM iso_t'),
      async (c) => [await one(c, 'SELECT DATABASE()'), await errnoOf(() => c.query('SELECT COUNT(*) FROM iso_t'))],
    );
    assert.equal(db, null);
    assert.equal(errno, 1046);
  });

  test('schema: after a schemaless session, the next one gets its own database back', async () => {
    const db = await afterAnother(
      (c) => c.query('SELECT 1'),
      (c) => one(c, 'SELECT DATABASE()'),
      'sluice_test',
    );
    assert.equal(db, 'sluice_test');
  });

  test('character set', async () => {
    const sql = 'SELECT CONCAT_WS(",", @@character_set_client, @@character_set_results, @@collation_connection)';
    const expected = await direct((c) => one(c, sql));
    const got = await afterAnother((c) => c.query('SET NAMES latin1'), (c) => one(c, sql));
    assert.equal(got, expected);
  });

  test('session variables', async () => {
    const sql = 'SELECT CONCAT_WS(",", @@session.time_zone, @@session.sql_select_limit, @@session.group_concat_max_len)';
    const expected = await direct((c) => one(c, sql));
    const got = await afterAnother(
      (c) => c.query("SET SESSION time_zone = '+05:00', sql_select_limit = 3, group_concat_max_len = 77"),
      (c) => one(c, sql),
    );
    assert.equal(got, expected);
  });

  test('user variables, also when only a procedure reads them', async () => {
    const [read, viaCall] = await afterAnother(
      (c) => c.query("SET @iso_u = 'secret'"),
      async (c) => {
        const [sets] = await c.query('CALL sluice_test.iso_read_u()');
        const viaCall = (sets as unknown as Record<string, unknown>[][])[0]![0]!['v'];
        return [await one(c, 'SELECT @iso_u'), viaCall];
      },
    );
    assert.equal(viaCall, null);
    assert.equal(read, null);
  });

  test('prepared statements (text PREPARE)', async () => {
    const errno = await afterAnother(
      (c) => c.query("PREPARE iso_s FROM 'SELECT 1'"),
      (c) => errnoOf(() => c.query('EXECUTE iso_s')),
    );
    assert.equal(errno, 1243);
  });

  test('warnings of the previous statement', async () => {
    const expected = await direct(async (c) => {
      const [w] = await c.query('SHOW WARNINGS');
      return [(w as unknown[]).length, await one(c, 'SELECT @@warning_count')];
    });
    assert.deepEqual(expected, [0, 0]);
    const warnings = await afterAnother(
      (c) => c.query('SELECT 1/0'),
      async (c) => {
        const [w] = await c.query('SHOW WARNINGS');
        return (w as unknown[]).length;
      },
    );
    assert.equal(warnings, 0);
    const count = await afterAnother((c) => c.query('SELECT 1/0'), (c) => one(c, 'SELECT @@warning_count'));
    assert.equal(Number(count), 0);
  });
});

test('a session that sets its own wait_timeout is closed after that long idle, as by the server', { timeout: 20_000 }, async () => {
  const p = await startProxy();
  try {
    const c = await p.connect();
    const lost = new Promise<string>((resolve) => c.on('error', (e: { code?: string }) => resolve(e.code ?? 'error')));
    await c.query('SET SESSION wait_timeout = 1');
    await c.query('SELECT 1'); // activity re-arms the timer
    const started = Date.now();
    assert.equal(await Promise.race([lost, new Promise((r) => setTimeout(() => r('still open'), 5_000))]), 'PROTOCOL_CONNECTION_LOST');
    assert.ok(Date.now() - started >= 900, 'not before its wait_timeout');
    // A session that did not set it is not closed by the proxy.
    const other = await p.connect();
    await new Promise((r) => setTimeout(r, 1_500));
    const [[row]] = (await other.query('SELECT 1 AS one')) as unknown as [[{ one: number }]];
    assert.equal(row.one, 1);
    await other.end();
  } finally {
    await p.close();
  }
});
