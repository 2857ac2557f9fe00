/**
 * Several built Sluice instances that cooperate (cluster.cooperation): their roles as their logs
 * tell, the promotions they made, and clients writing unique ids through them (for "nothing
 * acknowledged is lost" checks).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { Sandbox } from '../../src/sandbox/index.js';
import type { BuiltProxy } from './built-proxy.js';
import { promotingFailover } from './sandbox.js';

/** The instance's current role, from its last cooperation log line ('leading', 'following', …). */
export function role(p: BuiltProxy): string | undefined {
  let last: string | undefined;
  for (const line of p.log().split('\n')) {
    const m = /"msg":"cooperation: this instance is ([a-z ]+?)"/.exec(line);
    if (m) last = m[1];
  }
  return last;
}

export function leadersOf(instances: ReadonlyMap<string, BuiltProxy>): string[] {
  return [...instances].filter(([, p]) => role(p) === 'leading').map(([n]) => n);
}

/** Promotions an instance carried out (one log line each). */
export function promotionsBy(p: BuiltProxy): number {
  return p.log().match(/"msg":"promoted writeHost"/g)?.length ?? 0;
}

export interface Writers {
  readonly acked: Set<number>;
  /** Per instance: [sent, acknowledged] times of acknowledged writes. */
  readonly ackTimes: Map<string, [number, number][]>;
  readonly errors: Map<string, string[]>;
  /** When each acknowledged id was sent and acknowledged (ms). */
  readonly sentAt: Map<number, number>;
  readonly ackedAt: Map<number, number>;
  stop(): Promise<void>;
}

export interface WriterTarget {
  readonly host: string;
  readonly port: number;
}

let nextId = 1;

/**
 * `perInstance` clients per instance insert unique ids into `table` (id INT PRIMARY KEY, via
 * VARCHAR) in a loop, reconnecting after an error.
 */
export function startWriters(
  targets: ReadonlyMap<string, WriterTarget>,
  account: { user: string; password: string },
  table: string,
  perInstance = 3,
): Writers {
  const acked = new Set<number>();
  const ackTimes = new Map<string, [number, number][]>();
  const errors = new Map<string, string[]>();
  const sentAt = new Map<number, number>();
  const ackedAt = new Map<number, number>();
  let running = true;
  const loops = [...targets].flatMap(([name, t]) =>
    Array.from({ length: perInstance }, async () => {
      let c: mysql.Connection | undefined;
      while (running) {
        const id = nextId++;
        const sent = Date.now();
        try {
          c ??= await mysql.createConnection({ host: t.host, port: t.port, ...account, connectTimeout: 2_000 });
          await c.query(`INSERT INTO ${table} (id, via) VALUES (?, ?)`, [id, name]);
          acked.add(id);
          sentAt.set(id, sent);
          ackedAt.set(id, Date.now());
          (ackTimes.get(name) ?? ackTimes.set(name, []).get(name)!).push([sent, Date.now()]);
        } catch (err) {
          (errors.get(name) ?? errors.set(name, []).get(name)!).push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
          c?.destroy();
          c = undefined;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      c?.destroy();
    }),
  );
  return {
    acked,
    sentAt,
    ackedAt,
    ackTimes,
    errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Whether `name` had a write acknowledged that was sent after `t0`. */
export function resumedSince(w: Writers, name: string, t0: number): boolean {
  return (w.ackTimes.get(name) ?? []).some(([sent]) => sent > t0);
}

/** Per instance: ms from `t0` to the first acknowledgement of a write sent after it. */
export function resumeTimes(w: Writers, names: readonly string[], t0: number): number[] {
  return names.map((n) => (w.ackTimes.get(n) ?? []).find(([sent]) => sent > t0)![1] - t0);
}

/** @@server_id of the server `target` sends writes to (a /*master*​/ read). */
export async function writerServerId(target: WriterTarget, account: { user: string; password: string }): Promise<number> {
  const c = await mysql.createConnection({ host: target.host, port: target.port, ...account, connectTimeout: 2_000 });
  try {
    const [rows] = await c.query('/*master*/ SELECT @@server_id AS id');
    return Number((rows as { id: number }[])[0]!.id);
  } finally {
    c.destroy();
  }
}

/** With SLUICE_TEST_LOGS=<dir>, each instance's log is written there (to read after a failure). */
export function dumpLogs(instances: ReadonlyMap<string, BuiltProxy>): void {
  const dir = process.env['SLUICE_TEST_LOGS'];
  if (dir === undefined || dir === '') return;
  mkdirSync(dir, { recursive: true });
  for (const [name, p] of instances) writeFileSync(path.join(dir, `instance-${name}.log`), p.log());
}

/** Times (ms since the epoch) at which the instance's writeHost moved, from its log. */
export function switchTimes(p: BuiltProxy): number[] {
  const out: number[] = [];
  for (const line of p.log().split('\n')) {
    if (!line.includes('"msg":"writeHost switched"')) continue;
    const m = /"time":(\d+)/.exec(line);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/**
 * The config of one cooperating instance in front of `sb`: every sandbox server a writeHost,
 * failover with promote and rejoin (the sandbox's admin and replication accounts), its own
 * dnindex file, `cluster.cooperation: backend-locks` under `name`.
 */
export function cooperatingInstanceConfig(
  sb: Sandbox,
  name: string,
  opts: { heartbeat: { intervalMs: number; timeoutMs: number; retries: number }; lockTimeoutSeconds: number },
): Record<string, unknown> {
  return {
    dataHost: {
      name: 'dh1',
      user: sb.user,
      password: sb.password,
      writeHosts: sb.servers.map((x) => ({ host: x.host, port: x.port })),
      heartbeat: opts.heartbeat,
      failover: promotingFailover(sb, path.join(sb.dir, `dnindex-${name}.properties`)),
      replication: { maxLagSeconds: 10, checkEveryMs: 300, readmitAfter: 2 },
    },
    cluster: { cooperation: 'backend-locks', instanceName: name, lockTimeoutSeconds: opts.lockTimeoutSeconds },
  };
}
