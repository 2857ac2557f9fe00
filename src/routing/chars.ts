/**
 * ASCII character classes for the lexer and the hint-comment readers; code points >= 128 are
 * identifier characters. One table lookup per character, no regular expressions.
 */

export const C_IDENT = 1;
const C_DIGIT = 2;
const C_HEX = 4;
export const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = C_IDENT | C_DIGIT | C_HEX;
for (let c = 65; c <= 90; c++) CLASS[c] = C_IDENT;
for (let c = 97; c <= 122; c++) CLASS[c] = C_IDENT;
for (const c of [65, 66, 67, 68, 69, 70, 97, 98, 99, 100, 101, 102]) CLASS[c] = C_IDENT | C_HEX;
CLASS[95] = C_IDENT; // _
CLASS[36] = C_IDENT; // $

export function isIdentChar(c: number): boolean {
  return c >= 128 ? true : (CLASS[c]! & C_IDENT) !== 0;
}
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
export function isHexDigit(c: number): boolean {
  return c < 128 && (CLASS[c]! & C_HEX) !== 0;
}
export function isSpace(c: number): boolean {
  return c <= 32;
}

/** Case-insensitive "does `sql` at `pos` start with `lowerWord`" (lowerWord is ASCII lower-case). */
export function startsWithCI(sql: string, pos: number, lowerWord: string): boolean {
  if (pos + lowerWord.length > sql.length) return false;
  for (let j = 0; j < lowerWord.length; j++) {
    let c = sql.charCodeAt(pos + j);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowerWord.charCodeAt(j)) return false;
  }
  return true;
}
