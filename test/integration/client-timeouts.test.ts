/**
 * Timeouts on the client side: a client that stops reading a result (session.writeTimeoutMs), a
 * client that sends nothing (session.idleTimeoutMs), and the client TLS settings
 * (tls.minVersion, tls.ciphers) applied to the listener.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { connectAdmin, getSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';
import { encodeQuery } from '../../src/protocol/commands.js';
import { encodePacket } from '../../src/protocol/framer.js';

let sb: SandboxInfo;
before(async () => {
  sb = await getSandbox();
});

/** Log lines of a proxy, parsed (JSON lines). */
function logSink(): { stream: PassThrough; lines: () => { msg?: string; [k: string]: unknown }[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return {
    stream,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { msg?: string }),
  };
}

async function metricsText(p: TestProxy): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.sluice.httpAddress!.port}/metrics`);
  return res.text();
}

/** Backend threads on the primary running a statement that contains `marker`. */
async function threadsRunning(admin: mysql.Connection, marker: string): Promise<number[]> {
  const [rows] = await admin.query(
    "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE CONCAT('%', ?, '%') AND INFO NOT LIKE '%PROCESSLIST%'",
    [marker],
  );
  return (rows as { id: number }[]).map((r) => Number(r.id));
}

describe('session.writeTimeoutMs: a client that stops reading a result', () => {
  let p: TestProxy;
  let admin: mysql.Connection;
  const log = logSink();
  before(async () => {
    p = await startProxy({
      session: { writeTimeoutMs: 1000 },
      dataHost: { balance: 0 },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      logStream: log.stream,
    });
    admin = await connectAdmin(sb.primary);
  });
  after(async () => {
    await admin?.end();
    await p?.close();
  });

  test('is disconnected after writeTimeoutMs; its backend connection is closed, not pooled mid-result', { timeout: 60_000 }, async () => {
    const writerId = `${sb.primary.host}:${sb.primary.port}`;
    const pools = p.sluice.pools(writerId)!;
    const marker = `stall_${Date.now()}`;
    const c = await RawClient.connect(p.port, sb.user, sb.password, sb.database);
    c.socket.pause(); // stop reading: the proxy's writes back up, the relay waits for 'drain'
    const sent = Date.now();
    // About 100 MB: far more than the socket buffers on the way can hold.
    c.socket.write(encodePacket(encodeQuery(`SELECT /* ${marker} */ seq, REPEAT('x', 1024 * 1024) AS big FROM seq_1_to_100`), 0));
    const [thread] = await waitFor(async () => {
      const t = await threadsRunning(admin, marker);
      return t.length > 0 ? t : undefined;
    }, { what: 'the statement on the writeHost' });
    assert.equal(pools.stats().borrowed, 1, 'the statement holds a backend connection');

    // The proxy ends the session on its own (the client reads nothing and never closes).
    await waitFor(() => p.sluice.frontend.sessionCount === 0, { timeoutMs: 8_000, what: 'the stalled session to be closed' });
    const closedAfter = Date.now() - sent;
    assert.ok(closedAfter >= 900, `closed after ${closedAfter} ms, not before writeTimeoutMs`);
    assert.equal(pools.stats().borrowed, 0, 'nothing borrowed any more');
    // The backend connection was closed: the server's thread for it ends (its write fails).
    await waitFor(async () => (await threadsRunning(admin, marker)).length === 0, { what: 'the backend thread of the stalled result to end' });
    const [alive] = await admin.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ?', [thread]);
    assert.equal(Number((alive as { n: number }[])[0]!.n), 0, `backend thread ${thread} is gone, so no pool can hand it out`);

    // The client sees the connection closed, short of the whole result.
    let received = 0;
    c.socket.on('data', (chunk: Buffer) => (received += chunk.length));
    c.socket.resume();
    assert.ok(await c.waitClosed(5_000), 'the client connection is closed');
    assert.ok(received < 100 * 1024 * 1024, `the client got ${received} bytes, not the whole result`);

    // Other clients go on, on the same pool, with whole and correct results.
    const conns = await Promise.all([p.connect(), p.connect(), p.connect()]);
    try {
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          conns.map(async (conn, i) => {
            const [rows] = await conn.query(`SELECT seq, LENGTH(REPEAT('y', 100000)) AS len FROM seq_1_to_${50 + i}`);
            const r = rows as { seq: number; len: number }[];
            assert.equal(r.length, 50 + i);
            assert.deepEqual(r.map((x) => Number(x.seq)), Array.from({ length: 50 + i }, (_, k) => k + 1));
            assert.ok(r.every((x) => Number(x.len) === 100000));
          }),
        );
      }
      const [ids] = await conns[0]!.query('SELECT @@server_id AS id');
      assert.equal(Number((ids as { id: number }[])[0]!.id), sb.primary.serverId);
    } finally {
      await Promise.all(conns.map((conn) => conn.end()));
    }

    assert.equal(p.sluice.stats.clientTimeouts.write, 1, 'counted once');
    assert.match(await metricsText(p), /^sluice_client_timeouts_total\{reason="write"\} 1$/m);
    const lines = log.lines().filter((l) => l.msg === 'client stopped reading a result; closing it and its backend connection');
    assert.equal(lines.length, 1, 'logged once');
    assert.equal(lines[0]!['writeTimeoutMs'], 1000);
    assert.equal(log.lines().filter((l) => l.msg === 'backend lost during a result; closing client').length, 0, 'not reported as a lost backend');
  });
});

describe('session.idleTimeoutMs: a client that sends nothing', () => {
  let p: TestProxy;
  let admin: mysql.Connection;
  const log = logSink();
  const table = `${'sluice_test'}.idle_timeout_rows`;
  before(async () => {
    p = await startProxy({
      session: { idleTimeoutMs: 1000 },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      logStream: log.stream,
    });
    admin = await connectAdmin(sb.primary);
    await admin.query(`CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY) ENGINE=InnoDB`);
    await admin.query(`DELETE FROM ${table}`);
  });
  after(async () => {
    await admin?.query(`DROP TABLE IF EXISTS ${table}`);
    await admin?.end();
    await p?.close();
  });

  test('closes an idle client and rolls back its open transaction; busy and active clients stay', { timeout: 60_000 }, async () => {
    const idle = await p.connect();
    const lost = new Promise<string | undefined>((resolve) => idle.on('error', (err: { code?: string }) => resolve(err.code)));
    await idle.query('BEGIN');
    await idle.query(`INSERT INTO ${table} VALUES (1)`);

    // Meanwhile: a client with a statement longer than the timeout, and one that keeps talking.
    const busy = await p.connect();
    const busyLost = new Promise<string | undefined>((resolve) => busy.on('error', (err: { code?: string }) => resolve(err.code)));
    const active = await p.connect();
    active.on('error', () => undefined); // asserted through its queries
    const slow = busy.query('SELECT SLEEP(1.5) AS s');
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const [rows] = await active.query('SELECT 1 AS one');
      assert.equal((rows as { one: number }[])[0]!.one, 1, 'a client talking more often than the timeout stays');
    }
    assert.equal(await lost, 'PROTOCOL_CONNECTION_LOST', 'the idle client saw its connection closed');
    await assert.rejects(idle.query('SELECT 1'), /closed state/, 'its next query cannot run');
    const [slept] = await slow;
    assert.equal(Number((slept as { s: number }[])[0]!.s), 0, 'a statement longer than the timeout is not cut');

    // The transaction was rolled back: the row is not there and its lock is free.
    await waitFor(() => p.sluice.stats.clientTimeouts.idle >= 1, { what: 'the idle close to be counted' });
    const [count] = await admin.query(`SELECT COUNT(*) AS n FROM ${table}`);
    assert.equal(Number((count as { n: number }[])[0]!.n), 0, 'the open transaction was rolled back');
    await active.query('SET SESSION innodb_lock_wait_timeout = 2');
    await active.query(`INSERT INTO ${table} VALUES (1)`); // would wait and fail (1205) if a pooled connection still held the row lock
    const [after] = await admin.query(`SELECT COUNT(*) AS n FROM ${table}`);
    assert.equal(Number((after as { n: number }[])[0]!.n), 1);

    // The busy client idles once its statement is over, and is closed in turn.
    assert.equal(await busyLost, 'PROTOCOL_CONNECTION_LOST');
    await active.end();
    assert.equal(p.sluice.stats.clientTimeouts.idle, 2, 'the idle client, then the busy one once it idled');
    assert.equal(p.sluice.stats.clientTimeouts['wait-timeout'], 0);
    assert.match(await metricsText(p), /^sluice_client_timeouts_total\{reason="idle"\} 2$/m);
    const lines = log.lines().filter((l) => l.msg === 'client idle longer than session.idleTimeoutMs; closing');
    assert.equal(lines.length, 2, 'logged once per close');
    assert.deepEqual(lines.map((l) => l['inTransaction']).sort(), [false, true]);
  });
});

test("a session's own SET wait_timeout closes it (idleTimeoutMs off), counted apart", { timeout: 30_000 }, async () => {
  const p = await startProxy({ http: { host: '127.0.0.1', port: 0 } });
  try {
    const own = await p.connect();
    const lost = new Promise<string | undefined>((resolve) => own.on('error', (err: { code?: string }) => resolve(err.code)));
    await own.query('SET SESSION wait_timeout = 1');
    const other = await p.connect();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await lost, 'PROTOCOL_CONNECTION_LOST');
    const [rows] = await other.query('SELECT 1 AS one'); // idle as long, without its own wait_timeout: still open
    assert.equal((rows as { one: number }[])[0]!.one, 1);
    await other.end();
    assert.equal(p.sluice.stats.clientTimeouts['wait-timeout'], 1);
    assert.equal(p.sluice.stats.clientTimeouts.idle, 0);
    assert.match(await metricsText(p), /^sluice_client_timeouts_total\{reason="wait-timeout"\} 1$/m);
  } finally {
    await p.close();
  }
});

describe('tls.minVersion and tls.ciphers on the client listener', () => {
  test('minVersion TLSv1.3: a client limited to TLSv1.2 is refused, a TLSv1.3 one logs in', { timeout: 30_000 }, async (t) => {
    if (!sb.tls) return t.skip('the sandbox has no TLS certificates (openssl CLI missing?)');
    const p = await startProxy({ tls: { cert: sb.tls.cert, key: sb.tls.key, minVersion: 'TLSv1.3' } });
    try {
      await assert.rejects(
        RawClient.connect(p.port, sb.user, sb.password, sb.database, 0, 'mysql_native_password', { tls: { rejectUnauthorized: false, maxVersion: 'TLSv1.2' } }),
        /protocol version|alert/i,
      );
      const c = await RawClient.connect(p.port, sb.user, sb.password, sb.database, 0, 'mysql_native_password', { tls: { rejectUnauthorized: false } });
      try {
        assert.equal((c.socket as import('node:tls').TLSSocket).getProtocol(), 'TLSv1.3');
        const [row] = await c.command(encodeQuery('SELECT 1'));
        assert.ok(row, 'a query runs over TLS 1.3');
      } finally {
        c.close();
      }
    } finally {
      await waitFor(() => p.sluice.frontend.sessionCount === 0, { what: 'sessions to end' }).catch(() => undefined);
      await p.close();
    }
  });

  test('ciphers: only the configured suites are negotiated', { timeout: 30_000 }, async (t) => {
    if (!sb.tls) return t.skip('the sandbox has no TLS certificates (openssl CLI missing?)');
    const p = await startProxy({ tls: { cert: sb.tls.cert, key: sb.tls.key, minVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256' } });
    try {
      const tls12 = { rejectUnauthorized: false, maxVersion: 'TLSv1.2' as const };
      const ok = await RawClient.connect(p.port, sb.user, sb.password, sb.database, 0, 'mysql_native_password', { tls: tls12 });
      assert.match(ok.cipher ?? '', /^ECDHE-(RSA|ECDSA)-AES128-GCM-SHA256$/);
      ok.close();
      await assert.rejects(
        RawClient.connect(p.port, sb.user, sb.password, sb.database, 0, 'mysql_native_password', {
          tls: { ...tls12, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384' },
        }),
        /handshake failure|no shared cipher|alert/i,
      );
    } finally {
      await waitFor(() => p.sluice.frontend.sessionCount === 0, { what: 'sessions to end' }).catch(() => undefined);
      await p.close();
    }
  });
});
