/**
 * startSandbox: one `mariadb-install-db` (or `mysqld --initialize-insecure`), N+1 copies of that
 * datadir, every server started on loopback (or in its network namespace, see `placement`) with
 * GTID binlogs, replication wired before any event is binlogged, then the accounts and
 * `sluice_test` created on the primary so they replicate. Resolves only when every replica has
 * applied them.
 */
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findServerBinary } from './binaries.js';
import { flavorFor, type Flavor } from './flavor.js';
import { choosePorts } from './ports.js';
import { SANDBOX_DEFAULT_PORTS } from './proxy-config.js';
import { generateSandboxTls } from './certs.js';
import { ManagedServer, forgetDir, removeOnExit } from './server.js';
import type { Sandbox, SandboxOptions, SandboxServer, SandboxServerName, SandboxTlsFiles } from './types.js';

/** Ports of the quick start (`sluice sandbox`): primary 3311, replicas 3312, 3313 (conf/sluice.yaml). */
export const DEFAULT_SANDBOX_BASE_PORT = SANDBOX_DEFAULT_PORTS.servers;
export const SANDBOX_DATABASE = 'sluice_test';
export const SANDBOX_ADMIN = { user: 'sluice_admin', password: 'admin' } as const;
export const SANDBOX_REPL = { user: 'repl', password: 'repl' } as const;
export const SANDBOX_APP = { user: 'app', password: 'app' } as const;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startSandbox(opts: SandboxOptions): Promise<Sandbox> {
  const t0 = Date.now();
  const log = opts.logger.child({ component: 'sandbox' });
  const replicaCount = opts.replicas ?? 2;
  if (!Number.isInteger(replicaCount) || replicaCount < 0 || replicaCount > 32) {
    throw new Error(`sandbox replicas must be an integer 0-32, got ${String(replicaCount)}`);
  }
  const placement = opts.placement;
  if (placement !== undefined && placement.length !== 1 + replicaCount) {
    throw new Error(`sandbox placement needs one entry per server (${1 + replicaCount}), got ${placement.length}`);
  }
  const keep = opts.keep ?? false;
  const semiSync = opts.semiSync ?? false;
  const bin = await findServerBinary();
  const flavor = flavorFor(bin);
  const dir = await mkdtemp(path.join(opts.parentDir ?? os.tmpdir(), 'sluice-sandbox-'));
  if (!keep) removeOnExit(dir);
  log.info({ dir, kind: bin.kind, version: bin.version, binary: bin.path, replicas: replicaCount, semiSync }, 'starting sandbox');

  const servers: ManagedServer[] = [];
  try {
    const ports = await choosePorts(1 + replicaCount, opts.basePort);
    const names: SandboxServerName[] = ['primary'];
    for (let i = 1; i <= replicaCount; i++) names.push(`replica${i}`);

    // Certificates while the datadir is initialised.
    const tlsFiles: Promise<SandboxTlsFiles | undefined> =
      opts.tls === false
        ? Promise.resolve(undefined)
        : generateSandboxTls(
            path.join(dir, 'tls'),
            path.join(dir, 'tls.log'),
            'openssl',
            (placement ?? []).map((p) => p.address),
          ).catch((err: Error) => {
            log.warn({ err: err.message }, 'could not create TLS certificates (is openssl installed?); servers run without TLS');
            return undefined;
          });
    // One initialisation, then copies: far cheaper than N installs.
    const primaryData = path.join(dir, 'primary', 'data');
    await mkdir(path.dirname(primaryData), { recursive: true });
    await flavor.initDatadir(bin, primaryData, path.join(dir, 'install.log'));
    const tls = await tlsFiles;
    await Promise.all(
      names.map(async (name) => {
        const datadir = path.join(dir, name, 'data');
        if (name !== 'primary') await cp(primaryData, datadir, { recursive: true });
        await flavor.prepareCopy(datadir);
      }),
    );
    log.info({ ms: Date.now() - t0 }, 'datadirs ready');

    names.forEach((name, i) => {
      const port = ports[i];
      if (port === undefined) throw new Error('internal: missing port');
      const home = path.join(dir, name);
      const serverId = i + 1;
      const socketPath = path.join(home, 'mysqld.sock');
      const place = placement?.[i];
      const host = place?.address ?? '127.0.0.1';
      const args = flavor.serverArgs(bin, {
        name,
        serverId,
        port,
        bindAddress: host,
        datadir: path.join(home, 'data'),
        socketPath,
        pidFile: path.join(home, 'mysqld.pid'),
        primary: i === 0,
        semiSync,
        semiSyncTimeoutMs: opts.semiSyncTimeoutMs ?? 2_000,
        ...(tls ? { tls } : {}),
      });
      servers.push(
        new ManagedServer({
          name,
          serverId,
          host,
          port,
          ...(place ? { netns: place.netns } : {}),
          binary: bin.path,
          args: [...args, ...(opts.extraArgs ?? [])],
          socketPath,
          logFile: path.join(dir, `${name}.log`),
          logger: log,
          startTimeoutMs: opts.startTimeoutMs ?? 60_000,
          credentials: () => ({ ...SANDBOX_ADMIN }),
        }),
      );
    });

    await Promise.all(servers.map((s) => s.start()));
    const [primary, ...replicas] = servers;
    if (primary === undefined) throw new Error('internal: no primary');
    log.info({ ms: Date.now() - t0 }, 'servers accepting connections');

    // The replication account everywhere, unlogged; then replication, before anything is
    // binlogged: the accounts below are the primary's first binlog events and replicate.
    await Promise.all(
      servers.map(async (s) => s.rootExec(await flavor.replAccountSql(SANDBOX_REPL, (sql) => s.rootQuery(sql)))),
    );
    for (const r of replicas) await r.rootExec(flavor.replicationSql(primary.host, primary.port, SANDBOX_REPL));
    if (semiSync && replicas.length > 0) await waitSemiSyncClients(primary, flavor, replicas.length, log);

    const root = (sql: string, params?: readonly unknown[]): Promise<unknown> => primary.rootQuery(sql, params);
    const statements = await flavor.accountSql(
      bin,
      { app: SANDBOX_APP, admin: SANDBOX_ADMIN, repl: SANDBOX_REPL, database: SANDBOX_DATABASE },
      root,
    );
    await primary.rootExec(statements);

    const sandbox = new SandboxImpl(bin.kind, dir, primary, replicas, flavor, keep, log, tls);
    await sandbox.waitForReplication(60_000);
    const versionRows = (await primary.query('SELECT VERSION() AS v')) as { v?: unknown }[];
    sandbox.version = String(versionRows[0]?.v ?? bin.version);
    log.info(
      { ms: Date.now() - t0, dir, ports: servers.map((s) => s.port), version: sandbox.version },
      'sandbox ready',
    );
    return sandbox;
  } catch (err) {
    log.error({ err, dir }, 'sandbox start failed; cleaning up');
    await Promise.all(servers.map((s) => s.destroy()));
    if (!keep) {
      await rm(dir, { recursive: true, force: true });
      forgetDir(dir);
    }
    throw err;
  }
}

async function waitSemiSyncClients(
  primary: ManagedServer,
  flavor: Flavor,
  expected: number,
  log: SandboxOptions['logger'],
): Promise<void> {
  // Until the replicas' IO threads are connected, each commit on the primary would wait for
  // the whole semi-sync timeout before falling back to async.
  const deadline = Date.now() + 15_000;
  let clients = 0;
  while (Date.now() < deadline) {
    const rows = (await primary.rootQuery(`SHOW GLOBAL STATUS LIKE '${flavor.semiSyncClientsVariable}'`)) as {
      Value?: unknown;
    }[];
    clients = Number(rows[0]?.Value ?? 0);
    if (clients >= expected) return;
    await delay(25);
  }
  log.warn({ clients, expected }, 'not every replica connected as semi-sync client within 15 s; continuing');
}

class SandboxImpl implements Sandbox {
  readonly user = 'app' as const;
  readonly password = 'app' as const;
  readonly adminUser = SANDBOX_ADMIN.user;
  readonly adminPassword = SANDBOX_ADMIN.password;
  readonly replUser = SANDBOX_REPL.user;
  readonly replPassword = SANDBOX_REPL.password;
  readonly database = SANDBOX_DATABASE;
  readonly servers: readonly SandboxServer[];
  version = '';
  private stopping: Promise<void> | undefined;

  constructor(
    readonly kind: Sandbox['kind'],
    readonly dir: string,
    readonly primary: ManagedServer,
    readonly replicas: readonly ManagedServer[],
    private readonly flavor: Flavor,
    private readonly keep: boolean,
    private readonly log: SandboxOptions['logger'],
    readonly tls: SandboxTlsFiles | undefined,
  ) {
    this.servers = [primary, ...replicas];
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const t = Date.now();
      const results = await Promise.allSettled(this.servers.map((s) => s.stop()));
      if (!this.keep) {
        await rm(this.dir, { recursive: true, force: true });
        forgetDir(this.dir);
      }
      this.log.info({ ms: Date.now() - t, kept: this.keep ? this.dir : undefined }, 'sandbox stopped');
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    })();
    return this.stopping;
  }

  async waitForReplication(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const rows = (await this.primary.rootQuery(this.flavor.primaryPositionSql)) as { pos?: unknown }[];
    const pos = String(rows[0]?.pos ?? '').replace(/\s+/g, '');
    if (pos === '') return;
    const running = this.replicas.filter((r) => r.pid !== undefined);
    await Promise.all(running.map((r) => this.waitReplica(r, pos, deadline, timeoutMs)));
  }

  private async waitReplica(r: ManagedServer, pos: string, deadline: number, timeoutMs: number): Promise<void> {
    // As root over the socket: works even before the accounts have replicated.
    const q = (sql: string, params?: readonly unknown[]): Promise<unknown> => r.rootQuery(sql, params);
    for (;;) {
      const rows = (await q(this.flavor.waitPositionSql, [pos, 0.5])) as { r?: unknown }[];
      if (Number(rows[0]?.r) === 0) return;
      const state = await this.flavor.replicaState(q);
      if (state === undefined) throw new Error(`${r.name} is not configured as a replica`);
      if (state.sqlRunning === 'No' || state.lastSqlError !== '') {
        throw new Error(`${r.name}: replication SQL thread stopped: ${state.lastSqlError || '(no error text)'}`);
      }
      if (state.ioRunning === 'No' && state.lastIoError !== '') {
        throw new Error(`${r.name}: replication IO thread stopped: ${state.lastIoError}`);
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `${r.name} did not reach the primary's position ${pos} within ${timeoutMs} ms ` +
            `(IO ${state.ioRunning}, SQL ${state.sqlRunning}, last IO error: ${state.lastIoError || 'none'})`,
        );
      }
    }
  }
}
