/**
 * A worker process of the group: client sessions and backend pools (the data path), nothing
 * else. It waits for the primary's first message — the running configuration and the frozen
 * cluster view — before it builds its pools and listens, applies every view and configuration
 * the primary sends after, and answers the primary's questions (sessions, counters, KILL).
 * It never decides a writer: the view it routes on is the primary's.
 */
import { EventEmitter } from 'node:events';
import cluster from 'node:cluster';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import { createLogger, resolveLogFormat } from '../logger.js';
import { deepFreeze, poolShare } from '../config/index.js';
import type { SluiceConfig } from '../config/types.js';
import type { ClusterView } from '../cluster/view.js';
import type { Transition } from '../cluster/state.js';
import { ReplicaPositions } from '../cluster/positions.js';
import { loadBackendTls } from '../backend/backend-tls.js';
import { loadFrontendSecurity } from '../frontend/tls.js';
import type { ConnectionLimits } from '../frontend/connection-limits.js';
import type { AddressGuard } from '../frontend/address-guard.js';
import type { KillOutcome } from '../frontend/session-context.js';
import type { GtidPosition } from '../cluster/gtid.js';
import { DataPlane } from '../data-plane.js';
import { Rpc, serve } from './rpc.js';
import { isGroupMessage, type PrimaryQuery, type ToPrimary, type ToWorker, type WorkerInit, type WorkerQuery } from './messages.js';

/** The primary's cluster view, as this worker last received it. */
class ClusterFollower extends EventEmitter<{ change: [ClusterView, readonly Transition[]] }> {
  constructor(private current: ClusterView) {
    super();
  }

  get view(): ClusterView {
    return this.current;
  }

  apply(view: ClusterView, transitions: readonly Transition[]): void {
    this.current = deepFreeze(view);
    this.emit('change', this.current, transitions);
  }
}

/** Client connections counted by the primary for the whole group. */
class GroupLimits implements ConnectionLimits {
  constructor(
    private readonly rpc: Rpc<PrimaryQuery>,
    private readonly tell: (m: ToPrimary) => void,
  ) {}

  open(max: number): boolean | Promise<boolean> {
    // Without a limit nothing needs an answer: the count goes along without a round trip.
    if (max === 0) {
      this.tell({ t: 'count', op: 'open' });
      return true;
    }
    return this.rpc.request<boolean>({ k: 'open', max });
  }

  login(user: string, limit: number): boolean | Promise<boolean> {
    if (limit === 0) {
      this.tell({ t: 'count', op: 'login', user });
      return true;
    }
    return this.rpc.request<boolean>({ k: 'login', user, limit });
  }

  close(user: string | undefined): void {
    this.tell({ t: 'count', op: 'close', ...(user !== undefined ? { user } : {}) });
  }
}

/**
 * Blocked hosts and failed-login records of the whole group, kept by the primary: the blocked
 * set is pushed here (checked at each connection without a round trip), errors are told, and a
 * login asks for its delay.
 */
class GroupGuard implements AddressGuard {
  private blocked = new Set<string>();

  constructor(
    private readonly rpc: Rpc<PrimaryQuery>,
    private readonly tell: (m: ToPrimary) => void,
  ) {}

  follow(hosts: readonly string[]): void {
    this.blocked = new Set(hosts);
  }

  isBlocked(address: string): boolean {
    return this.blocked.has(address);
  }

  connectError(address: string): void {
    this.tell({ t: 'connect-error', address });
  }

  loginAttempt(user: string, address: string, granted: boolean): Promise<number> {
    return this.rpc.request<number>({ k: 'login-attempt', user, address, granted });
  }
}

export function runWorker(): void {
  if (!cluster.isWorker || !process.send) throw new Error('runWorker: not a worker process of the group');
  const tell = (m: ToPrimary): void => {
    // Not delivered only when the primary is gone ('disconnect' below ends this process).
    if (process.connected) process.send!(m, undefined, undefined, () => undefined);
  };
  const rpc = new Rpc<PrimaryQuery>((m) => tell(m));
  // The terminal's Ctrl-C and hangup reach the whole process group: the primary decides what
  // they mean (drain all, reload once) and tells the workers.
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  let worker: WorkerProcess | undefined;
  process.on('message', (m: unknown) => {
    if (!isGroupMessage(m)) return;
    const msg = m as ToWorker;
    if (msg.t === 'init') {
      try {
        worker = new WorkerProcess(msg, rpc, tell);
      } catch (err) {
        failed(err);
        return;
      }
      worker.start().catch(failed);
      return;
    }
    if (msg.t === 'res') {
      rpc.answer(msg);
      return;
    }
    worker?.handle(msg);
  });
  /** The primary reports it (a busy port in the setting's words) and stops the start. */
  const failed = (err: unknown): void => {
    const code = (err as NodeJS.ErrnoException).code;
    tell({ t: 'failed', message: (err as Error).message, ...(code !== undefined ? { code } : {}) });
    setTimeout(() => process.exit(1), 100);
  };
  tell({ t: 'hello' });
  // The primary is gone (it crashed or was killed): nobody routes clients here any more.
  process.on('disconnect', () => {
    rpc.failAll('the primary process is gone');
    void (worker?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
  });
}

/**
 * One worker's data path. From its init on it follows the primary's views, configuration and
 * positions and answers questions (messages are handled in the order they come); it accepts
 * clients only once start() has its pools ready and its listener bound.
 */
class WorkerProcess {
  private config: SluiceConfig;
  private readonly follower: ClusterFollower;
  private readonly positions = new ReplicaPositions();
  private readonly data: DataPlane;
  private readonly guard: GroupGuard;
  /** This process's CPU, memory and event loop, for the primary's /metrics (AggregatorRegistry). */
  private readonly processRegistry = new Registry();
  private stopping: Promise<void> | undefined;
  /** start() while it runs: a stop waits for it (closing a listener whose cluster listen is still pending crashes node). */
  private starting: Promise<void> | undefined;

  constructor(
    private readonly init: WorkerInit,
    rpc: Rpc<PrimaryQuery>,
    private readonly tell: (m: ToPrimary) => void,
  ) {
    this.config = deepFreeze(init.config);
    const config = (): SluiceConfig => this.config;
    const log: Logger = createLogger(this.config.log.level, undefined, resolveLogFormat(this.config.log.format)).child({ worker: init.slot });
    this.follower = new ClusterFollower(deepFreeze(init.view));
    for (const [host, p] of init.observed) this.positions.observed(host, p);
    this.guard = new GroupGuard(rpc, tell);
    this.positions.acknowledge(init.acknowledged);
    this.data = new DataPlane({
      config,
      cluster: this.follower,
      positions: this.positions,
      pool: poolShare(this.config.dataHost.pool, init.workers, init.slot - 1),
      security: loadFrontendSecurity(this.config),
      backendTls: loadBackendTls(this.config.dataHost.tls),
      frontend: { firstConnectionId: init.firstConnectionId, limits: new GroupLimits(rpc, tell), guard: this.guard },
      reportsServerFindings: init.slot === 1,
      killElsewhere: (id, queryOnly, user) => rpc.request<KillOutcome>({ k: 'kill', id, queryOnly, user }),
      publishWrite: async (position: GtidPosition) => {
        if (config().session.consistency === 'global') await rpc.request<boolean>({ k: 'acknowledged', position });
      },
      log,
    });
    collectDefaultMetrics({ register: this.processRegistry });
  }

  start(): Promise<void> {
    this.starting = this.listen();
    return this.starting;
  }

  private async listen(): Promise<void> {
    await this.data.prepare();
    if (this.stopping) return; // drained while it prepared: never listens
    const address = await this.data.listen(this.config.listen.host, this.config.listen.port);
    // SIGTERM to this process alone: finish like a drain (the primary starts a replacement).
    process.once('SIGTERM', () => void this.stop().finally(() => process.exit(0)));
    this.tell({ t: 'ready', address });
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => undefined);
      await this.data.close();
    })();
    return this.stopping;
  }

  handle(msg: ToWorker): void {
    switch (msg.t) {
      case 'view':
        this.follower.apply(msg.view, msg.transitions);
        return;
      case 'config':
        this.config = deepFreeze(msg.config);
        return;
      case 'observed':
        this.positions.observed(msg.hostId, msg.position);
        return;
      case 'blocked-hosts':
        this.guard.follow(msg.hosts);
        return;
      case 'req':
        void serve(msg, (q) => this.answer(q), (r) => this.tell(r));
        return;
      case 'drain':
        void this.stop().finally(() => process.exit(0));
        return;
      default:
        return;
    }
  }

  private async answer(q: WorkerQuery): Promise<unknown> {
    const data = this.data;
    switch (q.k) {
      case 'snapshot':
        return data.snapshot();
      case 'process-metrics':
        return this.processRegistry.getMetricsAsJSON();
      case 'sessions':
        return data.sessions(this.init.slot);
      case 'terminate':
        return data.terminate(q.ids);
      case 'sockets':
        return data.backendSockets();
      case 'cut-host':
        return data.cutHost(q.hostId, q.reason);
      case 'statement-top':
        return data.statementTop(q.n);
      case 'kill':
        return data.killFromElsewhere(q.id, q.queryOnly, q.user);
      case 'acknowledged':
        this.positions.acknowledge(q.position);
        return true;
    }
  }
}
