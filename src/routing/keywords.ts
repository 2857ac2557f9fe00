/**
 * Keywords: only the words the classifier looks at. The lexer matches them case-insensitively
 * via an FNV-1a hash it computes while scanning the word (no substring, no upper-casing), then
 * verifies the candidate character by character (`matchesKeyword`).
 *
 * A keyword's id is its index in KEYWORD_LIST; the lexer stores it per token and the classifier
 * compares ids (`KW.SELECT`), never text.
 */

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

/** FNV-1a over the upper-cased word, folded into the lexer's word scan. */
export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

/** Hash → keyword id; a hit is only a candidate until `matchesKeyword` confirms it. */
export const KW_BY_HASH = new Map<number, number>();
for (let id = 0; id < KEYWORD_LIST.length; id++) {
  const word = KEYWORD_LIST[id] as string;
  let h = FNV_OFFSET;
  for (let j = 0; j < word.length; j++) h = Math.imul(h ^ word.charCodeAt(j), FNV_PRIME);
  if (KW_BY_HASH.has(h)) throw new Error(`keyword hash collision: ${word}`);
  KW_BY_HASH.set(h, id);
}

/** Is `sql[s, e)` keyword `id`, ignoring ASCII case? */
export function matchesKeyword(sql: string, s: number, e: number, id: number): boolean {
  const word = KEYWORD_LIST[id] as string;
  if (e - s !== word.length) return false;
  for (let j = 0; j < word.length; j++) {
    let c = sql.charCodeAt(s + j);
    if (c >= 97 && c <= 122) c -= 32;
    if (c !== word.charCodeAt(j)) return false;
  }
  return true;
}
