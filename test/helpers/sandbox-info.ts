/**
 * The sandbox coordinates passed from test/run.ts to the test files (`SLUICE_SANDBOX`, JSON).
 * Kept apart from sandbox.ts because that one imports node:test (test/run.ts must not).
 */
import type { Sandbox } from '../../src/sandbox/index.js';

export interface ServerInfo {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly serverId: number;
}

export interface SandboxInfo {
  readonly kind: 'mariadb' | 'mysql';
  readonly version: string;
  readonly primary: ServerInfo;
  readonly replicas: readonly ServerInfo[];
  /** Application account (no SUPER / READ_ONLY ADMIN): app / app. */
  readonly user: string;
  readonly password: string;
  /** Account with every privilege. */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** `sluice_test`. */
  readonly database: string;
  readonly dir: string;
  /** CA / server certificate / key every sandbox server uses for TLS (absent: no TLS). */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

export const SANDBOX_ENV = 'SLUICE_SANDBOX';

export function sandboxInfo(sb: Sandbox): SandboxInfo {
  const server = (s: Sandbox['primary']): ServerInfo => ({ name: s.name, host: s.host, port: s.port, serverId: s.serverId });
  return {
    kind: sb.kind,
    version: sb.version,
    primary: server(sb.primary),
    replicas: sb.replicas.map(server),
    user: sb.user,
    password: sb.password,
    adminUser: sb.adminUser,
    adminPassword: sb.adminPassword,
    database: sb.database,
    dir: sb.dir,
    ...(sb.tls ? { tls: { ca: sb.tls.ca, cert: sb.tls.cert, key: sb.tls.key } } : {}),
  };
}

