/** The dataHost section: backends, pool, heartbeat, failover and replication settings. */
import path from 'node:path';
import { normalizeHost } from './endpoint.js';
import { MAX_MS, MAX_PORT, describe, type Checker, type Obj, type ValidateOptions } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import { checkBackendTls } from './check-tls.js';
import type {
  Balance,
  DataHostConfig,
  FailoverConfig,
  HeartbeatConfig,
  HostConfig,
  LoadBalance,
  PoolConfig,
  ReplicationConfig,
} from './types.js';

const LOAD_BALANCES: readonly LoadBalance[] = ['round-robin', 'least-conn', 'consistent-hash'];
const BALANCES: readonly Balance[] = [0, 1, 2, 3];
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
  'transactionReplay',
  'transactionReplayMaxBytes',
] as const;
const REPLICATION_KEYS = ['maxLagSeconds', 'checkEveryMs', 'readmitAfter'] as const;

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
    transactionReplay: boolean;
    transactionReplayMaxBytes: number;
  } = {
    enabled: c.bool(o, 'enabled', p, writeHostCount >= 2),
    dnindexFile,
    promote: c.bool(o, 'promote', p, d.promote),
    rejoin: c.bool(o, 'rejoin', p, false),
    catchUpTimeoutMs: c.int(o, 'catchUpTimeoutMs', p, 1000, MAX_MS, 60_000),
    promotionWaitMs: c.int(o, 'promotionWaitMs', p, 0, MAX_MS, 10_000),
    transactionReplay: false,
    transactionReplayMaxBytes: c.int(o, 'transactionReplayMaxBytes', p, 0, 1024 * 1024 * 1024, 1024 * 1024),
  };
  // On where a new writeHost can take the transaction over (failover), unless said otherwise.
  failover.transactionReplay = c.bool(o, 'transactionReplay', p, failover.enabled);
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

export function checkDataHost(c: Checker, root: Obj | undefined, opts: ValidateOptions): DataHostConfig {
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
