/**
 * Composition root: builds every component from a validated config and wires them together.
 * The only module that imports from every folder.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from './config/types.js';
import { ConfigError, deepFreeze, describeConfig, loadConfigFile, planConfigChange } from './config/index.js';
import { ClusterStore } from './cluster/store.js';
import { initialState } from './cluster/reduce.js';
import { Monitor } from './cluster/monitor.js';
import { ReplicaPositions } from './cluster/positions.js';
import { resolveDnIndex } from './cluster/dnindex.js';
import { FailoverEffects } from './cluster/failover.js';
import { HostPools } from './backend/host-pools.js';
import { loadBackendTls, mysql2Ssl } from './backend/backend-tls.js';
import { loadFrontendSecurity } from './frontend/tls.js';
import { createSelector } from './backend/selectors.js';
import { FrontendServer } from './frontend/server.js';
import { listenProblem } from './frontend/listen.js';
import { warmClassifier } from './routing/classify.js';
import { newSessionStats, type SessionStats } from './frontend/session-context.js';
import { quotingUnmodelled } from './frontend/session-state.js';
import { StatementStats } from './frontend/statement-stats.js';
import { startHttpServer } from './admin/http/http-server.js';
import { AdminServer, type ConfigApplyResult } from './admin/admin-server.js';
import type { HostView } from './cluster/view.js';

/** Used until a writeHost has answered once (and when none ever does). */
const FALLBACK_SERVER_VERSION = '8.0.0-sluice';

export interface Sluice {
  /** The running configuration (the start config with every live change applied since). */
  readonly config: SluiceConfig;
  readonly cluster: ClusterStore;
  readonly stats: SessionStats;
  /** Per statement digest: count, time, rows, host class (admin `SHOW @@SQL`, metrics). */
  readonly statementStats: StatementStats;
  readonly frontend: FrontendServer;
  /** Where the proxy listens (the real port when the config said 0). */
  readonly address: { host: string; port: number };
  /** Where the HTTP operations endpoint listens (`config.http`); undefined when not configured. */
  readonly httpAddress?: { host: string; port: number };
  /** Where the admin SQL port listens (`config.admin`); undefined when not configured. */
  readonly adminAddress?: { host: string; port: number };
  serverVersion(): string;
  pools(hostId: string): HostPools | undefined;
  /**
   * Applies a validated configuration: backends join / leave / change weight, accounts,
   * whitelist, limits and the SQL log take effect now; the rest is reported as needing a restart
   * (see config/live.ts). The admin port's commands and RELOAD @@CONFIG come through here.
   */
  applyConfig(next: SluiceConfig, source: string): ConfigApplyResult;
  /**
   * Re-reads the config file (`StartOptions.configPath`) and applies it like applyConfig; a bad
   * file throws ConfigError listing every problem and nothing changes (admin RELOAD @@CONFIG,
   * SIGHUP).
   */
  reloadConfig(source: string): ConfigApplyResult;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Skip heartbeats (unit-level tests of the data path). */
  readonly monitor?: boolean;
  /** The file the config was loaded from (admin SAVE CONFIG / RELOAD @@CONFIG). */
  readonly configPath?: string;
}

export async function startSluice(config: SluiceConfig, log: Logger, opts: StartOptions = {}): Promise<Sluice> {
  const dh = config.dataHost;
  // Say what this configuration does, and which settings do nothing (user-pain #22).
  const behaviour = describeConfig(config);
  log.info({ behaviour: behaviour.lines }, 'configuration');
  for (const warning of behaviour.warnings) log.warn({ setting: warning }, 'configuration warning');
  // TLS certificates and RSA keys are read now: a bad file stops the start (ConfigError).
  const security = loadFrontendSecurity(config);
  const backendTls = loadBackendTls(dh.tls);
  // The active writeHost survives restarts (Mycat dnindex). A corrupt file stops the start
  // (DnIndexError, a ConfigError); a missing one means writeHost 0 and is written below.
  const resolved = resolveDnIndex(dh.failover.dnindexFile, dh.name, dh.writeHosts);
  const startIndex = resolved?.index ?? 0;
  const startWriter = `${dh.writeHosts[startIndex]!.host}:${dh.writeHosts[startIndex]!.port}`;
  if (resolved === undefined) {
    log.warn(
      { dataHost: dh.name, file: dh.failover.dnindexFile },
      'dnindex: no entry for this dataHost (or no file): starting on writeHost 0 and recording it',
    );
  } else if (resolved.index !== resolved.recordedIndex) {
    log.warn(
      { dataHost: dh.name, file: dh.failover.dnindexFile, recorded: `${dh.name}=${resolved.recordedIndex}`, writer: resolved.recordedAddress, writerIndex: resolved.index },
      'dnindex: the writeHosts list changed since the file was written; the active writeHost keeps its role at its new index (the file is rewritten)',
    );
  } else if (resolved.index !== 0) {
    log.warn(
      { dataHost: dh.name, file: dh.failover.dnindexFile, writerIndex: resolved.index, writer: startWriter },
      'dnindex: starting on the writeHost recorded by an earlier switch',
    );
  }
  // What the file holds, as the failover effects compare it: anything but an exact, addressed
  // entry for the start writer gets rewritten (with the address) at once.
  const persistedIndex =
    resolved !== undefined && resolved.index === resolved.recordedIndex && resolved.recordedAddress !== undefined ? resolved.index : undefined;
  /** The running configuration: replaced (never mutated) by applyConfig. */
  let running = config;
  /** The last configuration applied, restart-only parts included (what SAVE CONFIG writes). */
  let configured = config;
  const cluster = new ClusterStore(initialState(dh, startIndex), log.child({ component: 'cluster' }));
  const poolsById = new Map<string, HostPools>();
  const openPools = (h: HostView): void => {
    poolsById.set(
      h.id,
      new HostPools(
        { host: h.host, port: h.port, user: dh.user, password: dh.password, ...(backendTls ? { tls: backendTls } : {}) },
        dh.pool,
        log,
      ),
    );
  };
  for (const h of cluster.view.hosts) openPools(h);
  const ssl = mysql2Ssl(backendTls);
  /** How far each backend has applied, and the latest acknowledged write (causal reads). */
  const positions = new ReplicaPositions();
  const monitor = new Monitor({
    dataHost: dh,
    ...(ssl ? { ssl } : {}),
    hosts: cluster.view.hosts,
    dispatch: (e) => cluster.dispatch(e),
    positions: (id, p) => positions.observed(id, p),
    logger: log.child({ component: 'monitor' }),
  });
  /** Pools of removed backends, closing once the statements still running there have finished. */
  const retiring = new Set<Promise<void>>();
  cluster.on('change', (view, transitions) => {
    for (const t of transitions) {
      if (t.kind === 'status' && t.to === 'down') {
        // A dead host's idle connections are useless (drop them so nobody borrows one), and
        // statements still running there will never answer (abort them: reads retry elsewhere,
        // DESIGN §4).
        const pools = poolsById.get(t.hostId);
        pools?.abortInFlight(t.reason);
        void pools?.clearIdle();
      } else if (t.kind === 'host-added') {
        const h = view.hosts.find((x) => x.id === t.hostId);
        if (!h) continue;
        openPools(h);
        void poolsById.get(h.id)?.learnCapabilities();
        monitor.addHost(h);
      } else if (t.kind === 'host-removed') {
        // Routing no longer sees the host; what runs there finishes (drain), then its
        // connections close.
        const pools = poolsById.get(t.hostId);
        poolsById.delete(t.hostId);
        positions.forget(t.hostId);
        const done = Promise.all([monitor.removeHost(t.hostId), pools?.close()])
          .then(() => log.info({ backend: t.hostId }, 'removed backend: connections closed'))
          .catch((err: unknown) => log.warn({ backend: t.hostId, err: (err as Error).message }, 'removed backend: closing its connections failed'))
          .finally(() => retiring.delete(done));
        retiring.add(done);
      }
    }
  });

  const applyConfig = (next: SluiceConfig, source: string): ConfigApplyResult => {
    const plan = planConfigChange(running, next, cluster.view.writerIndex);
    const notes = [...plan.notes];
    const dispatch = (event: Parameters<ClusterStore['dispatch']>[0]): void => {
      for (const t of cluster.dispatch(event)) if (t.kind === 'topology-refused') notes.push(t.reason);
    };
    for (const r of plan.remove) dispatch({ type: 'remove-host', hostId: r.hostId, reason: source });
    for (const a of plan.add) dispatch({ type: 'add-host', ...a, reason: source });
    for (const w of plan.reweight) dispatch({ type: 'set-weight', hostId: w.hostId, weight: w.weight, reason: source });
    // The running host lists are what the cluster has now, in its order (backend_ndx).
    const hosts = cluster.view.hosts.map((h) => ({ role: h.role, entry: { host: h.host, port: h.port, weight: h.weight } }));
    running = deepFreeze({
      ...plan.config,
      dataHost: {
        ...plan.config.dataHost,
        writeHosts: hosts.filter((h) => h.role === 'write').map((h) => h.entry),
        readHosts: hosts.filter((h) => h.role === 'read').map((h) => h.entry),
      },
    });
    configured = next;
    log.warn({ source, live: plan.live, restart: plan.restart, notes }, 'configuration applied');
    return { live: plan.live, restart: plan.restart, notes };
  };
  const reloadConfig = (source: string): ConfigApplyResult => {
    if (opts.configPath === undefined) throw new ConfigError(['Sluice was started without a config file: there is nothing to reload']);
    return applyConfig(loadConfigFile(opts.configPath), source);
  };

  /** What start-up learned from the writeHost (learnFromWriter). */
  const learned = { sqlModeUnmodelled: false };
  const stats: SessionStats = newSessionStats();
  const statementStats = new StatementStats();
  const serverVersion = (): string => {
    if (running.serverVersion) return running.serverVersion;
    const writer = cluster.view.writer;
    return (writer && poolsById.get(writer.id)?.serverVersion) ?? FALLBACK_SERVER_VERSION;
  };
  /**
   * The MariaDB extended capabilities the client greeting may offer: what every configured host
   * offers. A host nobody has greeted yet (down since start-up, added live) counts as offering
   * nothing, and is probed in the background, so new clients get the extended protocol once every
   * host is known to speak it. Clients already connected keep what they negotiated: a host added
   * later that lacks it refuses their pool keys (HostPools.acquire), so their reads go to the
   * other hosts and a statement for such a writeHost fails with an error, instead of the proxy
   * relaying bytes in a format the client did not ask for.
   */
  const mariadbCapabilities = (): number => {
    let caps = 0xffffffff;
    for (const h of cluster.view.hosts) {
      const p = poolsById.get(h.id);
      const known = p?.mariadbCapabilities;
      if (known === undefined) {
        void p?.learnCapabilities();
        return 0;
      }
      caps &= known;
    }
    return caps >>> 0;
  };
  const frontend = new FrontendServer(
    {
      config: () => running,
      mariadbCapabilities,
      cluster: () => cluster.view,
      pools: (id) => poolsById.get(id),
      selector: createSelector(dh.loadBalance),
      positions,
      serverVersion,
      serverSqlModeUnmodelled: () => learned.sqlModeUnmodelled,
      stats,
      statementStats,
      security,
    },
    log.child({ component: 'frontend' }),
  );

  // dnindex follows every writer change; with failover.promote the database follows too
  // (promotion of the new writer, read_only=ON on the others).
  const failover = new FailoverEffects({
    store: cluster,
    dataHost: dh,
    ...(ssl ? { ssl } : {}),
    logger: log.child({ component: 'failover' }),
    persistedIndex,
  });
  failover.start();

  if (opts.monitor !== false) {
    // One round of heartbeats first, so the first clients are routed on real status.
    await monitor.probeAll();
    monitor.start();
  }
  // Every host's greeting (MariaDB extended capabilities) before the first client is greeted.
  await Promise.all([
    learnFromWriter(cluster, poolsById, dh.pool.idleTimeoutMs, learned, log),
    ...[...poolsById.values()].map((p) => p.learnCapabilities()),
  ]);
  // Load the SQL parser now (tens of ms) rather than on the first statement that needs it.
  warmClassifier();
  // A listener that cannot bind stops the start: what was started so far is stopped again (the
  // sandbox keeps running its servers and reports the port), and the error names the setting.
  const stopBackground = async (): Promise<void> => {
    await monitor.stop();
    await failover.stop();
    await Promise.all([...poolsById.values()].map((p) => p.close()));
  };
  const address = await frontend.listen(config.listen.host, config.listen.port).catch(async (err: unknown) => {
    await stopBackground();
    throw listenProblem('listen', config.listen.host, config.listen.port, err);
  });
  log.info({ listen: address, dataHost: dh.name, writer: cluster.view.writer?.id }, 'sluice listening');
  let accepting = true;
  const http = config.http
    ? await startHttpServer(
        { cluster, stats, statementStats, sessionCount: () => frontend.sessionCount, accepting: () => accepting, pools: (id) => poolsById.get(id) },
        config.http.host,
        config.http.port,
        log.child({ component: 'http' }),
      ).catch(async (err: unknown) => {
        await frontend.close();
        await stopBackground();
        throw listenProblem('http', config.http!.host, config.http!.port, err);
      })
    : undefined;
  const admin = config.admin ? new AdminServer(
    {
      config: () => running,
      configured: () => configured,
      applyConfig,
      reloadConfig,
      ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}),
      cluster,
      pools: (id) => poolsById.get(id),
      sessions: () => frontend.allSessions(),
      statementStats: () => statementStats,
    },
    log.child({ component: 'admin' }),
  ) : undefined;
  const adminAddress = admin && config.admin
    ? await admin.listen(config.admin.host, config.admin.port).catch(async (err: unknown) => {
        await http?.close();
        await frontend.close();
        await stopBackground();
        throw listenProblem('admin', config.admin!.host, config.admin!.port, err);
      })
    : undefined;

  return {
    get config() {
      return running;
    },
    cluster,
    stats,
    statementStats,
    frontend,
    address,
    serverVersion,
    pools: (id) => poolsById.get(id),
    applyConfig,
    reloadConfig,
    ...(http ? { httpAddress: http.address } : {}),
    ...(adminAddress ? { adminAddress } : {}),
    async close() {
      accepting = false;
      await http?.close();
      await admin?.close();
      await frontend.close();
      await monitor.stop();
      await failover.stop();
      await Promise.all([...poolsById.values()].map((p) => p.close()));
      await Promise.all(retiring);
    },
  };
}

/**
 * Opens one connection to the writeHost so the greeting can carry its real version
 * (user-pain #21), checks that pooled connections retire before the server's wait_timeout
 * would kill them (user-pain #14), and reads the global sql_mode: with NO_BACKSLASH_ESCAPES or
 * ANSI_QUOTES every session starts pinned to its writeHost connection (session-state.ts).
 */
async function learnFromWriter(
  cluster: ClusterStore,
  pools: Map<string, HostPools>,
  idleTimeoutMs: number,
  learned: { sqlModeUnmodelled: boolean },
  log: Logger,
): Promise<void> {
  const writer = cluster.view.writer;
  const p = writer && pools.get(writer.id);
  if (!p) return;
  try {
    const conn = await p.acquire({ wireCapabilities: 0, charset: 45 });
    try {
      const rows = await conn.query('SELECT @@wait_timeout, @@GLOBAL.sql_mode');
      const waitTimeoutMs = Number(rows[0]?.[0]) * 1000;
      const sqlMode = String(rows[0]?.[1] ?? '');
      learned.sqlModeUnmodelled = quotingUnmodelled(`'${sqlMode.replace(/'/g, '')}'`) === true;
      if (learned.sqlModeUnmodelled) {
        log.warn(
          { writer: writer!.id, sqlMode },
          "the server's global sql_mode has NO_BACKSLASH_ESCAPES or ANSI_QUOTES: every session stays on its writeHost connection (no read splitting), because the statement lexer does not model that quoting",
        );
      }
      if (Number.isFinite(waitTimeoutMs) && idleTimeoutMs >= waitTimeoutMs) {
        log.warn(
          { writer: writer!.id, idleTimeoutMs, waitTimeoutMs },
          'pool.idleTimeoutMs is not below the server wait_timeout: idle connections may be killed by the server first (they are replaced on borrow, at the cost of a reconnect)',
        );
      }
    } finally {
      p.release(conn);
    }
  } catch (err) {
    log.warn({ writer: writer!.id, err: (err as Error).message }, 'writeHost not reachable at start-up');
  }
}
