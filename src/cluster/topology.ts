/**
 * Hosts joining and leaving the dataHost at run time. Pure; called by the reducer (reduce.ts).
 *
 *  - Hosts join and leave at run time ('add-host' / 'remove-host'): a new host earns read
 *    rotation like a host back from DOWN (closed gate, `readmitAfter` healthy checks); the
 *    active writeHost and writeHosts before it cannot leave (the dnindex records a position).
 */
import { sameEndpoint } from '../config/endpoint.js';
import type { HostId } from './view.js';
import type { ClusterEvent, ClusterState, HostFacts, HostState, Transition } from './state.js';
import { deriveView, factsOf, hostState } from './host-view.js';

/** add-host / remove-host: the host list changes; nothing else does. */
export function reduceTopology(
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
