/**
 * CONNECTION_ID() is the id the client got in the handshake (the proxy's), in text and prepared
 * statements, with the column name and type the server gives; KILL of that id from another
 * session works as on a server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { connectApp, getSandbox } from '../helpers/sandbox.js';

let proxy: TestProxy;

before(async () => {
  proxy = await startProxy();
});

after(async () => {
  await proxy?.close();
});

type Field = { name: string; columnType: number; flags: number };

async function connectionId(c: mysql.Connection): Promise<number> {
  const [rows] = await c.query('SELECT CONNECTION_ID() AS id');
  return Number((rows as { id: unknown }[])[0]!.id);
}

describe('CONNECTION_ID()', () => {
  test('equals the handshake id in text and prepared statements, wherever it runs', async () => {
    const c = await proxy.connect();
    try {
      for (let i = 0; i < 3; i++) {
        const [rows] = await c.query('SELECT CONNECTION_ID()');
        assert.deepEqual(rows, [{ 'CONNECTION_ID()': c.threadId }]);
        const [prepared] = await c.execute('SELECT CONNECTION_ID()');
        assert.deepEqual(prepared, [{ 'CONNECTION_ID()': c.threadId }]);
      }
      const [mixed] = await c.query('SELECT connection_id() AS me, 1 + CONNECTION_ID() AS next, CONNECTION_ID() = ? AS same', [c.threadId]);
      assert.deepEqual(mixed, [{ me: c.threadId, next: c.threadId + 1, same: 1 }]);
    } finally {
      await c.end();
    }
  });

  test('keeps the column name and type the server gives', async () => {
    const sb = await getSandbox();
    const direct = await connectApp(sb.primary);
    const c = await proxy.connect();
    try {
      for (const sql of ['SELECT CONNECTION_ID()', 'SELECT connection_id( ), 7 AS x', 'SELECT CONNECTION_ID() id']) {
        const [, want] = (await direct.query(sql)) as unknown as [unknown, Field[]];
        const [, got] = (await c.query(sql)) as unknown as [unknown, Field[]];
        assert.deepEqual(
          got.map((f) => [f.name, f.columnType, f.flags & 0x20]),
          want.map((f) => [f.name, f.columnType, f.flags & 0x20]),
          sql,
        );
        const [, gotPrepared] = (await c.execute(sql)) as unknown as [unknown, Field[]];
        assert.deepEqual(gotPrepared.map((f) => f.name), want.map((f) => f.name), `prepared ${sql}`);
      }
    } finally {
      await direct.end();
      await c.end();
    }
  });
});

describe('KILL of the id CONNECTION_ID() gives', () => {
  test('KILL from another session disconnects it', async () => {
    const victim = await proxy.connect();
    const killer = await proxy.connect();
    try {
      const id = await connectionId(victim);
      assert.equal(id, victim.threadId);
      const closed = new Promise<void>((resolve) => victim.once('error', () => resolve()).once('end', () => resolve()));
      await killer.query(`KILL ${id}`);
      await assert.rejects(victim.query('SELECT 1'));
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
    } finally {
      victim.destroy();
      await killer.end();
    }
  });

  test('KILL QUERY interrupts a running SELECT SLEEP(5)', async () => {
    const victim = await proxy.connect();
    const killer = await proxy.connect();
    try {
      const id = await connectionId(victim);
      const started = Date.now();
      const sleeping = victim.query('SELECT SLEEP(5) AS s').then(
        ([rows]) => ({ value: Number((rows as { s: unknown }[])[0]!.s) }),
        (err: { errno?: number }) => ({ errno: err.errno }),
      );
      await new Promise((r) => setTimeout(r, 300));
      await killer.query(`KILL QUERY ${id}`);
      const outcome = await sleeping;
      assert.ok(Date.now() - started < 4000, 'interrupted well before 5 s');
      // MariaDB: SLEEP returns 1 when interrupted (MySQL: 1317 in some versions).
      assert.ok('value' in outcome ? outcome.value === 1 : outcome.errno === 1317, JSON.stringify(outcome));
      assert.equal(await connectionId(victim), id, 'the connection stays usable');
    } finally {
      await victim.end();
      await killer.end();
    }
  });
});

describe('KILL inside a multi-statement', () => {
  test('`KILL <proxy id>; SELECT …` ends that session and runs the rest, as on a server', async () => {
    const victim = await proxy.connect();
    const killer = await proxy.connect({ multipleStatements: true });
    try {
      const gone = new Promise<string>((resolve) => victim.on('error', (e: { code?: string }) => resolve(e.code ?? 'error')));
      const [results] = await killer.query(`KILL ${victim.threadId}; SELECT SLEEP(0.05) AS s, 7 AS n`);
      const [ok, rows] = results as unknown as [mysql.ResultSetHeader, { s: number; n: number }[]];
      assert.equal(ok.affectedRows, 0);
      assert.deepEqual(rows, [{ s: 0, n: 7 }]);
      await assert.rejects(victim.query('SELECT 1'));
      assert.equal(await Promise.race([gone, new Promise((r) => setTimeout(() => r('no error event'), 2000))]), 'PROTOCOL_CONNECTION_LOST');
      // An unknown id ends the multi-statement with the server's error; nothing after it runs.
      await assert.rejects(killer.query('KILL 999999; SELECT 1'), (e: { errno?: number }) => e.errno === 1094);
      const [[alive]] = (await killer.query('SELECT 2 AS two')) as unknown as [[{ two: number }]];
      assert.equal(alive.two, 2);
    } finally {
      await Promise.all([victim.end().catch(() => undefined), killer.end()]);
    }
  });
});
