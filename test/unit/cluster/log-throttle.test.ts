/**
 * The per-host log rate limit of src/backend/log-throttle.ts (kept with the cluster tests: it
 * exists for the "host is down" log flood).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogThrottle, type ThrottledLine } from '../../../src/backend/log-throttle.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('first occurrence at once, then one summary per window with the suppressed count; per key', async () => {
  const t = new LogThrottle(80);
  const lines: [string, ThrottledLine, number][] = [];
  const hit = (key: string, n: number) => t.hit(key, (l) => lines.push([key, l, n]));
  for (let i = 0; i < 100; i++) hit('a', i);
  hit('b', 0);
  assert.deepEqual(lines, [
    ['a', { suppressed: 0, windowMs: 80 }, 0],
    ['b', { suppressed: 0, windowMs: 80 }, 0],
  ]);
  await sleep(120);
  assert.deepEqual(lines.slice(2), [['a', { suppressed: 99, windowMs: 80 }, 99]], 'summary with the latest details; none for b');
  assert.equal(t.size, 1, 'b episode over, a still in one');
  await sleep(100);
  assert.equal(t.size, 0, 'a window without occurrences ends the episode');
  hit('a', 200);
  assert.deepEqual(lines.at(-1), ['a', { suppressed: 0, windowMs: 80 }, 200], 'a new episode logs at once');
  t.clear();
});
