/**
 * Micro-benchmark for classify() — NOT a test (not collected: the name does not end in .test.ts).
 *
 *   npx tsx test/unit/routing/classify.bench.ts
 *
 * Prints µs per call (best of 5 rounds) for sysbench's statements and a few others, the cold
 * parser fallback, and the cost of a "cache every Classification by exact SQL" variant on a
 * realistic stream (literal values vary, so nearly every lookup misses) for comparison.
 */
import { classify, classifyCacheStats, resetClassifyCache } from '../../../src/routing/classify.js';
import { route } from '../../../src/routing/router.js';
import { Lru } from '../../../src/routing/lru.js';
import type { ClusterView, HostView } from '../../../src/cluster/view.js';
import type { Classification } from '../../../src/routing/types.js';

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

const PAD = "'68487932199-96439406143-93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-19503783441'";
const statements: [string, (i: number) => string][] = [
  ['point select', (i) => `SELECT c FROM sbtest1 WHERE id=${i}`],
  ['simple range', (i) => `SELECT c FROM sbtest1 WHERE id BETWEEN ${i} AND ${i + 99}`],
  ['sum range', (i) => `SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN ${i} AND ${i + 99}`],
  ['order range', (i) => `SELECT c FROM sbtest1 WHERE id BETWEEN ${i} AND ${i + 99} ORDER BY c`],
  ['distinct range', (i) => `SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN ${i} AND ${i + 99} ORDER BY c`],
  ['index update', (i) => `UPDATE sbtest1 SET k=k+1 WHERE id=${i}`],
  ['non-index update', (i) => `UPDATE sbtest1 SET c=${PAD} WHERE id=${i}`],
  ['delete', (i) => `DELETE FROM sbtest1 WHERE id=${i}`],
  ['insert', (i) => `INSERT INTO sbtest1 (id, k, c, pad) VALUES (${i}, 5012, ${PAD}, '22195207048-70116052123')`],
  ['BEGIN', () => 'BEGIN'],
  ['COMMIT', () => 'COMMIT'],
  ['SET autocommit', (i) => `SET autocommit=${i & 1}`],
  ['SET NAMES', () => "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'"],
  ['hinted select', (i) => `/*!mycat:db_type=slave*/ SELECT c FROM sbtest1 WHERE id=${i}`],
  ['commented select', (i) => `/* app=web req=${i} */ SELECT a, b, c FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.x = 'abc' AND t2.y IN (1, 2, 3) LIMIT 10`],
  ['FOR UPDATE', (i) => `SELECT c FROM sbtest1 WHERE id=${i} FOR UPDATE`],
];

function bench(fn: (i: number) => unknown, n: number): number {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn(i);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000 / n);
  }
  return best;
}

const N = 200_000;
out(`node ${process.version}; µs per call, best of 5 × ${N}`);
for (const [name, gen] of statements) {
  const qs = Array.from({ length: 4096 }, (_, i) => gen(i * 7919 + 1));
  const us = bench((i) => classify(qs[i & 4095]!), N);
  out(`  classify ${name.padEnd(18)} ${us.toFixed(3)}`);
}

// route() on top of classify (reads to readers, balance 1)
const host = (id: string, role: 'write' | 'read', index: number): HostView => ({
  id, host: id, port: 3306, role, index, weight: 1, status: 'up', readOnly: role === 'read', readable: true,
});
const hosts = [host('w1', 'write', 0), host('r1', 'read', 0), host('r2', 'read', 1)];
const view: ClusterView = { dataHost: 'dh', balance: 1, writerIndex: 0, writer: hosts[0], hosts, version: 1 };
const idle = { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: false, readYourWrites: false };
{
  const qs = Array.from({ length: 4096 }, (_, i) => `SELECT c FROM sbtest1 WHERE id=${i}`);
  const us = bench((i) => route(classify(qs[i & 4095]!), idle, view), N);
  out(`  classify+route point select   ${us.toFixed(3)}`);
}

// Parser fallback: cold (node-sql-parser runs) and cached (verdict cached by digest)
{
  resetClassifyCache();
  const t0 = process.hrtime.bigint();
  classify('(VALUES ROW(1))'.replace('VALUES', 'DELETE FROM t WHERE a IN') + ' ');
  const first = Number(process.hrtime.bigint() - t0) / 1000;
  let coldTotal = 0;
  const M = 200;
  for (let i = 0; i < M; i++) {
    resetClassifyCache();
    const s = process.hrtime.bigint();
    classify(`WITH a AS (SELECT ${i}) `);
    coldTotal += Number(process.hrtime.bigint() - s) / 1000;
  }
  resetClassifyCache();
  const cached = bench((i) => classify(`WITH a AS (SELECT ${i}) `), 20_000);
  out(`  parser fallback: first call (loads the grammar) ${first.toFixed(0)} µs, cold ${(coldTotal / M).toFixed(1)} µs, cached ${cached.toFixed(3)} µs`);
  out(`  cache stats: ${JSON.stringify(classifyCacheStats())}`);
}

// Alternative design: cache every Classification by exact SQL text (LRU 10,000).
{
  const lru = new Lru<string, Classification>(10_000);
  const cachedClassify = (sql: string): Classification => {
    let c = lru.get(sql);
    if (c === undefined) {
      c = Object.freeze(classify(sql));
      lru.set(sql, c);
    }
    return c;
  };
  const varying = Array.from({ length: 1 << 17 }, (_, i) => `SELECT c FROM sbtest1 WHERE id=${i}`); // 131k distinct
  // Text arriving from a socket is a fresh string every time (no cached hash): build it per call.
  const bufs = Array.from({ length: 8 }, (_, i) => Buffer.from(`SELECT c FROM sbtest1 WHERE id=${4711 + i}`));
  const fresh = (i: number): string => bufs[i & 7]!.toString('utf8');
  const vbufs = varying.map((v) => Buffer.from(v));
  const plainVarying = bench((i) => classify(vbufs[i & 131071]!.toString('utf8')), N);
  const lruVarying = bench((i) => cachedClassify(vbufs[i & 131071]!.toString('utf8')), N);
  const decodeOnly = bench((i) => vbufs[i & 131071]!.toString('utf8').length, N);
  const plainSame = bench((i) => classify(fresh(i)), N);
  const lruSame = bench((i) => cachedClassify(fresh(i)), N);
  out('  whole-result LRU by exact SQL (alternative, not used); texts decoded from Buffers like the frontend does:');
  out(`    (Buffer → string decode alone:           ${decodeOnly.toFixed(3)})`);
  out(`    varying literals (all misses):           lexer only ${plainVarying.toFixed(3)} vs LRU ${lruVarying.toFixed(3)}`);
  out(`    8 repeated texts, fresh strings (hits):  lexer only ${plainSame.toFixed(3)} vs LRU ${lruSame.toFixed(3)}`);
}
