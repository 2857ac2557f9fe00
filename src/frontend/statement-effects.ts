/**
 * What a statement's answer changed, recorded once it has been relayed: statistics and the SQL /
 * slow log, the session's state (and what its backend connection now carries), the GTID of a
 * commit (causal reads), pins. Kept apart from the statement runner, which moves the bytes.
 */
import type { BackendConnection } from '../backend/backend-connection.js';
import type { ResponseSummary } from '../backend/response-scanner.js';
import { mergePositions, parseGtids, TRACKING_VARIABLES } from '../cluster/gtid.js';
import type { Classification } from '../routing/types.js';
import type { HeldConnection } from './session-connections.js';
import type { SessionScope } from './session-scope.js';
import { dirtiesConnection, isPinned, mayWrite, pinReasons, recordStatement, type PinReason } from './session-state.js';

const NO_PINS: readonly PinReason[] = [];

/** Statistics, SQL log and slow log for one finished statement. */
export function observeStatement(scope: SessionScope, c: Classification, conn: BackendConnection, summary: ResponseSummary, ms: number): void {
  const { ctx } = scope;
  const onWriter = conn.hostId === ctx.cluster().writer?.id;
  const failed = summary.error !== undefined;
  if (c.digest !== '') ctx.statementStats.record(c.digest, ms, summary.rows, onWriter, failed);
  const log = ctx.config().log;
  const slow = log.slowMs > 0 && ms >= log.slowMs;
  if (!log.sql && !slow) return;
  const text = log.maskLiterals ? c.digest : (scope.currentSql ?? c.digest);
  const entry = {
    conn: scope.id,
    user: scope.client?.user.name,
    backend: conn.hostId,
    ms: Math.round(ms * 1000) / 1000,
    rows: summary.rows,
    affected: Number(summary.affectedRows),
    ...(failed ? { errno: summary.error!.errno } : {}),
    sql: text.length > log.maxStatementLength ? `${text.slice(0, log.maxStatementLength)}…` : text,
  };
  if (slow) scope.log.warn({ ...entry, log: 'slow' }, 'slow statement');
  else scope.log.info({ ...entry, log: 'sql' }, 'statement');
}

/** Records what the statement changed in the session and on its connection, then ends it there. */
export function recordStatementEffects(scope: SessionScope, c: Classification, summary: ResponseSummary, held: HeldConnection): void {
  const s = scope.s;
  const conn = held.conn;
  recordCommit(scope, c, summary, conn);
  if (summary.error === undefined) {
    const pinnedBefore = isPinned(s) ? pinReasons(s) : NO_PINS;
    recordStatement(s, c, { statusFlags: summary.statusFlags, lastInsertId: summary.lastInsertId, at: Date.now() });
    if (dirtiesConnection(c) || c.kind === 'set') countNewPins(scope, pinnedBefore);
    // The connection ran the statement itself, so it now carries what the session recorded.
    if (c.kind === 'set' || c.kind === 'use') {
      conn.state.schema = s.schema;
      conn.state.charsetSql = s.charsetSql;
      conn.state.vars = new Map(s.vars);
      for (const a of c.assignments) if (a.type === 'user' && a.literal) conn.state.userVars.set(a.name, a.valueSql);
      for (const [k, v] of s.statements) {
        if (conn.state.statements.get(k) !== v) {
          conn.state.statements.set(k, v);
          conn.state.dirty = true;
        }
      }
    }
    if (summary.lastInsertId !== 0 && summary.lastInsertId !== 0n) conn.state.lastInsertIdSession = s.sessionId;
    if (dirtiesConnection(c)) conn.state.dirty = true;
    if (c.kind === 'set' && c.assignments.some((a) => a.type === 'session' && TRACKING_VARIABLES.has(a.name))) {
      conn.gtidTracking = false; // the client replaced the tracked list: tracked again before next use
    }
  } else {
    scope.ctx.stats.errors++;
  }
  scope.backends.finishStatement(held, scope.inScope());
}

/**
 * A commit's GTID (from the OK packets) joins what the session's reads must see, and what every
 * session must see under consistency: global. A write on a connection that cannot report GTIDs
 * sends the session's reads to the writeHost for a while instead.
 */
function recordCommit(scope: SessionScope, c: Classification, summary: ResponseSummary, conn: BackendConnection): void {
  const s = scope.s;
  if (summary.gtid !== undefined) {
    const committed = parseGtids(summary.gtid);
    s.writePosition = mergePositions(s.writePosition, committed);
    scope.ctx.positions.acknowledge(committed);
  } else if (!conn.gtidTracking && summary.error === undefined && (mayWrite(c) || c.kind === 'commit')) {
    s.untrackedWriteAt = Date.now();
  }
}

/** Counts each pin reason the statement just added (user-pain #18: say why sessions pin). */
export function countNewPins(scope: SessionScope, before: readonly PinReason[]): void {
  for (const reason of pinReasons(scope.s)) {
    if (!before.includes(reason)) scope.ctx.stats.pins[reason]++;
  }
}
