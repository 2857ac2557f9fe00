/**
 * The compressed protocol (CLIENT_COMPRESS, zlib) between clients and Sluice: mysql2 with
 * `compress: true` and `mariadb --compress` get the same rows as without, results much larger
 * than one frame stream through, the client's own compressed input (LOAD DATA LOCAL) reaches the
 * backend, and malformed compressed input closes only that connection. Backends stay plain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import mysql from 'mysql2/promise';
import { Capability } from '../../src/protocol/constants.js';
import { CompressedDecoder, encodeCompressed } from '../../src/protocol/compressed.js';
import { PacketDecoder, encodePacket } from '../../src/protocol/framer.js';
import { encodeQuery } from '../../src/protocol/commands.js';
import { errnoOf, startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { startBuiltProxy } from '../helpers/built-proxy.js';

const execFileP = promisify(execFile);

let proxy: TestProxy;
const logLines: Record<string, unknown>[] = [];

before(async () => {
  const logStream = new PassThrough();
  let pending = '';
  logStream.on('data', (d: Buffer) => {
    pending += d.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const l of lines) if (l.trim() !== '') logLines.push(JSON.parse(l) as Record<string, unknown>);
  });
  proxy = await startProxy({ logStream, log: { level: 'info' } });
  const c = await proxy.connect();
  try {
    await c.query('CREATE TABLE IF NOT EXISTS cz_t (id INT PRIMARY KEY, s VARCHAR(64)) ENGINE=InnoDB');
    await c.query('DELETE FROM cz_t');
  } finally {
    await c.end();
  }
});

after(async () => {
  await proxy?.close();
});

interface Compressed {
  readonly conn: mysql.Connection;
  /** mysql2's "packets out of order" warnings (it only prints them otherwise). */
  readonly warnings: Error[];
  /** Bytes received on the socket so far. */
  bytesRead(): number;
}

/** The mysql2 connection under the promise wrapper (its config, its socket, its events). */
function inner(c: mysql.Connection): {
  config: { compress: number | boolean };
  stream: { bytesRead: number };
  on(e: 'warn', l: (err: Error) => void): void;
} {
  return (c as unknown as { connection: ReturnType<typeof inner> }).connection;
}

async function compressedConnection(opts: mysql.ConnectionOptions = {}): Promise<Compressed> {
  const conn = await proxy.connect({ compress: true, ...opts });
  const warnings: Error[] = [];
  inner(conn).on('warn', (err) => warnings.push(err));
  // mysql2 keeps `compress` on only when the greeting offered it.
  assert.ok(inner(conn).config.compress, 'compression was negotiated');
  return { conn, warnings, bytesRead: () => inner(conn).stream.bytesRead };
}

function direct(): Promise<mysql.Connection> {
  const sb = proxy.sandbox;
  return mysql.createConnection({ host: sb.primary.host, port: sb.primary.port, user: sb.user, password: sb.password, database: 'sluice_test' });
}

// About 9 MB of rows: compressible text, incompressible hashes, NULLs, numbers.
const BIG_SQL =
  "SELECT seq, REPEAT(CHAR(65 + seq % 26), 20 + seq % 90) AS t, UNHEX(SHA2(seq, 512)) AS h, " +
  'IF(seq % 7 = 0, NULL, seq * 1.5) AS n FROM seq_1_to_60000';

describe('mysql2 with compress: true', () => {
  test('a multi-MB text result is identical to a direct one, and arrives compressed', { timeout: 120_000 }, async () => {
    const d = await direct();
    const plainBytes = inner(d).stream.bytesRead;
    const [expected] = await d.query({ sql: BIG_SQL, rowsAsArray: true });
    const uncompressedSize = inner(d).stream.bytesRead - plainBytes;
    await d.end();
    const z = await compressedConnection();
    try {
      const before = z.bytesRead();
      const [rows] = await z.conn.query({ sql: BIG_SQL, rowsAsArray: true });
      const received = z.bytesRead() - before;
      assert.equal((rows as unknown[]).length, 60000);
      assert.deepEqual(rows, expected);
      assert.ok(uncompressedSize > 8_000_000, `result is ${uncompressedSize} bytes uncompressed`);
      assert.ok(received < uncompressedSize * 0.7, `received ${received} bytes for ${uncompressedSize} uncompressed`);
      assert.deepEqual(z.warnings, []);
    } finally {
      await z.conn.end();
    }
  });

  test('prepared statements: parameters, a large result identical to direct', { timeout: 120_000 }, async () => {
    const d = await direct();
    const sql = `${BIG_SQL} WHERE seq > ? AND seq <= ?`;
    const [expected] = await d.execute({ sql, rowsAsArray: true }, [1000, 41000]);
    await d.end();
    const z = await compressedConnection();
    try {
      const [rows] = await z.conn.execute({ sql, rowsAsArray: true }, [1000, 41000]);
      assert.deepEqual(rows, expected);
      const [one] = await z.conn.execute('SELECT ? + 1 AS x, ? AS s', [41, 'héllo']);
      assert.deepEqual(one, [{ x: 42, s: 'héllo' }]);
      assert.deepEqual(z.warnings, []);
    } finally {
      await z.conn.end();
    }
  });

  test('a transaction: its reads see its writes, rollback and commit work', async () => {
    const z = await compressedConnection();
    try {
      await z.conn.query('BEGIN');
      await z.conn.query("INSERT INTO cz_t VALUES (1, 'rolled back')");
      const [inTrx] = await z.conn.query('SELECT s FROM cz_t WHERE id = 1');
      assert.deepEqual(inTrx, [{ s: 'rolled back' }]);
      await z.conn.query('ROLLBACK');
      await z.conn.query('START TRANSACTION');
      await z.conn.execute('INSERT INTO cz_t VALUES (?, ?)', [2, 'committed']);
      await z.conn.query('COMMIT');
      const [rows] = await z.conn.query('/*master*/ SELECT id, s FROM cz_t ORDER BY id');
      assert.deepEqual(rows, [{ id: 2, s: 'committed' }]);
      assert.deepEqual(z.warnings, []);
    } finally {
      await z.conn.end();
    }
  });

  test('an error reply, from a backend and from the proxy itself; the connection goes on', async () => {
    const z = await compressedConnection();
    try {
      assert.equal(await errnoOf(() => z.conn.query('SELECT * FROM no_such_table')), 1146);
      assert.equal(await errnoOf(() => z.conn.query('KILL 999999')), 1094); // answered by the proxy
      assert.equal(await errnoOf(() => z.conn.execute('SELECT * FROM no_such_table WHERE id = ?', [1])), 1146);
      await z.conn.ping();
      const [rows] = await z.conn.query("SELECT 'still here' AS s");
      assert.deepEqual(rows, [{ s: 'still here' }]);
      assert.deepEqual(z.warnings, []);
    } finally {
      await z.conn.end();
    }
  });

  test('many statements in a row keep the compressed sequence in step (it wraps past 255)', async () => {
    const z = await compressedConnection();
    try {
      for (let i = 0; i < 300; i++) {
        const [rows] = await z.conn.query(`SELECT ${i} AS i, REPEAT('r', ${i}) AS r`);
        assert.equal((rows as { i: number }[])[0]!.i, i);
      }
      assert.deepEqual(z.warnings, []);
    } finally {
      await z.conn.end();
    }
  });

  test('LOAD DATA LOCAL: the file travels compressed and reaches the writeHost', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${1000 + i},row ${i}\n`);
    const z = await compressedConnection({
      infileStreamFactory: () => Readable.from(lines.map((l) => Buffer.from(l))),
    } as mysql.ConnectionOptions);
    try {
      const [res] = await z.conn.query("LOAD DATA LOCAL INFILE 'rows.csv' INTO TABLE cz_t FIELDS TERMINATED BY ','");
      assert.equal((res as mysql.ResultSetHeader).affectedRows, 5000);
      const [rows] = await z.conn.query('/*master*/ SELECT COUNT(*) AS n FROM cz_t WHERE id >= 1000');
      assert.equal(Number((rows as { n: number }[])[0]!.n), 5000);
      assert.deepEqual(z.warnings, []);
    } finally {
      await z.conn.end();
    }
  });
});

describe('mariadb --compress', () => {
  const cli = (extra: string[], sql: string): Promise<{ stdout: string }> =>
    execFileP(
      'mariadb',
      [
        '--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(proxy.port), '-u', proxy.sandbox.user,
        `-p${proxy.sandbox.password}`, '--comments', '-N', '-B', ...extra, 'sluice_test', '-e', sql,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );

  test('runs queries and prints the same rows as without compression', { timeout: 120_000 }, async () => {
    const small = await cli(['--compress'], "SELECT 1, 'two'; SELECT COUNT(*) FROM seq_1_to_1000");
    assert.equal(small.stdout, '1\ttwo\n1000\n');
    // The client falls back to plain silently; its `status` says what was negotiated.
    assert.match((await cli(['--compress'], 'status')).stdout, /Protocol:\s+Compressed/);
    assert.doesNotMatch((await cli([], 'status')).stdout, /Compressed/);
    const sql = 'SELECT seq, REPEAT(CHAR(65 + seq % 26), 20 + seq % 90), MD5(seq) FROM seq_1_to_50000';
    const [zipped, plain] = await Promise.all([cli(['--compress'], sql), cli([], sql)]);
    assert.ok(plain.stdout.length > 4_000_000);
    assert.ok(zipped.stdout === plain.stdout, 'compressed output differs');
  });

  test('LOAD DATA LOCAL from the CLI with --compress', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cz-'));
    const file = path.join(dir, 'rows.csv');
    writeFileSync(file, Array.from({ length: 30000 }, (_, i) => `${100000 + i},cli row ${i}\n`).join(''));
    const { stdout } = await cli(
      ['--compress', '--local-infile=1'],
      `LOAD DATA LOCAL INFILE '${file}' INTO TABLE cz_t FIELDS TERMINATED BY ','; /*master*/ SELECT COUNT(*) FROM cz_t WHERE id >= 100000`,
    );
    assert.equal(stdout.trim(), '30000');
  });
});

describe('compression over TLS', () => {
  test('mysql2 and the mariadb CLI with TLS and compression together', { timeout: 60_000 }, async (t) => {
    const sb = proxy.sandbox;
    if (!sb.tls) return t.skip('the sandbox has no TLS certificates');
    const p = await startProxy({ tls: { cert: sb.tls.cert, key: sb.tls.key } });
    try {
      const c = await p.connect({ compress: true, ssl: { ca: readFileSync(sb.tls.ca) } });
      try {
        assert.ok(inner(c).config.compress, 'compression was negotiated');
        assert.ok(typeof (inner(c).stream as { getCipher?: unknown }).getCipher === 'function', 'over TLS');
        const [rows] = await c.query({ sql: 'SELECT seq, MD5(seq) FROM seq_1_to_20000', rowsAsArray: true });
        assert.equal((rows as unknown[]).length, 20000);
        (rows as [number, string][]).forEach(([seq, md5], i) => {
          assert.equal(seq, i + 1);
          assert.equal(md5, createHash('md5').update(String(seq)).digest('hex'));
        });
      } finally {
        await c.end();
      }
      const { stdout } = await execFileP('mariadb', [
        '--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(p.port), '-u', sb.user, `-p${sb.password}`,
        `--ssl-ca=${sb.tls.ca}`, '--ssl-verify-server-cert', '--compress', 'sluice_test', '-e', 'status; SELECT COUNT(*) FROM seq_1_to_777',
      ]);
      assert.match(stdout, /Protocol:\s+Compressed/);
      assert.match(stdout, /SSL:\s+Cipher in use/);
      assert.match(stdout, /\b777\b/);
    } finally {
      await p.close();
    }
  });
});

describe('the admin port', () => {
  test('speaks the compressed protocol too', { timeout: 60_000 }, async () => {
    const admin = { host: '127.0.0.1', port: 0, user: 'admin', password: 'cz-admin' };
    const p = await startProxy({ admin });
    try {
      const port = p.sluice.adminAddress!.port;
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: admin.user, password: admin.password, compress: true });
      try {
        assert.ok(inner(c).config.compress, 'compression was negotiated');
        const [help] = await c.query('SELECT * FROM help');
        assert.ok((help as unknown[]).length > 10);
        const [backends] = await c.query('SELECT * FROM backends');
        assert.equal((backends as unknown[]).length, 3);
      } finally {
        await c.end();
      }
      const { stdout } = await execFileP('mariadb', [
        '--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(port), '-u', admin.user, `-p${admin.password}`,
        '--compress', '-N', '-B', '-e', 'SELECT * FROM backends',
      ]);
      assert.equal(stdout.trim().split('\n').length, 3);
    } finally {
      await p.close();
    }
  });
});

describe('backpressure', () => {
  test('a 400 MB incompressible result streams to a stalled reader with proxy RSS under 150 MB', { timeout: 300_000 }, async (t) => {
    const sb = proxy.sandbox;
    const built = await startBuiltProxy(sb);
    const port = built.port;
    try {
      // Random bytes: what reaches the socket is as large as the result (a compressible one
      // would shrink to a few MB and prove nothing). The reader stalls for 5 s first: without
      // backpressure the proxy would take the result from the backend meanwhile and hold it.
      const { stdout } = await execFileP(
        'bash',
        [
          '-c',
          `mariadb --quick --compress -h 127.0.0.1 -P ${port} -u ${sb.user} -p${sb.password} -N -B sluice_test ` +
            `-e "SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_400000" | (sleep 5; wc -l)`,
        ],
        { maxBuffer: 1024 * 1024 },
      );
      // Batch mode escapes newlines inside values: one line per row.
      assert.equal(Number(stdout.trim()), 400000);
      const hwmKb = built.memoryKb('VmHWM');
      t.diagnostic(`proxy peak RSS while streaming 400 MB through compression: ${hwmKb >> 10} MB`);
      assert.ok(hwmKb < 150 * 1024, `proxy peak RSS ${hwmKb >> 10} MB`);
    } finally {
      await built.stop();
    }
  });
});

describe('on the wire', () => {
  /** Logs in with CLIENT_COMPRESS and takes the socket over; returns a reader of plain packets. */
  async function rawCompressed(): Promise<{
    client: RawClient;
    frames: { seq: number; plainLength: number }[];
    packets: Buffer[];
    waitFor(n: number): Promise<void>;
    closed: Promise<void>;
  }> {
    const client = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password, 'sluice_test', Capability.COMPRESS);
    client.socket.removeAllListeners('data');
    const frames: { seq: number; plainLength: number }[] = [];
    const packets: Buffer[] = [];
    const inflater = new CompressedDecoder();
    const decoder = new PacketDecoder(1 << 26);
    client.socket.on('data', (chunk: Buffer) => {
      // Headers as sent, before the decoder consumes them.
      inflater.push(chunk);
      for (let f = inflater.next(); f; f = inflater.next()) {
        frames.push({ seq: f.seq, plainLength: f.payload.length });
        decoder.push(f.payload);
        for (let p = decoder.next(); p; p = decoder.next()) packets.push(Buffer.from(p.payload));
      }
    });
    const closed = new Promise<void>((resolve) => client.socket.once('close', () => resolve()));
    const waitFor = async (n: number): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (packets.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${packets.length} packets of ${n}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    return { client, frames, packets, waitFor, closed };
  }

  test('the greeting offers CLIENT_COMPRESS and not zstd', async () => {
    const c = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password);
    try {
      assert.ok(c.serverCapabilities & Capability.COMPRESS);
      assert.equal(c.serverCapabilities & Capability.ZSTD_COMPRESSION_ALGORITHM, 0);
    } finally {
      c.socket.destroy();
    }
  });

  test('replies continue the compressed sequence of the command, restarting with each command', async () => {
    const r = await rawCompressed();
    try {
      // The command in compressed frame 0 (sent uncompressed: it is short): the reply starts at 1.
      r.client.socket.write(encodeCompressed(encodePacket(encodeQuery('SELECT 1'), 0), 0).bytes);
      await r.waitFor(5); // column count, definition, row, EOF/OK …
      assert.equal(r.frames[0]!.seq, 1);
      const firstReply = r.frames.length;
      // A long command split over three frames (0, 1, 2): the reply starts at 3.
      const sql = `SELECT '${'q'.repeat(20_000)}' AS s`;
      const packet = encodePacket(encodeQuery(sql), 0);
      const parts = [packet.subarray(0, 10), packet.subarray(10, 15_000), packet.subarray(15_000)];
      r.client.socket.write(Buffer.concat(parts.map((p, i) => encodeCompressed(p, i).bytes)));
      await r.waitFor(r.packets.length + 1);
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(r.frames[firstReply]!.seq, 3);
      const seqs = r.frames.slice(firstReply).map((f) => f.seq);
      assert.deepEqual(seqs, seqs.map((_, i) => 3 + i));
    } finally {
      r.client.socket.destroy();
    }
  });

  for (const [name, frame, reason] of [
    ['data that does not inflate', rawFrame(Buffer.from('definitely not zlib, definitely not zlib'), 0, 500), /does not inflate/],
    ['a frame that inflates to more than it claims', rawFrame(zlib.deflateSync(Buffer.alloc(5000, 0x41)), 0, 100), /more than the 100 bytes/],
    ['a frame that inflates to less than it claims', rawFrame(zlib.deflateSync(Buffer.alloc(5000, 0x41)), 0, 6000), /not the 6000/],
    ['an empty frame that claims a length', rawFrame(Buffer.alloc(0), 0, 10), /empty but claims/],
  ] as const) {
    test(`malformed compressed input closes that connection with a log line: ${name}`, async () => {
      const bystander = await compressedConnection();
      const r = await rawCompressed();
      try {
        r.client.socket.write(frame);
        await r.closed;
        await new Promise((res) => setTimeout(res, 50));
        const line = logLines.find((l) => l['msg'] === 'bad packet from client; closing' && reason.test(String(l['err'])));
        assert.ok(line, `log line for ${name}: ${JSON.stringify(logLines.slice(-3))}`);
        // The proxy and its other clients carry on.
        const [rows] = await bystander.conn.query('SELECT 7 AS n');
        assert.deepEqual(rows, [{ n: 7 }]);
      } finally {
        r.client.socket.destroy();
        await bystander.conn.end();
      }
    });
  }
});

function rawFrame(payload: Buffer, seq: number, plainLength: number): Buffer {
  const h = Buffer.alloc(7);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  h.writeUIntLE(plainLength, 4, 3);
  return Buffer.concat([h, payload]);
}
