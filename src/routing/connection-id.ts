/**
 * CONNECTION_ID() with the proxy's connection ids (DESIGN §7). The client got the proxy's id in
 * the handshake and KILLs with it, while a backend answers CONNECTION_ID() with its own thread id
 * — of whichever pooled connection ran the statement. So statements that call it are rewritten
 * per session before they are forwarded: each call becomes the session's id, typed like the
 * server's (CAST(… AS UNSIGNED): an unsigned integer), and a select-list item that had no alias
 * gets its original text as alias, which is the column name the server would have reported.
 *
 * Pure: a string in, a string out (the lexer's tokens tell calls apart from strings, comments
 * and `db.connection_id()` UDFs).
 */
import { KW } from './keywords.js';
import { lex } from './lexer.js';
import { TK_NUMBER, TK_PUNCT, TK_QIDENT, TK_SEMI, TK_STRING, TK_WORD } from './tokens.js';
import type { Classification } from './types.js';

/**
 * Whether the statement's CONNECTION_ID() calls are answered with the proxy's id. Not in DDL:
 * a view, trigger or procedure defined through the proxy must keep the call, not one session's
 * id. Not in KILL either: the session answers `KILL CONNECTION_ID()` itself (a backend would
 * take the proxy's id for one of its own threads).
 */
export function rewritesConnectionId(c: Classification): boolean {
  return c.mentionsConnectionId === true && c.kind !== 'ddl' && c.verb !== 'KILL';
}

/** Words that end a select list at its own nesting depth. */
const LIST_END = new Set([
  'FROM', 'INTO', 'WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'UNION', 'EXCEPT', 'INTERSECT',
  'WINDOW', 'FOR', 'LOCK', 'PROCEDURE', 'RETURNING',
]);
/** Select modifiers before the first item. */
const MODIFIERS = new Set([
  'ALL', 'DISTINCT', 'DISTINCTROW', 'HIGH_PRIORITY', 'STRAIGHT_JOIN', 'SQL_SMALL_RESULT',
  'SQL_BIG_RESULT', 'SQL_BUFFER_RESULT', 'SQL_CACHE', 'SQL_NO_CACHE', 'SQL_CALC_FOUND_ROWS',
]);
/** Words that end an expression, so a word after them is not an implicit alias (`… END`, `IS NULL`). */
const NOT_ALIAS = new Set(['END', 'NULL', 'TRUE', 'FALSE', 'UNKNOWN']);

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** `sql` with every CONNECTION_ID() call answered by `id` (see the file comment). */
export function rewriteConnectionId(sql: string, id: number): string {
  const lx = lex(sql);
  const n = lx.n;
  const T = lx.type;
  const S = lx.start;
  const E = lx.end;
  const word = (i: number): string => (i < n && T[i] === TK_WORD ? sql.slice(S[i]!, E[i]!).toUpperCase() : '');
  const punct = (i: number, ch: string): boolean => i < n && T[i] === TK_PUNCT && sql[S[i]!] === ch;
  const isCallAt = (i: number): boolean =>
    T[i] === TK_WORD && lx.kw[i] === KW.CONNECTION_ID && punct(i + 1, '(') && punct(i + 2, ')') && !(i > 0 && punct(i - 1, '.'));

  const edits: Edit[] = [];
  const value = `CAST(${id} AS UNSIGNED)`;
  for (let i = 0; i < n; i++) {
    if (isCallAt(i)) edits.push({ start: S[i]!, end: E[i + 2]!, text: value });
  }
  if (edits.length === 0) return sql;

  // Select lists: items holding a call and no alias get their text as alias.
  for (let i = 0; i < n; i++) {
    if (word(i) !== 'SELECT') continue;
    let j = i + 1;
    while (MODIFIERS.has(word(j))) j++;
    let itemStart = j;
    let depth = 0;
    let hasCall = false;
    for (; ; j++) {
      const atEnd =
        j >= n ||
        T[j] === TK_SEMI ||
        (depth === 0 && (punct(j, ')') || punct(j, ',') || LIST_END.has(word(j))));
      if (atEnd) {
        if (hasCall && j > itemStart && !hasAlias(itemStart, j)) {
          const text = sql.slice(S[itemStart]!, E[j - 1]!);
          edits.push({ start: E[j - 1]!, end: E[j - 1]!, text: ` AS \`${text.replace(/`/g, '``')}\`` });
        }
        if (!punct(j, ',') || depth !== 0) break;
        itemStart = j + 1;
        hasCall = false;
        continue;
      }
      if (punct(j, '(')) depth++;
      else if (punct(j, ')')) depth--;
      else if (isCallAt(j)) hasCall = true;
    }
  }

  function hasAlias(from: number, to: number): boolean {
    const last = to - 1;
    if (last - 1 >= from && word(last - 1) === 'AS') return true;
    if (last <= from) return false;
    const t = T[last];
    if (t === TK_QIDENT || (t === TK_WORD && !NOT_ALIAS.has(word(last)))) {
      const p = T[last - 1];
      return p === TK_WORD || p === TK_QIDENT || p === TK_STRING || p === TK_NUMBER || punct(last - 1, ')');
    }
    // `expr 'alias'`
    if (t === TK_STRING) return punct(last - 1, ')') || T[last - 1] === TK_NUMBER || T[last - 1] === TK_QIDENT;
    return false;
  }

  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = sql;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
