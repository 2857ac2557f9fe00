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
 * This file decides the statement kind and merges the parts of a multi-statement; the flag scan
 * is in statement-flags.ts, SET analysis in set-statement.ts, the parser fallback and its cache
 * in parser-fallback.ts, the token accessors in token-view.ts.
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
import { draft, type Draft } from './classification.js';
import { stripMycat } from './hints.js';
import { KW, keywordText } from './keywords.js';
import { lex } from './lexer.js';
import { clearParserCache, loadParser, parserFallbackStats, parserKind, type ParserFallbackStats } from './parser-fallback.js';
import { parseSet } from './set-statement.js';
import { scanFlags } from './statement-flags.js';
import { TK_PUNCT, TK_QIDENT, TK_SEMI, TK_WORD } from './tokens.js';
import { bindTokens, E, K, kwAt, punctAt, S, skipParens, sql, T, unquote } from './token-view.js';
import type { Classification, StatementKind } from './types.js';

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
  bindTokens(lx);
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
