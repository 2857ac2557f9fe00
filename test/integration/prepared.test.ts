/**
 * Server-side prepared statements, multiple result sets and LOAD DATA LOCAL through the proxy,
 * against real replication (primary server_id 1, replicas 2 and 3).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { Capability, Command, ColumnType, ServerStatus } from '../../src/protocol/constants.js';
import {
  encodeQuery,
  encodeSimpleCommand,
  encodeStmtClose,
  encodeStmtExecute,
  encodeStmtFetch,
  encodeStmtPrepare,
  encodeStmtReset,
  encodeStmtSendLongData,
} from '../../src/protocol/commands.js';
import { decodeStmtPrepareOk } from '../../src/protocol/statements.js';
import { decodeTextRow } from '../../src/protocol/responses.js';
import { encodePacket } from '../../src/protocol/framer.js';
import { errnoOf, startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient, errnoOfPacket } from '../helpers/raw-client.js';

const execFileP = promisify(execFile);
const PRIMARY = 1;
const REPLICAS = new Set([2, 3]);

let proxy: TestProxy;
let conn: mysql.Connection;

before(async () => {
  proxy = await startProxy();
  conn = await proxy.connect({ multipleStatements: true });
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ps_types (
       id INT PRIMARY KEY, i INT, bi BIGINT, dec_v DECIMAL(12,3), dbl DOUBLE, s VARCHAR(64) CHARACTER SET utf8mb4,
       d DATE, dt DATETIME(3), b LONGBLOB, n INT NULL) ENGINE=InnoDB`,
  );
  await conn.query('DELETE FROM ps_types');
  await conn.query('DROP PROCEDURE IF EXISTS two_results');
  await conn.query('CREATE PROCEDURE two_results() BEGIN SELECT 1 AS a; SELECT 2 AS b; END');
});

after(async () => {
  await conn?.end();
  await proxy?.close();
});

/** Sends COM_STMT_PREPARE and reads the whole reply; returns the proxy's statement id. */
async function rawPrepare(c: RawClient, sql: string): Promise<{ id: number; params: number }> {
  const packets = await c.command(encodeStmtPrepare(sql), 'prepare');
  if (packets[0]![0] === 0xff) throw new Error(`prepare failed: ${packets[0]!.subarray(9).toString()}`);
  const ok = decodeStmtPrepareOk(packets[0]!);
  return { id: ok.statementId, params: ok.numParams };
}

/** An execute body for string parameters: null bitmap, bound flag, types (VAR_STRING), values. */
function stringParams(values: readonly string[], bindTypes: boolean): Buffer {
  const nullBitmap = Buffer.alloc((values.length + 7) >> 3);
  const types = Buffer.concat(values.map(() => Buffer.from([ColumnType.VAR_STRING, 0])));
  const encoded = values.map((v) => {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([nullBitmap, Buffer.from([bindTypes ? 1 : 0]), ...(bindTypes ? [types] : []), ...encoded]);
}

/** First column of the first row of a binary result set (as text via a CAST in the SQL). */
function binaryFirstString(packets: Buffer[]): string {
  // count, column def, [EOF], row: 0x00, null bitmap (1 byte for 1 column), lenenc string
  const row = packets.find((p, i) => i >= 2 && p[0] === 0x00 && p.length > 2)!;
  const len = row[2]!;
  return row.subarray(3, 3 + len).toString();
}

/** COM_STMT_EXECUTE flag: open a read-only cursor. */
const CURSOR_TYPE_READ_ONLY = 1;

/**
 * Status flags of an EOF packet (0xfe, warnings u16, status u16) or of an OK-as-EOF with
 * CLIENT_DEPRECATE_EOF (0xfe, affected rows, last insert id — one byte each here — status u16):
 * both at offset 3.
 */
function statusOf(p: Buffer, _deprecateEof: boolean): number {
  return p.readUInt16LE(3);
}

/** The `n` string columns of a binary-protocol row (header 0x00, null bitmap, lenenc strings). */
function binaryStrings(row: Buffer, n: number): string[] {
  let pos = 1 + ((n + 7 + 2) >> 3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = row[pos]!;
    out.push(row.subarray(pos + 1, pos + 1 + len).toString());
    pos += 1 + len;
  }
  return out;
}

describe('server-side prepared statements (mysql2 execute)', () => {
  test('parameters of every common type round-trip exactly', async () => {
    const blob = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    const params = [1, -42, 9007199254740991n, '12345.678', 3.25, 'héllo 😀 world', '2024-02-29', '2024-02-29 23:59:58.123', blob, null];
    await conn.execute('INSERT INTO ps_types VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', params);
    const [rows] = await conn.execute(
      "/*master*/ SELECT i, CAST(bi AS CHAR) AS bi, CAST(dec_v AS CHAR) AS dec_v, dbl, s, DATE_FORMAT(d, '%Y-%m-%d') AS d, DATE_FORMAT(dt, '%Y-%m-%d %H:%i:%s.%f') AS dt, b, n FROM ps_types WHERE id = ?",
      [1],
    );
    const r = (rows as Record<string, unknown>[])[0]!;
    assert.equal(r.i, -42);
    assert.equal(r.bi, '9007199254740991');
    assert.equal(r.dec_v, '12345.678');
    assert.equal(r.dbl, 3.25);
    assert.equal(r.s, 'héllo 😀 world');
    assert.equal(r.d, '2024-02-29');
    assert.equal(r.dt, '2024-02-29 23:59:58.123000');
    assert.deepEqual(r.b, blob);
    assert.equal(r.n, null);
  });

  test('1,000 executions of one read statement are spread over both readHosts, never the writeHost', async () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const [rows] = await conn.execute('SELECT @@server_id AS sid, ? AS i', [i]);
      const r = (rows as { sid: number; i: number }[])[0]!;
      assert.equal(Number(r.i), i);
      seen.set(Number(r.sid), (seen.get(Number(r.sid)) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), [2, 3]);
    assert.ok(Math.min(...seen.values()) >= 400, `balanced: ${JSON.stringify([...seen])}`);
  });

  test('prepared writes and everything inside a transaction go to the writeHost', async () => {
    await conn.execute('INSERT INTO ps_types (id) VALUES (?)', [2]);
    await conn.beginTransaction();
    const [rows] = await conn.execute('SELECT @@server_id AS sid, COUNT(*) AS n FROM ps_types WHERE id = ?', [2]);
    await conn.commit();
    assert.deepEqual(rows, [{ sid: PRIMARY, n: 1 }]);
  });

  test('a statement error is reported at prepare time (1146, 1064)', async () => {
    assert.equal(await errnoOf(() => conn.execute('SELECT * FROM no_such_table WHERE id = ?', [1])), 1146);
    assert.equal(await errnoOf(() => conn.execute('SELEC ?', [1])), 1064);
  });

  test('CALL with two result sets, through execute', async () => {
    const [results] = await conn.execute('CALL two_results()');
    const sets = results as unknown[];
    assert.deepEqual(sets[0], [{ a: 1 }]);
    assert.deepEqual(sets[1], [{ b: 2 }]);
  });
});

describe('prepared statements at the protocol level (raw client)', () => {
  let c: RawClient;
  before(async () => {
    c = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password, 'sluice_test');
  });
  after(() => c?.close());

  test('re-execution without re-sent types works on whichever readHost it lands (types kept by the proxy)', async () => {
    const { id } = await rawPrepare(c, 'SELECT CONCAT(?, @@server_id) AS v');
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      // Only the first execution binds types (new_params_bound = 1); the rest send 0.
      const packets = await c.command(encodeStmtExecute(id, 0, 1, stringParams([`run${i}-`], i === 0)));
      assert.equal(errnoOfPacket(packets.at(-1)), undefined, 'no error');
      const v = binaryFirstString(packets);
      assert.match(v, new RegExp(`^run${i}-[23]$`));
      seen.add(v.slice(-1));
    }
    assert.deepEqual([...seen].sort(), ['2', '3'], 'both readHosts executed it');
  });

  test('a 5 MB parameter sent as long data arrives intact', async () => {
    await c.command(encodeQuery('DELETE FROM ps_types WHERE id = 5'));
    const { id } = await rawPrepare(c, 'INSERT INTO ps_types (id, b) VALUES (5, ?)');
    const blob = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 7) & 0xff;
    for (let off = 0; off < blob.length; off += 1024 * 1024) {
      c.socket.write(encodePacket(encodeStmtSendLongData(id, 0, blob.subarray(off, off + 1024 * 1024)), 0));
    }
    // null bitmap (1 byte), bound, type LONG_BLOB, no inline value
    const body = Buffer.from([0, 1, ColumnType.LONG_BLOB, 0]);
    const [ok] = await c.command(encodeStmtExecute(id, 0, 1, body));
    assert.equal(ok![0], 0x00, 'insert OK');
    const rows = await c.command(encodeQuery('/*master*/ SELECT LENGTH(b), MD5(b) FROM ps_types WHERE id = 5'));
    const row = decodeTextRow(rows[4]!, 2).map((v) => v?.toString()); // count, 2 column defs, EOF, row
    assert.deepEqual(row, [String(blob.length), createHash('md5').update(blob).digest('hex')]);
  });

  test('statement id 0xffffffff means the statement prepared last', async () => {
    await rawPrepare(c, 'SELECT CONCAT(?, ?) AS v');
    const packets = await c.command(encodeStmtExecute(0xffffffff, 0, 1, stringParams(['a', 'b'], true)));
    assert.equal(binaryFirstString(packets), 'ab');
  });

  test('after COM_STMT_CLOSE the id is unknown (1243); COM_STMT_RESET answers OK', async () => {
    const { id } = await rawPrepare(c, 'SELECT 1');
    const [reset] = await c.command(encodeStmtReset(id));
    assert.equal(reset![0], 0x00);
    c.socket.write(encodePacket(encodeStmtClose(id), 0)); // no response
    const [err] = await c.command(encodeStmtExecute(id, 0, 1, Buffer.alloc(0)));
    assert.equal(errnoOfPacket(err), 1243);
  });

  for (const deprecateEof of [false, true]) {
    test(`a cursor${deprecateEof ? ' (CLIENT_DEPRECATE_EOF)' : ''}: opened on a replica, fetched in batches across idle time and other statements, closed when exhausted`, async () => {
      const cc = deprecateEof ? await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password, 'sluice_test', Capability.DEPRECATE_EOF) : c;
      try {
        const { id } = await rawPrepare(cc, 'SELECT CAST(@@server_id AS CHAR) AS sid, CAST(seq AS CHAR) AS v FROM seq_1_to_5');
        const opened = await cc.command(encodeStmtExecute(id, CURSOR_TYPE_READ_ONLY, 1, Buffer.alloc(0)));
        // column count, 2 definitions, then the EOF (or OK-as-EOF) that says a cursor is open
        assert.equal(opened.length, 4);
        assert.ok(statusOf(opened[3]!, deprecateEof) & ServerStatus.CURSOR_EXISTS, 'CURSOR_EXISTS');
        const rows: string[][] = [];
        for (let batch = 0; batch < 3; batch++) {
          // Idle past holdConnectionMs, and other statements in between: the cursor's connection stays.
          await new Promise((r) => setTimeout(r, 120));
          await cc.command(encodeQuery('SELECT 1'));
          const fetched = await cc.command(encodeStmtFetch(id, 2), 'rows');
          const end = fetched.at(-1)!;
          assert.equal(end[0], 0xfe);
          rows.push(...fetched.slice(0, -1).map((r) => binaryStrings(r, 2)));
          const flags = statusOf(end, deprecateEof);
          if (batch < 2) assert.ok(flags & ServerStatus.CURSOR_EXISTS, `batch ${batch}: cursor still open`);
          else assert.ok(flags & ServerStatus.LAST_ROW_SENT, 'last batch: LAST_ROW_SENT');
        }
        assert.deepEqual(rows.map((r) => r[1]), ['1', '2', '3', '4', '5']);
        const sids = new Set(rows.map((r) => Number(r[0])));
        assert.equal(sids.size, 1, 'every row from the one connection holding the cursor');
        assert.ok(REPLICAS.has([...sids][0]!), 'a read: the cursor lives on a replica');
        const [gone] = await cc.command(encodeStmtFetch(id, 2), 'rows');
        assert.equal(errnoOfPacket(gone), 1421, 'exhausted: no open cursor');
      } finally {
        if (cc !== c) cc.close();
      }
    });
  }

  test('COM_STMT_RESET closes an open cursor; executing again opens a new one', async () => {
    const { id } = await rawPrepare(c, 'SELECT CAST(seq AS CHAR) AS v FROM seq_1_to_3');
    await c.command(encodeStmtExecute(id, CURSOR_TYPE_READ_ONLY, 1, Buffer.alloc(0)));
    const first = await c.command(encodeStmtFetch(id, 1), 'rows');
    assert.deepEqual(binaryStrings(first[0]!, 1), ['1']);
    const [ok] = await c.command(encodeStmtReset(id));
    assert.equal(ok![0], 0x00);
    const [none] = await c.command(encodeStmtFetch(id, 1), 'rows');
    assert.equal(errnoOfPacket(none), 1421);
    await c.command(encodeStmtExecute(id, CURSOR_TYPE_READ_ONLY, 1, Buffer.alloc(0)));
    const again = await c.command(encodeStmtFetch(id, 10), 'rows');
    assert.deepEqual(again.slice(0, -1).map((r) => binaryStrings(r, 1)[0]), ['1', '2', '3']);
    c.socket.write(encodePacket(encodeStmtClose(id), 0));
  });

  test('a cursor inside a transaction reads the transaction’s own writes (writeHost connection)', async () => {
    await c.command(encodeQuery('CREATE TABLE IF NOT EXISTS ps_cursor_t (id INT PRIMARY KEY)'));
    await c.command(encodeQuery('DELETE FROM ps_cursor_t'));
    await c.command(encodeQuery('BEGIN'));
    await c.command(encodeQuery('INSERT INTO ps_cursor_t VALUES (7), (8)'));
    const { id } = await rawPrepare(c, 'SELECT CAST(id AS CHAR) AS v, CAST(@@server_id AS CHAR) AS sid FROM ps_cursor_t ORDER BY id');
    await c.command(encodeStmtExecute(id, CURSOR_TYPE_READ_ONLY, 1, Buffer.alloc(0)));
    const fetched = await c.command(encodeStmtFetch(id, 10), 'rows');
    assert.deepEqual(fetched.slice(0, -1).map((r) => binaryStrings(r, 2)), [['7', String(PRIMARY)], ['8', String(PRIMARY)]]);
    await c.command(encodeQuery('ROLLBACK'));
    c.socket.write(encodePacket(encodeStmtClose(id), 0));
  });

  test('COM_RESET_CONNECTION deallocates the session’s statements', async () => {
    const { id } = await rawPrepare(c, 'SELECT 2');
    await c.command(encodeSimpleCommand(Command.RESET_CONNECTION));
    const [err] = await c.command(encodeStmtExecute(id, 0, 1, Buffer.alloc(0)));
    assert.equal(errnoOfPacket(err), 1243);
  });
});

describe('text-protocol PREPARE / EXECUTE / DEALLOCATE', () => {
  test('the named statement stays usable (the session is pinned until DEALLOCATE)', async () => {
    const c = await proxy.connect();
    try {
      await c.query("PREPARE s1 FROM 'SELECT @@server_id AS sid, ? AS x'");
      await c.query("SET @v = 'val'");
      await new Promise((r) => setTimeout(r, 120)); // longer than holdConnectionMs
      const [rows] = await c.query('EXECUTE s1 USING @v');
      assert.deepEqual(rows, [{ sid: PRIMARY, x: 'val' }]);
      await c.query('DEALLOCATE PREPARE s1');
      const [after] = await c.query('SELECT @@server_id AS sid');
      assert.ok(REPLICAS.has(Number((after as { sid: number }[])[0]!.sid)), 'unpinned after DEALLOCATE');
    } finally {
      await c.end();
    }
  });
});

describe('multiple result sets', () => {
  test('a multi-statement packet runs on the writeHost as one unit and returns every result', async () => {
    const [results] = await conn.query('SELECT 1 AS a; SELECT @@server_id AS sid; SELECT 3 AS c');
    assert.deepEqual(results, [[{ a: 1 }], [{ sid: PRIMARY }], [{ c: 3 }]]);
  });

  test('CALL of a procedure returning two result sets (text protocol)', async () => {
    const [results] = await conn.query('CALL two_results()');
    const sets = results as unknown[];
    assert.deepEqual(sets[0], [{ a: 1 }]);
    assert.deepEqual(sets[1], [{ b: 2 }]);
  });

  test('the mariadb CLI runs a multi-statement -e', async () => {
    const { stdout } = await execFileP('mariadb', [
      '-h', '127.0.0.1', '-P', String(proxy.port), '-u', proxy.sandbox.user, `-p${proxy.sandbox.password}`,
      'sluice_test', '-N', '-B', '-e', 'SELECT 1; SELECT 2',
    ]);
    assert.equal(stdout.trim(), '1\n2');
  });
});

describe('LOAD DATA LOCAL INFILE', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-infile-'));

  test('the mariadb CLI streams a file through the proxy to the writeHost', async () => {
    const file = path.join(dir, 'rows.csv');
    const lines = Array.from({ length: 20000 }, (_, i) => `${100000 + i},row ${i}`);
    writeFileSync(file, lines.join('\n') + '\n');
    await conn.query('CREATE TABLE IF NOT EXISTS infile_t (id INT PRIMARY KEY, s VARCHAR(32))');
    await conn.query('DELETE FROM infile_t');
    const { stdout } = await execFileP('mariadb', [
      // --comments: the CLI strips comments (and so hints) unless told not to.
      '--local-infile=1', '--comments', '-h', '127.0.0.1', '-P', String(proxy.port), '-u', proxy.sandbox.user,
      `-p${proxy.sandbox.password}`, 'sluice_test', '-N', '-B', '-e',
      // The CLI sends the two statements separately: the count must read the writeHost.
      `LOAD DATA LOCAL INFILE '${file}' INTO TABLE infile_t FIELDS TERMINATED BY ','; /*master*/ SELECT COUNT(*) FROM infile_t`,
    ]);
    assert.equal(stdout.trim(), '20000');
  });

  test('mysql2 with infileStreamFactory', async () => {
    const c = await proxy.connect({
      infileStreamFactory: () => Readable.from([Buffer.from('1,a\n'), Buffer.from('2,b\n'), Buffer.from('3,c\n')]),
    } as unknown as mysql.ConnectionOptions);
    try {
      await c.query('DELETE FROM infile_t');
      const [res] = await c.query("LOAD DATA LOCAL INFILE 'whatever.csv' INTO TABLE infile_t FIELDS TERMINATED BY ','");
      assert.equal((res as mysql.ResultSetHeader).affectedRows, 3);
      const [rows] = await c.query('/*master*/ SELECT COUNT(*) AS n FROM infile_t');
      assert.equal(Number((rows as { n: number }[])[0]!.n), 3);
    } finally {
      await c.end();
    }
  });
});
