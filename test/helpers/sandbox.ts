/**
 * The database sandbox as the tests see it.
 *
 * `test/run.ts` starts ONE sandbox (primary + 2 replicas, semi-sync) for the whole run and passes
 * its coordinates in the `SLUICE_SANDBOX` environment variable (JSON, see `SandboxInfo`).
 * `getSandbox()` returns those. When the variable is absent — a single file run directly, e.g.
 * `node --import tsx --test test/integration/sandbox.test.ts` — the first `getSandbox()` starts a
 * private sandbox for this process (same shape), stopped by a root-level `after()` hook registered
 * when this module is imported (and, failing that, by the sandbox's own process-exit handler).
 * Each directly-run file then pays its own sandbox start (~1.5 s).
 *
 * The shared sandbox must not be broken by a test (no killing servers, no `read_only` changes
 * left behind). Tests that need to kill or restart servers use `startPrivateSandbox()`.
 */
import { after } from 'node:test';
import mysql from 'mysql2/promise';
import { pino, type Logger } from 'pino';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/index.js';
import { SANDBOX_ENV, sandboxInfo, type SandboxInfo } from './sandbox-info.js';

export { SANDBOX_ENV, sandboxInfo, type SandboxInfo, type ServerInfo } from './sandbox-info.js';

/** Logger for sandboxes started by tests: stderr, `SLUICE_TEST_LOG` level (default warn). */
export function testLogger(): Logger {
  return pino({ level: process.env['SLUICE_TEST_LOG'] ?? 'warn' }, pino.destination(2));
}

let privateSandbox: Promise<Sandbox> | undefined;
let cached: Promise<SandboxInfo> | undefined;
const ownedSandboxes: Promise<Sandbox>[] = [];

// Registered at import time so the hook lands on the ROOT test (end of this file), whatever
// context getSandbox() / startPrivateSandbox() are called from later. (So: import this module
// from test files only — test/run.ts uses sandbox-info.ts.)
after(async () => {
  const all = [...ownedSandboxes, ...(privateSandbox === undefined ? [] : [privateSandbox])];
  await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.stop()));
});

/** The shared sandbox (from `SLUICE_SANDBOX`), or a private one started on first use. */
export function getSandbox(): Promise<SandboxInfo> {
  cached ??= (async () => {
    const env = process.env[SANDBOX_ENV];
    if (env !== undefined) return JSON.parse(env) as SandboxInfo;
    privateSandbox = startSandbox({ logger: testLogger(), replicas: 2, semiSync: true });
    return sandboxInfo(await privateSandbox);
  })();
  return cached;
}

/**
 * A sandbox owned by the calling test file, for tests that kill / stop / restart servers
 * (the shared one must stay intact). Stopped when the file's tests are done (root `after`);
 * `await sb.stop()` earlier is fine too. Default: 2 replicas, no semi-sync.
 */
export function startPrivateSandbox(opts: Partial<SandboxOptions> = {}): Promise<Sandbox> {
  const p = startSandbox({ logger: testLogger(), ...opts });
  ownedSandboxes.push(p);
  return p;
}

type Endpoint = { readonly host: string; readonly port: number };

/** A mysql2 connection straight to one server as the admin account. */
export async function connectAdmin(server: Endpoint, opts: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  const sb = await getSandbox();
  return mysql.createConnection({
    host: server.host,
    port: server.port,
    user: sb.adminUser,
    password: sb.adminPassword,
    database: sb.database,
    connectTimeout: 5_000,
    ...opts,
  });
}

/** A mysql2 connection straight to one server as the application account (app/app). */
export async function connectApp(server: Endpoint, opts: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  const sb = await getSandbox();
  return mysql.createConnection({
    host: server.host,
    port: server.port,
    user: sb.user,
    password: sb.password,
    database: sb.database,
    connectTimeout: 5_000,
    ...opts,
  });
}

/** One statement on one server as admin (own connection, closed afterwards); returns the rows. */
export async function adminQuery<T = Record<string, unknown>>(
  server: Endpoint,
  sql: string,
  params?: readonly unknown[],
): Promise<T[]> {
  const conn = await connectAdmin(server);
  try {
    const [rows] = await conn.query(sql, params === undefined ? undefined : [...params]);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

/**
 * Polls `probe` until it returns something other than undefined/false, or fails after
 * `timeoutMs` with `what` and the last value/error in the message. No fixed sleeps in tests.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'} (last: ${detail})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/** Alias of `connectAdmin` (name used by test/integration/data-path.test.ts). */
export const adminConnection = connectAdmin;

/**
 * `dataHost.failover` with promote and rejoin through the sandbox's admin and replication
 * accounts, recording into `dnindexFile`; `extra` adds or overrides settings.
 */
export function promotingFailover(
  sb: Pick<Sandbox, 'adminUser' | 'adminPassword' | 'replUser' | 'replPassword'>,
  dnindexFile: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    enabled: true,
    promote: true,
    rejoin: true,
    user: sb.adminUser,
    password: sb.adminPassword,
    replicationUser: sb.replUser,
    replicationPassword: sb.replPassword,
    dnindexFile,
    ...extra,
  };
}
