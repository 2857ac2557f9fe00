/**
 * What a client session is, apart from its sockets: schema, character set, variables, the
 * transaction it is in, and why it is tied to its writeHost connection. The session loop owns
 * one of these and updates it only through `recordStatement` / `recordReset`, after the backend
 * answered — never before (a failed SET must not be replayed elsewhere).
 *
 * Transaction state comes from the server's status flags (IN_TRANS, AUTOCOMMIT) in every OK /
 * EOF, not from statement text alone (DESIGN §7: sysbench prepares even BEGIN and COMMIT).
 */
import { ServerStatus } from '../protocol/constants.js';
import type { Classification, SessionRouteState } from '../routing/types.js';
import type { DesiredSessionState } from '../backend/session-sync.js';
import { CHARSET_VARS } from '../backend/session-sync.js';
import { EMPTY_POSITION, type GtidPosition } from '../cluster/gtid.js';

/** Why a session is held on its writeHost connection (counted in stats, user-pain #18). */
export type PinReason =
  | 'temporary-table'
  | 'named-lock'
  | 'table-lock'
  | 'user-variable'
  | 'multi-statement'
  | 'next-transaction'
  | 'prepared-statement'
  | 'prepared-set'
  | 'sql-mode';

export interface SessionState extends DesiredSessionState {
  schema: string | undefined;
  charsetSql: string;
  vars: Map<string, string>;
  userVars: Map<string, string>;
  statements: Map<string, string>;
  multiStatements: boolean;
  lastInsertId: number | bigint;
  autocommit: boolean;
  /** The server reported IN_TRANS after the last statement. */
  inTransaction: boolean;
  readOnlyTransaction: boolean;
  temporaryTables: number;
  namedLocks: number;
  tableLocks: boolean;
  /** User variables were assigned in a way that cannot be replayed (`:=`, `INTO @x`, `SET @x = expr`). */
  userVariablesPinned: boolean;
  multiStatementPinned: boolean;
  /** `SET TRANSACTION …` (no scope) applies to the next transaction on that very connection. */
  nextTransactionPinned: boolean;
  /** Text-protocol `PREPARE name FROM …` statements not yet deallocated (they live on one connection). */
  textPrepared: number;
  /**
   * A prepared `SET … = ?` ran: the value lives only in the execution's bound parameters. Rather
   * than render binary parameters back into SQL literals (every type, every character set) for a
   * rare pattern, the session stays on the connection that ran it, which holds the server's own
   * result.
   */
  preparedSetPinned: boolean;
  /**
   * The session's sql_mode changes quoting in ways the lexer does not model (NO_BACKSLASH_ESCAPES,
   * ANSI_QUOTES): statements may not be what the lexer thinks — a write could hide behind a
   * backslash — so everything stays on the writeHost connection.
   */
  sqlModePinned: boolean;
  /** The server's global sql_mode (what DEFAULT and a reset give) already has such quoting. */
  sqlModeDefaultPinned: boolean;
  /** When the session last changed data (ms), for read-your-writes; 0 = never. */
  lastWriteAt: number;
  /** GTIDs of the session's commits (from the OK packets): its reads must see them (consistency). */
  writePosition: GtidPosition;
  /**
   * When the session last wrote on a connection that does not report GTIDs (ms; 0 = never):
   * its reads then go to the writeHost for consistencyTimeoutMs, as the wait would be unbounded.
   */
  untrackedWriteAt: number;
}

export function newSessionState(sessionId: number, charset: number, multiStatements: boolean, sqlModeDefaultPinned = false): SessionState {
  return {
    sessionId,
    schema: undefined,
    charsetSql: `collation:${charset}`,
    vars: new Map(),
    userVars: new Map(),
    statements: new Map(),
    multiStatements,
    lastInsertId: 0,
    autocommit: true,
    inTransaction: false,
    readOnlyTransaction: false,
    temporaryTables: 0,
    namedLocks: 0,
    tableLocks: false,
    userVariablesPinned: false,
    multiStatementPinned: false,
    nextTransactionPinned: false,
    textPrepared: 0,
    preparedSetPinned: false,
    sqlModePinned: sqlModeDefaultPinned,
    sqlModeDefaultPinned,
    lastWriteAt: 0,
    writePosition: EMPTY_POSITION,
    untrackedWriteAt: 0,
  };
}

export function pinReasons(s: SessionState): PinReason[] {
  const r: PinReason[] = [];
  if (s.temporaryTables > 0) r.push('temporary-table');
  if (s.namedLocks > 0) r.push('named-lock');
  if (s.tableLocks) r.push('table-lock');
  if (s.userVariablesPinned) r.push('user-variable');
  if (s.multiStatementPinned) r.push('multi-statement');
  if (s.nextTransactionPinned) r.push('next-transaction');
  if (s.textPrepared > 0) r.push('prepared-statement');
  if (s.preparedSetPinned) r.push('prepared-set');
  if (s.sqlModePinned) r.push('sql-mode');
  return r;
}

export function isPinned(s: SessionState): boolean {
  return (
    s.temporaryTables > 0 ||
    s.namedLocks > 0 ||
    s.tableLocks ||
    s.userVariablesPinned ||
    s.multiStatementPinned ||
    s.nextTransactionPinned ||
    s.textPrepared > 0 ||
    s.preparedSetPinned ||
    s.sqlModePinned
  );
}

/** A transaction is open or autocommit is off: everything stays on one connection. */
export function inTransactionScope(s: SessionState): boolean {
  return s.inTransaction || !s.autocommit;
}

/**
 * The router's view of the session. `now` and `readYourWritesMs` decide whether the session's
 * last write is recent enough that its reads must see the writer.
 */
export function routeState(
  s: SessionState,
  holdsLastConnection: boolean,
  now: number,
  readYourWritesMs: number,
  anchorHostId?: string,
  untrackedWindowMs = 0,
): SessionRouteState {
  return {
    inTransaction: inTransactionScope(s),
    readOnlyTransaction: s.readOnlyTransaction,
    pinnedToWriter: isPinned(s),
    holdsLastConnection,
    readYourWrites:
      (readYourWritesMs > 0 && s.lastWriteAt > 0 && now - s.lastWriteAt < readYourWritesMs) ||
      (untrackedWindowMs > 0 && s.untrackedWriteAt > 0 && now - s.untrackedWriteAt < untrackedWindowMs),
    anchorHostId,
  };
}

/** Statements that may change data (read-your-writes starts from them). */
export function mayWrite(c: Classification): boolean {
  return c.kind === 'write' || c.kind === 'ddl' || c.kind === 'other' || c.multiStatement;
}

/** Whether a statement leaves state on its connection that only a reset can clear. */
export function dirtiesConnection(c: Classification): boolean {
  return (
    c.createsTemporaryTable ||
    c.acquiresNamedLock ||
    c.kind === 'lock-tables' ||
    c.assignsUserVariables ||
    c.multiStatement ||
    c.verb === 'PREPARE' ||
    (c.kind === 'set' && c.placeholders === true)
  );
}

/** `DEALLOCATE PREPARE name` / `DROP PREPARE name`. */
function deallocates(c: Classification): boolean {
  return c.verb === 'DEALLOCATE' || (c.verb === 'DROP' && c.digest.startsWith('DROP PREPARE'));
}

export interface StatementOutcome {
  /** Status flags of the final OK/EOF; undefined when the statement failed. */
  readonly statusFlags: number | undefined;
  readonly lastInsertId: number | bigint;
  /** When it finished (ms). */
  readonly at: number;
}

/** Updates the session after the backend answered a text statement. */
export function recordStatement(s: SessionState, c: Classification, out: StatementOutcome): void {
  if (out.statusFlags === undefined) return; // failed: nothing changed
  const flags = out.statusFlags;
  s.autocommit = (flags & ServerStatus.AUTOCOMMIT) !== 0;
  s.inTransaction = (flags & ServerStatus.IN_TRANS) !== 0;
  s.readOnlyTransaction = (flags & ServerStatus.IN_TRANS_READONLY) !== 0;
  if (out.lastInsertId !== 0 && out.lastInsertId !== 0n) s.lastInsertId = out.lastInsertId;
  if (mayWrite(c)) s.lastWriteAt = out.at;

  switch (c.kind) {
    case 'set':
      // A prepared SET's values are its bound parameters: pinned, never replayed as `= ?`.
      if (c.placeholders === true) s.preparedSetPinned = true;
      else recordSet(s, c);
      break;
    case 'use':
      if (c.schema !== undefined) s.schema = c.schema;
      break;
    case 'lock-tables':
      s.tableLocks = true;
      break;
    case 'unlock-tables':
      s.tableLocks = false;
      break;
    case 'begin':
      // START TRANSACTION releases LOCK TABLES (and SET TRANSACTION was for this transaction).
      s.tableLocks = false;
      break;
    case 'commit':
    case 'rollback':
      s.nextTransactionPinned = false;
      break;
    default:
      break;
  }
  if (c.createsTemporaryTable) s.temporaryTables++;
  if (c.dropsTemporaryTable && s.temporaryTables > 0) s.temporaryTables--;
  if (c.acquiresNamedLock) s.namedLocks++;
  if (c.releasesNamedLock && !c.acquiresNamedLock && s.namedLocks > 0) s.namedLocks--;
  if (c.assignsUserVariables) s.userVariablesPinned = true;
  if (c.verb === 'PREPARE') s.textPrepared++;
  else if (deallocates(c) && s.textPrepared > 0) s.textPrepared--;
  if (c.multiStatement) s.multiStatementPinned = true;
}

/**
 * What a `SET sql_mode = <valueSql>` does to quoting: a literal naming NO_BACKSLASH_ESCAPES,
 * ANSI_QUOTES or ANSI (which includes ANSI_QUOTES) → true; any other literal → false; DEFAULT →
 * whatever the server's global sql_mode does (`defaultUnmodelled`); an expression that names one of them →
 * true; any other expression (the common `REPLACE(@@sql_mode, 'ONLY_FULL_GROUP_BY', '')`) →
 * undefined: derived from the current mode, so whatever held before still holds.
 */
export function quotingUnmodelled(valueSql: string, defaultUnmodelled = false): boolean | undefined {
  const v = valueSql.trim();
  if (/^default$/i.test(v)) return defaultUnmodelled;
  const literal = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(v);
  if (!literal) return /NO_BACKSLASH_ESCAPES|ANSI/i.test(v) ? true : undefined;
  const modes = (literal[1] ?? literal[2] ?? '').toUpperCase().split(',').map((m) => m.trim());
  return modes.some((m) => m === 'NO_BACKSLASH_ESCAPES' || m === 'ANSI_QUOTES' || m === 'ANSI');
}

function recordSet(s: SessionState, c: Classification): void {
  for (const a of c.assignments) {
    switch (a.type) {
      case 'session':
        if (a.name === 'autocommit') break; // tracked from status flags
        if (a.name === 'sql_mode') s.sqlModePinned = quotingUnmodelled(a.valueSql, s.sqlModeDefaultPinned) ?? s.sqlModePinned;
        if (CHARSET_VARS.has(a.name) || !s.vars.has(a.name)) s.vars.delete(a.name);
        s.vars.set(a.name, a.valueSql);
        break;
      case 'user':
        if (a.literal) s.userVars.set(a.name, a.valueSql);
        else s.userVariablesPinned = true;
        break;
      case 'names':
        s.charsetSql = a.collation ? `NAMES ${a.charset} COLLATE ${a.collation}` : `NAMES ${a.charset}`;
        for (const v of CHARSET_VARS) s.vars.delete(v);
        break;
      case 'character-set':
        s.charsetSql = `CHARACTER SET ${a.charset}`;
        for (const v of CHARSET_VARS) s.vars.delete(v);
        break;
      case 'transaction':
        if (a.scope === 'next') s.nextTransactionPinned = true;
        else if (a.scope === 'session') s.statements.set('transaction', a.sql);
        break;
      case 'global':
        break;
    }
  }
}

/** COM_RESET_CONNECTION / COM_CHANGE_USER: back to a fresh session, schema kept by the caller. */
export function recordReset(s: SessionState, charset: number): void {
  s.charsetSql = `collation:${charset}`;
  s.vars.clear();
  s.userVars.clear();
  s.statements.clear();
  s.lastInsertId = 0;
  s.autocommit = true;
  s.inTransaction = false;
  s.readOnlyTransaction = false;
  s.temporaryTables = 0;
  s.namedLocks = 0;
  s.tableLocks = false;
  s.userVariablesPinned = false;
  s.multiStatementPinned = false;
  s.nextTransactionPinned = false;
  s.textPrepared = 0;
  s.preparedSetPinned = false;
  s.sqlModePinned = s.sqlModeDefaultPinned;
  s.lastWriteAt = 0;
  // writePosition stays: the session's commits happened, and its reads must still see them.
}
