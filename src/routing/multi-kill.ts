/**
 * `KILL <id>` inside a multi-statement (`KILL 12; SELECT SLEEP(0.05)`, as node-mysql2's pool
 * tests send it). The id is the proxy's connection id: forwarded to a backend it would name an
 * unrelated backend thread — at best "Unknown thread id", at worst another client's connection.
 * So the session runs those KILLs itself, and the backend gets the same text with each of them
 * replaced by `DO 0`, which answers with the same OK in the same place of the multi-result.
 *
 * Pure: the lexer's tokens find statement boundaries (strings and comments cannot fool it).
 */
import { lex } from './lexer.js';
import { TK_NUMBER, TK_SEMI, TK_WORD } from './tokens.js';

export interface MultiStatementKills {
  /** The KILLs, in text order. */
  readonly kills: readonly { readonly id: number; readonly queryOnly: boolean }[];
  /** The text to forward, each KILL replaced by `DO 0`. */
  readonly forwardSql: string;
}

/** The KILLs with a literal id in a multi-statement text, or undefined when there is none. */
export function killsInMultiStatement(sql: string): MultiStatementKills | undefined {
  const lx = lex(sql);
  const n = lx.n;
  const word = (i: number): string => (i < n && lx.type[i] === TK_WORD ? sql.slice(lx.start[i]!, lx.end[i]!).toUpperCase() : '');
  const kills: { id: number; queryOnly: boolean }[] = [];
  const edits: { start: number; end: number }[] = [];
  let first = 0;
  for (let i = 0; i <= n; i++) {
    if (i < n && lx.type[i] !== TK_SEMI) continue;
    // tokens [first, i) are one statement
    let j = first;
    if (word(j) === 'KILL') {
      j++;
      const mode = word(j);
      if (mode === 'CONNECTION' || mode === 'QUERY') j++;
      if (j === i - 1 && lx.type[j] === TK_NUMBER && /^\d+$/.test(sql.slice(lx.start[j]!, lx.end[j]!))) {
        kills.push({ id: Number(sql.slice(lx.start[j]!, lx.end[j]!)), queryOnly: mode === 'QUERY' });
        edits.push({ start: lx.start[first]!, end: lx.end[j]! });
      }
    }
    first = i + 1;
  }
  if (kills.length === 0) return undefined;
  let out = sql;
  for (const e of edits.reverse()) out = `${out.slice(0, e.start)}DO 0${out.slice(e.end)}`;
  return { kills, forwardSql: out };
}
