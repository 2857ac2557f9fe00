/**
 * The one place where host status changes (DESIGN §1, §4). Pure: state + event → new state and
 * the transitions it caused (for logs and metrics). The monitor and the admin port only send
 * events; nobody else writes host status.
 */
import type { DataHostConfig } from '../config/types.js';
import type { ClusterView, HostStatus, HostView } from './view.js';

export interface HostState {
  readonly view: HostView;
  /** Consecutive failed probes. */
  readonly misses: number;
  readonly lastError: string | undefined;
}

export interface ClusterState {
  readonly dataHost: string;
  readonly balance: 0 | 1 | 2 | 3;
  readonly retries: number;
  readonly writerIndex: number;
  readonly hosts: readonly HostState[];
  readonly version: number;
}

export type ClusterEvent =
  | { readonly type: 'probe-ok'; readonly hostId: string; readonly readOnly: boolean | undefined }
  | { readonly type: 'probe-failed'; readonly hostId: string; readonly error: string }
  | { readonly type: 'set-offline'; readonly hostId: string }
  | { readonly type: 'set-online'; readonly hostId: string };

export interface Transition {
  readonly hostId: string;
  readonly from: HostStatus;
  readonly to: HostStatus;
  readonly reason: string;
}

export function initialState(dh: DataHostConfig, writerIndex = 0): ClusterState {
  const hosts: HostState[] = [];
  dh.writeHosts.forEach((h, index) => hosts.push(hostState(h.host, h.port, 'write', index, h.weight)));
  dh.readHosts.forEach((h, index) => hosts.push(hostState(h.host, h.port, 'read', index, h.weight)));
  return { dataHost: dh.name, balance: dh.balance, retries: dh.heartbeat.retries, writerIndex, hosts, version: 1 };
}

function hostState(host: string, port: number, role: 'write' | 'read', index: number, weight: number): HostState {
  const view: HostView = {
    id: `${host}:${port}`,
    host,
    port,
    role,
    index,
    weight,
    status: 'unknown',
    readOnly: undefined,
    readable: weight > 0,
  };
  return { view, misses: 0, lastError: undefined };
}

export function reduce(state: ClusterState, event: ClusterEvent): { state: ClusterState; transitions: Transition[] } {
  const transitions: Transition[] = [];
  let changed = false;
  const hosts = state.hosts.map((h) => {
    if (h.view.id !== event.hostId) return h;
    const next = reduceHost(h, event, state.retries);
    if (next !== h) {
      changed = true;
      if (next.view.status !== h.view.status) {
        transitions.push({ hostId: h.view.id, from: h.view.status, to: next.view.status, reason: reasonOf(event) });
      }
    }
    return next;
  });
  if (!changed) return { state, transitions };
  return { state: { ...state, hosts, version: state.version + 1 }, transitions };
}

function reduceHost(h: HostState, event: ClusterEvent, retries: number): HostState {
  const v = h.view;
  switch (event.type) {
    case 'probe-ok': {
      const status: HostStatus = v.status === 'offline' ? 'offline' : 'up';
      if (status === v.status && event.readOnly === v.readOnly && h.misses === 0) return h;
      return { view: withStatus({ ...v, readOnly: event.readOnly }, status), misses: 0, lastError: h.lastError };
    }
    case 'probe-failed': {
      const misses = h.misses + 1;
      const status: HostStatus = v.status === 'offline' ? 'offline' : misses >= retries ? 'down' : v.status;
      return { view: withStatus(v, status), misses, lastError: event.error };
    }
    case 'set-offline':
      return v.status === 'offline' ? h : { ...h, view: withStatus(v, 'offline') };
    case 'set-online':
      return v.status !== 'offline' ? h : { ...h, misses: 0, view: withStatus(v, 'unknown') };
  }
}

function withStatus(v: HostView, status: HostStatus): HostView {
  const readable = (status === 'up' || status === 'unknown') && v.weight > 0;
  if (v.status === status && v.readable === readable) return v;
  return { ...v, status, readable };
}

function reasonOf(event: ClusterEvent): string {
  switch (event.type) {
    case 'probe-ok':
      return 'heartbeat ok';
    case 'probe-failed':
      return `heartbeat failed: ${event.error}`;
    case 'set-offline':
      return 'set offline by operator';
    case 'set-online':
      return 'set online by operator';
  }
}

/** The read-only view routing consumes. */
export function toView(state: ClusterState): ClusterView {
  const writers = state.hosts.filter((h) => h.view.role === 'write');
  const writer = writers[state.writerIndex]?.view;
  const usable = writer && (writer.status === 'up' || writer.status === 'unknown') ? writer : undefined;
  return {
    dataHost: state.dataHost,
    balance: state.balance,
    writerIndex: state.writerIndex,
    writer: usable,
    hosts: state.hosts.map((h) => h.view),
    version: state.version,
  };
}
