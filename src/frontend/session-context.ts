/**
 * What a client session needs from the rest of the proxy (built once in app.ts and the server),
 * and the counters sessions bump. Kept apart from the session modules so that each of them can
 * depend on it without depending on the others.
 */
import type { SluiceConfig } from '../config/types.js';
import type { ClusterView } from '../cluster/view.js';
import type { Selector } from '../backend/selectors.js';
import type { ReplicaPositions } from '../cluster/positions.js';
import type { HostPools, PoolKey } from '../backend/host-pools.js';
import type { FrontendSecurity } from './tls.js';
import type { StatementStats } from './statement-stats.js';
import type { PinReason } from './session-state.js';
import type { ReplayOutcome } from './transaction-journal.js';
import type { ConnectionLimits } from './connection-limits.js';
import type { GtidPosition } from '../cluster/gtid.js';
import type { Sweepable } from './idle-sweeper.js';

export type KillOutcome = 'killed' | 'unknown' | 'denied';

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
  /** How far each backend has applied, and the latest acknowledged write (causal reads). */
  readonly positions: ReplicaPositions;
  /** Other sessions of this process by proxy connection id (KILL). */
  session(id: number): KillTarget | undefined;
  /**
   * KILL of a session another worker process holds; absent when one process holds every
   * session. 'unknown': no session has that id; 'denied': it belongs to another user.
   */
  killElsewhere?(id: number, queryOnly: boolean, user: string | undefined): Promise<KillOutcome>;
  /**
   * Makes a commit known to every worker process before its OK reaches the client
   * (consistency: global); absent when one process holds every session.
   */
  publishWrite?(position: GtidPosition): Promise<void>;
  /** Counts logins against users[].maxConnections (over the whole process group). */
  readonly limits: ConnectionLimits;
  serverVersion(): string;
  /** MariaDB extended capabilities every backend offers (the greeting offers what it honours of them). */
  mariadbCapabilities(): number;
  /** The writeHost's global sql_mode has quoting the lexer does not model (sessions start pinned). */
  serverSqlModeUnmodelled(): boolean;
  readonly stats: SessionStats;
  /** Front-end TLS and authentication settings (frontend/tls.ts). */
  readonly security: FrontendSecurity;
  /** Per-digest statistics every statement is recorded in. */
  readonly statementStats: StatementStats;
  /** Gives back the connections of sessions idle for holdConnectionMs (absent when that is 0). */
  readonly idleSweeper?: { watch(s: Sweepable, idleSince: number): void };
}

/** Counters a session bumps; read by metrics and admin views. */
export interface SessionStats {
  statements: number;
  routedToWriter: number;
  routedToReader: number;
  errors: number;
  retries: number;
  /** Statements that waited for a writeHost (failover, promotion, planned switchover) instead of failing. */
  heldForWriter: number;
  /** Sessions that became pinned to their writeHost connection, by reason. */
  pins: Record<PinReason, number>;
  /** Open transactions whose writeHost connection was lost, by what became of them (transaction-replay.ts). */
  replays: Record<ReplayOutcome, number>;
  /** Reads with a consistency requirement (session.consistency), by what it took. */
  consistency: ConsistencyCounts;
  /** Clients the proxy closed for a timeout, by which one. */
  clientTimeouts: Record<ClientTimeout, number>;
  /** Connections refused before the handshake, handshakes that failed, delayed logins (edge-admission.ts). */
  edge: EdgeCounts;
}

/** Why a connection was refused before the handshake (sluice_connections_refused_total{reason}). */
export type RefusalReason = 'not-allowed' | 'max-connections' | 'host-blocked' | 'handshake-limit' | 'handshake-limit-per-address';

export interface EdgeCounts {
  refused: Record<RefusalReason, number>;
  /** Connections closed because they did not authenticate within limits.handshakeTimeoutMs. */
  handshakeTimeouts: number;
  /** Handshake errors counted against their address (limits.maxConnectErrors); timeouts included. */
  handshakeErrors: number;
  /** Login answers held back by the failed-login delay. */
  loginDelays: number;
}

export function newEdgeCounts(): EdgeCounts {
  return {
    refused: { 'not-allowed': 0, 'max-connections': 0, 'host-blocked': 0, 'handshake-limit': 0, 'handshake-limit-per-address': 0 },
    handshakeTimeouts: 0,
    handshakeErrors: 0,
    loginDelays: 0,
  };
}

/**
 * idle: session.idleTimeoutMs; wait-timeout: the session's own SET wait_timeout; write: the
 * client read nothing of a result for session.writeTimeoutMs.
 */
export type ClientTimeout = 'idle' | 'wait-timeout' | 'write';

export interface ConsistencyCounts {
  /** A readHost known to have applied the session's writes served the read at once. */
  none: number;
  /** The read waited on its readHost for the GTID, and ran there. */
  waited: number;
  /** The wait timed out (or could not run): the read ran on the writeHost. */
  fallback: number;
  /** Waits that ran, by duration bucket (upper bounds in CONSISTENCY_WAIT_BUCKETS, then +Inf). */
  waitBuckets: number[];
  /** Seconds spent in those waits. */
  waitSum: number;
}

/** Upper bounds (seconds) of the wait-time histogram buckets (+Inf implied). */
export const CONSISTENCY_WAIT_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function newSessionStats(): SessionStats {
  return {
    statements: 0,
    routedToWriter: 0,
    routedToReader: 0,
    errors: 0,
    retries: 0,
    heldForWriter: 0,
    replays: { replayed: 0, mismatch: 0, 'not-replayable': 0, 'commit-in-flight': 0, failed: 0 },
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
    consistency: { none: 0, waited: 0, fallback: 0, waitBuckets: [...CONSISTENCY_WAIT_BUCKETS, Infinity].map(() => 0), waitSum: 0 },
    edge: newEdgeCounts(),
    clientTimeouts: { idle: 0, 'wait-timeout': 0, write: 0 },
  };
}
