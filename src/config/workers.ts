/**
 * `workers`: how many processes relay client connections (node:cluster, one listening port).
 * `auto` = the cores this process may use, capped; `1` = one process doing everything.
 * Backend pool sizes are for the whole proxy: each worker gets its share (poolShare), so the
 * database sees the connection counts the config names, however many workers run.
 */
import { availableParallelism } from 'node:os';
import type { Checker, Obj } from './checker.js';
import type { PoolConfig, WorkersSetting } from './types.js';

/**
 * More workers than this gain little: the primary process hands every accepted socket to a
 * worker and fans view changes out to all of them, and a proxy host with more cores usually
 * runs other things too. Set a number to go beyond it.
 */
export const MAX_AUTO_WORKERS = 16;
/** Every worker numbers its connections in its own block of ids (frontend/server.ts); 127 blocks fit under 2^31, and a replaced worker needs a free one. */
export const MAX_WORKERS = 64;

export function checkWorkers(c: Checker, root: Obj | undefined): WorkersSetting {
  if (root === undefined || !c.present(root, 'workers')) return 'auto';
  const v = root['workers'];
  if (v === 'auto') return 'auto';
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_WORKERS) {
    c.problem('workers', `must be "auto" or an integer 1-${MAX_WORKERS}, got ${JSON.stringify(v)}`);
    return 1;
  }
  return v;
}

export interface WorkerCount {
  readonly count: number;
  /** Why this many, in words (start-up log, `sluice check`). */
  readonly why: string;
}

export function resolveWorkers(setting: WorkersSetting, cores = availableParallelism()): WorkerCount {
  if (setting !== 'auto') {
    return { count: setting, why: setting === 1 ? 'workers: 1 (one process relays every connection)' : `workers: ${setting} as configured` };
  }
  const count = Math.max(1, Math.min(cores, MAX_AUTO_WORKERS));
  return {
    count,
    why:
      cores > MAX_AUTO_WORKERS
        ? `workers: auto — ${cores} cores available, capped at ${MAX_AUTO_WORKERS} (set a number to use more)`
        : `workers: auto — one per available core (${cores})`,
  };
}

/**
 * Worker `slot`'s share of the pool sizes: `min` and `max` are divided so that the shares add up
 * to the configured numbers (the first slots take the remainder); every worker may open at
 * least one connection per host.
 */
export function poolShare(pool: PoolConfig, workers: number, slot: number): PoolConfig {
  if (workers <= 1) return pool;
  const share = (n: number): number => Math.floor(n / workers) + (slot < n % workers ? 1 : 0);
  const max = Math.max(1, share(pool.max));
  return { ...pool, max, min: Math.min(share(pool.min), max) };
}
