/**
 * What the operator surfaces say about cooperating instances (cluster.cooperation), without I/O:
 * views made by the real reducer from real rounds of lock answers (judgeLocks), rendered as the
 * admin port's tables, /status.json's `cluster` object and /health's verdict.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { threeHostConfig } from '../../helpers/cluster-config.js';
import type { SluiceConfig } from '../../../src/config/types.js';
import { judgeLocks, type LockObservation } from '../../../src/cluster/cooperation-rules.js';
import { initialState, reduce, toView } from '../../../src/cluster/reduce.js';
import type { ClusterEvent, ClusterState } from '../../../src/cluster/state.js';
import type { ClusterView } from '../../../src/cluster/view.js';
import { BACKENDS_COLUMNS, backendsTable, heartbeatTable, type AdminTable } from '../../../src/admin/admin-views.js';
import { clusterStatus, clusterTable } from '../../../src/admin/cooperation-views.js';
import { parseAdminCommand } from '../../../src/admin/admin-commands.js';
import { healthVerdict } from '../../../src/admin/http/status.js';

const W0 = 'db1:3306';
const W1 = 'db2:3306';
const R0 = 'db3:3306';

function config(cooperation: boolean): SluiceConfig {
  return threeHostConfig(
    { enabled: true, promote: false },
    { cluster: cooperation ? { cooperation: 'backend-locks', instanceName: 'sluice-a', lockTimeoutSeconds: 7 } : { cooperation: 'none' } },
  );
}

/** All three servers up and replicating from db1, then the given rounds of lock answers. */
function viewAfter(cfg: SluiceConfig, rounds: readonly (readonly LockObservation[])[]): ClusterView {
  let state: ClusterState = initialState(cfg.dataHost, 0, cfg.cluster.cooperation === 'none' ? undefined : { instanceName: cfg.cluster.instanceName });
  const replica = (hostId: string): ClusterEvent => ({ type: 'replication', hostId, isReplica: true, ioRunning: true, ioState: 'yes', sqlRunning: true, lagSeconds: 0, sourceHost: 'db1', sourcePort: 3306 });
  const events: ClusterEvent[] = [
    { type: 'probe-ok', hostId: W0, readOnly: false },
    { type: 'probe-ok', hostId: W1, readOnly: true },
    { type: 'probe-ok', hostId: R0, readOnly: true },
    { type: 'replication', hostId: W0, isReplica: false, ioRunning: false, sqlRunning: false, lagSeconds: null },
    replica(W1),
    replica(R0),
    ...rounds.map((r): ClusterEvent => ({ type: 'cooperation', facts: judgeLocks(r, cfg.cluster.majority, cfg.cluster.instanceName) })),
  ];
  for (const e of events) state = reduce(state, e).state;
  return toView(state);
}

/** One server's answer: this instance's lock connection is `self`; the lead and writer locks' holders. */
function seen(hostId: string, self: number, lead: number | null, writers: Record<string, number | null> = {}): LockObservation {
  return { hostId, answer: { self, leadHolder: lead, writerHolders: new Map([[W0, null], [W1, null], ...Object.entries(writers)]) } };
}
const gone = (hostId: string): LockObservation => ({ hostId, answer: undefined });

/** Rows of a table as objects keyed by column name. */
function objects(t: AdminTable): Record<string, unknown>[] {
  return t.rows.map((r) => Object.fromEntries(t.columns.map((c, i) => [c.name, r[i]])));
}
function facts(t: AdminTable): Record<string, unknown> {
  assert.deepEqual(t.columns.map((c) => c.name), ['FACT', 'VALUE']);
  return Object.fromEntries(t.rows.map((r) => [r[0], r[1]]));
}
const noPools = (): undefined => undefined;

describe('without cooperation', () => {
  const cfg = config(false);
  const view = viewAfter(cfg, []);

  test('backends and SHOW @@HEARTBEAT keep exactly their columns', () => {
    const b = backendsTable(view, noPools);
    assert.deepEqual(b.columns, BACKENDS_COLUMNS);
    assert.ok(b.rows.every((r) => r.length === BACKENDS_COLUMNS.length));
    const hb = heartbeatTable(view);
    assert.equal(hb.columns.at(-1)!.name, 'REPLICATION_ERROR');
    assert.ok(hb.rows.every((r) => r.length === hb.columns.length));
  });

  test('SHOW @@CLUSTER answers one row: cooperation none; status.json cluster is null', () => {
    const t = clusterTable(view, cfg.cluster);
    assert.deepEqual(t.rows, [['cooperation', 'none']]);
    assert.equal(clusterStatus(view, cfg.cluster), null);
  });

  test('/health is what it was: 200 for writes with a writable writer', () => {
    assert.equal(healthVerdict(view, true, 'write').ok, true);
    assert.equal(healthVerdict(view, true, 'read').ok, true);
  });
});

describe('with cooperation (backend-locks)', () => {
  const cfg = config(true);

  test('before the first round: starting, lock columns NULL, facts not known yet', () => {
    const view = viewAfter(cfg, []);
    const rows = objects(backendsTable(view, noPools));
    assert.deepEqual(rows.map((r) => [r.lead_lock, r.published_writer]), [[null, null], [null, null], [null, null]]);
    const f = facts(clusterTable(view, cfg.cluster));
    assert.equal(f.role, 'starting');
    assert.equal(f.instance_name, 'sluice-a');
    assert.equal(f.reachable, null);
    assert.equal(f.leading, null);
    assert.equal(f.writes_refused, null);
    assert.equal(clusterStatus(view, cfg.cluster)!.role, 'starting');
  });

  test('leading: the lead lock held here on every server, its writer published there', () => {
    const view = viewAfter(cfg, [[seen(W0, 11, 11, { [W0]: 11 }), seen(W1, 12, 12, { [W0]: 12 }), seen(R0, 13, 13, { [W0]: 13 })]]);
    const b = backendsTable(view, noPools);
    // Existing columns first and unchanged, the two new ones appended.
    assert.deepEqual(b.columns.slice(0, BACKENDS_COLUMNS.length), BACKENDS_COLUMNS);
    assert.deepEqual(b.columns.slice(BACKENDS_COLUMNS.length).map((c) => c.name), ['lead_lock', 'published_writer']);
    assert.deepEqual(
      objects(b).map((r) => [r.address, r.lead_lock, r.published_writer]),
      [
        ['db1:3306', 'this instance', W0],
        ['db2:3306', 'this instance', W0],
        ['db3:3306', 'this instance', W0],
      ],
    );
    const f = facts(clusterTable(view, cfg.cluster));
    assert.deepEqual(
      [f.cooperation, f.role, f.leader, f.leading, f.sees_majority, f.majority, f.majority_needed],
      ['backend-locks', 'leading', 'this instance (sluice-a)', 'yes', 'yes', 'all', '2 of 3'],
    );
    assert.equal(f.lead_lock_held_here, 'db1:3306, db2:3306, db3:3306');
    assert.equal(f.lead_lock_held_elsewhere, 'none');
    assert.equal(f.unreachable, 'none');
    assert.deepEqual([f.published_writer, f.published_on, f.active_writer], [W0, 'db1:3306, db2:3306, db3:3306', W0]);
    assert.equal(f.writes_refused, null);
    assert.equal(f.lock_timeout_seconds, '7');
    assert.equal(f.lead_lock, 'sluice:dh1:lead');
    assert.deepEqual([f['writer_lock[0]'], f['writer_lock[1]']], ['sluice:dh1:writer:db1:3306', 'sluice:dh1:writer:db2:3306']);
    const s = clusterStatus(view, cfg.cluster)!;
    assert.deepEqual([s.role, s.leading, s.seesMajority, s.needed, s.held.length], ['leading', true, true, 2, 3]);
    assert.deepEqual(s.locks.writers, { [W0]: 'sluice:dh1:writer:db1:3306', [W1]: 'sluice:dh1:writer:db2:3306' });
    assert.equal(healthVerdict(view, true, 'write').ok, true);
  });

  test('following: per server who holds the lead lock, where the publication was seen', () => {
    // Another instance (connection 40) holds db1's lead lock and publishes db2 there; db2's is
    // free; db3 does not answer. Two of three reached: a majority to write, not to lead.
    const view = viewAfter(cfg, [[seen(W0, 7, 40, { [W1]: 40 }), seen(W1, 8, null), gone(R0)]]);
    assert.deepEqual(
      objects(backendsTable(view, noPools)).map((r) => [r.lead_lock, r.published_writer]),
      [
        ['other instance', W1],
        ['free', null],
        ['unreachable', null],
      ],
    );
    const hb = objects(heartbeatTable(view));
    assert.deepEqual(hb.map((r) => [r.HOST, r.LEAD_LOCK, r.PUBLISHED_WRITER]), [['db1', 'other instance', W1], ['db2', 'free', null], ['db3', 'unreachable', null]]);
    const f = facts(clusterTable(view, cfg.cluster));
    assert.equal(f.role, 'following');
    assert.match(String(f.leader), /^another instance \(lock connection 40 on db1:3306\)$/);
    assert.deepEqual([f.lead_lock_held_here, f.lead_lock_held_elsewhere, f.reachable, f.unreachable], ['none', W0, 'db1:3306, db2:3306', R0]);
    assert.deepEqual([f.published_writer, f.published_on], [W1, W0]);
    assert.equal(f.writes_refused, null);
    assert.deepEqual(
      clusterStatus(view, cfg.cluster)!.servers,
      [
        { id: W0, leadLock: 'other instance', publishedWriter: W1 },
        { id: W1, leadLock: 'free', publishedWriter: null },
        { id: R0, leadLock: 'unreachable', publishedWriter: null },
      ],
    );
  });

  test('without a majority: writes refused everywhere it is shown, /health 503 for writes, 200 for reads', () => {
    const view = viewAfter(cfg, [[gone(W0), seen(W1, 8, 8), gone(R0)]]);
    assert.ok(view.writesRefused, 'the reducer refuses writes');
    const f = facts(clusterTable(view, cfg.cluster));
    assert.equal(f.role, 'no-majority');
    assert.equal(f.sees_majority, 'no');
    assert.equal(f.unreachable, 'db1:3306, db3:3306');
    assert.match(String(f.writes_refused), /cannot reach a majority .*1 of 3; unreachable: db1:3306, db3:3306/);
    const s = clusterStatus(view, cfg.cluster)!;
    assert.equal(s.writesRefused, view.writesRefused);
    assert.deepEqual(s.servers.map((x) => x.leadLock), ['unreachable', 'this instance', 'unreachable']);

    const write = healthVerdict(view, true, 'write');
    assert.equal(write.ok, false);
    assert.equal(write.body['status'], 'unavailable');
    assert.match(String(write.body['reason']), /^writes refused: .*cannot reach a majority/);
    const read = healthVerdict(view, true, 'read');
    assert.equal(read.ok, true, JSON.stringify(read.body));
    assert.ok((read.body['readable'] as string[]).length > 0);
  });
});

test('SHOW @@CLUSTER and SELECT * FROM cluster parse to the same command', () => {
  assert.deepEqual(parseAdminCommand('SHOW @@CLUSTER'), { kind: 'show-cluster' });
  assert.deepEqual(parseAdminCommand('show @@cluster;'), { kind: 'show-cluster' });
  assert.deepEqual(parseAdminCommand('select * from CLUSTER'), { kind: 'show-cluster' });
});
