/**
 * The operator surfaces of a running Sluice — the HTTP endpoints and the admin SQL port — on top
 * of its control plane and whatever holds the data path (this process, or a worker group). One
 * composition for one process (app.ts) and for a group's primary (group/primary.ts).
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from './config/types.js';
import { describeConfig } from './config/index.js';
import { listenProblem } from './frontend/listen.js';
import { startHttpServer } from './admin/http/http-server.js';
import type { HttpSources } from './admin/http/sources.js';
import { AdminServer } from './admin/admin-server.js';
import type { DataPath } from './admin/data-path.js';
import type { ControlPlane } from './control-plane.js';
import type { HostCache } from './admin/admin-types.js';

export interface OperatorSurfaces {
  readonly httpAddress?: { host: string; port: number };
  readonly adminAddress?: { host: string; port: number };
  close(): Promise<void>;
}

/** Says what this configuration does, and which settings do nothing (user-pain #22). */
export function logBehaviour(config: SluiceConfig, log: Logger): void {
  const behaviour = describeConfig(config);
  log.info({ behaviour: behaviour.lines }, 'configuration');
  for (const warning of behaviour.warnings) log.warn({ setting: warning }, 'configuration warning');
}

/**
 * Starts the HTTP endpoints and the admin port the config names. A listener that cannot bind
 * stops the start: what this started is closed again and the error names the setting.
 */
export async function startOperatorSurfaces(
  config: SluiceConfig,
  control: ControlPlane,
  dataPath: DataPath,
  log: Logger,
  extra: { readonly configPath?: string; readonly processMetrics?: HttpSources['processMetrics']; readonly hosts?: HostCache } = {},
): Promise<OperatorSurfaces> {
  let accepting = true;
  const http = config.http
    ? await startHttpServer(
        {
          cluster: control.cluster,
          clusterConfig: () => control.config.cluster,
          switchovers: () => control.switchovers,
          dataPath,
          accepting: () => accepting,
          ...(extra.processMetrics ? { processMetrics: extra.processMetrics } : {}),
          ...(extra.hosts ? { blockedHosts: () => extra.hosts!.blockedAddresses().length } : {}),
        },
        config.http.host,
        config.http.port,
        log.child({ component: 'http' }),
      ).catch((err: unknown) => {
        throw listenProblem('http', config.http!.host, config.http!.port, err);
      })
    : undefined;
  const admin = config.admin
    ? new AdminServer(
        {
          config: () => control.config,
          configured: () => control.configured,
          applyConfig: (next, source) => control.applyConfig(next, source),
          reloadConfig: (source) => control.reloadConfig(source),
          ...(extra.configPath !== undefined ? { configPath: extra.configPath } : {}),
          cluster: control.cluster,
          dataPath,
          ...(extra.hosts ? { hosts: extra.hosts } : {}),
          switchover: (index, reason) =>
            control.switchover(index, reason, async (hostId) => (await dataPath.sessions()).filter((x) => x.transactionHost === hostId).length),
        },
        log.child({ component: 'admin' }),
      )
    : undefined;
  const adminAddress =
    admin && config.admin
      ? await admin.listen(config.admin.host, config.admin.port).catch(async (err: unknown) => {
          await http?.close();
          throw listenProblem('admin', config.admin!.host, config.admin!.port, err);
        })
      : undefined;
  return {
    ...(http ? { httpAddress: http.address } : {}),
    ...(adminAddress ? { adminAddress } : {}),
    async close() {
      accepting = false;
      await http?.close();
      await admin?.close();
    },
  };
}
