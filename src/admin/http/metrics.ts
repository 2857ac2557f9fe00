/**
 * Prometheus metrics (`GET /metrics`) on a private prom-client Registry. Values that live in
 * Sluice's own counters (SessionStats, the cluster view, pool stats) are read at scrape time in
 * `collect` callbacks, from one data-path snapshot taken per scrape (summed over workers); only
 * failovers are counted here, from the store's 'change' events. The statement latency histogram
 * is rendered from StatementStats' buckets (already counted by the data path) by a small custom
 * collector. With worker processes, their process metrics (CPU, memory, event loop) are added to
 * this process's by prom-client's AggregatorRegistry, so `process_cpu_seconds_total` is the
 * group's.
 */
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { StatementStats } from '../../frontend/statement-stats.js';
import { CONSISTENCY_WAIT_BUCKETS, newSessionStats, type ConsistencyCounts } from '../../frontend/session-context.js';
import type { DataPathSnapshot } from '../data-path.js';
import type { ClusterView } from '../../cluster/view.js';
import type { Transition } from '../../cluster/state.js';
import type { HttpSources } from './sources.js';

export interface Metrics {
  readonly registry: Registry;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
  /** Stops listening to the cluster store. */
  close(): void;
}

const EMPTY_SNAPSHOT: DataPathSnapshot = {
  clientConnections: 0,
  stats: newSessionStats(),
  pools: {},
  histogram: new StatementStats().histogram,
  workers: [],
};

export function createMetrics(src: HttpSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  /** The data path as of this scrape (render() takes it before the collectors run). */
  let data = EMPTY_SNAPSHOT;
  const stats = {
    get current() {
      return data.stats;
    },
  };

  new Gauge({
    name: 'sluice_client_connections',
    help: 'Open client sessions.',
    registers: [registry],
    collect() {
      this.set(data.clientConnections);
    },
  });
  // SessionStats counters are monotonic; exposed as counters whose value is copied at scrape time.
  new Counter({
    name: 'sluice_statements_total',
    help: 'Statements routed, by destination.',
    labelNames: ['route'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ route: 'writer' }, stats.current.routedToWriter);
      this.inc({ route: 'reader' }, stats.current.routedToReader);
    },
  });
  new Counter({
    name: 'sluice_errors_total',
    help: 'Statements that ended in an error sent to the client.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.current.errors);
    },
  });
  new Counter({
    name: 'sluice_retries_total',
    help: 'Reads retried on another host.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.current.retries);
    },
  });
  new Counter({
    name: 'sluice_statements_held_total',
    help: 'Statements that waited for a writeHost (failover, promotion, planned switchover) instead of failing.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.current.heldForWriter);
    },
  });
  new Counter({
    name: 'sluice_replays_total',
    help: 'Open transactions whose writeHost connection was lost, by outcome: replayed on the new writeHost, mismatch (an answer differed), not-replayable, commit-in-flight (2013: outcome unknown), failed.',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of Object.entries(stats.current.replays)) this.inc({ outcome }, n);
    },
  });
  new Counter({
    name: 'sluice_client_timeouts_total',
    help: 'Client connections closed by the proxy for a timeout: idle (session.idleTimeoutMs), wait-timeout (the session set wait_timeout), write (the client read nothing of a result for session.writeTimeoutMs).',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.current.clientTimeouts)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'sluice_session_pins_total',
    help: 'Sessions pinned to their writeHost connection, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.current.pins)) this.inc({ reason }, n);
    },
  });

  new Counter({
    name: 'sluice_connections_refused_total',
    help: 'Client connections refused before the handshake, by reason: not-allowed (clients), max-connections, host-blocked (limits.maxConnectErrors), handshake-limit and handshake-limit-per-address (limits.maxUnauthenticated*).',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(stats.current.edge.refused)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'sluice_handshake_timeouts_total',
    help: 'Client connections closed for not authenticating within limits.handshakeTimeoutMs.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.current.edge.handshakeTimeouts);
    },
  });
  new Counter({
    name: 'sluice_handshake_errors_total',
    help: 'Handshake errors counted against their address for limits.maxConnectErrors (bad packets, aborted and timed-out handshakes).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.current.edge.handshakeErrors);
    },
  });
  new Counter({
    name: 'sluice_login_delays_total',
    help: 'Login answers held back after limits.failedLoginThreshold failed logins in a row of the same user and address.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.current.edge.loginDelays);
    },
  });
  new Gauge({
    name: 'sluice_blocked_hosts',
    help: 'Client addresses refused now (error 1129) for limits.maxConnectErrors handshake errors in a row; admin FLUSH HOSTS clears them.',
    registers: [registry],
    collect() {
      this.set(src.blockedHosts?.() ?? 0);
    },
  });

  const view = (): ClusterView => src.cluster.view;
  new Counter({
    name: 'sluice_switchovers_total',
    help: 'Planned switchovers (admin SWITCHOVER, SWITCH @@DATASOURCE and SET OFFLINE of the active writeHost with failover.promote), by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const s = src.switchovers();
      this.inc({ outcome: 'done' }, s.done);
      this.inc({ outcome: 'failed' }, s.failed);
      this.inc({ outcome: 'refused' }, s.refused);
    },
  });
  new Gauge({
    name: 'sluice_switchover_last_pause_seconds',
    help: 'How long new writes were held in the last planned switchover that was done (absent before the first).',
    registers: [registry],
    collect() {
      this.reset();
      const ms = src.switchovers().lastPausedMs;
      if (ms !== undefined) this.set(ms / 1000);
    },
  });
  new Gauge({
    name: 'sluice_backend_up',
    help: 'Backend heartbeat status (1 = up or not probed yet, 0 = down or offline).',
    labelNames: ['host', 'role'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of view().hosts) {
        this.set({ host: h.id, role: h.role }, h.status === 'up' || h.status === 'unknown' ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'sluice_backend_readable',
    help: 'Whether the backend is in read rotation (1/0).',
    labelNames: ['host'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of view().hosts) this.set({ host: h.id }, h.readable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sluice_backend_lag_seconds',
    help: 'Replication lag (Seconds_Behind_Source) of replicas; absent when unknown.',
    labelNames: ['host'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of view().hosts) {
        const lag = h.replication?.lagSeconds;
        if (h.replication?.isReplica && typeof lag === 'number') this.set({ host: h.id }, lag);
      }
    },
  });
  new Gauge({
    name: 'sluice_backend_connections',
    help: 'Backend pool connections by state.',
    labelNames: ['host', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of view().hosts) {
        const s = data.pools[h.id];
        if (!s) continue;
        this.set({ host: h.id, state: 'borrowed' }, s.borrowed);
        this.set({ host: h.id, state: 'idle' }, s.idle);
        this.set({ host: h.id, state: 'waiting' }, s.waiting);
      }
    },
  });
  new Counter({
    name: 'sluice_backend_statements_total',
    help: 'Statements sent to each backend (since it was added).',
    labelNames: ['host', 'role'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const h of view().hosts) {
        const pools = data.pools[h.id];
        if (pools) this.inc({ host: h.id, role: h.role }, pools.statements);
      }
    },
  });
  new Gauge({
    name: 'sluice_writer_index',
    help: 'Index of the active writeHost among the writeHosts (dnindex).',
    registers: [registry],
    collect() {
      this.set(view().writerIndex);
    },
  });
  // Cooperation with other instances: registered only when cluster.cooperation is on (it changes
  // only at a restart), so an instance that decides alone exposes no "0 = no majority" that an
  // alert could mistake for a lost majority.
  if (src.clusterConfig().cooperation !== 'none') {
    const facts = (): NonNullable<ClusterView['cooperation']>['facts'] => view().cooperation?.facts;
    const gauge = (name: string, help: string, value: () => number): void => {
      new Gauge({
        name,
        help: `${help} Only with cluster.cooperation (absent when this instance decides alone).`,
        registers: [registry],
        collect() {
          this.set(value());
        },
      });
    };
    gauge('sluice_cluster_leading', 'Whether this instance leads: it holds the lead lock on a majority of the servers (1/0; 0 before the first round of lock queries).', () =>
      facts()?.leading ? 1 : 0,
    );
    gauge('sluice_cluster_sees_majority', 'Whether this instance reaches a majority of the servers and may take writes (1/0; 0 before the first round).', () =>
      facts()?.seesMajority ? 1 : 0,
    );
    gauge('sluice_cluster_lead_locks_held', 'Servers on which this instance holds the lead lock.', () => facts()?.held.length ?? 0);
    gauge('sluice_cluster_writes_refused', 'Whether this instance refuses writes because it cannot reach a majority of the servers (1/0).', () =>
      view().writesRefused !== undefined ? 1 : 0,
    );
  }
  registry.registerMetric(
    durationHistogram({
      get histogram() {
        return data.histogram;
      },
    }) as unknown as Metric,
  );
  new Counter({
    name: 'sluice_consistency_waits_total',
    help: 'Reads that had to see earlier writes (session.consistency), by what it took: none (a readHost known to have them), waited (waited on the readHost), fallback (ran on the writeHost).',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const c = stats.current.consistency;
      this.inc({ outcome: 'none' }, c.none);
      this.inc({ outcome: 'waited' }, c.waited);
      this.inc({ outcome: 'fallback' }, c.fallback);
    },
  });
  registry.registerMetric(consistencyWaitHistogram(() => data.stats.consistency) as unknown as Metric);
  const failovers = new Counter({
    name: 'sluice_failovers_total',
    help: 'Writer switches (automatic or manual) since start.',
    registers: [registry],
  });
  failovers.inc(0);
  const onChange = (_v: ClusterView, transitions: readonly Transition[]): void => {
    for (const t of transitions) if (t.kind === 'writer-switch') failovers.inc();
  };
  src.cluster.on('change', onChange);

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      data = await src.dataPath.snapshot();
      const others = (await src.processMetrics?.()) ?? [];
      if (others.length === 0) return registry.metrics();
      return AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...others]).metrics();
    },
    close: () => {
      src.cluster.off('change', onChange);
    },
  };
}

/** `sluice_consistency_wait_seconds` from the sessions' wait buckets. */
function consistencyWaitHistogram(counts: () => ConsistencyCounts) {
  const name = 'sluice_consistency_wait_seconds';
  return {
    name,
    help: 'Time reads waited on a readHost for the GTID they must see (session.consistency).',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const c = counts();
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      let cumulative = 0;
      c.waitBuckets.forEach((n, i) => {
        cumulative += n;
        const le = i < CONSISTENCY_WAIT_BUCKETS.length ? CONSISTENCY_WAIT_BUCKETS[i]! : '+Inf';
        values.push({ metricName: `${name}_bucket`, labels: { le }, value: cumulative });
      });
      values.push({ metricName: `${name}_sum`, labels: {}, value: c.waitSum });
      values.push({ metricName: `${name}_count`, labels: {}, value: cumulative });
      return { name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };
}

/** `sluice_statement_duration_seconds{route}` from StatementStats' per-route bucket counts. */
function durationHistogram(ss: Pick<StatementStats, 'histogram'>) {
  const name = 'sluice_statement_duration_seconds';
  const bounds = StatementStats.BUCKETS_MS;
  return {
    name,
    help: 'Statement duration as measured by the proxy, by route.',
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
      for (const route of ['writer', 'reader'] as const) {
        const h = ss.histogram[route];
        let cumulative = 0;
        h.counts.forEach((n, i) => {
          cumulative += n;
          const le = i < bounds.length ? bounds[i]! / 1000 : '+Inf';
          values.push({ metricName: `${name}_bucket`, labels: { route, le }, value: cumulative });
        });
        values.push({ metricName: `${name}_sum`, labels: { route }, value: h.sumMs / 1000 });
        values.push({ metricName: `${name}_count`, labels: { route }, value: cumulative });
      }
      return { name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };
}
