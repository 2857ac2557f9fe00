/** Workers' answers added up: counters, pools, histogram buckets, statement digests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeStatementTops, sumSnapshots } from '../../../src/group/merge.js';
import { newSessionStats } from '../../../src/frontend/session-context.js';
import { StatementStats } from '../../../src/frontend/statement-stats.js';
import type { DataPathSnapshot } from '../../../src/admin/data-path.js';

function snapshot(n: number, pools: DataPathSnapshot['pools']): DataPathSnapshot {
  const stats = newSessionStats();
  stats.statements = 10 * n;
  stats.routedToReader = 7 * n;
  stats.routedToWriter = 3 * n;
  stats.errors = n;
  stats.pins['named-lock'] = n;
  stats.consistency.waited = n;
  stats.consistency.waitBuckets[2] = n;
  stats.consistency.waitSum = 0.5 * n;
  const ss = new StatementStats();
  ss.record('select ?', 3, 1, false, false);
  ss.record('insert ?', 700, 1, true, false);
  return { clientConnections: n, stats, pools, histogram: ss.histogram, workers: [] };
}

test('sumSnapshots adds counters, pools by host and histogram buckets', () => {
  const sum = sumSnapshots([
    snapshot(1, { a: { borrowed: 1, idle: 2, waiting: 0, statements: 5 } }),
    snapshot(2, { a: { borrowed: 3, idle: 0, waiting: 1, statements: 6 }, b: { borrowed: 0, idle: 1, waiting: 0, statements: 2 } }),
  ]);
  assert.equal(sum.clientConnections, 3);
  assert.equal(sum.stats.statements, 30);
  assert.equal(sum.stats.routedToReader, 21);
  assert.equal(sum.stats.routedToWriter, 9);
  assert.equal(sum.stats.errors, 3);
  assert.equal(sum.stats.pins['named-lock'], 3);
  assert.equal(sum.stats.consistency.waited, 3);
  assert.equal(sum.stats.consistency.waitBuckets[2], 3);
  assert.equal(sum.stats.consistency.waitSum, 1.5);
  assert.deepEqual(sum.pools, { a: { borrowed: 4, idle: 2, waiting: 1, statements: 11 }, b: { borrowed: 0, idle: 1, waiting: 0, statements: 2 } });
  const count = (route: 'writer' | 'reader') => sum.histogram[route].counts.reduce((n, c) => n + c, 0);
  assert.equal(count('reader'), 2);
  assert.equal(count('writer'), 2);
  assert.equal(sum.histogram.writer.sumMs, 1400);
  assert.deepEqual(sumSnapshots([]).clientConnections, 0);
});

test('mergeStatementTops: one row per digest, busiest first', () => {
  const row = (digest: string, count: number, totalMs: number, maxMs: number) => ({ digest, count, totalMs, maxMs, rows: count, writer: 0, reader: count });
  const merged = mergeStatementTops(
    [
      [row('a', 1, 10, 10), row('b', 2, 5, 4)],
      [row('b', 3, 20, 9), row('c', 1, 1, 1)],
    ],
    2,
  );
  assert.deepEqual(merged, [row('b', 5, 25, 9), row('a', 1, 10, 10)]);
});
