/**
 * MariaDB extended capabilities through Sluice against the MariaDB sandbox: extended column
 * metadata (mysql2 reads JSON columns as objects, UUID / INET columns carry their type names,
 * exactly as direct) and COM_STMT_BULK_EXECUTE (the mariadb driver's `batch()`), inside and
 * outside a transaction, with a duplicate key, while prepared reads still go to the replicas.
 * Against a MySQL sandbox (no extended capabilities) the file is skipped: unit tests cover the
 * bytes there (test/unit/frontend/mariadb-capabilities.test.ts).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import mariadb from 'mariadb';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { getSandbox, type SandboxInfo } from '../helpers/sandbox.js';

/** MARIADB_CLIENT_STMT_BULK_OPERATIONS and _EXTENDED_METADATA as the mariadb driver numbers them. */
const BULK = 1n << 34n;
const EXTENDED_METADATA = 1n << 35n;
const CACHE_METADATA = 1n << 36n;

let sandbox: SandboxInfo;
let proxy: TestProxy;
let primary: mysql.Connection;
/** Skips the test against a MySQL sandbox (no extended capabilities); true when skipped. */
function mysqlSandbox(t: TestContext): boolean {
  if (sandbox.kind === 'mariadb') return false;
  t.skip('MySQL sandbox: no MariaDB extended capabilities');
  return true;
}

before(async () => {
  sandbox = await getSandbox();
  if (sandbox.kind !== 'mariadb') return;
  proxy = await startProxy();
  primary = await mysql.createConnection({ host: sandbox.primary.host, port: sandbox.primary.port, user: sandbox.user, password: sandbox.password, database: sandbox.database });
  await primary.query('DROP TABLE IF EXISTS ext_types');
  await primary.query('CREATE TABLE ext_types (id INT PRIMARY KEY, j JSON, u UUID, ip6 INET6, ip4 INET4, s VARCHAR(20)) ENGINE=InnoDB');
  await primary.query(
    `INSERT INTO ext_types VALUES (1, '{"a": [1, 2], "b": "x"}', '123e4567-e89b-12d3-a456-426655440000', '2001:db8::1', '10.0.0.1', 'plain')`,
  );
  await primary.query('DROP TABLE IF EXISTS bulk_t');
  await primary.query('CREATE TABLE bulk_t (id INT PRIMARY KEY, v VARCHAR(40), n INT NULL) ENGINE=InnoDB');
  await waitForReplicas('SELECT COUNT(*) AS n FROM ext_types', 1);
});

after(async () => {
  await primary?.end();
  await proxy?.close();
});

/** Waits until every replica answers `sql` with n = `expected` (replication caught up). */
async function waitForReplicas(sql: string, expected: number): Promise<void> {
  for (const r of sandbox.replicas) {
    const c = await mysql.createConnection({ host: r.host, port: r.port, user: sandbox.user, password: sandbox.password, database: sandbox.database });
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [rows] = await c.query(sql);
        if (Number((rows as { n: number }[])[0]!.n) === expected) break;
        if (Date.now() > deadline) throw new Error(`replica ${r.name} did not catch up`);
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      await c.end();
    }
  }
}

async function primaryCount(where = ''): Promise<number> {
  const [rows] = await primary.query(`SELECT COUNT(*) AS n FROM bulk_t ${where}`);
  return Number((rows as { n: number }[])[0]!.n);
}

function mariadbConn(port: number, host = '127.0.0.1'): ReturnType<typeof mariadb.createConnection> {
  return mariadb.createConnection({ host, port, user: sandbox.user, password: sandbox.password, database: sandbox.database });
}

const FIELD_KEYS = ['name', 'columnType', 'characterSet', 'columnLength', 'flags', 'decimals', 'extendedTypeName', 'extendedFormat'] as const;
function fieldFacts(fields: unknown): Record<string, unknown>[] {
  return (fields as Record<string, unknown>[]).map((f) => Object.fromEntries(FIELD_KEYS.map((k) => [k, f[k]])));
}

describe('extended column metadata (mysql2)', () => {
  test('JSON is read as an object, UUID / INET columns carry their type, as direct', async (t) => {
    if (mysqlSandbox(t)) return;
    const direct = await mysql.createConnection({ host: sandbox.primary.host, port: sandbox.primary.port, user: sandbox.user, password: sandbox.password, database: sandbox.database });
    const through = await proxy.connect();
    try {
      const sql = 'SELECT id, j, u, ip6, ip4, s, @@server_id AS sid FROM ext_types';
      const [dRows, dFields] = await direct.query(sql);
      // Several statements: reads go to the replicas, whose pools must use the same wire format.
      for (let i = 0; i < 4; i++) {
        const [pRows, pFields] = await through.query(sql);
        const d = (dRows as Record<string, unknown>[])[0]!;
        const p = (pRows as Record<string, unknown>[])[0]!;
        assert.deepEqual(p['j'], { a: [1, 2], b: 'x' });
        assert.deepEqual({ ...p, sid: 0 }, { ...d, sid: 0 });
        assert.deepEqual(fieldFacts(pFields), fieldFacts(dFields));
      }
      const [, pFields] = await through.query(sql);
      const byName = new Map(fieldFacts(pFields).map((f) => [f['name'], f]));
      assert.equal(byName.get('j')!['extendedFormat'], 'json');
      assert.equal(byName.get('u')!['extendedTypeName'], 'uuid');
      assert.equal(byName.get('ip6')!['extendedTypeName'], 'inet6');
      assert.equal(byName.get('ip4')!['extendedTypeName'], 'inet4');
      // Prepared statements: metadata in the PREPARE and EXECUTE responses too.
      const [dx, dxf] = await direct.execute('SELECT j, u FROM ext_types WHERE id = ?', [1]);
      const [px, pxf] = await through.execute('SELECT j, u FROM ext_types WHERE id = ?', [1]);
      assert.deepEqual(px, dx);
      assert.deepEqual(fieldFacts(pxf), fieldFacts(dxf));
      assert.deepEqual((px as Record<string, unknown>[])[0]!['j'], { a: [1, 2], b: 'x' });
    } finally {
      await direct.end();
      await through.end();
    }
  });

  test('the greeting offers bulk and extended metadata, never cache metadata', async (t) => {
    if (mysqlSandbox(t)) return;
    const c = await mariadbConn(proxy.port);
    try {
      const info = (c as unknown as { info: { serverCapabilities: bigint; clientCapabilities: bigint } }).info;
      assert.ok(info.serverCapabilities & BULK);
      assert.ok(info.serverCapabilities & EXTENDED_METADATA);
      assert.equal(info.serverCapabilities & CACHE_METADATA, 0n);
      assert.ok(info.clientCapabilities & BULK, 'the driver negotiated bulk operations');
    } finally {
      await c.end();
    }
  });
});

describe('COM_STMT_BULK_EXECUTE (mariadb batch())', () => {
  const rows = (from: number, n: number): [number, string, number | null][] =>
    Array.from({ length: n }, (_, i) => [from + i, `row-${from + i} 🐬`, i % 7 === 0 ? null : i]);

  test('1,000 rows outside a transaction all reach the primary', async (t) => {
    if (mysqlSandbox(t)) return;
    const c = await mariadbConn(proxy.port);
    try {
      const res = (await c.batch('INSERT INTO bulk_t (id, v, n) VALUES (?, ?, ?)', rows(1, 1000))) as unknown;
      // One result per bulk command the driver sent (it starts a new one when a NULL changes the types).
      const affected = Array.isArray(res) ? res.reduce((a, r) => a + Number(r.affectedRows), 0) : Number((res as { affectedRows: number }).affectedRows);
      assert.equal(affected, 1000);
      assert.equal(await primaryCount('WHERE id BETWEEN 1 AND 1000'), 1000);
      const [check] = await primary.query("SELECT SUM(v = CONCAT('row-', id, ' 🐬')) AS good, SUM(n IS NULL) AS nulls FROM bulk_t WHERE id BETWEEN 1 AND 1000");
      assert.deepEqual((check as Record<string, unknown>[])[0], { good: '1000', nulls: '143' });
      // Again on the same statement (the driver's statement cache): types re-sent, same result.
      await c.batch('INSERT INTO bulk_t (id, v, n) VALUES (?, ?, ?)', rows(1001, 1000));
      assert.equal(await primaryCount('WHERE id BETWEEN 1001 AND 2000'), 1000);
    } finally {
      await c.end();
    }
  });

  test('inside a transaction: on the transaction’s connection, invisible until COMMIT, gone on ROLLBACK', async (t) => {
    if (mysqlSandbox(t)) return;
    const c = await mariadbConn(proxy.port);
    try {
      await c.beginTransaction();
      await c.query('INSERT INTO bulk_t (id, v) VALUES (?, ?)', [5000, 'before']);
      await c.batch('INSERT INTO bulk_t (id, v, n) VALUES (?, ?, ?)', rows(5001, 1000));
      const inside = (await c.query('SELECT COUNT(*) AS n FROM bulk_t WHERE id BETWEEN 5000 AND 6000')) as { n: bigint }[];
      assert.equal(Number(inside[0]!.n), 1001, 'the transaction sees its own rows');
      assert.equal(await primaryCount('WHERE id BETWEEN 5000 AND 6000'), 0, 'not committed yet');
      await c.commit();
      assert.equal(await primaryCount('WHERE id BETWEEN 5000 AND 6000'), 1001);
      await c.beginTransaction();
      await c.batch('INSERT INTO bulk_t (id, v, n) VALUES (?, ?, ?)', rows(7001, 1000));
      await c.rollback();
      assert.equal(await primaryCount('WHERE id BETWEEN 7001 AND 8000'), 0);
    } finally {
      await c.end();
    }
  });

  test('a duplicate key fails with 1062, like direct, and the connection stays usable', async (t) => {
    if (mysqlSandbox(t)) return;
    const errnoOf = async (port: number, host?: string): Promise<number> => {
      const c = await mariadbConn(port, host);
      try {
        await c.batch('INSERT INTO bulk_t (id, v, n) VALUES (?, ?, ?)', [[9001, 'a', 1], [9001, 'b', 2]]);
        return 0;
      } catch (err) {
        return (err as { errno: number }).errno;
      } finally {
        // The connection still answers.
        const r = (await c.query('SELECT 1 AS one')) as { one: number }[];
        assert.equal(Number(r[0]!.one), 1);
        await c.end();
      }
    };
    assert.equal(await errnoOf(proxy.port), 1062);
    await primary.query('DELETE FROM bulk_t WHERE id = 9001');
    assert.equal(await errnoOf(sandbox.primary.port, sandbox.primary.host), 1062);
  });

  test('prepared SELECTs still go to the replicas', async (t) => {
    if (mysqlSandbox(t)) return;
    const c = await mariadbConn(proxy.port);
    try {
      const seen = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const r = (await c.execute('SELECT @@server_id AS sid, ? AS i', [i])) as { sid: number; i: number }[];
        seen.add(Number(r[0]!.sid));
      }
      const replicaIds = new Set(sandbox.replicas.map((r) => r.serverId));
      assert.ok([...seen].every((id) => replicaIds.has(id)), `prepared reads ran on ${[...seen].join(', ')}`);
    } finally {
      await c.end();
    }
  });
});
