/**
 * The admin SQL port through a real mysql2 client, in front of the shared sandbox:
 * writeHosts [primary, replica1] (replica1 is read_only), readHosts [replica2], promote off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { loadConfigFile, serializeConfig } from '../../src/config/index.js';
import { errnoOf, serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { connectAdmin, getSandbox, waitFor } from '../helpers/sandbox.js';

const ADMIN = { host: '127.0.0.1', port: 0, user: 'admin', password: 's3cret' };

let proxy: TestProxy;
let admin: mysql.Connection;
let dir: string;
let configFile: string;

function adminConnect(password = ADMIN.password): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port: proxy.sluice.adminAddress!.port, user: ADMIN.user, password });
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const [r] = await admin.query(sql);
  return r as Record<string, unknown>[];
}

async function adminError(sql: string): Promise<{ errno: number; message: string }> {
  try {
    await admin.query(sql);
  } catch (err) {
    return { errno: (err as { errno: number }).errno, message: (err as Error).message };
  }
  throw new Error(`expected ${sql} to fail`);
}

before(async () => {
  const sb = await getSandbox();
  dir = mkdtempSync(path.join(tmpdir(), 'sluice-admin-'));
  configFile = path.join(dir, 'sluice.yaml');
  proxy = await startProxy({
    admin: ADMIN,
    configPath: configFile,
    dataHost: {
      writeHosts: [{ host: sb.primary.host, port: sb.primary.port }, { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port }],
      readHosts: [{ host: sb.replicas[1]!.host, port: sb.replicas[1]!.port }],
      failover: { enabled: false, promote: false, dnindexFile: path.join(dir, 'dnindex.properties') },
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 1 },
    },
  });
  writeFileSync(configFile, serializeConfig(proxy.sluice.config, configFile));
  admin = await adminConnect();
});

after(async () => {
  await admin?.end().catch(() => undefined);
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('admin port', () => {
  test('help and version', async () => {
    const help = await rows('SELECT * FROM help');
    assert.deepEqual(Object.keys(help[0]!), ['command', 'description']);
    assert.ok(help.some((r) => r.command === 'SELECT * FROM backends'));
    // Which number each command takes is spelled out: backend_ndx for SET/REMOVE, the writeHost
    // index for SWITCH @@DATASOURCE.
    const numbers = String(help.find((r) => r.command === 'backend numbers')?.description);
    assert.match(numbers, /backend_ndx .*SET OFFLINE n, SET ONLINE n and REMOVE BACKEND n/);
    assert.match(numbers, /SWITCH @@DATASOURCE dataHost:i takes the writeHost index i/);
    const desc = (prefix: string): string => String(help.find((r) => String(r.command).startsWith(prefix))?.description);
    assert.match(desc('SET OFFLINE $backend_ndx'), /SELECT \* FROM backends/);
    assert.match(desc('SWITCH @@DATASOURCE'), /not backend_ndx/);
    assert.match(desc('SHOW @@DATASOURCE'), /BACKEND_NDX/);
    const [v] = await rows('select version');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(v!.version, pkg.version);
  });

  test('backends: Atlas columns first, then Sluice columns', async () => {
    const sb = proxy.sandbox;
    const b = await rows('SELECT * FROM backends');
    assert.deepEqual(Object.keys(b[0]!).slice(0, 4), ['backend_ndx', 'address', 'state', 'type']);
    assert.deepEqual(Object.keys(b[0]!).slice(4), ['weight', 'role', 'readable', 'read_only', 'lag', 'connections', 'last_error', 'switch_datasource']);
    assert.deepEqual(
      b.map((r) => [r.backend_ndx, r.address, r.type, r.role, r.switch_datasource]),
      [
        [1, `${sb.primary.host}:${sb.primary.port}`, 'rw', 'writeHost[0]', 'dh1:0'],
        [2, `${sb.replicas[0]!.host}:${sb.replicas[0]!.port}`, 'ro', 'writeHost[1]', 'dh1:1'],
        [3, `${sb.replicas[1]!.host}:${sb.replicas[1]!.port}`, 'ro', 'readHost[0]', null],
      ],
    );
    assert.ok(b.every((r) => r.state === 'up'), JSON.stringify(b));
    assert.equal(b[1]!.read_only, 'yes');
  });

  test('SHOW @@DATASOURCE names the same hosts with the same backend_ndx as SELECT * FROM backends', async () => {
    const backends = await rows('SELECT * FROM backends');
    const ds = await rows('SHOW @@DATASOURCE');
    assert.equal(Object.keys(ds[0]!).at(-1), 'BACKEND_NDX', 'added after the Mycat columns');
    assert.deepEqual(
      ds.map((r) => [r.BACKEND_NDX, `${String(r.HOST)}:${String(r.PORT)}`, r['W/R'], r.INDEX]),
      [
        [1, backends[0]!.address, 'W', 0],
        [2, backends[1]!.address, 'W', 1],
        [3, backends[2]!.address, 'R', 0],
      ],
    );
    // A W row's NAME:INDEX is the switch_datasource of the same backend_ndx.
    for (const r of ds.filter((x) => x['W/R'] === 'W')) {
      const b = backends.find((x) => x.backend_ndx === r.BACKEND_NDX)!;
      assert.equal(b.switch_datasource, `${String(r.NAME)}:${String(r.INDEX)}`);
    }
  });

  test('SET OFFLINE takes a readHost out of reads, SET ONLINE brings it back', async () => {
    const replica2 = proxy.sandbox.replicas[1]!.serverId;
    const app = await proxy.connect();
    try {
      const off = await rows('SET OFFLINE 3');
      assert.deepEqual([off.length, off[0]!.backend_ndx, off[0]!.state], [1, 3, 'offline']);
      for (let i = 0; i < 12; i++) assert.notEqual(await serverId(app), replica2);
      const on = await rows('SET ONLINE 3');
      assert.equal(on[0]!.state !== 'offline', true);
      await waitFor(async () => (await serverId(app)) === replica2, { timeoutMs: 15_000, what: 'reads on replica2 again' });
    } finally {
      await app.end();
    }
  });

  test('SET OFFLINE of the writeHost drains: open transactions finish, new writes get 2003, reads go on', async () => {
    const sb = proxy.sandbox;
    const direct = await connectAdmin(sb.primary);
    const tx = await proxy.connect();
    const other = await proxy.connect();
    try {
      await direct.query('CREATE TABLE IF NOT EXISTS sluice_test.admin_drain (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
      await direct.query('DELETE FROM sluice_test.admin_drain');
      await tx.query('BEGIN');
      await tx.query('INSERT INTO admin_drain (v) VALUES (1)');
      await admin.query('SET OFFLINE 1');
      assert.equal(await errnoOf(() => other.query('INSERT INTO admin_drain (v) VALUES (99)')), 2003);
      assert.equal(await errnoOf(() => other.query('BEGIN')), 2003);
      assert.ok([2, 3].includes(await serverId(other)), 'reads go on');
      // Who still holds the drained writeHost: exactly the session in the transaction.
      const holding = (await rows('SHOW @@CONNECTION')).filter((r) => r.TRANSACTION_ON !== null);
      assert.deepEqual(holding.map((r) => r.TRANSACTION_ON), [`${sb.primary.host}:${sb.primary.port}`]);
      await tx.query('INSERT INTO admin_drain (v) VALUES (2)');
      await tx.query('COMMIT');
      assert.deepEqual((await rows('SHOW @@CONNECTION')).filter((r) => r.TRANSACTION_ON !== null), [], 'drained');
      const [committed] = await direct.query('SELECT v FROM sluice_test.admin_drain ORDER BY v');
      assert.deepEqual((committed as { v: number }[]).map((r) => r.v), [1, 2]);
      assert.equal(await errnoOf(() => tx.query('INSERT INTO admin_drain (v) VALUES (3)')), 2003, 'no new work after the transaction');
      await admin.query('SET ONLINE 1');
      await waitFor(async () => other.query('INSERT INTO admin_drain (v) VALUES (4)').then(() => true, () => false), {
        timeoutMs: 10_000,
        what: 'writes accepted again',
      });
    } finally {
      await tx.end();
      await other.end();
      await direct.end();
    }
  });

  test('SWITCH @@DATASOURCE to a read-only writeHost is refused (promote off)', async () => {
    const e = await adminError('SWITCH @@DATASOURCE dh1:1');
    assert.equal(e.errno, 1105);
    assert.match(e.message, /read-only.*promote is off/);
    assert.equal(proxy.sluice.cluster.view.writerIndex, 0);
    assert.match((await adminError('SWITCH @@DATASOURCE dh1:7')).message, /no writeHost 7 .*not backend_ndx/);
    assert.match((await adminError('SWITCH @@DATASOURCE other:1')).message, /unknown dataHost/);
  });

  test('refused changes answer with an ERR saying why', async () => {
    const sb = proxy.sandbox;
    assert.match((await adminError(`ADD SLAVE ${sb.replicas[1]!.host}:${sb.replicas[1]!.port}`)).message, /already known/);
    assert.match((await adminError(`ADD SLAVE localhost:${sb.replicas[1]!.port}`)).message, /already known/, 'another spelling of the same server');
    assert.match((await adminError('SET OFFLINE 9')).message, /does not exist/);
    assert.match((await adminError('REMOVE BACKEND 9')).message, /invalid backend_id 9/);
    assert.match((await adminError('REMOVE BACKEND 1')).message, /active writeHost/);
    assert.match((await adminError('REMOVE PWD nobody')).message, /does not exist/);
    assert.match((await adminError('ADD CLIENT not-an-ip')).message, /IP address or CIDR/);
    const unknown = await adminError('SELECT 1');
    assert.equal(unknown.errno, 1047);
    assert.match(unknown.message, /SELECT \* FROM help/);
  });

  test('REMOVE BACKEND and ADD SLAVE act on the running proxy; the added host serves reads once seen replicating', async () => {
    const replica2 = proxy.sandbox.replicas[1]!;
    const app = await proxy.connect();
    try {
      await waitFor(async () => (await serverId(app)) === replica2.serverId, { timeoutMs: 10_000, what: 'reads on replica2' });
      const [removed] = await admin.query('REMOVE BACKEND 3');
      assert.match((removed as { info: string }).info, /backend 3 \(127\.0\.0\.1:\d+\) removed: no new statements go there/);
      assert.equal((await rows('SELECT * FROM backends')).length, 2);
      for (let i = 0; i < 12; i++) assert.notEqual(await serverId(app), replica2.serverId, 'no reads on a removed backend');
      // What seed 003's cron script does once the replica has caught up.
      const [added] = await admin.query(`ADD SLAVE ${replica2.host}:${replica2.port}@2`);
      assert.match((added as { info: string }).info, /readHost 127\.0\.0\.1:\d+ \(weight 2\) added as backend_ndx 3: heartbeats start now/);
      const b = await rows('SELECT * FROM backends');
      assert.deepEqual([b.length, b[2]!.address, b[2]!.weight, b[2]!.role], [3, `${replica2.host}:${replica2.port}`, 2, 'readHost[0]']);
      await waitFor(async () => (await serverId(app)) === replica2.serverId, { timeoutMs: 10_000, what: 'reads on the added replica2' });
      // Its first heartbeat may still be on its way (a healthy replication probe came first).
      await waitFor(async () => (await rows('SELECT * FROM backends'))[2]!.state === 'up', { timeoutMs: 5_000, what: 'replica2 up' });
    } finally {
      await app.end();
    }
  });

  test('REMOVE BACKEND / ADD SLAVE under a read and write load: no client sees an error', async () => {
    const replica2 = proxy.sandbox.replicas[1]!;
    const clients = await Promise.all(Array.from({ length: 8 }, () => proxy.connect()));
    const errors: string[] = [];
    const seen = new Map<number, number>();
    let stop = false;
    const load = clients.map(async (c, i) => {
      while (!stop) {
        try {
          const [r] = await c.query('SELECT @@server_id AS id, SLEEP(0.002) AS s');
          const id = Number((r as { id: number }[])[0]!.id);
          seen.set(id, (seen.get(id) ?? 0) + 1);
          if (i % 4 === 0) {
            await c.query('BEGIN');
            await c.query('SELECT 1');
            await c.query('COMMIT');
          }
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    });
    try {
      for (let round = 0; round < 5; round++) {
        await new Promise((r) => setTimeout(r, 150));
        const ndx = (await rows('SELECT * FROM backends')).find((r) => r.address === `${replica2.host}:${replica2.port}`)!.backend_ndx as number;
        await admin.query(`REMOVE BACKEND ${ndx}`);
        await new Promise((r) => setTimeout(r, 150));
        await admin.query(`ADD SLAVE ${replica2.host}:${replica2.port}`);
      }
      // Back in rotation at the end (readmitAfter 1, checks every 300 ms).
      seen.delete(replica2.serverId);
      await waitFor(async () => (seen.get(replica2.serverId) ?? 0) > 0, { timeoutMs: 10_000, what: 'reads on replica2 after the last ADD SLAVE' });
    } finally {
      stop = true;
      await Promise.all(load);
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.deepEqual(errors, []);
    const b = await rows('SELECT * FROM backends');
    assert.equal(b.length, 3);
    assert.equal(b.filter((r) => r.address === `${replica2.host}:${replica2.port}`).length, 1);
  });

  test('an added backend that never answers goes down and takes no reads; reads never fail meanwhile', async () => {
    const app = await proxy.connect();
    try {
      await admin.query('ADD SLAVE 127.0.0.1:1');
      for (let i = 0; i < 20; i++) assert.ok(await serverId(app) > 0);
      await waitFor(async () => (await rows('SELECT * FROM backends'))[3]?.state === 'down', { timeoutMs: 10_000, what: '127.0.0.1:1 down' });
      await admin.query('REMOVE BACKEND 4');
      assert.equal((await rows('SELECT * FROM backends')).length, 3);
    } finally {
      await app.end();
    }
  });

  test('ADD PWD / REMOVE PWD: logins change at once, open sessions stay', async () => {
    const bobLogin = () => mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: 'bob', password: 'bobpass', database: 'sluice_test' });
    assert.equal(await errnoOf(bobLogin), 1045);
    const [res] = await admin.query('ADD PWD bob:bobpass');
    assert.match((res as { info: string }).info, /user bob added .*may log in now/);
    const bob = await bobLogin();
    try {
      assert.ok((await serverId(bob)) > 0);
      const pwds = await rows('SELECT * FROM pwds');
      assert.match(String(pwds.find((r) => r.username === 'bob')!.password), /^\*[0-9A-F]{40}$/);
      for (const r of pwds) assert.match(String(r.password), /^(\*[0-9A-F]{40}|sha2:)/, 'never plain text');
      await admin.query('REMOVE PWD bob');
      assert.equal(await errnoOf(bobLogin), 1045);
      assert.ok((await serverId(bob)) > 0, 'the open session goes on');
    } finally {
      await bob.end();
    }
  });

  test('ADD CLIENT / REMOVE CLIENT: the whitelist applies from the next connection', async () => {
    const open = await proxy.connect();
    try {
      await admin.query('ADD CLIENT 10.9.9.0/24');
      assert.deepEqual(await rows('SELECT * FROM clients'), [{ client: '10.9.9.0/24' }]);
      assert.equal(await errnoOf(() => proxy.connect()), 1130);
      assert.ok((await serverId(open)) > 0, 'open connections stay');
      await admin.query('REMOVE CLIENT 10.9.9.0/24');
      const again = await proxy.connect();
      await again.end();
    } finally {
      await open.end();
    }
  });

  test('SAVE CONFIG writes the live configuration; RELOAD @@CONFIG applies backends live and lists what waits for a restart', async () => {
    await admin.query('ADD SLAVE 127.0.0.1:3999@2');
    await admin.query('SAVE CONFIG');
    const saved = loadConfigFile(configFile);
    assert.deepEqual(saved.dataHost.readHosts.at(-1), { host: '127.0.0.1', port: 3999, weight: 2 });
    assert.equal(saved.dataHost.readHosts.length, 2);
    // Edit the file as an operator would: drop 3999 again, change a pool size.
    const edited = { ...saved, dataHost: { ...saved.dataHost, readHosts: saved.dataHost.readHosts.slice(0, 1), pool: { ...saved.dataHost.pool, max: saved.dataHost.pool.max + 1 } } };
    writeFileSync(configFile, serializeConfig(edited, configFile));
    const [res] = await admin.query('RELOAD @@CONFIG');
    const info = (res as { info: string }).info;
    assert.match(info, /applied now: dataHost\.readHosts/);
    assert.match(info, /waiting for a restart \(running values kept\): dataHost\.pool/);
    assert.deepEqual((await rows('SELECT * FROM backends')).map((r) => r.backend_ndx), [1, 2, 3]);
    assert.equal(proxy.sluice.config.dataHost.pool.max, saved.dataHost.pool.max, 'pool size kept until a restart');
    writeFileSync(configFile, serializeConfig(proxy.sluice.config, configFile));
  });

  test('SET OFFLINE n FORCE cuts the transaction held on that host (2013); other sessions go on', async () => {
    const replica2 = proxy.sandbox.replicas[1]!;
    const inTx = await proxy.connect();
    const other = await proxy.connect();
    try {
      // A read-only transaction runs on a readHost; start them until one lands on replica2.
      await waitFor(
        async () => {
          await inTx.query('START TRANSACTION READ ONLY');
          if ((await serverId(inTx)) === replica2.serverId) return true;
          await inTx.query('COMMIT');
          return false;
        },
        { timeoutMs: 10_000, what: 'a read-only transaction on replica2' },
      );
      const ndx = (await rows('SELECT * FROM backends')).find((r) => r.address === `${replica2.host}:${replica2.port}`)!.backend_ndx;
      await admin.query(`SET OFFLINE ${ndx as number} FORCE`);
      assert.equal(await errnoOf(() => inTx.query('SELECT 1')), 2013);
      for (let i = 0; i < 6; i++) assert.notEqual(await serverId(other), replica2.serverId);
      assert.ok((await serverId(inTx)) > 0, 'the cut session starts over');
      await admin.query(`SET ONLINE ${ndx as number}`);
    } finally {
      await inTx.end();
      await other.end();
    }
  });

  test('RELOAD @@CONFIG with a broken file: ERR listing the problems, running config kept', async () => {
    const good = readFileSync(configFile, 'utf8');
    writeFileSync(configFile, 'listen: { host: 127.0.0.1, port: abc }\nbogusKey: 1\n');
    const e = await adminError('RELOAD @@CONFIG');
    assert.equal(e.errno, 1105);
    assert.match(e.message, /running configuration is kept/);
    assert.match(e.message, /listen\.port/);
    assert.match(e.message, /bogusKey/);
    assert.equal((await rows('SELECT * FROM backends')).length, 3);
    writeFileSync(configFile, good);
    const [res] = await admin.query('RELOAD @@CONFIG');
    assert.match((res as { info: string }).info, /reloaded/);
  });

  test('SHOW @@CONNECTION / KILL @@CONNECTION / SHOW @@HEARTBEAT / SHOW @@BACKEND / stats', async () => {
    const app = await proxy.connect();
    try {
      await app.query('SELECT 1');
      const conns = await rows('SHOW @@CONNECTION');
      const mine = conns.find((r) => r.USER === proxy.sandbox.user);
      assert.ok(mine, JSON.stringify(conns));
      assert.equal(mine!.SCHEMA, 'sluice_test');
      assert.equal((await rows('SHOW @@HEARTBEAT')).length, 3);
      assert.equal((await rows('SHOW @@DATASOURCE')).length, 3);
      // The backend's own thread id (CONNECTION_ID() is the proxy's id).
      const [seen] = await app.query('SELECT @@pseudo_thread_id AS id, @@port AS port');
      const { id, port } = (seen as { id: number; port: number }[])[0]!;
      const sockets = await rows('SHOW @@BACKEND');
      assert.deepEqual(Object.keys(sockets[0]!), ['ID', 'MYSQLID', 'HOST', 'ROLE', 'LOCAL_PORT', 'STATE', 'SCHEMA', 'COLLATION', 'TLS', 'NEEDS_RESET', 'AGE_S', 'IDLE_S']);
      const socket = sockets.find((r) => r.MYSQLID === Number(id) && String(r.HOST).endsWith(`:${port}`));
      assert.ok(socket, `the app's backend connection is listed: ${JSON.stringify(sockets)}`);
      assert.ok(['idle', 'held'].includes(String(socket!.STATE)));
      assert.equal(socket!.SCHEMA, 'sluice_test');
      await rows('SELECT * FROM stats');
      await admin.query(`KILL @@CONNECTION ${mine!.ID as number}`);
      await assert.rejects(app.query('SELECT 1'));
      assert.match((await adminError('KILL @@CONNECTION 999999')).message, /unknown connection id/);
    } finally {
      app.destroy();
    }
  });

  test('wrong admin password: 1045', async () => {
    assert.equal(await errnoOf(() => adminConnect('wrong')), 1045);
  });
});
