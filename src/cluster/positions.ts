/**
 * What the proxy knows about how far each backend has applied the writeHost's transactions, and
 * the latest write acknowledged through this proxy (causal reads, session.consistency).
 *
 * Every fact here is a lower bound that was true when it was learned: a replica's
 * `@@gtid_slave_pos` read by the monitor, a GTID a session's wait saw applied there, a GTID an OK
 * packet reported. Merging such facts (the later of two, stream by stream) can never claim more
 * than is true, so the monitor and every session may add to it without coordinating. A monitor
 * reading replaces what was known (a replica rebuilt from a backup goes backwards).
 */
import { covers, mergePositions, EMPTY_POSITION, type GtidPosition } from './gtid.js';
import type { HostId } from './view.js';

export class ReplicaPositions {
  private readonly byHost = new Map<HostId, GtidPosition>();
  private acknowledged: GtidPosition = EMPTY_POSITION;

  /** The monitor read the host's applied position. */
  observed(host: HostId, position: GtidPosition): void {
    this.byHost.set(host, position);
  }

  /** A wait on the host for `position` succeeded: it has applied at least that much. */
  reached(host: HostId, position: GtidPosition): void {
    this.byHost.set(host, mergePositions(this.byHost.get(host) ?? EMPTY_POSITION, position));
  }

  /** Whether the host is known to have applied `need`. */
  covers(host: HostId, need: GtidPosition): boolean {
    return covers(this.byHost.get(host), need);
  }

  position(host: HostId): GtidPosition | undefined {
    return this.byHost.get(host);
  }

  forget(host: HostId): void {
    this.byHost.delete(host);
  }

  /** A write was acknowledged to a client (consistency: global reads wait for it). */
  acknowledge(position: GtidPosition): void {
    this.acknowledged = mergePositions(this.acknowledged, position);
  }

  /** Every host position known, for a process that joins later (a worker starting). */
  entries(): [HostId, GtidPosition][] {
    return [...this.byHost];
  }

  /** Every write acknowledged through this proxy so far. */
  latestAcknowledged(): GtidPosition {
    return this.acknowledged;
  }
}
