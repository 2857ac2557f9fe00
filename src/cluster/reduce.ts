/**
 * The one place where host status and the writer role change (DESIGN §1, §4). Pure: state +
 * event → new state and the transitions it caused (for logs, metrics, the data path and the
 * failover effects). The monitor, the admin port and the failover effects only send events;
 * nobody else writes cluster state.
 *
 * Rules (Mycat semantics, then better — see /work/shared/reference/dnindex-and-heartbeat.md),
 * each stated where it is implemented:
 *  - heartbeat status and the operator's offline / online: host-step.ts
 *  - the replication gate (lag, threads, source match, readmitAfter, 'connecting' hold):
 *    replication-gate.ts
 *  - `readable` and the views routing sees: host-view.ts
 *  - the writer role (automatic failover, manual switch, no preemption): writer-election.ts
 *  - hosts joining and leaving at run time: topology.ts
 * This module is the only entry point: it applies those steps in order and reports transitions.
 */
import type { DataHostConfig } from '../config/types.js';
import type { ClusterView, HostId } from './view.js';
import type { ClusterEvent, ClusterState, HostFacts, HostState, Transition } from './state.js';
import { deriveView, factsOf, hostState, isUsable, sameFacts } from './host-view.js';
import { reduceHost } from './host-step.js';
import { closeGate, sourceProblem } from './replication-gate.js';
import { electWriter } from './writer-election.js';
import { reduceTopology } from './topology.js';
import { cooperationRole, reduceCooperation, writesRefusedReason } from './cooperation-rules.js';

/** `cooperation`: this instance's name when instances cooperate (cluster.cooperation), else undefined. */
export function initialState(dh: DataHostConfig, writerIndex = 0, cooperation?: { instanceName: string }): ClusterState {
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
    cooperation: cooperation === undefined ? undefined : { instanceName: cooperation.instanceName, facts: undefined },
    writesPaused: undefined,
  };
}

export function reduce(state: ClusterState, event: ClusterEvent): { state: ClusterState; transitions: Transition[] } {
  if (event.type === 'add-host' || event.type === 'remove-host') return reduceTopology(state, event);
  const transitions: Transition[] = [];
  // 0. A round of the backend locks: the facts, then the writer step below follows the leader.
  const before = state;
  if (event.type === 'cooperation') {
    if (state.cooperation === undefined) return { state, transitions };
    const writerId = state.hosts.find((h) => h.role === 'write' && h.index === state.writerIndex)!.id;
    const r = reduceCooperation(state.cooperation, event.facts, writerId);
    if (r.cooperation === state.cooperation) return { state, transitions };
    state = { ...state, cooperation: r.cooperation };
    transitions.push(...r.transitions);
  }
  if (event.type === 'pause-writes' || event.type === 'resume-writes') {
    const writesPaused = event.type === 'pause-writes' ? event.reason : undefined;
    if (writesPaused === state.writesPaused) return { state, transitions };
    return { state: { ...state, writesPaused, version: state.version + 1 }, transitions };
  }
  const gateReasons = new Map<HostId, string>();
  let facts: HostFacts[] = state.hosts.map(factsOf);

  // 1. The host the event is about.
  if (event.type !== 'switch-writer' && event.type !== 'cooperation') {
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
  const writeHosts = facts.filter((h) => h.role === 'write');
  const writerStep = electWriter(state, event, facts);
  facts = writerStep.facts;
  transitions.push(...writerStep.transitions);
  for (const [hostId, reason] of writerStep.gateReasons) gateReasons.set(hostId, reason);
  const { writerIndex, writerBlocked, writerBlockedKey } = writerStep;

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
  let changed = state !== before || writerIndex !== state.writerIndex || writerBlocked !== state.writerBlocked;
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
  if (!changed) return { state: before, transitions };
  return {
    state: { ...state, hosts, writerIndex, writerBlocked, writerBlockedKey, version: state.version + 1 },
    transitions,
  };
}

/** The read-only view routing consumes. */
export function toView(state: ClusterState): ClusterView {
  const writers = state.hosts.filter((h) => h.role === 'write');
  const writer = writers[state.writerIndex]?.view;
  const usable = writer && isUsable(writer.status) ? writer : undefined;
  const refused = writesRefusedReason(state.cooperation, state.hosts.length);
  const c = state.cooperation;
  return {
    dataHost: state.dataHost,
    balance: state.balance,
    writerIndex: state.writerIndex,
    writer: usable,
    hosts: state.hosts.map((h) => h.view),
    version: state.version,
    ...(state.writerBlocked !== undefined ? { writerBlocked: state.writerBlocked } : {}),
    ...(refused !== undefined ? { writesRefused: refused } : {}),
    ...(state.writesPaused !== undefined ? { writesPaused: state.writesPaused } : {}),
    ...(c !== undefined ? { cooperation: { instanceName: c.instanceName, role: cooperationRole(c), ...(c.facts ? { facts: c.facts } : {}) } } : {}),
  };
}
