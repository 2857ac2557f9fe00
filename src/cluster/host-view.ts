/**
 * A host's facts and the view derived from them (what routing sees), for the reducer (reduce.ts).
 *
 *  - `readable` = status up/unknown, weight > 0, and either it is the active writeHost or its
 *    gate is open. So a standby / demoted writeHost serves reads (balance 1/2) only while it is
 *    seen replicating; a returned old master is never read from just because it answers pings.
 */
import type { HostRole, HostStatus, HostView, ReplicationView } from './view.js';
import type { HostFacts, HostState } from './state.js';

/** A host's first state: status unknown, never probed, gate open (topology.ts closes it for a host added at run time). */
export function hostState(host: string, port: number, role: HostRole, index: number, weight: number, active: boolean): HostState {
  const base = {
    id: `${host}:${port}`,
    host,
    port,
    role,
    index,
    weight,
    status: 'unknown' as HostStatus,
    readOnly: undefined,
    misses: 0,
    lastError: undefined,
    replication: undefined,
    healthyChecks: 0,
    gateOpen: true,
    lastKnownLag: undefined,
    demoted: false,
  };
  return { ...base, view: deriveView(base, active, undefined) };
}

export function isUsable(status: HostStatus): boolean {
  return status === 'up' || status === 'unknown';
}

function readableOf(h: HostFacts, active: boolean): boolean {
  if (!isUsable(h.status) || h.weight <= 0) return false;
  return active || h.gateOpen;
}

/** The view of a host; reuses `prev` when nothing visible changed. */
export function deriveView(h: HostFacts, active: boolean, prev: HostView | undefined): HostView {
  const readable = readableOf(h, active);
  const r = h.replication;
  const replication: ReplicationView | undefined =
    r === undefined
      ? undefined
      : {
          isReplica: r.isReplica,
          ioRunning: r.ioRunning,
          ioState: r.ioState,
          sqlRunning: r.sqlRunning,
          lagSeconds: r.lagSeconds,
          healthyChecks: h.healthyChecks,
          ...(r.sourceHost !== undefined ? { sourceHost: r.sourceHost } : {}),
          ...(r.sourcePort !== undefined ? { sourcePort: r.sourcePort } : {}),
          ...(r.probeError !== undefined ? { probeError: r.probeError } : {}),
          ...(r.threadError !== undefined ? { threadError: r.threadError } : {}),
          ...(r.sourceUnreachable === true ? { sourceUnreachable: true } : {}),
        };
  if (
    prev !== undefined &&
    prev.status === h.status &&
    prev.index === h.index &&
    prev.weight === h.weight &&
    prev.readOnly === h.readOnly &&
    prev.readable === readable &&
    prev.lastError === h.lastError &&
    prev.misses === h.misses &&
    sameReplication(prev.replication, replication)
  ) {
    return prev;
  }
  const view: HostView = {
    id: h.id,
    host: h.host,
    port: h.port,
    role: h.role,
    index: h.index,
    weight: h.weight,
    status: h.status,
    readOnly: h.readOnly,
    readable,
    misses: h.misses,
    ...(replication !== undefined ? { replication } : {}),
    ...(h.lastError !== undefined ? { lastError: h.lastError } : {}),
  };
  return view;
}

function sameReplication(a: ReplicationView | undefined, b: ReplicationView | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return sameReplicationFacts(a, b) && a.healthyChecks === b.healthyChecks;
}

/** What a replication probe reports (the view's facts without the reducer's own count). */
type ReplicationReport = Omit<ReplicationView, 'healthyChecks'>;

/** Whether a replication probe said the same as the last one. */
export function sameReplicationFacts(a: ReplicationReport | undefined, b: ReplicationReport): boolean {
  return (
    a !== undefined &&
    a.isReplica === b.isReplica &&
    a.ioRunning === b.ioRunning &&
    a.ioState === b.ioState &&
    a.sourceHost === b.sourceHost &&
    a.sourcePort === b.sourcePort &&
    a.sqlRunning === b.sqlRunning &&
    a.lagSeconds === b.lagSeconds &&
    a.probeError === b.probeError &&
    a.threadError === b.threadError &&
    a.sourceUnreachable === b.sourceUnreachable &&
    ('receivedGtids' in a ? a.receivedGtids : undefined) === ('receivedGtids' in b ? b.receivedGtids : undefined)
  );
}

export function sameFacts(a: HostFacts, b: HostFacts): boolean {
  return (
    a.status === b.status &&
    a.weight === b.weight &&
    a.readOnly === b.readOnly &&
    a.misses === b.misses &&
    a.lastError === b.lastError &&
    a.replication === b.replication &&
    a.healthyChecks === b.healthyChecks &&
    a.gateOpen === b.gateOpen &&
    a.lastKnownLag === b.lastKnownLag &&
    a.demoted === b.demoted
  );
}

export function factsOf(h: HostState): HostFacts {
  const { view: _view, ...rest } = h;
  return rest;
}
