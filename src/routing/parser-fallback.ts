/**
 * The classifier's cold path: node-sql-parser decides the kind of a statement whose token
 * structure the classifier cannot read (see classify.ts for when). Its verdict — just the
 * statement kind — is cached in an LRU keyed by the statement digest, so a given shape is parsed
 * once (~300 µs a parse, DESIGN §2). What the parser cannot take apart is 'other' (→ writeHost).
 */
import { createRequire } from 'node:module';
import { Lru } from './lru.js';
import type { StatementKind } from './types.js';

interface SqlParser {
  astify(sql: string, opt?: { database?: string }): unknown;
}

let parser: SqlParser | null | undefined;

/**
 * node-sql-parser, loaded on first use. Only the MariaDB grammar is loaded (~16 ms) instead of
 * the package index, which loads every dialect (~190 ms) — nothing on the hot path needs it.
 */
function getParser(): SqlParser | null {
  if (parser === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const mod = require('node-sql-parser/build/mariadb') as { Parser: new () => SqlParser };
      parser = new mod.Parser();
    } catch {
      parser = null;
    }
  }
  return parser;
}

/** Load the parser now; false when it cannot be loaded (every fallback is then 'other'). */
export function loadParser(): boolean {
  return getParser() !== null;
}

const PARSER_CACHE_SIZE = 10_000;
const parserCache = new Lru<string, StatementKind>(PARSER_CACHE_SIZE);
let statsParserRuns = 0;
let statsParserFailures = 0;

export interface ParserFallbackStats {
  /** Statements that needed the parser (cache hits included). */
  readonly parserFallbacks: number;
  /** node-sql-parser invocations (cache misses). */
  readonly parserRuns: number;
  /** Parser invocations that threw (→ kind 'other'). */
  readonly parserFailures: number;
  readonly cacheSize: number;
  readonly cacheCapacity: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
}

export function parserFallbackStats(): ParserFallbackStats {
  const s = parserCache.stats();
  return {
    parserFallbacks: s.hits + s.misses,
    parserRuns: statsParserRuns,
    parserFailures: statsParserFailures,
    cacheSize: s.size,
    cacheCapacity: s.capacity,
    cacheHits: s.hits,
    cacheMisses: s.misses,
  };
}

export function clearParserCache(): void {
  parserCache.clear();
}

/** The kind node-sql-parser gives `text`, cached under `key` (the statement digest). */
export function parserKind(text: string, key: string): StatementKind {
  const cached = parserCache.get(key);
  if (cached !== undefined) return cached;
  let kind: StatementKind = 'other';
  const p = getParser();
  if (p !== null) {
    statsParserRuns++;
    try {
      const ast = p.astify(text, { database: 'MariaDB' });
      const one: unknown = Array.isArray(ast) ? (ast.length === 1 ? ast[0] : undefined) : ast;
      const type = typeof one === 'object' && one !== null ? (one as { type?: unknown }).type : undefined;
      if (type === 'select') kind = 'read';
      else if (type === 'insert' || type === 'replace' || type === 'update' || type === 'delete') kind = 'write';
    } catch {
      statsParserFailures++;
    }
  }
  parserCache.set(key, kind);
  return kind;
}
