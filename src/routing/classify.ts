/**
 * `classify(sql)` — what a statement is, for routing and session-state tracking.
 *
 * Hot path: one lexer pass (see lexer.ts) plus a walk over the tokens; no regular expressions,
 * no parser. node-sql-parser runs only when the token structure is unusual (a statement that
 * starts with `(` but not `(SELECT`, or a `WITH` whose main statement the lexer cannot find);
 * its verdict (just the statement kind) is cached in an LRU keyed by the statement digest, so a
 * given shape is parsed once. Whatever neither can decide is kind 'other' (→ writeHost): the
 * classifier never guesses "read".
 *
 * Decisions worth knowing (documented in the cases file too):
 *  - COMMIT/ROLLBACK AND CHAIN stay 'commit'/'rollback' with `chain: true`.
 *  - A SET the lexer cannot take apart (SET PASSWORD, SET ROLE, SET DEFAULT ROLE, SET RESOURCE
 *    GROUP, malformed SET) is kind 'other' with verb 'SET'.
 *  - `SET STATEMENT … FOR <stmt>` (MariaDB) is classified as <stmt> (assignments not reported:
 *    they only last for that statement).
 *  - `@x := …` inside a read sets needsWriter as well as assignsUserVariables (the value lives on
 *    the connection that ran it), like `INTO @x`.
 *  - SHOW MASTER/BINARY/BINLOG/SLAVE/REPLICA(S)/[FULL] PROCESSLIST set needsWriter (they describe
 *    the server they run on; the writeHost is the deterministic answer).
 *  - CALL: user variables passed to a procedure may be OUT parameters → assignsUserVariables.
 *  - EXPLAIN/DESCRIBE is a read unless it says ANALYZE (which executes the statement) → 'other'.
 */
import { stripMycat } from './hints.js';
import { KW, keywordText } from './keywords.js';
import { lex } from './lexer.js';
import { clearParserCache, loadParser, parserFallbackStats, parserKind, type ParserFallbackStats } from './parser-fallback.js';
import {
  TK_ASSIGN,
  TK_HEXLIT,
  TK_NUMBER,
  TK_PARAM,
  TK_PUNCT,
  TK_QIDENT,
  TK_SEMI,
  TK_STRING,
  TK_SYSVAR,
  TK_USERVAR,
  TK_WORD,
  type Lexed,
} from './tokens.js';
import type { Classification, SetAssignment, StatementKind } from './types.js';

type Draft = { -readonly [K in keyof Classification]: Classification[K] };

const NO_ASSIGNMENTS: readonly SetAssignment[] = Object.freeze([]);
const NO_STATEMENTS: readonly Classification[] = Object.freeze([]);

/**
 * A classification with no flags set, for commands that carry no SQL (COM_FIELD_LIST,
 * COM_STATISTICS, …): the caller picks the kind that routes it.
 */
export function plainClassification(kind: StatementKind): Classification {
  return Object.freeze(draft(kind, ''));
}

function draft(kind: StatementKind, verb: string): Draft {
  // Always the same property order: one hidden class for every Classification.
  return {
    kind,
    verb,
    digest: '',
    hint: undefined,
    forwardSql: undefined,
    strippedRanges: undefined,
    readOnlyTransaction: false,
    chain: false,
    needsWriter: false,
    needsLastConnection: false,
    readsLastInsertId: false,
    readsUserVariables: false,
    assignsUserVariables: false,
    acquiresNamedLock: false,
    releasesNamedLock: false,
    createsTemporaryTable: false,
    dropsTemporaryTable: false,
    multiStatement: false,
    placeholders: false,
    mentionsConnectionId: false,
    assignments: NO_ASSIGNMENTS,
    schema: undefined,
    source: 'lexer',
    statements: NO_STATEMENTS,
  };
}

// ---------------------------------------------------------------------------------------------
// Token access (bound to the current lex result for the duration of one classify call)
// ---------------------------------------------------------------------------------------------

let sql = '';
let T: Uint8Array = new Uint8Array(0);
let S: Int32Array = new Int32Array(0);
let E: Int32Array = new Int32Array(0);
let K: Int16Array = new Int16Array(0);

function bind(lx: Lexed): void {
  sql = lx.sql;
  T = lx.type;
  S = lx.start;
  E = lx.end;
  K = lx.kw;
}

/** Keyword id of token i (inside [.., to)), or -1. */
function kwAt(i: number, to: number): number {
  return i < to && T[i] === TK_WORD ? K[i]! : -1;
}

function punctAt(i: number, to: number, code: number): boolean {
  return i < to && T[i] === TK_PUNCT && sql.charCodeAt(S[i]!) === code;
}

function isAssignOp(i: number, to: number): boolean {
  return i < to && (T[i] === TK_ASSIGN || (T[i] === TK_PUNCT && sql.charCodeAt(S[i]!) === 61));
}

/** At '(' — the index after the matching ')', or -1. */
function skipParens(i: number, to: number): number {
  let depth = 0;
  for (; i < to; i++) {
    if (T[i] !== TK_PUNCT) continue;
    const c = sql.charCodeAt(S[i]!);
    if (c === 40) depth++;
    else if (c === 41 && --depth === 0) return i + 1;
  }
  return -1;
}

/** Remove quotes from a '…', "…" or `…` token. */
function unquote(i: number): string {
  return unquoteRange(S[i]!, E[i]!);
}

function unquoteRange(s: number, e: number): string {
  const q = sql.charCodeAt(s);
  const closed = e - s >= 2 && sql.charCodeAt(e - 1) === q;
  let inner = sql.slice(s + 1, closed ? e - 1 : e);
  const qc = String.fromCharCode(q);
  if (inner.includes(qc + qc)) inner = inner.split(qc + qc).join(qc);
  if (q !== 96 && inner.includes('\\')) inner = inner.replace(/\\(.)/gs, '$1');
  return inner;
}

/** A name given as a word, `identifier` or 'string' (charset / collation / schema). */
function nameAt(i: number, to: number): string | undefined {
  if (i >= to) return undefined;
  const t = T[i];
  if (t === TK_WORD) return sql.slice(S[i]!, E[i]!);
  if (t === TK_QIDENT || t === TK_STRING) return unquote(i);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Flag scan
// ---------------------------------------------------------------------------------------------

/** Keywords the flag scan reacts to. */
const SCAN = new Uint8Array(256);
for (const k of [
  KW.FOR, KW.LOCK, KW.INTO, KW.SQL_CALC_FOUND_ROWS, KW.NEXT, KW.PREVIOUS, KW.GET_LOCK,
  KW.RELEASE_LOCK, KW.RELEASE_ALL_LOCKS, KW.IS_FREE_LOCK, KW.IS_USED_LOCK, KW.LAST_INSERT_ID,
  KW.NEXTVAL, KW.LASTVAL, KW.SETVAL, KW.CURRVAL, KW.FOUND_ROWS, KW.ROW_COUNT, KW.CONNECTION_ID,
]) {
  SCAN[k] = 1;
}

/** Word at i is a function call: followed by `(` and not qualified (`db.get_lock(` is a UDF). */
function isCall(i: number, from: number, to: number): boolean {
  return punctAt(i + 1, to, 40) && !(i > from && punctAt(i - 1, to, 46));
}

function scanFlags(d: Draft, from: number, to: number): void {
  const read = d.kind === 'read';
  const call = d.verb === 'CALL';
  let intoList = false;
  for (let i = from; i < to; i++) {
    const t = T[i]!;
    if (t === TK_WORD) {
      const k = K[i]!;
      if (k < 0 || SCAN[k] === 0) {
        intoList = false;
        continue;
      }
      switch (k) {
        case KW.INTO:
          if (read) d.needsWriter = true;
          intoList = true;
          continue;
        case KW.FOR: {
          const k1 = kwAt(i + 1, to);
          if (k1 === KW.UPDATE || k1 === KW.SHARE) d.needsWriter = true;
          break;
        }
        case KW.LOCK:
          if (kwAt(i + 1, to) === KW.IN && kwAt(i + 2, to) === KW.SHARE && kwAt(i + 3, to) === KW.MODE) {
            d.needsWriter = true;
          }
          break;
        case KW.SQL_CALC_FOUND_ROWS:
          d.needsWriter = true;
          break;
        case KW.NEXT:
        case KW.PREVIOUS:
          if (kwAt(i + 1, to) === KW.VALUE && kwAt(i + 2, to) === KW.FOR) d.needsWriter = true;
          break;
        case KW.GET_LOCK:
          if (isCall(i, from, to)) {
            d.acquiresNamedLock = true;
            d.needsWriter = true;
          }
          break;
        case KW.RELEASE_LOCK:
        case KW.RELEASE_ALL_LOCKS:
          if (isCall(i, from, to)) {
            d.releasesNamedLock = true;
            d.needsWriter = true;
          }
          break;
        case KW.IS_FREE_LOCK:
        case KW.IS_USED_LOCK:
          if (isCall(i, from, to)) d.needsWriter = true;
          break;
        case KW.LAST_INSERT_ID:
          if (isCall(i, from, to)) {
            d.readsLastInsertId = true;
            d.needsWriter = true;
          }
          break;
        case KW.NEXTVAL:
        case KW.LASTVAL:
        case KW.SETVAL:
        case KW.CURRVAL:
          // nextval(s) or s.nextval (MariaDB sequences, Oracle mode)
          if (punctAt(i + 1, to, 40) || (i > from && punctAt(i - 1, to, 46))) d.needsWriter = true;
          break;
        case KW.FOUND_ROWS:
        case KW.ROW_COUNT:
          if (isCall(i, from, to)) d.needsLastConnection = true;
          break;
        case KW.CONNECTION_ID:
          if (isCall(i, from, to)) d.mentionsConnectionId = true;
          break;
      }
      intoList = false;
    } else if (t === TK_USERVAR) {
      if (intoList) {
        d.assignsUserVariables = true;
        continue;
      }
      if (i + 1 < to && T[i + 1] === TK_ASSIGN) {
        d.assignsUserVariables = true;
        if (read) d.needsWriter = true;
      } else {
        d.readsUserVariables = true;
        if (call) d.assignsUserVariables = true;
      }
    } else if (t === TK_SYSVAR) {
      intoList = false;
      sysvarFlags(d, i);
    } else if (t === TK_PUNCT && intoList && sql.charCodeAt(S[i]!) === 44) {
      continue;
    } else if (t === TK_PARAM) {
      d.placeholders = true;
      intoList = false;
    } else {
      intoList = false;
    }
  }
}

/** `@@[scope.]name` → [scope, name], both lower-case, scope '' when absent. */
function splitSysvar(i: number): [string, string] {
  let name = sql.slice(S[i]! + 2, E[i]!).toLowerCase();
  if (name.includes('`')) name = name.split('`').join('');
  const dot = name.indexOf('.');
  if (dot > 0) {
    const scope = name.slice(0, dot);
    if (
      scope === 'session' ||
      scope === 'local' ||
      scope === 'global' ||
      scope === 'persist' ||
      scope === 'persist_only'
    ) {
      return [scope, name.slice(dot + 1)];
    }
  }
  return ['', name];
}

function sysvarFlags(d: Draft, i: number): void {
  const name = splitSysvar(i)[1];
  if (name === 'identity' || name === 'last_insert_id') {
    d.readsLastInsertId = true;
    d.needsWriter = true;
  } else if (name === 'warning_count' || name === 'error_count') {
    d.needsLastConnection = true;
  }
}

// ---------------------------------------------------------------------------------------------
// SET
// ---------------------------------------------------------------------------------------------

/** End (exclusive) of a value expression starting at i: the next top-level `,` or `to`. */
function valueEnd(i: number, to: number): number {
  let depth = 0;
  for (; i < to; i++) {
    if (T[i] !== TK_PUNCT) continue;
    const c = sql.charCodeAt(S[i]!);
    if (c === 40) depth++;
    else if (c === 41) depth--;
    else if (c === 44 && depth <= 0) return i;
  }
  return to;
}

function isLiteral(from: number, to: number): boolean {
  const n = to - from;
  const t0 = T[from];
  if (n === 1) {
    if (t0 === TK_STRING || t0 === TK_NUMBER || t0 === TK_HEXLIT) return true;
    const k = kwAt(from, to);
    return k === KW.NULL || k === KW.TRUE || k === KW.FALSE;
  }
  if (n === 2) {
    const t1 = T[from + 1];
    if (t0 === TK_PUNCT && t1 === TK_NUMBER) {
      const c = sql.charCodeAt(S[from]!);
      return c === 45 || c === 43;
    }
    // character set introducer: _utf8mb4'…', _binary 0x…
    if (t0 === TK_WORD && sql.charCodeAt(S[from]!) === 95 && (t1 === TK_STRING || t1 === TK_HEXLIT)) return true;
  }
  return false;
}

/**
 * Parse the assignment list of `SET …` (tokens [from, to) after the SET keyword).
 * Returns false when the statement is not a form we understand (→ kind 'other').
 */
function parseSet(d: Draft, setIndex: number, from: number, to: number): boolean {
  let i = from;
  if (i >= to) return false;
  const k0 = kwAt(i, to);
  if (k0 === KW.PASSWORD || k0 === KW.ROLE || k0 === KW.DEFAULT || k0 === KW.RESOURCE) return false;

  let txScope: 'next' | 'session' | 'global' | undefined;
  if (k0 === KW.TRANSACTION) txScope = 'next';
  else if (kwAt(i + 1, to) === KW.TRANSACTION) {
    if (k0 === KW.GLOBAL) txScope = 'global';
    else if (k0 === KW.SESSION || k0 === KW.LOCAL) txScope = 'session';
  }
  if (txScope !== undefined) {
    d.assignments = [{ type: 'transaction', scope: txScope, sql: sql.slice(S[setIndex]!, E[to - 1]!) }];
    return true;
  }

  const out: SetAssignment[] = [];
  let scope: 'session' | 'global' = 'session';
  for (;;) {
    let k = kwAt(i, to);
    if (k === KW.GLOBAL || k === KW.PERSIST || k === KW.PERSIST_ONLY) {
      scope = 'global';
      k = kwAt(++i, to);
    } else if (k === KW.SESSION || k === KW.LOCAL) {
      scope = 'session';
      k = kwAt(++i, to);
    }
    if (i >= to) return false;
    const t = T[i];

    if (k === KW.NAMES && !isAssignOp(i + 1, to)) {
      i++;
      let charset: string | undefined;
      if (kwAt(i, to) === KW.DEFAULT) charset = 'default';
      else charset = nameAt(i, to)?.toLowerCase();
      if (charset === undefined) return false;
      i++;
      let collation: string | undefined;
      if (kwAt(i, to) === KW.COLLATE) {
        i++;
        collation = kwAt(i, to) === KW.DEFAULT ? 'default' : nameAt(i, to)?.toLowerCase();
        if (collation === undefined) return false;
        i++;
      }
      out.push({ type: 'names', charset, collation });
    } else if (
      ((k === KW.CHARACTER && kwAt(i + 1, to) === KW.SET) || k === KW.CHARSET) &&
      !isAssignOp(i + 1, to)
    ) {
      i += k === KW.CHARSET ? 1 : 2;
      const charset = kwAt(i, to) === KW.DEFAULT ? 'default' : nameAt(i, to)?.toLowerCase();
      if (charset === undefined) return false;
      i++;
      out.push({ type: 'character-set', charset });
    } else {
      let type: 'session' | 'global' | 'user';
      let name: string;
      if (t === TK_USERVAR) {
        type = 'user';
        const c1 = sql.charCodeAt(S[i]! + 1);
        if (c1 === 39 || c1 === 34 || c1 === 96) name = unquoteRange(S[i]! + 1, E[i]!).toLowerCase();
        else name = sql.slice(S[i]! + 1, E[i]!).toLowerCase();
        i++;
      } else if (t === TK_SYSVAR) {
        const [sc, nm] = splitSysvar(i);
        type = sc === 'global' || sc === 'persist' || sc === 'persist_only' ? 'global' : 'session';
        name = nm;
        i++;
      } else if (t === TK_WORD || t === TK_QIDENT) {
        type = scope;
        name = (t === TK_WORD ? sql.slice(S[i]!, E[i]!) : unquote(i)).toLowerCase();
        i++;
        // component / structured variables: validate_password.length
        while (punctAt(i, to, 46) && i + 1 < to && (T[i + 1] === TK_WORD || T[i + 1] === TK_QIDENT)) {
          name += '.' + (T[i + 1] === TK_WORD ? sql.slice(S[i + 1]!, E[i + 1]!) : unquote(i + 1)).toLowerCase();
          i += 2;
        }
      } else return false;
      if (name.length === 0 || !isAssignOp(i, to)) return false;
      i++;
      const end = valueEnd(i, to);
      if (end === i) return false;
      const valueSql = sql.slice(S[i]!, E[end - 1]!);
      scanFlags(d, i, end);
      if (type === 'user') {
        const literal = isLiteral(i, end);
        if (!literal) d.assignsUserVariables = true;
        out.push({ type, name, valueSql, literal });
      } else {
        out.push({ type, name, valueSql });
      }
      i = end;
    }
    if (i >= to) break;
    if (!punctAt(i, to, 44)) return false;
    i++;
  }
  d.assignments = out;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Statement kinds
// ---------------------------------------------------------------------------------------------

function scanned(d: Draft, from: number, to: number): Draft {
  scanFlags(d, from, to);
  return d;
}

function fallback(verb: string, from: number, to: number, key: string): Draft {
  const text = sql.slice(S[from]!, E[to - 1]!);
  const d = draft(parserKind(text, key), verb);
  d.source = 'parser';
  return scanned(d, from, to);
}

/** Kind of the statement that follows a CTE list / opening parentheses, or undefined. */
function mainKind(i: number, to: number): StatementKind | undefined {
  while (punctAt(i, to, 40)) i++;
  const k = kwAt(i, to);
  if (k === KW.SELECT || k === KW.VALUES || k === KW.TABLE) return 'read';
  if (k === KW.INSERT || k === KW.UPDATE || k === KW.DELETE || k === KW.REPLACE) return 'write';
  return undefined;
}

/** WITH [RECURSIVE] name [(cols)] AS (…) [, …] <main statement> */
function withStatement(withIndex: number, from: number, to: number, key: string): Draft {
  let i = withIndex + 1;
  if (kwAt(i, to) === KW.RECURSIVE) i++;
  for (;;) {
    if (i >= to || (T[i] !== TK_WORD && T[i] !== TK_QIDENT)) return fallback('WITH', from, to, key);
    i++;
    if (punctAt(i, to, 40)) {
      i = skipParens(i, to);
      if (i < 0) return fallback('WITH', from, to, key);
    }
    if (kwAt(i, to) !== KW.AS || !punctAt(i + 1, to, 40)) return fallback('WITH', from, to, key);
    i = skipParens(i + 1, to);
    if (i < 0) return fallback('WITH', from, to, key);
    if (punctAt(i, to, 44)) {
      i++;
      continue;
    }
    break;
  }
  const kind = mainKind(i, to);
  if (kind === undefined) return fallback('WITH', from, to, key);
  return scanned(draft(kind, 'WITH'), from, to);
}

function parenthesized(from: number, to: number, key: string): Draft {
  let i = from;
  while (punctAt(i, to, 40)) i++;
  const k = kwAt(i, to);
  if (k === KW.SELECT || k === KW.VALUES || k === KW.TABLE) return scanned(draft('read', keywordText(k)), from, to);
  if (k === KW.WITH) return withStatement(i, from, to, key);
  return fallback(k >= 0 ? keywordText(k) : '', from, to, key);
}

function classifyRange(from: number, to: number, key: string): Draft {
  if (from >= to) return draft('other', '');
  const t0 = T[from];
  if (t0 === TK_PUNCT && sql.charCodeAt(S[from]!) === 40) return parenthesized(from, to, key);
  if (t0 !== TK_WORD) return scanned(draft('other', ''), from, to);
  const k = K[from]!;
  if (k < 0) return scanned(draft('other', sql.slice(S[from]!, E[from]!).toUpperCase()), from, to);
  const verb = keywordText(k);
  const k1 = kwAt(from + 1, to);
  switch (k) {
    case KW.SELECT:
    case KW.VALUES:
    case KW.TABLE:
    case KW.HELP:
      return scanned(draft('read', verb), from, to);

    case KW.INSERT:
    case KW.UPDATE:
    case KW.DELETE:
    case KW.REPLACE:
      return scanned(draft('write', verb), from, to);

    case KW.SHOW: {
      const d = draft('read', verb);
      if (k1 === KW.WARNINGS || k1 === KW.ERRORS || k1 === KW.PROFILE || k1 === KW.PROFILES) {
        d.needsLastConnection = true;
      } else if (k1 === KW.COUNT) {
        const k5 = kwAt(from + 5, to);
        if (k5 === KW.WARNINGS || k5 === KW.ERRORS) d.needsLastConnection = true;
      } else if (
        k1 === KW.MASTER ||
        k1 === KW.BINARY ||
        k1 === KW.BINLOG ||
        k1 === KW.PROCESSLIST ||
        k1 === KW.SLAVE ||
        k1 === KW.REPLICA ||
        k1 === KW.REPLICAS ||
        (k1 === KW.FULL && kwAt(from + 2, to) === KW.PROCESSLIST)
      ) {
        d.needsWriter = true;
      }
      return scanned(d, from, to);
    }

    case KW.DESC:
    case KW.DESCRIBE:
    case KW.EXPLAIN: {
      for (let i = from + 1; i < to; i++) {
        if (T[i] === TK_WORD && K[i] === KW.ANALYZE) return scanned(draft('other', verb), from, to);
      }
      return scanned(draft('read', verb), from, to);
    }

    case KW.WITH:
      return withStatement(from, from, to, key);

    case KW.CREATE: {
      const d = draft('ddl', verb);
      let i = from + 1;
      if (k1 === KW.OR && kwAt(from + 2, to) === KW.REPLACE) i += 2;
      if (kwAt(i, to) === KW.TEMPORARY && kwAt(i + 1, to) === KW.TABLE) d.createsTemporaryTable = true;
      return scanned(d, from, to);
    }

    case KW.DROP: {
      if (k1 === KW.PREPARE) return scanned(draft('other', verb), from, to);
      const d = draft('ddl', verb);
      if (k1 === KW.TEMPORARY) {
        const k2 = kwAt(from + 2, to);
        if (k2 === KW.TABLE || k2 === KW.TABLES) d.dropsTemporaryTable = true;
      }
      return scanned(d, from, to);
    }

    case KW.ALTER:
    case KW.TRUNCATE:
    case KW.RENAME:
    case KW.GRANT:
    case KW.REVOKE:
    case KW.OPTIMIZE:
    case KW.REPAIR:
      return scanned(draft('ddl', verb), from, to);

    case KW.ANALYZE: {
      let i = from + 1;
      if (k1 === KW.NO_WRITE_TO_BINLOG || k1 === KW.LOCAL) i++;
      const ki = kwAt(i, to);
      return scanned(draft(ki === KW.TABLE || ki === KW.TABLES ? 'ddl' : 'other', verb), from, to);
    }

    case KW.BEGIN:
      if (from + 1 === to || (k1 === KW.WORK && from + 2 === to)) return draft('begin', verb);
      return scanned(draft('other', verb), from, to);

    case KW.START: {
      if (k1 !== KW.TRANSACTION) return scanned(draft('other', verb), from, to);
      const d = draft('begin', verb);
      for (let i = from + 2; i < to; i++) {
        if (T[i] === TK_WORD && K[i] === KW.READ && kwAt(i + 1, to) === KW.ONLY) d.readOnlyTransaction = true;
      }
      return d;
    }

    case KW.COMMIT:
    case KW.ROLLBACK: {
      let i = from + 1;
      if (k1 === KW.WORK) i++;
      if (k === KW.ROLLBACK && kwAt(i, to) === KW.TO) return draft('savepoint', verb);
      const d = draft(k === KW.COMMIT ? 'commit' : 'rollback', verb);
      if (kwAt(i, to) === KW.AND && kwAt(i + 1, to) === KW.CHAIN) d.chain = true;
      return d;
    }

    case KW.SAVEPOINT:
      return draft('savepoint', verb);

    case KW.RELEASE:
      if (k1 === KW.SAVEPOINT) return draft('savepoint', verb);
      return scanned(draft('other', verb), from, to);

    case KW.SET: {
      if (k1 === KW.STATEMENT) {
        // MariaDB: SET STATEMENT var=value[, …] FOR <statement>
        let depth = 0;
        for (let i = from + 2; i < to; i++) {
          const t = T[i];
          if (t === TK_PUNCT) {
            const c = sql.charCodeAt(S[i]!);
            if (c === 40) depth++;
            else if (c === 41) depth--;
          } else if (t === TK_WORD && depth === 0 && K[i] === KW.FOR) {
            return classifyRange(i + 1, to, key);
          }
        }
        return scanned(draft('other', verb), from, to);
      }
      const d = draft('set', verb);
      if (parseSet(d, from, from + 1, to)) return d;
      return scanned(draft('other', verb), from, to);
    }

    case KW.USE: {
      if (from + 2 === to && (T[from + 1] === TK_WORD || T[from + 1] === TK_QIDENT)) {
        const d = draft('use', verb);
        d.schema = T[from + 1] === TK_WORD ? sql.slice(S[from + 1]!, E[from + 1]!) : unquote(from + 1);
        return d;
      }
      return scanned(draft('other', verb), from, to);
    }

    case KW.LOCK:
      return scanned(draft(k1 === KW.TABLE || k1 === KW.TABLES ? 'lock-tables' : 'other', verb), from, to);

    case KW.UNLOCK:
      return scanned(draft(k1 === KW.TABLE || k1 === KW.TABLES ? 'unlock-tables' : 'other', verb), from, to);

    case KW.GET: {
      const d = scanned(draft('other', verb), from, to);
      if (
        k1 === KW.DIAGNOSTICS ||
        ((k1 === KW.CURRENT || k1 === KW.STACKED) && kwAt(from + 2, to) === KW.DIAGNOSTICS)
      ) {
        d.needsLastConnection = true;
      }
      return d;
    }

    default:
      // DO, LOAD, CALL, XA, HANDLER, FLUSH, KILL, PREPARE, EXECUTE, … and keywords that do
      // not start statements.
      return scanned(draft('other', verb), from, to);
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/** Load the parser now (e.g. at start-up) so the first fallback does not pay for it. */
export function warmClassifier(): boolean {
  return loadParser();
}

let statsClassified = 0;

export interface ClassifyCacheStats extends ParserFallbackStats {
  /** classify() calls. */
  readonly classified: number;
}

export function classifyCacheStats(): ClassifyCacheStats {
  return { classified: statsClassified, ...parserFallbackStats() };
}

/** For tests. */
export function resetClassifyCache(): void {
  clearParserCache();
}

const FLAG_KEYS = [
  'needsWriter',
  'needsLastConnection',
  'readsLastInsertId',
  'readsUserVariables',
  'assignsUserVariables',
  'acquiresNamedLock',
  'releasesNamedLock',
  'createsTemporaryTable',
  'dropsTemporaryTable',
  'placeholders',
  'mentionsConnectionId',
] as const;

/** CREATE PROCEDURE / FUNCTION / TRIGGER / EVENT and MariaDB's `BEGIN NOT ATOMIC` blocks. */
const STORED_PROGRAM =
  /^\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:AGGREGATE\s+)?(?:PROCEDURE|FUNCTION|TRIGGER|EVENT)\b|BEGIN\s+NOT\s+ATOMIC\b)/i;

/**
 * Classify one COM_QUERY text (or a prepared statement's text). Pure apart from the parser
 * verdict cache and counters; never throws.
 */
export function classify(text: string): Classification {
  const lx = lex(text);
  bind(lx);
  statsClassified++;
  const n = lx.n;
  let d: Draft;
  if (lx.semis === 0 || (lx.semis === 1 && lx.firstSemi === n - 1)) {
    d = classifyRange(0, lx.semis === 0 ? n : n - 1, lx.digest);
  } else if (STORED_PROGRAM.test(lx.digest)) {
    // One statement whose body holds semicolons (what a client sends after DELIMITER //):
    // the server runs it as one statement, so it is not a multi-statement.
    d = classifyRange(0, n, lx.digest);
  } else {
    // Several statements: classify each, describe the first, OR the flags.
    const parts: Draft[] = [];
    const digest = lx.digest;
    let segStart = 0;
    let semiNo = 0;
    let digStart = 0;
    for (let i = 0; i <= n; i++) {
      if (i < n && T[i] !== TK_SEMI) continue;
      let partDigest: string;
      if (i < n) {
        const off = lx.semiDigest[semiNo++]!;
        partDigest = digest.slice(digStart, off - 1).trim();
        digStart = off;
      } else partDigest = digest.slice(digStart).trim();
      if (i > segStart) {
        const p = classifyRange(segStart, i, partDigest);
        p.digest = partDigest;
        p.hint = lx.hint;
        parts.push(p);
      }
      segStart = i + 1;
    }
    const first = parts[0];
    d = first === undefined ? draft('other', '') : { ...first };
    for (const p of parts) {
      for (const f of FLAG_KEYS) if (p[f]) d[f] = true;
      if (p.source === 'parser') d.source = 'parser';
    }
    d.multiStatement = true;
    d.statements = parts;
  }
  d.digest = lx.digest;
  d.hint = lx.hint;
  if (lx.strip.length !== 0) {
    d.forwardSql = stripMycat(text, lx.strip);
    d.strippedRanges = lx.strip.slice();
  }
  return d;
}
