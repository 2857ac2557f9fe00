/**
 * SET statements: the assignment list taken apart into SetAssignments (session / global / user
 * variables, NAMES, CHARACTER SET, SET [scope] TRANSACTION), so the session can track and replay
 * its state. A SET the lexer cannot take apart (SET PASSWORD, SET ROLE, SET DEFAULT ROLE, SET
 * RESOURCE GROUP, malformed SET) is refused here and becomes kind 'other' (classify.ts).
 */
import type { Draft } from './classification.js';
import { KW } from './keywords.js';
import { scanFlags } from './statement-flags.js';
import { TK_HEXLIT, TK_NUMBER, TK_PUNCT, TK_QIDENT, TK_STRING, TK_SYSVAR, TK_USERVAR, TK_WORD } from './tokens.js';
import { E, S, T, isAssignOp, kwAt, nameAt, punctAt, splitSysvar, sql, unquote, unquoteRange } from './token-view.js';
import type { SetAssignment } from './types.js';

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
export function parseSet(d: Draft, setIndex: number, from: number, to: number): boolean {
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

