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
   * Whether the host may serve reads right now (status usable, replication healthy, lag under
   * the threshold, weight > 0). Computed by the reducer so routing stays a lookup.
   */
  readonly readable: boolean;
}

export interface ClusterView {
  readonly dataHost: string;
  readonly balance: 0 | 1 | 2 | 3;
  /** Index into the write hosts of the active writeHost (persisted in dnindex). */
  readonly writerIndex: number;
  /** The active writeHost when it can take statements; undefined while it is down. */
  readonly writer: HostView | undefined;
  readonly hosts: readonly HostView[];
  /** Bumped on every change, so caches keyed on the view can tell it moved. */
  readonly version: number;
}
