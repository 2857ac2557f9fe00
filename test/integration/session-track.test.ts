/**
 * CLIENT_SESSION_TRACK through the proxy: a client that negotiated it sees the session-state
 * changes its statements cause, as from the server, but not the GTIDs the proxy tracks for its
 * own use; a client that did not gets plain OK packets (info as text).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { connectApp, getSandbox } from '../helpers/sandbox.js';
import { RawClient } from '../helpers/raw-client.js';
import { encodeQuery } from '../../src/protocol/commands.js';
import { decodeOk } from '../../src/protocol/responses.js';
import { Capability, ServerStatus } from '../../src/protocol/constants.js';

type Header = mysql.ResultSetHeader & { stateChanges?: { systemVariables: Record<string, string>; schema?: string } | null };

let proxy: TestProxy;
before(async () => {
  proxy = await startProxy();
  const c = await proxy.connect();
  await c.query('CREATE TABLE IF NOT EXISTS track_t (id INT PRIMARY KEY, v INT)');
  await c.query('REPLACE INTO track_t VALUES (1, 0)');
  await c.end();
});
after(async () => {
  await proxy?.close();
});

test('mysql2 sees SET NAMES and USE in the OK’s state changes, as direct; never the proxy’s last_gtid', async () => {
  const sb = await getSandbox();
  const direct = await connectApp(sb.primary);
  const c = await proxy.connect();
  try {
    for (const conn of [direct, c]) {
      const [names] = (await conn.query('SET NAMES koi8r')) as unknown as [Header];
      assert.equal(names.stateChanges?.systemVariables['character_set_client'], 'koi8r');
      await conn.query('SET NAMES utf8mb4');
    }
    const [use] = (await c.query('USE sluice_test')) as unknown as [Header];
    assert.equal(use.stateChanges?.schema, 'sluice_test');
    const [write] = (await c.query('UPDATE track_t SET v = v + 1 WHERE id = 1')) as unknown as [Header];
    assert.equal(write.affectedRows, 1);
    assert.ok(!write.stateChanges || !('last_gtid' in write.stateChanges.systemVariables), 'no last_gtid shown');
    // …while the proxy read it: the session knows the GTID its reads must see.
    const mine = [...proxy.sluice.frontend.allSessions()].find((s) => s.id === c.threadId);
    assert.match(mine?.lastGtid ?? '', /^\d+-\d+-\d+$/);
  } finally {
    await Promise.all([direct.end(), c.end()]);
  }
});

test('a client without CLIENT_SESSION_TRACK gets the plain OK: info as text, no state flag', async () => {
  const raw = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password, proxy.sandbox.database);
  try {
    assert.equal(raw.capabilities & Capability.SESSION_TRACK, 0);
    const [ok] = await raw.command(encodeQuery('UPDATE track_t SET v = v + 1 WHERE id = 1'));
    const packet = decodeOk(ok!, raw.capabilities);
    assert.equal(packet.info, 'Rows matched: 1  Changed: 1  Warnings: 0');
    assert.equal(packet.statusFlags & ServerStatus.SESSION_STATE_CHANGED, 0);
    const [names] = await raw.command(encodeQuery('SET NAMES latin1'));
    assert.equal(decodeOk(names!, raw.capabilities).info, '');
  } finally {
    raw.socket.destroy();
  }
});
