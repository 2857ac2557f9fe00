/**
 * Makes a borrowed backend connection carry the session's state before it runs a statement.
 *
 * Each connection remembers what was applied to it (schema, character set, session variables,
 * user variables, multi-statement option, whose LAST_INSERT_ID it holds). Before a statement we
 * compare that with what the session expects and send only the difference, usually nothing.
 * All differences but the schema and the multi-statement option go in one `SET` statement, so
 * a replay costs at most one round trip in the common case.
 */
import { COLLATIONS } from '../protocol/collations.js';
import type { BackendConnection } from './backend-connection.js';

export interface DesiredSessionState {
  readonly sessionId: number;
  readonly schema: string | undefined;
  /**
   * `collation:<id>` for the collation negotiated in the handshake, else the fragment of the
   * last `SET NAMES …` / `SET CHARACTER SET …` (without the SET).
   */
  readonly charsetSql: string;
  /** Session system variables the session set (name → value SQL), in the order set. */
  readonly vars: ReadonlyMap<string, string>;
  /** User variables set to literals (name → literal SQL). */
  readonly userVars: ReadonlyMap<string, string>;
  /**
   * Whole statements replayed verbatim, keyed by what they set (e.g. `SET SESSION TRANSACTION
   * ISOLATION LEVEL …`, whose variable name differs between MySQL and MariaDB versions). A
   * connection that received one is reset before another session uses it.
   */
  readonly statements: ReadonlyMap<string, string>;
  readonly multiStatements: boolean;
  /** LAST_INSERT_ID() as the session last saw it (from its writes' OK packets). */
  readonly lastInsertId: number | bigint;
}

export interface SyncNeeds {
  /** The statement reads user variables: bring them over too. */
  readonly userVars: boolean;
  /** The statement reads LAST_INSERT_ID(): make the connection return the session's value. */
  readonly lastInsertId: boolean;
  /**
   * The statement reads what the previous statement left (SHOW WARNINGS, ROW_COUNT() …): another
   * session's must not show through, so such a connection is reset first.
   */
  readonly diagnostics?: boolean;
}

/** The replay plan for one connection; empty when nothing differs. */
export interface SyncPlan {
  readonly schema: string | undefined;
  /** The session has no schema but the connection has one: COM_CHANGE_USER (see clearSchema). */
  readonly clearSchema: boolean;
  /** Another session's diagnostics (warnings, ROW_COUNT()) are on the connection: reset it. */
  readonly resetDiagnostics: boolean;
  readonly multiStatements: boolean | undefined;
  /** One `SET …` statement, or undefined. */
  readonly setSql: string | undefined;
  /** Verbatim statements to run, in order. */
  readonly statements: readonly (readonly [string, string])[];
}

/**
 * Cheap check for the common case (nothing to replay), so the hot path skips building a plan
 * and the async replay entirely.
 */
export function inSync(conn: BackendConnection, desired: DesiredSessionState, needs: SyncNeeds): boolean {
  const s = conn.state;
  // "The session has no schema" is a state too: a connection that kept someone else's would let
  // unqualified names resolve there (the server's answer is 1046).
  return (
    s.schema === desired.schema &&
    (needs.diagnostics !== true || diagnosticsClean(s, desired.sessionId)) &&
    s.charsetSql === desired.charsetSql &&
    s.multiStatements === desired.multiStatements &&
    sameEntries(s.vars, desired.vars) &&
    sameEntries(s.statements, desired.statements) &&
    (!needs.userVars || sameEntries(s.userVars, desired.userVars)) &&
    (!needs.lastInsertId || s.lastInsertIdSession === desired.sessionId)
  );
}

function diagnosticsClean(s: BackendConnection['state'], sessionId: number): boolean {
  return s.diagnosticsSession === undefined || s.diagnosticsSession === sessionId;
}

function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  if (a.size === 0) return true;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}

/** Pure: what must be sent to `conn` so that it matches `desired`. */
export function planSync(
  conn: BackendConnection['state'],
  connCharset: number,
  desired: DesiredSessionState,
  needs: SyncNeeds,
): SyncPlan {
  const parts: string[] = [];
  // SET NAMES resets the character-set variables, so they are replayed as a group after it
  // (never as `= DEFAULT`, which would restore the server's global value instead).
  let charsetDirty = conn.charsetSql !== desired.charsetSql;
  for (const name of CHARSET_VARS) {
    if (conn.vars.get(name) !== desired.vars.get(name)) charsetDirty = true;
  }
  if (charsetDirty) {
    parts.push(charsetFragment(desired.charsetSql, connCharset));
    for (const [name, value] of desired.vars) if (CHARSET_VARS.has(name)) parts.push(`${name} = ${value}`);
  }
  for (const [name, value] of desired.vars) {
    if (!CHARSET_VARS.has(name) && conn.vars.get(name) !== value) parts.push(`${name} = ${value}`);
  }
  for (const name of conn.vars.keys()) {
    if (!CHARSET_VARS.has(name) && !desired.vars.has(name)) parts.push(`${name} = DEFAULT`);
  }
  if (needs.userVars) {
    for (const [name, value] of desired.userVars) {
      if (conn.userVars.get(name) !== value) parts.push(`@${quoteUserVar(name)} = ${value}`);
    }
    for (const name of conn.userVars.keys()) {
      if (!desired.userVars.has(name)) parts.push(`@${quoteUserVar(name)} = NULL`);
    }
  }
  if (needs.lastInsertId && conn.lastInsertIdSession !== desired.sessionId) {
    parts.push(`last_insert_id = ${desired.lastInsertId.toString()}`);
  }
  const statements: [string, string][] = [];
  for (const [key, sql] of desired.statements) {
    if (conn.statements.get(key) !== sql) statements.push([key, sql]);
  }
  return {
    statements,
    schema: desired.schema !== undefined && desired.schema !== conn.schema ? desired.schema : undefined,
    clearSchema: desired.schema === undefined && conn.schema !== undefined,
    resetDiagnostics: needs.diagnostics === true && !diagnosticsClean(conn, desired.sessionId),
    multiStatements: conn.multiStatements !== desired.multiStatements ? desired.multiStatements : undefined,
    setSql: parts.length > 0 ? `SET ${parts.join(', ')}` : undefined,
  };
}

/** Applies `desired` to `conn` (the plan from planSync), then records it as the new state. */
export async function syncConnection(
  conn: BackendConnection,
  desired: DesiredSessionState,
  needs: SyncNeeds,
): Promise<void> {
  let plan = planSync(conn.state, conn.charset, desired, needs);
  // Both start the connection over (session state, prepared statements), so the rest of the
  // plan is made again afterwards.
  if (plan.clearSchema) await conn.clearSchema();
  else if (plan.resetDiagnostics) await conn.reset();
  if (plan.clearSchema || plan.resetDiagnostics) plan = planSync(conn.state, conn.charset, desired, needs);
  if (plan.schema !== undefined) await conn.initDb(plan.schema);
  if (plan.multiStatements !== undefined) await conn.setMultiStatements(plan.multiStatements);
  for (const [key, sql] of plan.statements) {
    await conn.query(sql);
    conn.state.statements.set(key, sql);
    conn.state.dirty = true;
  }
  if (plan.setSql === undefined) return;
  await conn.query(plan.setSql);
  const s = conn.state;
  s.charsetSql = desired.charsetSql;
  s.vars = new Map(desired.vars);
  if (needs.userVars) s.userVars = new Map(desired.userVars);
  if (needs.lastInsertId) s.lastInsertIdSession = desired.sessionId;
}

/** Variables that `SET NAMES` / `SET CHARACTER SET` overwrite. */
export const CHARSET_VARS: ReadonlySet<string> = new Set([
  'character_set_client',
  'character_set_results',
  'character_set_connection',
  'collation_connection',
]);

function charsetFragment(charsetSql: string, fallbackCollation: number): string {
  if (!charsetSql.startsWith('collation:')) return charsetSql;
  const id = Number(charsetSql.slice('collation:'.length));
  const c = COLLATIONS.get(id) ?? COLLATIONS.get(fallbackCollation);
  if (!c) return 'NAMES utf8mb4';
  return `NAMES ${c.charset} COLLATE ${c.name}`;
}

function quoteUserVar(name: string): string {
  return /^[A-Za-z0-9_$.]+$/.test(name) ? name : '`' + name.replace(/`/g, '``') + '`';
}
