/**
 * The data path of one process: backend pools that follow the cluster view, and the client
 * front end with its sessions. With `workers: 1` it runs beside the control plane in the same
 * process (app.ts); with worker processes each worker runs one (group/worker.ts) and follows the
 * view its primary sends. It never changes cluster state: it reads views.
 */
import type { Logger } from 'pino';
import type { PoolConfig, SluiceConfig } from './config/types.js';
import type { ClusterView } from './cluster/view.js';
import type { Transition } from './cluster/state.js';
import type { ReplicaPositions } from './cluster/positions.js';
import type { GtidPosition } from './cluster/gtid.js';
import { HostPools, type BackendSocketInfo } from './backend/host-pools.js';
import type { BackendTlsOptions } from './backend/backend-tls.js';
import { createSelector } from './backend/selectors.js';
import { FrontendServer, type FrontendOptions } from './frontend/server.js';
import type { FrontendSecurity } from './frontend/tls.js';
import { newSessionStats, type KillOutcome, type SessionStats } from './frontend/session-context.js';
import { quotingUnmodelled } from './frontend/session-state.js';
import { StatementStats } from './frontend/statement-stats.js';
import { warmClassifier } from './routing/classify.js';
import type { DataPath, DataPathSnapshot, PoolTotals, SessionRow } from './admin/data-path.js';
import type { StatementStat } from './admin/admin-views.js';

/** Used until a writeHost has answered once (and when none ever does). */
const FALLBACK_SERVER_VERSION = '8.0.0-sluice';

/** The cluster state as the data path reads it: the store itself, or a worker's copy of it. */
export interface ClusterSource {
  readonly view: ClusterView;
  on(event: 'change', listener: (view: ClusterView, transitions: readonly Transition[]) => void): unknown;
}

export interface DataPlaneOptions {
  /** The running configuration (read at each use). */
  config(): SluiceConfig;
  readonly cluster: ClusterSource;
  readonly positions: ReplicaPositions;
  /** This process's pool sizes (its share, with worker processes). */
  readonly pool: PoolConfig;
  readonly security: FrontendSecurity;
  readonly backendTls: BackendTlsOptions | undefined;
  /** Connection id block and group-wide limits (worker processes). */
  readonly frontend?: FrontendOptions;
  /** KILL of a session another worker holds (worker processes). */
  killElsewhere?(id: number, queryOnly: boolean, user: string | undefined): Promise<KillOutcome>;
  /**
   * Whether this process logs what start-up learned about the servers (unreachable writeHost,
   * wait_timeout, sql_mode); default true. In a group one worker does, not every one of them.
   */
  readonly reportsServerFindings?: boolean;
  /** Tells every worker about a commit before its OK goes out (consistency: global, worker processes). */
  publishWrite?(position: GtidPosition): Promise<void>;
  readonly log: Logger;
}

export class DataPlane {
  readonly stats: SessionStats = newSessionStats();
  readonly statementStats = new StatementStats();
  readonly frontend: FrontendServer;
  private readonly poolsById = new Map<string, HostPools>();
  /** Pools of removed backends, closing once the statements still running there have finished. */
  private readonly retiring = new Set<Promise<void>>();
  /** What start-up learned from the writeHost (learnFromWriter). */
  private sqlModeUnmodelled = false;
  private readonly log: Logger;
  private readonly clientWriteTimeoutMs = (): number => this.opts.config().session.writeTimeoutMs;

  constructor(private readonly opts: DataPlaneOptions) {
    this.log = opts.log;
    for (const h of opts.cluster.view.hosts) this.openPools(h);
    opts.cluster.on('change', (view, transitions) => this.follow(view, transitions));
    this.frontend = new FrontendServer(
      {
        config: opts.config,
        mariadbCapabilities: () => this.mariadbCapabilities(),
        cluster: () => opts.cluster.view,
        pools: (id) => this.poolsById.get(id),
        selector: createSelector(opts.config().dataHost.loadBalance),
        positions: opts.positions,
        serverVersion: () => this.serverVersion(),
        serverSqlModeUnmodelled: () => this.sqlModeUnmodelled,
        stats: this.stats,
        statementStats: this.statementStats,
        security: opts.security,
        ...(opts.killElsewhere ? { killElsewhere: opts.killElsewhere } : {}),
        ...(opts.publishWrite ? { publishWrite: opts.publishWrite } : {}),
      },
      this.log.child({ component: 'frontend' }),
      opts.frontend,
    );
  }

  pools(hostId: string): HostPools | undefined {
    return this.poolsById.get(hostId);
  }

  private openPools(h: { id: string; host: string; port: number }): void {
    const dh = this.opts.config().dataHost;
    const tls = this.opts.backendTls;
    const endpoint = { host: h.host, port: h.port, user: dh.user, password: dh.password, clientWriteTimeoutMs: this.clientWriteTimeoutMs, ...(tls ? { tls } : {}) };
    this.poolsById.set(h.id, new HostPools(endpoint, this.opts.pool, this.log));
  }

  /** Pools follow the view: a dead host's connections go, added hosts get pools, removed ones drain. */
  private follow(view: ClusterView, transitions: readonly Transition[]): void {
    for (const t of transitions) {
      if (t.kind === 'status' && t.to === 'down') {
        // A dead host's idle connections are useless (drop them so nobody borrows one), and
        // statements still running there will never answer (abort them: reads retry elsewhere,
        // DESIGN §4).
        const pools = this.poolsById.get(t.hostId);
        pools?.abortInFlight(t.reason);
        void pools?.clearIdle();
      } else if (t.kind === 'writer-switch' && !t.manual) {
        // The old writer lost its role (failover, or following the leading instance) while
        // statements ran there. An OK it sends now — a writer cut off from its replicas commits
        // once its semi-sync wait runs out — would acknowledge a write the new writer does not
        // have: abort them (the client learns the outcome is unknown). A manual switch keeps
        // them: the old writer is alive and the new one catches up before it is promoted.
        this.poolsById.get(t.fromHostId)?.abortInFlight(`the writeHost role moved to ${t.toHostId}`);
      } else if (t.kind === 'host-added') {
        const h = view.hosts.find((x) => x.id === t.hostId);
        if (!h || this.poolsById.has(h.id)) continue;
        this.openPools(h);
        void this.poolsById.get(h.id)?.learnCapabilities();
      } else if (t.kind === 'host-removed') {
        // Routing no longer sees the host; what runs there finishes (drain), then its
        // connections close.
        const pools = this.poolsById.get(t.hostId);
        this.poolsById.delete(t.hostId);
        this.opts.positions.forget(t.hostId);
        const done = Promise.resolve(pools?.close())
          .then(() => this.log.info({ backend: t.hostId }, 'removed backend: connections closed'))
          .catch((err: unknown) => this.log.warn({ backend: t.hostId, err: (err as Error).message }, 'removed backend: closing its connections failed'))
          .finally(() => this.retiring.delete(done));
        this.retiring.add(done);
      }
    }
  }

  serverVersion(): string {
    const configured = this.opts.config().serverVersion;
    if (configured) return configured;
    const writer = this.opts.cluster.view.writer;
    return (writer && this.poolsById.get(writer.id)?.serverVersion) ?? FALLBACK_SERVER_VERSION;
  }

  /**
   * The MariaDB extended capabilities the client greeting may offer: what every configured host
   * offers. A host nobody has greeted yet (down since start-up, added live) counts as offering
   * nothing, and is probed in the background, so new clients get the extended protocol once every
   * host is known to speak it. Clients already connected keep what they negotiated: a host added
   * later that lacks it refuses their pool keys (HostPools.acquire), so their reads go to the
   * other hosts and a statement for such a writeHost fails with an error, instead of the proxy
   * relaying bytes in a format the client did not ask for.
   */
  private mariadbCapabilities(): number {
    let caps = 0xffffffff;
    for (const h of this.opts.cluster.view.hosts) {
      const p = this.poolsById.get(h.id);
      const known = p?.mariadbCapabilities;
      if (known === undefined) {
        void p?.learnCapabilities();
        return 0;
      }
      caps &= known;
    }
    return caps >>> 0;
  }

  /** Before the first client: every host's greeting, what the writeHost says, the SQL parser. */
  async prepare(): Promise<void> {
    await Promise.all([this.learnFromWriter(), ...[...this.poolsById.values()].map((p) => p.learnCapabilities())]);
    // Load the SQL parser now (tens of ms) rather than on the first statement that needs it.
    warmClassifier();
  }

  /**
   * Opens one connection to the writeHost so the greeting can carry its real version
   * (user-pain #21), checks that pooled connections retire before the server's wait_timeout
   * would kill them (user-pain #14), and reads the global sql_mode: with NO_BACKSLASH_ESCAPES or
   * ANSI_QUOTES every session starts pinned to its writeHost connection (session-state.ts).
   */
  private async learnFromWriter(): Promise<void> {
    const writer = this.opts.cluster.view.writer;
    const p = writer && this.poolsById.get(writer.id);
    if (!p) return;
    const idleTimeoutMs = this.opts.pool.idleTimeoutMs;
    const report = this.opts.reportsServerFindings !== false;
    try {
      const conn = await p.acquire({ wireCapabilities: 0, charset: 45 });
      try {
        const rows = await conn.query('SELECT @@wait_timeout, @@GLOBAL.sql_mode');
        const waitTimeoutMs = Number(rows[0]?.[0]) * 1000;
        const sqlMode = String(rows[0]?.[1] ?? '');
        this.sqlModeUnmodelled = quotingUnmodelled(`'${sqlMode.replace(/'/g, '')}'`) === true;
        if (this.sqlModeUnmodelled && report) {
          this.log.warn(
            { writer: writer!.id, sqlMode },
            "the server's global sql_mode has NO_BACKSLASH_ESCAPES or ANSI_QUOTES: every session stays on its writeHost connection (no read splitting), because the statement lexer does not model that quoting",
          );
        }
        if (Number.isFinite(waitTimeoutMs) && idleTimeoutMs >= waitTimeoutMs && report) {
          this.log.warn(
            { writer: writer!.id, idleTimeoutMs, waitTimeoutMs },
            'pool.idleTimeoutMs is not below the server wait_timeout: idle connections may be killed by the server first (they are replaced on borrow, at the cost of a reconnect)',
          );
        }
      } finally {
        p.release(conn);
      }
    } catch (err) {
      if (report) this.log.warn({ writer: writer!.id, err: (err as Error).message }, 'writeHost not reachable at start-up');
    }
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return this.frontend.listen(host, port);
  }

  /** Stops accepting, ends every session, then closes every pool. */
  async close(): Promise<void> {
    await this.frontend.close();
    await this.closePools();
  }

  /** Closes the pools (when the front end never started, or after it closed). */
  async closePools(): Promise<void> {
    await Promise.all([...this.poolsById.values()].map((p) => p.close()));
    await Promise.all(this.retiring);
  }

  // --- what the admin port and the HTTP endpoints ask (admin/data-path.ts)

  snapshot(): DataPathSnapshot {
    const pools: Record<string, PoolTotals> = {};
    for (const [id, p] of this.poolsById) {
      const s = p.stats();
      pools[id] = { borrowed: s.borrowed, idle: s.idle, waiting: s.waiting, statements: p.statements };
    }
    return {
      clientConnections: this.frontend.sessionCount,
      stats: this.stats,
      pools,
      histogram: this.statementStats.histogram,
      workers: [],
    };
  }

  /** `worker`: the 1-based worker slot the rows are marked with (0: the only process). */
  sessions(worker = 0): SessionRow[] {
    return [...this.frontend.allSessions()].map((s) => ({
      id: s.id,
      user: s.user,
      remoteAddress: s.remoteAddress,
      schema: s.schema,
      currentSql: s.currentSql,
      connectedAt: s.connectedAt,
      transactionHost: s.transactionHost,
      heldHosts: s.heldHosts,
      lastGtid: s.lastGtid,
      worker,
    }));
  }

  terminate(ids: readonly number[]): number[] {
    const found: number[] = [];
    for (const id of ids) {
      const s = this.frontend.session(id);
      if (!s) continue;
      s.terminate();
      found.push(id);
    }
    return found;
  }

  backendSockets(): Record<string, BackendSocketInfo[]> {
    const out: Record<string, BackendSocketInfo[]> = {};
    for (const [id, p] of this.poolsById) out[id] = p.connections();
    return out;
  }

  cutHost(hostId: string, reason: string): number {
    const pools = this.poolsById.get(hostId);
    const cut = pools?.cutAll(reason) ?? 0;
    // Not awaited: the retired pools drain as sessions hand the cut connections back.
    void pools?.clearIdle();
    return cut;
  }

  statementTop(n: number): StatementStat[] {
    return this.statementStats.top(n);
  }

  /** KILL from a session of another worker: 'unknown' when this process does not hold `id`. */
  async killFromElsewhere(id: number, queryOnly: boolean, user: string | undefined): Promise<KillOutcome> {
    const target = this.frontend.session(id);
    if (!target) return 'unknown';
    if (target.user !== user) return 'denied';
    await target.interruptFromElsewhere(queryOnly);
    return 'killed';
  }

  /** This process alone, as the admin port and HTTP endpoints ask (`workers: 1`). */
  asDataPath(): DataPath {
    return {
      snapshot: async () => this.snapshot(),
      sessions: async () => this.sessions(),
      terminate: async (ids) => this.terminate(ids),
      backendSockets: async () => this.backendSockets(),
      cutHost: async (hostId, reason) => this.cutHost(hostId, reason),
      statementTop: async (n) => this.statementTop(n),
    };
  }
}
