/**
 * The control plane: the one owner of cluster state. It resolves the dnindex, runs the cluster
 * store (one reducer), the heartbeat monitor, failover effects (dnindex, promotion, fencing) and
 * configuration changes. With worker processes only the primary runs it; workers receive its
 * views (group/primary.ts). It holds no client sessions and no pools.
 */
import type { Logger } from 'pino';
import type { SluiceConfig } from './config/types.js';
import { ConfigError, deepFreeze, loadConfigFile, planConfigChange } from './config/index.js';
import { ClusterStore } from './cluster/store.js';
import { initialState } from './cluster/reduce.js';
import { Monitor } from './cluster/monitor.js';
import { ReplicaPositions } from './cluster/positions.js';
import { resolveDnIndex } from './cluster/dnindex.js';
import { FailoverEffects } from './cluster/failover.js';
import { BackendLocks } from './cluster/cooperation.js';
import { switchover, SwitchoverError, type SwitchoverReport } from './cluster/switchover.js';
import { mysql2Ssl, type BackendTlsOptions } from './backend/backend-tls.js';
import type { ConfigApplyResult } from './admin/admin-server.js';
import type { HostId } from './cluster/view.js';
import type { GtidPosition } from './cluster/gtid.js';

export interface ControlPlaneOptions {
  /** Skip heartbeats (unit-level tests of the data path). */
  readonly monitor?: boolean;
  /** The file the config was loaded from (RELOAD @@CONFIG, SIGHUP). */
  readonly configPath?: string;
}

export class ControlPlane {
  readonly cluster: ClusterStore;
  /** How far each backend has applied (from heartbeats), and the latest acknowledged write. */
  readonly positions = new ReplicaPositions();
  /** The running configuration: replaced (never mutated) by applyConfig. */
  private running: SluiceConfig;
  /** The last configuration applied, restart-only parts included (what SAVE CONFIG writes). */
  private configuredConfig: SluiceConfig;
  private readonly monitor: Monitor;
  private readonly failover: FailoverEffects;
  /** Agreement with the other instances of this dataHost (cluster.cooperation), when on. */
  private readonly locks: BackendLocks | undefined;
  private readonly retiring = new Set<Promise<void>>();
  private readonly ssl: ReturnType<typeof mysql2Ssl>;
  private switching = false;
  private readonly switchoverStats = { done: 0, failed: 0, refused: 0, lastPausedMs: undefined as number | undefined };
  /** Called after every applied configuration (worker processes get the new one). */
  onConfig: ((config: SluiceConfig) => void) | undefined;
  /** Called with each host position the monitor reads (worker processes get it). */
  onPositionObserved: ((hostId: HostId, position: GtidPosition) => void) | undefined;

  constructor(
    config: SluiceConfig,
    backendTls: BackendTlsOptions | undefined,
    private readonly log: Logger,
    private readonly opts: ControlPlaneOptions = {},
  ) {
    this.running = config;
    this.configuredConfig = config;
    const dh = config.dataHost;
    // The active writeHost survives restarts (Mycat dnindex). A corrupt file stops the start
    // (DnIndexError, a ConfigError); a missing one means writeHost 0 and is written below.
    const resolved = resolveDnIndex(dh.failover.dnindexFile, dh.name, dh.writeHosts);
    const startIndex = resolved?.index ?? 0;
    const startWriter = `${dh.writeHosts[startIndex]!.host}:${dh.writeHosts[startIndex]!.port}`;
    if (resolved === undefined) {
      log.warn(
        { dataHost: dh.name, file: dh.failover.dnindexFile },
        'dnindex: no entry for this dataHost (or no file): starting on writeHost 0 and recording it',
      );
    } else if (resolved.index !== resolved.recordedIndex) {
      log.warn(
        { dataHost: dh.name, file: dh.failover.dnindexFile, recorded: `${dh.name}=${resolved.recordedIndex}`, writer: resolved.recordedAddress, writerIndex: resolved.index },
        'dnindex: the writeHosts list changed since the file was written; the active writeHost keeps its role at its new index (the file is rewritten)',
      );
    } else if (resolved.index !== 0) {
      log.warn(
        { dataHost: dh.name, file: dh.failover.dnindexFile, writerIndex: resolved.index, writer: startWriter },
        'dnindex: starting on the writeHost recorded by an earlier switch',
      );
    }
    // What the file holds, as the failover effects compare it: anything but an exact, addressed
    // entry for the start writer gets rewritten (with the address) at once.
    const persistedIndex =
      resolved !== undefined && resolved.index === resolved.recordedIndex && resolved.recordedAddress !== undefined ? resolved.index : undefined;
    const cooperating = config.cluster.cooperation === 'backend-locks';
    this.cluster = new ClusterStore(
      initialState(dh, startIndex, cooperating ? { instanceName: config.cluster.instanceName } : undefined),
      log.child({ component: 'cluster' }),
    );
    const ssl = mysql2Ssl(backendTls);
    this.ssl = ssl;
    this.locks = cooperating
      ? new BackendLocks({ dataHost: dh, cluster: config.cluster, store: this.cluster, ...(ssl ? { ssl } : {}), logger: log.child({ component: 'cooperation' }) })
      : undefined;
    this.monitor = new Monitor({
      dataHost: dh,
      ...(ssl ? { ssl } : {}),
      hosts: this.cluster.view.hosts,
      dispatch: (e) => this.cluster.dispatch(e),
      positions: (id, p) => {
        this.positions.observed(id, p);
        this.onPositionObserved?.(id, p);
      },
      logger: log.child({ component: 'monitor' }),
    });
    this.cluster.on('change', (view, transitions) => {
      for (const t of transitions) {
        if (t.kind === 'host-added') {
          const h = view.hosts.find((x) => x.id === t.hostId);
          if (h) this.monitor.addHost(h);
        } else if (t.kind === 'host-removed') {
          this.positions.forget(t.hostId);
          const done = this.monitor
            .removeHost(t.hostId)
            .catch((err: unknown) => log.warn({ backend: t.hostId, err: (err as Error).message }, 'removed backend: stopping its heartbeat failed'))
            .finally(() => this.retiring.delete(done));
          this.retiring.add(done);
        }
      }
    });
    // dnindex follows every writer change; with failover.promote the database follows too
    // (promotion of the new writer, read_only=ON on the others).
    this.failover = new FailoverEffects({
      store: this.cluster,
      dataHost: dh,
      ...(ssl ? { ssl } : {}),
      logger: log.child({ component: 'failover' }),
      persistedIndex,
    });
  }

  get config(): SluiceConfig {
    return this.running;
  }

  get configured(): SluiceConfig {
    return this.configuredConfig;
  }

  /**
   * Failover effects on, then (unless disabled) one round of heartbeats, and of the backend locks
   * when instances cooperate, so the first clients are routed on real status and on the writer
   * the instances agreed on.
   */
  async start(): Promise<void> {
    this.failover.start();
    if (this.opts.monitor !== false) {
      await this.monitor.probeAll();
      this.monitor.start();
      await this.locks?.start();
    }
  }

  /**
   * Applies a validated configuration: backends join / leave / change weight, accounts,
   * whitelist, limits and the SQL log take effect now; the rest is reported as needing a restart
   * (see config/live.ts). The admin port's commands and RELOAD @@CONFIG come through here.
   */
  applyConfig(next: SluiceConfig, source: string): ConfigApplyResult {
    const plan = planConfigChange(this.running, next, this.cluster.view.writerIndex);
    const notes = [...plan.notes];
    const dispatch = (event: Parameters<ClusterStore['dispatch']>[0]): void => {
      for (const t of this.cluster.dispatch(event)) if (t.kind === 'topology-refused') notes.push(t.reason);
    };
    for (const r of plan.remove) dispatch({ type: 'remove-host', hostId: r.hostId, reason: source });
    for (const a of plan.add) dispatch({ type: 'add-host', ...a, reason: source });
    for (const w of plan.reweight) dispatch({ type: 'set-weight', hostId: w.hostId, weight: w.weight, reason: source });
    // The running host lists are what the cluster has now, in its order (backend_ndx).
    const hosts = this.cluster.view.hosts.map((h) => ({ role: h.role, entry: { host: h.host, port: h.port, weight: h.weight } }));
    this.running = deepFreeze({
      ...plan.config,
      dataHost: {
        ...plan.config.dataHost,
        writeHosts: hosts.filter((h) => h.role === 'write').map((h) => h.entry),
        readHosts: hosts.filter((h) => h.role === 'read').map((h) => h.entry),
      },
    });
    this.configuredConfig = next;
    this.log.warn({ source, live: plan.live, restart: plan.restart, notes }, 'configuration applied');
    this.onConfig?.(this.running);
    return { live: plan.live, restart: plan.restart, notes };
  }

  /**
   * Planned switchover to writeHost `index` (cluster/switchover.ts). `openOn` counts the client
   * sessions with an open transaction on a host, across every process that holds sessions.
   */
  async switchover(index: number, reason: string, openOn: (hostId: string) => Promise<number>): Promise<SwitchoverReport> {
    if (this.switching) throw new SwitchoverError('a switchover is already running', true);
    this.switching = true;
    const ssl = this.ssl;
    return switchover(
      { store: this.cluster, dataHost: () => this.running.dataHost, ...(ssl ? { ssl } : {}), logger: this.log.child({ component: 'switchover' }), openOn },
      index,
      reason,
    )
      .then(
        (report) => {
          this.switchoverStats.done++;
          this.switchoverStats.lastPausedMs = report.pausedMs;
          return report;
        },
        (err: unknown) => {
          if (err instanceof SwitchoverError && err.refused) this.switchoverStats.refused++;
          else this.switchoverStats.failed++;
          throw err;
        },
      )
      .finally(() => (this.switching = false));
  }

  /** Planned switchovers so far (/metrics). */
  get switchovers(): Readonly<{ done: number; failed: number; refused: number; lastPausedMs: number | undefined }> {
    return this.switchoverStats;
  }

  /**
   * Re-reads the config file and applies it like applyConfig; a bad file throws ConfigError
   * listing every problem and nothing changes (admin RELOAD @@CONFIG, SIGHUP).
   */
  reloadConfig(source: string): ConfigApplyResult {
    if (this.opts.configPath === undefined) throw new ConfigError(['Sluice was started without a config file: there is nothing to reload']);
    return this.applyConfig(loadConfigFile(this.opts.configPath), source);
  }

  async close(): Promise<void> {
    await this.locks?.stop();
    await this.monitor.stop();
    await this.failover.stop();
    await Promise.all(this.retiring);
  }
}
