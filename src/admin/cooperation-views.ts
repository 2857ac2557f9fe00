/**
 * What the admin port and the HTTP surface say about cooperation between Sluice instances of one
 * dataHost (cluster.cooperation: backend-locks, cluster/cooperation.ts): per server, who holds
 * the lead lock and which writeHost is published there; for the instance, its role, who leads,
 * what it follows and whether it refuses writes. Pure: from a cluster view and the cluster
 * settings, so `SHOW @@CLUSTER`, `SELECT * FROM backends`, `SHOW @@HEARTBEAT`, `/status.json` and
 * the status page all tell the same story.
 */
import { lockName } from '../cluster/cooperation.js';
import type { ClusterView, HostId } from '../cluster/view.js';
import type { ClusterConfig } from '../config/types.js';
import type { AdminTable, Cell } from './admin-table.js';

/** Who holds the lead lock on one server, as this instance's last round of lock queries saw it. */
export type LeadLockState = 'this instance' | 'other instance' | 'free' | 'unreachable';

/**
 * The lead lock on this server; null without cooperation, before the first round, or for a
 * server added since the last round.
 */
export function leadLockOn(view: ClusterView, hostId: HostId): LeadLockState | null {
  const f = view.cooperation?.facts;
  if (f === undefined) return null;
  if (f.unreachable.includes(hostId)) return 'unreachable';
  if (!f.reachable.includes(hostId)) return null;
  if (f.held.includes(hostId)) return 'this instance';
  return f.heldElsewhere.includes(hostId) ? 'other instance' : 'free';
}

/** The writeHost whose publication (its writer lock, held by the lead holder) was seen on this server; else null. */
export function publishedWriterOn(view: ClusterView, hostId: HostId): HostId | null {
  const f = view.cooperation?.facts;
  return f?.published !== undefined && f.publishedOn.includes(hostId) ? f.published : null;
}

export interface ClusterServerStatus {
  readonly id: HostId;
  readonly leadLock: LeadLockState | null;
  readonly publishedWriter: HostId | null;
}

/** `/status.json`'s `cluster` object (null without cooperation). Lists are empty and verdicts null before the first round. */
export interface ClusterStatus {
  readonly cooperation: 'backend-locks';
  readonly instanceName: string;
  readonly role: 'leading' | 'following' | 'no-majority' | 'starting';
  /** Who leads as the locks tell: `this instance (name)` or another instance's lock connection; null when nobody does. */
  readonly leader: string | null;
  readonly leading: boolean | null;
  readonly seesMajority: boolean | null;
  /** The majority rule (cluster.majority) and how many servers it takes now. */
  readonly majority: ClusterConfig['majority'];
  readonly needed: number | null;
  readonly servers: readonly ClusterServerStatus[];
  readonly reachable: readonly HostId[];
  readonly unreachable: readonly HostId[];
  /** Servers on which this instance holds the lead lock. */
  readonly held: readonly HostId[];
  /** Servers on which another instance holds it. */
  readonly heldElsewhere: readonly HostId[];
  /** The writeHost the leader publishes, and the servers it was seen on. */
  readonly published: HostId | null;
  readonly publishedOn: readonly HostId[];
  /** This instance's active writeHost (it follows `published` unless it leads). */
  readonly activeWriter: HostId | null;
  /** Why this instance refuses writes (no majority), else null. */
  readonly writesRefused: string | null;
  readonly lockTimeoutSeconds: number;
  /** The lock names, for operators who look at the servers (`SELECT IS_USED_LOCK(…)`). */
  readonly locks: { readonly lead: string; readonly writers: Readonly<Record<HostId, string>> };
}

function activeWriterId(view: ClusterView): HostId | null {
  return view.hosts.find((h) => h.role === 'write' && h.index === view.writerIndex)?.id ?? null;
}

export function clusterStatus(view: ClusterView, settings: ClusterConfig): ClusterStatus | null {
  const c = view.cooperation;
  if (c === undefined) return null;
  const f = c.facts;
  const writers: Record<HostId, string> = {};
  for (const h of view.hosts) if (h.role === 'write') writers[h.id] = lockName(view.dataHost, `writer:${h.id}`);
  return {
    cooperation: 'backend-locks',
    instanceName: c.instanceName,
    role: c.role,
    leader: f?.leader ?? null,
    leading: f ? f.leading : null,
    seesMajority: f ? f.seesMajority : null,
    majority: settings.majority,
    needed: f ? f.needed : null,
    servers: view.hosts.map((h) => ({ id: h.id, leadLock: leadLockOn(view, h.id), publishedWriter: publishedWriterOn(view, h.id) })),
    reachable: f?.reachable ?? [],
    unreachable: f?.unreachable ?? [],
    held: f?.held ?? [],
    heldElsewhere: f?.heldElsewhere ?? [],
    published: f?.published ?? null,
    publishedOn: f?.publishedOn ?? [],
    activeWriter: activeWriterId(view),
    writesRefused: view.writesRefused ?? null,
    lockTimeoutSeconds: settings.lockTimeoutSeconds,
    locks: { lead: lockName(view.dataHost, 'lead'), writers },
  };
}

const yesNo = (b: boolean | null): string | null => (b === null ? null : b ? 'yes' : 'no');

/**
 * `SHOW @@CLUSTER` / `SELECT * FROM cluster`: one row per fact (FACT, VALUE). Host lists are
 * comma-separated, `none` when empty; NULL means not known yet (before the first round of lock
 * queries) or does not apply. Without cooperation one row: cooperation none.
 */
export function clusterTable(view: ClusterView, settings: ClusterConfig): AdminTable {
  const columns = [{ name: 'FACT' }, { name: 'VALUE' }];
  const s = clusterStatus(view, settings);
  if (s === null) return { columns, rows: [['cooperation', 'none']] };
  const known = s.role !== 'starting';
  const list = (ids: readonly HostId[]): string | null => (known ? (ids.length > 0 ? ids.join(', ') : 'none') : null);
  const rows: (readonly [string, Cell])[] = [
    ['cooperation', s.cooperation],
    ['instance_name', s.instanceName],
    ['role', s.role],
    ['leader', s.leader],
    ['leading', yesNo(s.leading)],
    ['sees_majority', yesNo(s.seesMajority)],
    ['majority', s.majority],
    ['majority_needed', s.needed === null ? null : `${s.needed} of ${s.servers.length}`],
    ['reachable', list(s.reachable)],
    ['unreachable', list(s.unreachable)],
    ['lead_lock_held_here', list(s.held)],
    ['lead_lock_held_elsewhere', list(s.heldElsewhere)],
    ['published_writer', s.published],
    ['published_on', list(s.publishedOn)],
    ['active_writer', s.activeWriter],
    ['writes_refused', s.writesRefused],
    ['lock_timeout_seconds', String(s.lockTimeoutSeconds)],
    ['lead_lock', s.locks.lead],
    ...view.hosts.filter((h) => h.role === 'write').map((h) => [`writer_lock[${h.index}]`, s.locks.writers[h.id] ?? null] as const),
  ];
  return { columns, rows };
}
