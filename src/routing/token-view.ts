/**
 * The lex result the classifier is working on, bound once per classify() call (`bindTokens`),
 * and the token accessors its parts share (statement kinds, flag scan, SET analysis).
 *
 * The text and token arrays are module-level bindings, not fields of an object passed along:
 * the token loops index them directly, with no per-statement object and no property load per
 * access. Valid only during one synchronous classify() call.
 */
import { TK_ASSIGN, TK_PUNCT, TK_QIDENT, TK_STRING, TK_WORD, type Lexed } from './tokens.js';

/** The statement text. */
export let sql = '';
/** Token types. */
export let T: Uint8Array = new Uint8Array(0);
/** Token start offsets in `sql`. */
export let S: Int32Array = new Int32Array(0);
/** Token end offsets in `sql` (exclusive). */
export let E: Int32Array = new Int32Array(0);
/** Keyword ids (-1: not a keyword). */
export let K: Int16Array = new Int16Array(0);

export function bindTokens(lx: Lexed): void {
  sql = lx.sql;
  T = lx.type;
  S = lx.start;
  E = lx.end;
  K = lx.kw;
}

/** Keyword id of token i (inside [.., to)), or -1. */
export function kwAt(i: number, to: number): number {
  return i < to && T[i] === TK_WORD ? K[i]! : -1;
}

export function punctAt(i: number, to: number, code: number): boolean {
  return i < to && T[i] === TK_PUNCT && sql.charCodeAt(S[i]!) === code;
}

export function isAssignOp(i: number, to: number): boolean {
  return i < to && (T[i] === TK_ASSIGN || (T[i] === TK_PUNCT && sql.charCodeAt(S[i]!) === 61));
}

/** At '(' — the index after the matching ')', or -1. */
export function skipParens(i: number, to: number): number {
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
export function unquote(i: number): string {
  return unquoteRange(S[i]!, E[i]!);
}

export function unquoteRange(s: number, e: number): string {
  const q = sql.charCodeAt(s);
  const closed = e - s >= 2 && sql.charCodeAt(e - 1) === q;
  let inner = sql.slice(s + 1, closed ? e - 1 : e);
  const qc = String.fromCharCode(q);
  if (inner.includes(qc + qc)) inner = inner.split(qc + qc).join(qc);
  if (q !== 96 && inner.includes('\\')) inner = inner.replace(/\\(.)/gs, '$1');
  return inner;
}

/** A name given as a word, `identifier` or 'string' (charset / collation / schema). */
export function nameAt(i: number, to: number): string | undefined {
  if (i >= to) return undefined;
  const t = T[i];
  if (t === TK_WORD) return sql.slice(S[i]!, E[i]!);
  if (t === TK_QIDENT || t === TK_STRING) return unquote(i);
  return undefined;
}


/** `@@[scope.]name` → [scope, name], both lower-case, scope '' when absent. */
export function splitSysvar(i: number): [string, string] {
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

