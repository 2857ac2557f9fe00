/**
 * `sluice sandbox`: which ports it takes, and the banner it prints once everything is up.
 * Pure apart from probing ports, so both are tested without starting servers.
 */
import { PortInUseError, portIsFree } from './ports.js';
import { SANDBOX_DEFAULT_PORTS } from './proxy-config.js';

export interface SandboxPortOptions {
  /** `--port`: the proxy's MySQL port (0 = any free one). */
  readonly port?: number;
  /** `--base-port`: servers from here, then proxy, admin, HTTP (0 = all picked by the OS). */
  readonly basePort?: number;
  readonly replicas: number;
}

type Role = 'servers' | 'listen' | 'admin' | 'http';

export interface SandboxPortPlan {
  /** startSandbox's basePort: consecutive ports from it, or 0 = picked by the OS. */
  readonly servers: number;
  /** 0 = the listener takes any free port and reports it. */
  readonly listen: number;
  readonly admin: number;
  readonly http: number;
  /** The option that chooses each role's port: named when that port turns out to be busy. */
  readonly option: Readonly<Record<Role, string>>;
  /** Default ports that were taken by something else, so free ones are used instead. */
  readonly moved: readonly number[];
}

/** A sandbox option with an impossible value; reported as one sentence. */
export class SandboxUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxUsageError';
  }
}

/**
 * Without port options: the defaults (conf/sluice.yaml's) where they are free, any free port
 * where they are not — the quick start must start on a machine that already runs a MySQL on 3311
 * or a Mycat on 8066. With `--base-port N` (N > 0): servers on N, N+1, …, then proxy, admin and
 * HTTP on the next three; with `--port`: the proxy there. Ports asked for explicitly are never
 * replaced: a busy one is a PortInUseError naming the option, raised before anything starts.
 */
export async function planSandboxPorts(
  o: SandboxPortOptions,
  isFree: (port: number) => Promise<boolean> = portIsFree,
): Promise<SandboxPortPlan> {
  const option: Record<Role, string> = {
    servers: '--base-port',
    listen: o.port !== undefined || o.basePort === undefined ? '--port' : '--base-port',
    admin: '--base-port',
    http: '--base-port',
  };
  const serverCount = o.replicas + 1;
  const require = async (port: number, role: Role): Promise<number> => {
    if (port > 0 && !(await isFree(port))) throw new PortInUseError(port, option[role]);
    return port;
  };
  const explicitListen = o.port !== undefined ? await require(o.port, 'listen') : undefined;

  if (o.basePort !== undefined && o.basePort > 0) {
    const b = o.basePort;
    const last = b + serverCount + 2;
    if (last > 65535) {
      throw new SandboxUsageError(`--base-port ${b} leaves no room for ${serverCount + 3} ports (the last would be ${last}); pick a lower one`);
    }
    for (let i = 0; i < serverCount; i++) await require(b + i, 'servers');
    return {
      servers: b,
      listen: explicitListen ?? (await require(b + serverCount, 'listen')),
      admin: await require(b + serverCount + 1, 'admin'),
      http: await require(b + serverCount + 2, 'http'),
      option,
      moved: [],
    };
  }
  if (o.basePort === 0) return { servers: 0, listen: explicitListen ?? 0, admin: 0, http: 0, option, moved: [] };

  const moved: number[] = [];
  const preferred = async (port: number): Promise<number> => {
    if (await isFree(port)) return port;
    moved.push(port);
    return 0;
  };
  const d = SANDBOX_DEFAULT_PORTS;
  let servers: number = d.servers;
  for (let i = 0; i < serverCount; i++) {
    if (!(await isFree(d.servers + i))) {
      moved.push(d.servers + i);
      servers = 0;
    }
  }
  const listen = explicitListen ?? (await preferred(d.listen));
  const admin = await preferred(d.admin);
  const http = await preferred(d.http);
  return { servers, listen, admin, http, option, moved };
}

export interface BannerServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
}

export interface BannerInfo {
  readonly kind: string;
  readonly version: string;
  readonly dir: string;
  readonly primary: BannerServer;
  readonly replicas: readonly BannerServer[];
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly proxy: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  readonly http: { readonly host: string; readonly port: number };
  /** Default ports that were busy (SandboxPortPlan.moved). */
  readonly moved: readonly number[];
}

/** What the person who typed `npm run sandbox` needs: where everything is and what to try. */
export function sandboxBanner(b: BannerInfo): string {
  const web = `http://${b.http.host}:${b.http.port}`;
  const lines = [
    '',
    `Sluice sandbox (${b.kind} ${b.version}) is up:`,
    `  primary   ${b.primary.host}:${b.primary.port}  (server_id ${b.primary.serverId}, writeHost)`,
    ...b.replicas.map((r) => `  ${r.name.padEnd(9)} ${r.host}:${r.port}  (server_id ${r.serverId}, readHost)`),
    `  proxy     ${b.proxy.host}:${b.proxy.port}`,
    `  admin     ${b.admin.host}:${b.admin.port}`,
    `  http      ${b.http.host}:${b.http.port}`,
    '',
    `Connect:  mysql -h ${b.proxy.host} -P ${b.proxy.port} -u ${b.user} -p${b.password} ${b.database}`,
    `          then SELECT @@server_id a few times, and again inside BEGIN … COMMIT`,
    `Admin:    mysql -h ${b.admin.host} -P ${b.admin.port} -u ${b.admin.user} -p${b.admin.password}`,
    `          then SELECT * FROM backends;  SHOW @@HEARTBEAT;  SELECT * FROM help;`,
    `Status:   ${web}/`,
    `Metrics:  ${web}/metrics   (health check: ${web}/health)`,
    ...(b.moved.length > 0
      ? [
          '',
          `${b.moved.length === 1 ? 'Port' : 'Ports'} ${b.moved.join(', ')} ${b.moved.length === 1 ? 'was' : 'were'} in use, so free ports were taken (conf/sluice.yaml expects the defaults:`,
          `servers from ${SANDBOX_DEFAULT_PORTS.servers}, proxy ${SANDBOX_DEFAULT_PORTS.listen}, admin ${SANDBOX_DEFAULT_PORTS.admin}, HTTP ${SANDBOX_DEFAULT_PORTS.http}); or choose ports with --base-port N.`,
        ]
      : []),
    '',
    `Stop:     Ctrl-C stops everything and removes ${b.dir}`,
    '',
  ];
  return lines.join('\n');
}
