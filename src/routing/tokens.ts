/**
 * What the lexer produces: the token types and the `Lexed` record (parallel typed arrays, one
 * slot per token). Consumers (the classifier, the connection-id and multi-KILL rewriters) read
 * this format; only lexer.ts writes it.
 */
import type { RouteHint } from './types.js';

// ---------------------------------------------------------------------------------------------
// Token types
// ---------------------------------------------------------------------------------------------

/** Unquoted identifier or keyword (see `kw` for the keyword id). */
export const TK_WORD = 1;
/** `backtick` quoted identifier. */
export const TK_QIDENT = 2;
/** '…' / "…" / N'…' string literal. */
export const TK_STRING = 3;
/** Decimal / float number (and 0x… / 0b… forms). */
export const TK_NUMBER = 4;
/** X'…' / B'…' literal. */
export const TK_HEXLIT = 5;
/** @name, @'name', @`name` */
export const TK_USERVAR = 6;
/** @@name, @@session.name, @@global.name … */
export const TK_SYSVAR = 7;
/** The `@host` part of an account name ('user'@'host'). */
export const TK_HOST = 8;
/** `?` placeholder. */
export const TK_PARAM = 9;
/** `:=` */
export const TK_ASSIGN = 10;
/** `;` */
export const TK_SEMI = 11;
/** Any other single character (operators, parentheses, comma, dot, …). */
export const TK_PUNCT = 12;

// ---------------------------------------------------------------------------------------------
// The lex result
// ---------------------------------------------------------------------------------------------

export interface Lexed {
  sql: string;
  /** Number of tokens. */
  n: number;
  type: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  /** Keyword id for TK_WORD tokens that are one of the keywords (keywords.ts), else -1. */
  kw: Int16Array;
  /** First hint found (Atlas or Mycat form). */
  hint: RouteHint | undefined;
  /** Source ranges [start, end) of Mycat hint comments, flattened pairs; empty when none. */
  strip: number[];
  /** Digest of the whole text (a trailing `;` is dropped). */
  digest: string;
  /** Digest offsets just after the `;` of each TK_SEMI token, in order. */
  semiDigest: number[];
  /** Number of TK_SEMI tokens and the index of the first one (-1 when none). */
  semis: number;
  firstSemi: number;
  /** An unterminated string, identifier or comment was found. */
  unterminated: boolean;
}
