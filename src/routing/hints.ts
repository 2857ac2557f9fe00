/**
 * Routing hint comments: what an Atlas (`/*master*​/`, `/*slave*​/`) or Mycat
 * (`/*!mycat:db_type=…*​/`, `/*#mycat:db_type=…*​/`) hint says, and cutting the Mycat comments out
 * of a statement before it is forwarded (the server would run a `/*!mycat:…*​/` comment as code).
 *
 * The lexer finds the comments and calls the readers here and records the Mycat comments' ranges;
 * the classifier's `forwardSql` comes from `stripMycat`, the session cuts the client's own bytes
 * with `stripMycatBytes`.
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

/** `src` with the Mycat hint ranges (flattened [start, end) pairs) each replaced by a space, trimmed. */
export function stripMycat(src: string, strip: readonly number[]): string {
  let out = '';
  let pos = 0;
  for (let k = 0; k < strip.length; k += 2) {
    out += src.slice(pos, strip[k]) + ' ';
    pos = strip[k + 1]!;
  }
  out += src.slice(pos);
  return out.trim();
}

const SPACE = Buffer.from(' ');

/**
 * The client's statement bytes with the Mycat hint comments cut out (each replaced by a space,
 * the ends trimmed of ASCII blanks), the rest byte for byte as sent. `forwardSql` re-encodes
 * the decoded text as UTF-8, which would corrupt a latin1 / GBK client's non-ASCII bytes.
 * Undefined when a hint's bytes cannot be found as UTF-8 in `raw` (a non-ASCII hint sent in
 * another charset); the caller then falls back to `forwardSql`.
 */
export function stripMycatBytes(raw: Buffer, sql: string, ranges: readonly number[]): Buffer | undefined {
  const parts: Buffer[] = [];
  let pos = 0;
  for (let k = 0; k < ranges.length; k += 2) {
    const hint = Buffer.from(sql.slice(ranges[k], ranges[k + 1]), 'utf8');
    const at = raw.indexOf(hint, pos);
    if (at < 0) return undefined;
    parts.push(raw.subarray(pos, at), SPACE);
    pos = at + hint.length;
  }
  parts.push(raw.subarray(pos));
  const out = Buffer.concat(parts);
  let start = 0;
  let end = out.length;
  const blank = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
  while (start < end && blank(out[start]!)) start++;
  while (end > start && blank(out[end - 1]!)) end--;
  return out.subarray(start, end);
}
