/**
 * The reducer's vocabulary (DESIGN §4): the cluster state it owns, the events that may change it
 * and the transitions it reports. Only `reduce` (reduce.ts) produces a new state.
 */
import type { CooperationFacts, HostId, HostRole, HostStatus, HostView, IoState } from './view.js';

export type { CooperationFacts } from './view.js';

/** Facts of one replication probe (what the monitor saw), as kept in the state. */
export interface ReplicationFacts {
  readonly isReplica: boolean;
  /** ioState === 'yes'. */
  readonly ioRunning: boolean;
  readonly ioState: IoState;
  readonly sourceHost: string | undefined;
  readonly sourcePort: number | undefined;
  readonly sqlRunning: boolean;
  readonly lagSeconds: number | null;
  readonly probeError: string | undefined;
  readonly threadError: string | undefined;
  /** The only thread error is the IO thread not reaching its source (monitor.ts). */
  readonly sourceUnreachable?: boolean;
  /**
   * What the replica had received when its IO thread was last seen not connected (its source
   * lost): frozen then, so it can rank failover candidates without a new state per probe.
   */
  readonly receivedGtids: string | undefined;
}

export interface HostState {
  /** Derived from the fields below by the reducer; what routing sees. */
  readonly view: HostView;
  readonly id: HostId;
  readonly host: string;
  readonly port: number;
  readonly role: HostRole;
  readonly index: number;
  readonly weight: number;
  readonly status: HostStatus;
  readonly readOnly: boolean | undefined;
  /** Consecutive failed heartbeats. */
  readonly misses: number;
  readonly lastError: string | undefined;
  /** Last replication probe; undefined = never probed. */
  readonly replication: ReplicationFacts | undefined;
  /** Consecutive healthy replication checks while up (saturates at readmitAfter). */
  readonly healthyChecks: number;
  /** Replication gate: open = replication lets this host serve reads. */
  readonly gateOpen: boolean;
  /** Lag of the most recent probe that knew it (NULL-lag samples keep it); failover uses it. */
  readonly lastKnownLag: number | undefined;
  /** Lost the writer role in this process and not seen replicating since. */
  readonly demoted: boolean;
}

export interface CooperationState {
  readonly instanceName: string;
  /** Undefined until the first round of lock queries. */
  readonly facts: CooperationFacts | undefined;
}

export interface ClusterState {
  readonly dataHost: string;
  readonly balance: 0 | 1 | 2 | 3;
  readonly retries: number;
  readonly failover: { readonly enabled: boolean; readonly promote: boolean };
  readonly replication: { readonly maxLagSeconds: number; readonly readmitAfter: number };
  /** Index into the writeHosts of the active writeHost (persisted in dnindex). */
  readonly writerIndex: number;
  readonly hosts: readonly HostState[];
  readonly version: number;
  /** Why the writer is unusable and was not moved (cleared once it is usable / moved). */
  readonly writerBlocked: string | undefined;
  /** Stable key of `writerBlocked` (without numbers) so a refusal is reported once per cause. */
  readonly writerBlockedKey: string | undefined;
  /** Present when instances cooperate through backend locks (cluster.cooperation). */
  readonly cooperation: CooperationState | undefined;
  /** Set while a planned switchover holds new writes back (why); undefined otherwise. */
  readonly writesPaused: string | undefined;
}

/** A host's state without its derived view: what the reducer's helpers work on. */
export type HostFacts = Omit<HostState, 'view'>;

export type ClusterEvent =
  /** A heartbeat answered; `readOnly` is `@@read_only` (undefined when it could not be read). */
  | { readonly type: 'probe-ok'; readonly hostId: HostId; readonly readOnly: boolean | undefined }
  /** A heartbeat failed or timed out. */
  | { readonly type: 'probe-failed'; readonly hostId: HostId; readonly error: string }
  /**
   * A replication probe (`SHOW REPLICA|SLAVE STATUS`). `isReplica` false = empty result.
   * `error` = the probe itself failed (the other fields are then meaningless: pass false/null).
   * `threadError` = Last_IO_Error / Last_SQL_Error reported by the server.
   * `ioState` = the IO thread state; when absent it is derived from `ioRunning` ('yes' / 'no').
   * `sourceHost` / `sourcePort` = whom the replica follows (Source_Host/Master_Host, _Port); a
   * replica without them is not healthy (its source cannot be checked).
   */
  | {
      readonly type: 'replication';
      readonly hostId: HostId;
      readonly ioRunning: boolean;
      readonly ioState?: IoState;
      readonly sourceHost?: string;
      readonly sourcePort?: number;
      readonly sqlRunning: boolean;
      readonly lagSeconds: number | null;
      readonly isReplica: boolean;
      readonly error?: string;
      readonly threadError?: string;
      readonly sourceUnreachable?: boolean;
      /** Gtid_IO_Pos / Retrieved_Gtid_Set. */
      readonly receivedGtids?: string;
    }
  /** `@@read_only` verified right after the failover effects changed it (promotion / fencing). */
  | { readonly type: 'read-only'; readonly hostId: HostId; readonly readOnly: boolean; readonly reason: string }
  | { readonly type: 'set-offline'; readonly hostId: HostId }
  | { readonly type: 'set-online'; readonly hostId: HostId }
  /** One round of the backend locks (cluster.cooperation): who leads, what it publishes. */
  | { readonly type: 'cooperation'; readonly facts: CooperationFacts }
  /** A planned switchover holds new writes back until `resume-writes` (cluster/switchover.ts). */
  | { readonly type: 'pause-writes'; readonly reason: string }
  | { readonly type: 'resume-writes' }
  /** Manual writer switch (admin `SWITCH @@DATASOURCE dh1:<index>`). */
  | { readonly type: 'switch-writer'; readonly index: number; readonly reason: string }
  /**
   * A backend joins at run time (admin ADD MASTER / ADD SLAVE, a reloaded config): appended to
   * the writeHosts (after the last one) or the readHosts. It starts 'unknown' with its replication
   * gate CLOSED, so it serves reads only after `readmitAfter` healthy checks — unlike start-up,
   * where the first round of probes runs before the proxy listens.
   */
  | { readonly type: 'add-host'; readonly host: string; readonly port: number; readonly role: HostRole; readonly weight: number; readonly reason: string }
  /**
   * A backend leaves (admin REMOVE BACKEND, a reloaded config). Refused for the active writeHost
   * and for writeHosts before it (the dnindex counts positions: it would then name another host).
   */
  | { readonly type: 'remove-host'; readonly hostId: HostId; readonly reason: string }
  /** A backend's weight changes (a reloaded config); weight 0 takes it out of read rotation. */
  | { readonly type: 'set-weight'; readonly hostId: HostId; readonly weight: number; readonly reason: string };

/** A host's heartbeat status changed. */
export interface StatusTransition {
  readonly kind: 'status';
  readonly hostId: HostId;
  readonly from: HostStatus;
  readonly to: HostStatus;
  readonly reason: string;
}

/** A host entered or left read rotation. */
export interface ReadableTransition {
  readonly kind: 'readable';
  readonly hostId: HostId;
  readonly from: boolean;
  readonly to: boolean;
  readonly reason: string;
}

/** The writer role moved (automatic failover or manual switch). `hostId` = the new writer. */
export interface WriterSwitchTransition {
  readonly kind: 'writer-switch';
  readonly hostId: HostId;
  readonly fromIndex: number;
  readonly toIndex: number;
  readonly fromHostId: HostId;
  readonly toHostId: HostId;
  readonly manual: boolean;
  readonly reason: string;
}

/**
 * A writer switch was needed (or asked for) but refused; the writer stays where it is.
 * `hostId` = the current (unusable) writer.
 */
export interface WriterRefusedTransition {
  readonly kind: 'writer-refused';
  readonly hostId: HostId;
  readonly writerIndex: number;
  readonly manual: boolean;
  readonly reason: string;
}

/** A backend joined or left the dataHost (`index` = its position among its role's hosts then). */
export interface TopologyTransition {
  readonly kind: 'host-added' | 'host-removed';
  readonly hostId: HostId;
  readonly role: HostRole;
  readonly index: number;
  readonly reason: string;
}

/** An add-host / remove-host / set-weight was refused; nothing changed. */
export interface TopologyRefusedTransition {
  readonly kind: 'topology-refused';
  readonly hostId: HostId;
  readonly reason: string;
}

/** This instance's place among cooperating instances changed (it leads / follows / lost the majority). */
export interface CooperationTransition {
  readonly kind: 'cooperation';
  readonly hostId: HostId;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
}

export type Transition =
  | CooperationTransition
  | StatusTransition
  | ReadableTransition
  | WriterSwitchTransition
  | WriterRefusedTransition
  | TopologyTransition
  | TopologyRefusedTransition;

/** What one event did to the host it is about (host-step.ts, replication-gate.ts). */
export interface HostStep {
  readonly facts: HostFacts;
  /** Reason for a status transition. */
  readonly statusReason: string;
  /** Reason for a readable change caused by this event, when there is a more precise one. */
  readonly gateReason: string | undefined;
}
