/**
 * What a client session needs from the rest of the proxy (built once in app.ts and the server),
 * and the counters sessions bump. Kept apart from the session modules so that each of them can
 * depend on it without depending on the others.
 */
import type { SluiceConfig } from '../config/types.js';
import type { ClusterView } from '../cluster/view.js';
import type { Selector } from '../backend/selectors.js';
import type { HostPools, PoolKey } from '../backend/host-pools.js';
import type { FrontendSecurity } from './tls.js';
import type { StatementStats } from './statement-stats.js';
import type { PinReason } from './session-state.js';

/** Another session as KILL sees it. */
export interface KillTarget {
  readonly user: string | undefined;
  /** Interrupts its running statement (KILL QUERY) or ends it (KILL [CONNECTION]). */
  interrupt(queryOnly: boolean, key: PoolKey): Promise<void>;
}

export interface SessionContext {
  /** The running configuration; read at each use, because accounts and limits change live. */
  config(): SluiceConfig;
  cluster(): ClusterView;
  pools(hostId: string): HostPools | undefined;
  readonly selector: Selector;
  /** Other sessions by proxy connection id (KILL). */
  session(id: number): KillTarget | undefined;
  /** Authenticated sessions of a user (per-user maxConnections). */
  connectionsOf(user: string): number;
  serverVersion(): string;
  /** The writeHost's global sql_mode has quoting the lexer does not model (sessions start pinned). */
  serverSqlModeUnmodelled(): boolean;
  readonly stats: SessionStats;
  /** Front-end TLS and authentication settings (frontend/tls.ts). */
  readonly security: FrontendSecurity;
  /** Per-digest statistics every statement is recorded in. */
  readonly statementStats: StatementStats;
}

/** Counters a session bumps; read by metrics and admin views. */
export interface SessionStats {
  statements: number;
  routedToWriter: number;
  routedToReader: number;
  errors: number;
  retries: number;
  /** Sessions that became pinned to their writeHost connection, by reason. */
  pins: Record<PinReason, number>;
}

export function newSessionStats(): SessionStats {
  return {
    statements: 0,
    routedToWriter: 0,
    routedToReader: 0,
    errors: 0,
    retries: 0,
    pins: {
      'temporary-table': 0,
      'named-lock': 0,
      'table-lock': 0,
      'user-variable': 0,
      'multi-statement': 0,
      'next-transaction': 0,
      'prepared-statement': 0,
      'prepared-set': 0,
      'sql-mode': 0,
    },
  };
}
