/**
 * Cooperation between instances (cluster.cooperation: backend-locks), without I/O: what a round
 * of lock answers means (judgeLocks), and how the reducer acts on it — the leader decides, the
 * others follow what it publishes, an instance without a majority refuses writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, ConfigError } from '../../../src/config/index.js';
import { threeHostConfig } from '../../helpers/cluster-config.js';
import { judgeLocks, majorityNeeded, type LockObservation } from '../../../src/cluster/cooperation-rules.js';
import { initialState, reduce, toView } from '../../../src/cluster/reduce.js';
import type { ClusterEvent, ClusterState, CooperationFacts, Transition } from '../../../src/cluster/state.js';
import { lockName } from '../../../src/cluster/cooperation.js';
import { route } from '../../../src/routing/router.js';
import { classify } from '../../../src/routing/classify.js';
import type { SessionRouteState } from '../../../src/routing/types.js';

const W0 = 'db1:3306';
const W1 = 'db2:3306';
const R0 = 'db3:3306';

/** One server's answer: `self` = this instance's connection id there, holders by connection id. */
function seen(hostId: string, self: number, lead: number | null, writers: Record<string, number | null> = {}): LockObservation {
  return { hostId, answer: { self, leadHolder: lead, writerHolders: new Map([[W0, null], [W1, null], ...Object.entries(writers)]) } };
}
const gone = (hostId: string): LockObservation => ({ hostId, answer: undefined });

test('majority: of all servers by default, of those that answer with running', () => {
  assert.equal(majorityNeeded('all', 3, 1), 2);
  assert.equal(majorityNeeded('all', 4, 4), 3);
  assert.equal(majorityNeeded('all', 5, 2), 3);
  assert.equal(majorityNeeded('running', 3, 1), 1);
  assert.equal(majorityNeeded('running', 5, 2), 2);
  assert.equal(majorityNeeded('running', 3, 0), 1);
});

test('judgeLocks: the lead lock on a majority of all servers leads, even with one server down', () => {
  const f = judgeLocks([seen(W0, 7, 7), seen(W1, 9, 9), gone(R0)], 'all', 'a');
  assert.deepEqual([f.leading, f.seesMajority, f.held, f.unreachable, f.needed], [true, true, [W0, W1], [R0], 2]);
  assert.equal(f.leader, 'this instance (a)');
});

test('judgeLocks: holding one of three does not lead; the other holder is named; reaching two of three is a majority to write', () => {
  const f = judgeLocks([seen(W0, 7, 7), seen(W1, 9, 40), gone(R0)], 'all', 'a');
  assert.equal(f.leading, false);
  assert.equal(f.seesMajority, true);
  assert.match(f.leader!, /another instance \(lock connection 40 on db2:3306\)/);
  // Per server: held here, held by the other instance there, not answered on the third.
  assert.deepEqual([f.held, f.heldElsewhere, f.unreachable], [[W0], [W1], [R0]]);
});

test('judgeLocks: reaching one server of three is no majority under all, but is under running (the documented risk)', () => {
  const all = judgeLocks([gone(W0), seen(W1, 9, 9), gone(R0)], 'all', 'a');
  assert.deepEqual([all.leading, all.seesMajority], [false, false]);
  const running = judgeLocks([gone(W0), seen(W1, 9, 9), gone(R0)], 'running', 'a');
  assert.deepEqual([running.leading, running.seesMajority], [true, true]);
});

test('judgeLocks: the publication counts only where the lead holder holds the writer lock too', () => {
  const f = judgeLocks(
    [seen(W0, 1, 50, { [W1]: 50 }), seen(W1, 2, 60, { [W1]: 60 }), seen(R0, 3, 70, { [W0]: 99 })],
    'all',
    'a',
  );
  assert.equal(f.published, W1);
  assert.deepEqual(f.publishedOn, [W0, W1]);
});

test('judgeLocks: two publications seen as often follow neither; more servers win', () => {
  const tie = judgeLocks([seen(W0, 1, 50, { [W0]: 50 }), seen(W1, 2, 60, { [W1]: 60 }), gone(R0)], 'all', 'a');
  assert.equal(tie.published, undefined);
  const win = judgeLocks([seen(W0, 1, 50, { [W0]: 50 }), seen(W1, 2, 60, { [W1]: 60 }), seen(R0, 3, 70, { [W1]: 70 })], 'all', 'a');
  assert.equal(win.published, W1);
});

test('lock names: readable, at most 64 characters', () => {
  assert.equal(lockName('dh1', 'lead'), 'sluice:dh1:lead');
  assert.equal(lockName('dh1', `writer:${W0}`), 'sluice:dh1:writer:db1:3306');
  const long = lockName('dh1', `writer:${'x'.repeat(80)}:3306`);
  assert.ok(long.length <= 64 && long.startsWith('sluice:'), long);
});

// ------------------------------------------------------------------------------ the reducer

function start(): ClusterState {
  const cfg = threeHostConfig({ enabled: true, promote: true }, { cluster: { cooperation: 'backend-locks', instanceName: 'a' } });
  return initialState(cfg.dataHost, 0, { instanceName: cfg.cluster.instanceName });
}

function facts(over: Partial<CooperationFacts>): CooperationFacts {
  return { reachable: [W0, W1, R0], unreachable: [], held: [], heldElsewhere: [W0, W1, R0], needed: 2, leading: false, seesMajority: true, leader: 'another instance (x)', published: W0, publishedOn: [W0, W1, R0], ...over };
}
const LEADING = facts({ held: [W0, W1, R0], leading: true, leader: 'this instance (a)' });

function run(state: ClusterState, events: ClusterEvent[]): { state: ClusterState; transitions: Transition[] } {
  const all: Transition[] = [];
  for (const e of events) {
    const r = reduce(state, e);
    state = r.state;
    all.push(...r.transitions);
  }
  return { state, transitions: all };
}
const ok = (hostId: string, readOnly: boolean): ClusterEvent => ({ type: 'probe-ok', hostId, readOnly });
const down = (hostId: string): ClusterEvent[] => [1, 2, 3].map(() => ({ type: 'probe-failed', hostId, error: 'ECONNREFUSED' }) as ClusterEvent);
const replicaOf = (hostId: string, source: string, io: 'yes' | 'connecting'): ClusterEvent => ({
  type: 'replication',
  hostId,
  isReplica: true,
  ioRunning: io === 'yes',
  ioState: io,
  sqlRunning: true,
  lagSeconds: io === 'yes' ? 0 : null,
  sourceHost: source.split(':')[0]!,
  sourcePort: 3306,
});
const healthy = (s: ClusterState): ClusterState =>
  run(s, [ok(W0, false), ok(W1, true), ok(R0, true), replicaOf(W1, W0, 'yes'), replicaOf(R0, W0, 'yes'), { type: 'replication', hostId: W0, isReplica: false, ioRunning: false, sqlRunning: false, lagSeconds: null }]).state;

test('a follower does not fail over on its own: the writer is down here, it waits for the leader', () => {
  const s = run(healthy(start()), [{ type: 'cooperation', facts: facts({}) }, replicaOf(W1, W0, 'connecting'), replicaOf(R0, W0, 'connecting'), ...down(W0)]);
  assert.equal(s.state.writerIndex, 0);
  assert.equal(toView(s.state).writer, undefined);
  assert.match(s.state.writerBlocked ?? '', /the leading instance decides/);
  assert.ok(!s.transitions.some((t) => t.kind === 'writer-switch'));
});

test('a follower follows what the leader publishes, whatever its own heartbeats say', () => {
  const s = run(healthy(start()), [{ type: 'cooperation', facts: facts({}) }, { type: 'cooperation', facts: facts({ published: W1, publishedOn: [W1, R0] }) }]);
  assert.equal(s.state.writerIndex, 1);
  const sw = s.transitions.find((t) => t.kind === 'writer-switch');
  assert.ok(sw && sw.kind === 'writer-switch' && /following the leading instance/.test(sw.reason));
});

test('a follower refuses a manual switch and names the leader', () => {
  const s = run(healthy(start()), [{ type: 'cooperation', facts: facts({}) }, { type: 'switch-writer', index: 1, reason: 'manual' }]);
  assert.equal(s.state.writerIndex, 0);
  const r = s.transitions.find((t) => t.kind === 'writer-refused');
  assert.ok(r && /does not lead.*another instance \(x\)/.test(r.reason));
});

test('the leader fails over when the writer is dead for the replicas too', () => {
  const s = run(healthy(start()), [{ type: 'cooperation', facts: LEADING }, replicaOf(W1, W0, 'connecting'), replicaOf(R0, W0, 'connecting'), ...down(W0)]);
  assert.equal(s.state.writerIndex, 1);
  assert.equal(s.transitions.filter((t) => t.kind === 'writer-switch').length, 1);
});

test('the leader cut off from the writer alone does not fail over while a replica still receives from it', () => {
  const s = run(healthy(start()), [{ type: 'cooperation', facts: LEADING }, ...down(W0)]);
  assert.equal(s.state.writerIndex, 0);
  assert.match(s.state.writerBlocked ?? '', /still receives its binary log: not failing over/);
});

test('without a majority: writes refused with 1290 naming the unreachable servers; reads routed', () => {
  const s = run(healthy(start()), [{ type: 'cooperation', facts: facts({ reachable: [R0], unreachable: [W0, W1], seesMajority: false, leader: undefined }) }]);
  const view = toView(s.state);
  assert.match(view.writesRefused ?? '', /cannot reach a majority .*1 of 3; unreachable: db1:3306, db2:3306/);
  assert.equal(view.cooperation?.role, 'no-majority');
  const session: SessionRouteState = { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: false, readYourWrites: false, anchorHostId: undefined };
  const w = route(classify('INSERT INTO t VALUES (1)'), session, view);
  assert.equal(w.target, 'error');
  assert.equal((w as { errno: number }).errno, 1290);
  assert.match((w as { message: string }).message, /unreachable: db1:3306, db2:3306/);
  assert.notEqual(route(classify('SELECT 1 FROM t'), session, view).target, 'error');
  const t = s.transitions.find((x) => x.kind === 'cooperation');
  assert.ok(t && t.kind === 'cooperation' && t.to === 'no-majority');
});

test('an unchanged round changes nothing (no new view per heartbeat)', () => {
  const a = run(healthy(start()), [{ type: 'cooperation', facts: LEADING }]).state;
  const b = reduce(a, { type: 'cooperation', facts: { ...LEADING, held: [...LEADING.held] } });
  assert.equal(b.state, a);
});

test('config: cluster section defaults, bad values listed, lockTimeoutSeconds checked against the heartbeat', () => {
  const base = { listen: { port: 0 }, users: [{ name: 'app', password: 'app' }], dataHost: { name: 'dh1', user: 'u', password: 'p', writeHosts: [{ host: 'db1', port: 3306 }] } };
  const c = validateConfig(base);
  assert.equal(c.cluster.cooperation, 'none');
  assert.equal(c.cluster.majority, 'all');
  assert.ok(c.cluster.instanceName.length > 0);
  assert.throws(
    () => validateConfig({ ...base, cluster: { cooperation: 'paxos', instanceName: '-x', majority: 'most', lockTimeoutSeconds: 0 } }),
    (e: unknown) => {
      const m = (e as ConfigError).message;
      return /cluster\.cooperation/.test(m) && /cluster\.instanceName/.test(m) && /cluster\.majority/.test(m) && /cluster\.lockTimeoutSeconds/.test(m);
    },
  );
  assert.throws(
    () => validateConfig({ ...base, dataHost: { ...base.dataHost, heartbeat: { intervalMs: 5000 } }, cluster: { cooperation: 'backend-locks', lockTimeoutSeconds: 5 } }),
    /lockTimeoutSeconds: is 5 but must be at least 11/,
  );
});
