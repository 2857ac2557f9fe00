/**
 * Soak: a long mixed load through the proxy, to see whether memory or file descriptors grow and
 * which errors clients get while replicas stall now and then.
 *
 *   npx tsx bench/soak.ts [--minutes 60] [--pause-every-s 180] [--pause-s 5] [--workers 2] [--write]
 *
 * 1. builds dist/ when src/ is newer, starts a sandbox (MariaDB primary + 2 GTID replicas) with
 *    `sluice_test.soak_kv` (1000 rows), and the proxy from the build as its own process (primary =
 *    writeHost, both replicas = readHosts, balance 1, heartbeat 500 ms / 500 ms / 3 retries,
 *    `workers: N`, log level info to a file);
 * 2. runs, all through the proxy with mysql2: point selects (text protocol), short read-write
 *    transactions (BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT), prepared statements (execute:
 *    a point select and now and then an UPDATE), and connect/disconnect churn (connect, one
 *    SELECT, end);
 * 3. every --pause-every-s one replica (alternating) gets SIGSTOP for --pause-s, then SIGCONT;
 * 4. every --sample-s reads Σ VmRSS and Σ open fds (/proc/<pid>/fd) over the proxy's processes
 *    (primary and workers, bench/proc-group.ts);
 * 5. prints a markdown summary: RSS and fds after the warm-up vs at the end, their max and slope
 *    per hour (least squares over the samples after the warm-up), statements per second by kind,
 *    reads that waited (> 1 s), and client errors by kind — expected (a read or a connection
 *    that failed while a replica was paused, or within --grace-s after it resumed) or
 *    unexpected (anything else); --write puts it at the top of bench/RESULTS.md.
 *
 * Exit status 1 when there were unexpected errors, the proxy died, or nothing ran.
 */
import { delay, freePort, intOption, LOAD_AVERAGE, machineLine, sluiceLine, buildDistIfNeeded, writeResults } from './util.js';
import { BenchLifecycle } from './lifecycle.js';
import { groupPids, readProc } from './proc-group.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import YAML from 'yaml';
import { sandboxProxyConfig, startSandbox, type Sandbox } from '../src/sandbox/index.js';

const USAGE = `usage: npx tsx bench/soak.ts [options]
  --minutes N          length of the load (default 60)
  --pause-every-s S    SIGSTOP a replica (alternating) this often (default 180; 0 = never)
  --pause-s S          for this long, then SIGCONT (default 5)
  --grace-s S          errors this long after a SIGCONT still count as caused by it (default 10)
  --warmup-s S         samples before this are left out of "after warm-up" and the slopes
                       (default: a fifth of the run, at most 300)
  --sample-s S         RSS / fd sampling interval (default 5)
  --readers N          point-select clients (default 6)
  --tx N               read-write transaction clients (default 2)
  --ps N               prepared-statement clients (default 2)
  --churn N            connect/disconnect clients (default 2)
  --workers N          the proxy's worker processes (default 2)
  --write              put the summary at the top of bench/RESULTS.md
  --out DIR            generated config and proxy log (default bench/out)`;

const { values: opt } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    'pause-every-s': { type: 'string', default: '180' },
    'pause-s': { type: 'string', default: '5' },
    'grace-s': { type: 'string', default: '10' },
    'warmup-s': { type: 'string' },
    'sample-s': { type: 'string', default: '5' },
    readers: { type: 'string', default: '6' },
    tx: { type: 'string', default: '2' },
    ps: { type: 'string', default: '2' },
    churn: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    write: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/out' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const int = (name: string, min: number): number => intOption(name, (opt as unknown as Record<string, string | undefined>)[name], min, USAGE);
const MINUTES = Number(opt.minutes);
if (!(MINUTES > 0)) intOption('minutes', opt.minutes, 1, USAGE);
const RUN_MS = MINUTES * 60_000;
const PAUSE_EVERY_MS = int('pause-every-s', 0) * 1000;
const PAUSE_MS = int('pause-s', 1) * 1000;
const GRACE_MS = int('grace-s', 0) * 1000;
const WARMUP_MS = opt['warmup-s'] !== undefined ? int('warmup-s', 0) * 1000 : Math.min(300_000, RUN_MS / 5);
const SAMPLE_MS = int('sample-s', 1) * 1000;
const WORKERS = int('workers', 1);
const CLIENTS = { read: int('readers', 0), tx: int('tx', 0), ps: int('ps', 0), churn: int('churn', 0) };
const REPO = process.cwd();
const OUT = path.resolve(opt.out);
const STAMP = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
const ROWS = 1000;
const TABLE = 'sluice_test.soak_kv';
/** A statement slower than this is a read that had to wait (a paused replica, most likely). */
const SLOW_MS = 1000;
/** Client-side limit per statement: a statement stuck longer is an error of its own kind. */
const STATEMENT_TIMEOUT_MS = 30_000;

const log = (msg: string): void => {
  process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const life = new BenchLifecycle(log);

// ---------------------------------------------------------------------------------------------
// Proxy

interface Proxy {
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  alive(): boolean;
}

async function startProxy(sb: Sandbox): Promise<Proxy> {
  const port = await freePort();
  const base = sandboxProxyConfig(sb, port) as { dataHost: Record<string, unknown> } & Record<string, unknown>;
  const config = {
    ...base,
    workers: WORKERS,
    dataHost: { ...base.dataHost, balance: 1, heartbeat: { sql: 'SELECT 1', intervalMs: 500, timeoutMs: 500, retries: 3 } },
    log: { level: 'info' },
  };
  fs.mkdirSync(OUT, { recursive: true });
  const configFile = path.join(OUT, `sluice-soak-${STAMP}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const logFile = path.join(OUT, `proxy-soak-${STAMP}.log`);
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [path.join(REPO, 'dist/main.js'), 'start', '--config', configFile], { stdio: ['ignore', fd, fd], cwd: REPO });
  fs.closeSync(fd);
  life.children.add(child);
  child.once('exit', () => life.children.delete(child));
  if (child.pid === undefined) throw new Error('proxy did not start');
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!alive()) throw new Error(`proxy exited during start-up; ${path.relative(REPO, logFile)}:\n${fs.readFileSync(logFile, 'utf8').trim()}`);
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: sb.user, password: sb.password, database: sb.database, connectTimeout: 2_000 });
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`proxy not accepting logins on ${port} after 30 s: ${String(err)}`);
      await delay(200);
    }
  }
  log(`proxy pid ${child.pid} on ${port} (workers: ${WORKERS}), log ${path.relative(REPO, logFile)}`);
  return { pid: child.pid, port, logFile, alive };
}

// ---------------------------------------------------------------------------------------------
// Load

type Op = 'point-select' | 'transaction' | 'prepared' | 'churn';
const OPS: readonly Op[] = ['point-select', 'transaction', 'prepared', 'churn'];

interface Pause {
  readonly replica: string;
  readonly from: number;
  to: number | undefined;
}

class Tally {
  readonly statements = new Map<Op, number>(OPS.map((o) => [o, 0]));
  readonly slow = new Map<Op, number>(OPS.map((o) => [o, 0]));
  readonly latencies = new Map<Op, number[]>(OPS.map((o) => [o, []]));
  /** "op: kind" → [expected, unexpected]. */
  readonly errors = new Map<string, [number, number]>();
  readonly firstUnexpected: string[] = [];
  readonly pauses: Pause[] = [];

  ok(op: Op, ms: number, statements: number): void {
    this.statements.set(op, this.statements.get(op)! + statements);
    if (ms > SLOW_MS) this.slow.set(op, this.slow.get(op)! + 1);
    const l = this.latencies.get(op)!;
    // A bounded reservoir: enough for percentiles without growing for an hour.
    if (l.length < 20_000) l.push(ms);
    else l[Math.floor(Math.random() * l.length)] = ms;
  }

  /** Near a pause, a read or a connection attempt may fail; a write or anything else must not. */
  error(op: Op, err: unknown, at: number): void {
    const e = err as { code?: string; errno?: number; message?: string };
    const kind = `${e.code ?? 'no code'}${e.errno !== undefined ? ` (${e.errno})` : ''}`;
    const nearPause = this.pauses.some((p) => at >= p.from && at <= (p.to ?? Infinity) + GRACE_MS);
    const expected = nearPause && op !== 'transaction';
    const key = `${op}: ${kind}`;
    const n = this.errors.get(key) ?? [0, 0];
    n[expected ? 0 : 1]++;
    this.errors.set(key, n);
    if (!expected && this.firstUnexpected.length < 10) {
      this.firstUnexpected.push(`${new Date(at).toISOString().slice(11, 23)} ${key}: ${String(e.message).slice(0, 200)}`);
    }
  }
}

const rnd = (): number => 1 + Math.floor(Math.random() * ROWS);

interface LoadContext {
  readonly sb: Sandbox;
  readonly port: number;
  readonly endAt: number;
  readonly tally: Tally;
}

const connect = (c: LoadContext): Promise<mysql.Connection> =>
  mysql.createConnection({ host: '127.0.0.1', port: c.port, user: c.sb.user, password: c.sb.password, database: c.sb.database, connectTimeout: 10_000 });

/** One client: runs `step` on its connection until the end, reconnecting after any error. */
async function client(c: LoadContext, op: Op, step: (conn: mysql.Connection) => Promise<number>): Promise<void> {
  let conn: mysql.Connection | undefined;
  while (Date.now() < c.endAt) {
    const t0 = Date.now();
    try {
      conn ??= await connect(c);
      const n = await step(conn);
      c.tally.ok(op, Date.now() - t0, n);
    } catch (err) {
      c.tally.error(op, err, Date.now());
      // Whatever state the connection is in (a half-done transaction, a timed-out statement), start afresh.
      conn?.destroy();
      conn = undefined;
      await delay(50);
    }
  }
  await conn?.end().catch(() => conn?.destroy());
}

const q = (conn: mysql.Connection, sql: string, values?: unknown[]) => conn.query({ sql, timeout: STATEMENT_TIMEOUT_MS, ...(values ? { values } : {}) });

const pointSelect = async (conn: mysql.Connection): Promise<number> => {
  const id = rnd();
  const [rows] = await q(conn, `SELECT id, v, c FROM ${TABLE} WHERE id = ?`, [id]);
  if ((rows as unknown[]).length !== 1) throw Object.assign(new Error(`row ${id} not found`), { code: 'WRONG_RESULT' });
  return 1;
};

const transaction = async (conn: mysql.Connection): Promise<number> => {
  const id = rnd();
  await q(conn, 'BEGIN');
  await q(conn, `SELECT v FROM ${TABLE} WHERE id = ? FOR UPDATE`, [id]);
  await q(conn, `UPDATE ${TABLE} SET v = v + 1 WHERE id = ?`, [id]);
  await q(conn, 'COMMIT');
  return 4;
};

let preparedRound = 0;
const prepared = async (conn: mysql.Connection): Promise<number> => {
  const id = rnd();
  if (++preparedRound % 10 === 0) {
    await conn.execute({ sql: `UPDATE ${TABLE} SET c = ? WHERE id = ?`, timeout: STATEMENT_TIMEOUT_MS }, [`ps-${preparedRound}`, id]);
  } else {
    const [rows] = await conn.execute({ sql: `SELECT c FROM ${TABLE} WHERE id = ?`, timeout: STATEMENT_TIMEOUT_MS }, [id]);
    if ((rows as unknown[]).length !== 1) throw Object.assign(new Error(`row ${id} not found`), { code: 'WRONG_RESULT' });
  }
  return 1;
};

async function churn(c: LoadContext): Promise<void> {
  while (Date.now() < c.endAt) {
    const t0 = Date.now();
    let conn: mysql.Connection | undefined;
    try {
      conn = await connect(c);
      await pointSelect(conn);
      await conn.end();
      c.tally.ok('churn', Date.now() - t0, 1);
    } catch (err) {
      c.tally.error('churn', err, Date.now());
      conn?.destroy();
      await delay(50);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Replica pauses and sampling

async function pauser(sb: Sandbox, endAt: number, tally: Tally): Promise<void> {
  if (PAUSE_EVERY_MS === 0) return;
  let k = 0;
  while (Date.now() + PAUSE_EVERY_MS + PAUSE_MS < endAt) {
    await delay(PAUSE_EVERY_MS);
    if (life.aborted) return;
    const r = sb.replicas[k++ % sb.replicas.length]!;
    if (r.pid === undefined) continue;
    const pause: Pause = { replica: r.name, from: Date.now(), to: undefined };
    tally.pauses.push(pause);
    log(`SIGSTOP ${r.name} (pid ${r.pid}) for ${PAUSE_MS / 1000} s`);
    process.kill(r.pid, 'SIGSTOP');
    try {
      await delay(PAUSE_MS);
    } finally {
      process.kill(r.pid, 'SIGCONT');
      pause.to = Date.now();
    }
  }
}

interface Sample {
  readonly t: number;
  readonly rssKiB: number;
  readonly fds: number;
  readonly processes: number;
}

function sample(root: number, t0: number): Sample {
  let rssKiB = 0;
  let fds = 0;
  let processes = 0;
  for (const pid of groupPids(root)) {
    const r = readProc(pid);
    if (r === undefined) continue;
    processes++;
    rssKiB += r.rssKiB;
    try {
      fds += fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // exited meanwhile
    }
  }
  return { t: Date.now() - t0, rssKiB, fds, processes };
}

/** Least-squares slope of y over t (ms), per hour. */
function slopePerHour(points: readonly { t: number; y: number }[]): number {
  if (points.length < 2) return NaN;
  const n = points.length;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3_600_000;
}

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

// ---------------------------------------------------------------------------------------------
// Run and report

interface Result {
  readonly samples: readonly Sample[];
  readonly tally: Tally;
  readonly ranMs: number;
  readonly proxyAlive: boolean;
  readonly proxyLog: string;
  readonly version: string;
  readonly rowsOk: boolean;
}

async function run(): Promise<Result> {
  buildDistIfNeeded(REPO, log);
  log('starting sandbox (primary + 2 replicas)');
  const sb = await startSandbox({ replicas: 2, logger: pino({ level: 'warn' }, pino.destination(2)) });
  life.sandbox = sb;
  await sb.primary.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, v INT NOT NULL, c VARCHAR(64) NOT NULL) ENGINE=InnoDB`);
  await sb.primary.query(`INSERT INTO ${TABLE} VALUES ${Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 0, 'row-${i + 1}')`).join(', ')}`);
  await sb.waitForReplication(30_000);
  const proxy = await startProxy(sb);

  const tally = new Tally();
  const t0 = Date.now();
  const endAt = t0 + RUN_MS;
  const ctx: LoadContext = { sb, port: proxy.port, endAt, tally };
  const samples: Sample[] = [sample(proxy.pid, t0)];
  const sampler = setInterval(() => {
    if (!proxy.alive()) return;
    const s = sample(proxy.pid, t0);
    samples.push(s);
    if (samples.length % Math.max(1, Math.round(60_000 / SAMPLE_MS)) === 0) {
      const total = [...tally.statements.values()].reduce((a, b) => a + b, 0);
      const unexpected = [...tally.errors.values()].reduce((a, e) => a + e[1], 0);
      log(`${(s.t / 60_000).toFixed(1)} min: RSS ${(s.rssKiB / 1024).toFixed(1)} MiB, ${s.fds} fds, ${s.processes} processes, ${total} statements, ${unexpected} unexpected errors`);
    }
  }, SAMPLE_MS);
  log(`load for ${MINUTES} min: ${CLIENTS.read} point-select, ${CLIENTS.tx} transaction, ${CLIENTS.ps} prepared, ${CLIENTS.churn} churn clients; a replica paused every ${PAUSE_EVERY_MS / 1000} s for ${PAUSE_MS / 1000} s`);
  try {
    await Promise.all([
      ...Array.from({ length: CLIENTS.read }, () => client(ctx, 'point-select', pointSelect)),
      ...Array.from({ length: CLIENTS.tx }, () => client(ctx, 'transaction', transaction)),
      ...Array.from({ length: CLIENTS.ps }, () => client(ctx, 'prepared', prepared)),
      ...Array.from({ length: CLIENTS.churn }, () => churn(ctx)),
      pauser(sb, endAt, tally),
    ]);
  } finally {
    clearInterval(sampler);
    // Never leave a replica stopped: the sandbox could not stop it.
    for (const r of sb.replicas) if (r.pid !== undefined) process.kill(r.pid, 'SIGCONT');
  }
  const ranMs = Date.now() - t0;
  samples.push(sample(proxy.pid, t0));
  // Every transaction added 1 to one row's v: the replicas must agree with the primary.
  await sb.waitForReplication(60_000).catch(() => undefined);
  const sum = async (s: { query(sql: string): Promise<unknown> }): Promise<string> => JSON.stringify(await s.query(`SELECT SUM(v) AS s, COUNT(*) AS n FROM ${TABLE}`));
  const sums = await Promise.all([sb.primary, ...sb.replicas].map(sum));
  const rowsOk = sums.every((s) => s === sums[0]);
  if (!rowsOk) log(`row sums differ: ${sums.join(' / ')}`);
  return { samples, tally, ranMs, proxyAlive: proxy.alive(), proxyLog: proxy.logFile, version: `${sb.kind} ${sb.version}`, rowsOk };
}

function markdown(r: Result): string {
  const after = r.samples.filter((s) => s.t >= WARMUP_MS);
  const base = after[0] ?? r.samples[0]!;
  const end = r.samples[r.samples.length - 1]!;
  const mib = (k: number): string => (k / 1024).toFixed(1);
  const rssSlope = slopePerHour(after.map((s) => ({ t: s.t, y: s.rssKiB / 1024 })));
  const fdSlope = slopePerHour(after.map((s) => ({ t: s.t, y: s.fds })));
  const secs = r.ranMs / 1000;
  const total = [...r.tally.statements.values()].reduce((a, b) => a + b, 0);
  const errs = [...r.tally.errors.entries()].sort((a, b) => b[1][0] + b[1][1] - (a[1][0] + a[1][1]));
  const expected = errs.reduce((a, [, e]) => a + e[0], 0);
  const unexpected = errs.reduce((a, [, e]) => a + e[1], 0);
  const logText = fs.readFileSync(r.proxyLog, 'utf8');
  const errorLines = logText.split('\n').filter((l) => /"level":(50|60)/.test(l)).length;
  const lines = [
    `## Soak: ${MINUTES} min mixed load, a replica paused every ${PAUSE_EVERY_MS / 1000} s for ${PAUSE_MS / 1000} s (${new Date().toISOString().slice(0, 16).replace('T', ' ')})`,
    '',
    machineLine(),
    sluiceLine(`; workers: ${WORKERS}`),
    `- servers: ${r.version}; load average at start ${LOAD_AVERAGE}`,
    `- clients: ${CLIENTS.read} point-select (text), ${CLIENTS.tx} read-write transaction, ${CLIENTS.ps} prepared (mysql2 execute, 1 in 10 an UPDATE), ${CLIENTS.churn} connect/disconnect; ${r.tally.pauses.length} pauses (${r.tally.pauses.map((p) => p.replica).join(', ') || 'none'})`,
    `- warm-up: ${(WARMUP_MS / 1000).toFixed(0)} s; samples every ${SAMPLE_MS / 1000} s over the proxy's ${end.processes} processes`,
    '',
    '| | after warm-up | end | max | slope per hour |',
    '|---|---:|---:|---:|---:|',
    `| RSS MiB (Σ VmRSS) | ${mib(base.rssKiB)} | ${mib(end.rssKiB)} | ${mib(Math.max(...r.samples.map((s) => s.rssKiB)))} | ${Number.isFinite(rssSlope) ? rssSlope.toFixed(1) : 'n/a'} |`,
    `| open fds (Σ) | ${base.fds} | ${end.fds} | ${Math.max(...r.samples.map((s) => s.fds))} | ${Number.isFinite(fdSlope) ? fdSlope.toFixed(1) : 'n/a'} |`,
    '',
    '| load | statements | per second | p50 ms | p99 ms | waited > 1 s |',
    '|---|---:|---:|---:|---:|---:|',
    ...OPS.map((o) => {
      const n = r.tally.statements.get(o)!;
      const l = r.tally.latencies.get(o)!;
      return `| ${o === 'transaction' ? 'transaction (4 statements; latency per transaction)' : o} | ${n} | ${(n / secs).toFixed(0)} | ${percentile(l, 50).toFixed(1)} | ${percentile(l, 99).toFixed(1)} | ${r.tally.slow.get(o)} |`;
    }),
    `| all | ${total} | ${(total / secs).toFixed(0)} | | | |`,
    '',
    `Client errors: ${expected} expected (a read or connection near a pause), ${unexpected} unexpected.`,
    '',
    ...(errs.length > 0 ? ['| load: error | expected | unexpected |', '|---|---:|---:|', ...errs.map(([k, [a, b]]) => `| ${k} | ${a} | ${b} |`), ''] : []),
    ...(r.tally.firstUnexpected.length > 0 ? ['First unexpected errors:', '```', ...r.tally.firstUnexpected, '```', ''] : []),
    `Proxy ${r.proxyAlive ? 'ran throughout' : 'EXITED before the end'}; ${errorLines} error lines in its log (${path.relative(REPO, r.proxyLog)}); ` +
      `replicas ${r.rowsOk ? 'agree with the primary' : 'DISAGREE with the primary'} on the table afterwards.`,
  ];
  return lines.join('\n') + '\n';
}



async function main(): Promise<void> {
  const r = await run();
  const md = markdown(r);
  process.stdout.write('\n' + md);
  if (opt.write) log(`wrote ${path.relative(REPO, writeResults(REPO, md))}`);
  const unexpected = [...r.tally.errors.values()].reduce((a, e) => a + e[1], 0);
  const total = [...r.tally.statements.values()].reduce((a, b) => a + b, 0);
  if (unexpected > 0 || !r.proxyAlive || total === 0 || !r.rowsOk) process.exitCode = 1;
}

main()
  .catch((err: unknown) => {
    if (life.aborted) return;
    log(`error: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => life.cleanup().then(() => process.exit()));
