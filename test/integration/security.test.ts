/**
 * Admission and logging: the clients whitelist, connection limits (global and per user), the SQL
 * log and slow log (truncated, literals masked on request, no passwords), and the per-digest
 * statement statistics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import mysql from 'mysql2/promise';
import { errnoOf, startProxy } from '../helpers/proxy.js';

test('a client outside the clients whitelist gets 1130 before the handshake; inside it connects', async () => {
  const deny = await startProxy({ top: { clients: ['10.0.0.0/8', 'fd00::/8'] } });
  try {
    assert.equal(await errnoOf(() => deny.connect()), 1130);
  } finally {
    await deny.close();
  }
  const allow = await startProxy({ top: { clients: ['10.0.0.0/8', '127.0.0.0/8'] } });
  try {
    const c = await allow.connect();
    await c.query('SELECT 1');
    await c.end();
  } finally {
    await allow.close();
  }
});

test('maxConnections: the connection over the limit gets 1040; per user: 1226', async () => {
  const p = await startProxy({ top: { maxConnections: 2 } });
  try {
    const a = await p.connect();
    const b = await p.connect();
    assert.equal(await errnoOf(() => p.connect()), 1040);
    await a.end();
    await b.end();
  } finally {
    await p.close();
  }
  const u = await startProxy({ users: [{ name: 'app', password: 'app', maxConnections: 1 }] });
  try {
    const a = await u.connect();
    assert.equal(await errnoOf(() => u.connect()), 1226);
    await a.end();
  } finally {
    await u.close();
  }
});

/** Collects the proxy's JSON log lines. */
function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return {
    stream,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('SQL log and slow log: truncated, literals masked on request, passwords never logged', async () => {
  const out = capture();
  const p = await startProxy({
    logStream: out.stream,
    log: { level: 'info', sql: true, slowMs: 150, maxStatementLength: 40, maskLiterals: true },
  });
  try {
    const c = await p.connect();
    await c.query("SELECT 'secret-literal' AS a, @@server_id AS sid /* a long comment to pass forty characters */");
    await c.query('SELECT SLEEP(0.2)');
    await c.end();
    assert.equal(await errnoOf(() => p.connect({ password: 'wrong-password-xyz' })), 1045);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    await p.close();
  }
  const lines = out.lines();
  const sql = lines.filter((l) => l['log'] === 'sql');
  const slow = lines.filter((l) => l['log'] === 'slow');
  assert.ok(sql.length >= 1, 'statements were logged');
  assert.ok(slow.some((l) => String(l['sql']).startsWith('SELECT SLEEP(?)')), 'the slow statement is in the slow log, masked');
  const all = JSON.stringify(lines);
  assert.ok(!all.includes('secret-literal'), 'literals are masked');
  assert.ok(!all.includes('wrong-password-xyz'), 'passwords never reach the log');
  for (const l of [...sql, ...slow]) assert.ok(String(l['sql']).length <= 41, `truncated: ${String(l['sql'])}`);
});

test('per-digest statistics count executions, rows and the host class', async () => {
  const p = await startProxy();
  try {
    const c = await p.connect();
    for (let i = 0; i < 5; i++) await c.query(`SELECT ${i} AS n UNION ALL SELECT ${i + 1}`);
    await c.query('/*master*/ SELECT 1 AS one');
    await c.end();
    const top = p.sluice.statementStats.top(50);
    const union = top.find((s) => s.digest.startsWith('SELECT ? AS n UNION ALL SELECT ?'));
    assert.ok(union, JSON.stringify(top.map((s) => s.digest)));
    assert.equal(union.count, 5);
    assert.equal(union.rows, 10);
    assert.equal(union.reader, 5);
    const master = top.find((s) => s.digest.includes('SELECT ? AS one'));
    assert.equal(master?.writer, 1);
  } finally {
    await p.close();
  }
});

test('admin ADD PWD / RELOAD: the password reaches neither the log, nor SHOW output, nor an error', async () => {
  const out = capture();
  const p = await startProxy({
    logStream: out.stream,
    log: { level: 'debug', sql: true },
    admin: { host: '127.0.0.1', port: 0, user: 'admin', password: 'admin-pass-xyz' },
  });
  const seen: string[] = [];
  try {
    const admin = await mysql.createConnection({ host: '127.0.0.1', port: p.sluice.adminAddress!.port, user: 'admin', password: 'admin-pass-xyz' });
    try {
      const [added] = await admin.query('ADD PWD dana:dana-pass-xyz');
      seen.push(JSON.stringify(added));
      for (const q of ['SELECT * FROM pwds', 'SELECT * FROM backends', 'SHOW @@CONNECTION']) seen.push(JSON.stringify((await admin.query(q))[0]));
      // Refused: the user exists. The message names the user, not the password.
      const err = await admin.query('ADD PWD dana:dana-pass-xyz').then(() => undefined, (e: Error) => e.message);
      assert.match(String(err), /user dana already exists/);
      seen.push(String(err));
    } finally {
      await admin.end();
    }
    const dana = await p.connect({ user: 'dana', password: 'dana-pass-xyz' });
    await dana.end();
    assert.equal(await errnoOf(() => p.connect({ user: 'dana', password: 'wrong-pass-xyz' })), 1045);
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    await p.close();
  }
  const all = JSON.stringify(out.lines()) + seen.join('\n');
  for (const secret of ['dana-pass-xyz', 'admin-pass-xyz', 'wrong-pass-xyz']) assert.ok(!all.includes(secret), `${secret} leaked`);
  assert.ok(all.includes('dana'), 'the user name itself is reported');
});

test('the admin password may be stored as its hash (as conf/docker/sluice.yaml does)', async () => {
  const p = await startProxy({ admin: { host: '127.0.0.1', port: 0, user: 'admin', password: '*1B6992598B6D3D064C7AB83A61F148C47724084A' } });
  try {
    const port = p.sluice.adminAddress!.port;
    const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: 'admin', password: 'admin-secret' });
    const [rows] = await admin.query('SELECT * FROM backends');
    assert.ok((rows as unknown[]).length >= 1);
    await admin.end();
    assert.equal(await errnoOf(() => mysql.createConnection({ host: '127.0.0.1', port, user: 'admin', password: 'admin' })), 1045);
  } finally {
    await p.close();
  }
});
