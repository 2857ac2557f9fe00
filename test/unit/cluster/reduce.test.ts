/**
 * The cluster reducer: event sequences → views and transitions (no I/O, no clock).
 * Hosts: writeHosts w0, w1, w2 (ports 3300-3302), readHosts r0, r1 (3310-3311) unless a test
 * builds another topology.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/index.js';
import type { DataHostConfig } from '../../../src/config/types.js';
import { initialState, reduce, toView } from '../../../src/cluster/reduce.js';
import type { ClusterEvent, ClusterState, Transition } from '../../../src/cluster/state.js';
import type { ClusterView, HostView } from '../../../src/cluster/view.js';

const W = ['w0:3300', 'w1:3301', 'w2:3302'] as const;
const R = ['r0:3310', 'r1:3311'] as const;

function dataHost(opts: {
  writeHosts?: number;
  readHosts?: number;
  failover?: Record<string, unknown>;
  replication?: Record<string, unknown>;
  retries?: number;
  balance?: number;
} = {}): DataHostConfig {
  const hp = (id: string) => ({ host: id.split(':')[0], port: Number(id.split(':')[1]) });
  return validateConfig({
    listen: { port: 0 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'app',
      balance: opts.balance ?? 1,
      writeHosts: W.slice(0, opts.writeHosts ?? 3).map(hp),
      readHosts: R.slice(0, opts.readHosts ?? 2).map(hp),
      heartbeat: { retries: opts.retries ?? 3 },
      failover: { enabled: true, dnindexFile: '/nonexistent/dnindex', ...opts.failover },
      replication: { maxLagSeconds: 10, readmitAfter: 3, ...opts.replication },
    },
  }).dataHost;
}

/**
 * A replication event of a replica that names no source follows the active writeHost of `state`
 * (what a healthy topology reports); tests of the source check pass `sourceHost`/`sourcePort`.
 */
function withSource(state: ClusterState, e: ClusterEvent): ClusterEvent {
  if (e.type !== 'replication' || !e.isReplica || e.error !== undefined || 'sourceHost' in e) return e;
  const w = state.hosts.find((h) => h.role === 'write' && h.index === state.writerIndex)!;
  return { ...e, sourceHost: w.host, sourcePort: w.port };
}

const step = (state: ClusterState, e: ClusterEvent) => reduce(state, withSource(state, e));

/** Applies events in order; returns the final state and every transition. */
function run(state: ClusterState, events: readonly ClusterEvent[]): { state: ClusterState; view: ClusterView; transitions: Transition[] } {
  const all: Transition[] = [];
  for (const e of events) {
    const r = step(state, e);
    state = r.state;
    all.push(...r.transitions);
  }
  return { state, view: toView(state), transitions: all };
}

const ok = (hostId: string, readOnly = false): ClusterEvent => ({ type: 'probe-ok', hostId, readOnly });
const fail = (hostId: string, error = 'ECONNREFUSED'): ClusterEvent => ({ type: 'probe-failed', hostId, error });
const failN = (hostId: string, n: number): ClusterEvent[] => Array.from({ length: n }, () => fail(hostId));
const repl = (hostId: string, lagSeconds: number | null = 0, extra: Partial<Extract<ClusterEvent, { type: 'replication' }>> = {}): ClusterEvent => ({
  type: 'replication',
  hostId,
  isReplica: true,
  ioRunning: true,
  sqlRunning: true,
  lagSeconds,
  ...extra,
});
const notReplica = (hostId: string): ClusterEvent => ({ type: 'replication', hostId, isReplica: false, ioRunning: false, sqlRunning: false, lagSeconds: null });
const replN = (hostId: string, n: number, lag: number | null = 0): ClusterEvent[] => Array.from({ length: n }, () => repl(hostId, lag));

function host(view: ClusterView, id: string): HostView {
  const h = view.hosts.find((x) => x.id === id);
  assert.ok(h, `host ${id} in view`);
  return h;
}

/** Everything up and healthy: writer w0 writable, standbys read-only replicas, readHosts replicas. */
function healthy(dh = dataHost()): ClusterState {
  const events: ClusterEvent[] = [];
  dh.writeHosts.forEach((h, i) => {
    events.push(ok(`${h.host}:${h.port}`, i !== 0));
    if (i === 0) events.push(notReplica(`${h.host}:${h.port}`));
    else events.push(...replN(`${h.host}:${h.port}`, 3));
  });
  for (const h of dh.readHosts) events.push(ok(`${h.host}:${h.port}`, true), ...replN(`${h.host}:${h.port}`, 3));
  return run(initialState(dh), events).state;
}

const kinds = (ts: readonly Transition[], kind: Transition['kind']) => ts.filter((t) => t.kind === kind);

// ------------------------------------------------------------------------------ heartbeat

test('three misses → down, one ok → up; misses below retries keep the status', () => {
  let s = healthy();
  let r = run(s, failN(R[0], 2));
  assert.equal(host(r.view, R[0]).status, 'up');
  assert.equal(host(r.view, R[0]).readable, true);
  assert.equal(r.transitions.length, 0);
  r = run(r.state, [fail(R[0])]);
  assert.equal(host(r.view, R[0]).status, 'down');
  assert.equal(host(r.view, R[0]).readable, false);
  assert.deepEqual(
    r.transitions.map((t) => [t.kind, t.hostId, 'to' in t ? t.to : undefined]),
    [
      ['status', R[0], 'down'],
      ['readable', R[0], false],
    ],
  );
  const st = r.transitions[0]!;
  assert.ok(st.kind === 'status' && st.from === 'up' && /3 consecutive heartbeat misses/.test(st.reason), st.reason);
  s = r.state;
  r = run(s, [ok(R[0], true)]);
  assert.equal(host(r.view, R[0]).status, 'up');
  assert.deepEqual(kinds(r.transitions, 'status').map((t) => t.kind === 'status' && `${t.from}->${t.to}`), ['down->up']);
});

test('flapping: a success in between resets the miss count', () => {
  const events: ClusterEvent[] = [];
  for (let i = 0; i < 10; i++) events.push(fail(R[1]), fail(R[1]), ok(R[1], true));
  const r = run(healthy(), events);
  assert.equal(host(r.view, R[1]).status, 'up');
  assert.equal(kinds(r.transitions, 'status').length, 0, 'never went down');
});

test('an unchanged heartbeat does not create a new state (no change events per probe)', () => {
  const s = healthy();
  const r = reduce(s, ok(R[0], true));
  assert.equal(r.state, s);
  assert.equal(step(s, repl(R[0], 0)).state, s, 'healthy replication, saturated counter');
});

test('offline is sticky until set-online; set-online → unknown', () => {
  const r = run(healthy(), [{ type: 'set-offline', hostId: R[0] }, ok(R[0], true), ...failN(R[0], 5)]);
  assert.equal(host(r.view, R[0]).status, 'offline');
  assert.equal(host(r.view, R[0]).readable, false);
  const r2 = run(r.state, [{ type: 'set-online', hostId: R[0] }]);
  assert.equal(host(r2.view, R[0]).status, 'unknown');
});

// ------------------------------------------------------------------------------ replication gate

test('lag above the threshold excludes at once; readmitted only after N healthy checks', () => {
  let r = run(healthy(), [repl(R[0], 11)]);
  assert.equal(host(r.view, R[0]).readable, false);
  const out = kinds(r.transitions, 'readable')[0];
  assert.ok(out && /lag 11 s > maxLagSeconds 10/.test(out.reason), out?.reason);
  r = run(r.state, [repl(R[0], 10), repl(R[0], 3)]);
  assert.equal(host(r.view, R[0]).readable, false, 'two healthy checks are not enough (readmitAfter 3)');
  r = run(r.state, [repl(R[0], 0)]);
  assert.equal(host(r.view, R[0]).readable, true);
  const back = kinds(r.transitions, 'readable')[0];
  assert.ok(back && back.kind === 'readable' && back.to === true && /3 consecutive checks/.test(back.reason), back?.reason);
});

test('lag NULL and a failed probe are not healthy: they exclude and reset the count', () => {
  let r = run(healthy(), [repl(R[0], null)]);
  assert.equal(host(r.view, R[0]).readable, false);
  r = run(r.state, [...replN(R[0], 2), repl(R[0], null), ...replN(R[0], 2)]);
  assert.equal(host(r.view, R[0]).readable, false, 'NULL in between restarts the count');
  r = run(r.state, [{ type: 'replication', hostId: R[0], isReplica: false, ioRunning: false, sqlRunning: false, lagSeconds: null, error: 'timed out' }]);
  assert.equal(host(r.view, R[0]).readable, false);
  assert.equal(host(r.view, R[0]).replication?.probeError, 'timed out');
  r = run(r.state, replN(R[0], 3));
  assert.equal(host(r.view, R[0]).readable, true);
});

test('a stopped replication thread takes the replica out; it comes back after N healthy checks', () => {
  let r = run(healthy(), [repl(R[1], null, { ioRunning: false, sqlRunning: false })]);
  assert.equal(host(r.view, R[1]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /IO and SQL threads not running/);
  r = run(healthy(), [repl(R[1], 0, { sqlRunning: false, threadError: 'Duplicate entry' })]);
  assert.equal(host(r.view, R[1]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /SQL thread not running \(Duplicate entry\)/);
  r = run(r.state, replN(R[1], 3));
  assert.equal(host(r.view, R[1]).readable, true);
});

test('going DOWN closes the gate: UP again is not enough, replication must be seen healthy', () => {
  let r = run(healthy(), [...failN(R[0], 3), ok(R[0], true)]);
  assert.equal(host(r.view, R[0]).status, 'up');
  assert.equal(host(r.view, R[0]).readable, false);
  r = run(r.state, replN(R[0], 3));
  assert.equal(host(r.view, R[0]).readable, true);
});

test('healthy checks while down do not count', () => {
  let r = run(healthy(), [...failN(R[0], 3), ...replN(R[0], 5)]);
  assert.equal(host(r.view, R[0]).readable, false);
  r = run(r.state, [ok(R[0], true), ...replN(R[0], 2)]);
  assert.equal(host(r.view, R[0]).readable, false);
  r = run(r.state, [repl(R[0], 0)]);
  assert.equal(host(r.view, R[0]).readable, true);
});

test('a readHost that is not a replica counts as a standalone read server; a standby writeHost does not', () => {
  const r = run(healthy(), [notReplica(R[0]), notReplica(W[1])]);
  assert.equal(host(r.view, R[0]).readable, true);
  assert.equal(host(r.view, W[1]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /not replicating/);
});

test('the active writer stays readable whatever its replication status says', () => {
  const r = run(healthy(), [repl(W[0], null, { ioRunning: false })]);
  assert.equal(host(r.view, W[0]).readable, true);
  assert.equal(r.view.writer?.id, W[0]);
});

test('before any replication check hosts are usable (start-up is not blocked)', () => {
  const v = toView(initialState(dataHost()));
  assert.ok(v.hosts.every((h) => h.readable && h.status === 'unknown'));
  assert.equal(v.writer?.id, W[0]);
});

// ------------------------------------------------------------------------------ writer switch

test('writer down → switch to the next UP, writable, caught-up writeHost (skipping unsuitable ones)', () => {
  // w1: read-only (promote off) → skipped; w2 made writable.
  const s = run(healthy(), [ok(W[2], false)]).state;
  const r = run(s, failN(W[0], 3));
  assert.equal(r.view.writerIndex, 2);
  assert.equal(r.view.writer?.id, W[2]);
  const sw = kinds(r.transitions, 'writer-switch')[0];
  assert.ok(sw && sw.kind === 'writer-switch');
  assert.deepEqual(
    { fromIndex: sw.fromIndex, toIndex: sw.toIndex, fromHostId: sw.fromHostId, toHostId: sw.toHostId, manual: sw.manual },
    { fromIndex: 0, toIndex: 2, fromHostId: W[0], toHostId: W[2], manual: false },
  );
  assert.match(sw.reason, /skipped 1 \(w1:3301\) is read-only/);
  // Order: status down first, then the switch.
  assert.deepEqual(r.transitions.slice(0, 2).map((t) => t.kind), ['status', 'writer-switch']);
  assert.equal(host(r.view, W[2]).readable, true, 'the new writer reads too (balance 2)');
});

test('the writer is undefined while it is down and no switch happened', () => {
  const r = run(healthy(dataHost({ failover: { enabled: false } })), failN(W[0], 3));
  assert.equal(r.view.writer, undefined);
  assert.equal(r.view.writerIndex, 0);
  const refused = kinds(r.transitions, 'writer-refused');
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.reason, /failover is disabled/);
  assert.match(r.view.writerBlocked ?? '', /failover is disabled/);
  // Further misses do not repeat the refusal.
  const again = run(r.state, failN(W[0], 5));
  assert.equal(kinds(again.transitions, 'writer-refused').length, 0);
  // It comes back: writer again, blocked reason cleared.
  const back = run(again.state, [ok(W[0])]);
  assert.equal(back.view.writer?.id, W[0]);
  assert.equal(back.view.writerBlocked, undefined);
});

test('only read-only candidates and promote off: refused, loudly, with the reason', () => {
  const r = run(healthy(), failN(W[0], 3));
  assert.equal(r.view.writer, undefined);
  assert.equal(r.view.writerIndex, 0);
  const refused = kinds(r.transitions, 'writer-refused');
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.reason, /1 \(w1:3301\) is read-only \(read_only=ON\) and failover.promote is off/);
  assert.match(refused[0]!.reason, /2 \(w2:3302\) is read-only/);
  assert.match(refused[0]!.reason, /set failover.promote: true/);
});

test('read-only candidate accepted with promote on', () => {
  const r = run(healthy(dataHost({ failover: { promote: true } })), failN(W[0], 3));
  assert.equal(r.view.writerIndex, 1);
  assert.equal(r.view.writer?.id, W[1]);
  assert.match(kinds(r.transitions, 'writer-switch')[0]!.reason, /to be promoted/);
});

test('a candidate that is down, lagging, not replicating or of unknown replication is skipped', () => {
  const dh = dataHost({ failover: { promote: true } });
  // w1 lags 30 s; w2 SQL thread stopped → refused.
  let s = run(healthy(dh), [repl(W[1], 30), repl(W[2], 0, { sqlRunning: false })]).state;
  let r = run(s, failN(W[0], 3));
  assert.equal(r.view.writer, undefined);
  const why = kinds(r.transitions, 'writer-refused')[0]!.reason;
  assert.match(why, /lags 30 s/);
  assert.match(why, /SQL thread not running/);
  // w1 catches up later: the switch happens on that event.
  r = run(r.state, [repl(W[1], 2)]);
  assert.equal(r.view.writerIndex, 1);
  // A replica of the dead master shows IO "Connecting" and lag NULL: the last known lag counts.
  s = run(healthy(dh), [repl(W[1], 1)]).state;
  r = run(s, [repl(W[1], null, { ioRunning: false }), ...failN(W[0], 3)]);
  assert.equal(r.view.writerIndex, 1, 'IO thread down with the master is fine');
  // Down candidate skipped, next one taken.
  s = healthy(dh);
  r = run(s, [...failN(W[1], 3), ...failN(W[0], 3)]);
  assert.equal(r.view.writerIndex, 2);
  assert.match(kinds(r.transitions, 'writer-switch')[0]!.reason, /1 \(w1:3301\) is down/);
});

test('wraps around in configured order from the current writer', () => {
  const dh = dataHost({ failover: { promote: true } });
  const s = initialState(dh, 2);
  const events: ClusterEvent[] = [];
  for (const id of W) events.push(ok(id, id !== W[2]), repl(id));
  const r = run(run(s, events).state, failN(W[2], 3));
  assert.equal(r.view.writerIndex, 0);
});

test('no preemption: the old writer comes back and stays out of the writer role', () => {
  const dh = dataHost({ failover: { promote: true } });
  let r = run(healthy(dh), failN(W[0], 3));
  assert.equal(r.view.writerIndex, 1);
  r = run(r.state, [ok(W[0], false), notReplica(W[0]), ok(W[0], false)]);
  assert.equal(host(r.view, W[0]).status, 'up');
  assert.equal(r.view.writerIndex, 1);
  assert.equal(r.view.writer?.id, W[1]);
  assert.equal(kinds(r.transitions, 'writer-switch').length, 0);
  // The demoted writer is neither writer nor readable while it does not replicate.
  assert.equal(host(r.view, W[0]).readable, false);
});

test('the demoted old writer is readable only once seen replicating (readmitAfter checks)', () => {
  const dh = dataHost({ failover: { promote: true } });
  let r = run(healthy(dh), [...failN(W[0], 3), ok(W[0], true)]);
  assert.equal(host(r.view, W[0]).readable, false, 'UP is not enough');
  r = run(r.state, replN(W[0], 2));
  assert.equal(host(r.view, W[0]).readable, false);
  r = run(r.state, replN(W[0], 1));
  assert.equal(host(r.view, W[0]).readable, true, 'replicating for 3 checks');
});

test('a demoted writer that does not replicate is not a failover candidate (it lacks newer writes)', () => {
  const dh = dataHost({ writeHosts: 2, failover: { promote: true } });
  let r = run(healthy(dh), failN(W[0], 3));
  assert.equal(r.view.writerIndex, 1);
  r = run(r.state, [ok(W[0], true), notReplica(W[0]), ...failN(W[1], 3)]);
  assert.equal(r.view.writer, undefined);
  assert.match(kinds(r.transitions, 'writer-refused')[0]!.reason, /demoted/);
});

test('manual switch: goes through the reducer, demotes the old writer, refuses bad targets', () => {
  const dh = dataHost();
  let r = run(healthy(dh), [{ type: 'switch-writer', index: 2, reason: 'SWITCH @@DATASOURCE dh1:2' }]);
  assert.equal(r.view.writerIndex, 2);
  const sw = kinds(r.transitions, 'writer-switch')[0]!;
  assert.ok(sw.kind === 'writer-switch' && sw.manual && sw.fromIndex === 0 && sw.toIndex === 2);
  assert.match(sw.reason, /SWITCH @@DATASOURCE dh1:2/);
  assert.match(sw.reason, /warning: it is read_only=ON/);
  assert.equal(host(r.view, W[0]).readable, false, 'old writer not readable until replicating');
  // Refusals do not change the state.
  for (const [index, re] of [
    [2, /already the active writeHost/],
    [7, /has writeHosts 0-2/],
    [-1, /has writeHosts 0-2/],
  ] as const) {
    const x = reduce(r.state, { type: 'switch-writer', index, reason: 'm' });
    assert.equal(x.state, r.state);
    assert.equal(x.transitions[0]?.kind, 'writer-refused');
    assert.match(x.transitions[0]!.reason, re);
  }
  r = run(r.state, failN(W[1], 3));
  const x = reduce(r.state, { type: 'switch-writer', index: 1, reason: 'm' });
  assert.equal(x.state, r.state);
  assert.match(x.transitions[0]!.reason, /it is down/);
  // Manual switch works with failover disabled too (Mycat MANAGER switch).
  const off = run(healthy(dataHost({ failover: { enabled: false } })), [{ type: 'switch-writer', index: 1, reason: 'm' }]);
  assert.equal(off.view.writerIndex, 1);
});

test('read-only fact from the failover effects updates the writer', () => {
  const dh = dataHost({ failover: { promote: true } });
  let r = run(healthy(dh), failN(W[0], 3));
  assert.equal(r.view.writer?.readOnly, true);
  r = run(r.state, [{ type: 'read-only', hostId: W[1], readOnly: false, reason: 'promoted' }]);
  assert.equal(r.view.writer?.readOnly, false);
});

test('initialState takes the dnindex writer index and rejects an out-of-range one', () => {
  const dh = dataHost();
  assert.equal(toView(initialState(dh, 1)).writer?.id, W[1]);
  assert.throws(() => initialState(dh, 3), /out of range/);
});

test('version increases on every change; views are new objects then', () => {
  const s = healthy();
  const r = reduce(s, fail(R[0]));
  assert.equal(r.state.version, s.version + 1);
  assert.notEqual(toView(r.state), toView(s));
});

// ------------------------------------------------------------------------------ IO 'connecting' (user-pain #11)

const connecting = (hostId: string, extra: Partial<Extract<ClusterEvent, { type: 'replication' }>> = {}): ClusterEvent =>
  repl(hostId, null, { ioRunning: false, ioState: 'connecting', ...extra });

test("IO 'connecting' keeps a healthy replica readable, judged by its last known lag", () => {
  let r = run(healthy(), [repl(R[0], 4), ...Array.from({ length: 5 }, () => connecting(R[0]))]);
  assert.equal(host(r.view, R[0]).readable, true);
  assert.equal(host(r.view, R[0]).replication?.ioState, 'connecting');
  assert.equal(host(r.view, R[0]).replication?.lagSeconds, null);
  assert.equal(kinds(r.transitions, 'readable').length, 0);
  // The writer dies meanwhile (failover off): the replicas stay readable all along.
  r = run(healthy(dataHost({ failover: { enabled: false } })), [connecting(R[0]), connecting(R[1]), ...failN(W[0], 3), connecting(R[0])]);
  assert.equal(host(r.view, W[0]).status, 'down');
  assert.equal(host(r.view, R[0]).readable, true);
  assert.equal(host(r.view, R[1]).readable, true);
  // A last known lag above the threshold excludes.
  r = run(healthy(), [repl(R[0], 9), repl(R[0], null, { ioState: 'connecting', ioRunning: false, lagSeconds: 12 })]);
  assert.equal(host(r.view, R[0]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /connecting.*last known lag 12 s > maxLagSeconds 10/);
});

test("IO 'connecting' never admits a replica that was not seen healthy", () => {
  // Never checked: the start-up gate is open, a first 'connecting' report closes it.
  let r = run(initialState(dataHost()), [ok(R[0], true), connecting(R[0])]);
  assert.equal(host(r.view, R[0]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /IO thread connecting/);
  // Out (lagging), then 'connecting' with a good last lag: stays out, and does not count.
  r = run(healthy(), [repl(R[0], 20), repl(R[0], 0), repl(R[0], 0), connecting(R[0]), connecting(R[0])]);
  assert.equal(host(r.view, R[0]).readable, false);
  r = run(r.state, replN(R[0], 2));
  assert.equal(host(r.view, R[0]).readable, false, 'connecting restarted the count');
  r = run(r.state, replN(R[0], 1));
  assert.equal(host(r.view, R[0]).readable, true);
  // Back from DOWN: 'connecting' is not enough.
  r = run(healthy(), [...failN(R[1], 3), ok(R[1], true), ...Array.from({ length: 4 }, () => connecting(R[1]))]);
  assert.equal(host(r.view, R[1]).readable, false);
});

test("IO 'No' or SQL thread stopped still exclude at once (with 'connecting' around)", () => {
  let r = run(healthy(), [connecting(R[0]), repl(R[0], null, { ioRunning: false, ioState: 'no' })]);
  assert.equal(host(r.view, R[0]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /IO thread not running/);
  r = run(healthy(), [connecting(R[1]), connecting(R[1], { sqlRunning: false, threadError: 'Duplicate entry' })]);
  assert.equal(host(r.view, R[1]).readable, false);
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /SQL thread not running \(Duplicate entry\)/);
});

test("a 'connecting' standby writeHost is a failover candidate judged by its last known lag", () => {
  const dh = dataHost({ failover: { promote: true } });
  let r = run(healthy(dh), [repl(W[1], 3), connecting(W[1]), connecting(W[2]), ...failN(W[0], 3)]);
  assert.equal(r.view.writerIndex, 1);
  // Last known lag too high on w1 → w2 taken.
  r = run(healthy(dh), [repl(W[1], 30), connecting(W[1]), connecting(W[2]), ...failN(W[0], 3)]);
  assert.equal(r.view.writerIndex, 2);
  assert.match(kinds(r.transitions, 'writer-switch')[0]!.reason, /1 \(w1:3301\) lags 30 s/);
});

// ------------------------------------------------------------------------------ source check (user-pain #12)

const from = (hostId: string, sourceHost: string, sourcePort: number, lag = 0): ClusterEvent => repl(hostId, lag, { sourceHost, sourcePort });

test('a replica following another host than the writeHost is excluded, with the reason', () => {
  const r = run(healthy(), [from(R[0], 'w1', 3301)]);
  assert.equal(host(r.view, R[0]).readable, false);
  assert.equal(host(r.view, R[0]).replication?.sourceHost, 'w1');
  assert.match(kinds(r.transitions, 'readable')[0]!.reason, /replicates from w1:3301, not from the writeHost w0:3300/);
  // Same host, other port: another server.
  assert.equal(host(run(healthy(), [from(R[1], 'w0', 3399)]).view, R[1]).readable, false);
  // No source reported: cannot be checked → not healthy.
  const u = run(healthy(), [repl(R[1], 0, { sourceHost: undefined, sourcePort: undefined })]);
  assert.equal(host(u.view, R[1]).readable, false);
  assert.match(kinds(u.transitions, 'readable')[0]!.reason, /source unknown/);
  // Standby writeHosts follow the same rule.
  assert.equal(host(run(healthy(), [from(W[2], 'w1', 3301)]).view, W[2]).readable, false);
});

test('source match admits: case-insensitive names, localhost ≡ 127.0.0.1 ≡ ::1', () => {
  const dh = validateConfig({
    listen: { port: 0 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: {
      name: 'dh1',
      user: 'app',
      password: 'app',
      balance: 1,
      writeHosts: [{ host: 'localhost', port: 3300 }],
      readHosts: [
        { host: '127.0.0.1', port: 3310 },
        { host: '127.0.0.1', port: 3311 },
        { host: '127.0.0.1', port: 3312 },
      ],
      failover: { enabled: false, dnindexFile: '/nonexistent/dnindex' },
      replication: { maxLagSeconds: 10, readmitAfter: 2 },
    },
  }).dataHost;
  const [a, b, c] = ['127.0.0.1:3310', '127.0.0.1:3311', '127.0.0.1:3312'];
  let r = run(initialState(dh), [ok('localhost:3300'), from(a!, '127.0.0.1', 3300), from(b!, '::1', 3300), from(c!, 'LocalHost', 3300)]);
  for (const id of [a!, b!, c!]) assert.equal(host(r.view, id).readable, true, id);
  // Out for a reason, then back: the matching source counts as healthy.
  r = run(r.state, [repl(a!, 30, { sourceHost: '127.0.0.1', sourcePort: 3300 }), from(a!, '127.0.0.1', 3300), from(a!, '127.0.0.1', 3300)]);
  assert.equal(host(r.view, a!).readable, true);
  // Names compare case-insensitively.
  const s = run(healthy(), [from(R[0], 'W0', 3300)]);
  assert.equal(host(s.view, R[0]).readable, true);
});

test('after a writer switch: a replica following the old writer is excluded, one following the new writer is admitted', () => {
  const dh = dataHost({ failover: { promote: true } });
  // Before the switch every replica follows w0; w0 dies and the replicas go 'connecting'.
  let r = run(healthy(dh), [connecting(R[0]), connecting(R[1]), ...failN(W[0], 2)]);
  assert.equal(host(r.view, R[0]).readable, true, 'readable until the writer is declared down');
  r = run(r.state, [fail(W[0])]);
  assert.equal(r.view.writerIndex, 1);
  // At the switch, not at their next probe: they follow w0, not w1.
  assert.equal(host(r.view, R[0]).readable, false);
  assert.equal(host(r.view, R[1]).readable, false);
  const out = kinds(r.transitions, 'readable').find((t) => t.hostId === R[0]);
  assert.match(out!.reason, /replicates from w0:3300, not from the writeHost w1:3301/);
  // w2 too (a standby following the old writer).
  assert.equal(host(r.view, W[2]).readable, false);
  // Still following w0: stays out (connecting or even 'Yes' with lag 0).
  r = run(r.state, [connecting(R[0], { sourceHost: 'w0', sourcePort: 3300 }), ...Array.from({ length: 4 }, () => from(R[0], 'w0', 3300))]);
  assert.equal(host(r.view, R[0]).readable, false);
  // Re-pointed at w1: readmitAfter healthy checks → readable.
  r = run(r.state, [from(R[1], 'w1', 3301), from(R[1], 'w1', 3301)]);
  assert.equal(host(r.view, R[1]).readable, false);
  r = run(r.state, [from(R[1], 'w1', 3301)]);
  assert.equal(host(r.view, R[1]).readable, true);
  // The demoted old writer, back and replicating from the new one, is readable again.
  r = run(r.state, [ok(W[0], true), ...Array.from({ length: 3 }, () => from(W[0], 'w1', 3301))]);
  assert.equal(host(r.view, W[0]).readable, true);
});

test('a standby following another host than the dead writer is not a failover candidate', () => {
  const dh = dataHost({ failover: { promote: true } });
  const r = run(healthy(dh), [from(W[1], 'w2', 3302), ...failN(W[0], 3)]);
  assert.equal(r.view.writerIndex, 2);
  assert.match(kinds(r.transitions, 'writer-switch')[0]!.reason, /1 \(w1:3301\) replicates from w2:3302, not from the writeHost w0:3300/);
});

// ------------------------------------------------------------------------------ topology

const addHost = (id: string, role: 'write' | 'read', weight = 1): ClusterEvent => ({
  type: 'add-host',
  host: id.split(':')[0]!,
  port: Number(id.split(':')[1]),
  role,
  weight,
  reason: 'test',
});
const removeHost = (hostId: string): ClusterEvent => ({ type: 'remove-host', hostId, reason: 'test' });

test('an added readHost is appended and serves reads only after readmitAfter healthy checks', () => {
  let r = run(healthy(), [addHost('r2:3312', 'read', 2)]);
  assert.deepEqual(r.view.hosts.map((h) => h.id), [...W, ...R, 'r2:3312']);
  const added = host(r.view, 'r2:3312');
  assert.deepEqual([added.role, added.index, added.weight, added.status, added.readable], ['read', 2, 2, 'unknown', false]);
  assert.deepEqual(r.transitions.map((t) => [t.kind, t.hostId]), [['host-added', 'r2:3312']]);
  r = run(r.state, [ok('r2:3312', true), ...replN('r2:3312', 2)]);
  assert.equal(host(r.view, 'r2:3312').readable, false, 'two healthy checks are not enough');
  r = run(r.state, replN('r2:3312', 1));
  assert.equal(host(r.view, 'r2:3312').readable, true);
  assert.ok(kinds(r.transitions, 'readable').some((t) => t.hostId === 'r2:3312'));
});

test('an added writeHost goes after the other writeHosts (backend_ndx as after a restart) and can take over', () => {
  const dh = dataHost({ writeHosts: 1 });
  let r = run(healthy(dh), [addHost('w9:3309', 'write')]);
  assert.deepEqual(r.view.hosts.map((h) => h.id), [W[0], 'w9:3309', ...R]);
  assert.equal(host(r.view, 'w9:3309').index, 1);
  r = run(r.state, [ok('w9:3309', false), ...Array.from({ length: 3 }, () => repl('w9:3309', 0, { sourceHost: 'w0', sourcePort: 3300 })), ...failN(W[0], 3)]);
  assert.equal(r.view.writerIndex, 1);
  assert.equal(r.view.writer?.id, 'w9:3309');
});

test('adding a known backend is refused (loopback spellings are one host), nothing changes', () => {
  const dh = validateConfig({
    listen: { port: 0 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: { name: 'dh1', user: 'app', password: 'app', writeHosts: [{ host: '127.0.0.1', port: 3306 }], failover: { dnindexFile: '/nonexistent/dnindex' } },
  }).dataHost;
  const s = initialState(dh);
  for (const e of [addHost('127.0.0.1:3306', 'read'), addHost('localhost:3306', 'write')]) {
    const r = reduce(s, e);
    assert.equal(r.state, s);
    assert.equal(r.transitions.length, 1);
    const t = r.transitions[0]!;
    assert.ok(t.kind === 'topology-refused' && /already writeHost 0/.test(t.reason), JSON.stringify(t));
  }
});

test('removing a readHost re-numbers the later ones; removing an unknown host is refused', () => {
  const r = run(healthy(), [removeHost(R[0])]);
  assert.deepEqual(r.view.hosts.map((h) => h.id), [...W, R[1]]);
  assert.equal(host(r.view, R[1]).index, 0);
  assert.equal(host(r.view, R[1]).readable, true, 'the others keep their state');
  assert.deepEqual(r.transitions.map((t) => [t.kind, t.hostId]), [['host-removed', R[0]]]);
  const again = reduce(r.state, removeHost(R[0]));
  assert.equal(again.state, r.state);
  assert.equal(again.transitions[0]!.kind, 'topology-refused');
});

test('the active writeHost and writeHosts before it cannot be removed; those after it can', () => {
  const dh = dataHost({ failover: { promote: true } });
  let s = run(healthy(dh), [...failN(W[0], 3)]).state;
  assert.equal(toView(s).writerIndex, 1);
  for (const [id, why] of [
    [W[1], /is the active writeHost/],
    [W[0], /before the active writeHost 1: removing it would shift the index the dnindex records/],
  ] as const) {
    const r = reduce(s, removeHost(id));
    assert.equal(r.state, s);
    const t = r.transitions[0]!;
    assert.ok(t.kind === 'topology-refused' && why.test(t.reason), t.kind === 'topology-refused' ? t.reason : t.kind);
  }
  const r = reduce(s, removeHost(W[2]));
  s = r.state;
  assert.deepEqual(toView(s).hosts.filter((h) => h.role === 'write').map((h) => h.id), [W[0], W[1]]);
  assert.equal(toView(s).writer?.id, W[1]);
});

test('set-weight: weight 0 leaves read rotation, a weight back re-enters it', () => {
  let r = run(healthy(), [{ type: 'set-weight', hostId: R[0], weight: 0, reason: 'test' }]);
  assert.equal(host(r.view, R[0]).weight, 0);
  assert.equal(host(r.view, R[0]).readable, false);
  assert.deepEqual(r.transitions.map((t) => [t.kind, t.hostId]), [['readable', R[0]]]);
  r = run(r.state, [{ type: 'set-weight', hostId: R[0], weight: 5, reason: 'test' }]);
  assert.equal(host(r.view, R[0]).weight, 5);
  assert.equal(host(r.view, R[0]).readable, true);
  const unknown = reduce(r.state, { type: 'set-weight', hostId: 'nope:1', weight: 1, reason: 'test' });
  assert.equal(unknown.state, r.state);
  assert.equal(unknown.transitions[0]!.kind, 'topology-refused');
});

test('failover picks the standby that received the most (semi-sync acknowledges on ANY replica), configured order on a tie', () => {
  const dh = dataHost({ failover: { promote: true } });
  const lost = (hostId: string, received: string): ClusterEvent => repl(hostId, null, { ioRunning: false, ioState: 'connecting', receivedGtids: received });
  const ahead = run(healthy(dh), [lost(W[1], '0-1-10'), lost(W[2], '0-1-12'), ...failN(W[0], 3)]);
  assert.equal(ahead.view.writerIndex, 2, 'w2 received 0-1-12, w1 only 0-1-10');
  const sw = kinds(ahead.transitions, 'writer-switch')[0];
  assert.ok(sw && sw.kind === 'writer-switch' && /w2:3302 has received more than w1:3301 \(0-1-12\)/.test(sw.reason), sw && 'reason' in sw ? sw.reason : '');
  const tie = run(healthy(dh), [lost(W[1], '0-1-12'), lost(W[2], '0-1-12'), ...failN(W[0], 3)]);
  assert.equal(tie.view.writerIndex, 1);
  // While connected, the received position is not kept (no new state per probe).
  const connected = run(healthy(dh), [repl(W[1], 0, { receivedGtids: '0-1-5' })]);
  assert.equal(connected.state.hosts.find((h) => h.id === W[1])!.replication?.receivedGtids, undefined);
});
