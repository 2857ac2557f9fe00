/**
 * The read-only picture of the backends that routing consumes. Only the cluster store
 * (`cluster/store.ts`, one reducer) produces new views; everybody else reads them.
 */

/** `host:port`, unique within a dataHost. */
export type HostId = string;

export type HostRole = 'write' | 'read';

/**
 * up: heartbeats succeed. down: `retries` consecutive misses. offline: taken out by an operator.
 * unknown: not probed yet (treated as usable until the first verdict, so start-up is not blocked).
 */
export type HostStatus = 'unknown' | 'up' | 'down' | 'offline';

/**
 * State of the replication IO (receiver) thread: `Replica_IO_Running` / `Slave_IO_Running`.
 * 'connecting' = configured to run but not connected to its source (typically: the source died).
 * Such a replica still applies what it received; it is not STOPPED (see cluster/replication-gate.ts).
 */
export type IoState = 'yes' | 'connecting' | 'no';

/** What the last replication probe (`SHOW REPLICA|SLAVE STATUS`) of a host said. */
export interface ReplicationView {
  /** The host has a replication source configured (the status statement returned a row). */
  readonly isReplica: boolean;
  /** IO thread state 'yes' (connected and receiving). */
  readonly ioRunning: boolean;
  readonly ioState: IoState;
  readonly sqlRunning: boolean;
  /** Seconds_Behind_Source / _Master; null when the server does not know (a thread is not running). */
  readonly lagSeconds: number | null;
  /** Source_Host / Master_Host and Source_Port / Master_Port: whom the replica follows. */
  readonly sourceHost?: string;
  readonly sourcePort?: number;
  /** The probe itself failed (timeout, privilege, connection): the facts above are not current. */
  readonly probeError?: string;
  /** Last_IO_Error / Last_SQL_Error when the server reported one. */
  readonly threadError?: string;
  /** That error is only the IO thread not reaching its source (a stale one after the source died). */
  readonly sourceUnreachable?: boolean;
  /** Consecutive healthy checks (running, lag known and within the threshold, following the writeHost) while up. */
  readonly healthyChecks: number;
}

export interface HostView {
  readonly id: HostId;
  readonly host: string;
  readonly port: number;
  /** Configured role: a member of `writeHosts` or of `readHosts`. */
  readonly role: HostRole;
  /** Position in `writeHosts` (role 'write') or `readHosts` (role 'read'). */
  readonly index: number;
  readonly weight: number;
  readonly status: HostStatus;
  /** Last `@@read_only` seen; a read-only host never receives writes. */
  readonly readOnly: boolean | undefined;
  /**
   * Whether the host may serve reads right now. Computed by the reducer so routing stays a
   * lookup:
   *  - status up (or unknown before the first verdict), weight > 0, and
   *  - the active writeHost: nothing else;
   *  - a readHost: its replication gate is open — it closes at once when the host goes DOWN, a
   *    replication thread is STOPPED, the lag is above `replication.maxLagSeconds`, the lag is
   *    unknown, the probe fails, or it replicates from another host than the active writeHost;
   *    and opens again only after `replication.readmitAfter` consecutive healthy checks while up
   *    (hysteresis). An IO thread 'connecting' (its source is unreachable, e.g. the writeHost just
   *    died) with the SQL thread running keeps the gate as it is, judged by the last known lag:
   *    reads do not depend on the writeHost being alive. A readHost that is not a replica at all
   *    (empty status) counts as healthy: a standalone read server;
   *  - a standby writeHost (including a demoted old writer): the same gate, but it must be seen
   *    REPLICATING — a writeHost that is not a replica never serves reads while it is not the
   *    active writer (a returned old master holds data nobody else has, or lacks newer writes).
   */
  readonly readable: boolean;
  /** Last replication facts; absent until the first replication probe. */
  readonly replication?: ReplicationView;
  /** Last heartbeat error (kept after recovery, for status output). */
  readonly lastError?: string;
  /** Consecutive missed heartbeats. */
  readonly misses?: number;
}

export interface ClusterView {
  readonly dataHost: string;
  readonly balance: 0 | 1 | 2 | 3;
  /** Index into the write hosts of the active writeHost (persisted in dnindex). */
  readonly writerIndex: number;
  /**
   * The active writeHost when it can take statements; undefined while it is down or offline
   * (and no switch happened yet, or failover is off / refused).
   */
  readonly writer: HostView | undefined;
  readonly hosts: readonly HostView[];
  /** Bumped on every change, so caches keyed on the view can tell it moved. */
  readonly version: number;
  /** Why the last automatic/manual writer switch was refused, while the writer stays unusable. */
  readonly writerBlocked?: string;
  /**
   * Set while a planned switchover holds new writes back: statements that need the writeHost and
   * are not part of an open transaction wait (bounded by failover.promotionWaitMs).
   */
  readonly writesPaused?: string;
  /** Set while this instance refuses writes: it cannot reach a majority of the servers (cluster.cooperation). */
  readonly writesRefused?: string;
  /** Present when instances cooperate through backend locks: this instance's place and what the locks say. */
  readonly cooperation?: CooperationView;
}

export interface CooperationView {
  readonly instanceName: string;
  readonly role: 'leading' | 'following' | 'no-majority' | 'starting';
  /** The last round of lock queries; absent before the first one. */
  readonly facts?: CooperationFacts;
}

/**
 * What this instance learned from the locks on the backends in one round (cooperation.ts), the
 * only input of the writer role while instances cooperate.
 */
export interface CooperationFacts {
  /** Servers whose lock connection answered this round, in configured order. */
  readonly reachable: readonly HostId[];
  readonly unreachable: readonly HostId[];
  /** Servers on which this instance holds the lead lock. */
  readonly held: readonly HostId[];
  /** Servers on which another instance holds the lead lock (the rest of `reachable` have it free). */
  readonly heldElsewhere: readonly HostId[];
  /** How many servers a majority takes under the rule (of all, or of those reachable). */
  readonly needed: number;
  /** This instance holds the lead lock on a majority: it alone may move the writer and change servers. */
  readonly leading: boolean;
  /** This instance reaches a majority of the servers: it may take writes. */
  readonly seesMajority: boolean;
  /** Who leads, as far as the locks tell (this instance, or another one's lock connection), if anyone. */
  readonly leader: string | undefined;
  /** The writeHost the leading instance publishes (its writer lock), as seen; undefined = none seen. */
  readonly published: HostId | undefined;
  /** Servers on which that publication was seen. */
  readonly publishedOn: readonly HostId[];
}

