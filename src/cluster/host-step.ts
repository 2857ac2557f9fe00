/**
 * What one event does to the host it is about (heartbeat status, operator actions, weight,
 * read_only); replication probes go to the replication gate. Pure; the reducer (reduce.ts) applies
 * the step and derives views and transitions from it.
 *
 *  - Heartbeat: a host is DOWN after `heartbeat.retries` consecutive misses (a timed-out probe is a
 *    miss), UP again after one success. 'offline' (operator) is sticky until 'set-online'.
 */
import type { HostStatus } from './view.js';
import type { ClusterEvent, ClusterState, HostFacts, HostStep } from './state.js';
import { closeGate, replicationStep } from './replication-gate.js';

/** `writer` = the active writeHost before this event (replication sources are checked against it). */
export function reduceHost(h: HostFacts, event: ClusterEvent, state: ClusterState, writer: HostFacts): HostStep {
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
    case 'replication':
      return replicationStep(h, event, state, writer);
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
    case 'cooperation':
    case 'pause-writes':
    case 'resume-writes':
    case 'add-host':
    case 'remove-host':
      return { facts: h, statusReason: '', gateReason: undefined };
  }
}
