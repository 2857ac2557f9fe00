/**
 * Composition root: builds every component from a validated config and wires them together.
 * The only module that imports from every folder.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from './config/types.js';
import { ClusterStore } from './cluster/store.js';
import { initialState } from './cluster/reduce.js';
import { Monitor } from './cluster/monitor.js';
import { HostPools } from './backend/host-pools.js';
import { loadBackendTls } from './backend/backend-tls.js';
import { loadFrontendSecurity } from './frontend/tls.js';
import { createSelector } from './backend/selectors.js';
import { FrontendServer } from './frontend/server.js';
import { warmClassifier } from './routing/classify.js';
import { newSessionStats, type SessionStats } from './frontend/session.js';

/** Used until a writeHost has answered once (and when none ever does). */
const FALLBACK_SERVER_VERSION = '8.0.0-sluice';

export interface Sluice {
  readonly config: SluiceConfig;
  readonly cluster: ClusterStore;
  readonly stats: SessionStats;
  readonly frontend: FrontendServer;
  /** Where the proxy listens (the real port when the config said 0). */
  readonly address: { host: string; port: number };
  serverVersion(): string;
  pools(hostId: string): HostPools | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Skip heartbeats (unit-level tests of the data path). */
  readonly monitor?: boolean;
}

export async function startSluice(config: SluiceConfig, log: Logger, opts: StartOptions = {}): Promise<Sluice> {
  const dh = config.dataHost;
  // TLS certificates and RSA keys are read now: a bad file stops the start (ConfigError).
  const security = loadFrontendSecurity(config);
  const backendTls = loadBackendTls(dh.tls);
  const cluster = new ClusterStore(initialState(dh), log.child({ component: 'cluster' }));
  const poolsById = new Map<string, HostPools>();
  for (const h of cluster.view.hosts) {
    poolsById.set(
      h.id,
      new HostPools(
        { host: h.host, port: h.port, user: dh.user, password: dh.password, ...(backendTls ? { tls: backendTls } : {}) },
        dh.pool,
        log,
      ),
    );
  }
  const monitor = new Monitor({
    dataHost: dh,
    hosts: cluster.view.hosts,
    dispatch: (e) => cluster.dispatch(e),
    logger: log.child({ component: 'monitor' }),
  });
  // A dead host's idle connections are useless; drop them so nobody borrows one.
  cluster.on('change', (_view, transitions) => {
    for (const t of transitions) if (t.to === 'down') void poolsById.get(t.hostId)?.clearIdle();
  });

  const stats: SessionStats = newSessionStats();
  const serverVersion = (): string => {
    if (config.serverVersion) return config.serverVersion;
    const writer = cluster.view.writer;
    return (writer && poolsById.get(writer.id)?.serverVersion) ?? FALLBACK_SERVER_VERSION;
  };
  const frontend = new FrontendServer(
    {
      config,
      cluster: () => cluster.view,
      pools: (id) => poolsById.get(id),
      selector: createSelector(dh.loadBalance),
      serverVersion,
      stats,
      security,
    },
    log.child({ component: 'frontend' }),
  );

  if (opts.monitor !== false) {
    // One round of heartbeats first, so the first clients are routed on real status.
    await monitor.probeAll();
    monitor.start();
  }
  await learnServerVersion(cluster, poolsById, dh.pool.idleTimeoutMs, log);
  // Load the SQL parser now (tens of ms) rather than on the first statement that needs it.
  warmClassifier();
  const address = await frontend.listen(config.listen.host, config.listen.port);
  log.info({ listen: address, dataHost: dh.name, writer: cluster.view.writer?.id }, 'sluice listening');

  return {
    config,
    cluster,
    stats,
    frontend,
    address,
    serverVersion,
    pools: (id) => poolsById.get(id),
    async close() {
      await frontend.close();
      await monitor.stop();
      await Promise.all([...poolsById.values()].map((p) => p.close()));
    },
  };
}

/**
 * Opens one connection to the writeHost so the greeting can carry its real version
 * (user-pain #21), and checks that pooled connections retire before the server's wait_timeout
 * would kill them (user-pain #14).
 */
async function learnServerVersion(
  cluster: ClusterStore,
  pools: Map<string, HostPools>,
  idleTimeoutMs: number,
  log: Logger,
): Promise<void> {
  const writer = cluster.view.writer;
  const p = writer && pools.get(writer.id);
  if (!p) return;
  try {
    const conn = await p.acquire({ wireCapabilities: 0, charset: 45 });
    try {
      const rows = await conn.query('SELECT @@wait_timeout');
      const waitTimeoutMs = Number(rows[0]?.[0]) * 1000;
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
