/**
 * Single-pass MySQL/MariaDB lexer for the classifier's hot path.
 *
 * One call to `lex(sql)` walks the text once with charCodeAt and fills a set of reusable typed
 * arrays (token type, start, end, keyword id). At the same time it
 *  - drops comments, records Atlas (`/*master*​/`, `/*slave*​/`) and Mycat
 *    (`/*!mycat:db_type=…*​/`, `/*#mycat:db_type=…*​/`) hints and the source ranges of the Mycat
 *    comments (they must be stripped before forwarding),
 *  - treats executable comments (`/*! … *​/`, `/*!50001 … *​/`, MariaDB `/*M!100101 … *​/`) as code,
 *  - builds the statement digest (literals → `?`, comments removed, whitespace folded).
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
// Keywords: only the words the classifier looks at. Matched case-insensitively via a hash
// computed while scanning the word, then verified character by character.
// ---------------------------------------------------------------------------------------------

const KEYWORD_LIST = [
  // statement verbs
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'SHOW', 'DESC', 'DESCRIBE', 'EXPLAIN',
  'WITH', 'VALUES', 'TABLE', 'HELP', 'DO', 'LOAD', 'CALL', 'CREATE', 'ALTER', 'DROP',
  'TRUNCATE', 'RENAME', 'GRANT', 'REVOKE', 'ANALYZE', 'OPTIMIZE', 'REPAIR', 'BEGIN', 'START',
  'COMMIT', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'SET', 'USE', 'LOCK', 'UNLOCK', 'GET', 'XA',
  // other words
  'RECURSIVE', 'AS', 'TABLES', 'TEMPORARY', 'OR', 'NOT', 'ATOMIC', 'WORK', 'TRANSACTION',
  'READ', 'ONLY', 'WRITE', 'AND', 'NO', 'CHAIN', 'TO', 'GLOBAL', 'SESSION', 'LOCAL', 'PERSIST',
  'PERSIST_ONLY', 'NAMES', 'COLLATE', 'DEFAULT', 'CHARACTER', 'CHARSET', 'PASSWORD', 'ROLE',
  'RESOURCE', 'STATEMENT', 'FOR', 'IN', 'SHARE', 'MODE', 'INTO', 'SQL_CALC_FOUND_ROWS', 'NEXT',
  'PREVIOUS', 'VALUE', 'NO_WRITE_TO_BINLOG', 'PREPARE', 'DIAGNOSTICS', 'CURRENT', 'STACKED',
  'WARNINGS', 'ERRORS', 'COUNT', 'PROFILE', 'PROFILES', 'MASTER', 'BINARY', 'BINLOG',
  'PROCESSLIST', 'FULL', 'SLAVE', 'REPLICA', 'REPLICAS', 'NULL', 'TRUE', 'FALSE',
  // functions with side effects or connection affinity (matched only when followed by `(`)
  'GET_LOCK', 'RELEASE_LOCK', 'RELEASE_ALL_LOCKS', 'IS_FREE_LOCK', 'IS_USED_LOCK',
  'LAST_INSERT_ID', 'NEXTVAL', 'LASTVAL', 'SETVAL', 'CURRVAL', 'FOUND_ROWS', 'ROW_COUNT',
  'CONNECTION_ID',
] as const;

export type Keyword = (typeof KEYWORD_LIST)[number];

/** Keyword → id (index in KEYWORD_LIST). */
export const KW = Object.freeze(
  Object.fromEntries(KEYWORD_LIST.map((k, i) => [k, i])) as { [K in Keyword]: number },
);

/** Upper-case text of a keyword id. */
export function keywordText(id: number): string {
  return KEYWORD_LIST[id] ?? '';
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

const KW_BY_HASH = new Map<number, number>();
for (let id = 0; id < KEYWORD_LIST.length; id++) {
  const word = KEYWORD_LIST[id] as string;
  let h = FNV_OFFSET;
  for (let j = 0; j < word.length; j++) h = Math.imul(h ^ word.charCodeAt(j), FNV_PRIME);
  if (KW_BY_HASH.has(h)) throw new Error(`keyword hash collision: ${word}`);
  KW_BY_HASH.set(h, id);
}

// ---------------------------------------------------------------------------------------------
// Character classes (ASCII); code points >= 128 are identifier characters.
// ---------------------------------------------------------------------------------------------

const C_IDENT = 1;
const C_DIGIT = 2;
const C_HEX = 4;
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = C_IDENT | C_DIGIT | C_HEX;
for (let c = 65; c <= 90; c++) CLASS[c] = C_IDENT;
for (let c = 97; c <= 122; c++) CLASS[c] = C_IDENT;
for (const c of [65, 66, 67, 68, 69, 70, 97, 98, 99, 100, 101, 102]) CLASS[c] = C_IDENT | C_HEX;
CLASS[95] = C_IDENT; // _
CLASS[36] = C_IDENT; // $

function isIdentChar(c: number): boolean {
  return c >= 128 ? true : (CLASS[c]! & C_IDENT) !== 0;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isHexDigit(c: number): boolean {
  return c < 128 && (CLASS[c]! & C_HEX) !== 0;
}
function isSpace(c: number): boolean {
  return c <= 32;
}

/** Case-insensitive "does `sql` at `pos` start with `lowerWord`" (lowerWord is ASCII lower-case). */
function startsWithCI(sql: string, pos: number, lowerWord: string): boolean {
  if (pos + lowerWord.length > sql.length) return false;
  for (let j = 0; j < lowerWord.length; j++) {
    let c = sql.charCodeAt(pos + j);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerWord.charCodeAt(j)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The lexer
// ---------------------------------------------------------------------------------------------

export interface Lexed {
  sql: string;
  /** Number of tokens. */
  n: number;
  type: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  /** Keyword id for TK_WORD tokens that are one of KEYWORD_LIST, else -1. */
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

const INITIAL_CAPACITY = 512;
/**
 * The digest stops growing past this many characters (bulk INSERTs would otherwise build a
 * megabyte-sized string nobody needs): it identifies a statement shape, a prefix is enough.
 */
export const DIGEST_MAX = 4096;
const SHRINK_ABOVE = 1 << 16;

class Lexer implements Lexed {
  sql = '';
  n = 0;
  type = new Uint8Array(INITIAL_CAPACITY);
  start = new Int32Array(INITIAL_CAPACITY);
  end = new Int32Array(INITIAL_CAPACITY);
  kw = new Int16Array(INITIAL_CAPACITY);
  hint: RouteHint | undefined = undefined;
  strip: number[] = [];
  digest = '';
  semiDigest: number[] = [];
  semis = 0;
  firstSemi = -1;
  unterminated = false;

  // state while lexing
  private inExec = false;
  private len = 0;
  private lastEnd = -1;
  private runStart = -1;
  private runEnd = -1;
  private dig = '';

  run(sql: string): void {
    if (this.type.length > SHRINK_ABOVE) this.allocate(INITIAL_CAPACITY);
    this.sql = sql;
    this.n = 0;
    this.hint = undefined;
    if (this.strip.length !== 0) this.strip = [];
    if (this.semiDigest.length !== 0) this.semiDigest = [];
    this.semis = 0;
    this.firstSemi = -1;
    this.unterminated = false;
    this.inExec = false;
    this.len = sql.length;
    this.lastEnd = -1;
    this.runStart = -1;
    this.runEnd = -1;
    this.dig = '';

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

    // finish the digest
    let dig = this.dig;
    if (this.runStart >= 0 && dig.length < DIGEST_MAX) dig += sql.slice(this.runStart, this.runEnd);
    if (dig.length > DIGEST_MAX) dig = dig.slice(0, DIGEST_MAX);
    if (this.n > 0 && this.type[this.n - 1] === TK_SEMI && dig.charCodeAt(dig.length - 1) === 59) {
      let cut = dig.length - 1;
      if (cut > 0 && dig.charCodeAt(cut - 1) === 32) cut--;
      dig = dig.slice(0, cut);
    }
    this.digest = dig;
    this.dig = '';
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

  private semi(i: number): void {
    if (this.semis === 0) this.firstSemi = this.n;
    this.semis++;
    this.push(TK_SEMI, i, i + 1, -1);
    // flush so that the digest offset after this ';' is known
    if (this.runStart >= 0 && this.dig.length < DIGEST_MAX) {
      this.dig += this.sql.slice(this.runStart, this.runEnd);
      this.runStart = -1;
    }
    this.semiDigest.push(this.dig.length);
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
      let a = j;
      let b = close;
      while (a < b && isSpace(sql.charCodeAt(a))) a++;
      while (b > a && isSpace(sql.charCodeAt(b - 1))) b--;
      if (b - a === 6 && startsWithCI(sql, a, 'master')) this.hint = 'master';
      else if (b - a === 5 && startsWithCI(sql, a, 'slave')) this.hint = 'slave';
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
    if (close >= 0 && this.hint === undefined) {
      let a = k;
      const b = close;
      while (a < b && isSpace(sql.charCodeAt(a))) a++;
      if (startsWithCI(sql, a, 'db_type')) {
        a += 7;
        while (a < b && isSpace(sql.charCodeAt(a))) a++;
        if (sql.charCodeAt(a) === 61) {
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
          if (value !== undefined && a === b) this.hint = value;
        }
      }
    }
    return stop;
  }
}

function lineEnd(sql: string, i: number): number {
  const nl = sql.indexOf('\n', i);
  return nl < 0 ? sql.length : nl + 1;
}

function matchesKeyword(sql: string, s: number, e: number, id: number): boolean {
  const word = KEYWORD_LIST[id] as string;
  if (e - s !== word.length) return false;
  for (let j = 0; j < word.length; j++) {
    let c = sql.charCodeAt(s + j);
    if (c >= 97 && c <= 122) c -= 32;
    if (c !== word.charCodeAt(j)) return false;
  }
  return true;
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
