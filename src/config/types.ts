/**
 * The validated, frozen shape of a Sluice configuration. `conf/sluice.yaml` is parsed into
 * `unknown`, checked by `validateConfig` (every problem reported with its path), and only then
 * becomes a `SluiceConfig`. Names follow Mycat where an operator would look for them
 * (`dataHost`, `writeHosts`, `readHosts`, `balance`).
 */

export type LoadBalance = 'round-robin' | 'least-conn' | 'consistent-hash';

/** Mycat `balance`: 0 no split, 1 readHosts + standby writeHosts, 2 all hosts, 3 readHosts only. */
export type Balance = 0 | 1 | 2 | 3;

export interface HostConfig {
  readonly host: string;
  readonly port: number;
  /** Relative share of reads for weighted selectors; 0 takes the host out of read rotation. */
  readonly weight: number;
}

export interface PoolConfig {
  readonly min: number;
  readonly max: number;
  /** Idle backend connections are closed after this; must stay below the server's wait_timeout. */
  readonly idleTimeoutMs: number;
  /** How long a statement may wait for a free backend connection before the client gets an error. */
  readonly acquireTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface HeartbeatConfig {
  readonly sql: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface FailoverConfig {
  readonly enabled: boolean;
  readonly dnindexFile: string;
  readonly promote: boolean;
}

export interface ReplicationConfig {
  readonly maxLagSeconds: number;
  readonly checkEveryMs: number;
  readonly readmitAfter: number;
}

export interface DataHostConfig {
  readonly name: string;
  readonly balance: Balance;
  readonly loadBalance: LoadBalance;
  /** Backend credentials used for client traffic. */
  readonly user: string;
  readonly password: string;
  readonly writeHosts: readonly HostConfig[];
  readonly readHosts: readonly HostConfig[];
  readonly pool: PoolConfig;
  readonly heartbeat: HeartbeatConfig;
  readonly failover: FailoverConfig;
  readonly replication: ReplicationConfig;
}

export interface FrontendUser {
  readonly name: string;
  /** Plain text, or the mysql_native_password hash form `*<40 hex>`; never logged. */
  readonly password: string;
  /** Default schema when the client names none. */
  readonly defaultSchema?: string;
}

export interface ListenConfig {
  readonly host: string;
  readonly port: number;
}

export interface SessionConfig {
  /**
   * How long a session keeps the backend connection that served its last statement, so that
   * `SHOW WARNINGS`, `ROW_COUNT()` and `FOUND_ROWS()` see that statement. 0 releases at once.
   */
  readonly holdConnectionMs: number;
  /** Largest client packet accepted (the proxy's max_allowed_packet). */
  readonly maxPacketSize: number;
  /**
   * After a session writes, its plain reads go to the writeHost for this long, so it reads its
   * own writes even when replicas lag (user-pain #1). 0 (default) turns it off.
   */
  readonly readYourWritesMs: number;
}

export interface LogConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface SluiceConfig {
  readonly listen: ListenConfig;
  readonly users: readonly FrontendUser[];
  readonly dataHost: DataHostConfig;
  readonly session: SessionConfig;
  readonly log: LogConfig;
  /** Server version advertised to clients; by default the writeHost's real version. */
  readonly serverVersion?: string;
}
