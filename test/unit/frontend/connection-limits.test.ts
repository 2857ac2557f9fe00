/** ConnectionCounts: maxConnections, per-user limits, and a dead worker's counts taken back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionCounts } from '../../../src/frontend/connection-limits.js';

test('open refuses at max; login refuses over the user limit; close gives both back', () => {
  const c = new ConnectionCounts();
  assert.equal(c.open(2), true);
  assert.equal(c.open(2), true);
  assert.equal(c.open(2), false);
  assert.equal(c.open(0), true, '0 = no limit');
  assert.equal(c.login('app', 1), true);
  assert.equal(c.login('app', 1), false);
  assert.equal(c.login('other', 0), true);
  c.close('app');
  assert.equal(c.login('app', 1), true, 'the place is free again');
  assert.equal(c.connections, 2);
});

test('subtract takes back what a dead worker counted', () => {
  const group = new ConnectionCounts();
  const dead = new ConnectionCounts();
  for (const c of [group, dead]) {
    c.open(0);
    c.login('app', 0);
  }
  group.open(0);
  group.login('app', 0);
  group.subtract(dead);
  assert.equal(group.connections, 1);
  assert.equal(group.login('app', 2), true);
  assert.equal(group.login('app', 2), false, 'one app session left plus this one');
});
