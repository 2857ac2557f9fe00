/**
 * The statement digest, built token by token during the lexer's single pass: code is copied
 * verbatim in runs (a single space inside a run is kept), literals become `?` (an account's
 * `@host` becomes `@?`), comments are dropped and any other gap becomes one space.
 *
 * `DigestBuilder` is the lexer's base class rather than an object it holds: the per-token
 * `digestToken` call then works on the lexer's own fields (the source text, the run being
 * copied) with no extra object to reach on the hot path.
 */
import * as tokens from './tokens.js';

// Module-local copies: digestToken runs per token, and V8 reads an imported binding through its
// module cell on every use (see lexer.ts).
const TK_HEXLIT = tokens.TK_HEXLIT;
const TK_HOST = tokens.TK_HOST;
const TK_NUMBER = tokens.TK_NUMBER;
const TK_PARAM = tokens.TK_PARAM;
const TK_STRING = tokens.TK_STRING;

/**
 * The digest stops growing past this many characters (bulk INSERTs would otherwise build a
 * megabyte-sized string nobody needs): it identifies a statement shape, a prefix is enough.
 */
export const DIGEST_MAX = 4096;

export class DigestBuilder {
  sql = '';
  /** Digest of the whole text (a trailing `;` is dropped). */
  digest = '';
  /** Digest offsets just after the `;` of each TK_SEMI token, in order. */
  semiDigest: number[] = [];

  // state while lexing
  private lastEnd = -1;
  private runStart = -1;
  private runEnd = -1;
  private dig = '';

  protected startDigest(): void {
    if (this.semiDigest.length !== 0) this.semiDigest = [];
    this.lastEnd = -1;
    this.runStart = -1;
    this.runEnd = -1;
    this.dig = '';
  }

  /** Account for token [s, e) of type t (called for every token, in order). */
  protected digestToken(t: number, s: number, e: number): void {
    // digest: copy code verbatim in runs, literals become '?', any gap becomes one space
    const sep = this.lastEnd >= 0 && s !== this.lastEnd;
    this.lastEnd = e;
    if (this.dig.length >= DIGEST_MAX) return;
    if (t === TK_STRING || t === TK_NUMBER || t === TK_HEXLIT || t === TK_PARAM || t === TK_HOST) {
      if (this.runStart >= 0) {
        this.dig += this.sql.slice(this.runStart, this.runEnd);
        this.runStart = -1;
      }
      const lit = t === TK_HOST ? '@?' : '?';
      this.dig += sep && this.dig.length !== 0 ? ' ' + lit : lit;
      return;
    }
    const runEnd = this.runEnd;
    if (this.runStart >= 0 && (s === runEnd || (s === runEnd + 1 && this.sql.charCodeAt(runEnd) === 32))) {
      this.runEnd = e;
      return;
    }
    if (this.runStart >= 0) this.dig += this.sql.slice(this.runStart, runEnd);
    if (sep && this.dig.length !== 0) this.dig += ' ';
    this.runStart = s;
    this.runEnd = e;
  }

  /** After the `;` token's digestToken: record the digest offset just after it. */
  protected digestSemi(): void {
    // flush so that the digest offset after this ';' is known
    if (this.runStart >= 0 && this.dig.length < DIGEST_MAX) {
      this.dig += this.sql.slice(this.runStart, this.runEnd);
      this.runStart = -1;
    }
    this.semiDigest.push(this.dig.length);
  }

  /** Set `digest` once every token has been seen; `endsWithSemi`: the last token is a `;`. */
  protected finishDigest(endsWithSemi: boolean): void {
    const sql = this.sql;
    let dig = this.dig;
    if (this.runStart >= 0 && dig.length < DIGEST_MAX) dig += sql.slice(this.runStart, this.runEnd);
    if (dig.length > DIGEST_MAX) dig = dig.slice(0, DIGEST_MAX);
    if (endsWithSemi && dig.charCodeAt(dig.length - 1) === 59) {
      let cut = dig.length - 1;
      if (cut > 0 && dig.charCodeAt(cut - 1) === 32) cut--;
      dig = dig.slice(0, cut);
    }
    this.digest = dig;
    this.dig = '';
  }
}
