import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seeTrackedOk } from '../../../src/protocol/tracked-ok.js';
import { Capability, ServerStatus, SessionTrack } from '../../../src/protocol/constants.js';
import { decodeOk, decodeSessionState, encodeOk } from '../../../src/protocol/responses.js';
import { PacketWriter } from '../../../src/protocol/writer.js';

const TRACK = Capability.PROTOCOL_41 | Capability.SESSION_TRACK;
const PLAIN = Capability.PROTOCOL_41;

function variable(name: string, value: string): Buffer {
  const data = new PacketWriter().lenencString(name).lenencString(value).toBuffer();
  return new PacketWriter().u8(SessionTrack.SYSTEM_VARIABLES).lenencBuffer(data).toBuffer();
}
function schema(name: string): Buffer {
  const data = new PacketWriter().lenencString(name).toBuffer();
  return new PacketWriter().u8(SessionTrack.SCHEMA).lenencBuffer(data).toBuffer();
}
function mysqlGtids(set: string): Buffer {
  const data = new PacketWriter().u8(0).lenencString(set).toBuffer();
  return new PacketWriter().u8(SessionTrack.GTIDS).lenencBuffer(data).toBuffer();
}
/** An OK as a tracking backend connection sends it. */
function backendOk(info: string, ...entries: Buffer[]): Buffer {
  const state = entries.length > 0 ? Buffer.concat(entries) : undefined;
  return encodeOk({ affectedRows: 1, lastInsertId: 7, statusFlags: ServerStatus.AUTOCOMMIT, warnings: 2, info, ...(state ? { sessionState: state } : {}) }, TRACK);
}

test('an OK with neither info nor state passes untouched and reports no GTID', () => {
  const ok = encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, TRACK);
  assert.deepEqual(seeTrackedOk(ok, false, false), { replacement: undefined, gtid: undefined });
  assert.deepEqual(seeTrackedOk(ok, true, false), { replacement: undefined, gtid: undefined });
});

test('the commit GTID is read from last_gtid (MariaDB) and the GTIDS entry (MySQL)', () => {
  assert.equal(seeTrackedOk(backendOk('', variable('last_gtid', '0-1-42')), true, true).gtid, '0-1-42');
  assert.equal(seeTrackedOk(backendOk('', mysqlGtids('uuid:5')), true, true).gtid, 'uuid:5');
});

test('a client without CLIENT_SESSION_TRACK gets the plain layout: info as text, no state, flag cleared', () => {
  const ok = backendOk('Rows matched: 1  Changed: 1  Warnings: 0', variable('last_gtid', '0-1-42'), schema('db2'));
  const seen = seeTrackedOk(ok, false, false);
  assert.equal(seen.gtid, '0-1-42');
  const plain = decodeOk(seen.replacement!, PLAIN);
  assert.equal(plain.info, 'Rows matched: 1  Changed: 1  Warnings: 0');
  assert.equal(plain.statusFlags, ServerStatus.AUTOCOMMIT);
  assert.equal(plain.affectedRows, 1);
  assert.equal(plain.lastInsertId, 7);
  assert.equal(plain.warnings, 2);
  assert.deepEqual(seen.replacement, encodeOk({ affectedRows: 1, lastInsertId: 7, statusFlags: ServerStatus.AUTOCOMMIT, warnings: 2, info: 'Rows matched: 1  Changed: 1  Warnings: 0' }, PLAIN));
});

test('a tracking client keeps its own state changes and loses only the proxy’s GTID entry', () => {
  const ok = backendOk('', variable('autocommit', 'OFF'), variable('last_gtid', '0-1-42'), schema('db2'));
  const seen = seeTrackedOk(ok, true, false);
  const decoded = decodeOk(seen.replacement!, TRACK);
  assert.ok(decoded.statusFlags & ServerStatus.SESSION_STATE_CHANGED);
  assert.deepEqual(decodeSessionState(decoded.sessionState!), [
    { type: 'system-variable', name: 'autocommit', value: 'OFF' },
    { type: 'schema', schema: 'db2' },
  ]);
});

test('a tracking client whose only change was the GTID gets an OK without state', () => {
  const seen = seeTrackedOk(backendOk('', variable('last_gtid', '0-1-42')), true, false);
  assert.deepEqual(seen.replacement, encodeOk({ affectedRows: 1, lastInsertId: 7, statusFlags: ServerStatus.AUTOCOMMIT, warnings: 2 }, TRACK));
  const withInfo = seeTrackedOk(backendOk('Records: 2', variable('last_gtid', '0-1-43')), true, false);
  const d = decodeOk(withInfo.replacement!, TRACK);
  assert.equal(d.info, 'Records: 2');
  assert.equal(d.sessionState, undefined);
  assert.equal(d.statusFlags & ServerStatus.SESSION_STATE_CHANGED, 0);
});

test('a client that asked for GTIDs sees the packet as the server sent it', () => {
  const ok = backendOk('', variable('last_gtid', '0-1-42'));
  assert.deepEqual(seeTrackedOk(ok, true, true), { replacement: undefined, gtid: '0-1-42' });
});

test('one system-variables entry holding several variables is split around last_gtid', () => {
  const data = new PacketWriter().lenencString('time_zone').lenencString('+01:00').lenencString('last_gtid').lenencString('0-1-9').toBuffer();
  const entry = new PacketWriter().u8(SessionTrack.SYSTEM_VARIABLES).lenencBuffer(data).toBuffer();
  const seen = seeTrackedOk(backendOk('', entry), true, false);
  assert.equal(seen.gtid, '0-1-9');
  assert.deepEqual(decodeSessionState(decodeOk(seen.replacement!, TRACK).sessionState!), [{ type: 'system-variable', name: 'time_zone', value: '+01:00' }]);
});

test('the 0xfe result-set terminator (DEPRECATE_EOF) keeps its header', () => {
  const ok = encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT, sessionState: variable('last_gtid', '0-1-1') }, TRACK, 0xfe);
  const seen = seeTrackedOk(ok, false, false);
  assert.equal(seen.replacement![0], 0xfe);
});

test('truncated or foreign layouts pass unchanged instead of throwing', () => {
  const ok = backendOk('', variable('last_gtid', '0-1-42'));
  for (let len = 1; len < ok.length; len++) {
    const seen = seeTrackedOk(ok.subarray(0, len), false, false);
    assert.ok(seen.replacement === undefined || seen.replacement.length > 0);
  }
});
