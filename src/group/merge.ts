/** Workers' answers added up into what one process would have answered. Pure. */
import type { DataPathSnapshot, PoolTotals } from '../admin/data-path.js';
import type { StatementStat } from '../admin/admin-views.js';
import { newSessionStats, type RefusalReason, type SessionStats } from '../frontend/session-context.js';
import { StatementStats } from '../frontend/statement-stats.js';

function addStats(into: SessionStats, s: SessionStats): void {
  into.statements += s.statements;
  into.routedToWriter += s.routedToWriter;
  into.routedToReader += s.routedToReader;
  into.errors += s.errors;
  into.retries += s.retries;
  into.heldForWriter += s.heldForWriter;
  for (const [outcome, n] of Object.entries(s.replays)) into.replays[outcome as keyof SessionStats['replays']] += n;
  for (const [reason, n] of Object.entries(s.clientTimeouts)) into.clientTimeouts[reason as keyof SessionStats['clientTimeouts']] += n;
  for (const [reason, n] of Object.entries(s.pins)) into.pins[reason as keyof SessionStats['pins']] = (into.pins[reason as keyof SessionStats['pins']] ?? 0) + n;
  const c = into.consistency;
  c.none += s.consistency.none;
  c.waited += s.consistency.waited;
  c.fallback += s.consistency.fallback;
  c.waitSum += s.consistency.waitSum;
  s.consistency.waitBuckets.forEach((n, i) => (c.waitBuckets[i] = (c.waitBuckets[i] ?? 0) + n));
  const e = into.edge;
  for (const [reason, n] of Object.entries(s.edge.refused)) e.refused[reason as RefusalReason] = (e.refused[reason as RefusalReason] ?? 0) + n;
  e.handshakeTimeouts += s.edge.handshakeTimeouts;
  e.handshakeErrors += s.edge.handshakeErrors;
  e.loginDelays += s.edge.loginDelays;
}

/** The workers' snapshots summed (counters, pools by host, histogram buckets); `workers` left empty. */
export function sumSnapshots(parts: readonly DataPathSnapshot[]): DataPathSnapshot {
  const stats = newSessionStats();
  const pools: Record<string, PoolTotals> = {};
  const histogram = new StatementStats().histogram;
  let clientConnections = 0;
  for (const p of parts) {
    clientConnections += p.clientConnections;
    addStats(stats, p.stats);
    for (const [host, t] of Object.entries(p.pools)) {
      const a = pools[host];
      pools[host] = a
        ? { borrowed: a.borrowed + t.borrowed, idle: a.idle + t.idle, waiting: a.waiting + t.waiting, statements: a.statements + t.statements }
        : { ...t };
    }
    for (const route of ['writer', 'reader'] as const) {
      const h = histogram[route];
      p.histogram[route].counts.forEach((n, i) => (h.counts[i] = (h.counts[i] ?? 0) + n));
      h.sumMs += p.histogram[route].sumMs;
    }
  }
  return { clientConnections, stats, pools, histogram, workers: [] };
}

/** Per-digest statistics of several workers as one list, busiest (total time) first. */
export function mergeStatementTops(parts: readonly (readonly StatementStat[])[], n: number): StatementStat[] {
  const byDigest = new Map<string, StatementStat>();
  for (const list of parts) {
    for (const s of list) {
      const a = byDigest.get(s.digest);
      byDigest.set(
        s.digest,
        a
          ? {
              digest: s.digest,
              count: a.count + s.count,
              totalMs: a.totalMs + s.totalMs,
              maxMs: Math.max(a.maxMs, s.maxMs),
              rows: a.rows + s.rows,
              writer: a.writer + s.writer,
              reader: a.reader + s.reader,
            }
          : { digest: s.digest, count: s.count, totalMs: s.totalMs, maxMs: s.maxMs, rows: s.rows, writer: s.writer, reader: s.reader },
      );
    }
  }
  return [...byDigest.values()].sort((a, b) => b.totalMs - a.totalMs).slice(0, n);
}
