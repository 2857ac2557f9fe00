/**
 * Routing hint comments: what an Atlas (`/*master*​/`, `/*slave*​/`) or Mycat
 * (`/*!mycat:db_type=…*​/`, `/*#mycat:db_type=…*​/`) hint says. The lexer finds the comments
 * and calls the readers here.
 */
import { isSpace, startsWithCI } from './chars.js';
import type { RouteHint } from './types.js';

/** An Atlas hint: comment body [from, to) is `master` or `slave` with optional blanks, any case. */
export function atlasHint(sql: string, from: number, to: number): RouteHint | undefined {
  let a = from;
  let b = to;
  while (a < b && isSpace(sql.charCodeAt(a))) a++;
  while (b > a && isSpace(sql.charCodeAt(b - 1))) b--;
  if (b - a === 6 && startsWithCI(sql, a, 'master')) return 'master';
  if (b - a === 5 && startsWithCI(sql, a, 'slave')) return 'slave';
  return undefined;
}

/** A Mycat hint: [from, to) is the comment after `mycat:`, up to the `*​/`; only `db_type=` counts. */
export function mycatHint(sql: string, from: number, to: number): RouteHint | undefined {
  let a = from;
  const b = to;
  while (a < b && isSpace(sql.charCodeAt(a))) a++;
  if (!startsWithCI(sql, a, 'db_type')) return undefined;
  a += 7;
  while (a < b && isSpace(sql.charCodeAt(a))) a++;
  if (sql.charCodeAt(a) !== 61) return undefined;
  a++;
  while (a < b && isSpace(sql.charCodeAt(a))) a++;
  let value: RouteHint | undefined;
  if (startsWithCI(sql, a, 'master')) {
    value = 'master';
    a += 6;
  } else if (startsWithCI(sql, a, 'slave')) {
    value = 'slave';
    a += 5;
  }
  while (a < b && isSpace(sql.charCodeAt(a))) a++;
  return value !== undefined && a === b ? value : undefined;
}
