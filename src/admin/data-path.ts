/**
 * What the admin port and the HTTP endpoints ask of the processes that hold client sessions and
 * backend pools: one process (`workers: 1`) or every worker of the group, answered as one.
 * Structural and asynchronous, so the admin modules import neither the composition roots nor
 * the process group, and a group can answer by asking its workers.
 */
import type { BackendSocketInfo } from '../backend/host-pools.js';
import type { SessionStats } from '../frontend/session-context.js';
import type { StatementStats } from '../frontend/statement-stats.js';
import type { SessionInfo, StatementStat } from './admin-views.js';

/** One backend's pool numbers (summed over workers). */
export interface PoolTotals {
  readonly borrowed: number;
  readonly idle: number;
  readonly waiting: number;
  /** Statements sent to the host since it was added. */
  readonly statements: number;
}

/** One worker process, as the status page lists it. */
export interface WorkerRow {
  /** Worker slot, 1-based (the WORKER column of SHOW @@CONNECTION). */
  readonly worker: number;
  readonly pid: number;
  readonly clientConnections: number;
  readonly statements: number;
  readonly errors: number;
  /** Times this slot's process was replaced after it died. */
  readonly restarts: number;
}

/** Counters of the data path at one moment (summed over workers). */
export interface DataPathSnapshot {
  readonly clientConnections: number;
  readonly stats: SessionStats;
  readonly pools: Readonly<Record<string, PoolTotals>>;
  readonly histogram: StatementStats['histogram'];
  /** One row per worker; empty when one process does everything. */
  readonly workers: readonly WorkerRow[];
}

/** A client session with the worker that holds it (0 when one process does everything). */
export interface SessionRow extends SessionInfo {
  readonly worker: number;
}

export interface DataPath {
  snapshot(): Promise<DataPathSnapshot>;
  sessions(): Promise<readonly SessionRow[]>;
  /** Closes these client connections; returns the ids that existed. */
  terminate(ids: readonly number[]): Promise<readonly number[]>;
  /** Every backend socket by host (SHOW @@BACKEND). */
  backendSockets(): Promise<Readonly<Record<string, readonly BackendSocketInfo[]>>>;
  /** Cuts every connection to the host (SET OFFLINE … FORCE); returns how many were cut. */
  cutHost(hostId: string, reason: string): Promise<number>;
  /** The busiest statement digests (SHOW @@SQL). */
  statementTop(n: number): Promise<readonly StatementStat[]>;
}
