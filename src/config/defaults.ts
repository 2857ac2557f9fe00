import type { AuthConfig, Balance, Consistency, FrontendAuthPlugin, LoadBalance, LogConfig, TlsVersion } from './types.js';

/** Documented defaults (also described in conf/sluice.yaml). */
export const CONFIG_DEFAULTS = Object.freeze({
  listenHost: '0.0.0.0',
  weight: 1,
  balance: 1 as Balance,
  loadBalance: 'round-robin' as LoadBalance,
  pool: Object.freeze({ min: 2, max: 64, idleTimeoutMs: 60_000, acquireTimeoutMs: 10_000, connectTimeoutMs: 3_000 }),
  heartbeat: Object.freeze({ sql: 'SELECT 1', intervalMs: 1_000, timeoutMs: 1_000, retries: 3 }),
  /** `enabled` defaults to true when there are at least 2 writeHosts. */
  failover: Object.freeze({ dnindexFile: 'conf/dnindex.properties', promote: false }),
  /** Default dnindex file name when the config comes from a file: next to that file. */
  dnindexFileName: 'dnindex.properties',
  replication: Object.freeze({ maxLagSeconds: 10, checkEveryMs: 2_000, readmitAfter: 3 }),
  session: Object.freeze({
    holdConnectionMs: 50,
    maxPacketSize: 64 * 1024 * 1024,
    readYourWritesMs: 0,
    consistency: 'session' as Consistency,
    consistencyTimeoutMs: 2_000,
    idleTimeoutMs: 0,
    writeTimeoutMs: 60_000,
  }),
  log: Object.freeze({ level: 'info' as LogConfig['level'], format: 'auto' as LogConfig['format'], sql: false, slowMs: 0, maxStatementLength: 1024, maskLiterals: false }),
  /** Client connections at once; 0 = unlimited. */
  maxConnections: 4096,
  /** See LimitsConfig; the MariaDB / MySQL variable each follows is named in conf/sluice.yaml. */
  limits: Object.freeze({
    handshakeTimeoutMs: 10_000,
    maxUnauthenticated: 256,
    maxUnauthenticatedPerAddress: 32,
    failedLoginThreshold: 3,
    failedLoginMaxDelayMs: 30_000,
    maxConnectErrors: 100,
  }),
  userAuth: 'mysql_native_password' as FrontendAuthPlugin,
  tls: Object.freeze({ require: false, minVersion: 'TLSv1.2' as TlsVersion }),
  backendTls: Object.freeze({ enabled: false, verify: true }),
  auth: Object.freeze({ cachingSha2FullAuth: 'never' as AuthConfig['cachingSha2FullAuth'] }),
});
