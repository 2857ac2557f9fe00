/**
 * The raw (unvalidated) Sluice config for a proxy in front of a sandbox: its primary as the
 * writeHost, its replicas as readHosts, its app account on both sides. `sluice sandbox`, the
 * test helpers and the benchmarks all start from this and override what they need.
 */

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface SandboxCoordinates {
  readonly primary: Endpoint;
  readonly replicas: readonly Endpoint[];
  readonly user: string;
  readonly password: string;
  readonly dir: string;
}

export function sandboxProxyConfig(sb: SandboxCoordinates, listenPort: number): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: listenPort },
    users: [{ name: sb.user, password: sb.password }],
    dataHost: {
      name: 'dh1',
      user: sb.user,
      password: sb.password,
      writeHosts: [{ host: sb.primary.host, port: sb.primary.port }],
      readHosts: sb.replicas.map((r) => ({ host: r.host, port: r.port })),
      failover: { enabled: false, dnindexFile: `${sb.dir}/dnindex.properties` },
    },
  };
}
