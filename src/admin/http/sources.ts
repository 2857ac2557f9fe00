/**
 * What the HTTP operations surface reads from a running Sluice. Structural, so the HTTP modules
 * do not import the composition roots (app.ts, the process group) and tests can hand in fakes.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ClusterStore } from '../../cluster/store.js';
import type { ClusterConfig } from '../../config/types.js';
import type { DataPath } from '../data-path.js';

/** prom-client's JSON form of a registry's metrics (`Registry.getMetricsAsJSON`). */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** What the planned switchovers of this process did (cluster/switchover.ts). */
export interface SwitchoverStats {
  readonly done: number;
  /** Failed after writes were held (the old writeHost was put back). */
  readonly failed: number;
  /** Stopped before holding any write (a precondition, or the catch-up). */
  readonly refused: number;
  /** How long writes were held in the last one that was done (ms); undefined before the first. */
  readonly lastPausedMs: number | undefined;
}

export interface HttpSources {
  readonly cluster: ClusterStore;
  /** The running cluster section (cooperation with other instances; it changes only at a restart). */
  clusterConfig(): ClusterConfig;
  /** Planned switchovers so far (admin SWITCHOVER and friends). */
  switchovers(): SwitchoverStats;
  /** Whether the MySQL front end is listening (accepting client connections). */
  accepting(): boolean;
  /** Sessions, counters and pools of the processes that hold client sessions, summed. */
  readonly dataPath: Pick<DataPath, 'snapshot'>;
  /**
   * The process metrics (CPU, memory, event loop) of the other processes of the group — the
   * workers — to be aggregated with this process's (prom-client AggregatorRegistry); absent when
   * one process does everything.
   */
  processMetrics?(): Promise<readonly MetricsJson[]>;
  /** Client addresses refused now for their handshake errors (limits.maxConnectErrors). */
  blockedHosts?(): number;
}
