/**
 * The data behind `GET /status.json` and the status page, plus the health verdicts of
 * `GET /health`. Keeps the last transitions of the cluster store with their time.
 */
import type { ClusterView, HostView } from '../../cluster/view.js';
import type { Transition } from '../../cluster/state.js';
import type { HttpSources } from './sources.js';
import type { DataPathSnapshot, WorkerRow } from '../data-path.js';
import { backendNdx, switchDatasourceArg } from '../backend-numbers.js';

export const MAX_TRANSITIONS = 50;

export interface TransitionRecord {
  /** ISO timestamp. */
  readonly at: string;
  readonly kind: Transition['kind'];
  readonly hostId: string;
  readonly text: string;
}

export interface BackendStatus {
  /** backend_ndx of `SELECT * FROM backends`: what SET OFFLINE/ONLINE and REMOVE BACKEND take. */
  readonly backendNdx: number;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly role: 'writeHost' | 'readHost';
  /** 0-based index within the role (Mycat INDEX of SHOW @@DATASOURCE). */
  readonly index: number;
  /** Argument of SWITCH @@DATASOURCE for a writeHost (`dh1:0`); null for readHosts. */
  readonly switchDatasource: string | null;
  readonly active: boolean;
  readonly state: HostView['status'];
  readonly readable: boolean;
  readonly readOnly: boolean | null;
  readonly lagSeconds: number | null;
  readonly lastError: string | null;
  readonly connections: { borrowed: number; idle: number; waiting: number } | null;
  /** Statements sent to this backend since it was added (sluice_backend_statements_total); null without a pool. */
  readonly statements: number | null;
}

export interface StatusSnapshot {
  readonly time: string;
  /** When the counters below started (the HTTP endpoint starts with the proxy, counters at 0). */
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly dataHost: string;
  readonly writerIndex: number;
  /** `host:port` of the active writeHost when usable, else null. */
  readonly writer: string | null;
  readonly writerBlocked: string | null;
  readonly clientConnections: number;
  /**
   * Statements routed. `perSecondSinceStart` is total / uptime: a rate a first look can show
   * before there are two samples to take a difference of.
   */
  readonly statements: { total: number; writer: number; reader: number; perSecondSinceStart: number };
  /** Reads that had to see the session's earlier writes (session.consistency), by what it took. */
  readonly consistency: { none: number; waited: number; fallback: number };
  readonly errors: number;
  readonly retries: number;
  readonly failovers: number;
  readonly backends: readonly BackendStatus[];
  /** One row per worker process (empty when one process does everything). */
  readonly workers: readonly WorkerRow[];
  readonly transitions: readonly TransitionRecord[];
}

export interface Health {
  readonly ok: boolean;
  readonly body: Record<string, unknown>;
}

export function describeTransition(t: Transition): string {
  switch (t.kind) {
    case 'status':
      return `${t.hostId} ${t.from} → ${t.to}: ${t.reason}`;
    case 'readable':
      return `${t.hostId} ${t.to ? 'enters' : 'leaves'} read rotation: ${t.reason}`;
    case 'writer-switch':
      return `writeHost ${t.fromHostId} → ${t.toHostId} (${t.manual ? 'manual' : 'automatic'}): ${t.reason}`;
    case 'writer-refused':
      return `writer switch refused (${t.manual ? 'manual' : 'automatic'}, writer ${t.hostId}): ${t.reason}`;
    case 'host-added':
      return `${t.hostId} added as ${t.role === 'write' ? 'writeHost' : 'readHost'} ${t.index}: ${t.reason}`;
    case 'host-removed':
      return `${t.hostId} removed (was ${t.role === 'write' ? 'writeHost' : 'readHost'} ${t.index}): ${t.reason}`;
    case 'topology-refused':
      return `backend change refused for ${t.hostId}: ${t.reason}`;
    case 'cooperation':
      return `this instance ${t.from} → ${t.to}: ${t.reason}`;
  }
}

export class StatusTracker {
  private readonly recent: TransitionRecord[] = [];
  private failoverCount = 0;
  private readonly startedAt = Date.now();
  private readonly onChange = (_v: ClusterView, transitions: readonly Transition[]): void => {
    const at = new Date().toISOString();
    for (const t of transitions) {
      if (t.kind === 'writer-switch') this.failoverCount++;
      this.recent.push({ at, kind: t.kind, hostId: t.hostId, text: describeTransition(t) });
    }
    if (this.recent.length > MAX_TRANSITIONS) this.recent.splice(0, this.recent.length - MAX_TRANSITIONS);
  };

  constructor(private readonly src: HttpSources) {
    src.cluster.on('change', this.onChange);
  }

  close(): void {
    this.src.cluster.off('change', this.onChange);
  }

  /** `data`: the data path's counters at this moment (HttpSources.dataPath). */
  snapshot(data: DataPathSnapshot): StatusSnapshot {
    const v = this.src.cluster.view;
    const st = data.stats;
    const activeWriter = v.hosts.find((h) => h.role === 'write' && h.index === v.writerIndex);
    const now = Date.now();
    const uptime = Math.max(0, (now - this.startedAt) / 1000);
    const c = st.consistency;
    return {
      time: new Date(now).toISOString(),
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round(uptime * 1000) / 1000,
      dataHost: v.dataHost,
      writerIndex: v.writerIndex,
      writer: v.writer?.id ?? null,
      writerBlocked: v.writer ? null : (v.writerBlocked ?? (activeWriter ? writerDownReason(activeWriter) : 'no writeHost')),
      clientConnections: data.clientConnections,
      statements: {
        total: st.statements,
        writer: st.routedToWriter,
        reader: st.routedToReader,
        perSecondSinceStart: uptime > 0 ? Math.round((st.statements / uptime) * 100) / 100 : 0,
      },
      consistency: { none: c.none, waited: c.waited, fallback: c.fallback },
      errors: st.errors,
      retries: st.retries,
      failovers: this.failoverCount,
      backends: v.hosts.map((h, i) => {
        const pools = data.pools[h.id];
        return {
          backendNdx: backendNdx(i),
          id: h.id,
          host: h.host,
          port: h.port,
          role: h.role === 'write' ? 'writeHost' : 'readHost',
          index: h.index,
          switchDatasource: switchDatasourceArg(v, h),
          active: h.role === 'write' && h.index === v.writerIndex,
          state: h.status,
          readable: h.readable,
          readOnly: h.readOnly ?? null,
          lagSeconds: h.replication?.isReplica ? h.replication.lagSeconds : null,
          lastError: h.lastError ?? null,
          connections: pools ? { borrowed: pools.borrowed, idle: pools.idle, waiting: pools.waiting } : null,
          statements: pools ? pools.statements : null,
        };
      }),
      workers: data.workers,
      transitions: [...this.recent].reverse(),
    };
  }

  /** `GET /health` (role 'write', the default) and `GET /health?role=read`. */
  health(role: 'write' | 'read'): Health {
    const v = this.src.cluster.view;
    if (!this.src.accepting()) {
      return { ok: false, body: { status: 'unavailable', reason: 'not accepting client connections' } };
    }
    if (role === 'read') {
      const readable = v.hosts.filter((h) => h.readable).map((h) => h.id);
      if (readable.length > 0) return { ok: true, body: { status: 'ok', role: 'read', readable } };
      return { ok: false, body: { status: 'unavailable', role: 'read', reason: 'no readable host' } };
    }
    const w = v.writer;
    if (w && w.readOnly !== true) {
      return { ok: true, body: { status: 'ok', role: 'write', writer: w.id, writerIndex: v.writerIndex } };
    }
    const active = v.hosts.find((h) => h.role === 'write' && h.index === v.writerIndex);
    let reason: string;
    if (w) reason = `writeHost ${w.id} is read-only`;
    else if (v.writerBlocked) reason = `no writeHost: ${v.writerBlocked}`;
    else reason = `no writeHost: ${active ? writerDownReason(active) : 'none configured'}`;
    return { ok: false, body: { status: 'unavailable', role: 'write', reason } };
  }
}

function writerDownReason(h: HostView): string {
  const misses = h.misses ? `${h.misses} misses` : '';
  const detail = [misses, h.lastError].filter(Boolean).join(': ');
  return `${h.id} ${h.status}${detail ? ` (${detail})` : ''}`;
}
