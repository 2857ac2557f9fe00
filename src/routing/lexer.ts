/**
 * Single-pass MySQL/MariaDB lexer for the classifier's hot path.
 *
 * One call to `lex(sql)` walks the text once with charCodeAt and fills a set of reusable typed
 * arrays (token type, start, end, keyword id). At the same time it
 *  - drops comments, records Atlas (`/*master*​/`, `/*slave*​/`) and Mycat
 *    (`/*!mycat:db_type=…*​/`, `/*#mycat:db_type=…*​/`) hints and the source ranges of the Mycat
 *    comments (they must be stripped before forwarding),
 *  - treats executable comments (`/*! … *​/`, `/*!50001 … *​/`, MariaDB `/*M!100101 … *​/`) as code,
 *  - builds the statement digest (literals → `?`, comments removed, whitespace folded; see
 *    digest.ts).
 *
 * Keywords are recognised by a hash folded into the word scan (keywords.ts); what a hint comment
 * says is read by hints.ts; the output format (token types, `Lexed`) is in tokens.ts.
 *
 * The result object is a module-level singleton that is overwritten by the next `lex` call:
 * consume it synchronously. Nothing here allocates per token except the digest pieces.
 *
 * Known approximations (the server remains the arbiter; all of them only matter for SQL that
 * the server would reject or that is exotic):
 *  - backslash escapes are honoured in strings (NO_BACKSLASH_ESCAPES mode is not modelled);
 *  - double-quoted text is a string (ANSI_QUOTES mode is not modelled — for routing both are
 *    "not code", which is what matters);
 *  - an executable comment's version number is not compared with the server's version.
 */
import * as chars from './chars.js';
import { CLASS, isDigit, isHexDigit, isIdentChar, isSpace, startsWithCI } from './chars.js';
import { DigestBuilder } from './digest.js';
import { atlasHint, mycatHint } from './hints.js';
import * as keywords from './keywords.js';
import { KW_BY_HASH, matchesKeyword } from './keywords.js';
import * as tokens from './tokens.js';
import type { Lexed } from './tokens.js';
import type { RouteHint } from './types.js';

// Module-local copies of the constants the scan uses per character or per token. V8 reads an
// imported binding through its module cell on every use, while a module-local const is folded
// into the optimised code: used through the imports, lex() measured ~11% slower.
const TK_ASSIGN = tokens.TK_ASSIGN;
const TK_HEXLIT = tokens.TK_HEXLIT;
const TK_HOST = tokens.TK_HOST;
const TK_NUMBER = tokens.TK_NUMBER;
const TK_PARAM = tokens.TK_PARAM;
const TK_PUNCT = tokens.TK_PUNCT;
const TK_QIDENT = tokens.TK_QIDENT;
const TK_SEMI = tokens.TK_SEMI;
const TK_STRING = tokens.TK_STRING;
const TK_SYSVAR = tokens.TK_SYSVAR;
const TK_USERVAR = tokens.TK_USERVAR;
const TK_WORD = tokens.TK_WORD;
const C_IDENT = chars.C_IDENT;
const FNV_OFFSET = keywords.FNV_OFFSET;
const FNV_PRIME = keywords.FNV_PRIME;

// ---------------------------------------------------------------------------------------------
// The lexer
// ---------------------------------------------------------------------------------------------

const INITIAL_CAPACITY = 512;
const SHRINK_ABOVE = 1 << 16;

class Lexer extends DigestBuilder implements Lexed {
  n = 0;
  type = new Uint8Array(INITIAL_CAPACITY);
  start = new Int32Array(INITIAL_CAPACITY);
  end = new Int32Array(INITIAL_CAPACITY);
  kw = new Int16Array(INITIAL_CAPACITY);
  hint: RouteHint | undefined = undefined;
  strip: number[] = [];
  semis = 0;
  firstSemi = -1;
  unterminated = false;

  // state while lexing
  private inExec = false;
  private len = 0;

  run(sql: string): void {
    if (this.type.length > SHRINK_ABOVE) this.allocate(INITIAL_CAPACITY);
    this.sql = sql;
    this.n = 0;
    this.hint = undefined;
    if (this.strip.length !== 0) this.strip = [];
    this.semis = 0;
    this.firstSemi = -1;
    this.unterminated = false;
    this.inExec = false;
    this.len = sql.length;
    this.startDigest();

    const len = sql.length;
    let i = 0;
    while (i < len) {
      const c = sql.charCodeAt(i);
      if (c <= 32) {
        i++;
        continue;
      }
      switch (c) {
        case 35: // '#' line comment
          i = lineEnd(sql, i);
          continue;
        case 45: // '-'
          if (sql.charCodeAt(i + 1) === 45 && (i + 2 >= len || isSpace(sql.charCodeAt(i + 2)))) {
            i = lineEnd(sql, i);
            continue;
          }
          this.push(TK_PUNCT, i, i + 1, -1);
          i++;
          continue;
        case 47: // '/'
          if (sql.charCodeAt(i + 1) === 42) {
            i = this.comment(i);
            continue;
          }
          this.push(TK_PUNCT, i, i + 1, -1);
          i++;
          continue;
        case 42: // '*'
          if (this.inExec && sql.charCodeAt(i + 1) === 47) {
            this.inExec = false;
            i += 2;
            continue;
          }
          this.push(TK_PUNCT, i, i + 1, -1);
          i++;
          continue;
        case 39: // '
        case 34: {
          // "
          const j = this.quoted(i, c);
          this.push(TK_STRING, i, j, -1);
          i = j;
          continue;
        }
        case 96: {
          // `
          const j = this.quoted(i, 96);
          this.push(TK_QIDENT, i, j, -1);
          i = j;
          continue;
        }
        case 64: // '@'
          i = this.at(i);
          continue;
        case 58: // ':'
          if (sql.charCodeAt(i + 1) === 61) {
            this.push(TK_ASSIGN, i, i + 2, -1);
            i += 2;
            continue;
          }
          this.push(TK_PUNCT, i, i + 1, -1);
          i++;
          continue;
        case 59: // ';'
          this.semi(i);
          i++;
          continue;
        case 63: // '?'
          this.push(TK_PARAM, i, i + 1, -1);
          i++;
          continue;
        case 46: {
          // '.' — a number like .5 unless it qualifies a name (t.5col is rare enough)
          const n = this.n;
          const prev = n > 0 ? this.type[n - 1] : 0;
          if (isDigit(sql.charCodeAt(i + 1)) && prev !== TK_WORD && prev !== TK_QIDENT) {
            i = this.number(i);
            continue;
          }
          this.push(TK_PUNCT, i, i + 1, -1);
          i++;
          continue;
        }
        default:
          if (c >= 48 && c <= 57) {
            i = this.number(i);
          } else if (isIdentChar(c)) {
            i = this.word(i);
          } else {
            this.push(TK_PUNCT, i, i + 1, -1);
            i++;
          }
      }
    }

    this.finishDigest(this.n > 0 && this.type[this.n - 1] === TK_SEMI);
  }

  private allocate(cap: number): void {
    this.type = new Uint8Array(cap);
    this.start = new Int32Array(cap);
    this.end = new Int32Array(cap);
    this.kw = new Int16Array(cap);
  }

  private grow(): void {
    const cap = this.type.length * 2;
    const type = new Uint8Array(cap);
    const start = new Int32Array(cap);
    const end = new Int32Array(cap);
    const kw = new Int16Array(cap);
    type.set(this.type);
    start.set(this.start);
    end.set(this.end);
    kw.set(this.kw);
    this.type = type;
    this.start = start;
    this.end = end;
    this.kw = kw;
  }

  private push(t: number, s: number, e: number, k: number): void {
    const n = this.n;
    if (n === this.type.length) this.grow();
    this.type[n] = t;
    this.start[n] = s;
    this.end[n] = e;
    this.kw[n] = k;
    this.n = n + 1;
    this.digestToken(t, s, e);
  }

  private semi(i: number): void {
    if (this.semis === 0) this.firstSemi = this.n;
    this.semis++;
    this.push(TK_SEMI, i, i + 1, -1);
    this.digestSemi();
  }

  /** Scan a '…', "…" or `…` token starting at i; returns the index after the closing quote. */
  private quoted(i: number, q: number): number {
    const sql = this.sql;
    const len = this.len;
    const backslash = q !== 96;
    let j = i + 1;
    while (j < len) {
      const ch = sql.charCodeAt(j);
      if (ch === q) {
        if (sql.charCodeAt(j + 1) === q) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      if (ch === 92 && backslash) j += 2;
      else j++;
    }
    this.unterminated = true;
    return len;
  }

  private number(i: number): number {
    const sql = this.sql;
    let j = i;
    const c0 = sql.charCodeAt(i);
    const c1 = sql.charCodeAt(i + 1);
    if (c0 === 48 && (c1 === 120 || c1 === 88) && isHexDigit(sql.charCodeAt(i + 2))) {
      // 0x1F
      j = i + 2;
      while (isHexDigit(sql.charCodeAt(j))) j++;
      if (!isIdentChar(sql.charCodeAt(j))) {
        this.push(TK_HEXLIT, i, j, -1);
        return j;
      }
      return this.word(i);
    }
    if (c0 === 48 && (c1 === 98 || c1 === 66) && (sql.charCodeAt(i + 2) === 48 || sql.charCodeAt(i + 2) === 49)) {
      // 0b0101
      j = i + 2;
      while (sql.charCodeAt(j) === 48 || sql.charCodeAt(j) === 49) j++;
      if (!isIdentChar(sql.charCodeAt(j))) {
        this.push(TK_HEXLIT, i, j, -1);
        return j;
      }
      return this.word(i);
    }
    while (isDigit(sql.charCodeAt(j))) j++;
    let dotted = false;
    if (sql.charCodeAt(j) === 46) {
      dotted = true;
      j++;
      while (isDigit(sql.charCodeAt(j))) j++;
    }
    const e = sql.charCodeAt(j);
    if (e === 101 || e === 69) {
      let k = j + 1;
      const sign = sql.charCodeAt(k);
      if (sign === 43 || sign === 45) k++;
      if (isDigit(sql.charCodeAt(k))) {
        j = k;
        while (isDigit(sql.charCodeAt(j))) j++;
      }
    }
    if (!dotted && isIdentChar(sql.charCodeAt(j))) {
      // MySQL identifiers may start with digits: 1abc, 123_t
      return this.word(i);
    }
    this.push(TK_NUMBER, i, j, -1);
    return j;
  }

  private word(i: number): number {
    const sql = this.sql;
    const len = this.len;
    let h = FNV_OFFSET;
    let j = i;
    while (j < len) {
      let c = sql.charCodeAt(j);
      if (c < 128) {
        if ((CLASS[c]! & C_IDENT) === 0) break;
        if (c >= 97) c -= 32; // only letters are >= 97 among ident chars
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      j++;
    }
    if (j === i + 1 && sql.charCodeAt(j) === 39) {
      // X'..', B'..', N'..'
      const c0 = sql.charCodeAt(i) | 32;
      if (c0 === 120 || c0 === 98) {
        const k = this.quoted(j, 39);
        this.push(TK_HEXLIT, i, k, -1);
        return k;
      }
      if (c0 === 110) {
        const k = this.quoted(j, 39);
        this.push(TK_STRING, i, k, -1);
        return k;
      }
    }
    let id = KW_BY_HASH.get(h);
    if (id !== undefined && !matchesKeyword(sql, i, j, id)) id = undefined;
    this.push(TK_WORD, i, j, id === undefined ? -1 : id);
    return j;
  }

  private at(i: number): number {
    const sql = this.sql;
    const c1 = sql.charCodeAt(i + 1);
    if (c1 === 64) {
      // @@[scope.]name
      let j = i + 2;
      for (;;) {
        const c = sql.charCodeAt(j);
        if (c === 96) j = this.quoted(j, 96);
        else if (isIdentChar(c) || c === 46) j++;
        else break;
      }
      this.push(TK_SYSVAR, i, j, -1);
      return j;
    }
    const n = this.n;
    const prevType = n > 0 ? this.type[n - 1] : 0;
    // 'user'@'host' / `user`@host / bob@localhost (an unknown word, not e.g. SELECT@a)
    const host =
      n > 0 &&
      this.end[n - 1] === i &&
      (prevType === TK_STRING || prevType === TK_QIDENT || (prevType === TK_WORD && this.kw[n - 1] === -1));
    let j: number;
    if (c1 === 39 || c1 === 34 || c1 === 96) {
      j = this.quoted(i + 1, c1);
    } else {
      j = i + 1;
      for (;;) {
        const c = sql.charCodeAt(j);
        if (isIdentChar(c) || c === 46 || (host && (c === 45 || c === 37))) j++;
        else break;
      }
    }
    if (j === i + 1) {
      this.push(TK_PUNCT, i, i + 1, -1);
      return i + 1;
    }
    this.push(host ? TK_HOST : TK_USERVAR, i, j, -1);
    return j;
  }

  /** At `/*`: returns the index to continue from. */
  private comment(i: number): number {
    const sql = this.sql;
    const len = this.len;
    const j = i + 2;
    const c2 = sql.charCodeAt(j);
    if (c2 === 33) {
      // /*!  — Mycat hint or executable comment
      let k = j + 1;
      while (k < len && isSpace(sql.charCodeAt(k))) k++;
      if (startsWithCI(sql, k, 'mycat:')) return this.mycat(i, k + 6);
      k = j + 1;
      while (isDigit(sql.charCodeAt(k))) k++;
      this.inExec = true;
      return k;
    }
    if ((c2 === 77 || c2 === 109) && sql.charCodeAt(j + 1) === 33) {
      // MariaDB /*M!100101 … */
      let k = j + 2;
      while (isDigit(sql.charCodeAt(k))) k++;
      this.inExec = true;
      return k;
    }
    if (c2 === 35) {
      let k = j + 1;
      while (k < len && isSpace(sql.charCodeAt(k))) k++;
      if (startsWithCI(sql, k, 'mycat:')) return this.mycat(i, k + 6);
    }
    const close = sql.indexOf('*/', j);
    if (close < 0) {
      this.unterminated = true;
      return len;
    }
    if (c2 !== 43 && this.hint === undefined && close - j <= 64) {
      // Atlas hint: /*master*/ or /*slave*/ with optional spaces, any case
      this.hint = atlasHint(sql, j, close);
    }
    return close + 2;
  }

  /** A Mycat hint comment starting at `i`; `k` is just after `mycat:`. */
  private mycat(i: number, k: number): number {
    const sql = this.sql;
    const close = sql.indexOf('*/', k);
    let stop: number;
    if (close < 0) {
      this.unterminated = true;
      stop = this.len;
    } else stop = close + 2;
    this.strip.push(i, stop);
    if (close >= 0 && this.hint === undefined) this.hint = mycatHint(sql, k, close);
    return stop;
  }
}

function lineEnd(sql: string, i: number): number {
  const nl = sql.indexOf('\n', i);
  return nl < 0 ? sql.length : nl + 1;
}

const lexer = new Lexer();

/**
 * Lex `sql`. The returned object is shared and overwritten by the next call — read it
 * synchronously and copy what must outlive the call.
 */
export function lex(sql: string): Lexed {
  lexer.run(sql);
  return lexer;
}
