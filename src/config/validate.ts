/**
 * validateConfig: `unknown` (parsed YAML, admin API input) → frozen `SluiceConfig`, or a
 * `ConfigError` listing EVERY problem as `<path>: <problem>`. Unknown keys are problems (a typo
 * must not silently fall back to a default). Out-of-range values are errors, never clamped.
 * `null` (an empty YAML value such as `readHosts:`) counts as "not given".
 */
import { Checker, type ValidateOptions } from './checker.js';
import { ConfigError } from './config-error.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import { checkClients, checkListen, checkUsers } from './check-frontend.js';
import { checkDataHost } from './check-datahost.js';
import { checkSession } from './check-session.js';
import { checkLog } from './check-log.js';
import { checkAdmin, checkHttp } from './check-admin.js';
import { checkFrontendTls } from './check-tls.js';
import { checkAuth } from './check-auth.js';
import { checkWorkers } from './workers.js';
import { checkCluster } from './check-cluster.js';
import { checkLimits } from './check-limits.js';
import type {
  AdminConfig,
  AuthConfig,
  ClusterConfig,
  DataHostConfig,
  FrontendTlsConfig,
  FrontendUser,
  HttpConfig,
  LimitsConfig,
  ListenConfig,
  LogConfig,
  SessionConfig,
  SluiceConfig,
  WorkersSetting,
} from './types.js';

const TOP_KEYS = [
  'listen',
  'workers',
  'users',
  'dataHost',
  'cluster',
  'session',
  'log',
  'serverVersion',
  'tls',
  'auth',
  'clients',
  'maxConnections',
  'limits',
  'admin',
  'http',
] as const;

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const child of Object.values(v as object)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/**
 * Checks `raw` completely and returns the deep-frozen configuration with defaults applied.
 * @throws ConfigError listing every problem found.
 */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): SluiceConfig {
  const c = new Checker();
  const root = c.mapping(raw, '', TOP_KEYS);
  let dataHost: DataHostConfig;
  const config: {
    listen: ListenConfig;
    workers: WorkersSetting;
    users: FrontendUser[];
    dataHost: DataHostConfig;
    cluster: ClusterConfig;
    session: SessionConfig;
    log: LogConfig;
    serverVersion?: string;
    tls?: FrontendTlsConfig;
    auth?: AuthConfig;
    clients: string[];
    maxConnections: number;
    limits: LimitsConfig;
    admin?: AdminConfig;
    http?: HttpConfig;
  } = {
    listen: checkListen(c, root),
    workers: checkWorkers(c, root),
    users: checkUsers(c, root),
    // In this order, so problems are listed as the file reads.
    dataHost: (dataHost = checkDataHost(c, root, opts)),
    cluster: checkCluster(c, root, dataHost.heartbeat),
    session: checkSession(c, root),
    log: checkLog(c, root),
    clients: checkClients(c, root),
    maxConnections: c.int(root, 'maxConnections', '', 0, 1_000_000, CONFIG_DEFAULTS.maxConnections),
    limits: checkLimits(c, root),
  };
  const admin = checkAdmin(c, root);
  if (admin !== undefined) config.admin = admin;
  const http = checkHttp(c, root);
  if (http !== undefined) config.http = http;
  if (admin !== undefined && http !== undefined && admin.port !== 0 && admin.port === http.port && admin.host === http.host) {
    c.problem('http.port', `is the same as admin.port (${admin.port})`);
  }
  if (c.present(root, 'serverVersion')) config.serverVersion = c.string(root, 'serverVersion', '');
  const tls = checkFrontendTls(c, root, opts);
  if (tls !== undefined) config.tls = tls;
  const auth = checkAuth(c, root, opts);
  if (auth !== undefined) config.auth = auth;
  if (c.errors.length > 0) throw new ConfigError(c.errors);
  return deepFreeze(config);
}
