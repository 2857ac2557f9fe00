import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../../../src/routing/classify.js';
import { readCandidates, route } from '../../../src/routing/router.js';
import type { RouteDecision } from '../../../src/routing/types.js';
import { makeView, routeCases, SESSIONS, TOPOLOGIES } from './router.cases.js';

function describe(d: RouteDecision): string {
  switch (d.target) {
    case 'reader':
      return `reader(${d.reason}) [${d.candidates.map((h) => h.id).join(', ')}]`;
    case 'error':
      return `error ${d.errno} ${d.sqlState}: ${d.message}`;
    default:
      return `${d.target}(${d.reason})`;
  }
}

test('route: case table (each failing case is named)', () => {
  assert.ok(routeCases.length >= 80, `only ${routeCases.length} cases`);
  const failures: string[] = [];
  for (const rc of routeCases) {
    const view = makeView(rc.balance, TOPOLOGIES[rc.hosts]);
    const d = route(classify(rc.sql), SESSIONS[rc.session], view);
    const label = `${JSON.stringify(rc.sql)} balance=${rc.balance} hosts=${rc.hosts} session=${rc.session}`;
    const e = rc.expect;
    let ok = d.target === e.target;
    if (ok && d.target === 'error' && e.target === 'error') ok = d.errno === e.errno && d.sqlState === 'HY000';
    if (ok && (d.target === 'writer' || d.target === 'last' || d.target === 'anchor') && (e.target === 'writer' || e.target === 'last' || e.target === 'anchor')) {
      ok = d.reason === e.reason;
    }
    if (ok && d.target === 'reader' && e.target === 'reader') {
      ok = d.reason === e.reason && JSON.stringify(d.candidates.map((h) => h.id)) === JSON.stringify(e.candidates);
    }
    if (!ok) failures.push(`${label}: got ${describe(d)}, expected ${JSON.stringify(e)}`);
  }
  assert.deepStrictEqual(failures, [], `\n${failures.join('\n')}`);
});

test('route: error messages name the dataHost / writeHost', () => {
  const down = route(classify('UPDATE t SET a=1'), SESSIONS.idle, makeView(1, TOPOLOGIES.writerDown));
  assert.equal(down.target, 'error');
  if (down.target === 'error') {
    assert.equal(down.errno, 2003);
    assert.match(down.message, /no writeHost is available in dataHost 'dh1'/);
  }
  const ro = route(classify('UPDATE t SET a=1'), SESSIONS.idle, makeView(1, TOPOLOGIES.writerReadOnly));
  assert.equal(ro.target, 'error');
  if (ro.target === 'error') {
    assert.equal(ro.errno, 1290);
    assert.equal(ro.sqlState, 'HY000');
    assert.match(ro.message, /w1:3306.*read-only/);
  }
});

test('route: pure — same inputs, same decision; candidate lists are memoised per view', () => {
  const view = makeView(1, TOPOLOGIES.allUp);
  const c = classify('SELECT 1');
  const a = route(c, SESSIONS.idle, view);
  const b = route(c, SESSIONS.idle, view);
  assert.deepStrictEqual(a, b);
  assert.ok(a.target === 'reader' && b.target === 'reader');
  if (a.target === 'reader' && b.target === 'reader') {
    assert.equal(a.candidates, b.candidates, 'same array object for the same view');
    assert.ok(Object.isFrozen(a.candidates));
  }
  assert.equal(readCandidates(view, 1), readCandidates(view, 1));
  const view2 = makeView(1, TOPOLOGIES.r1Down);
  assert.notEqual(readCandidates(view2, 1), readCandidates(view, 1));
  assert.deepStrictEqual(readCandidates(view2, 1).map((h) => h.id), ['r2:3306', 'w2:3306']);
});

test('route: a standby writeHost that became the writer is not a balance-1 reader', () => {
  // failover happened: writerIndex 1, w1 is back up but no longer the writer (no preemption)
  const view = makeView(1, TOPOLOGIES.allUp, 1);
  assert.equal(view.writer?.id, 'w2:3306');
  assert.deepStrictEqual(readCandidates(view, 1).map((h) => h.id), ['r1:3306', 'r2:3306', 'w1:3306']);
  const d = route(classify('UPDATE t SET a=1'), SESSIONS.idle, view);
  assert.equal(d.target, 'writer');
});

test('route: every combination yields a well-formed decision', () => {
  const sqls = ['SELECT 1', 'UPDATE t SET a=1', 'BEGIN', 'START TRANSACTION READ ONLY', 'SHOW WARNINGS', '/*slave*/ SELECT 1', '/*master*/ SELECT 1', 'SELECT 1; SELECT 2', 'SELECT * FROM t FOR UPDATE', 'SET NAMES utf8', 'CREATE TEMPORARY TABLE x (a INT)', 'garbage'];
  for (const balance of [0, 1, 2, 3] as const) {
    for (const [hostsName, hosts] of Object.entries(TOPOLOGIES)) {
      const view = makeView(balance, hosts);
      for (const [sessionName, session] of Object.entries(SESSIONS)) {
        for (const sql of sqls) {
          const d = route(classify(sql), session, view);
          const label = `${sql} b=${balance} ${hostsName} ${sessionName}`;
          if (d.target === 'reader') {
            assert.ok(d.candidates.length > 0, label);
            for (const h of d.candidates) assert.ok(h.readable && h.weight > 0, label);
            if (!(sql.startsWith('/*slave*/') || (balance === 2))) {
              assert.ok(!d.candidates.some((h) => h.id === view.writer?.id), label);
            }
          }
          if (d.target === 'writer') assert.ok(view.writer !== undefined, label);
          // a write never goes to a reader
          if (sql.startsWith('UPDATE') || sql.startsWith('CREATE') || sql === 'garbage') assert.notEqual(d.target, 'reader', label);
        }
      }
    }
  }
});
