import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classify, classifyCacheStats, resetClassifyCache, warmClassifier } from '../../../src/routing/classify.js';
import { lex } from '../../../src/routing/lexer.js';
import { TK_SEMI } from '../../../src/routing/tokens.js';
import { Lru } from '../../../src/routing/lru.js';
import type { Classification, StatementKind } from '../../../src/routing/types.js';
import { classifyCases } from './classify.cases.js';

const KINDS: readonly StatementKind[] = [
  'read', 'write', 'ddl', 'begin', 'commit', 'rollback', 'savepoint', 'set', 'use', 'lock-tables', 'unlock-tables', 'other',
];

function check(label: string, actual: Classification, expect: Partial<Classification>): string[] {
  const failures: string[] = [];
  for (const key of Object.keys(expect) as (keyof Classification)[]) {
    try {
      assert.deepStrictEqual(actual[key], expect[key]);
    } catch {
      failures.push(`${label}: ${key} = ${JSON.stringify(actual[key])}, expected ${JSON.stringify(expect[key])}`);
    }
  }
  return failures;
}

test('classify: case table (each failing case is named)', () => {
  assert.ok(classifyCases.length >= 170, `only ${classifyCases.length} cases`);
  const failures: string[] = [];
  for (const c of classifyCases) {
    const actual = classify(c.sql);
    failures.push(...check(JSON.stringify(c.sql), actual, c.expect));
    if (c.parts !== undefined) {
      const parts = actual.statements ?? [];
      if (parts.length !== c.parts.length) {
        failures.push(`${JSON.stringify(c.sql)}: ${parts.length} statements, expected ${c.parts.length}`);
      } else {
        c.parts.forEach((p, i) => failures.push(...check(`${JSON.stringify(c.sql)} statement #${i}`, parts[i]!, p)));
      }
    }
  }
  assert.deepStrictEqual(failures, [], `\n${failures.join('\n')}`);
});

test('classify: case table has no duplicate statements', () => {
  const seen = new Set<string>();
  const dups = classifyCases.filter((c) => (seen.has(c.sql) ? true : (seen.add(c.sql), false))).map((c) => c.sql);
  assert.deepStrictEqual(dups, []);
});

test('classify: every result has the full shape', () => {
  for (const c of classifyCases) {
    const r = classify(c.sql);
    assert.ok(KINDS.includes(r.kind), c.sql);
    assert.equal(typeof r.verb, 'string');
    assert.equal(typeof r.digest, 'string');
    assert.equal(typeof r.chain, 'boolean');
    assert.ok(Array.isArray(r.statements));
    assert.ok(Array.isArray(r.assignments));
    if (r.kind !== 'set') assert.equal(r.assignments.length, 0, c.sql);
    if (r.kind !== 'use') assert.equal(r.schema, undefined, c.sql);
    if (!r.multiStatement) assert.equal(r.statements?.length, 0, c.sql);
  }
});

test('classify: forwardSql is undefined unless a Mycat hint was stripped', () => {
  for (const c of classifyCases) {
    const r = classify(c.sql);
    if (!/mycat:/i.test(c.sql)) assert.equal(r.forwardSql, undefined, c.sql);
    else assert.ok(r.forwardSql !== undefined && !/\/\*[!#]\s*mycat:/i.test(r.forwardSql.replace(/'[^']*'/g, '')), c.sql);
  }
});

test('classify: ordinary statements never reach the parser', () => {
  const before = classifyCacheStats();
  for (const sql of [
    'SELECT c FROM sbtest1 WHERE id=4711',
    'SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c',
    'UPDATE sbtest1 SET k=k+1 WHERE id=1',
    "INSERT INTO sbtest1 (id, k, c, pad) VALUES (1, 2, 'c', 'pad')",
    'DELETE FROM sbtest1 WHERE id=1',
    'BEGIN',
    'COMMIT',
    'SET autocommit=0',
  ]) {
    assert.equal(classify(sql).source, 'lexer', sql);
  }
  const after = classifyCacheStats();
  assert.equal(after.parserFallbacks, before.parserFallbacks);
  assert.equal(after.classified, before.classified + 8);
});

test('classify: the node-sql-parser fallback loads', () => {
  assert.equal(warmClassifier(), true);
});

test('classify: parser verdicts are cached by digest', () => {
  resetClassifyCache();
  const s0 = classifyCacheStats();
  const a = classify('(DELETE FROM t WHERE id = 1)');
  const b = classify('(DELETE   FROM t WHERE id = 2)');
  assert.equal(a.source, 'parser');
  assert.equal(b.source, 'parser');
  assert.equal(a.kind, b.kind);
  const s1 = classifyCacheStats();
  assert.equal(s1.parserFallbacks - s0.parserFallbacks, 2);
  assert.equal(s1.cacheHits - s0.cacheHits, 1);
  assert.ok(s1.parserRuns - s0.parserRuns <= 1);
  assert.equal(s1.cacheSize, 1);
});

test('classify: results do not share mutable state between calls', () => {
  const a = classify('SET @a = 1');
  const b = classify('SET @b = 2');
  assert.equal(a.assignments[0]?.type === 'user' && a.assignments[0].name, 'a');
  assert.equal(b.assignments[0]?.type === 'user' && b.assignments[0].name, 'b');
  const m = classify('SELECT 1; SELECT 2');
  classify('UPDATE t SET a = 1; DELETE FROM t');
  assert.equal(m.statements?.[1]?.kind, 'read');
});

test('classify: a very long statement (token buffer growth) is handled and later calls still work', () => {
  const values = Array.from({ length: 50_000 }, (_, i) => `(${i}, 'v${i}')`).join(',');
  const r = classify(`INSERT INTO t (a, b) VALUES ${values}`);
  assert.equal(r.kind, 'write');
  assert.equal(r.multiStatement, false);
  assert.ok(r.digest.startsWith('INSERT INTO t (a, b) VALUES (?, ?),(?, ?)'));
  assert.equal(classify('SELECT 1').kind, 'read');
  assert.equal(classify('SELECT 1; SELECT 2').multiStatement, true);
});

test('classify: never throws and always returns a known kind (fuzz)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const r = classify(s);
      assert.ok(KINDS.includes(r.kind));
    }),
    { numRuns: 3000 },
  );
  const alphabet = fc.constantFrom(
    'SELECT', 'INSERT', 'SET', '@', '@@', ':=', ';', "'", '"', '`', '/*', '*/', '/*!', '--', '-- ', '#', '\n', ' ', '(',
    ')', ',', '=', 'FOR', 'UPDATE', 'WITH', 'x', '1', '0x', "x'", '\\', 'mycat:db_type=master', 'master', 'GET_LOCK',
  );
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 40 }), (parts) => {
      const r = classify(parts.join(''));
      assert.ok(KINDS.includes(r.kind));
    }),
    { numRuns: 3000 },
  );
});

/** MySQL string literal for any text (default sql_mode). */
function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

test('classify: any string literal content is opaque (fuzz)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 }), (s1, s2) => {
      const r = classify(`SELECT a FROM t WHERE b = ${quote(s1)} AND c = "${s2.replace(/\\/g, '\\\\').replace(/"/g, '""')}"`);
      assert.equal(r.kind, 'read');
      assert.equal(r.needsWriter, false);
      assert.equal(r.multiStatement, false);
      assert.equal(r.hint, undefined);
      assert.equal(r.digest, 'SELECT a FROM t WHERE b = ? AND c = ?');
      const w = classify(`INSERT INTO t VALUES (${quote(s1)})`);
      assert.equal(w.kind, 'write');
      assert.equal(w.multiStatement, false);
    }),
    { numRuns: 2000 },
  );
});

test('classify: comments and whitespace around a statement do not change its verdict (fuzz)', () => {
  const filler = fc.constantFrom('', ' ', '\n', '\t', '/* x */', '/* FOR UPDATE ; */', '-- ; DELETE\n', '# INSERT ;\n', '/*+ hint */');
  fc.assert(
    fc.property(fc.constantFrom(...classifyCases.map((c) => c.sql)), filler, filler, (sql, pre, post) => {
      if (/--|#/.test(sql) && !sql.includes('\n')) post = ''; // a trailing line comment would swallow `post`
      const plain = classify(sql);
      const wrapped = classify(`${pre}${sql}\n${post}`);
      assert.equal(wrapped.kind, plain.kind, sql);
      assert.equal(wrapped.needsWriter, plain.needsWriter, sql);
      assert.equal(wrapped.multiStatement, plain.multiStatement, sql);
      assert.equal(wrapped.digest, plain.digest, sql);
    }),
    { numRuns: 2000 },
  );
});

test('lexer: semicolons inside strings, identifiers and comments are not statement separators', () => {
  const lx = lex("SELECT ';', `;`, \";\" /* ; */ -- ;\n");
  let semis = 0;
  for (let i = 0; i < lx.n; i++) if (lx.type[i] === TK_SEMI) semis++;
  assert.equal(semis, 0);
});

test('Lru: bounded, evicts the least recently used', () => {
  const l = new Lru<string, number>(3);
  l.set('a', 1);
  l.set('b', 2);
  l.set('c', 3);
  assert.equal(l.get('a'), 1); // a becomes youngest
  l.set('d', 4); // evicts b
  assert.equal(l.get('b'), undefined);
  assert.deepStrictEqual(l.keys(), ['c', 'a', 'd']);
  l.set('c', 30); // refresh by set
  l.set('e', 5); // evicts a
  assert.deepStrictEqual(l.keys(), ['d', 'c', 'e']);
  assert.equal(l.size, 3);
  const s = l.stats();
  assert.equal(s.evictions, 2);
  assert.equal(s.hits, 1);
  assert.equal(s.misses, 1);
  assert.throws(() => new Lru(0), RangeError);
});

test('Lru: delete frees a slot, clear empties, peek does not refresh', () => {
  const l = new Lru<number, string>(2);
  l.set(1, 'a');
  l.set(2, 'b');
  assert.equal(l.peek(1), 'a'); // no refresh: 1 is still the oldest
  l.set(3, 'c'); // evicts 1
  assert.equal(l.has(1), false);
  assert.equal(l.delete(2), true);
  assert.equal(l.delete(2), false);
  l.set(4, 'd'); // reuses the freed slot, no eviction
  assert.deepStrictEqual(l.keys(), [3, 4]);
  assert.equal(l.stats().evictions, 1);
  l.clear();
  assert.equal(l.size, 0);
  assert.deepStrictEqual(l.keys(), []);
  l.set(5, 'e');
  assert.equal(l.get(5), 'e');
});

test('Lru: behaves like a reference model (random operations)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.tuple(fc.constantFrom('get', 'set', 'delete'), fc.integer({ min: 0, max: 7 })), { maxLength: 60 }),
      (cap, ops) => {
        const l = new Lru<number, number>(cap);
        let model: [number, number][] = []; // oldest first
        ops.forEach(([op, k], i) => {
          const at = model.findIndex(([mk]) => mk === k);
          if (op === 'get') {
            const got = l.get(k);
            if (at < 0) assert.equal(got, undefined);
            else {
              const entry = model.splice(at, 1)[0]!;
              model.push(entry);
              assert.equal(got, entry[1]);
            }
          } else if (op === 'set') {
            l.set(k, i);
            if (at >= 0) model.splice(at, 1);
            else if (model.length === cap) model.shift();
            model.push([k, i]);
          } else {
            assert.equal(l.delete(k), at >= 0);
            if (at >= 0) model.splice(at, 1);
          }
          assert.deepStrictEqual(l.keys(), model.map(([mk]) => mk));
        });
        model = [];
      },
    ),
    { numRuns: 500 },
  );
});

test('stripMycatBytes: cuts the hint out of the client bytes, leaves every other byte as sent', async () => {
  const { stripMycatBytes } = await import('../../../src/routing/hints.js');
  // latin1 bytes: "/*!mycat:db_type=master*/ SELECT 'café'" with é = 0xE9 (not UTF-8)
  const raw = Buffer.concat([Buffer.from("/*!mycat:db_type=master*/ SELECT 'caf"), Buffer.from([0xe9]), Buffer.from("'")]);
  const sql = raw.toString('utf8');
  const c = classify(sql);
  assert.ok(c.strippedRanges !== undefined);
  const out = stripMycatBytes(raw, sql, c.strippedRanges!)!;
  assert.deepEqual(out, Buffer.concat([Buffer.from("SELECT 'caf"), Buffer.from([0xe9]), Buffer.from("'")]));
  // A hint in the middle, and two of them.
  const two = Buffer.from('SELECT /*#mycat:db_type=slave*/ 1 /*!mycat:db_type=slave*/');
  const c2 = classify(two.toString('utf8'));
  assert.equal(stripMycatBytes(two, two.toString('utf8'), c2.strippedRanges!)!.toString(), 'SELECT   1');
  // A hint whose bytes are not there (a non-ASCII hint sent in another charset): undefined.
  assert.equal(stripMycatBytes(Buffer.from('SELECT 1'), '/*!mycat:x*/ SELECT 1', [0, 12]), undefined);
});
