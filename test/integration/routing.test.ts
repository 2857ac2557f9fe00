/**
 * Read/write splitting through the proxy against real replication (primary server_id 1,
 * replicas 2 and 3). Every assertion is about what a direct connection would see, plus which
 * server answered (`@@server_id`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { errnoOf, serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { adminConnection } from '../helpers/sandbox.js';

const PRIMARY = 1;
const REPLICAS = new Set([2, 3]);

let proxy: TestProxy;
let conn: mysql.Connection;

before(async () => {
  proxy = await startProxy();
  conn = await proxy.connect();
  await conn.query('CREATE TABLE IF NOT EXISTS routing_t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB');
  await conn.query('DELETE FROM routing_t');
});

after(async () => {
  await conn?.end();
  await proxy?.close();
});

async function ids(c: mysql.Connection, n: number, prefix = ''): Promise<Set<number>> {
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) seen.add(await serverId(c, prefix));
  return seen;
}

describe('plain statements', () => {
  test('autocommit reads are spread over both readHosts and never hit the writeHost', async () => {
    const seen = await ids(conn, 20);
    assert.deepEqual([...seen].sort(), [2, 3]);
  });

  test('writes go to the writeHost and replicate', async () => {
    const [res] = await conn.query("INSERT INTO routing_t (v) VALUES ('w1')");
    const insertId = (res as mysql.ResultSetHeader).insertId;
    assert.ok(insertId > 0);
    const [rows] = await conn.query('/*master*/ SELECT v, @@server_id AS sid FROM routing_t WHERE id = ?', [insertId]);
    assert.deepEqual(rows, [{ v: 'w1', sid: PRIMARY }]);
  });

  test('the greeting carries the writeHost version', async () => {
    const [rows] = await conn.query('/*master*/ SELECT VERSION() AS v');
    const version = (rows as { v: string }[])[0]!.v;
    const advertised = (conn as unknown as { connection: { serverVersion?: string; _handshakePacket?: { serverVersion: string } } })
      .connection._handshakePacket?.serverVersion;
    assert.ok(advertised, 'mysql2 exposes the greeting');
    assert.ok(advertised.includes(version), `${advertised} should contain ${version}`);
  });
});

describe('transactions', () => {
  test('BEGIN … COMMIT runs every statement on the writeHost', async () => {
    await conn.query('BEGIN');
    assert.equal(await serverId(conn), PRIMARY);
    await conn.query("INSERT INTO routing_t (v) VALUES ('t1')");
    assert.equal(await serverId(conn), PRIMARY);
    await conn.query('COMMIT');
    assert.ok(REPLICAS.has(await serverId(conn)));
  });

  test('START TRANSACTION sees its own uncommitted write', async () => {
    await conn.query('START TRANSACTION');
    await conn.query("INSERT INTO routing_t (v) VALUES ('uncommitted')");
    const [rows] = await conn.query("SELECT COUNT(*) AS n FROM routing_t WHERE v = 'uncommitted'");
    assert.equal(Number((rows as { n: number }[])[0]!.n), 1);
    await conn.query('ROLLBACK');
    const [after] = await conn.query("/*master*/ SELECT COUNT(*) AS n FROM routing_t WHERE v = 'uncommitted'");
    assert.equal(Number((after as { n: number }[])[0]!.n), 0);
  });

  test('SET autocommit=0 pins from the very next statement until autocommit=1', async () => {
    await conn.query('SET autocommit = 0');
    assert.equal(await serverId(conn), PRIMARY);
    await conn.query("INSERT INTO routing_t (v) VALUES ('ac0')");
    assert.equal(await serverId(conn), PRIMARY);
    await conn.query('COMMIT');
    assert.equal(await serverId(conn), PRIMARY, 'still autocommit=0 after COMMIT');
    await conn.query('SET autocommit = 1');
    assert.ok(REPLICAS.has(await serverId(conn)));
  });
});

describe('reads that must see the writer', () => {
  test('locking reads go to the writeHost', async () => {
    for (const suffix of ['FOR UPDATE', 'LOCK IN SHARE MODE']) {
      const [rows] = await conn.query(`SELECT @@server_id AS sid FROM routing_t LIMIT 1 ${suffix}`);
      assert.equal(Number((rows as { sid: number }[])[0]!.sid), PRIMARY, suffix);
    }
  });

  test('LAST_INSERT_ID() returns this session’s id even when other sessions insert', async () => {
    const other = await proxy.connect();
    try {
      const [res] = await conn.query("INSERT INTO routing_t (v) VALUES ('lid')");
      const mine = (res as mysql.ResultSetHeader).insertId;
      await other.query("INSERT INTO routing_t (v) VALUES ('other1'), ('other2')");
      const [rows] = await conn.query('SELECT LAST_INSERT_ID() AS id');
      assert.equal(Number((rows as { id: number }[])[0]!.id), mine);
    } finally {
      await other.end();
    }
  });

  test('LAST_INSERT_ID() survives the connection being returned to the pool', async () => {
    const p = await startProxy({ session: { holdConnectionMs: 0 } });
    const a = await p.connect();
    const b = await p.connect();
    try {
      const [res] = await a.query("INSERT INTO routing_t (v) VALUES ('lid2')");
      const mine = (res as mysql.ResultSetHeader).insertId;
      await b.query("INSERT INTO routing_t (v) VALUES ('other3')");
      const [rows] = await a.query('SELECT LAST_INSERT_ID() AS id');
      assert.equal(Number((rows as { id: number }[])[0]!.id), mine);
    } finally {
      await a.end();
      await b.end();
      await p.close();
    }
  });

  test('GET_LOCK pins the session to the writeHost until RELEASE_LOCK', async () => {
    const [rows] = await conn.query("SELECT GET_LOCK('sluice_t', 5) AS got, @@server_id AS sid");
    assert.deepEqual(rows, [{ got: 1, sid: PRIMARY }]);
    assert.equal(await serverId(conn), PRIMARY);
    const [rel] = await conn.query("SELECT RELEASE_LOCK('sluice_t') AS r");
    assert.equal(Number((rel as { r: number }[])[0]!.r), 1);
    assert.ok(REPLICAS.has(await serverId(conn)));
  });

  test('temporary tables are readable after creation (session pinned)', async () => {
    const pinsBefore = proxy.sluice.stats.pins['temporary-table'];
    await conn.query('CREATE TEMPORARY TABLE tmp_r (x INT)');
    assert.equal(proxy.sluice.stats.pins['temporary-table'], pinsBefore + 1, 'the pin is counted by reason');
    await conn.query('INSERT INTO tmp_r VALUES (7)');
    const [rows] = await conn.query('SELECT x, @@server_id AS sid FROM tmp_r');
    assert.deepEqual(rows, [{ x: 7, sid: PRIMARY }]);
    await conn.query('DROP TEMPORARY TABLE tmp_r');
    assert.ok(REPLICAS.has(await serverId(conn)));
  });

  test('a temporary table never leaks to another session through the pool', async () => {
    const p = await startProxy({ session: { holdConnectionMs: 0 }, dataHost: { pool: { min: 0, max: 1 } } });
    const a = await p.connect();
    try {
      await a.query('CREATE TEMPORARY TABLE leak_t (x INT)');
      await a.end();
      const b = await p.connect();
      try {
        assert.equal(await errnoOf(() => b.query('/*master*/ SELECT * FROM leak_t')), 1146);
      } finally {
        await b.end();
      }
    } finally {
      await p.close();
    }
  });
});

describe('quoting the lexer does not model (sql_mode NO_BACKSLASH_ESCAPES / ANSI_QUOTES)', () => {
  test('NO_BACKSLASH_ESCAPES: a write hidden behind a backslash is not routed to a replica; the session stays on its writeHost until the mode is reset', async () => {
    const c = await proxy.connect({ multipleStatements: true });
    try {
      await c.query("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'");
      // With backslash escapes 'x\'; INSERT …; SELECT ' would be one string literal, one SELECT.
      // Here the server sees three statements: the INSERT must run on the writeHost.
      await c.query("SELECT 'x\\'; INSERT INTO routing_t (v) VALUES ('nbe'); SELECT '1'");
      const [rows] = await c.query("/*master*/ SELECT COUNT(*) AS n FROM routing_t WHERE v = 'nbe'");
      assert.equal(Number((rows as { n: number }[])[0]!.n), 1);
      const [lit] = await c.query("SELECT 'a\\' AS v");
      assert.deepEqual(lit, [{ v: 'a\\' }], 'the server, not the proxy, decides what a literal is');
      assert.equal(await serverId(c), PRIMARY, 'pinned to the writeHost while the mode is on');
      await c.query('SET SESSION sql_mode = DEFAULT');
      // multi-statements pinned the session as well: a fresh session shows the mode pin alone.
    } finally {
      await c.end();
    }
    const d = await proxy.connect();
    try {
      await d.query("SET SESSION sql_mode = 'ANSI_QUOTES'");
      assert.equal(await serverId(d), PRIMARY, 'ANSI_QUOTES pins too');
      await d.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'");
      assert.ok(REPLICAS.has(await serverId(d)), 'a mode the lexer models: reads split again');
    } finally {
      await d.end();
    }
  });
});

describe('quoting the lexer does not model, from the server default', () => {
  test("a global sql_mode with NO_BACKSLASH_ESCAPES: sessions start on the writeHost; a session that sets a modelled mode splits again", async () => {
    const admin = await adminConnection(proxy.sandbox.primary);
    const [[before]] = (await admin.query('SELECT @@GLOBAL.sql_mode AS m')) as unknown as [[{ m: string }]];
    await admin.query("SET GLOBAL sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'");
    const p = await startProxy();
    try {
      const c = await p.connect();
      try {
        assert.equal(await serverId(c), PRIMARY, 'pinned from the start');
        await c.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES'");
        assert.ok(REPLICAS.has(await serverId(c)), 'modelled quoting: reads split');
        await c.query('SET SESSION sql_mode = DEFAULT');
        assert.equal(await serverId(c), PRIMARY, 'DEFAULT is the server default again');
      } finally {
        await c.end();
      }
    } finally {
      await p.close();
      await admin.query('SET GLOBAL sql_mode = ?', [before.m]);
      await admin.end();
    }
  });
});

describe('session state follows the session to every backend', () => {
  test('user variables set to literals are seen on readHosts', async () => {
    await conn.query("SET @who = 'me', @n = 42");
    for (let i = 0; i < 4; i++) {
      const [rows] = await conn.query('SELECT @who AS who, @n AS n, @@server_id AS sid');
      const r = (rows as { who: string; n: number; sid: number }[])[0]!;
      assert.equal(r.who, 'me');
      assert.equal(Number(r.n), 42);
      assert.ok(REPLICAS.has(Number(r.sid)));
    }
  });

  test('user variables set from expressions pin the session to the writeHost', async () => {
    const c = await proxy.connect();
    try {
      await c.query('SET @t = (SELECT COUNT(*) FROM routing_t)');
      const [rows] = await c.query('SELECT @t IS NOT NULL AS ok, @@server_id AS sid');
      assert.deepEqual(rows, [{ ok: 1, sid: PRIMARY }]);
    } finally {
      await c.end();
    }
  });

  test('USE changes the schema on every backend', async () => {
    const c = await proxy.connect({ database: undefined });
    try {
      await c.query('USE sluice_test');
      for (let i = 0; i < 4; i++) {
        const [rows] = await c.query('SELECT DATABASE() AS db, @@server_id AS sid');
        assert.equal((rows as { db: string }[])[0]!.db, 'sluice_test');
      }
    } finally {
      await c.end();
    }
  });

  test('SET NAMES and SET SESSION variables are replayed on readHosts', async () => {
    const c = await proxy.connect();
    try {
      await c.query('SET NAMES latin1');
      await c.query("SET SESSION sql_mode = 'PIPES_AS_CONCAT'");
      const seen = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const [rows] = await c.query('SELECT @@character_set_client AS cs, @@sql_mode AS m, @@server_id AS sid');
        const r = (rows as { cs: string; m: string; sid: number }[])[0]!;
        assert.equal(r.cs, 'latin1');
        assert.equal(r.m, 'PIPES_AS_CONCAT');
        seen.add(Number(r.sid));
      }
      assert.deepEqual([...seen].sort(), [2, 3]);
    } finally {
      await c.end();
    }
  });

  test('another session does not inherit those settings through the pool', async () => {
    // One readHost and one pooled connection: b is served by the very connection a used.
    const sb = proxy.sandbox;
    const p = await startProxy({
      session: { holdConnectionMs: 0 },
      dataHost: { pool: { min: 0, max: 1 }, readHosts: [{ host: sb.replicas[0]!.host, port: sb.replicas[0]!.port }] },
    });
    try {
      const a = await p.connect();
      await a.query("SET SESSION sql_mode = 'PIPES_AS_CONCAT'");
      await a.query("SET @secret = 'x'");
      await a.query('SELECT @secret');
      await a.end();
      const b = await p.connect();
      const [rows] = await b.query('SELECT @@sql_mode AS m, @secret AS s');
      const r = (rows as { m: string; s: string | null }[])[0]!;
      assert.notEqual(r.m, 'PIPES_AS_CONCAT');
      assert.equal(r.s, null);
      await b.end();
    } finally {
      await p.close();
    }
  });
});

describe('hints', () => {
  const cases: [string, 'primary' | 'replica'][] = [
    ['/*master*/ ', 'primary'],
    ['/* master */ ', 'primary'],
    ['/*slave*/ ', 'replica'],
    ['/*!mycat:db_type=master*/ ', 'primary'],
    ['/*#mycat:db_type=master*/ ', 'primary'],
  ];
  for (const [prefix, where] of cases) {
    test(`${prefix.trim()} → ${where}`, async () => {
      const id = await serverId(conn, prefix);
      if (where === 'primary') assert.equal(id, PRIMARY);
      else assert.ok(REPLICAS.has(id));
    });
  }

  test('a stripped Mycat hint leaves the rest of a latin1 client’s bytes as they were', async () => {
    // 'é' is the single byte 0xE9 in latin1: not UTF-8. Re-encoding the statement as UTF-8 after
    // removing the hint would turn it into U+FFFD.
    const latin1 = await proxy.connect({ charset: 'LATIN1_SWEDISH_CI' });
    try {
      const [rows] = await latin1.query("/*!mycat:db_type=master*/ SELECT 'caf\u00e9' AS v, HEX('caf\u00e9') AS h, @@server_id AS sid");
      assert.deepEqual(rows, [{ v: 'caf\u00e9', h: '636166E9', sid: PRIMARY }]);
    } finally {
      await latin1.end();
    }
  });
});

describe('errors a client expects', () => {
  test('wrong password → 1045', async () => {
    assert.equal(await errnoOf(() => proxy.connect({ password: 'wrong' })), 1045);
  });

  test('unknown database at connect → 1049', async () => {
    assert.equal(await errnoOf(() => proxy.connect({ database: 'no_such_db' })), 1049);
  });

  test('SQL errors from the backend pass through unchanged', async () => {
    assert.equal(await errnoOf(() => conn.query('SELECT * FROM no_such_table')), 1146);
    assert.equal(await errnoOf(() => conn.query('INSERT INTO no_such_table VALUES (1)')), 1146);
    assert.equal(await errnoOf(() => conn.query('SELEC 1')), 1064);
  });
});

describe('read-your-writes window', () => {
  test('reads follow the session’s write to the writeHost for readYourWritesMs, then spread again', async () => {
    const p = await startProxy({ session: { readYourWritesMs: 400 } });
    const c = await p.connect();
    try {
      assert.ok(REPLICAS.has(await serverId(c)), 'no write yet: a replica answers');
      await c.query("INSERT INTO routing_t (v) VALUES ('ryw')");
      const [rows] = await c.query("SELECT COUNT(*) AS n, @@server_id AS sid FROM routing_t WHERE v = 'ryw'");
      const r = (rows as { n: number; sid: number }[])[0]!;
      assert.equal(Number(r.sid), PRIMARY);
      assert.ok(Number(r.n) >= 1, 'the write is visible');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(REPLICAS.has(await serverId(c)), 'after the window reads spread again');
    } finally {
      await c.end();
      await p.close();
    }
  });

  test('off by default: a read right after a write may go to a replica', async () => {
    await conn.query("INSERT INTO routing_t (v) VALUES ('ryw-off')");
    assert.ok(REPLICAS.has(await serverId(conn)));
  });
});
