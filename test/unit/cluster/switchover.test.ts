/**
 * Planned switchover without I/O: which standby may take over (switchoverProblem), and the
 * reducer's pause of new writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { threeHostConfig } from '../../helpers/cluster-config.js';
import { initialState, reduce, toView } from '../../../src/cluster/reduce.js';
import type { ClusterEvent, ClusterState } from '../../../src/cluster/state.js';
import { switchoverProblem } from '../../../src/cluster/switchover.js';

const dh = threeHostConfig({ enabled: true, promote: true }).dataHost;

function run(events: ClusterEvent[], state: ClusterState = initialState(dh)): ClusterState {
  for (const e of events) state = reduce(state, e).state;
  return state;
}
const ok = (hostId: string, readOnly: boolean): ClusterEvent => ({ type: 'probe-ok', hostId, readOnly });
const replica = (hostId: string, source: string, io: 'yes' | 'no' = 'yes'): ClusterEvent => ({
  type: 'replication',
  hostId,
  isReplica: true,
  ioRunning: io === 'yes',
  ioState: io,
  sqlRunning: true,
  lagSeconds: 0,
  sourceHost: source,
  sourcePort: 3306,
});
const healthy = (): ClusterState =>
  run([ok('db1:3306', false), ok('db2:3306', true), ok('db3:3306', true), replica('db2:3306', 'db1'), replica('db3:3306', 'db1'), { type: 'replication', hostId: 'db1:3306', isReplica: false, ioRunning: false, sqlRunning: false, lagSeconds: null }]);

test('switchoverProblem: a standby replicating from the living writer may take over; everything else says why', () => {
  const view = toView(healthy());
  const w = (i: number) => view.hosts.find((h) => h.role === 'write' && h.index === i);
  assert.equal(switchoverProblem(view, w(1), true), undefined);
  assert.match(switchoverProblem(view, w(1), false)!, /needs failover.promote/);
  assert.match(switchoverProblem(view, w(0), true)!, /already the active writeHost/);
  assert.match(switchoverProblem(view, undefined, true)!, /no such writeHost/);
  const elsewhere = toView(run([replica('db2:3306', 'db3')], healthy()));
  assert.match(switchoverProblem(elsewhere, elsewhere.hosts[1], true)!, /does not replicate from the active writeHost/);
  const stopped = toView(run([replica('db2:3306', 'db1', 'no')], healthy()));
  assert.match(switchoverProblem(stopped, stopped.hosts[1], true)!, /does not replicate right now/);
  const writerDown = toView(run([1, 2, 3].map(() => ({ type: 'probe-failed', hostId: 'db1:3306', error: 'x' }) as ClusterEvent), healthy()));
  assert.match(switchoverProblem(writerDown, writerDown.hosts[1], true)!, /active writeHost db1:3306 is down|already the active/);
});

test('pause-writes / resume-writes: one new view each, none for a repeat', () => {
  const s = healthy();
  const paused = reduce(s, { type: 'pause-writes', reason: 'switchover from a to b' }).state;
  assert.equal(toView(paused).writesPaused, 'switchover from a to b');
  assert.equal(paused.version, s.version + 1);
  assert.equal(reduce(paused, { type: 'pause-writes', reason: 'switchover from a to b' }).state, paused);
  const resumed = reduce(paused, { type: 'resume-writes' }).state;
  assert.equal(toView(resumed).writesPaused, undefined);
});
