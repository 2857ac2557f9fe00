import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { HostView } from '../../../src/cluster/view.js';
import { candidateSetKey, createSelector, hash32 } from '../../../src/backend/selectors.js';

function host(id: string, weight = 1): HostView {
  return { id, host: id, port: 3306, role: 'read', index: 0, weight, status: 'up', readOnly: true, readable: true };
}

const none = (): number => 0;

function counts(hosts: readonly HostView[], n: number, pick: (i: number) => HostView): Map<string, number> {
  const m = new Map<string, number>(hosts.map((h) => [h.id, 0]));
  for (let i = 0; i < n; i++) {
    const h = pick(i);
    m.set(h.id, (m.get(h.id) ?? 0) + 1);
  }
  return m;
}

// ------------------------------------------------------------------------------- round-robin

for (const [wa, wb] of [
  [1, 1],
  [2, 1],
  [5, 1],
] as const) {
  test(`round-robin: exact distribution for weights ${wa}:${wb}`, () => {
    const s = createSelector('round-robin');
    const hosts = [host('a', wa), host('b', wb)];
    const total = wa + wb;
    for (const n of [total, total * 7, total * 1000]) {
      const c = counts(hosts, n, () => s.pick(hosts, '', none));
      assert.equal(c.get('a'), (n / total) * wa, `n=${n}`);
      assert.equal(c.get('b'), (n / total) * wb, `n=${n}`);
    }
  });
}

test('round-robin: smooth interleaving (5:1:1 → a a b a c a a)', () => {
  const s = createSelector('round-robin');
  const hosts = [host('a', 5), host('b', 1), host('c', 1)];
  const seq = Array.from({ length: 7 }, () => s.pick(hosts, '', none).id).join(' ');
  assert.equal(seq, 'a a b a c a a');
});

test('round-robin: every window of sum(weights) picks is exact, for any weights', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }), (weights) => {
      fc.pre(weights.some((w) => w > 0));
      const s = createSelector('round-robin');
      const hosts = weights.map((w, i) => host(`h${i}`, w));
      const total = weights.reduce((a, b) => a + b, 0);
      for (let round = 0; round < 3; round++) {
        const c = counts(hosts, total, () => s.pick(hosts, '', none));
        weights.forEach((w, i) => assert.equal(c.get(`h${i}`), w));
      }
    }),
    { numRuns: 300 },
  );
});

test('round-robin: weight 0 is never picked; all-zero or empty throws', () => {
  const s = createSelector('round-robin');
  const hosts = [host('a', 0), host('b', 1), host('c', 0)];
  for (let i = 0; i < 50; i++) assert.equal(s.pick(hosts, '', none).id, 'b');
  assert.throws(() => s.pick([host('a', 0)], '', none), RangeError);
  assert.throws(() => s.pick([host('a', 0), host('b', 0)], '', none), RangeError);
  assert.throws(() => s.pick([], '', none), RangeError);
  assert.throws(() => s.pick([host('a', Number.NaN)], '', none), RangeError);
});

test('round-robin: robust when the candidate set changes between calls', () => {
  const s = createSelector('round-robin');
  const full = [host('a', 2), host('b', 1), host('c', 1)];
  const partial = [host('a', 2), host('c', 1)];
  // interleave picks over two sets; each set keeps its own exact distribution
  const cf = new Map<string, number>();
  const cp = new Map<string, number>();
  for (let i = 0; i < 4 * 300; i++) {
    const h = s.pick(full, '', none);
    cf.set(h.id, (cf.get(h.id) ?? 0) + 1);
    if (i % 4 === 0) {
      for (let k = 0; k < 3; k++) {
        const p = s.pick(partial, '', none);
        cp.set(p.id, (cp.get(p.id) ?? 0) + 1);
      }
    }
  }
  assert.deepStrictEqual(Object.fromEntries(cf), { a: 600, b: 300, c: 300 });
  assert.deepStrictEqual(Object.fromEntries(cp), { a: 600, c: 300 });
  // new array objects with the same ids and weights continue the same sequence
  const copy = () => [host('a', 2), host('b', 1), host('c', 1)];
  const c2 = counts(full, 400, () => s.pick(copy(), '', none));
  assert.deepStrictEqual(Object.fromEntries(c2), { a: 200, b: 100, c: 100 });
  // a host removed and re-added does not get a burst
  const c3 = counts(full, 4, () => s.pick(full, '', none));
  assert.deepStrictEqual(Object.fromEntries(c3), { a: 2, b: 1, c: 1 });
});

test('round-robin: never picks a host outside the candidates (random set changes)', () => {
  const s = createSelector('round-robin');
  const pool = ['a', 'b', 'c', 'd', 'e'];
  fc.assert(
    fc.property(fc.subarray(pool, { minLength: 1 }), fc.integer({ min: 1, max: 4 }), (ids, w) => {
      const hosts = ids.map((id) => host(id, w));
      const h = s.pick(hosts, '', none);
      assert.ok(ids.includes(h.id));
    }),
    { numRuns: 500 },
  );
});

// ------------------------------------------------------------------------------- least-conn

test('least-conn: picks the fewest active connections per weight', () => {
  const s = createSelector('least-conn');
  const hosts = [host('a', 1), host('b', 1), host('c', 1)];
  const active: Record<string, number> = { a: 5, b: 2, c: 9 };
  assert.equal(s.pick(hosts, '', (id) => active[id] ?? 0).id, 'b');
  const weighted = [host('a', 4), host('b', 1)];
  // a: 6/4 = 1.5, b: 2/1 = 2 → a
  assert.equal(s.pick(weighted, '', (id) => ({ a: 6, b: 2 })[id] ?? 0).id, 'a');
  // a: 9/4 = 2.25, b: 2/1 = 2 → b
  assert.equal(s.pick(weighted, '', (id) => ({ a: 9, b: 2 })[id] ?? 0).id, 'b');
});

test('least-conn: ties are broken round-robin', () => {
  const s = createSelector('least-conn');
  const hosts = [host('a'), host('b'), host('c')];
  const seq = Array.from({ length: 6 }, () => s.pick(hosts, '', none).id);
  assert.deepStrictEqual(seq, ['a', 'b', 'c', 'a', 'b', 'c']);
  // only the tied hosts rotate
  const active: Record<string, number> = { a: 1, b: 0, c: 0 };
  const seq2 = Array.from({ length: 4 }, () => s.pick(hosts, '', (id) => active[id] ?? 0).id);
  assert.ok(seq2.every((id) => id === 'b' || id === 'c'));
  assert.ok(seq2.includes('b') && seq2.includes('c'));
});

test('least-conn: with connections tracked it spreads load by weight', () => {
  const s = createSelector('least-conn');
  const hosts = [host('a', 2), host('b', 1)];
  const active = new Map<string, number>([
    ['a', 0],
    ['b', 0],
  ]);
  for (let i = 0; i < 300; i++) {
    const h = s.pick(hosts, '', (id) => active.get(id) ?? 0);
    active.set(h.id, (active.get(h.id) ?? 0) + 1); // connections held, never released
  }
  assert.equal(active.get('a'), 200);
  assert.equal(active.get('b'), 100);
});

test('least-conn: weight 0 never picked; all-zero throws; bad counts are treated as 0', () => {
  const s = createSelector('least-conn');
  assert.equal(s.pick([host('a', 0), host('b', 1)], '', none).id, 'b');
  assert.throws(() => s.pick([host('a', 0)], '', none), RangeError);
  assert.throws(() => s.pick([], '', none), RangeError);
  assert.equal(s.pick([host('a'), host('b')], '', (id) => (id === 'a' ? Number.NaN : 3)).id, 'a');
});

// ------------------------------------------------------------------------------- consistent-hash

const keys = Array.from({ length: 20_000 }, (_, i) => `SELECT c FROM sbtest${i % 17} WHERE id=? /* ${i} */`);

test('consistent-hash: same key → same host; distribution roughly follows weights', () => {
  const s = createSelector('consistent-hash');
  const hosts = [host('a', 1), host('b', 1), host('c', 2)];
  for (const k of keys.slice(0, 200)) assert.equal(s.pick(hosts, k, none).id, s.pick(hosts, k, none).id);
  const c = counts(hosts, keys.length, (i) => s.pick(hosts, keys[i]!, none));
  const share = (id: string) => (c.get(id) ?? 0) / keys.length;
  assert.ok(Math.abs(share('a') - 0.25) < 0.06, `a ${share('a')}`);
  assert.ok(Math.abs(share('b') - 0.25) < 0.06, `b ${share('b')}`);
  assert.ok(Math.abs(share('c') - 0.5) < 0.08, `c ${share('c')}`);
});

test('consistent-hash: removing one host remaps only its keys (≈1/N move)', () => {
  const s = createSelector('consistent-hash');
  const n = 5;
  const hosts = Array.from({ length: n }, (_, i) => host(`h${i}:3306`));
  const before = keys.map((k) => s.pick(hosts, k, none).id);
  const removed = 'h2:3306';
  const fewer = hosts.filter((h) => h.id !== removed);
  const after = keys.map((k) => s.pick(fewer, k, none).id);
  let moved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (before[i] !== after[i]) {
      moved++;
      assert.equal(before[i], removed, 'only keys of the removed host move');
    }
  }
  const fraction = moved / keys.length;
  assert.ok(Math.abs(fraction - 1 / n) < 0.06, `moved ${fraction}`);
  // adding it back restores the original mapping
  const again = keys.map((k) => s.pick(hosts, k, none).id);
  assert.deepStrictEqual(again, before);
});

test('consistent-hash: result does not depend on candidate order; weight 0 excluded', () => {
  const s = createSelector('consistent-hash');
  const hosts = [host('a'), host('b'), host('c')];
  const reversed = [...hosts].reverse();
  for (const k of keys.slice(0, 2000)) assert.equal(s.pick(hosts, k, none).id, s.pick(reversed, k, none).id);
  const withZero = [host('a'), host('b', 0), host('c')];
  for (const k of keys.slice(0, 2000)) assert.notEqual(s.pick(withZero, k, none).id, 'b');
  assert.throws(() => s.pick([host('a', 0)], 'x', none), RangeError);
  assert.throws(() => s.pick([], 'x', none), RangeError);
});

test('hash32 / candidateSetKey', () => {
  assert.equal(hash32(''), hash32(''));
  assert.notEqual(hash32('a'), hash32('b'));
  assert.ok(Number.isInteger(hash32('xyz')) && hash32('xyz') >= 0 && hash32('xyz') < 2 ** 32);
  assert.notEqual(candidateSetKey([host('a', 1), host('b', 2)]), candidateSetKey([host('a', 2), host('b', 1)]));
  assert.equal(candidateSetKey([host('a', 1)]), candidateSetKey([host('a', 1)]));
});

test('createSelector: kinds', () => {
  assert.equal(createSelector('round-robin').kind, 'round-robin');
  assert.equal(createSelector('least-conn').kind, 'least-conn');
  assert.equal(createSelector('consistent-hash').kind, 'consistent-hash');
  assert.throws(() => createSelector('random' as never), RangeError);
});
