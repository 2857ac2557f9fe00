/** The failed-login delay table and the host error table (pure, bounded). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPIRY_MS, LoginThrottle, delayAfter } from '../../../src/frontend/login-throttle.js';
import { HostErrors } from '../../../src/frontend/host-errors.js';
import { AddressTables } from '../../../src/frontend/address-guard.js';
import { validateConfig } from '../../../src/config/index.js';

const S = { threshold: 3, maxDelayMs: 10_000 };

test('delays start after the threshold, double, and stop at the cap', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 100].map((f) => delayAfter(f, S)),
    [0, 0, 0, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000],
  );
  assert.equal(delayAfter(50, { threshold: 0, maxDelayMs: 10_000 }), 0, 'threshold 0 turns delays off');
});

test('a (user, address) is delayed after its failures, right password included; a success clears it', () => {
  const t = new LoginThrottle();
  const now = 1_000_000;
  assert.deepEqual([1, 2, 3].map(() => t.attempt('app', '10.0.0.1', false, S, now)), [0, 0, 0]);
  assert.equal(t.attempt('app', '10.0.0.1', false, S, now), 1_000, 'the 4th attempt waits 1 s');
  assert.equal(t.attempt('app', '10.0.0.1', false, S, now), 2_000);
  // other users and other addresses are not touched
  assert.equal(t.attempt('other', '10.0.0.1', false, S, now), 0);
  assert.equal(t.attempt('app', '10.0.0.2', true, S, now), 0);
  // the right password is delayed too (its speed must not tell it apart), then clears the record
  assert.equal(t.attempt('app', '10.0.0.1', true, S, now), 4_000);
  assert.equal(t.failures('app', '10.0.0.1'), 0);
  assert.equal(t.attempt('app', '10.0.0.1', false, S, now), 0);
});

test('the throttle table is bounded and forgets old records', () => {
  const t = new LoginThrottle(100);
  for (let i = 0; i < 1_000; i++) t.attempt('u', `10.0.${i >> 8}.${i & 255}`, false, S, 0);
  assert.equal(t.size, 100);
  assert.equal(t.failures('u', '10.0.3.231'), 1, 'the most recent is kept');
  assert.equal(t.failures('u', '10.0.0.0'), 0, 'the oldest went first');
  t.attempt('u', 'x', false, S, EXPIRY_MS + 1);
  assert.equal(t.size, 1, 'records untouched for EXPIRY_MS are forgotten');
});

test('host errors block at the limit, a reset or flush unblocks; the table is bounded', () => {
  const h = new HostErrors(3);
  assert.equal(h.add('a', 2, 1), false);
  assert.equal(h.isBlocked('a', 2), false);
  assert.equal(h.add('a', 2, 2), true, 'the error that reaches the limit blocks');
  assert.equal(h.isBlocked('a', 2), true);
  assert.equal(h.isBlocked('a', 0), false, '0 turns blocking off');
  assert.deepEqual(h.blockedAddresses(2), ['a']);
  assert.equal(h.reset('a'), true);
  assert.equal(h.isBlocked('a', 2), false);
  h.add('a', 1, 3);
  h.add('b', 1, 4);
  assert.equal(h.flush(1), 2);
  assert.equal(h.size, 0);
  for (const x of ['p', 'q', 'r', 's']) h.add(x, 9, 5);
  assert.equal(h.size, 3);
  assert.deepEqual(h.rows(9).map((r) => r.address).sort(), ['q', 'r', 's']);
});

test('AddressTables: a granted login clears the host errors and says the blocked set changed', () => {
  const config = validateConfig({
    listen: { port: 0 },
    users: [{ name: 'u', password: 'p' }],
    dataHost: { name: 'dh', user: 'u', password: 'p', writeHosts: [{ host: '127.0.0.1', port: 3306 }] },
    limits: { maxConnectErrors: 2, failedLoginThreshold: 1, failedLoginMaxDelayMs: 5_000 },
  });
  const t = new AddressTables(() => config.limits);
  let changes = 0;
  t.onBlockedChange = () => changes++;
  t.connectError('10.0.0.9');
  t.connectError('10.0.0.9');
  assert.equal(t.isBlocked('10.0.0.9'), true);
  assert.equal(changes, 1);
  assert.equal(t.loginAttempt('u', '10.0.0.9', false), 0);
  assert.equal(t.loginAttempt('u', '10.0.0.9', true), 1_000, 'after 1 failure (threshold 1) the next attempt waits');
  assert.equal(t.isBlocked('10.0.0.9'), false);
  assert.equal(changes, 2);
});
