/**
 * Public shapes of the sandbox: a throwaway primary + replicas started from the MariaDB/MySQL
 * binaries installed on this machine, with GTID replication wired. The quick start
 * (`sluice sandbox`) and the test suite share it.
 */
import type { Logger } from 'pino';

export type SandboxKind = 'mariadb' | 'mysql';

export interface SandboxOptions {
  /** Number of replicas (default 2). 0 is allowed (a lone primary). */
  readonly replicas?: number;
  /**
   * First TCP port; servers get consecutive ports (primary = basePort, replica1 = basePort + 1 …).
   * 0 or undefined: free ports are picked by the OS. The quick start uses
   * `DEFAULT_SANDBOX_BASE_PORT` (3311), which `conf/sluice.yaml` matches.
   */
  readonly basePort?: number;
  /** Semi-synchronous replication (MariaDB: built in since 10.3; MySQL: plugins). Default false. */
  readonly semiSync?: boolean;
  /** How long the primary waits for a semi-sync ack before falling back to async (default 2000). */
  readonly semiSyncTimeoutMs?: number;
  readonly logger: Logger;
  /** Keep the directory (datadirs, logs) after `stop()`. Default false. */
  readonly keep?: boolean;
  /** Parent of the sandbox directory (default `os.tmpdir()`). */
  readonly parentDir?: string;
  /** Extra server options appended to every server's command line (e.g. `--sync-binlog=0`). */
  readonly extraArgs?: readonly string[];
  /** Bound on each server's start-up (default 60 000 ms). */
  readonly startTimeoutMs?: number;
  /**
   * Give every server a throwaway CA + certificate (openssl CLI) so clients can use TLS.
   * Default true; without a working `openssl` the sandbox starts without TLS (logged).
   */
  readonly tls?: boolean;
  /**
   * Run each server in a Linux network namespace of its own (primary first, then the replicas;
   * one entry per server), bound to `address` instead of 127.0.0.1, so a test can cut the
   * network between individual servers (test/helpers/netlab.ts creates such namespaces).
   * Replication then connects to the primary's address, and `SandboxServer.host` is it. The
   * namespaces must exist and reach each other; spawning needs root (`ip netns exec`). Root
   * access over the unix socket keeps working: namespaces share the filesystem. The TLS
   * certificate names these addresses too. Undefined: every server on 127.0.0.1 (the default).
   */
  readonly placement?: readonly SandboxPlacement[];
}

/** Where one sandbox server runs: its network namespace and the address it binds there. */
export interface SandboxPlacement {
  /** IPv4 address of the namespace the server binds (and replicas connect to). */
  readonly address: string;
  /** Name of the namespace (`ip netns list`). */
  readonly netns: string;
}

/** TLS files of a sandbox (in its directory). */
export interface SandboxTlsFiles {
  /** CA certificate (PEM) that signed the servers' certificate. */
  readonly ca: string;
  /** Server certificate (PEM): CN localhost, SAN DNS:localhost, IP:127.0.0.1 and every placement address. */
  readonly cert: string;
  /** The certificate's private key (PEM). */
  readonly key: string;
}

export type SandboxServerName = 'primary' | `replica${number}`;

export interface SandboxServer {
  readonly name: SandboxServerName;
  /** 127.0.0.1, or its placement address. */
  readonly host: string;
  /** Its network namespace when the sandbox was started with a placement. */
  readonly netns: string | undefined;
  readonly port: number;
  readonly serverId: number;
  /** OS pid while the process is alive (also while SIGSTOPped); undefined once it exited. */
  readonly pid: number | undefined;
  /** Unix socket of this server (root / admin maintenance without TCP). */
  readonly socketPath: string;
  /** Its error log (stdout + stderr of the server process). */
  readonly logFile: string;
  /** Send a signal to the server process (SIGKILL, SIGSTOP, SIGCONT …). No-op when not running. */
  kill(signal: NodeJS.Signals): void;
  /** Clean shutdown: SIGTERM, then SIGKILL after a bound. Resolves once the process is gone. */
  stop(): Promise<void>;
  /** (Re)start on the same datadir and wait until it accepts connections. */
  start(): Promise<void>;
  /**
   * Run one statement as the admin user over TCP to `host` (a fresh connection per call); returns
   * rows / OK. With a placement that crosses the namespaces' network (and its partitions); the
   * unix socket (`socketPath`) does not.
   */
  query(sql: string, params?: readonly unknown[]): Promise<unknown>;
  /** Several statements as root in one session (so `SET SESSION …` applies to the ones after it). */
  rootExec(statements: readonly string[]): Promise<void>;
}

export interface Sandbox {
  readonly kind: SandboxKind;
  /** `SELECT VERSION()` of the primary. */
  readonly version: string;
  readonly dir: string;
  readonly primary: SandboxServer;
  readonly replicas: readonly SandboxServer[];
  /** Primary first, then the replicas in order. */
  readonly servers: readonly SandboxServer[];
  /** Application account: DML/DDL and replication monitoring, but no SUPER / READ_ONLY ADMIN. */
  readonly user: 'app';
  readonly password: 'app';
  /** Account with every privilege (promotion needs READ_ONLY ADMIN / SUPER). */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** Replication account (REPLICATION SLAVE only). */
  readonly replUser: string;
  readonly replPassword: string;
  /** Database created on the primary (and replicated): `sluice_test`. */
  readonly database: string;
  /** TLS files every server uses; undefined when the sandbox runs without TLS. */
  readonly tls: SandboxTlsFiles | undefined;
  /** Stop every server (SIGTERM, SIGKILL after a bound) and remove `dir` unless `keep`. Idempotent. */
  stop(): Promise<void>;
  /**
   * Wait until every running replica has applied everything the primary has binlogged so far
   * (bounded; throws with the replica's replication error if its SQL/IO thread stopped).
   */
  waitForReplication(timeoutMs?: number): Promise<void>;
}
