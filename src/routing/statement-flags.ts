/**
 * The flag scan: what a statement's tokens imply beyond its kind — it must run on the writeHost
 * (locking reads, INTO, named locks, LAST_INSERT_ID(), sequences), on the session's last
 * connection (FOUND_ROWS(), ROW_COUNT(), @@warning_count), reads or assigns user variables, has
 * placeholders, mentions CONNECTION_ID(). One pass over the tokens, keyed by keyword id.
 */
import type { Draft } from './classification.js';
import { KW } from './keywords.js';
import { TK_ASSIGN, TK_PARAM, TK_PUNCT, TK_SYSVAR, TK_USERVAR, TK_WORD } from './tokens.js';
import { K, S, T, kwAt, punctAt, splitSysvar, sql } from './token-view.js';

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

export function scanFlags(d: Draft, from: number, to: number): void {
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


function sysvarFlags(d: Draft, i: number): void {
  const name = splitSysvar(i)[1];
  if (name === 'identity' || name === 'last_insert_id') {
    d.readsLastInsertId = true;
    d.needsWriter = true;
  } else if (name === 'warning_count' || name === 'error_count') {
    d.needsLastConnection = true;
  }
}

