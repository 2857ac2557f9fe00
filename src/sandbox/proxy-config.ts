/**
 * The raw (unvalidated) Sluice config for a proxy in front of a sandbox: its primary as the
 * writeHost, its replicas as readHosts, its app account on both sides. `sluice sandbox`, the
 * test helpers and the benchmarks all start from this and override what they need.
 *
 * conf/sluice.yaml describes the same setup with the quick start's default ports
 * (SANDBOX_DEFAULT_PORTS; test/unit/config/load.test.ts compares the two). What differs, on
 * purpose: the sandbox keeps its dnindex file in its own (removed) directory, takes a fresh
 * random admin password each run (printed in its banner) instead of the example's "admin", and
 * its app account has no defaultSchema (the connect line names sluice_test).
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

/**
 * The quick start's ports when they are free (`sluice sandbox` without port options), which
 * are conf/sluice.yaml's: servers from 3311, proxy 8066, admin port 9066, HTTP 9067.
 */
export const SANDBOX_DEFAULT_PORTS = Object.freeze({ servers: 3311, listen: 8066, admin: 9066, http: 9067 });

/** The dataHost's name, as in conf/sluice.yaml (the key in the dnindex file). */
export const SANDBOX_DATAHOST = 'dh1';

/** Where a sandbox proxy keeps its dnindex file: in the sandbox directory, removed with it. */
export function sandboxDnIndexFile(dir: string): string {
  return `${dir}/dnindex.properties`;
}

/** The admin port's account name, as in conf/sluice.yaml. */
export const SANDBOX_PROXY_ADMIN_USER = 'admin';

export interface SandboxProxyExtras {
  /** Also open the admin SQL port (user `admin`) on `host`. */
  readonly admin?: { readonly port: number; readonly password: string };
  /** Also open the HTTP endpoint (/health, /metrics, status page) on `host`. */
  readonly http?: { readonly port: number };
  /**
   * The address the proxy's listeners (MySQL, admin, HTTP) bind. Default 127.0.0.1; a proxy in
   * a network namespace of its own (tests of partitions) listens on that namespace's address.
   */
  readonly host?: string;
}

export function sandboxProxyConfig(
  sb: SandboxCoordinates,
  listenPort: number,
  extras: SandboxProxyExtras = {},
): Record<string, unknown> {
  const host = extras.host ?? '127.0.0.1';
  return {
    listen: { host, port: listenPort },
    users: [{ name: sb.user, password: sb.password }],
    dataHost: {
      name: SANDBOX_DATAHOST,
      user: sb.user,
      password: sb.password,
      writeHosts: [{ host: sb.primary.host, port: sb.primary.port }],
      readHosts: sb.replicas.map((r) => ({ host: r.host, port: r.port })),
      failover: { enabled: false, dnindexFile: sandboxDnIndexFile(sb.dir) },
    },
    ...(extras.admin
      ? { admin: { host, port: extras.admin.port, user: SANDBOX_PROXY_ADMIN_USER, password: extras.admin.password } }
      : {}),
    ...(extras.http ? { http: { host, port: extras.http.port } } : {}),
  };
}
