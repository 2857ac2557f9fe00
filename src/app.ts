/**
 * Composition root of one process that does everything (`workers: 1`, and in-process use such
 * as the sandbox and tests): the control plane (cluster state, heartbeats, failover, config) and
 * the data path (pools, client sessions) side by side, the admin port and HTTP endpoints on top.
 * With worker processes, group/primary.ts and group/worker.ts compose the same two planes in
 * separate processes.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from './config/types.js';
import { ClusterStore } from './cluster/store.js';
import { loadBackendTls } from './backend/backend-tls.js';
import type { HostPools } from './backend/host-pools.js';
import { loadFrontendSecurity } from './frontend/tls.js';
import { FrontendServer } from './frontend/server.js';
import { listenProblem } from './frontend/listen.js';
import type { SessionStats } from './frontend/session-context.js';
import type { StatementStats } from './frontend/statement-stats.js';
import type { ConfigApplyResult } from './admin/admin-server.js';
import { logBehaviour, startOperatorSurfaces } from './operator-surfaces.js';
import { ControlPlane } from './control-plane.js';
import { DataPlane } from './data-plane.js';
import { AddressTables } from './frontend/address-guard.js';

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
  logBehaviour({ ...config, workers: 1 }, log);
  // TLS certificates and RSA keys are read now: a bad file stops the start (ConfigError).
  const security = loadFrontendSecurity(config);
  const backendTls = loadBackendTls(config.dataHost.tls);
  const control = new ControlPlane(config, backendTls, log, {
    ...(opts.monitor !== undefined ? { monitor: opts.monitor } : {}),
    ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}),
  });
  // Blocked hosts and failed logins: this process's, read by the front end and the admin port.
  const addresses = new AddressTables(() => control.config.limits);
  const data = new DataPlane({
    config: () => control.config,
    cluster: control.cluster,
    positions: control.positions,
    pool: config.dataHost.pool,
    security,
    backendTls,
    frontend: { guard: addresses },
    log,
  });
  await control.start();
  // Every host's greeting (MariaDB extended capabilities) before the first client is greeted.
  await data.prepare();
  // A listener that cannot bind stops the start: what was started so far is stopped again (the
  // sandbox keeps running its servers and reports the port), and the error names the setting.
  const stopBackground = async (): Promise<void> => {
    await control.close();
    await data.closePools();
  };
  const address = await data.listen(config.listen.host, config.listen.port).catch(async (err: unknown) => {
    await stopBackground();
    throw listenProblem('listen', config.listen.host, config.listen.port, err);
  });
  log.info({ listen: address, dataHost: config.dataHost.name, writer: control.cluster.view.writer?.id, workers: 1 }, 'sluice listening');
  const surfaces = await startOperatorSurfaces(config, control, data.asDataPath(), log, {
    ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}),
    hosts: addresses,
  }).catch(
    async (err: unknown) => {
      await data.close();
      await control.close();
      throw err;
    },
  );

  return {
    get config() {
      return control.config;
    },
    cluster: control.cluster,
    stats: data.stats,
    statementStats: data.statementStats,
    frontend: data.frontend,
    address,
    serverVersion: () => data.serverVersion(),
    pools: (id) => data.pools(id),
    applyConfig: (next, source) => control.applyConfig(next, source),
    reloadConfig: (source) => control.reloadConfig(source),
    ...(surfaces.httpAddress ? { httpAddress: surfaces.httpAddress } : {}),
    ...(surfaces.adminAddress ? { adminAddress: surfaces.adminAddress } : {}),
    async close() {
      await surfaces.close();
      await data.frontend.close();
      await control.close();
      await data.closePools();
    },
  };
}
