/**
 * validateConfig: `unknown` (parsed YAML, admin API input) → frozen `SluiceConfig`, or a
 * `ConfigError` listing EVERY problem as `<path>: <problem>`. Unknown keys are problems (a typo
 * must not silently fall back to a default). Out-of-range values are errors, never clamped.
 * `null` (an empty YAML value such as `readHosts:`) counts as "not given".
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { normalizeHost } from './endpoint.js';
import type {
  Consistency,
  AdminConfig,
  AuthConfig,
  BackendTlsConfig,
  Balance,
  DataHostConfig,
  FailoverConfig,
  FrontendAuthPlugin,
  FrontendTlsConfig,
  FrontendUser,
  HeartbeatConfig,
  HostConfig,
  HttpConfig,
  ListenConfig,
  LoadBalance,
  LogConfig,
  PoolConfig,
  ReplicationConfig,
  SessionConfig,
  SluiceConfig,
} from './types.js';

export class ConfigError extends Error {
  /** Each entry is `"<path>: <problem>"`, e.g. `dataHost.writeHosts[1].port: must be an integer 1-65535, got "abc"`. */
  readonly errors: readonly string[];

  constructor(errors: readonly string[], source?: string) {
    const n = errors.length;
    super(
      `invalid configuration${source === undefined ? '' : ` in ${source}`} ` +
        `(${n} problem${n === 1 ? '' : 's'}):\n${errors.map((e) => `  - ${e}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.errors = Object.freeze([...errors]);
  }
}

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
  }),
  log: Object.freeze({ level: 'info' as LogConfig['level'], sql: false, slowMs: 0, maxStatementLength: 1024, maskLiterals: false }),
  /** Client connections at once; 0 = unlimited. */
  maxConnections: 4096,
  userAuth: 'mysql_native_password' as FrontendAuthPlugin,
  tls: Object.freeze({ require: false }),
  backendTls: Object.freeze({ enabled: false, verify: true }),
  auth: Object.freeze({ cachingSha2FullAuth: 'never' as AuthConfig['cachingSha2FullAuth'] }),
});

/** `*` + 40 hex: a stored mysql_native_password hash (SHA1(SHA1(pw))). */
export const NATIVE_HASH_FORM = /^\*[0-9a-fA-F]{40}$/;
/** `sha2:` + 64 hex: a stored caching_sha2_password digest (SHA256(SHA256(pw))). */
export const CACHING_SHA2_DIGEST_FORM = /^sha2:[0-9a-fA-F]{64}$/;

export interface ValidateOptions {
  /**
   * Directory of the config file. A relative `failover.dnindexFile` is resolved against it and
   * the default becomes `<baseDir>/dnindex.properties`. Without it the path is kept as given
   * (default `conf/dnindex.properties`, relative to the working directory). TLS and RSA key
   * paths are resolved against it too (else against the working directory) and must exist.
   */
  readonly baseDir?: string;
}

/** Largest delay `setTimeout` honours; bigger values silently fire after 1 ms. */
const MAX_MS = 2_147_483_647;
const MAX_PORT = 65_535;
/** MySQL's own upper bound for max_allowed_packet. */
const MAX_PACKET = 1024 * 1024 * 1024;
const LOG_LEVELS: readonly LogConfig['level'][] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOAD_BALANCES: readonly LoadBalance[] = ['round-robin', 'least-conn', 'consistent-hash'];
const AUTH_PLUGINS: readonly FrontendAuthPlugin[] = ['mysql_native_password', 'caching_sha2_password'];
const FULL_AUTH_MODES: readonly AuthConfig['cachingSha2FullAuth'][] = ['never', 'always'];
const BALANCES: readonly Balance[] = [0, 1, 2, 3];

type Obj = Record<string, unknown>;

/** Human description of a value for "got …". */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return `a date (${v.toISOString()})`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      prev[j] = Math.min((prev[j] ?? 0) + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = tmp;
    }
  }
  return prev[b.length] ?? 0;
}

function suggestion(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = levenshtein(key, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function join(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** Collects problems; every reader returns a usable placeholder so checking continues. */
class Checker {
  readonly errors: string[] = [];

  problem(p: string, msg: string): void {
    this.errors.push(`${p === '' ? '(root)' : p}: ${msg}`);
  }

  /** A mapping with only `known` keys; undefined (with a problem) otherwise. */
  mapping(v: unknown, p: string, known: readonly string[]): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) {
      this.problem(p, `must be a mapping, got ${describe(v)}`);
      return undefined;
    }
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.problem(join(p, k), `unknown key${suggestion(k, known)}`);
    }
    return o;
  }

  /** Optional sub-mapping: missing/null → {} (all defaults). */
  section(o: Obj | undefined, key: string, p: string, known: readonly string[]): Obj {
    const v = o?.[key];
    if (v === undefined || v === null) return {};
    return this.mapping(v, join(p, key), known) ?? {};
  }

  present(o: Obj | undefined, key: string): boolean {
    return o !== undefined && o[key] !== undefined && o[key] !== null;
  }

  string(o: Obj | undefined, key: string, p: string, opts: { def?: string; allowEmpty?: boolean } = {}): string {
    const at = join(p, key);
    if (!this.present(o, key)) {
      if (opts.def !== undefined) return opts.def;
      if (o !== undefined) this.problem(at, 'is required');
      return '';
    }
    const v = o?.[key];
    if (typeof v !== 'string') {
      const hint = typeof v === 'number' || typeof v === 'boolean' ? ' (quote it in YAML)' : '';
      this.problem(at, `must be a string${hint}, got ${describe(v)}`);
      return '';
    }
    if (!opts.allowEmpty && v.trim() === '') {
      this.problem(at, 'must not be empty');
      return '';
    }
    return v;
  }

  int(o: Obj | undefined, key: string, p: string, min: number, max: number | undefined, def?: number): number {
    const at = join(p, key);
    if (!this.present(o, key)) {
      if (def !== undefined) return def;
      if (o !== undefined) this.problem(at, 'is required');
      return min;
    }
    const v = o?.[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || (max !== undefined && v > max)) {
      const range = max === undefined ? ` >= ${min}` : ` ${min}-${max}`;
      this.problem(at, `must be an integer${range}, got ${describe(v)}`);
      return def ?? min;
    }
    return v;
  }

  number(o: Obj | undefined, key: string, p: string, min: number, def: number): number {
    if (!this.present(o, key)) return def;
    const v = o?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      this.problem(join(p, key), `must be a number >= ${min}, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  bool(o: Obj | undefined, key: string, p: string, def: boolean): boolean {
    if (!this.present(o, key)) return def;
    const v = o?.[key];
    if (typeof v !== 'boolean') {
      this.problem(join(p, key), `must be true or false, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  oneOf<T extends string | number>(o: Obj | undefined, key: string, p: string, allowed: readonly T[], def: T): T {
    if (!this.present(o, key)) return def;
    const v = o?.[key];
    if (!(allowed as readonly unknown[]).includes(v)) {
      this.problem(join(p, key), `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`);
      return def;
    }
    return v as T;
  }

  list(o: Obj | undefined, key: string, p: string, required: boolean): unknown[] {
    const at = join(p, key);
    if (!this.present(o, key)) {
      if (required && o !== undefined) this.problem(at, 'is required (a non-empty list)');
      return [];
    }
    const v = o?.[key];
    if (!Array.isArray(v)) {
      this.problem(at, `must be a list, got ${describe(v)}`);
      return [];
    }
    if (required && v.length === 0) this.problem(at, 'must not be empty');
    return v;
  }

  /**
   * A path to an existing, readable file, resolved against `baseDir` (else the working
   * directory). Returns the absolute path and its contents (undefined contents on a problem).
   */
  file(
    o: Obj | undefined,
    key: string,
    p: string,
    baseDir: string | undefined,
    required: boolean,
  ): { path: string; data: Buffer | undefined } | undefined {
    if (!required && !this.present(o, key)) return undefined;
    const given = this.string(o, key, p);
    if (given === '') return undefined;
    const abs = path.resolve(baseDir ?? '.', given);
    try {
      if (!statSync(abs).isFile()) {
        this.problem(join(p, key), `not a file: ${abs}`);
        return { path: abs, data: undefined };
      }
      return { path: abs, data: readFileSync(abs) };
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.problem(join(p, key), code === 'ENOENT' ? `file not found: ${abs}` : `cannot read ${abs}: ${(err as Error).message}`);
      return { path: abs, data: undefined };
    }
  }
}

const TOP_KEYS = [
  'listen',
  'users',
  'dataHost',
  'session',
  'log',
  'serverVersion',
  'tls',
  'auth',
  'clients',
  'maxConnections',
  'admin',
  'http',
] as const;
const ADMIN_KEYS = ['host', 'port', 'user', 'password'] as const;
const HTTP_KEYS = ['host', 'port'] as const;
const LISTEN_KEYS = ['host', 'port'] as const;
const USER_KEYS = ['name', 'password', 'defaultSchema', 'auth', 'maxConnections'] as const;
const DATAHOST_KEYS = [
  'name',
  'balance',
  'loadBalance',
  'user',
  'password',
  'writeHosts',
  'readHosts',
  'pool',
  'heartbeat',
  'failover',
  'replication',
  'tls',
] as const;
const FRONTEND_TLS_KEYS = ['cert', 'key', 'ca', 'require'] as const;
const BACKEND_TLS_KEYS = ['enabled', 'verify', 'ca', 'servername'] as const;
const AUTH_KEYS = ['cachingSha2FullAuth', 'rsaPrivateKey', 'rsaPublicKey'] as const;
const HOST_KEYS = ['host', 'port', 'weight'] as const;
const POOL_KEYS = ['min', 'max', 'idleTimeoutMs', 'acquireTimeoutMs', 'connectTimeoutMs'] as const;
const HEARTBEAT_KEYS = ['sql', 'intervalMs', 'timeoutMs', 'retries'] as const;
const FAILOVER_KEYS = [
  'enabled',
  'dnindexFile',
  'promote',
  'user',
  'password',
  'rejoin',
  'replicationUser',
  'replicationPassword',
  'catchUpTimeoutMs',
  'promotionWaitMs',
] as const;
const REPLICATION_KEYS = ['maxLagSeconds', 'checkEveryMs', 'readmitAfter'] as const;
const SESSION_KEYS = ['holdConnectionMs', 'maxPacketSize', 'readYourWritesMs', 'consistency', 'consistencyTimeoutMs'] as const;
const CONSISTENCIES: readonly Consistency[] = ['eventual', 'session', 'global'];
const LOG_KEYS = ['level', 'sql', 'slowMs', 'maxStatementLength', 'maskLiterals'] as const;

function checkListen(c: Checker, root: Obj | undefined): ListenConfig {
  const p = 'listen';
  const o = root === undefined ? undefined : c.present(root, 'listen') ? c.mapping(root['listen'], p, LISTEN_KEYS) : undefined;
  if (root !== undefined && !c.present(root, 'listen')) c.problem(p, 'is required (host and port the proxy listens on)');
  return {
    host: c.string(o, 'host', p, { def: CONFIG_DEFAULTS.listenHost }),
    // 0 = any free port (tests); the bound port is then whatever the listener reports.
    port: c.int(o, 'port', p, 0, MAX_PORT),
  };
}

function checkUsers(c: Checker, root: Obj | undefined): FrontendUser[] {
  const list = c.list(root, 'users', '', true);
  const seen = new Map<string, number>();
  return list.map((raw, i) => {
    const p = `users[${i}]`;
    const o = c.mapping(raw, p, USER_KEYS);
    const name = c.string(o, 'name', p);
    const password = c.string(o, 'password', p, { allowEmpty: true });
    const user: { name: string; password: string; defaultSchema?: string; auth?: FrontendAuthPlugin; maxConnections?: number } = {
      name,
      password,
    };
    if (c.present(o, 'defaultSchema')) user.defaultSchema = c.string(o, 'defaultSchema', p);
    if (c.present(o, 'maxConnections')) user.maxConnections = c.int(o, 'maxConnections', p, 0, 1_000_000);
    if (c.present(o, 'auth')) user.auth = c.oneOf(o, 'auth', p, AUTH_PLUGINS, CONFIG_DEFAULTS.userAuth);
    const plugin = user.auth ?? CONFIG_DEFAULTS.userAuth;
    if (plugin === 'caching_sha2_password' && NATIVE_HASH_FORM.test(password)) {
      c.problem(
        `${p}.password`,
        'a mysql_native_password hash ("*<40 hex>") cannot authenticate a caching_sha2_password user; ' +
          'give the plain password or "sha2:<hex of SHA256(SHA256(password))>"',
      );
    } else if (plugin === 'mysql_native_password' && /^sha2:/i.test(password)) {
      c.problem(
        `${p}.password`,
        CACHING_SHA2_DIGEST_FORM.test(password)
          ? 'a caching_sha2_password digest ("sha2:<64 hex>") cannot authenticate a mysql_native_password user; ' +
              'give the plain password or "*<40 hex>", or set auth: caching_sha2_password'
          : 'starts with "sha2:" but is not "sha2:" + 64 hex digits (passwords of that shape are reserved for digests)',
      );
    } else if (plugin === 'caching_sha2_password' && /^sha2:/i.test(password) && !CACHING_SHA2_DIGEST_FORM.test(password)) {
      c.problem(`${p}.password`, 'starts with "sha2:" but is not "sha2:" + 64 hex digits');
    }
    if (name !== '') {
      const first = seen.get(name);
      if (first !== undefined) c.problem(`${p}.name`, `duplicate user ${JSON.stringify(name)} (also users[${first}])`);
      else seen.set(name, i);
    }
    return user;
  });
}

function checkHosts(c: Checker, dh: Obj | undefined, key: 'writeHosts' | 'readHosts', seen: Map<string, string>): HostConfig[] {
  const list = c.list(dh, key, 'dataHost', key === 'writeHosts');
  return list.map((raw, i) => {
    const p = `dataHost.${key}[${i}]`;
    const o = c.mapping(raw, p, HOST_KEYS);
    const host = c.string(o, 'host', p);
    const port = c.int(o, 'port', p, 1, MAX_PORT);
    const weight = c.int(o, 'weight', p, 0, undefined, CONFIG_DEFAULTS.weight);
    if (o !== undefined && host !== '' && c.present(o, 'port') && o['port'] === port) {
      // Loopback spellings and letter case name the same server.
      const id = `${normalizeHost(host)}:${port}`;
      const first = seen.get(id);
      if (first !== undefined) c.problem(p, `duplicate host ${host}:${port} (also ${first})`);
      else seen.set(id, p);
    }
    return { host, port, weight };
  });
}

function checkPool(c: Checker, dh: Obj | undefined): PoolConfig {
  const p = 'dataHost.pool';
  const o = c.section(dh, 'pool', 'dataHost', POOL_KEYS);
  const d = CONFIG_DEFAULTS.pool;
  const pool = {
    min: c.int(o, 'min', p, 0, undefined, d.min),
    max: c.int(o, 'max', p, 1, undefined, d.max),
    // Must stay below the backends' wait_timeout (default 28800 s), or the server closes idle
    // pooled connections first and the next statement on one of them fails.
    idleTimeoutMs: c.int(o, 'idleTimeoutMs', p, 1, MAX_MS, d.idleTimeoutMs),
    acquireTimeoutMs: c.int(o, 'acquireTimeoutMs', p, 1, MAX_MS, d.acquireTimeoutMs),
    connectTimeoutMs: c.int(o, 'connectTimeoutMs', p, 1, MAX_MS, d.connectTimeoutMs),
  };
  if (pool.min > pool.max) c.problem(`${p}.min`, `must be <= pool.max (${pool.max}), got ${pool.min}`);
  return pool;
}

function checkHeartbeat(c: Checker, dh: Obj | undefined): HeartbeatConfig {
  const p = 'dataHost.heartbeat';
  const o = c.section(dh, 'heartbeat', 'dataHost', HEARTBEAT_KEYS);
  const d = CONFIG_DEFAULTS.heartbeat;
  return {
    sql: c.string(o, 'sql', p, { def: d.sql }),
    intervalMs: c.int(o, 'intervalMs', p, 1, MAX_MS, d.intervalMs),
    timeoutMs: c.int(o, 'timeoutMs', p, 1, MAX_MS, d.timeoutMs),
    retries: c.int(o, 'retries', p, 1, undefined, d.retries),
  };
}

function checkFailover(c: Checker, dh: Obj | undefined, writeHostCount: number, opts: ValidateOptions): FailoverConfig {
  const p = 'dataHost.failover';
  const o = c.section(dh, 'failover', 'dataHost', FAILOVER_KEYS);
  const d = CONFIG_DEFAULTS.failover;
  let dnindexFile: string;
  if (c.present(o, 'dnindexFile')) {
    dnindexFile = c.string(o, 'dnindexFile', p);
    if (opts.baseDir !== undefined && dnindexFile !== '') dnindexFile = path.resolve(opts.baseDir, dnindexFile);
  } else {
    dnindexFile = opts.baseDir !== undefined ? path.join(path.resolve(opts.baseDir), CONFIG_DEFAULTS.dnindexFileName) : d.dnindexFile;
  }
  const failover: {
    enabled: boolean;
    dnindexFile: string;
    promote: boolean;
    user?: string;
    password?: string;
    rejoin: boolean;
    replicationUser?: string;
    replicationPassword?: string;
    catchUpTimeoutMs: number;
    promotionWaitMs: number;
  } = {
    enabled: c.bool(o, 'enabled', p, writeHostCount >= 2),
    dnindexFile,
    promote: c.bool(o, 'promote', p, d.promote),
    rejoin: c.bool(o, 'rejoin', p, false),
    catchUpTimeoutMs: c.int(o, 'catchUpTimeoutMs', p, 1000, MAX_MS, 60_000),
    promotionWaitMs: c.int(o, 'promotionWaitMs', p, 0, MAX_MS, 10_000),
  };
  if (failover.rejoin && !failover.promote) {
    c.problem(`${p}.rejoin`, 'needs failover.promote: true (servers are re-pointed at a writeHost the proxy has promoted)');
  }
  const hasReplUser = c.present(o, 'replicationUser');
  const hasReplPassword = c.present(o, 'replicationPassword');
  if (hasReplUser) failover.replicationUser = c.string(o, 'replicationUser', p);
  if (hasReplPassword) failover.replicationPassword = c.string(o, 'replicationPassword', p, { allowEmpty: true });
  if (hasReplUser !== hasReplPassword) {
    c.problem(`${p}.${hasReplUser ? 'replicationPassword' : 'replicationUser'}`, 'replicationUser and replicationPassword are given together');
  }
  // The promotion / fencing account: both or neither (a password alone would silently pair with
  // dataHost.user, a user alone with an empty password).
  const hasUser = c.present(o, 'user');
  const hasPassword = c.present(o, 'password');
  if (hasUser) failover.user = c.string(o, 'user', p);
  if (hasPassword) failover.password = c.string(o, 'password', p, { allowEmpty: true });
  if (hasUser && !hasPassword) c.problem(`${p}.password`, 'is required when failover.user is set (use "" for an empty password)');
  if (hasPassword && !hasUser) c.problem(`${p}.user`, 'is required when failover.password is set');
  return failover;
}

function checkReplication(c: Checker, dh: Obj | undefined): ReplicationConfig {
  const p = 'dataHost.replication';
  const o = c.section(dh, 'replication', 'dataHost', REPLICATION_KEYS);
  const d = CONFIG_DEFAULTS.replication;
  return {
    maxLagSeconds: c.number(o, 'maxLagSeconds', p, 0, d.maxLagSeconds),
    checkEveryMs: c.int(o, 'checkEveryMs', p, 1, MAX_MS, d.checkEveryMs),
    readmitAfter: c.int(o, 'readmitAfter', p, 1, undefined, d.readmitAfter),
  };
}

function checkDataHost(c: Checker, root: Obj | undefined, opts: ValidateOptions): DataHostConfig {
  const p = 'dataHost';
  let dh: Obj | undefined;
  if (root !== undefined) {
    if (c.present(root, 'dataHost')) dh = c.mapping(root['dataHost'], p, DATAHOST_KEYS);
    else c.problem(p, 'is required');
  }
  const name = c.string(dh, 'name', p);
  if (name !== '' && !/^[A-Za-z0-9_.-]+$/.test(name)) {
    c.problem(`${p}.name`, `must contain only letters, digits, "_", "." and "-" (it is a key in the dnindex file), got ${describe(name)}`);
  }
  const seen = new Map<string, string>();
  const writeHosts = checkHosts(c, dh, 'writeHosts', seen);
  const readHosts = checkHosts(c, dh, 'readHosts', seen);
  return {
    name,
    balance: c.oneOf(dh, 'balance', p, BALANCES, CONFIG_DEFAULTS.balance),
    loadBalance: c.oneOf(dh, 'loadBalance', p, LOAD_BALANCES, CONFIG_DEFAULTS.loadBalance),
    user: c.string(dh, 'user', p),
    password: c.string(dh, 'password', p, { allowEmpty: true }),
    writeHosts,
    readHosts,
    pool: checkPool(c, dh),
    heartbeat: checkHeartbeat(c, dh),
    failover: checkFailover(c, dh, writeHosts.length, opts),
    replication: checkReplication(c, dh),
    ...checkBackendTls(c, dh, opts),
  };
}

/** Tries a PEM with a parser; a failure becomes a problem at `at`. */
function checkPem(c: Checker, at: string, what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    c.problem(at, `not a usable ${what}: ${(err as Error).message}`);
  }
}

function checkBackendTls(c: Checker, dh: Obj | undefined, opts: ValidateOptions): { tls?: BackendTlsConfig } {
  if (!c.present(dh, 'tls')) return {};
  const p = 'dataHost.tls';
  const o = c.section(dh, 'tls', 'dataHost', BACKEND_TLS_KEYS);
  const d = CONFIG_DEFAULTS.backendTls;
  const tls: { enabled: boolean; verify: boolean; ca?: string; servername?: string } = {
    enabled: c.bool(o, 'enabled', p, d.enabled),
    verify: c.bool(o, 'verify', p, d.verify),
  };
  const ca = c.file(o, 'ca', p, opts.baseDir, false);
  if (ca !== undefined) {
    tls.ca = ca.path;
    if (ca.data !== undefined) checkPem(c, `${p}.ca`, 'CA certificate (PEM)', () => createSecureContext({ ca: ca.data }));
  }
  if (c.present(o, 'servername')) tls.servername = c.string(o, 'servername', p);
  return { tls };
}

function checkFrontendTls(c: Checker, root: Obj | undefined, opts: ValidateOptions): FrontendTlsConfig | undefined {
  if (!c.present(root, 'tls')) return undefined;
  const p = 'tls';
  const o = c.section(root, 'tls', '', FRONTEND_TLS_KEYS);
  const cert = c.file(o, 'cert', p, opts.baseDir, true);
  const key = c.file(o, 'key', p, opts.baseDir, true);
  const ca = c.file(o, 'ca', p, opts.baseDir, false);
  if (cert?.data !== undefined) checkPem(c, `${p}.cert`, 'certificate (PEM)', () => createSecureContext({ cert: cert.data }));
  if (key?.data !== undefined) checkPem(c, `${p}.key`, 'private key (PEM)', () => createPrivateKey(key.data!));
  if (ca?.data !== undefined) checkPem(c, `${p}.ca`, 'CA certificate (PEM)', () => createSecureContext({ ca: ca.data }));
  if (cert?.data !== undefined && key?.data !== undefined && c.errors.every((e) => !e.startsWith(`${p}.`))) {
    checkPem(c, p, 'certificate/key pair', () => createSecureContext({ cert: cert.data, key: key.data }));
  }
  const out: { cert: string; key: string; ca?: string; require: boolean } = {
    cert: cert?.path ?? '',
    key: key?.path ?? '',
    require: c.bool(o, 'require', p, CONFIG_DEFAULTS.tls.require),
  };
  if (ca !== undefined) out.ca = ca.path;
  return out;
}

function checkAuth(c: Checker, root: Obj | undefined, opts: ValidateOptions): AuthConfig | undefined {
  if (!c.present(root, 'auth')) return undefined;
  const p = 'auth';
  const o = c.section(root, 'auth', '', AUTH_KEYS);
  const out: { cachingSha2FullAuth: AuthConfig['cachingSha2FullAuth']; rsaPrivateKey?: string; rsaPublicKey?: string } = {
    cachingSha2FullAuth: c.oneOf(o, 'cachingSha2FullAuth', p, FULL_AUTH_MODES, CONFIG_DEFAULTS.auth.cachingSha2FullAuth),
  };
  const priv = c.file(o, 'rsaPrivateKey', p, opts.baseDir, false);
  const pub = c.file(o, 'rsaPublicKey', p, opts.baseDir, false);
  if (pub !== undefined && priv === undefined) c.problem(`${p}.rsaPublicKey`, 'needs auth.rsaPrivateKey as well');
  let privKey: ReturnType<typeof createPrivateKey> | undefined;
  if (priv?.data !== undefined) {
    try {
      privKey = createPrivateKey(priv.data);
      if (privKey.asymmetricKeyType !== 'rsa') {
        c.problem(`${p}.rsaPrivateKey`, `must be an RSA key, got ${privKey.asymmetricKeyType ?? 'unknown'}`);
        privKey = undefined;
      }
    } catch (err) {
      c.problem(`${p}.rsaPrivateKey`, `not a usable private key (PEM): ${(err as Error).message}`);
    }
  }
  if (pub?.data !== undefined) {
    try {
      const pubKey = createPublicKey(pub.data);
      if (privKey !== undefined) {
        const derived = createPublicKey(privKey).export({ type: 'spki', format: 'der' });
        if (!derived.equals(pubKey.export({ type: 'spki', format: 'der' }))) {
          c.problem(`${p}.rsaPublicKey`, 'does not belong to auth.rsaPrivateKey');
        }
      }
    } catch (err) {
      c.problem(`${p}.rsaPublicKey`, `not a usable public key (PEM): ${(err as Error).message}`);
    }
  }
  if (priv !== undefined) out.rsaPrivateKey = priv.path;
  if (pub !== undefined) out.rsaPublicKey = pub.path;
  return out;
}

function checkSession(c: Checker, root: Obj | undefined): SessionConfig {
  const p = 'session';
  const o = c.section(root, 'session', '', SESSION_KEYS);
  const d = CONFIG_DEFAULTS.session;
  return {
    holdConnectionMs: c.int(o, 'holdConnectionMs', p, 0, MAX_MS, d.holdConnectionMs),
    maxPacketSize: c.int(o, 'maxPacketSize', p, 1024, MAX_PACKET, d.maxPacketSize),
    readYourWritesMs: c.int(o, 'readYourWritesMs', p, 0, MAX_MS, d.readYourWritesMs),
    consistency: c.oneOf(o, 'consistency', p, CONSISTENCIES, d.consistency),
    consistencyTimeoutMs: c.int(o, 'consistencyTimeoutMs', p, 1, MAX_MS, d.consistencyTimeoutMs),
  };
}

function checkLog(c: Checker, root: Obj | undefined): LogConfig {
  const o = c.section(root, 'log', '', LOG_KEYS);
  const d = CONFIG_DEFAULTS.log;
  return {
    level: c.oneOf(o, 'level', 'log', LOG_LEVELS, d.level),
    sql: c.bool(o, 'sql', 'log', d.sql),
    slowMs: c.int(o, 'slowMs', 'log', 0, MAX_MS, d.slowMs),
    maxStatementLength: c.int(o, 'maxStatementLength', 'log', 16, 1024 * 1024, d.maxStatementLength),
    maskLiterals: c.bool(o, 'maskLiterals', 'log', d.maskLiterals),
  };
}

/** IPv4/IPv6 address or CIDR block. */
function isAddressOrCidr(v: string): boolean {
  const [addr, bits, extra] = v.split('/');
  if (extra !== undefined || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function checkClients(c: Checker, root: Obj | undefined): string[] {
  return c.list(root, 'clients', '', false).map((raw, i) => {
    const p = `clients[${i}]`;
    if (typeof raw !== 'string' || !isAddressOrCidr(raw.trim())) {
      c.problem(p, `must be an IP address or CIDR block (e.g. 10.0.0.0/8), got ${JSON.stringify(raw)}`);
      return '';
    }
    return raw.trim();
  });
}

function checkEndpoint<K extends readonly string[]>(c: Checker, root: Obj | undefined, key: 'admin' | 'http', keys: K): Obj | undefined {
  if (root === undefined || !c.present(root, key)) return undefined;
  return c.mapping(root[key], key, keys);
}

function checkAdmin(c: Checker, root: Obj | undefined): AdminConfig | undefined {
  const o = checkEndpoint(c, root, 'admin', ADMIN_KEYS);
  if (o === undefined) return undefined;
  return {
    host: c.string(o, 'host', 'admin', { def: '127.0.0.1' }),
    port: c.int(o, 'port', 'admin', 0, MAX_PORT, 9066),
    user: c.string(o, 'user', 'admin'),
    password: c.string(o, 'password', 'admin', { allowEmpty: true }),
  };
}

function checkHttp(c: Checker, root: Obj | undefined): HttpConfig | undefined {
  const o = checkEndpoint(c, root, 'http', HTTP_KEYS);
  if (o === undefined) return undefined;
  return { host: c.string(o, 'host', 'http', { def: '127.0.0.1' }), port: c.int(o, 'port', 'http', 0, MAX_PORT, 9067) };
}

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
  const config: {
    listen: ListenConfig;
    users: FrontendUser[];
    dataHost: DataHostConfig;
    session: SessionConfig;
    log: LogConfig;
    serverVersion?: string;
    tls?: FrontendTlsConfig;
    auth?: AuthConfig;
    clients: string[];
    maxConnections: number;
    admin?: AdminConfig;
    http?: HttpConfig;
  } = {
    listen: checkListen(c, root),
    users: checkUsers(c, root),
    dataHost: checkDataHost(c, root, opts),
    session: checkSession(c, root),
    log: checkLog(c, root),
    clients: checkClients(c, root),
    maxConnections: c.int(root, 'maxConnections', '', 0, 1_000_000, CONFIG_DEFAULTS.maxConnections),
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
