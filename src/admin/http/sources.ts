/**
 * What the HTTP operations surface reads from a running Sluice. Structural, so the HTTP modules
 * do not import the composition root (app.ts) and tests can hand in fakes.
 */
import type { ClusterStore } from '../../cluster/store.js';
import type { SessionStats } from '../../frontend/session-context.js';
import type { StatementStats } from '../../frontend/statement-stats.js';

export interface PoolStatsSource {
  stats(): { borrowed: number; idle: number; waiting: number };
  /** Statements sent to the host since it was added. */
  readonly statements: number;
}

export interface HttpSources {
  readonly cluster: ClusterStore;
  readonly stats: SessionStats;
  /** Open client sessions. */
  sessionCount(): number;
  /** Whether the MySQL front end is listening (accepting client connections). */
  accepting(): boolean;
  pools(hostId: string): PoolStatsSource | undefined;
  /** Latency histogram by route; absent = no `sluice_statement_duration_seconds`. */
  readonly statementStats?: Pick<StatementStats, 'histogram'>;
}
