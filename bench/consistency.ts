/**
 * What each `session.consistency` mode costs, side by side in one run.
 *
 *   npx tsc -p tsconfig.json && npx tsx bench/consistency.ts [--time S] [--rounds N] [--threads N] [--write]
 *
 * 1. starts a sandbox (MariaDB primary + 2 GTID replicas), prepares the sysbench tables on the
 *    primary and waits until both replicas applied them;
 * 2. starts three proxies from the compiled build (`node dist/main.js start --config <yaml>`),
 *    each its own process, identical except `session.consistency` = eventual | session | global,
 *    each with its HTTP port (/metrics);
 * 3. per round, per workload, runs every target once (the order rotates every round, so drift on
 *    a shared machine hits all modes alike):
 *      point_select   sysbench oltp_point_select (text protocol): sessions that only read
 *      read_write     sysbench oltp_read_write (text): reads inside BEGIN…COMMIT (writeHost);
 *                     also straight to the primary as a reference
 *      read_write_ps  the same with --db-ps-mode=auto (server-side prepared statements)
 *      rw_autocommit  oltp_read_write --skip-trx=on (text): every statement autocommit, so reads
 *                     after the session's writes go to the replicas and need its GTIDs
 *      write_read     the app pattern (mysql2, text): per worker an autocommit INSERT on
 *                     connection W, then SELECT of that row on W (own write) and on a second
 *                     connection R that never writes (someone else's write); counts the reads that
 *                     did not see the row
 * 4. around every run reads the proxy's /metrics (sluice_consistency_waits_total,
 *    sluice_consistency_wait_seconds, sluice_backend_statements_total) and its CPU time;
 * 5. prints medians per workload and mode with the ratio to eventual (markdown); --write puts
 *    them at the top of bench/RESULTS.md;
 * 6. cleans up (proxies, sandbox) on exit, errors and Ctrl-C.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import YAML from 'yaml';
import { sandboxProxyConfig, startSandbox, type Sandbox } from '../src/sandbox/index.js';
import { BenchLifecycle, waitExit } from './lifecycle.js';
import { delay, freePort, intOption, LOAD_AVERAGE, machineLine, sh, sluiceLine, writeResults } from './util.js';

// ---------------------------------------------------------------------------------------------
// Options

const WORKLOAD_IDS = ['point_select', 'read_write', 'read_write_ps', 'rw_autocommit', 'write_read'] as const;
type WorkloadId = (typeof WORKLOAD_IDS)[number];

const USAGE = `usage: npx tsc -p tsconfig.json && npx tsx bench/consistency.ts [options]
  --rounds N        interleaved rounds (default 3)
  --time S          seconds per run (default 10)
  --threads N       sysbench threads / write_read workers (default 8)
  --warmup S        warm-up per proxy before round 1 (default 3; 0 = none)
  --tables N        sysbench tables (default 4)
  --table-size N    rows per table (default 10000)
  --timeout-ms N    session.consistencyTimeoutMs of the proxies (default 2000, the product default)
  --only LIST       comma-separated workloads (default all): ${WORKLOAD_IDS.join(',')}
  --write           put the results at the top of bench/RESULTS.md`;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    time: { type: 'string', default: '10' },
    threads: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '3' },
    tables: { type: 'string', default: '4' },
    'table-size': { type: 'string', default: '10000' },
    'timeout-ms': { type: 'string', default: '2000' },
    only: { type: 'string' },
    write: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});
if (opt.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
const ROUNDS = intOption('rounds', opt.rounds, 1, USAGE);
const TIME = intOption('time', opt.time, 1, USAGE);
const THREADS = intOption('threads', opt.threads, 1, USAGE);
const WARMUP = intOption('warmup', opt.warmup, 0, USAGE);
const TABLES = intOption('tables', opt.tables, 1, USAGE);
const TABLE_SIZE = intOption('table-size', opt['table-size'], 1, USAGE);
const TIMEOUT_MS = intOption('timeout-ms', opt['timeout-ms'], 1, USAGE);
const REPO = process.cwd();
const OUT = path.join(REPO, 'bench/out');
const STAMP = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
const USER = 'app';
const PASSWORD = 'app';
const DB = 'sluice_test';

const MODES = ['eventual', 'session', 'global'] as const;
type Mode = (typeof MODES)[number];
type TargetName = Mode | 'direct';

interface Workload {
  readonly id: WorkloadId;
  readonly what: string;
  /** sysbench script and extra options; undefined = the write_read client in this process. */
  readonly sysbench?: { readonly script: string; readonly extra: readonly string[] };
  /** Also run straight to the primary (reference). */
  readonly direct: boolean;
}

const WORKLOADS: readonly Workload[] = [
  { id: 'point_select', what: 'oltp_point_select', sysbench: { script: 'oltp_point_select', extra: ['--db-ps-mode=disable'] }, direct: false },
  { id: 'read_write', what: 'oltp_read_write', sysbench: { script: 'oltp_read_write', extra: ['--db-ps-mode=disable'] }, direct: true },
  { id: 'read_write_ps', what: 'oltp_read_write --db-ps-mode=auto', sysbench: { script: 'oltp_read_write', extra: ['--db-ps-mode=auto'] }, direct: false },
  // Without BEGIN/COMMIT two threads may DELETE+INSERT the same id: 1062 is then an expected,
  // ignored error (counted), not a failure.
  {
    id: 'rw_autocommit',
    what: 'oltp_read_write --skip-trx=on',
    sysbench: { script: 'oltp_read_write', extra: ['--db-ps-mode=disable', '--skip-trx=on', '--mysql-ignore-errors=1062'] },
    direct: false,
  },
  { id: 'write_read', what: 'INSERT, SELECT it on the same connection, SELECT it on another (mysql2)', direct: false },
];

const selected: readonly Workload[] = (() => {
  if (opt.only === undefined) return WORKLOADS;
  const ids = opt.only.split(',').map((s) => s.trim());
  const bad = ids.filter((id) => !WORKLOAD_IDS.includes(id as WorkloadId));
  if (bad.length > 0) {
    process.stderr.write(`--only: unknown workload(s) ${bad.join(', ')}\n${USAGE}\n`);
    process.exit(2);
  }
  return WORKLOADS.filter((w) => ids.includes(w.id));
})();

// ---------------------------------------------------------------------------------------------
// Helpers

const log = (msg: string): void => {
  process.stderr.write(`[consistency ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const life = new BenchLifecycle(log);

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** The p-th percentile (0..100) of an unsorted sample. */
function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  xs.sort((a, b) => a - b);
  return xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100;

/** utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

// ---------------------------------------------------------------------------------------------
// Proxies

interface Proxy {
  readonly mode: Mode;
  readonly pid: number;
  readonly endpoint: Endpoint;
  readonly httpPort: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

async function startProxy(sb: Sandbox, mode: Mode): Promise<Proxy> {
  if (life.aborted) throw new Error('aborted');
  const port = await freePort();
  const httpPort = await freePort();
  const base = sandboxProxyConfig(sb, port);
  const config = {
    ...base,
    dataHost: {
      ...(base['dataHost'] as Record<string, unknown>),
      name: `cons_${mode}`,
      balance: 1,
      failover: { enabled: false, dnindexFile: path.join(OUT, `dnindex-consistency-${mode}-${STAMP}.properties`) },
    },
    session: { consistency: mode, consistencyTimeoutMs: TIMEOUT_MS },
    http: { host: '127.0.0.1', port: httpPort },
    log: { level: 'warn' },
  };
  const configFile = path.join(OUT, `sluice-consistency-${mode}-${STAMP}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const logFile = path.join(OUT, `proxy-consistency-${mode}-${STAMP}.log`);
  const fd = fs.openSync(logFile, 'w');
  const args = [path.join(REPO, 'dist/main.js'), 'start', '--config', configFile];
  log(`starting proxy (${mode}): node dist/main.js start --config ${path.relative(REPO, configFile)}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], cwd: REPO });
  fs.closeSync(fd);
  life.children.add(child);
  child.once('exit', () => life.children.delete(child));
  const pid = child.pid;
  if (pid === undefined) throw new Error('proxy did not start');
  const endpoint = { host: '127.0.0.1', port };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`proxy (${mode}) exited during start-up; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const c = await mysql.createConnection({ ...endpoint, user: USER, password: PASSWORD, database: DB, connectTimeout: 5_000 });
      await c.query('SELECT 1');
      await c.end();
      await scrape(httpPort);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`proxy (${mode}) not ready after 30 s: ${String(err)}`);
      await delay(100);
    }
  }
  return {
    mode,
    pid,
    endpoint,
    httpPort,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitExit(child, 15_000);
    },
  };
}

/** The counters this benchmark reads from a proxy's /metrics. */
interface Counters {
  none: number;
  waited: number;
  fallback: number;
  /** sluice_consistency_wait_seconds: count and sum (every wait, also those that timed out). */
  waitCount: number;
  waitSum: number;
  /** sluice_consistency_wait_seconds buckets (cumulative), by upper bound in seconds. */
  waitBuckets: Map<number, number>;
  /** Statements the proxy sent to the writeHost / to the readHosts. */
  writerStatements: number;
  readerStatements: number;
  /** Hosts in read rotation (sluice_backend_readable = 1), by host id. */
  readable: Set<string>;
}

function zeroCounters(): Counters {
  return {
    none: 0,
    waited: 0,
    fallback: 0,
    waitCount: 0,
    waitSum: 0,
    waitBuckets: new Map(),
    writerStatements: 0,
    readerStatements: 0,
    readable: new Set(),
  };
}

async function scrape(httpPort: number): Promise<Counters> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const text = await res.text();
  const c = zeroCounters();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-z_]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const [, name, labels = '', value] = m;
    const v = Number(value);
    const label = (k: string): string | undefined => new RegExp(`${k}="([^"]*)"`).exec(labels)?.[1];
    switch (name) {
      case 'sluice_consistency_waits_total': {
        const o = label('outcome');
        if (o === 'none' || o === 'waited' || o === 'fallback') c[o] = v;
        break;
      }
      case 'sluice_consistency_wait_seconds_count':
        c.waitCount = v;
        break;
      case 'sluice_consistency_wait_seconds_sum':
        c.waitSum = v;
        break;
      case 'sluice_consistency_wait_seconds_bucket': {
        const le = label('le');
        c.waitBuckets.set(le === '+Inf' ? Infinity : Number(le), v);
        break;
      }
      case 'sluice_backend_readable':
        if (v === 1) c.readable.add(label('host') ?? '?');
        break;
      case 'sluice_backend_statements_total':
        if (label('role') === 'write') c.writerStatements += v;
        else c.readerStatements += v;
        break;
    }
  }
  return c;
}

function diff(a: Counters, b: Counters): Counters {
  const buckets = new Map<number, number>();
  for (const [le, n] of b.waitBuckets) buckets.set(le, n - (a.waitBuckets.get(le) ?? 0));
  return {
    none: b.none - a.none,
    waited: b.waited - a.waited,
    fallback: b.fallback - a.fallback,
    waitCount: b.waitCount - a.waitCount,
    waitSum: b.waitSum - a.waitSum,
    waitBuckets: buckets,
    writerStatements: b.writerStatements - a.writerStatements,
    readerStatements: b.readerStatements - a.readerStatements,
    readable: b.readable,
  };
}

function addCounters(xs: readonly Counters[]): Counters {
  const sum = zeroCounters();
  for (const x of xs) {
    sum.none += x.none;
    sum.waited += x.waited;
    sum.fallback += x.fallback;
    sum.waitCount += x.waitCount;
    sum.waitSum += x.waitSum;
    sum.writerStatements += x.writerStatements;
    sum.readerStatements += x.readerStatements;
    for (const [le, n] of x.waitBuckets) sum.waitBuckets.set(le, (sum.waitBuckets.get(le) ?? 0) + n);
  }
  return sum;
}

/** The smallest histogram bound at or below which 95 % of the waits fall ("≤ 1 ms"). */
function waitP95(c: Counters): string {
  if (c.waitCount === 0) return '–';
  for (const [le, n] of [...c.waitBuckets].sort((a, b) => a[0] - b[0])) {
    if (n >= 0.95 * c.waitCount) return le === Infinity ? `> 5 s` : `≤ ${le * 1000 >= 1 ? f0(le * 1000) : f1(le * 1000)} ms`;
  }
  return 'n/a';
}

// ---------------------------------------------------------------------------------------------
// Runs

/** One run's client-side numbers (sysbench's, or the write_read client's). */
interface ClientResult {
  readonly ok: boolean;
  readonly tps: number;
  readonly qps: number;
  readonly transactions: number;
  readonly queries: number;
  readonly latAvgMs: number;
  readonly latP95Ms: number;
  readonly errors: number;
  readonly note?: string;
  /** write_read only. */
  readonly wr?: WriteReadResult;
}

interface WriteReadResult {
  readonly loops: number;
  readonly staleOwn: number;
  readonly staleOther: number;
  readonly insertAvgMs: number;
  readonly ownAvgMs: number;
  readonly ownP95Ms: number;
  readonly otherAvgMs: number;
  readonly otherP95Ms: number;
}

const num = (out: string, re: RegExp): number => {
  const m = re.exec(out);
  return m === null ? NaN : Number(m[1]);
};

function runSysbench(w: Workload, target: Endpoint, time: number, logName: string): Promise<ClientResult> {
  if (life.aborted) return Promise.reject(new Error('aborted'));
  const sb = w.sysbench!;
  const args = [
    sb.script,
    `--mysql-host=${target.host}`,
    `--mysql-port=${target.port}`,
    `--mysql-user=${USER}`,
    `--mysql-password=${PASSWORD}`,
    `--mysql-db=${DB}`,
    `--tables=${TABLES}`,
    `--table-size=${TABLE_SIZE}`,
    `--threads=${THREADS}`,
    `--time=${time}`,
    ...sb.extra,
    'run',
  ];
  const logFile = path.join(OUT, logName);
  return new Promise((resolve, reject) => {
    const child = spawn('sysbench', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    life.children.add(child);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      life.children.delete(child);
      fs.writeFileSync(logFile, `sysbench ${args.join(' ')}\n\n${out}`);
      const events = num(out, /^\s*total number of events:\s+(\d+)/m);
      resolve({
        ok: code === 0,
        tps: num(out, /^\s*transactions:\s+\d+\s+\(([\d.]+) per sec\.\)/m),
        qps: num(out, /^\s*queries:\s+\d+\s+\(([\d.]+) per sec\.\)/m),
        transactions: num(out, /^\s*transactions:\s+(\d+)/m),
        queries: num(out, /^\s*queries:\s+(\d+)/m),
        latAvgMs: num(out, /^\s*sum:\s+([\d.]+)/m) / events,
        latP95Ms: num(out, /^\s*95th percentile:\s+([\d.]+)/m),
        errors: num(out, /^\s*ignored errors:\s+(\d+)/m),
        ...(code === 0 ? {} : { note: `exit ${code}; see ${path.relative(REPO, logFile)}` }),
      });
    });
  });
}

const WR_TABLE = 'cons_bench';

/**
 * The app pattern: THREADS workers, each with a connection W (writes) and R (only reads). A loop:
 * autocommit INSERT on W, SELECT of that row by id on W (its own write), then on R (another
 * session's write). Text protocol (mysql2 `query`). A read that returns no row was stale.
 */
async function runWriteRead(target: Endpoint, time: number): Promise<ClientResult> {
  const connect = (): Promise<mysql.Connection> =>
    mysql.createConnection({ ...target, user: USER, password: PASSWORD, database: DB, connectTimeout: 5_000 });
  const workers = await Promise.all(Array.from({ length: THREADS }, async () => ({ w: await connect(), r: await connect() })));
  const loopMs: number[] = [];
  const insertMs: number[] = [];
  const ownMs: number[] = [];
  const otherMs: number[] = [];
  let staleOwn = 0;
  let staleOther = 0;
  let errors = 0;
  let firstError = '';
  const started = performance.now();
  const deadline = started + time * 1000;
  await Promise.all(
    workers.map(async ({ w, r }, i) => {
      let seq = 0;
      while (performance.now() < deadline && !life.aborted) {
        try {
          const t0 = performance.now();
          const [res] = await w.query(`INSERT INTO ${WR_TABLE} (worker, seq, v) VALUES (?, ?, ?)`, [i, ++seq, `w${i}-${seq}`]);
          const id = (res as mysql.ResultSetHeader).insertId;
          const t1 = performance.now();
          const [own] = await w.query(`SELECT id FROM ${WR_TABLE} WHERE id = ?`, [id]);
          const t2 = performance.now();
          const [other] = await r.query(`SELECT id FROM ${WR_TABLE} WHERE id = ?`, [id]);
          const t3 = performance.now();
          if ((own as unknown[]).length === 0) staleOwn++;
          if ((other as unknown[]).length === 0) staleOther++;
          insertMs.push(t1 - t0);
          ownMs.push(t2 - t1);
          otherMs.push(t3 - t2);
          loopMs.push(t3 - t0);
        } catch (err) {
          if (errors++ === 0) firstError = String(err);
          if (errors > 1000) throw new Error(`write_read: over 1000 errors; first: ${firstError}`);
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  await Promise.all(workers.flatMap(({ w, r }) => [w.end().catch(() => undefined), r.end().catch(() => undefined)]));
  const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const loops = loopMs.length;
  return {
    ok: errors === 0,
    tps: loops / elapsedS,
    qps: (3 * loops) / elapsedS,
    transactions: loops,
    queries: 3 * loops,
    latAvgMs: avg(loopMs),
    latP95Ms: percentile(loopMs, 95),
    errors,
    ...(errors > 0 ? { note: `${errors} errors, first: ${firstError}` } : {}),
    wr: {
      loops,
      staleOwn,
      staleOther,
      insertAvgMs: avg(insertMs),
      ownAvgMs: avg(ownMs),
      ownP95Ms: percentile(ownMs, 95),
      otherAvgMs: avg(otherMs),
      otherP95Ms: percentile(otherMs, 95),
    },
  };
}

interface RunRecord {
  readonly w: Workload;
  readonly round: number;
  readonly target: TargetName;
  readonly r: ClientResult;
  /** Proxy runs only. */
  readonly counters?: Counters;
  readonly cpuUsPerQuery?: number;
  /** Seconds the replicas took after the run to apply everything the primary had (the run's backlog). */
  readonly catchUpS: number;
}

/**
 * Waits until `proxy` has every replica back in read rotation. A run that left the replicas more
 * than replication.maxLagSeconds behind takes them out of rotation, and they come back only after
 * readmitAfter healthy checks: the next run would otherwise read from the writeHost for a while.
 */
async function waitReadable(sb: Sandbox, proxy: Proxy): Promise<number> {
  const t0 = performance.now();
  const ids = sb.replicas.map((r) => `:${r.port}`);
  for (;;) {
    const c = await scrape(proxy.httpPort);
    if (ids.every((id) => [...c.readable].some((h) => h.endsWith(id)))) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 120_000) throw new Error(`proxy (${proxy.mode}): replicas not back in read rotation after 120 s`);
    await delay(200);
  }
}

async function runOne(sb: Sandbox, w: Workload, round: number, target: TargetName, endpoint: Endpoint, proxy: Proxy | undefined): Promise<RunRecord> {
  if (proxy !== undefined) {
    const waited = await waitReadable(sb, proxy);
    if (waited > 0.5) log(`  (${proxy.mode}: waited ${f1(waited)} s for both replicas to be back in read rotation)`);
  }
  const before = proxy !== undefined ? await scrape(proxy.httpPort) : undefined;
  const cpu0 = proxy !== undefined ? cpuSeconds(proxy.pid) : 0;
  const r =
    w.sysbench !== undefined
      ? await runSysbench(w, endpoint, TIME, `sysbench-consistency-${STAMP}-${w.id}-r${round}-${target}.log`)
      : await runWriteRead(endpoint, TIME);
  let extra: Partial<RunRecord> = {};
  if (proxy !== undefined && before !== undefined) {
    const cpu = cpuSeconds(proxy.pid) - cpu0;
    extra = { counters: diff(before, await scrape(proxy.httpPort)), cpuUsPerQuery: (cpu * 1e6) / r.queries };
  }
  // Every run starts with the replicas caught up: a backlog left by one run must not be paid by
  // the next one. How long that takes is the run's own replication backlog.
  const t0 = performance.now();
  await sb.waitForReplication(300_000);
  const catchUpS = (performance.now() - t0) / 1000;
  const rec: RunRecord = { w, round, target, r, ...extra, catchUpS };
  const c = rec.counters;
  log(
    `${w.id.padEnd(13)} r${round} ${target.padEnd(8)} ${f0(r.tps).padStart(6)} tx/s ${f0(r.qps).padStart(7)} q/s  ` +
      `p95 ${f2(r.latP95Ms)} ms` +
      (c !== undefined
        ? `  none/waited/fallback ${c.none}/${c.waited}/${c.fallback}, mean wait ${c.waitCount > 0 ? f3((c.waitSum / c.waitCount) * 1000) : '–'} ms, ` +
          `CPU ${f1(rec.cpuUsPerQuery ?? NaN)} µs/q`
        : '') +
      (r.wr !== undefined ? `  stale own ${r.wr.staleOwn} other ${r.wr.staleOther} of ${r.wr.loops}` : '') +
      `  replicas caught up ${f2(catchUpS)} s after` +
      (r.errors > 0 ? `  errors ${r.errors}` : '') +
      (r.note !== undefined && !r.ok ? `  FAILED: ${r.note}` : ''),
  );
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Report

function targetsOf(w: Workload): TargetName[] {
  return [...(w.direct ? (['direct'] as const) : []), ...MODES];
}

interface Summary {
  readonly w: Workload;
  readonly target: TargetName;
  readonly tps: number;
  readonly qps: number;
  readonly avgMs: number;
  readonly p95Ms: number;
  readonly ratio: number;
  /** Per round: this target's q/s ÷ eventual's q/s in the same round (min, max). */
  readonly roundRatios: readonly number[];
  readonly spread: number;
  readonly counters: Counters | undefined;
  readonly queries: number;
  readonly cpuUs: number;
  readonly catchUpS: number;
  readonly errors: number;
  readonly failed: number;
  readonly wr?: {
    loops: number;
    staleOwn: number;
    staleOther: number;
    insertAvgMs: number;
    ownAvgMs: number;
    ownP95Ms: number;
    otherAvgMs: number;
    otherP95Ms: number;
  };
}

function summarize(records: readonly RunRecord[]): Summary[] {
  const out: Summary[] = [];
  for (const w of selected) {
    const of = (t: TargetName): RunRecord[] => records.filter((x) => x.w === w && x.target === t);
    const eventualQps = median(of('eventual').map((x) => x.r.qps));
    for (const t of targetsOf(w)) {
      const xs = of(t);
      if (xs.length === 0) continue;
      const ok = xs.filter((x) => x.r.ok || x.w.id === 'write_read');
      const qps = median(ok.map((x) => x.r.qps));
      const roundRatios = xs
        .map((x) => x.r.qps / (of('eventual').find((e) => e.round === x.round)?.r.qps ?? NaN))
        .filter((v) => Number.isFinite(v));
      const wrs = xs.map((x) => x.r.wr).filter((v): v is WriteReadResult => v !== undefined);
      out.push({
        w,
        target: t,
        tps: median(ok.map((x) => x.r.tps)),
        qps,
        avgMs: median(ok.map((x) => x.r.latAvgMs)),
        p95Ms: median(ok.map((x) => x.r.latP95Ms)),
        ratio: qps / eventualQps,
        roundRatios,
        spread: Math.max(...ok.map((x) => x.r.qps)) / Math.min(...ok.map((x) => x.r.qps)),
        counters: t === 'direct' ? undefined : addCounters(xs.map((x) => x.counters).filter((c): c is Counters => c !== undefined)),
        queries: xs.reduce((s, x) => s + (Number.isFinite(x.r.queries) ? x.r.queries : 0), 0),
        cpuUs: median(xs.map((x) => x.cpuUsPerQuery ?? NaN)),
        catchUpS: median(xs.map((x) => x.catchUpS)),
        errors: xs.reduce((s, x) => s + (Number.isFinite(x.r.errors) ? x.r.errors : 0), 0),
        failed: xs.filter((x) => !x.r.ok && x.w.id !== 'write_read').length,
        ...(wrs.length > 0
          ? {
              wr: {
                loops: wrs.reduce((s, x) => s + x.loops, 0),
                staleOwn: wrs.reduce((s, x) => s + x.staleOwn, 0),
                staleOther: wrs.reduce((s, x) => s + x.staleOther, 0),
                insertAvgMs: median(wrs.map((x) => x.insertAvgMs)),
                ownAvgMs: median(wrs.map((x) => x.ownAvgMs)),
                ownP95Ms: median(wrs.map((x) => x.ownP95Ms)),
                otherAvgMs: median(wrs.map((x) => x.otherAvgMs)),
                otherP95Ms: median(wrs.map((x) => x.otherP95Ms)),
              },
            }
          : {}),
      });
    }
  }
  return out;
}

function ratioText(s: Summary): string {
  if (s.target === 'eventual') return '1 (ref.)';
  if (!Number.isFinite(s.ratio)) return 'n/a';
  const rr = s.roundRatios;
  const range = rr.length > 1 ? ` (rounds ${f2(Math.min(...rr))}–${f2(Math.max(...rr))})` : '';
  return `${f2(s.ratio)}×${range}`;
}

function consistencyCells(s: Summary): string {
  const c = s.counters;
  if (c === undefined) return '– | – | – | –';
  const reads = c.none + c.waited + c.fallback;
  const writerShare = (100 * c.writerStatements) / (c.writerStatements + c.readerStatements);
  return [
    `${c.none} / ${c.waited} / ${c.fallback}`,
    reads === 0 ? '0' : f1((1000 * c.waited) / s.queries),
    c.waitCount === 0 ? '–' : `${f3((c.waitSum / c.waitCount) * 1000)} (p95 ${waitP95(c)})`,
    Number.isFinite(writerShare) ? f0(writerShare) : 'n/a',
  ].join(' | ');
}

function resultsTable(s: readonly Summary[]): string {
  const lines = [
    '| workload | target | tx/s | q/s | q/s ÷ eventual (per-round range) | avg / p95 latency ms | reads needing GTIDs: none / waited / fallback | waits per 1000 q | mean wait ms (p95 bucket) | statements on writeHost % | proxy CPU µs/q | replica backlog after the run, s | errors (sysbench ignored errors: deadlocks; 1062 in rw_autocommit) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of s) {
    lines.push(
      `| ${x.w.id} | ${x.target === 'direct' ? 'direct (primary)' : x.target} | ${f0(x.tps)} | ${f0(x.qps)} | ${x.target === 'direct' ? '–' : ratioText(x)} | ` +
        `${f2(x.avgMs)} / ${f2(x.p95Ms)} | ${consistencyCells(x)} | ${x.target === 'direct' ? '–' : f1(x.cpuUs)} | ${f2(x.catchUpS)} | ${x.errors}${x.failed > 0 ? ` (${x.failed} runs failed)` : ''} |`,
    );
  }
  return lines.join('\n');
}

function writeReadTable(s: readonly Summary[]): string {
  const rows = s.filter((x) => x.wr !== undefined);
  if (rows.length === 0) return '';
  const pct = (n: number, of: number): string => `${n} (${f2((100 * n) / of)} %)`;
  return [
    '| mode | loops (all rounds) | INSERT avg ms | own SELECT avg / p95 ms | other SELECT avg / p95 ms | own reads that missed the row | other-session reads that missed the row |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((x) => {
      const wr = x.wr!;
      return (
        `| ${x.target} | ${wr.loops} | ${f3(wr.insertAvgMs)} | ${f3(wr.ownAvgMs)} / ${f3(wr.ownP95Ms)} | ${f3(wr.otherAvgMs)} / ${f3(wr.otherP95Ms)} | ` +
        `${pct(wr.staleOwn, wr.loops)} | ${pct(wr.staleOther, wr.loops)} |`
      );
    }),
  ].join('\n');
}

function roundsTable(records: readonly RunRecord[]): string {
  const lines = [
    '| workload | round | target | tx/s | q/s | p95 ms | none / waited / fallback | mean wait ms | proxy CPU µs/q | replica backlog s |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of records) {
    const c = x.counters;
    lines.push(
      `| ${x.w.id} | ${x.round} | ${x.target} | ${f0(x.r.tps)} | ${f0(x.r.qps)} | ${f2(x.r.latP95Ms)} | ` +
        `${c ? `${c.none} / ${c.waited} / ${c.fallback}` : '–'} | ${c && c.waitCount > 0 ? f3((c.waitSum / c.waitCount) * 1000) : '–'} | ${f1(x.cpuUsPerQuery ?? NaN)} | ${f2(x.catchUpS)} |`,
    );
  }
  return lines.join('\n');
}

/** Whether point_select under session (and global) stayed within the eventual runs' own noise. */
function pointSelectVerdict(s: readonly Summary[]): string {
  const ev = s.find((x) => x.w.id === 'point_select' && x.target === 'eventual');
  if (ev === undefined) return '';
  const parts: string[] = [];
  for (const m of ['session', 'global'] as const) {
    const x = s.find((y) => y.w.id === 'point_select' && y.target === m);
    if (x === undefined) continue;
    // Noise = how far the rounds of one target disagree (max ÷ min q/s, the worse of the two).
    const noise = Math.max(ev.spread, x.spread);
    const c = x.counters;
    const judged =
      ROUNDS < 2
        ? 'one round: no noise estimate'
        : `${Math.abs(Math.log(x.ratio)) <= Math.log(noise) ? 'within' : 'OUTSIDE'} the round-to-round spread (${f2(noise)}×)`;
    parts.push(
      `${m}: ${ratioText(x)} eventual's q/s, ${judged}; ` +
        `reads counted as needing GTIDs: ${c ? c.none + c.waited + c.fallback : 'n/a'} (waited ${c?.waited ?? 'n/a'}, fallback ${c?.fallback ?? 'n/a'})`,
    );
  }
  return `point_select (sessions that never write): ${parts.join('; ')}.`;
}

function environment(version: string): string[] {
  return [
    machineLine(),
    `- sysbench ${sh('sysbench', ['--version']).replace(/^sysbench\s*/, '')}, MariaDB ${version}, Node ${process.version}`,
    sluiceLine(', three proxies as their own processes'),
    `- load average when the run started: ${LOAD_AVERAGE}`,
  ];
}

function commandLine(): string {
  const args = process.argv.slice(2);
  return `npx tsc -p tsconfig.json && npx tsx bench/consistency.ts${args.length > 0 ? ' ' + args.join(' ') : ''}`;
}

function markdown(version: string, records: readonly RunRecord[], s: readonly Summary[], notes: readonly string[]): string {
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const wr = writeReadTable(s);
  return [
    `## ${date} — what each session.consistency mode costs (eventual / session / global)`,
    '',
    ...environment(version),
    `- command: \`${commandLine()}\``,
    `- setup: one sandbox (primary + 2 GTID replicas); three proxies from the same build, identical except \`session.consistency\` ` +
      `(balance 1, round-robin over both replicas, consistencyTimeoutMs ${TIMEOUT_MS}); ${THREADS} threads, ${TIME} s per run, ${ROUNDS} round(s), ` +
      `target order rotated every round; sysbench \`--tables=${TABLES} --table-size=${TABLE_SIZE}\`, text protocol unless \`--db-ps-mode=auto\``,
    '',
    'Medians over rounds. tx/s and latency are per sysbench event (point_select: 1 query; read_write: 18 in BEGIN…COMMIT + 2; ' +
      'rw_autocommit: the same 18 without BEGIN/COMMIT; write_read: INSERT + 2 SELECTs). "reads needing GTIDs" = ' +
      '`sluice_consistency_waits_total` deltas summed over rounds: none = ran at once on a replica known to have them (or on the writeHost), ' +
      'waited = MASTER_GTID_WAIT sent with the read and it succeeded, fallback = the wait timed out and the read ran on the writeHost. ' +
      'Mean wait = `sluice_consistency_wait_seconds` sum ÷ count: for a wait pipelined with its read the proxy measures wait + read, so the read\'s own run time is included (about 1–2 ms under this load: compare write_read\'s other-session SELECT, which does not wait under session). ' +
      '"statements on writeHost" = share of `sluice_backend_statements_total` (includes writes and transactions).',
    '',
    resultsTable(s),
    '',
    ...(wr !== '' ? ['write_read per statement (medians over rounds; stale counts summed):', '', wr, ''] : []),
    ...notes,
    '',
    '<details><summary>Per round</summary>',
    '',
    roundsTable(records),
    '',
    '</details>',
  ].join('\n') + '\n';
}



// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(path.join(REPO, 'dist/main.js'))) throw new Error('dist/main.js missing: run `npx tsc -p tsconfig.json` first');
  if (selected.some((w) => w.sysbench !== undefined) && sh('sysbench', ['--version']) === '') throw new Error('sysbench not found on PATH');

  log('starting sandbox (primary + 2 replicas)');
  const sb = await startSandbox({ replicas: 2, logger: pino({ level: 'warn' }, pino.destination(2)) });
  life.sandbox = sb;
  log(`sandbox ${sb.kind} ${sb.version}: primary ${sb.primary.port}, replicas ${sb.replicas.map((r) => r.port).join(', ')}`);

  const t = Date.now();
  execSysbenchPrepare(sb.primary);
  const admin = await mysql.createConnection({ host: sb.primary.host, port: sb.primary.port, user: USER, password: PASSWORD, database: DB });
  await admin.query(`DROP TABLE IF EXISTS ${WR_TABLE}`);
  await admin.query(`CREATE TABLE ${WR_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, worker INT NOT NULL, seq INT NOT NULL, v VARCHAR(32) NOT NULL) ENGINE=InnoDB`);
  await admin.end();
  await sb.waitForReplication(300_000);
  log(`prepared ${TABLES} × ${TABLE_SIZE} rows and ${WR_TABLE}, replicated in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const proxies = new Map<Mode, Proxy>();
  for (const m of MODES) proxies.set(m, await startProxy(sb, m));

  if (WARMUP > 0) {
    log(`warm-up: ${WARMUP} s rw_autocommit + ${WARMUP} s write_read per proxy`);
    const rw = WORKLOADS.find((w) => w.id === 'rw_autocommit')!;
    for (const p of proxies.values()) {
      await runSysbench(rw, p.endpoint, WARMUP, `sysbench-consistency-${STAMP}-warmup-${p.mode}.log`);
      await runWriteRead(p.endpoint, WARMUP);
    }
  }

  const records: RunRecord[] = [];
  for (let round = 1; round <= ROUNDS && !life.aborted; round++) {
    for (const w of selected) {
      const targets = targetsOf(w);
      const k = (round - 1) % targets.length;
      const order = [...targets.slice(k), ...targets.slice(0, k)];
      for (const target of order) {
        const proxy = target === 'direct' ? undefined : proxies.get(target);
        const endpoint = proxy?.endpoint ?? { host: sb.primary.host, port: sb.primary.port };
        records.push(await runOne(sb, w, round, target, endpoint, proxy));
      }
    }
  }

  const notes: string[] = [];
  for (const p of proxies.values()) {
    await p.stop();
    const text = fs.readFileSync(p.logFile, 'utf8').trim();
    // Expected at start-up: hosts coming up, a fresh dnindex file.
    const lines = text === '' ? [] : text.split('\n').filter((l) => !(/"backend state change"/.test(l) && /"to":"up"/.test(l)) && !/"msg":"dnindex/.test(l));
    if (lines.length > 0) {
      log(`proxy (${p.mode}) logged ${lines.length} line(s) besides start-up; first: ${lines[0]!.slice(0, 300)}`);
      notes.push(`Proxy log (${p.mode}, level warn): ${lines.length} line(s) besides start-up, e.g. \`${lines[0]!.slice(0, 200)}\`.`);
    }
  }

  const s = summarize(records);
  const verdict = pointSelectVerdict(s);
  const md = markdown(sb.version, records, s, [...(verdict !== '' ? [verdict] : []), ...notes]);
  process.stdout.write('\n' + md);
  if (opt.write) log(`wrote ${path.relative(REPO, writeResults(REPO, md))}`);
  if (records.some((x) => !x.r.ok && x.w.id !== 'write_read')) process.exitCode = 1;
}

function execSysbenchPrepare(primary: Endpoint): void {
  log(`preparing ${TABLES} × ${TABLE_SIZE} rows on the primary ${primary.port}`);
  const r = sh('sysbench', [
    'oltp_read_write',
    `--mysql-host=${primary.host}`,
    `--mysql-port=${primary.port}`,
    `--mysql-user=${USER}`,
    `--mysql-password=${PASSWORD}`,
    `--mysql-db=${DB}`,
    `--tables=${TABLES}`,
    `--table-size=${TABLE_SIZE}`,
    'prepare',
  ]);
  if (!/Creating table/.test(r)) throw new Error(`sysbench prepare failed: ${r}`);
}

main()
  .catch((err: unknown) => {
    if (life.aborted) return;
    log(`error: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => life.cleanup().then(() => process.exit()));
