/**
 * Causal reads (session.consistency): a read sees the writes it must see, by GTID, while the
 * replicas lag behind for real (MASTER_DELAY on a private sandbox, so the replicas stay in
 * rotation the whole time: lag under maxLagSeconds, threads running).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { connectAdmin, sandboxInfo, startPrivateSandbox, type SandboxInfo } from '../helpers/sandbox.js';
import { CONSISTENCY_WAIT_BUCKETS } from '../../src/frontend/session-context.js';

/** Replication delay of both replicas: every read of a fresh write finds them behind. */
const DELAY_S = 2;

let sb: SandboxInfo;
const admins: mysql.Connection[] = [];

async function admin(server: SandboxInfo['primary']): Promise<mysql.Connection> {
  const c = await connectAdmin(server, { database: sb.database });
  admins.push(c);
  return c;
}

async function setDelay(seconds: number): Promise<void> {
  for (const r of sb.replicas) {
    const c = await admin(r);
    await c.query('STOP SLAVE');
    await c.query(`CHANGE MASTER TO MASTER_DELAY = ${seconds}`);
    await c.query('START SLAVE');
  }
}

/** Waits until every replica has applied everything the primary has. */
async function caughtUp(): Promise<void> {
  const primary = await admin(sb.primary);
  const [[{ pos }]] = (await primary.query('SELECT @@gtid_binlog_pos AS pos')) as unknown as [[{ pos: string }]];
  for (const r of sb.replicas) {
    const c = await admin(r);
    await c.query(`SELECT MASTER_GTID_WAIT('${pos}', 30)`);
  }
}

async function count(conn: mysql.Connection, sql = 'SELECT COUNT(*) AS n, @@server_id AS sid FROM causal'): Promise<{ n: number; sid: number }> {
  const [rows] = await conn.query(sql);
  const r = (rows as { n: number; sid: number }[])[0]!;
  return { n: Number(r.n), sid: Number(r.sid) };
}

async function proxyWith(session: Record<string, unknown>): Promise<TestProxy> {
  return startProxy({
    sandbox: sb,
    session,
    // Lag of DELAY_S must not take the replicas out of rotation.
    dataHost: { replication: { maxLagSeconds: 60, checkEveryMs: 500, readmitAfter: 1 } },
  });
}

describe('causal reads', { timeout: 120_000 }, () => {
  before(async () => {
    sb = sandboxInfo(await startPrivateSandbox({ replicas: 2 }));
    const primary = await admin(sb.primary);
    await primary.query('CREATE TABLE causal (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
    await caughtUp();
    await setDelay(DELAY_S);
  });
  after(async () => {
    await Promise.all(admins.map((c) => c.end().catch(() => undefined)));
  });

  test('session (default): a read right after the session’s write sees it; a read-only session waits for nothing', async () => {
    const p = await proxyWith({ consistencyTimeoutMs: 5_000 });
    try {
      const reader = await p.connect({ database: sb.database });
      const before = await count(reader); // no write: served by a replica at once
      assert.notEqual(before.sid, sb.primary.serverId);
      const c = await p.connect({ database: sb.database });
      for (let i = 0; i < 3; i++) {
        const was = (await count(c)).n;
        await c.query('INSERT INTO causal (v) VALUES (?)', [i]);
        const now = await count(c);
        assert.equal(now.n, was + 1, 'the read sees the session’s own insert');
        assert.notEqual(now.sid, sb.primary.serverId, 'and a replica served it after waiting');
      }
      const s = p.sluice.stats.consistency;
      assert.ok(s.waited >= 3, `waited ${s.waited}`);
      assert.equal(s.fallback, 0);
      // The read-only session still reads without waiting (it wrote nothing).
      const waitedBefore = s.waited;
      await count(reader);
      assert.equal(p.sluice.stats.consistency.waited, waitedBefore);
      await Promise.all([c.end(), reader.end()]);
    } finally {
      await p.close();
    }
  });

  for (const loadBalance of ['least-conn', 'consistent-hash'] as const) {
    test(`session with loadBalance ${loadBalance}: the read after the write sees it, on a replica`, async () => {
      const p = await startProxy({
        sandbox: sb,
        session: { consistencyTimeoutMs: 5_000 },
        dataHost: { loadBalance, replication: { maxLagSeconds: 60, checkEveryMs: 500, readmitAfter: 1 } },
      });
      try {
        const c = await p.connect({ database: sb.database });
        for (let i = 0; i < 2; i++) {
          const was = (await count(c)).n;
          await c.query('INSERT INTO causal (v) VALUES (?)', [60 + i]);
          const now = await count(c);
          assert.equal(now.n, was + 1);
          assert.notEqual(now.sid, sb.primary.serverId);
        }
        await c.end();
      } finally {
        await p.close();
      }
    });
  }

  test('session: prepared statements and START TRANSACTION READ ONLY see the write too', async () => {
    const p = await proxyWith({ consistencyTimeoutMs: 5_000 });
    try {
      const c = await p.connect({ database: sb.database });
      const [[{ n: was }]] = (await c.execute('SELECT COUNT(*) AS n FROM causal')) as unknown as [[{ n: number }]];
      await c.execute('INSERT INTO causal (v) VALUES (?)', [10]);
      const [[{ n: now, sid }]] = (await c.execute('SELECT COUNT(*) AS n, @@server_id AS sid FROM causal')) as unknown as [[{ n: number; sid: number }]];
      assert.equal(Number(now), Number(was) + 1);
      assert.notEqual(Number(sid), sb.primary.serverId);
      await c.query('INSERT INTO causal (v) VALUES (11)');
      await c.query('START TRANSACTION READ ONLY');
      const inTx = await count(c);
      await c.query('COMMIT');
      assert.equal(inTx.n, Number(was) + 2);
      assert.notEqual(inTx.sid, sb.primary.serverId, 'the read-only transaction ran on a replica');
      await c.end();
    } finally {
      await p.close();
    }
  });

  test('session: a table or schema the session just created is usable at once on a replica (the wait comes before the prepare and the USE)', async () => {
    const p = await proxyWith({ consistencyTimeoutMs: 5_000 });
    try {
      const c = await p.connect({ database: sb.database });
      await c.query('CREATE TABLE causal_new_t (id INT)');
      await c.query('INSERT INTO causal_new_t VALUES (1), (2)');
      const [[row]] = (await c.execute('SELECT COUNT(*) AS n, @@server_id AS sid FROM causal_new_t')) as unknown as [[{ n: number; sid: number }]];
      assert.equal(Number(row.n), 2);
      assert.notEqual(Number(row.sid), sb.primary.serverId);
      await c.query('CREATE DATABASE causal_db2');
      await c.query('USE causal_db2');
      const [[db]] = (await c.query('SELECT DATABASE() AS d, @@server_id AS sid')) as unknown as [[{ d: string; sid: number }]];
      assert.equal(db.d, 'causal_db2');
      assert.notEqual(Number(db.sid), sb.primary.serverId);
      assert.equal(p.sluice.stats.consistency.fallback, 0);
      await c.end();
    } finally {
      await p.close();
    }
  });

  test('session: a wait that times out runs the read on the writeHost; the replica serves it once caught up', async () => {
    const p = await proxyWith({ consistencyTimeoutMs: 200 });
    try {
      const c = await p.connect({ database: sb.database });
      const was = (await count(c)).n;
      await c.query('INSERT INTO causal (v) VALUES (20)');
      const now = await count(c);
      assert.equal(now.n, was + 1);
      assert.equal(now.sid, sb.primary.serverId, 'fell back to the writeHost');
      assert.ok(p.sluice.stats.consistency.fallback >= 1);
      await caughtUp();
      // Once a replica is known to have applied the write (monitor), it serves without waiting.
      const deadline = Date.now() + 10_000;
      let later = await count(c);
      while (later.sid === sb.primary.serverId && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        later = await count(c);
      }
      assert.equal(later.n, was + 1);
      assert.notEqual(later.sid, sb.primary.serverId, 'a replica serves the read again');
      await c.end();
    } finally {
      await p.close();
    }
  });

  test('the wait-time metric counts the wait, not the read sent behind it', async () => {
    await setDelay(0);
    const p = await proxyWith({ consistencyTimeoutMs: 5_000 });
    try {
      const c = await p.connect({ database: sb.database });
      const stats = p.sluice.stats.consistency;
      for (let i = 0; i < 6; i++) {
        await c.query('INSERT INTO causal (v) VALUES (50)');
        await c.query('SELECT SLEEP(0.3) AS s, COUNT(*) AS n FROM causal');
      }
      assert.ok(stats.waited >= 1, `waited ${stats.waited}`);
      // No single wait took as long as the read behind it (buckets above 0.25 s stay empty).
      const slow = stats.waitBuckets.slice(CONSISTENCY_WAIT_BUCKETS.indexOf(0.25) + 1).reduce((a, b) => a + b, 0);
      assert.equal(slow, 0, `${slow} of ${stats.waited} waits counted over 0.25 s (sum ${stats.waitSum.toFixed(3)} s)`);
      await c.end();
    } finally {
      await p.close();
      await setDelay(DELAY_S);
    }
  });

  test('global: a read on another connection sees a write acknowledged before it began', async () => {
    const p = await proxyWith({ consistency: 'global', consistencyTimeoutMs: 5_000 });
    try {
      const writer = await p.connect({ database: sb.database });
      const reader = await p.connect({ database: sb.database });
      for (let i = 0; i < 3; i++) {
        const was = (await count(reader)).n;
        await writer.query('INSERT INTO causal (v) VALUES (30)');
        const now = await count(reader);
        assert.equal(now.n, was + 1, 'the other connection sees the insert');
        assert.notEqual(now.sid, sb.primary.serverId);
      }
      // A database created on one connection is usable by the next connection's login.
      await writer.query('CREATE DATABASE IF NOT EXISTS causal_new');
      const fresh = await p.connect({ database: 'causal_new' });
      await fresh.query('SELECT 1');
      await Promise.all([writer.end(), reader.end(), fresh.end()]);
    } finally {
      await p.close();
    }
  });

  test('eventual: reads do not wait, and a lagging replica shows the old count (what the other modes prevent)', async () => {
    const p = await proxyWith({ consistency: 'eventual' });
    try {
      const c = await p.connect({ database: sb.database });
      await caughtUp();
      const was = (await count(c)).n;
      await c.query('INSERT INTO causal (v) VALUES (40)');
      const now = await count(c);
      assert.notEqual(now.sid, sb.primary.serverId);
      assert.equal(now.n, was, 'the replica had not applied the insert yet');
      assert.equal(p.sluice.stats.consistency.waited + p.sluice.stats.consistency.fallback, 0);
      await c.end();
    } finally {
      await p.close();
    }
  });
});
