/**
 * Starts Sluice in-process in front of the shared test sandbox, on a free port.
 * Usage: `const proxy = await startProxy(); … await proxy.close();`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { validateConfig } from '../../src/config/index.js';
import { startSluice, type Sluice } from '../../src/app.js';
import { sandboxProxyConfig } from '../../src/sandbox/index.js';
import { getSandbox, type SandboxInfo } from './sandbox.js';

export interface TestProxy {
  readonly sluice: Sluice;
  readonly port: number;
  readonly sandbox: SandboxInfo;
  /** A mysql2 connection through the proxy (as the sandbox's app user). */
  connect(opts?: mysql.ConnectionOptions): Promise<mysql.Connection>;
  close(): Promise<void>;
}

export interface ProxyOverrides {
  /** Put the proxy in front of this sandbox (e.g. a private one a test may kill) instead of the shared one. */
  readonly sandbox?: SandboxInfo;
  readonly dataHost?: Record<string, unknown>;
  readonly session?: Record<string, unknown>;
  readonly users?: readonly ({ name: string; password: string } & Record<string, unknown>)[];
  /** Top-level `tls` (front-end TLS) of the config. */
  readonly tls?: Record<string, unknown>;
  /** Top-level `auth` (caching_sha2 full authentication, RSA keys) of the config. */
  readonly auth?: Record<string, unknown>;
  /** Top-level `http` (operations endpoint: /health, /metrics, status page) of the config. */
  readonly http?: Record<string, unknown>;
  readonly monitor?: boolean;
  /** Top-level `admin` (admin SQL port) of the config. */
  readonly admin?: Record<string, unknown>;
  /** Passed to startSluice: the file admin SAVE CONFIG / RELOAD @@CONFIG use. */
  readonly configPath?: string;
  /** Any other top-level config keys (clients, maxConnections, …). */
  readonly top?: Record<string, unknown>;
  /** `log` section; with `logStream`, the proxy's log lines go there (as JSON lines). */
  readonly log?: Record<string, unknown>;
  readonly logStream?: NodeJS.WritableStream;
}

export async function startProxy(overrides: ProxyOverrides = {}): Promise<TestProxy> {
  const sandbox = overrides.sandbox ?? (await getSandbox());
  const base = sandboxProxyConfig(sandbox, 0) as { users: unknown; dataHost: Record<string, unknown> };
  const dnindexDir = mkdtempSync(path.join(tmpdir(), 'sluice-test-dnindex-'));
  const config = validateConfig({
    ...base,
    users: overrides.users ?? base.users,
    session: overrides.session ?? {},
    log: { level: process.env.SLUICE_TEST_LOG ?? (overrides.logStream ? 'info' : 'silent'), ...overrides.log },
    ...overrides.top,
    ...(overrides.tls ? { tls: overrides.tls } : {}),
    ...(overrides.auth ? { auth: overrides.auth } : {}),
    ...(overrides.admin ? { admin: overrides.admin } : {}),
    ...(overrides.http ? { http: overrides.http } : {}),
    dataHost: {
      ...base.dataHost,
      pool: { min: 0, max: 64 },
      heartbeat: { intervalMs: 500, timeoutMs: 1000, retries: 3 },
      ...overrides.dataHost,
      // Each proxy its own dnindex unless the test names one: proxies with different writeHosts
      // must not read each other's recorded writer.
      failover: {
        ...(base.dataHost['failover'] as Record<string, unknown>),
        dnindexFile: path.join(dnindexDir, 'dnindex.properties'),
        ...(overrides.dataHost?.['failover'] as Record<string, unknown> | undefined),
      },
    },
  });
  const log = overrides.logStream
    ? pino({ level: config.log.level }, overrides.logStream as unknown as pino.DestinationStream)
    : pino({ level: config.log.level });
  const sluice = await startSluice(config, log, { monitor: overrides.monitor ?? true, ...(overrides.configPath !== undefined ? { configPath: overrides.configPath } : {}) });
  const port = sluice.address.port;
  return {
    sluice,
    port,
    sandbox,
    connect: (opts = {}) =>
      mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: sandbox.user,
        password: sandbox.password,
        database: 'sluice_test',
        ...opts,
      }),
    close: async () => {
      await sluice.close();
      rmSync(dnindexDir, { recursive: true, force: true });
    },
  };
}

/** `SELECT @@server_id` through a connection, as a number. */
export async function serverId(conn: mysql.Connection, prefix = ''): Promise<number> {
  const [rows] = await conn.query(`${prefix}SELECT @@server_id AS id`);
  return Number((rows as { id: number }[])[0]!.id);
}

/** Runs `fn` and returns the MySQL errno it failed with (or throws if it did not fail). */
export async function errnoOf(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (typeof errno === 'number') return errno;
    throw err;
  }
  throw new Error('expected a MySQL error, the statement succeeded');
}
