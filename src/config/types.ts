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
  /**
   * Make the database follow the proxy's decision: on a writer switch the new writeHost gets
   * `STOP REPLICA|SLAVE` + `SET GLOBAL read_only=OFF` (so a read-only writeHost may be chosen), and
   * every other writeHost that is reachable gets `SET GLOBAL read_only=ON` (fencing).
   */
  readonly promote: boolean;
  /**
   * Account for promotion and fencing (needs READ_ONLY ADMIN / SUPER, and REPLICATION SLAVE
   * ADMIN for STOP REPLICA). Absent: dataHost.user / dataHost.password. Given together.
   */
  readonly user?: string;
  readonly password?: string;
  /**
   * With promote: after a switch, make the other servers replicate from the new writeHost
   * (MaxScale's auto_rejoin): replicas still following the old writer are re-pointed, and a
   * writeHost that is not replicating (the old master, back) is joined with GTID. A server whose
   * history diverged refuses (replication error) and stays out of rotation.
   */
  readonly rejoin: boolean;
  /**
   * Replication account written into CHANGE MASTER / CHANGE REPLICATION SOURCE by rejoin. Absent:
   * the server's own replication account is kept (a server that never replicated has none).
   */
  readonly replicationUser?: string;
  readonly replicationPassword?: string;
  /**
   * With promote: how long the new writeHost may take to apply what it had received before it is
   * made writable anyway (acknowledged writes still in its relay log would then be missing).
   */
  readonly catchUpTimeoutMs: number;
  /** With promote: how long a write waits for a just-switched writeHost to be promoted. */
  readonly promotionWaitMs: number;
  /**
   * Transaction replay: an open transaction whose writeHost connection is lost before COMMIT is
   * run again on the new writeHost and continues if every answer is the same (MaxScale's
   * transaction_replay). Default: on when failover is enabled.
   */
  readonly transactionReplay: boolean;
  /** A transaction whose commands exceed this many bytes is not kept for replay. */
  readonly transactionReplayMaxBytes: number;
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
  /** TLS from the proxy to the backends; absent = plain TCP. */
  readonly tls?: BackendTlsConfig;
}

/** `dataHost.tls`: TLS toward every backend of the dataHost. */
export interface BackendTlsConfig {
  /** Send an SSLRequest after the greeting and continue over TLS (a backend without TLS is refused). */
  readonly enabled: boolean;
  /** Verify the backend's certificate chain and name (default true). */
  readonly verify: boolean;
  /** CA bundle (PEM) to verify against, absolute (resolved against the config file's directory); default: Node's CAs. */
  readonly ca?: string;
  /** Name expected in the backend's certificate (and sent as SNI); default: the host as configured. */
  readonly servername?: string;
}

/** Authentication plugins the proxy speaks toward clients. */
export type FrontendAuthPlugin = 'mysql_native_password' | 'caching_sha2_password';

export interface FrontendUser {
  readonly name: string;
  /**
   * Plain text, the mysql_native_password hash form `*<40 hex>` (native users only), or the
   * caching_sha2_password digest form `sha2:<64 hex>` = SHA256(SHA256(pw)) (caching_sha2 users
   * only); never logged.
   */
  readonly password: string;
  /** Plugin this account authenticates with; absent = mysql_native_password. */
  readonly auth?: FrontendAuthPlugin;
  /** Default schema when the client names none. */
  readonly defaultSchema?: string;
  /** Most concurrent connections of this user (0 = only the global limit applies). */
  readonly maxConnections?: number;
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
   * Deprecated (session.consistency replaces it): after a session writes, its plain reads go to
   * the writeHost for this long. 0 (default) turns it off.
   */
  readonly readYourWritesMs: number;
  /**
   * What a read on a readHost is guaranteed to see (causal reads by GTID):
   *  - `session` (default): every write of the same session;
   *  - `global`: every write acknowledged through this proxy before the read began;
   *  - `eventual`: whatever the replica has applied (no waiting, no guarantee).
   * A readHost known to have applied the write serves at once; otherwise the read waits there
   * (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET, pipelined with the read) up to
   * consistencyTimeoutMs, then runs on the writeHost.
   */
  readonly consistency: Consistency;
  readonly consistencyTimeoutMs: number;
  /**
   * Close a client that sent nothing for this long, giving back what it holds (an open
   * transaction is rolled back). 0 (default) = never: the servers' wait_timeout stays theirs, and
   * a session's own `SET wait_timeout` is honoured either way.
   */
  readonly idleTimeoutMs: number;
  /**
   * Close a client that read nothing of a result for this long (MySQL's net_write_timeout); its
   * backend connection is closed with it, never pooled mid-result. 0 = wait forever.
   */
  readonly writeTimeoutMs: number;
}

export type Consistency = 'eventual' | 'session' | 'global';

/** Top-level `tls`: TLS between clients and the proxy. */
export interface FrontendTlsConfig {
  /** Server certificate (PEM), absolute path (resolved against the config file's directory). */
  readonly cert: string;
  /** Its private key (PEM). */
  readonly key: string;
  /** CA bundle (PEM) added to the secure context (chain sent to clients). */
  readonly ca?: string;
  /** Refuse logins that did not switch to TLS (ER_SECURE_TRANSPORT_REQUIRED, 3159). Default false. */
  readonly require: boolean;
  /** Lowest TLS version a client may use. Default TLSv1.2. */
  readonly minVersion: TlsVersion;
  /** OpenSSL cipher list (TLS 1.3 suites included); absent = Node's defaults. */
  readonly ciphers?: string;
}

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** Top-level `auth`: settings of the front-end authentication plugins. */
export interface AuthConfig {
  /**
   * caching_sha2_password: `never` (default) answers a correct scramble with fast-auth success;
   * `always` asks every client for full authentication (clear password over TLS, RSA-encrypted
   * otherwise), as MySQL does when its cache is empty.
   */
  readonly cachingSha2FullAuth: 'never' | 'always';
  /** RSA key pair (PEM paths) for full authentication over plain TCP; generated at start-up when absent. */
  readonly rsaPrivateKey?: string;
  /** Defaults to the public half of rsaPrivateKey. */
  readonly rsaPublicKey?: string;
}

export interface LogConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * JSON lines, or one readable line per record (pino-pretty); `auto` = pretty only when stderr
   * is a terminal. The SLUICE_LOG_FORMAT environment variable overrides it.
   */
  readonly format: 'auto' | 'json' | 'pretty';
  /** Log every statement (info level, logger `sql`): user, host it ran on, duration, rows. */
  readonly sql: boolean;
  /** Log statements slower than this (warn level, logger `slow`); 0 turns the slow log off. */
  readonly slowMs: number;
  /** Statements in the SQL/slow log are cut to this many characters. */
  readonly maxStatementLength: number;
  /** Replace literals with `?` in the SQL/slow log (the digest), so values never reach logs. */
  readonly maskLiterals: boolean;
}

/**
 * `limits`: what a client must do before it is trusted (src/frontend/edge-admission.ts). The
 * address tables (blocked hosts, failed logins) are the group's, kept by the primary process;
 * the handshake caps count per process.
 */
export interface LimitsConfig {
  /** A connection that has not authenticated within this is closed (MariaDB connect_timeout); 0 = never. */
  readonly handshakeTimeoutMs: number;
  /** Connections in the handshake at once, per process (1040 beyond); 0 = unlimited. */
  readonly maxUnauthenticated: number;
  /** Of those, from one address (1040 beyond); 0 = unlimited. */
  readonly maxUnauthenticatedPerAddress: number;
  /** Consecutive failed logins of a (user, address) after which each attempt is answered late; 0 = off. */
  readonly failedLoginThreshold: number;
  /** Longest such delay (the delay doubles from 1 s). */
  readonly failedLoginMaxDelayMs: number;
  /** Consecutive handshake errors after which an address is refused (1129) until FLUSH HOSTS or a login; 0 = off. */
  readonly maxConnectErrors: number;
}

/** The admin SQL port (Atlas/Mycat style); absent = no admin port. */
export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Plain text or the `*<40 hex>` mysql_native_password hash. */
  readonly password: string;
}

/** HTTP endpoints: /health, /metrics, / (status page); absent = no HTTP listener. */
export interface HttpConfig {
  readonly host: string;
  readonly port: number;
}

/** How several instances agree on one writer: not at all, or through locks on the backends. */
export type Cooperation = 'none' | 'backend-locks';

/** Of which servers the leading instance must hold a majority (MaxScale majority_of_all / _running). */
export type MajorityRule = 'all' | 'running';

/** The cluster section (cluster/cooperation.ts). */
export interface ClusterConfig {
  readonly cooperation: Cooperation;
  /** This instance's name in logs, status output and the other instances' reports. */
  readonly instanceName: string;
  /**
   * all: a majority of every configured server, down ones included (a partition can never give
   * two sides a majority). running: a majority of the servers that answer (survives losing half
   * the servers, but two sides of a partition may each see "a majority of what runs").
   */
  readonly majority: MajorityRule;
  /**
   * `wait_timeout` of the lock connections: how long the servers keep the locks of an instance
   * that vanished without closing its connections (a killed process frees them at once).
   */
  readonly lockTimeoutSeconds: number;
}

/** `workers`: 'auto' (one per core, capped) or a number of worker processes (config/workers.ts). */
export type WorkersSetting = 'auto' | number;

export interface SluiceConfig {
  readonly listen: ListenConfig;
  /** Processes that relay client connections behind the one port (node:cluster); 1 = a single process. */
  readonly workers: WorkersSetting;
  readonly users: readonly FrontendUser[];
  readonly dataHost: DataHostConfig;
  /** Cooperation with other Sluice instances of the same dataHost. */
  readonly cluster: ClusterConfig;
  readonly session: SessionConfig;
  readonly log: LogConfig;
  /** Server version advertised to clients; by default the writeHost's real version. */
  readonly serverVersion?: string;
  /**
   * Client addresses allowed to connect: IPs and CIDR blocks (IPv4/IPv6). Empty = everybody
   * (Atlas `client-ips`). Others get ER_HOST_NOT_PRIVILEGED (1130) before the handshake.
   */
  readonly clients: readonly string[];
  /** Most concurrent client connections (ER_CON_COUNT_ERROR 1040 beyond); 0 = unlimited. */
  readonly maxConnections: number;
  /** Handshake timeout and caps, failed-login delays, blocked hosts. */
  readonly limits: LimitsConfig;
  readonly admin?: AdminConfig;
  readonly http?: HttpConfig;
  /** TLS toward clients; absent = no CLIENT_SSL in the greeting. */
  readonly tls?: FrontendTlsConfig;
  /** Front-end authentication settings; absent = the defaults (see AuthConfig). */
  readonly auth?: AuthConfig;
}
