import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientTracksGtids, covers, formatPosition, mergePositions, parseGtids, waitSql } from '../../../src/cluster/gtid.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '4e11fa47-71ca-11e1-9e33-c80aa9429562';

test('MariaDB GTID lists: one mark per domain, the highest sequence wins', () => {
  const p = parseGtids('0-1-5,1-2-7, 0-3-4');
  assert.deepEqual([...p.keys()], ['0', '1']);
  assert.equal(p.get('0')!.seq, 5n);
  assert.equal(p.get('0')!.text, '0-1-5');
  assert.equal(formatPosition(p), '0-1-5,1-2-7');
});

test('MySQL GTID sets: the highest interval end per source, over several lines', () => {
  const p = parseGtids(`${U1}:1-5:7-9,\n${U2}:3`);
  assert.equal(p.get(U1)!.seq, 9n);
  assert.equal(p.get(U1)!.text, `${U1}:9`);
  assert.equal(p.get(U2)!.seq, 3n);
});

test('empty and malformed input yields an empty position, never a guess', () => {
  assert.equal(parseGtids('').size, 0);
  assert.equal(parseGtids(null).size, 0);
  assert.equal(parseGtids('garbage,1-2,abc:1').size, 0);
});

test('covers: every stream of the need, at or past its sequence', () => {
  const have = parseGtids('0-1-10,1-1-3');
  assert.ok(covers(have, parseGtids('0-1-10')));
  assert.ok(covers(have, parseGtids('0-2-9,1-1-3')), 'the server id does not order a domain');
  assert.ok(!covers(have, parseGtids('0-1-11')));
  assert.ok(!covers(have, parseGtids('2-1-1')), 'a domain the host never saw');
  assert.ok(!covers(undefined, parseGtids('0-1-1')));
  assert.ok(covers(undefined, parseGtids('')));
});

test('mergePositions keeps the later mark per stream and returns the same object when nothing is new', () => {
  const a = parseGtids('0-1-5');
  assert.equal(mergePositions(a, parseGtids('0-1-4')), a);
  const m = mergePositions(a, parseGtids('0-2-6,1-1-1'));
  assert.equal(formatPosition(m), '0-2-6,1-1-1');
  assert.equal(formatPosition(a), '0-1-5', 'inputs are not changed');
});

test('wait statements per flavor, timeout in seconds', () => {
  assert.equal(waitSql('mariadb', parseGtids('0-1-5,1-2-7'), 1500), "SELECT MASTER_GTID_WAIT('0-1-5,1-2-7', 1.500)");
  assert.equal(waitSql('mysql', parseGtids(`${U1}:9`), 200), `SELECT WAIT_FOR_EXECUTED_GTID_SET('${U1}:9', 0.200)`);
});

test('whether a client asked to see GTIDs in OK packets itself', () => {
  assert.ok(!clientTracksGtids(new Map()));
  assert.ok(!clientTracksGtids(new Map([['session_track_system_variables', "'autocommit,time_zone'"]])));
  assert.ok(clientTracksGtids(new Map([['session_track_system_variables', "'last_gtid'"]])));
  assert.ok(clientTracksGtids(new Map([['session_track_system_variables', "'*'"]])));
  assert.ok(clientTracksGtids(new Map([['session_track_gtids', 'OWN_GTID']])));
  assert.ok(!clientTracksGtids(new Map([['session_track_gtids', 'OFF']])));
});
