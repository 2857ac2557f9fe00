#!/usr/bin/env node
/**
 * mysql2 (the npm driver Sluice itself uses): `query()` (text protocol, client-side placeholders)
 * and `execute()` (server-side prepared statements: COM_STMT_PREPARE / COM_STMT_EXECUTE,
 * statements cached per connection). mysql2 never sends COM_STMT_SEND_LONG_DATA: the 5 MiB blob
 * goes inline in COM_STMT_EXECUTE.
 *
 *   node test/clients/mysql2.mjs HOST PORT USER PASSWORD DATABASE [--direct] [--compress]
 *
 * Output contract: see common.mjs.
 */
import mysql from 'mysql2/promise';
import {
  bigBlob,
  errorDetail,
  expect,
  json,
  parseArgs,
  primaryResult,
  replicaResult,
  Reporter,
  ROW,
  rowMismatches,
  sha1,
  spreadResult,
  tableDdl,
} from './common.mjs';

const args = parseArgs();
const P = 'cc_mysql2';
const rep = new Reporter();
const SPREAD_N = 1000;

const connect = (extra = {}) =>
  mysql.createConnection({
    host: args.host,
    port: args.port,
    user: args.user,
    password: args.password,
    database: args.database,
    charset: 'UTF8MB4_UNICODE_CI',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    connectTimeout: 10_000,
    compress: args.compress,
    ...extra,
  });

/** Opens a connection, runs fn, always closes (destroy if end() fails). */
async function withConn(fn, extra) {
  const c = await connect(extra);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

const sid = (rows) => Number(rows[0].sid);
const norm = (r) => ({
  i: r.i === null ? null : String(r.i),
  b: r.b === null ? null : String(r.b),
  d: r.d,
  f: r.f === null ? null : String(r.f),
  s: r.s,
  dt: r.dt,
  ts: r.ts,
  bl: r.bl === null ? null : Buffer.from(r.bl).toString('hex'),
  nn: r.nn,
});
const params = (id) => [id, ROW.i, ROW.b, ROW.d, ROW.f, ROW.s, ROW.dt, ROW.ts, ROW.bl, ROW.nn];
const INSERT = `INSERT INTO ${P}_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const SELECT_BACK = `/*master*/ SELECT i, b, d, f, s, dt, ts, bl, nn FROM ${P}_types WHERE id = ?`;

await rep.check('connect', () =>
  withConn(async (c) => {
    const [rows] = await c.query('SELECT 1 AS one');
    expect(Number(rows[0].one) === 1, `SELECT 1 returned ${json(rows)}`);
    return { serverVersion: c.connection._handshakePacket?.serverVersion };
  }),
);

await rep.check('setup', () =>
  withConn(async (c) => {
    for (const sql of tableDdl(P)) await c.query(sql);
    return 'tables and procedure created';
  }),
);

await rep.check('query_autocommit_read_on_replica', () =>
  withConn(async (c) => replicaResult(sid((await c.query('SELECT @@server_id AS sid'))[0]), args.direct)),
);

await rep.check('query_transaction_on_primary', () =>
  withConn(async (c) => {
    await c.beginTransaction();
    const id = sid((await c.query('SELECT @@server_id AS sid'))[0]);
    await c.commit();
    return primaryResult(id);
  }),
);

await rep.check('execute_autocommit_read_on_replica', () =>
  withConn(async (c) => replicaResult(sid((await c.execute('SELECT @@server_id AS sid'))[0]), args.direct)),
);

await rep.check('execute_transaction_on_primary', () =>
  withConn(async (c) => {
    await c.beginTransaction();
    const id = sid((await c.execute('SELECT @@server_id AS sid, ? AS x', [1]))[0]);
    await c.commit();
    return primaryResult(id);
  }),
);

await rep.check('query_types_roundtrip', () =>
  withConn(async (c) => {
    await c.query(INSERT, params(1));
    const [rows] = await c.query(SELECT_BACK, [1]);
    expect(rows.length === 1, `read back ${rows.length} rows`);
    const bad = rowMismatches(norm(rows[0]));
    return { ok: Object.keys(bad).length === 0, detail: Object.keys(bad).length === 0 ? 'all 9 values equal' : bad };
  }),
);

await rep.check('execute_types_roundtrip', () =>
  withConn(async (c) => {
    await c.execute(INSERT, params(2));
    const [rows] = await c.execute(SELECT_BACK, [2]);
    expect(rows.length === 1, `read back ${rows.length} rows`);
    const bad = rowMismatches(norm(rows[0]));
    return { ok: Object.keys(bad).length === 0, detail: Object.keys(bad).length === 0 ? 'all 9 values equal' : bad };
  }),
);

await rep.check(`execute_${SPREAD_N}x_spread_over_replicas`, () =>
  withConn(async (c) => {
    const counts = {};
    for (let k = 0; k < SPREAD_N; k++) {
      const [rows] = await c.execute('SELECT @@server_id AS sid, ? AS echo', [k]);
      expect(Number(rows[0].echo) === k, `execution ${k}: parameter came back as ${rows[0].echo}`);
      const id = sid(rows);
      counts[id] = (counts[id] ?? 0) + 1;
    }
    return spreadResult(counts, SPREAD_N, args.direct);
  }),
);

await rep.check('execute_blob_5mb', () =>
  withConn(async (c) => {
    const blob = bigBlob();
    await c.execute(`INSERT INTO ${P}_big (id, data) VALUES (?, ?)`, [1, blob]);
    const [rows] = await c.execute(`/*master*/ SELECT data FROM ${P}_big WHERE id = ?`, [1]);
    const got = Buffer.from(rows[0].data);
    expect(got.equals(blob), `read back ${got.length} bytes sha1 ${sha1(got)}, sent ${blob.length} sha1 ${sha1(blob)}`);
    return { bytes: got.length, sha1: sha1(got) };
  }),
);

await rep.check('query_multi_statement', () =>
  withConn(
    async (c) => {
      const [results] = await c.query('SELECT 1 AS a; SELECT 2 AS b');
      expect(Array.isArray(results) && results.length === 2, `got ${json(results)}`);
      expect(Number(results[0][0].a) === 1 && Number(results[1][0].b) === 2, `got ${json(results)}`);
      return results;
    },
    { multipleStatements: true },
  ),
);

for (const api of ['query', 'execute']) {
  await rep.check(`${api}_call_two_result_sets`, () =>
    withConn(async (c) => {
      const [results] = await c[api](`CALL ${P}_two(?)`, [7]);
      // [rows of set 1, rows of set 2, OK of the CALL]
      expect(Array.isArray(results) && results.length === 3, `got ${json(results)}`);
      expect(Number(results[0][0].a) === 7 && results[1][0].b === 'two-7', `got ${json(results)}`);
      return results.slice(0, 2);
    }),
  );
}

for (const api of ['query', 'execute']) {
  await rep.check(`${api}_duplicate_key_1062`, () =>
    withConn(async (c) => {
      try {
        await c[api](`INSERT INTO ${P}_types (id, i) VALUES (?, ?)`, [1000, 1]);
      } catch (err) {
        return { ok: err.errno === 1062, detail: errorDetail(err) };
      }
      return { ok: false, detail: 'the duplicate insert succeeded' };
    }),
  );
}

await rep.check('connection_still_usable_after_error', () =>
  withConn(async (c) => {
    await c.execute(`INSERT INTO ${P}_types (id, i) VALUES (?, ?)`, [1000, 1]).catch(() => undefined);
    const [rows] = await c.execute('SELECT ? + 1 AS v', [41]);
    expect(Number(rows[0].v) === 42, `got ${json(rows)}`);
    return 'SELECT ? + 1 after the 1062 returned 42';
  }),
);

rep.exit();
