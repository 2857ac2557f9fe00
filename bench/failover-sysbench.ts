/**
 * sysbench oltp_read_write as the load of bench/failover.ts (--sysbench): prepares its tables on
 * the primary, runs it through the proxy with a report every second, and reads what it says —
 * transactions per second around the event, errors it ignored (each one a client-visible
 * failure), reconnects — plus the invariant its transactions keep: each one DELETEs a row and
 * INSERTs it back, so every table keeps exactly --table-size rows unless a transaction was
 * applied twice or half.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { SandboxServer } from '../src/sandbox/index.js';

export const SYSBENCH_TABLES = 4;
export const SYSBENCH_TABLE_SIZE = 10_000;

export interface SysbenchTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly db: string;
}

/** One `--report-interval=1` line: the second it ends at (s since start) and its rates. */
export interface SysbenchSecond {
  readonly second: number;
  readonly tps: number;
  readonly errorsPerSecond: number;
  readonly reconnectsPerSecond: number;
}

export interface SysbenchRun {
  readonly ok: boolean;
  readonly seconds: SysbenchSecond[];
  readonly transactions: number;
  readonly ignoredErrors: number;
  readonly reconnects: number;
  /** Lines that say something went wrong (FATAL, error …). */
  readonly complaints: string[];
  readonly logFile: string;
}

function common(t: SysbenchTarget, threads: number): string[] {
  return [
    'oltp_read_write',
    `--mysql-host=${t.host}`,
    `--mysql-port=${t.port}`,
    `--mysql-user=${t.user}`,
    `--mysql-password=${t.password}`,
    `--mysql-db=${t.db}`,
    `--tables=${SYSBENCH_TABLES}`,
    `--table-size=${SYSBENCH_TABLE_SIZE}`,
    `--threads=${threads}`,
  ];
}

export function sysbenchVersion(): string {
  const r = spawnSync('sysbench', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** `sysbench oltp_read_write prepare` straight on the primary. */
export function prepareSysbench(primary: SysbenchTarget): void {
  const r = spawnSync('sysbench', [...common(primary, 4), 'prepare'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sysbench prepare failed:\n${r.stdout}${r.stderr}`);
}

/**
 * Runs sysbench through the proxy for `seconds`. Every error is ignored (sysbench rolls the
 * transaction back, reconnects when the connection is gone, and counts it): each counted error
 * is one a client saw.
 */
export function runSysbench(proxy: SysbenchTarget, threads: number, seconds: number, logFile: string): Promise<SysbenchRun> {
  const args = [...common(proxy, threads), `--time=${seconds}`, '--report-interval=1', '--db-ps-mode=auto', '--mysql-ignore-errors=all', 'run'];
  return new Promise((resolve) => {
    const child = spawn('sysbench', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => {
      fs.writeFileSync(logFile, `$ sysbench ${args.join(' ')}\n${out}`);
      resolve(parseSysbench(out, code === 0, logFile));
    });
  });
}

export function parseSysbench(out: string, ok: boolean, logFile: string): SysbenchRun {
  const seconds: SysbenchSecond[] = [];
  for (const m of out.matchAll(/^\[ (\d+)s \] .*?tps: ([\d.]+) .*?err\/s: ([\d.]+) reconn\/s: ([\d.]+)/gm)) {
    seconds.push({ second: Number(m[1]), tps: Number(m[2]), errorsPerSecond: Number(m[3]), reconnectsPerSecond: Number(m[4]) });
  }
  const total = (label: string): number => Number(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm').exec(out)?.[1] ?? NaN);
  return {
    ok,
    seconds,
    transactions: total('transactions'),
    ignoredErrors: total('ignored errors'),
    reconnects: total('reconnects'),
    complaints: out.split('\n').filter((l) => /FATAL|error|warning/i.test(l) && !/ignored errors|err\/s/.test(l)),
    logFile,
  };
}

/** Tables whose row count is not --table-size on `srv` (a transaction applied twice or half). */
export async function sysbenchRowCountsOff(srv: SandboxServer, db: string): Promise<string[]> {
  const off: string[] = [];
  for (let i = 1; i <= SYSBENCH_TABLES; i++) {
    const rows = (await srv.query(`SELECT COUNT(*) AS n FROM ${db}.sbtest${i}`)) as { n: number }[];
    const n = Number(rows[0]?.n);
    if (n !== SYSBENCH_TABLE_SIZE) off.push(`sbtest${i}: ${n} rows`);
  }
  return off;
}
