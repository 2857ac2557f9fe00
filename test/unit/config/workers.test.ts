/** `workers`: validation, what auto resolves to, each worker's share of the pool sizes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, CONFIG_DEFAULTS, describeConfig, MAX_AUTO_WORKERS, poolShare, resolveWorkers, validateConfig } from '../../../src/config/index.js';

const base = {
  listen: { port: 8066 },
  users: [{ name: 'app', password: 'app' }],
  dataHost: { name: 'dh1', user: 'app', password: 'app', writeHosts: [{ host: '127.0.0.1', port: 3311 }] },
};

function problems(workers: unknown): readonly string[] {
  try {
    validateConfig({ ...base, workers });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.errors;
  }
}

test('workers: default auto; a number 1-64 or "auto"; anything else is named', () => {
  assert.equal(validateConfig(base).workers, 'auto');
  assert.equal(validateConfig({ ...base, workers: 4 }).workers, 4);
  assert.equal(validateConfig({ ...base, workers: 'auto' }).workers, 'auto');
  for (const bad of [0, 65, 1.5, 'all', '4', true]) {
    assert.deepEqual(problems(bad), [`workers: must be "auto" or an integer 1-64, got ${JSON.stringify(bad)}`]);
  }
});

test('auto: one per core, capped; a number is taken as given', () => {
  assert.equal(resolveWorkers('auto', 1).count, 1);
  assert.equal(resolveWorkers('auto', 2).count, 2);
  assert.equal(resolveWorkers('auto', 64).count, MAX_AUTO_WORKERS);
  assert.match(resolveWorkers('auto', 64).why, /64 cores available, capped at 16/);
  assert.match(resolveWorkers('auto', 8).why, /one per available core \(8\)/);
  assert.deepEqual(resolveWorkers(3, 64), { count: 3, why: 'workers: 3 as configured' });
  assert.equal(resolveWorkers(1, 64).count, 1);
});

test('pool shares add up to the configured min and max; every worker may open one connection', () => {
  const pool = { ...CONFIG_DEFAULTS.pool, min: 2, max: 64 };
  for (const workers of [1, 2, 3, 5, 8, 16, 100]) {
    const shares = Array.from({ length: workers }, (_, slot) => poolShare(pool, workers, slot));
    assert.equal(shares.reduce((n, s) => n + s.min, 0), 2, `min over ${workers} workers`);
    if (workers <= 64) assert.equal(shares.reduce((n, s) => n + s.max, 0), 64, `max over ${workers} workers`);
    for (const s of shares) {
      assert.ok(s.max >= 1 && s.min <= s.max);
      assert.equal(s.idleTimeoutMs, pool.idleTimeoutMs);
    }
  }
  assert.deepEqual(poolShare(pool, 1, 0), pool);
});

test('sluice check says how many processes run, why, and how the pools are shared', () => {
  const one = describeConfig(validateConfig({ ...base, workers: 1 }), 8).lines.join('\n');
  assert.match(one, /processes: one \(workers: 1/);
  const auto = describeConfig(validateConfig(base), 4).lines.join('\n');
  assert.match(auto, /processes: 4 workers relay client connections .* \(workers: auto — one per available core \(4\)\); backend pools are shared out: at most 64 connections per backend in all, about 16 per worker/);
});
