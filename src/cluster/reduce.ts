/**
 * The one place where host status and the writer role change (DESIGN §1, §4). Pure: state +
 * event → new state and the transitions it caused (for logs, metrics, the data path and the
 * failover effects). The monitor, the admin port and the failover effects only send events;
 * nobody else writes cluster state.
 *
 * Rules (Mycat semantics, then better — see /work/shared/reference/dnindex-and-heartbeat.md):
 *
 *  - Heartbeat: a host is DOWN after `heartbeat.retries` consecutive misses (a timed-out probe is a
 *    miss), UP again after one success. 'offline' (operator) is sticky until 'set-online'.
 *  - Replication gate (hysteresis, user-pain #10): every replication probe is healthy, holding or
 *    unhealthy. Healthy = the probe worked, the host is a replica of the ACTIVE writeHost, both
 *    threads run (IO 'yes'), and the lag is known and ≤ `replication.maxLagSeconds`; for a
 *    readHost "not a replica at all" is healthy too (a standalone read server); lag NULL / probe
 *    error / stopped thread ('No') / another source is NOT healthy. One unhealthy check (or going
 *    DOWN, or being demoted from the writer role, or a writer switch away from its source) closes
 *    the gate at once; it opens again only after `replication.readmitAfter` consecutive healthy
 *    checks while up (unknown counts as up). Before the first replication check the gate is open
 *    (like status 'unknown': start-up is not blocked; `app.ts` probes once before it listens).
 *  - Holding (user-pain #11): IO thread 'connecting' + SQL thread running + source = the writeHost
 *    means "still replicating, stale by at most what was not received" (its source — usually the
 *    dying writeHost — is unreachable; lag reads NULL then). It keeps the gate as it is, judged by
 *    the LAST KNOWN lag: an open gate stays open while that lag ≤ maxLagSeconds, a closed one
 *    stays closed and its healthy count restarts (never admitted by 'connecting'). A replica never
 *    seen healthy (gate open only because nothing was checked yet) is closed by it. So a dead
 *    writeHost does not take the reads down with it.
 *  - Source check (user-pain #12): a replica is healthy only while it replicates from the active
 *    writeHost (Source_Host/Master_Host + port; 127.0.0.1 / localhost / ::1 are one host, names
 *    compare case-insensitively, no DNS resolution). After a writer switch every replica still
 *    following the old writer leaves rotation at once and returns once re-pointed and seen
 *    healthy. LIMITATION: chained replication (a replica of a replica, e.g. a readHost following
 *    a standby writeHost) is therefore never readable, and a source configured by another name
 *    or address of the writeHost than the one in the config (a DNS name vs its IP) does not
 *    match either.
 *  - `readable` = status up/unknown, weight > 0, and either it is the active writeHost or its
 *    gate is open. So a standby / demoted writeHost serves reads (balance 1/2) only while it is
 *    seen replicating; a returned old master is never read from just because it answers pings.
 *  - Writer switch (automatic): when the active writeHost is DOWN and `failover.enabled`, the
 *    next writeHost after it in configured order (wrapping) that is UP, whose replication is OK
 *    (not a replica, or SQL thread running, replicating from the down writer, and the last known
 *    lag ≤ maxLagSeconds — the IO thread of a replica of a dead master is "Connecting", so the
 *    lag seen while the master was alive counts, as in Mycat switchType 2; the same rule as the
 *    'connecting' hold of the read gate) and that is writable (`readOnly === false`) or
 *    `failover.promote` is on. A writeHost demoted by a switch in this process is not a candidate
 *    until seen replicating again (it lacks the writes made since). No candidate: the writer
 *    stays unusable (`view.writer` undefined) and a 'writer-refused' transition says why (once
 *    per distinct reason). Evaluated on every event while the writer is DOWN, so a candidate
 *    that becomes eligible later is taken then.
 *  - No preemption: a recovered old writeHost never takes the role back; only a new outage of
 *    the active writer or a manual `switch-writer` moves it.
 *  - Manual switch (`SWITCH @@DATASOURCE dh1:1`): any writeHost index in range that is not down
 *    or offline, whatever failover.enabled says (Mycat's MANAGER switch).
 *  - An operator taking the active writer offline does not trigger a switch (use a manual one).
 *  - Hosts join and leave at run time ('add-host' / 'remove-host'): a new host earns read
 *    rotation like a host back from DOWN (closed gate, `readmitAfter` healthy checks); the
 *    active writeHost and writeHosts before it cannot leave (the dnindex records a position).
 */
import type { DataHostConfig } from '../config/types.js';
import { sameEndpoint } from '../config/endpoint.js';
import type { ClusterView, HostId, HostRole, HostStatus, HostView, IoState, ReplicationView } from './view.js';
import type { ClusterEvent, ClusterState, HostFacts, HostState, ReplicationFacts, Transition } from './state.js';

export function initialState(dh: DataHostConfig, writerIndex = 0): ClusterState {
  if (!Number.isInteger(writerIndex) || writerIndex < 0 || writerIndex >= dh.writeHosts.length) {
    throw new RangeError(`writer index ${writerIndex} is out of range (dataHost ${dh.name} has ${dh.writeHosts.length} writeHosts)`);
  }
  const hosts: HostState[] = [];
  dh.writeHosts.forEach((h, index) => hosts.push(hostState(h.host, h.port, 'write', index, h.weight, index === writerIndex)));
  dh.readHosts.forEach((h, index) => hosts.push(hostState(h.host, h.port, 'read', index, h.weight, false)));
  return {
    dataHost: dh.name,
    balance: dh.balance,
    retries: dh.heartbeat.retries,
    failover: { enabled: dh.failover.enabled, promote: dh.failover.promote },
    replication: { maxLagSeconds: dh.replication.maxLagSeconds, readmitAfter: dh.replication.readmitAfter },
    writerIndex,
    hosts,
    version: 1,
    writerBlocked: undefined,
    writerBlockedKey: undefined,
  };
}

function hostState(host: string, port: number, role: HostRole, index: number, weight: number, active: boolean): HostState {
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


function isUsable(status: HostStatus): boolean {
  return status === 'up' || status === 'unknown';
}

function readableOf(h: HostFacts, active: boolean): boolean {
  if (!isUsable(h.status) || h.weight <= 0) return false;
  return active || h.gateOpen;
}

/** The view of a host; reuses `prev` when nothing visible changed. */
function deriveView(h: HostFacts, active: boolean, prev: HostView | undefined): HostView {
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
  return (
    a.isReplica === b.isReplica &&
    a.ioRunning === b.ioRunning &&
    a.ioState === b.ioState &&
    a.sourceHost === b.sourceHost &&
    a.sourcePort === b.sourcePort &&
    a.sqlRunning === b.sqlRunning &&
    a.lagSeconds === b.lagSeconds &&
    a.healthyChecks === b.healthyChecks &&
    a.probeError === b.probeError &&
    a.threadError === b.threadError
  );
}

function sameFacts(a: HostFacts, b: HostFacts): boolean {
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


/**
 * Why a replica's source is not the active writeHost `writer`; undefined = it is (or the host is
 * not a replica). Chained replication (source = another replica) is reported here too.
 */
function sourceProblem(f: ReplicationFacts, writer: HostFacts): string | undefined {
  if (!f.isReplica || f.probeError !== undefined) return undefined;
  if (f.sourceHost === undefined || f.sourcePort === undefined) {
    return `replication source unknown (no Source_Host/Master_Host and port reported), cannot check it replicates from the writeHost ${writer.id}`;
  }
  if (sameEndpoint(f.sourceHost, f.sourcePort, writer.host, writer.port)) return undefined;
  return `replicates from ${f.sourceHost}:${f.sourcePort}, not from the writeHost ${writer.id}`;
}

type Assessment =
  | { readonly kind: 'healthy' }
  /** IO 'connecting' with a usable last known lag: keep the gate as it is. */
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'unhealthy'; readonly reason: string };

/** Judges one replication sample (`lastKnownLag` already updated with it). */
function assess(f: ReplicationFacts, role: HostRole, maxLag: number, lastKnownLag: number | undefined, writer: HostFacts): Assessment {
  const bad = (reason: string): Assessment => ({ kind: 'unhealthy', reason });
  if (f.probeError !== undefined) return bad(`replication probe failed: ${f.probeError}`);
  if (!f.isReplica) return role === 'read' ? { kind: 'healthy' } : bad('not replicating (no replication source configured)');
  const err = f.threadError ? ` (${f.threadError})` : '';
  if (f.ioState === 'no' && !f.sqlRunning) return bad(`replication stopped: IO and SQL threads not running${err}`);
  if (f.ioState === 'no') return bad(`replication IO thread not running${err}`);
  if (!f.sqlRunning) return bad(`replication SQL thread not running${err}`);
  const source = sourceProblem(f, writer);
  if (source !== undefined) return bad(source);
  if (f.ioState === 'connecting') {
    const lag = f.lagSeconds ?? lastKnownLag;
    if (lag === undefined) return bad(`replication IO thread connecting to its source${err} and lag never known`);
    if (lag > maxLag) return bad(`replication IO thread connecting to its source${err}; last known lag ${lag} s > maxLagSeconds ${maxLag}`);
    return { kind: 'hold', reason: `replication IO thread connecting to its source${err}; last known lag ${lag} s` };
  }
  if (f.lagSeconds === null) return bad('replication lag unknown (NULL)');
  if (f.lagSeconds > maxLag) return bad(`replication lag ${f.lagSeconds} s > maxLagSeconds ${maxLag}`);
  return { kind: 'healthy' };
}

interface HostStep {
  readonly facts: HostFacts;
  /** Reason for a status transition. */
  readonly statusReason: string;
  /** Reason for a readable change caused by this event, when there is a more precise one. */
  readonly gateReason: string | undefined;
}

function closeGate(h: HostFacts): HostFacts {
  return h.gateOpen || h.healthyChecks !== 0 ? { ...h, gateOpen: false, healthyChecks: 0 } : h;
}

/** `writer` = the active writeHost before this event (replication sources are checked against it). */
function reduceHost(h: HostFacts, event: ClusterEvent, state: ClusterState, writer: HostFacts): HostStep {
  switch (event.type) {
    case 'probe-ok': {
      const status: HostStatus = h.status === 'offline' ? 'offline' : 'up';
      return {
        facts: { ...h, status, readOnly: event.readOnly, misses: 0 },
        statusReason: 'heartbeat ok',
        gateReason: undefined,
      };
    }
    case 'probe-failed': {
      const misses = h.misses + 1;
      const status: HostStatus = h.status === 'offline' ? 'offline' : misses >= state.retries ? 'down' : h.status;
      let next: HostFacts = { ...h, status, misses, lastError: event.error };
      // Back from DOWN only through replication checks again (DESIGN §4).
      if (status === 'down') next = closeGate(next);
      return {
        facts: next,
        statusReason: `${misses} consecutive heartbeat misses (retries ${state.retries}); last: ${event.error}`,
        gateReason: status === 'down' ? 'host is down' : undefined,
      };
    }
    case 'replication': {
      const ok = event.error === undefined;
      const ioState: IoState = !ok ? 'no' : (event.ioState ?? (event.ioRunning ? 'yes' : 'no'));
      const facts: ReplicationFacts = {
        isReplica: ok && event.isReplica,
        ioRunning: ioState === 'yes',
        ioState,
        sourceHost: ok && event.isReplica ? event.sourceHost : undefined,
        sourcePort: ok && event.isReplica ? event.sourcePort : undefined,
        sqlRunning: ok && event.sqlRunning,
        lagSeconds: ok ? event.lagSeconds : null,
        probeError: event.error,
        threadError: ok && event.threadError ? event.threadError : undefined,
      };
      const { maxLagSeconds, readmitAfter } = state.replication;
      let lastKnownLag = h.lastKnownLag;
      if (facts.probeError === undefined) {
        if (!facts.isReplica) lastKnownLag = undefined;
        else if (facts.lagSeconds !== null) lastKnownLag = facts.lagSeconds;
      }
      const verdict = assess(facts, h.role, maxLagSeconds, lastKnownLag, writer);
      const replication = sameReplicationFacts(h.replication, facts) ? h.replication : facts;
      if (verdict.kind === 'hold') {
        // Seen healthy before (an open gate with replication facts): stays open, count kept.
        // Otherwise (closed, or open only because never checked): closed, count restarts.
        if (h.gateOpen && h.replication !== undefined) {
          return { facts: { ...h, replication, lastKnownLag }, statusReason: verdict.reason, gateReason: undefined };
        }
        const reason = `${verdict.reason}: not admitted until seen replicating`;
        return { facts: { ...h, replication, lastKnownLag, gateOpen: false, healthyChecks: 0 }, statusReason: reason, gateReason: reason };
      }
      if (verdict.kind === 'unhealthy') {
        return {
          facts: { ...h, replication, lastKnownLag, gateOpen: false, healthyChecks: 0 },
          statusReason: verdict.reason,
          gateReason: verdict.reason,
        };
      }
      const counting = isUsable(h.status);
      const healthyChecks = counting ? Math.min(h.healthyChecks + 1, readmitAfter) : 0;
      const opens = !h.gateOpen && counting && healthyChecks >= readmitAfter;
      const seenReplicating = facts.isReplica;
      return {
        facts: {
          ...h,
          replication,
          lastKnownLag,
          healthyChecks,
          gateOpen: h.gateOpen || opens,
          demoted: h.demoted && !(seenReplicating && (h.gateOpen || opens)),
        },
        statusReason: 'replication healthy',
        gateReason: opens ? `replication healthy for ${healthyChecks} consecutive checks (readmitAfter ${readmitAfter})` : undefined,
      };
    }
    case 'read-only':
      return { facts: { ...h, readOnly: event.readOnly }, statusReason: event.reason, gateReason: undefined };
    case 'set-offline':
      return { facts: { ...h, status: 'offline' }, statusReason: 'set offline by operator', gateReason: 'set offline by operator' };
    case 'set-online':
      return h.status !== 'offline'
        ? { facts: h, statusReason: '', gateReason: undefined }
        : { facts: { ...h, status: 'unknown', misses: 0 }, statusReason: 'set online by operator', gateReason: undefined };
    case 'set-weight':
      return { facts: { ...h, weight: event.weight }, statusReason: event.reason, gateReason: `weight ${h.weight} → ${event.weight}` };
    case 'switch-writer':
    case 'add-host':
    case 'remove-host':
      return { facts: h, statusReason: '', gateReason: undefined };
  }
}

function sameReplicationFacts(a: ReplicationFacts | undefined, b: ReplicationFacts): boolean {
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
    a.threadError === b.threadError
  );
}

/**
 * Why writeHost `c` cannot take over automatically from the (down) writeHost `writer`; undefined
 * = it can. `code` is stable. The IO thread state is not looked at: a replica of a dead writer
 * shows 'connecting' (or 'no' after slave_net_timeout on some versions); what counts is that the
 * SQL thread applies, it follows `writer`, and the last known lag.
 */
function candidateProblem(c: HostFacts, state: ClusterState, writer: HostFacts): { code: string; text: string } | undefined {
  if (c.status !== 'up') {
    return { code: c.status, text: c.status === 'unknown' ? 'not probed yet' : `is ${c.status}` };
  }
  if (c.readOnly !== false && !state.failover.promote) {
    return c.readOnly === true
      ? { code: 'read-only', text: 'is read-only (read_only=ON) and failover.promote is off' }
      : { code: 'read-only-unknown', text: '@@read_only unknown and failover.promote is off' };
  }
  const r = c.replication;
  if (r === undefined) return { code: 'repl-unknown', text: 'replication state not known yet' };
  if (r.probeError !== undefined) return { code: 'repl-probe', text: `replication probe failed: ${r.probeError}` };
  if (!r.isReplica) {
    if (c.demoted) {
      return { code: 'demoted', text: 'was demoted from the writer role and has not been seen replicating since (it lacks newer writes)' };
    }
    return undefined;
  }
  if (!r.sqlRunning) {
    return { code: 'sql-stopped', text: `replication SQL thread not running${r.threadError ? ` (${r.threadError})` : ''}` };
  }
  const source = sourceProblem(r, writer);
  if (source !== undefined) return { code: 'source', text: source };
  if (c.lastKnownLag === undefined) return { code: 'lag-unknown', text: 'replication lag never known' };
  if (c.lastKnownLag > state.replication.maxLagSeconds) {
    return { code: 'lagging', text: `lags ${c.lastKnownLag} s (maxLagSeconds ${state.replication.maxLagSeconds})` };
  }
  return undefined;
}

/** add-host / remove-host: the host list changes; nothing else does. */
function reduceTopology(
  state: ClusterState,
  event: Extract<ClusterEvent, { type: 'add-host' | 'remove-host' }>,
): { state: ClusterState; transitions: Transition[] } {
  const refuse = (hostId: HostId, reason: string) => ({ state, transitions: [{ kind: 'topology-refused' as const, hostId, reason }] });
  if (event.type === 'add-host') {
    const id = `${event.host}:${event.port}`;
    const known = state.hosts.find((h) => sameEndpoint(h.host, h.port, event.host, event.port));
    if (known) return refuse(id, `backend ${id} is already ${known.role === 'write' ? 'writeHost' : 'readHost'} ${known.index} (${known.id})`);
    if (!Number.isInteger(event.weight) || event.weight < 0) return refuse(id, `invalid weight ${event.weight}`);
    const index = state.hosts.filter((h) => h.role === event.role).length;
    const fresh = hostState(event.host, event.port, event.role, index, event.weight, false);
    const facts: HostFacts = { ...factsOf(fresh), gateOpen: false };
    const added: HostState = { ...facts, view: deriveView(facts, false, undefined) };
    // writeHosts stay before readHosts (the order of the config, and of backend_ndx after a restart).
    const at = event.role === 'write' ? state.hosts.filter((h) => h.role === 'write').length : state.hosts.length;
    const hosts = [...state.hosts.slice(0, at), added, ...state.hosts.slice(at)];
    return {
      state: { ...state, hosts, version: state.version + 1 },
      transitions: [{ kind: 'host-added', hostId: added.id, role: event.role, index, reason: event.reason }],
    };
  }
  const gone = state.hosts.find((h) => h.id === event.hostId);
  if (!gone) return refuse(event.hostId, `no backend ${event.hostId}`);
  if (gone.role === 'write' && gone.index === state.writerIndex) {
    return refuse(gone.id, `backend ${gone.id} is the active writeHost: switch the writer to another writeHost first`);
  }
  if (gone.role === 'write' && gone.index < state.writerIndex) {
    return refuse(
      gone.id,
      `backend ${gone.id} is writeHost ${gone.index}, before the active writeHost ${state.writerIndex}: removing it would shift the index the dnindex records onto another host`,
    );
  }
  const hosts = state.hosts
    .filter((h) => h !== gone)
    .map((h) => {
      if (h.role !== gone.role || h.index < gone.index) return h;
      const facts: HostFacts = { ...factsOf(h), index: h.index - 1 };
      const active = h.role === 'write' && facts.index === state.writerIndex;
      return { ...facts, view: deriveView(facts, active, undefined) };
    });
  return {
    state: { ...state, hosts, version: state.version + 1 },
    transitions: [{ kind: 'host-removed', hostId: gone.id, role: gone.role, index: gone.index, reason: event.reason }],
  };
}

export function reduce(state: ClusterState, event: ClusterEvent): { state: ClusterState; transitions: Transition[] } {
  if (event.type === 'add-host' || event.type === 'remove-host') return reduceTopology(state, event);
  const transitions: Transition[] = [];
  const gateReasons = new Map<HostId, string>();
  let facts: HostFacts[] = state.hosts.map(factsOf);

  // 1. The host the event is about.
  if (event.type !== 'switch-writer') {
    const i = facts.findIndex((h) => h.id === event.hostId);
    const h = facts[i];
    if (h === undefined && event.type === 'set-weight') {
      return { state, transitions: [{ kind: 'topology-refused', hostId: event.hostId, reason: `no backend ${event.hostId}` }] };
    }
    if (h !== undefined) {
      const writer = facts.find((x) => x.role === 'write' && x.index === state.writerIndex)!;
      const step = reduceHost(h, event, state, writer);
      if (!sameFacts(h, step.facts)) {
        facts = facts.map((x, j) => (j === i ? step.facts : x));
        if (step.facts.status !== h.status) {
          transitions.push({ kind: 'status', hostId: h.id, from: h.status, to: step.facts.status, reason: step.statusReason });
        }
        if (step.gateReason !== undefined) gateReasons.set(h.id, step.gateReason);
      }
    }
  }

  // 2. The writer role.
  let writerIndex = state.writerIndex;
  let writerBlocked = state.writerBlocked;
  let writerBlockedKey = state.writerBlockedKey;
  const writeHosts = facts.filter((h) => h.role === 'write');
  const switchTo = (to: number, manual: boolean, reason: string): void => {
    const from = writerIndex;
    const oldW = writeHosts[from]!;
    const newW = writeHosts[to]!;
    facts = facts.map((h) => {
      if (h.id === oldW.id) return { ...closeGate(h), demoted: true };
      if (h.id === newW.id) return h.demoted ? { ...h, demoted: false } : h;
      return h;
    });
    gateReasons.set(oldW.id, 'demoted: no longer the active writeHost (readable again once seen replicating)');
    writerIndex = to;
    writerBlocked = undefined;
    writerBlockedKey = undefined;
    transitions.push({
      kind: 'writer-switch',
      hostId: newW.id,
      fromIndex: from,
      toIndex: to,
      fromHostId: oldW.id,
      toHostId: newW.id,
      manual,
      reason,
    });
  };
  const refuse = (manual: boolean, key: string, reason: string): void => {
    const current = writeHosts[writerIndex]!;
    if (!manual) {
      if (key === writerBlockedKey) return;
      writerBlocked = reason;
      writerBlockedKey = key;
    }
    transitions.push({ kind: 'writer-refused', hostId: current.id, writerIndex, manual, reason });
  };

  if (event.type === 'switch-writer') {
    const target = writeHosts[event.index];
    if (!Number.isInteger(event.index) || target === undefined) {
      refuse(true, 'range', `manual switch to writeHost index ${event.index} refused: dataHost ${state.dataHost} has writeHosts 0-${writeHosts.length - 1}`);
    } else if (event.index === writerIndex) {
      refuse(true, 'same', `manual switch refused: writeHost ${event.index} (${target.id}) is already the active writeHost`);
    } else if (target.status === 'down' || target.status === 'offline') {
      refuse(true, target.status, `manual switch to writeHost ${event.index} (${target.id}) refused: it is ${target.status}`);
    } else {
      const notes: string[] = [];
      if (target.readOnly === true && !state.failover.promote) notes.push('it is read_only=ON and failover.promote is off: writes fail until read_only is turned off');
      switchTo(event.index, true, `${event.reason || 'manual switch'}${notes.length > 0 ? ` (warning: ${notes.join('; ')})` : ''}`);
    }
  } else {
    const w = writeHosts[writerIndex]!;
    if (w.status === 'down') {
      if (!state.failover.enabled) {
        refuse(false, 'disabled', `writeHost ${writerIndex} (${w.id}) is down and failover is disabled (failover.enabled: false)`);
      } else if (writeHosts.length < 2) {
        refuse(false, 'single', `writeHost ${writerIndex} (${w.id}) is down and there is no other writeHost to switch to`);
      } else {
        const problems: { id: string; index: number; code: string; text: string }[] = [];
        let chosen: number | undefined;
        for (let k = 1; k < writeHosts.length; k++) {
          const idx = (writerIndex + k) % writeHosts.length;
          const c = writeHosts[idx]!;
          const p = candidateProblem(c, state, w);
          if (p === undefined) {
            chosen = idx;
            break;
          }
          problems.push({ id: c.id, index: idx, ...p });
        }
        if (chosen !== undefined) {
          const c = writeHosts[chosen]!;
          const skipped = problems.map((p) => `${p.index} (${p.id}) ${p.text}`).join('; ');
          const how = c.readOnly !== false ? ', to be promoted (failover.promote)' : '';
          switchTo(
            chosen,
            false,
            `writeHost ${writerIndex} (${w.id}) is down: ${w.lastError ?? 'heartbeat misses'}; switching to ${chosen} (${c.id})${how}${skipped ? `; skipped ${skipped}` : ''}`,
          );
        } else {
          const onlyReadOnly = problems.length > 0 && problems.every((p) => p.code === 'read-only');
          refuse(
            false,
            problems.map((p) => `${p.id}:${p.code}`).join(','),
            `writeHost ${writerIndex} (${w.id}) is down and no writeHost can take over: ` +
              problems.map((p) => `${p.index} (${p.id}) ${p.text}`).join('; ') +
              (onlyReadOnly ? ' — set failover.promote: true to let Sluice promote a read-only writeHost' : ''),
          );
        }
      }
    } else if (writerBlocked !== undefined && isUsable(w.status)) {
      writerBlocked = undefined;
      writerBlockedKey = undefined;
    }
  }

  // 2b. The writer moved: replicas that follow another host than the new writer leave rotation
  //     now, not at their next probe (split-brain of reads, user-pain #12).
  if (writerIndex !== state.writerIndex) {
    const newW = writeHosts[writerIndex]!;
    facts = facts.map((h) => {
      if (h.id === newW.id || h.replication === undefined) return h;
      const p = sourceProblem(h.replication, newW);
      if (p === undefined) return h;
      const closed = closeGate(h);
      if (closed !== h && !gateReasons.has(h.id)) gateReasons.set(h.id, `writer switched: ${p}`);
      return closed;
    });
  }

  // 3. Views and readable transitions.
  let changed = writerIndex !== state.writerIndex || writerBlocked !== state.writerBlocked;
  const activeId = writeHosts[writerIndex]!.id;
  const hosts = facts.map((f, i) => {
    const old = state.hosts[i]!;
    if (sameFacts(f, old)) {
      const active = f.id === activeId;
      const wasActive = state.writerIndex === old.index && old.role === 'write';
      if (active === wasActive) return old;
    }
    const view = deriveView(f, f.id === activeId, old.view);
    if (view.readable !== old.view.readable) {
      transitions.push({
        kind: 'readable',
        hostId: f.id,
        from: old.view.readable,
        to: view.readable,
        reason:
          f.id === activeId && old.role === 'write' && state.writerIndex !== old.index
            ? 'became the active writeHost'
            : (gateReasons.get(f.id) ?? (isUsable(f.status) ? `status ${f.status}` : `host is ${f.status}`)),
      });
    }
    changed = true;
    return { ...f, view };
  });
  if (!changed) return { state, transitions };
  return {
    state: { ...state, hosts, writerIndex, writerBlocked, writerBlockedKey, version: state.version + 1 },
    transitions,
  };
}

function factsOf(h: HostState): HostFacts {
  const { view: _view, ...rest } = h;
  return rest;
}

/** The read-only view routing consumes. */
export function toView(state: ClusterState): ClusterView {
  const writers = state.hosts.filter((h) => h.role === 'write');
  const writer = writers[state.writerIndex]?.view;
  const usable = writer && isUsable(writer.status) ? writer : undefined;
  return {
    dataHost: state.dataHost,
    balance: state.balance,
    writerIndex: state.writerIndex,
    writer: usable,
    hosts: state.hosts.map((h) => h.view),
    version: state.version,
    ...(state.writerBlocked !== undefined ? { writerBlocked: state.writerBlocked } : {}),
  };
}
