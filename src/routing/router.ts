/**
 * `route(classification, session, view)` — where one statement runs. Pure and synchronous: no
 * clock, no I/O, no randomness. Choosing one host among reader candidates is the selector's job
 * (backend/selectors.ts).
 *
 * Order of the rules (DESIGN §3, Mycat `balance`):
 *  1. Hints. `/*master*​/` → writer. `/*slave*​/` → reader candidates, but only for kind 'read'
 *     and never for a multi-statement (a slave hint on a write is ignored: it would either fail
 *     on a read_only replica or silently diverge a replica that is not). The slave hint wins even
 *     inside a transaction, when pinned and over needsWriter: the client asked for it. With
 *     balance 0 the slave hint uses the readHosts (balance-3 set); no readable candidate →
 *     writer ('no-readable-host').
 *  2. multiStatement → writer.
 *  3. needsLastConnection → 'last' when the session holds that connection, else writer.
 *  4. pinnedToWriter → writer. In a transaction → writer, except READ ONLY transactions, which
 *     stay on the connection that opened them: every statement while inTransaction &&
 *     readOnlyTransaction → 'last' (the BEGIN itself went to reader candidates, rule 5).
 *     Drain: when the operator set the active writeHost offline and the session's transaction or
 *     pinned state lives on it, → 'anchor' (it finishes there; new work gets 2003).
 *  5. kind 'read' without needsWriter, and `START TRANSACTION READ ONLY` outside a transaction
 *     → reader candidates by balance: 0 → writer ('no-split'); 1 → readable readHosts + readable
 *     standby writeHosts; 2 → every readable host incl. the active writer; 3 → readable
 *     readHosts only. None → writer ('no-readable-host'). Within the session's read-your-writes
 *     window (it wrote recently) → writer ('read-your-writes').
 *  6. Everything else → writer.
 *  7. Writer decisions are checked against the view: no active writer → error 2003; a writer
 *     whose @@read_only is ON refuses statements that may write (kinds write/ddl/lock-tables/
 *     other, except CREATE/DROP TEMPORARY TABLE) → error 1290. set/use/begin/commit/rollback/
 *     savepoint/unlock-tables and reads still go to a read-only writer. An instance that cannot
 *     reach a majority of the servers (cluster.cooperation) refuses the same statements with 1290
 *     and says which servers it cannot reach.
 *
 * Candidate lists are memoised per view (WeakMap), so the hot path allocates nothing.
 */
import type { ClusterView, HostView } from '../cluster/view.js';
import type { Classification, RouteDecision, RouteReason, SessionRouteState } from './types.js';

/** ER_OPTION_PREVENTS_STATEMENT */
export const ER_OPTION_PREVENTS_STATEMENT = 1290;
/** CR_CONN_HOST_ERROR */
export const CR_CONN_HOST_ERROR = 2003;

interface CandidateSets {
  /** Indexed by balance 0..3; index 0 holds the readHosts-only set (used by slave hints). */
  readonly byBalance: readonly (readonly HostView[])[];
}

const candidateCache = new WeakMap<ClusterView, CandidateSets>();

function isReadable(h: HostView): boolean {
  return h.readable && h.weight > 0;
}

function computeSets(view: ClusterView): CandidateSets {
  const readHosts: HostView[] = [];
  const standby: HostView[] = [];
  const all: HostView[] = [];
  for (const h of view.hosts) {
    if (!isReadable(h)) continue;
    all.push(h);
    if (h.role === 'read') readHosts.push(h);
    else if (!isActiveWriter(view, h)) standby.push(h);
  }
  const reads = Object.freeze(readHosts);
  const b1 = Object.freeze([...readHosts, ...standby]);
  return { byBalance: Object.freeze([reads, b1, Object.freeze(all), reads]) };
}

function isActiveWriter(view: ClusterView, h: HostView): boolean {
  if (view.writer !== undefined) return h.id === view.writer.id;
  return h.role === 'write' && h.index === view.writerIndex;
}

/**
 * Reader candidates for `balance` (0 gives the readHosts-only set, used for slave hints).
 * The returned array is shared and frozen; it is the same object for the same view.
 */
export function readCandidates(view: ClusterView, balance: 0 | 1 | 2 | 3): readonly HostView[] {
  let sets = candidateCache.get(view);
  if (sets === undefined) {
    sets = computeSets(view);
    candidateCache.set(view, sets);
  }
  return sets.byBalance[balance]!;
}

const WRITER_DECISIONS = new Map<RouteReason, RouteDecision>();
function writerDecision(reason: RouteReason): RouteDecision {
  let d = WRITER_DECISIONS.get(reason);
  if (d === undefined) {
    d = Object.freeze({ target: 'writer', reason }) as RouteDecision;
    WRITER_DECISIONS.set(reason, d);
  }
  return d;
}

const LAST_CONNECTION: RouteDecision = Object.freeze({ target: 'last', reason: 'last-connection' });
const LAST_READ_ONLY_TX: RouteDecision = Object.freeze({ target: 'last', reason: 'read-only-transaction' });

/** Does this statement possibly write (and so must not run on a read_only writeHost)? */
function mayWrite(c: Classification): boolean {
  switch (c.kind) {
    case 'write':
    case 'lock-tables':
    case 'other':
      return true;
    case 'ddl':
      // CREATE / DROP TEMPORARY TABLE are allowed on a read_only server.
      return !(c.createsTemporaryTable || c.dropsTemporaryTable);
    default:
      return false;
  }
}

/** The writer decision for `c` (or the error when there is no usable writer). */
export function toWriter(c: Classification, view: ClusterView, reason: RouteReason): RouteDecision {
  const w = view.writer;
  if (view.writesRefused !== undefined && mayWrite(c)) {
    return { target: 'error', errno: ER_OPTION_PREVENTS_STATEMENT, sqlState: 'HY000', message: `The statement was refused: ${view.writesRefused}` };
  }
  if (w === undefined) {
    return {
      target: 'error',
      errno: CR_CONN_HOST_ERROR,
      sqlState: 'HY000',
      message: `Can't connect to MySQL server: no writeHost is available in dataHost '${view.dataHost}'`,
    };
  }
  if (w.readOnly === true && mayWrite(c)) {
    return {
      target: 'error',
      errno: ER_OPTION_PREVENTS_STATEMENT,
      sqlState: 'HY000',
      message: `The writeHost ${w.id} of dataHost '${view.dataHost}' is read-only (read_only=ON); the statement was refused`,
    };
  }
  return writerDecision(reason);
}

const DRAINING: RouteDecision = Object.freeze({ target: 'anchor', reason: 'draining' });

/** The session's anchor is on the active writeHost, which the operator set offline (drain). */
function draining(session: SessionRouteState, view: ClusterView): boolean {
  if (view.writer !== undefined || session.anchorHostId === undefined) return false;
  const active = view.hosts.find((h) => h.role === 'write' && h.index === view.writerIndex);
  return active !== undefined && active.status === 'offline' && active.id === session.anchorHostId;
}

function toReaders(c: Classification, view: ClusterView, balance: 0 | 1 | 2 | 3, reason: RouteReason): RouteDecision {
  const candidates = readCandidates(view, balance);
  if (candidates.length === 0) return toWriter(c, view, 'no-readable-host');
  return { target: 'reader', candidates, reason };
}

export function route(c: Classification, session: SessionRouteState, view: ClusterView): RouteDecision {
  // 1. hints
  if (c.hint === 'master') return toWriter(c, view, 'hint');
  if (c.hint === 'slave' && c.kind === 'read' && !c.multiStatement) {
    return toReaders(c, view, view.balance, 'hint');
  }
  // 2. several statements in one packet run together on the writer
  if (c.multiStatement) return toWriter(c, view, 'multi-statement');
  // 3. state left on the previous statement's connection
  if (c.needsLastConnection) {
    return session.holdsLastConnection ? LAST_CONNECTION : toWriter(c, view, 'last-connection');
  }
  // 4. session affinity
  if (session.pinnedToWriter) return draining(session, view) ? DRAINING : toWriter(c, view, 'pinned');
  if (session.inTransaction) {
    if (session.readOnlyTransaction) return LAST_READ_ONLY_TX;
    return draining(session, view) ? DRAINING : toWriter(c, view, 'in-transaction');
  }
  // 5. reads
  if (c.kind === 'read' && !c.needsWriter) {
    if (view.balance === 0) return toWriter(c, view, 'no-split');
    if (session.readYourWrites) return toWriter(c, view, 'read-your-writes');
    return toReaders(c, view, view.balance, 'read');
  }
  if (c.kind === 'begin' && c.readOnlyTransaction) {
    if (view.balance === 0) return toWriter(c, view, 'no-split');
    return toReaders(c, view, view.balance, 'read-only-transaction');
  }
  // 6. everything else
  return toWriter(c, view, c.needsWriter && c.kind === 'read' ? 'needs-writer' : c.kind === 'other' ? 'unknown' : 'write');
}
