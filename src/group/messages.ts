/**
 * What the primary and its worker processes say to each other over the node:cluster IPC channel
 * ('advanced' serialization: Maps and typed values cross as they are). The primary owns cluster
 * state and sends it down; workers own sessions and pools and answer questions about them.
 */
import type { SluiceConfig } from '../config/types.js';
import type { ClusterView, HostId } from '../cluster/view.js';
import type { Transition } from '../cluster/state.js';
import type { GtidPosition } from '../cluster/gtid.js';

/** Questions the primary asks a worker (admin port, HTTP endpoints, KILL from another worker). */
export type WorkerQuery =
  | { readonly k: 'snapshot' }
  | { readonly k: 'process-metrics' }
  | { readonly k: 'sessions' }
  | { readonly k: 'terminate'; readonly ids: readonly number[] }
  | { readonly k: 'sockets' }
  | { readonly k: 'cut-host'; readonly hostId: HostId; readonly reason: string }
  | { readonly k: 'statement-top'; readonly n: number }
  | { readonly k: 'kill'; readonly id: number; readonly queryOnly: boolean; readonly user: string | undefined }
  /** Another worker acknowledged this write (consistency: global); answered once merged. */
  | { readonly k: 'acknowledged'; readonly position: GtidPosition };

/** Questions a worker asks the primary. */
export type PrimaryQuery =
  | { readonly k: 'open'; readonly max: number }
  | { readonly k: 'login'; readonly user: string; readonly limit: number }
  /** A password was checked: the answer is the failed-login delay (ms) of (user, address). */
  | { readonly k: 'login-attempt'; readonly user: string; readonly address: string; readonly granted: boolean }
  | { readonly k: 'kill'; readonly id: number; readonly queryOnly: boolean; readonly user: string | undefined }
  /** A write this worker is about to acknowledge (consistency: global); answered once every worker knows it. */
  | { readonly k: 'acknowledged'; readonly position: GtidPosition };

export interface WorkerInit {
  readonly t: 'init';
  /** 1-based slot; a replaced worker takes its predecessor's slot. */
  readonly slot: number;
  readonly workers: number;
  /** First connection id of this worker's block (FrontendServer). */
  readonly firstConnectionId: number;
  readonly config: SluiceConfig;
  readonly view: ClusterView;
  /** What the monitor last read of each host's applied GTIDs. */
  readonly observed: readonly (readonly [HostId, GtidPosition])[];
  /** Every write acknowledged through the group so far (consistency: global). */
  readonly acknowledged: GtidPosition;
}

/** Primary → worker. */
export type ToWorker =
  | WorkerInit
  | { readonly t: 'view'; readonly view: ClusterView; readonly transitions: readonly Transition[] }
  | { readonly t: 'config'; readonly config: SluiceConfig }
  | { readonly t: 'observed'; readonly hostId: HostId; readonly position: GtidPosition }
  /** Every client address refused now (limits.maxConnectErrors); sent whenever the set changes. */
  | { readonly t: 'blocked-hosts'; readonly hosts: readonly string[] }
  | { readonly t: 'req'; readonly id: number; readonly q: WorkerQuery }
  | { readonly t: 'res'; readonly id: number; readonly value?: unknown; readonly error?: string }
  /** Stop accepting, end the sessions, close the pools, exit. */
  | { readonly t: 'drain' };

/** Worker → primary. */
export type ToPrimary =
  /** The worker listens for messages now: the primary sends `init`. */
  | { readonly t: 'hello' }
  | { readonly t: 'ready'; readonly address: { host: string; port: number } }
  /** The worker could not start (`code`: the errno of a listen failure); it exits next. */
  | { readonly t: 'failed'; readonly message: string; readonly code?: string }
  /** Counting without asking (no limit configured): a connection opened / a login / an end. */
  | { readonly t: 'count'; readonly op: 'open' | 'login' | 'close'; readonly user?: string }
  /** A handshake from this address ended in a protocol-level error (limits.maxConnectErrors). */
  | { readonly t: 'connect-error'; readonly address: string }
  | { readonly t: 'req'; readonly id: number; readonly q: PrimaryQuery }
  | { readonly t: 'res'; readonly id: number; readonly value?: unknown; readonly error?: string };

/** The message is one of ours (other modules, e.g. node:cluster itself, use the channel too). */
export function isGroupMessage(m: unknown): m is { t: string } {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
