/**
 * The primary process of a worker group (`workers` > 1). It owns cluster state — the control
 * plane: heartbeats, the reducer, failover, the dnindex, configuration changes — and the admin
 * and HTTP ports. It forks the workers (node:cluster: they share the one listening port, the
 * primary hands each accepted connection to one of them in turn), sends each the running
 * configuration and the frozen cluster view before it may accept clients, and every change
 * after. It answers the operators for the whole group by asking every worker, counts client
 * connections for the group's limits, routes KILL to the worker that holds the session, and
 * replaces a worker that dies. It never holds a client session or a backend pool.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { SluiceConfig } from '../config/types.js';
import { resolveWorkers } from '../config/index.js';
import { loadBackendTls } from '../backend/backend-tls.js';
import type { BackendSocketInfo } from '../backend/host-pools.js';
import { loadFrontendSecurity } from '../frontend/tls.js';
import { listenProblem } from '../frontend/listen.js';
import { ConnectionCounts } from '../frontend/connection-limits.js';
import { AddressTables } from '../frontend/address-guard.js';
import { CONNECTION_ID_BLOCK } from '../frontend/server.js';
import type { KillOutcome } from '../frontend/session-context.js';
import type { MetricsJson } from '../admin/http/sources.js';
import type { ConfigApplyResult } from '../admin/admin-server.js';
import type { DataPath, DataPathSnapshot, SessionRow, WorkerRow } from '../admin/data-path.js';
import type { StatementStat } from '../admin/admin-views.js';
import { ControlPlane } from '../control-plane.js';
import { logBehaviour, startOperatorSurfaces } from '../operator-surfaces.js';
import type { ClusterStore } from '../cluster/store.js';
import { Rpc, serve } from './rpc.js';
import { isGroupMessage, type PrimaryQuery, type ToPrimary, type ToWorker, type WorkerQuery } from './messages.js';
import { sumSnapshots, mergeStatementTops } from './merge.js';

/** A worker must greet (listen) within this, or the start fails. */
const READY_TIMEOUT_MS = 60_000;
/** Draining workers that have not exited after this are killed. */
const DRAIN_TIMEOUT_MS = 30_000;
/** Blocks of connection ids: block 0 is the single process's, 1-127 the workers'. */
const ID_BLOCKS = 127;

export interface GroupOptions {
  readonly configPath?: string;
}

export interface Group {
  readonly config: SluiceConfig;
  readonly cluster: ClusterStore;
  readonly workers: number;
  readonly address: { host: string; port: number };
  readonly httpAddress?: { host: string; port: number };
  readonly adminAddress?: { host: string; port: number };
  reloadConfig(source: string): ConfigApplyResult;
  close(): Promise<void>;
}

/** One worker slot: the process in it now, how to ask it, what it counted. */
interface Slot {
  readonly slot: number;
  worker: Worker;
  rpc: Rpc<WorkerQuery>;
  /** Client connections this process counted (taken back from the group's when it dies). */
  counts: ConnectionCounts;
  /** It has its `init`: every later view, config and position goes to it too (in order). */
  initialized: boolean;
  /** It listens: it holds clients and answers questions. */
  ready: boolean;
  block: number;
  restarts: number;
  startedAt: number;
}

export async function startGroup(config: SluiceConfig, log: Logger, opts: GroupOptions = {}): Promise<Group> {
  const { count, why } = resolveWorkers(config.workers);
  logBehaviour(config, log);
  // Certificates are read here too, so a bad file stops the start before any worker runs.
  loadFrontendSecurity(config);
  const control = new ControlPlane(config, loadBackendTls(config.dataHost.tls), log, opts.configPath !== undefined ? { configPath: opts.configPath } : {});
  await control.start();

  const slots: Slot[] = [];
  /** Client connections of the whole group (maxConnections, users[].maxConnections). */
  const groupCounts = new ConnectionCounts();
  /**
   * Blocked hosts and failed-login records of the whole group: a client's connections are spread
   * over the workers, so one worker's count would let a guesser go `workers` times faster.
   */
  const addresses = new AddressTables(() => control.config.limits);
  let spawned = 0;
  let stopping = false;
  const live = (): Slot[] => slots.filter((s) => s.ready && !s.worker.isDead());
  /** Workers that have their init: a change made while one starts must reach it too. */
  const following = (): Slot[] => slots.filter((s) => s.initialized && !s.worker.isDead());
  /** A worker that is exiting cannot take messages; what it misses no longer matters. */
  const send = (s: Slot, msg: ToWorker): void => {
    if (s.worker.isConnected() && !s.worker.isDead()) s.worker.send(msg, (err: Error | null) => err && log.debug({ worker: s.slot, err: err.message }, 'message to a worker not delivered'));
  };
  const broadcast = (msg: ToWorker): void => {
    if (stopping) return;
    for (const s of following()) send(s, msg);
  };
  // Workers follow the one owner of cluster state.
  control.cluster.on('change', (view, transitions) => broadcast({ t: 'view', view, transitions }));
  control.onConfig = (c) => broadcast({ t: 'config', config: c });
  control.onPositionObserved = (hostId, position) => broadcast({ t: 'observed', hostId, position });
  addresses.onBlockedChange = () => broadcast({ t: 'blocked-hosts', hosts: addresses.blockedAddresses() });

  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)),
    args: [],
    serialization: 'advanced',
  });

  let readyWaiters: { resolve(): void; reject(err: Error): void } | undefined;
  let address: { host: string; port: number } | undefined;

  /** The next id block no living worker holds (a worker replaced again and again must not take a long-lived one's). */
  const freeBlock = (): number => {
    for (;;) {
      const block = 1 + (spawned++ % ID_BLOCKS);
      if (!slots.some((s) => s !== undefined && s.block === block && !s.worker.isDead())) return block;
    }
  };

  const spawn = (slotNo: number, restarts: number): Slot => {
    const block = freeBlock();
    const worker = cluster.fork();
    const slot: Slot = {
      slot: slotNo,
      worker,
      rpc: new Rpc<WorkerQuery>((m) => {
        if (!worker.isConnected()) throw new Error('the worker is not connected');
        worker.send(m);
      }),
      counts: new ConnectionCounts(),
      initialized: false,
      ready: false,
      block,
      restarts,
      startedAt: Date.now(),
    };
    slots[slotNo - 1] = slot;
    // Sent when the worker says it listens for messages: its module loads after 'online', and a
    // message that arrives before its listener is attached is lost.
    const init = (): void => {
      const msg: ToWorker = {
        t: 'init',
        slot: slotNo,
        workers: count,
        firstConnectionId: block * CONNECTION_ID_BLOCK,
        config: control.config,
        view: control.cluster.view,
        observed: control.positions.entries(),
        acknowledged: control.positions.latestAcknowledged(),
      };
      send(slot, msg);
      const blocked = addresses.blockedAddresses();
      if (blocked.length > 0) send(slot, { t: 'blocked-hosts', hosts: blocked });
      slot.initialized = true;
    };
    worker.on('message', (m: unknown) => {
      if (!isGroupMessage(m)) return;
      if ((m as ToPrimary).t === 'hello') init();
      else onMessage(slot, m as ToPrimary);
    });
    worker.on('exit', (code, signal) => onExit(slot, code, signal));
    // A write to a worker that just exited fails (EPIPE); its exit is handled above.
    worker.on('error', (err) => log.debug({ worker: slotNo, err: err.message }, 'worker channel error'));
    return slot;
  };

  const onMessage = (s: Slot, m: ToPrimary): void => {
    switch (m.t) {
      case 'hello':
        return;
      case 'failed':
        // At start-up the start fails with it (main says why, in one sentence); later, a
        // replacement that cannot start is retried (onExit).
        if (address === undefined) readyWaiters?.reject(Object.assign(new Error(m.message), m.code !== undefined ? { code: m.code } : {}));
        else log.error({ worker: s.slot, err: m.message }, 'worker could not start');
        return;
      case 'ready':
        s.ready = true;
        address ??= m.address;
        log.info({ worker: s.slot, pid: s.worker.process.pid, restarts: s.restarts }, 'worker accepting clients');
        if (live().length === count) readyWaiters?.resolve();
        return;
      case 'count':
        if (m.op === 'open') {
          s.counts.open(0);
          groupCounts.open(0);
        } else if (m.op === 'login') {
          s.counts.login(m.user!, 0);
          groupCounts.login(m.user!, 0);
        } else {
          s.counts.close(m.user);
          groupCounts.close(m.user);
        }
        return;
      case 'connect-error':
        addresses.connectError(m.address);
        return;
      case 'req':
        void serve(m, (q) => answer(s, q), (r) => send(s, r));
        return;
      case 'res':
        s.rpc.answer(m);
        return;
    }
  };

  /** A worker's question. */
  const answer = async (s: Slot, q: PrimaryQuery): Promise<unknown> => {
    switch (q.k) {
      case 'open': {
        if (!groupCounts.open(q.max)) return false;
        s.counts.open(0);
        return true;
      }
      case 'login': {
        if (!groupCounts.login(q.user, q.limit)) return false;
        s.counts.login(q.user, 0);
        return true;
      }
      case 'login-attempt':
        return addresses.loginAttempt(q.user, q.address, q.granted);
      case 'acknowledged': {
        // consistency: global — the writing worker holds its client's OK until every worker
        // knows the GTID, so a read that starts after the OK, in any worker, waits for it.
        control.positions.acknowledge(q.position);
        await Promise.allSettled(following().filter((x) => x !== s).map((x) => x.rpc.request({ k: 'acknowledged', position: q.position })));
        return true;
      }
      case 'kill': {
        const owner = slots.find((x) => x.block === Math.floor(q.id / CONNECTION_ID_BLOCK) && x.ready && !x.worker.isDead());
        if (!owner || owner === s) return 'unknown' satisfies KillOutcome;
        return owner.rpc.request<KillOutcome>({ k: 'kill', id: q.id, queryOnly: q.queryOnly, user: q.user });
      }
    }
  };

  const onExit = (s: Slot, code: number | null, signal: string | null): void => {
    const wasReady = s.ready;
    s.ready = false;
    s.initialized = false;
    s.rpc.failAll('the worker exited');
    groupCounts.subtract(s.counts);
    if (stopping) return;
    log.error(
      { worker: s.slot, pid: s.worker.process.pid, code, signal, clientsLost: s.counts.connections },
      'worker exited; its clients were disconnected; starting a new one',
    );
    if (!wasReady && address === undefined) {
      readyWaiters?.reject(new Error(`worker ${s.slot} exited (code ${code}, signal ${signal}) before it accepted clients`));
      return;
    }
    // A worker that dies at once again is restarted after a growing pause (not in a tight loop).
    const livedMs = Date.now() - s.startedAt;
    const pause = livedMs > 10_000 ? 0 : Math.min(5_000, 100 * 2 ** Math.min(6, s.restarts));
    setTimeout(() => {
      if (!stopping) spawn(s.slot, s.restarts + 1);
    }, pause).unref();
  };

  const ready = new Promise<void>((resolve, reject) => {
    readyWaiters = { resolve, reject };
  });
  for (let i = 1; i <= count; i++) spawn(i, 0);
  const timer = setTimeout(() => readyWaiters?.reject(new Error(`workers did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
  const stopWorkers = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.worker.isDead()) return resolve();
            const kill = setTimeout(() => s.worker.process.kill('SIGKILL'), DRAIN_TIMEOUT_MS);
            s.worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (s.worker.isConnected()) s.worker.send({ t: 'drain' } satisfies ToWorker);
            else s.worker.process.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    await ready;
  } catch (err) {
    await stopWorkers();
    await control.close();
    // A worker's listen failure (a busy port) in the setting's words, as for one process.
    throw listenProblem('listen', config.listen.host, config.listen.port, err);
  } finally {
    clearTimeout(timer);
  }
  log.info({ listen: address, dataHost: config.dataHost.name, writer: control.cluster.view.writer?.id, workers: count, why }, 'sluice listening');

  // --- one face to operators: the admin port and HTTP ask every worker
  const askAll = async <T>(q: WorkerQuery): Promise<{ slot: Slot; value: T }[]> => {
    const targets = live();
    const answers = await Promise.allSettled(targets.map((s) => s.rpc.request<T>(q)));
    const out: { slot: Slot; value: T }[] = [];
    answers.forEach((a, i) => {
      if (a.status === 'fulfilled') out.push({ slot: targets[i]!, value: a.value });
      else log.warn({ worker: targets[i]!.slot, query: q.k, err: (a.reason as Error).message }, 'worker did not answer');
    });
    return out;
  };
  const dataPath: DataPath = {
    async snapshot(): Promise<DataPathSnapshot> {
      const parts = await askAll<DataPathSnapshot>({ k: 'snapshot' });
      const rows: WorkerRow[] = parts.map(({ slot, value }) => ({
        worker: slot.slot,
        pid: slot.worker.process.pid ?? 0,
        clientConnections: value.clientConnections,
        statements: value.stats.statements,
        errors: value.stats.errors,
        restarts: slot.restarts,
      }));
      return { ...sumSnapshots(parts.map((p) => p.value)), workers: rows };
    },
    async sessions(): Promise<readonly SessionRow[]> {
      return (await askAll<SessionRow[]>({ k: 'sessions' })).flatMap((p) => p.value);
    },
    async terminate(ids) {
      return (await askAll<number[]>({ k: 'terminate', ids })).flatMap((p) => p.value);
    },
    async backendSockets() {
      const out: Record<string, BackendSocketInfo[]> = {};
      for (const { value } of await askAll<Record<string, BackendSocketInfo[]>>({ k: 'sockets' })) {
        for (const [host, list] of Object.entries(value)) (out[host] ??= []).push(...list);
      }
      return out;
    },
    async cutHost(hostId, reason) {
      return (await askAll<number>({ k: 'cut-host', hostId, reason })).reduce((n, p) => n + p.value, 0);
    },
    async statementTop(n): Promise<readonly StatementStat[]> {
      return mergeStatementTops((await askAll<StatementStat[]>({ k: 'statement-top', n })).map((p) => p.value), n);
    },
  };
  const processMetrics = async (): Promise<readonly MetricsJson[]> => (await askAll<MetricsJson>({ k: 'process-metrics' })).map((p) => p.value);

  const surfaces = await startOperatorSurfaces(config, control, dataPath, log, {
    ...(opts.configPath !== undefined ? { configPath: opts.configPath } : {}),
    processMetrics,
    hosts: addresses,
  }).catch(async (err: unknown) => {
    await stopWorkers();
    await control.close();
    throw err;
  });
  return {
    get config() {
      return control.config;
    },
    cluster: control.cluster,
    workers: count,
    address: address!,
    ...(surfaces.httpAddress ? { httpAddress: surfaces.httpAddress } : {}),
    ...(surfaces.adminAddress ? { adminAddress: surfaces.adminAddress } : {}),
    reloadConfig: (source) => control.reloadConfig(source),
    async close() {
      await surfaces.close();
      // Every worker stops accepting, ends its sessions and closes its pools.
      await stopWorkers();
      await control.close();
    },
  };
}
