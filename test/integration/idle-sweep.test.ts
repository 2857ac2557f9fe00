/**
 * Giving back the backend connections of idle sessions (session.holdConnectionMs) costs work in
 * proportion to the connections given back, not to the sessions that are open: an application's
 * pool of idle client connections is never visited, nor are sessions busy with statements.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { Session } from '../../src/frontend/session.js';

const HOLD_MS = 40;
let proxy: TestProxy;

before(async () => {
  proxy = await startProxy({ session: { holdConnectionMs: HOLD_MS } });
});

after(async () => {
  await proxy?.close();
});

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function borrowed(p: TestProxy): number {
  let n = 0;
  for (const id of [p.sandbox.primary, ...p.sandbox.replicas].map((s) => `${s.host}:${s.port}`)) {
    n += p.sluice.pools(id)?.stats().borrowed ?? 0;
  }
  return n;
}

/** Calls of Session.sweep (every visit of the sweeper to a session) while `fn` runs. */
async function sweepVisits(fn: () => Promise<void>): Promise<number> {
  const original = Session.prototype.sweep;
  let visits = 0;
  Session.prototype.sweep = function (this: Session, now: number) {
    visits++;
    return original.call(this, now);
  };
  try {
    await fn();
  } finally {
    Session.prototype.sweep = original;
  }
  return visits;
}

test('idle client connections that keep no backend connection are never visited by the sweeper', async () => {
  const idle: mysql.Connection[] = [];
  try {
    for (let i = 0; i < 40; i++) idle.push(await proxy.connect());
    // The login's schema check borrowed a connection for each; they go back after HOLD_MS.
    await delay(HOLD_MS * 4);
    assert.equal(borrowed(proxy), 0, 'every connection kept at login was given back');
    // 40 open sessions, none keeps anything: 10 sweeper ticks visit none of them.
    const visits = await sweepVisits(() => delay(HOLD_MS * 5));
    assert.equal(visits, 0);
    assert.equal(proxy.sluice.frontend.sweeper?.watched, 0);
  } finally {
    for (const c of idle) c.destroy();
  }
});

test('a session that keeps connections is visited until it has given them back, then no more', async () => {
  const idle: mysql.Connection[] = [];
  const active = await proxy.connect();
  try {
    for (let i = 0; i < 20; i++) idle.push(await proxy.connect());
    await delay(HOLD_MS * 4);
    let keptRightAfter = 0;
    const visits = await sweepVisits(async () => {
      await active.query('SELECT 1');
      keptRightAfter = borrowed(proxy);
      await delay(HOLD_MS * 4);
    });
    assert.equal(keptRightAfter, 1, 'the session keeps its connection between statements');
    assert.equal(borrowed(proxy), 0, 'given back after holdConnectionMs of idleness');
    // Only the active session was visited, once, when it had been idle for HOLD_MS; never the 20 idle ones.
    assert.equal(visits, 1);
    assert.equal(proxy.sluice.frontend.sweeper?.watched, 0);
  } finally {
    await active.end();
    for (const c of idle) c.destroy();
  }
});

test('sessions running statements back to back are not visited: none is idle long enough', async () => {
  const clients = await Promise.all(Array.from({ length: 10 }, () => proxy.connect()));
  try {
    await delay(HOLD_MS * 4);
    let statements = 0;
    const visits = await sweepVisits(async () => {
      const until = Date.now() + HOLD_MS * 8;
      await Promise.all(
        clients.map(async (c) => {
          while (Date.now() < until) {
            await c.query('SELECT 1');
            statements++;
          }
        }),
      );
    });
    assert.ok(statements >= 10 * 8, `statements: ${statements}`);
    // 0 unless the machine stalled a client for HOLD_MS between two statements (a loaded CI
    // machine does, now and then); a sweep over the busy sessions makes some 10 × 16 visits.
    assert.ok(visits <= 10, `visits: ${visits}`);
    await delay(HOLD_MS * 4);
    assert.equal(borrowed(proxy), 0, 'given back once they stopped');
  } finally {
    for (const c of clients) await c.end();
  }
});
