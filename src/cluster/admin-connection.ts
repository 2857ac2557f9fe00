/**
 * A short-lived connection to one backend as the failover account (failover.user, else
 * dataHost.user), bounded in time as a whole: what promotion, fencing, rejoin and switchover
 * run their statements on.
 */
import mysql from 'mysql2/promise';
import type { DataHostConfig } from '../config/types.js';
import { withTimeout } from './monitor.js';

export async function withAdminConnection<T>(
  dh: DataHostConfig,
  ssl: mysql.SslOptions | undefined,
  h: { host: string; port: number },
  ms: number,
  fn: (c: mysql.Connection) => Promise<T>,
): Promise<T> {
  const f = dh.failover;
  let conn: mysql.Connection | undefined;
  const work = (async () => {
    conn = await mysql.createConnection({
      host: h.host,
      port: h.port,
      user: f.user ?? dh.user,
      password: f.user !== undefined ? (f.password ?? '') : dh.password,
      connectTimeout: ms,
      ...(ssl ? { ssl } : {}),
    });
    conn.on('error', () => undefined);
    return fn(conn);
  })();
  try {
    const out = await withTimeout(work, ms, `timed out after ${ms} ms`);
    await withTimeout(conn!.end(), 1_000, 'end').catch(() => conn?.destroy());
    return out;
  } catch (err) {
    // A late connection (after the timeout) is destroyed when it arrives.
    void work.catch(() => undefined).finally(() => conn?.destroy());
    conn?.destroy();
    throw err;
  }
}

export async function readOnlyOf(c: mysql.Connection): Promise<boolean> {
  const [rows] = await c.query('SELECT @@GLOBAL.read_only AS ro');
  return Number((rows as { ro: unknown }[])[0]?.ro) === 1;
}
