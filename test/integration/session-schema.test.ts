/**
 * The login's / COM_INIT_DB's database is checked on the writeHost (the authority): a database the
 * replicas do not have (replication filters, not replicated yet) is still accepted, one that
 * exists nowhere is refused with 1049. And the proxy's own checks never move the read selector.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { encodeInitDb, encodeQuery } from '../../src/protocol/commands.js';
import { decodeTextRow } from '../../src/protocol/responses.js';
import { errnoOf, serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient, errnoOfPacket } from '../helpers/raw-client.js';
import { adminQuery, connectAdmin, getSandbox, type SandboxInfo } from '../helpers/sandbox.js';

const PRIMARY_ONLY = 'sluice_primary_only';

let sb: SandboxInfo;
let proxy: TestProxy;

before(async () => {
  sb = await getSandbox();
  // Unlogged, so the replicas never get it (like replicate-ignore-db).
  const admin = await connectAdmin(sb.primary);
  await admin.query('SET sql_log_bin = 0');
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${PRIMARY_ONLY}`);
  await admin.end();
  for (const r of sb.replicas) {
    assert.equal((await adminQuery(r, `SHOW DATABASES LIKE '${PRIMARY_ONLY}'`)).length, 0);
  }
  proxy = await startProxy();
});

after(async () => {
  await proxy?.close();
  const admin = await connectAdmin(sb.primary);
  await admin.query('SET sql_log_bin = 0');
  await admin.query(`DROP DATABASE IF EXISTS ${PRIMARY_ONLY}`);
  await admin.end();
});

function firstValue(packets: Buffer[]): string | null {
  const columns = packets[0]![0]!;
  const v = decodeTextRow(packets[1 + columns + 1]!, columns)[0];
  return v === null || v === undefined ? null : v.toString();
}

describe('schema checks', () => {
  test('a login naming a database only the writeHost has works', async () => {
    const c = await proxy.connect({ database: PRIMARY_ONLY });
    try {
      const [rows] = await c.query('/*master*/ SELECT DATABASE() AS db');
      assert.equal((rows as { db: string }[])[0]!.db, PRIMARY_ONLY);
    } finally {
      await c.end();
    }
  });

  test('COM_INIT_DB to a database only the writeHost has works; one that exists nowhere → 1049', async () => {
    const c = await RawClient.connect(proxy.port, sb.user, sb.password, 'sluice_test');
    try {
      const [ok] = await c.command(encodeInitDb(PRIMARY_ONLY));
      assert.equal(ok![0], 0x00, `COM_INIT_DB refused: ${ok!.subarray(9).toString()}`);
      assert.equal(firstValue(await c.command(encodeQuery('/*master*/ SELECT DATABASE()'))), PRIMARY_ONLY);
      const [bad] = await c.command(encodeInitDb('sluice_no_such_db'));
      assert.equal(errnoOfPacket(bad), 1049);
    } finally {
      c.close();
    }
  });

  test('USE of a database only the writeHost has works', async () => {
    const c = await proxy.connect();
    try {
      await c.query(`USE ${PRIMARY_ONLY}`);
      const [rows] = await c.query('/*master*/ SELECT DATABASE() AS db');
      assert.equal((rows as { db: string }[])[0]!.db, PRIMARY_ONLY);
    } finally {
      await c.end();
    }
  });

  test('a login naming a database that exists nowhere → 1049', async () => {
    assert.equal(await errnoOf(() => proxy.connect({ database: 'sluice_no_such_db' })), 1049);
  });

  test('inside a transaction the check runs on the session’s connection', async () => {
    const c = await RawClient.connect(proxy.port, sb.user, sb.password, 'sluice_test');
    try {
      await c.command(encodeQuery('BEGIN'));
      const before = firstValue(await c.command(encodeQuery('SELECT @@pseudo_thread_id')));
      const [ok] = await c.command(encodeInitDb(PRIMARY_ONLY));
      assert.equal(ok![0], 0x00);
      assert.equal(firstValue(await c.command(encodeQuery('SELECT @@pseudo_thread_id'))), before);
      assert.equal(firstValue(await c.command(encodeQuery('SELECT @@in_transaction'))), '1');
      await c.command(encodeQuery('COMMIT'));
    } finally {
      c.close();
    }
  });
});

test('with the writeHost offline a readHost checks the login’s database', async () => {
  const p = await startProxy({ admin: { host: '127.0.0.1', port: 0, user: 'admin', password: 's3cret' } });
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: p.sluice.adminAddress!.port, user: 'admin', password: 's3cret' });
  try {
    await admin.query('SET OFFLINE 1');
    const c = await p.connect({ database: 'sluice_test' });
    assert.ok([2, 3].includes(await serverId(c)));
    await c.end();
    // The replicas are all that can answer now, and they do not have it.
    assert.equal(await errnoOf(() => p.connect({ database: PRIMARY_ONLY })), 1049);
  } finally {
    await admin.end();
    await p.close();
  }
});

describe('the proxy’s own checks do not move the read selector', () => {
  async function shortConnections(database: string | undefined, dataHost: Record<string, unknown> = {}, n = 12): Promise<Record<number, number>> {
    const p = await startProxy({ dataHost });
    const counts: Record<number, number> = {};
    try {
      for (let i = 0; i < n; i++) {
        const c = await p.connect({ database });
        const id = await serverId(c);
        counts[id] = (counts[id] ?? 0) + 1;
        await c.end();
      }
    } finally {
      await p.close();
    }
    return counts;
  }

  test('12 connect–query–disconnect clients with a database spread 6/6 over the replicas', async () => {
    assert.deepEqual(await shortConnections('sluice_test'), { 2: 6, 3: 6 });
  });

  test('the same without a database', async () => {
    assert.deepEqual(await shortConnections(undefined), { 2: 6, 3: 6 });
  });

  for (const database of ['sluice_test', undefined]) {
    const what = database ? 'with a database' : 'without one';
    test(`least-conn: short connections ${what} alternate over the replicas (ties go round-robin)`, async () => {
      assert.deepEqual(await shortConnections(database, { loadBalance: 'least-conn' }), { 2: 6, 3: 6 });
    });

    test(`weights 3:1: short connections ${what} follow them`, async () => {
      const sb = await getSandbox();
      const readHosts = [
        { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port, weight: 3 },
        { host: sb.replicas[1]!.host, port: sb.replicas[1]!.port, weight: 1 },
      ];
      assert.deepEqual(await shortConnections(database, { readHosts }, 16), { 2: 12, 3: 4 });
    });
  }
});
