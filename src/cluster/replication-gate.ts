/**
 * The replication gate (DESIGN §4): whether replication lets a host serve reads, judged on every
 * replication probe. Pure; only the reducer (reduce.ts) applies what it returns.
 * (Mycat semantics, then better — see /work/shared/reference/dnindex-and-heartbeat.md.)
 *
 *  - Replication gate (hysteresis, user-pain #10): every replication probe is healthy, holding or
 *    unhealthy. Healthy = the probe worked, the host is a replica of the ACTIVE writeHost, both
 *    threads run (IO 'yes'), and the lag is known and ≤ `replication.maxLagSeconds`; for a
 *    readHost "not a replica at all" is healthy too (a standalone read server); lag NULL / probe
 *    error / stopped thread ('No') / another source is NOT healthy. One unhealthy check (or going
 *    DOWN, or being demoted from the writer role, or a writer switch away from its source) closes
 *    the gate at once; it opens again only after `replication.readmitAfter` consecutive healthy
 *    checks while up (unknown counts as up). Before the first replication check the gate is open
 *    (like status 'unknown': start-up is not blocked; `app.ts` probes once before it listens).
 *  - Holding (user-pain #11): IO thread 'connecting' + SQL thread running + source = the writeHost
 *    means "still replicating, stale by at most what was not received" (its source — usually the
 *    dying writeHost — is unreachable; lag reads NULL then). It keeps the gate as it is, judged by
 *    the LAST KNOWN lag: an open gate stays open while that lag ≤ maxLagSeconds, a closed one
 *    stays closed and its healthy count restarts (never admitted by 'connecting'). A replica never
 *    seen healthy (gate open only because nothing was checked yet) is closed by it. So a dead
 *    writeHost does not take the reads down with it.
 *  - Source check (user-pain #12): a replica is healthy only while it replicates from the active
 *    writeHost (Source_Host/Master_Host + port; 127.0.0.1 / localhost / ::1 are one host, names
 *    compare case-insensitively, no DNS resolution). After a writer switch every replica still
 *    following the old writer leaves rotation at once and returns once re-pointed and seen
 *    healthy. LIMITATION: chained replication (a replica of a replica, e.g. a readHost following
 *    a standby writeHost) is therefore never readable, and a source configured by another name
 *    or address of the writeHost than the one in the config (a DNS name vs its IP) does not
 *    match either.
 */
import { sameEndpoint } from '../config/endpoint.js';
import type { HostRole, IoState } from './view.js';
import type { ClusterEvent, ClusterState, HostFacts, HostStep, ReplicationFacts } from './state.js';
import { isUsable, sameReplicationFacts } from './host-view.js';

/**
 * Why a replica's source is not the active writeHost `writer`; undefined = it is (or the host is
 * not a replica). Chained replication (source = another replica) is reported here too.
 */
export function sourceProblem(f: ReplicationFacts, writer: HostFacts): string | undefined {
  if (!f.isReplica || f.probeError !== undefined) return undefined;
  if (f.sourceHost === undefined || f.sourcePort === undefined) {
    return `replication source unknown (no Source_Host/Master_Host and port reported), cannot check it replicates from the writeHost ${writer.id}`;
  }
  if (sameEndpoint(f.sourceHost, f.sourcePort, writer.host, writer.port)) return undefined;
  return `replicates from ${f.sourceHost}:${f.sourcePort}, not from the writeHost ${writer.id}`;
}

type Assessment =
  | { readonly kind: 'healthy' }
  /** IO 'connecting' with a usable last known lag: keep the gate as it is. */
  | { readonly kind: 'hold'; readonly reason: string }
  | { readonly kind: 'unhealthy'; readonly reason: string };

/** Judges one replication sample (`lastKnownLag` already updated with it). */
function assess(f: ReplicationFacts, role: HostRole, maxLag: number, lastKnownLag: number | undefined, writer: HostFacts): Assessment {
  const bad = (reason: string): Assessment => ({ kind: 'unhealthy', reason });
  if (f.probeError !== undefined) return bad(`replication probe failed: ${f.probeError}`);
  if (!f.isReplica) return role === 'read' ? { kind: 'healthy' } : bad('not replicating (no replication source configured)');
  const err = f.threadError ? ` (${f.threadError})` : '';
  if (f.ioState === 'no' && !f.sqlRunning) return bad(`replication stopped: IO and SQL threads not running${err}`);
  if (f.ioState === 'no') return bad(`replication IO thread not running${err}`);
  if (!f.sqlRunning) return bad(`replication SQL thread not running${err}`);
  const source = sourceProblem(f, writer);
  if (source !== undefined) return bad(source);
  if (f.ioState === 'connecting') {
    const lag = f.lagSeconds ?? lastKnownLag;
    if (lag === undefined) return bad(`replication IO thread connecting to its source${err} and lag never known`);
    if (lag > maxLag) return bad(`replication IO thread connecting to its source${err}; last known lag ${lag} s > maxLagSeconds ${maxLag}`);
    return { kind: 'hold', reason: `replication IO thread connecting to its source${err}; last known lag ${lag} s` };
  }
  if (f.lagSeconds === null) return bad('replication lag unknown (NULL)');
  if (f.lagSeconds > maxLag) return bad(`replication lag ${f.lagSeconds} s > maxLagSeconds ${maxLag}`);
  return { kind: 'healthy' };
}

export function closeGate(h: HostFacts): HostFacts {
  return h.gateOpen || h.healthyChecks !== 0 ? { ...h, gateOpen: false, healthyChecks: 0 } : h;
}

/** A replication probe of host `h`; `writer` = the active writeHost before this event. */
export function replicationStep(
  h: HostFacts,
  event: Extract<ClusterEvent, { type: 'replication' }>,
  state: ClusterState,
  writer: HostFacts,
): HostStep {
  const ok = event.error === undefined;
  const ioState: IoState = !ok ? 'no' : (event.ioState ?? (event.ioRunning ? 'yes' : 'no'));
  const facts: ReplicationFacts = {
    isReplica: ok && event.isReplica,
    ioRunning: ioState === 'yes',
    ioState,
    sourceHost: ok && event.isReplica ? event.sourceHost : undefined,
    sourcePort: ok && event.isReplica ? event.sourcePort : undefined,
    sqlRunning: ok && event.sqlRunning,
    lagSeconds: ok ? event.lagSeconds : null,
    probeError: event.error,
    threadError: ok && event.threadError ? event.threadError : undefined,
    sourceUnreachable: ok && event.sourceUnreachable === true,
    receivedGtids: ok && event.isReplica && ioState !== 'yes' ? event.receivedGtids : undefined,
  };
  const { maxLagSeconds, readmitAfter } = state.replication;
  let lastKnownLag = h.lastKnownLag;
  if (facts.probeError === undefined) {
    if (!facts.isReplica) lastKnownLag = undefined;
    else if (facts.lagSeconds !== null) lastKnownLag = facts.lagSeconds;
  }
  const verdict = assess(facts, h.role, maxLagSeconds, lastKnownLag, writer);
  const replication = sameReplicationFacts(h.replication, facts) ? h.replication : facts;
  if (verdict.kind === 'hold') {
    // Seen healthy before (an open gate with replication facts): stays open, count kept.
    // Otherwise (closed, or open only because never checked): closed, count restarts.
    if (h.gateOpen && h.replication !== undefined) {
      return { facts: { ...h, replication, lastKnownLag }, statusReason: verdict.reason, gateReason: undefined };
    }
    const reason = `${verdict.reason}: not admitted until seen replicating`;
    return { facts: { ...h, replication, lastKnownLag, gateOpen: false, healthyChecks: 0 }, statusReason: reason, gateReason: reason };
  }
  if (verdict.kind === 'unhealthy') {
    return {
      facts: { ...h, replication, lastKnownLag, gateOpen: false, healthyChecks: 0 },
      statusReason: verdict.reason,
      gateReason: verdict.reason,
    };
  }
  const counting = isUsable(h.status);
  const healthyChecks = counting ? Math.min(h.healthyChecks + 1, readmitAfter) : 0;
  const opens = !h.gateOpen && counting && healthyChecks >= readmitAfter;
  const seenReplicating = facts.isReplica;
  return {
    facts: {
      ...h,
      replication,
      lastKnownLag,
      healthyChecks,
      gateOpen: h.gateOpen || opens,
      demoted: h.demoted && !(seenReplicating && (h.gateOpen || opens)),
    },
    statusReason: 'replication healthy',
    gateReason: opens ? `replication healthy for ${healthyChecks} consecutive checks (readmitAfter ${readmitAfter})` : undefined,
  };
}
