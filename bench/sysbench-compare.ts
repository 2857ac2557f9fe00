/**
 * sysbench through Sluice vs straight to one replica, interleaved, in one run.
 *
 *   bash bench/run.sh [options]          (npm run bench -- [options] builds dist/ first)
 *
 * 1. starts a sandbox (MariaDB primary + 2 GTID replicas on free ports), or uses existing servers
 *    (--primary h:p --replicas h:p,h:p);
 * 2. `sysbench oltp_read_only prepare` on the PRIMARY, then waits until both replicas applied it;
 * 3. starts the proxy from the compiled build (`node dist/main.js start --config <yaml>`) as a
 *    separate process: primary = writeHost, both replicas = readHosts, balance 1, log level warn;
 * 4. for each round, for each workload: direct (one replica) then proxy, `--db-ps-mode=disable`;
 * 5. around every proxy run reads the proxy's utime+stime from /proc/<pid>/stat → CPU µs/statement,
 *    and its VmRSS / VmHWM;
 * 6. prints medians per workload (markdown) and with --write puts them into bench/RESULTS.md;
 * 7. --profile: one extra proxy process under `node --cpu-prof` for point_select at 8 threads (or at each of --threads),
 *    summarised by self time (bench/profile-top.ts);
 * 8. cleans up (proxy, sandbox) on exit, errors and Ctrl-C.
 */
import { delay, freePort, intOption, LOAD_AVERAGE, machineLine, sh, sluiceLine } from './util.js';
import { BenchLifecycle, waitExit } from './lifecycle.js';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import YAML from 'yaml';
import { startSandbox } from '../src/sandbox/index.js';
import { profileMarkdown, summarizeProfile, type ProfileSummary } from './profile-top.js';
import { perfMarkdown, summarizePerf } from './perf-report.js';

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: bash bench/run.sh [options]      (or: npm run bench -- [options])
  --rounds N            interleaved direct/proxy rounds per workload (default 3)
  --time S              seconds per sysbench run (default 10)
  --warmup S            warm-up seconds before round 1, direct and through the proxy (default 5; 0 = none)
  --tables N            sysbench tables (default 4)
  --table-size N        rows per table (default 10000)
  --only LIST           comma-separated workload ids (default all): ${'point_select_t1,point_select_t8,read_only_t8,ps_point_select_t8,ps_read_only_t8'};
                        point_select_t<N> runs oltp_point_select at any N threads
  --threads LIST        point_select at these thread counts (e.g. 8,64,256; = --only point_select_t8,…),
                        and --profile / --perf at each of them: does the cost per query grow with clients?
  --write               put the results into bench/RESULTS.md (newest first)
  --profile             afterwards, profile the proxy (node --cpu-prof) during point_select at 8 threads
  --profile-only        only the profile run (no rounds; implies --profile)
  --perf                afterwards, \`perf record -e cpu-clock -g\` a proxy (node --perf-basic-prof) during
                        point_select at 8 threads: CPU-time split kernel / V8+native / JS and top symbols
  --perf-only           only the perf run (no rounds; implies --perf)
  --pin-client CPUS     run sysbench under \`taskset -c CPUS\` (e.g. 0)
  --pin-servers CPUS    pin the sandbox's mariadbd processes and the proxy to CPUS (e.g. 1, or 0 for
                        everything on one core); default: no pinning, the scheduler decides
  --primary H:P         use this existing primary instead of a sandbox (with --replicas)
  --replicas H:P,H:P    existing replicas (the first one is the "direct" target)
  --skip-prepare        tables already exist (existing servers only)
  --user U --password P --db D   account / schema (default app / app / sluice_test)
  --proxy-port N        port for the proxy (default: a free one)
  --out DIR             logs, generated config, profiles (default bench/out)
Environment: SLUICE_BENCH_PRIMARY, SLUICE_BENCH_REPLICAS work like --primary / --replicas.`;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    time: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    tables: { type: 'string', default: '4' },
    'table-size': { type: 'string', default: '10000' },
    only: { type: 'string' },
    threads: { type: 'string' },
    write: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    perf: { type: 'boolean', default: false },
    'perf-only': { type: 'boolean', default: false },
    'pin-client': { type: 'string' },
    'pin-servers': { type: 'string' },
    primary: { type: 'string', default: process.env['SLUICE_BENCH_PRIMARY'] },
    replicas: { type: 'string', default: process.env['SLUICE_BENCH_REPLICAS'] },
    'skip-prepare': { type: 'boolean', default: false },
    user: { type: 'string', default: 'app' },
    password: { type: 'string', default: 'app' },
    db: { type: 'string', default: 'sluice_test' },
    'proxy-port': { type: 'string' },
    out: { type: 'string', default: 'bench/out' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  allowPositionals: false,
});

if (opt.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}

const intOpt = (name: string, v: string | undefined, min: number): number => intOption(name, v, min, USAGE);

const ROUNDS = intOpt('rounds', opt.rounds, 1);
const TIME = intOpt('time', opt.time, 1);
const WARMUP = intOpt('warmup', opt.warmup, 0);
const TABLES = intOpt('tables', opt.tables, 1);
const TABLE_SIZE = intOpt('table-size', opt['table-size'], 1);
const PROFILE_ONLY = opt['profile-only'];
const PROFILE = opt.profile || PROFILE_ONLY;
const PERF = opt.perf || opt['perf-only'];
const CPU_LIST = /^\d+([-,]\d+)*$/;
for (const k of ['pin-client', 'pin-servers'] as const) {
  const v = opt[k];
  if (v !== undefined && !CPU_LIST.test(v)) {
    process.stderr.write(`--${k}: expected a CPU list like 0 or 0,1 or 0-3, got "${v}"\n`);
    process.exit(2);
  }
}
const REPO = process.cwd();
const OUT = path.resolve(opt.out);
const STAMP = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');

interface Workload {
  readonly id: string;
  readonly script: string;
  readonly threads: number;
  readonly extra: readonly string[];
  /** Queries per sysbench event (= per "transaction" in its output). */
  readonly queriesPerEvent: number;
}

const WORKLOADS: readonly Workload[] = [
  { id: 'point_select_t1', script: 'oltp_point_select', threads: 1, extra: [], queriesPerEvent: 1 },
  { id: 'point_select_t8', script: 'oltp_point_select', threads: 8, extra: [], queriesPerEvent: 1 },
  // 10 point selects + 4 range queries per event; --skip-trx drops BEGIN/COMMIT.
  { id: 'read_only_t8', script: 'oltp_read_only', threads: 8, extra: ['--skip-trx=on'], queriesPerEvent: 14 },
  // The same through server-side prepared statements (sysbench's default mode): the proxy
  // prepares lazily on each backend and relays binary result sets.
  { id: 'ps_point_select_t8', script: 'oltp_point_select', threads: 8, extra: ['--db-ps-mode=auto'], queriesPerEvent: 1 },
  { id: 'ps_read_only_t8', script: 'oltp_read_only', threads: 8, extra: ['--db-ps-mode=auto', '--skip-trx=on'], queriesPerEvent: 14 },
];
/** `point_select_t<N>`: oltp_point_select at N threads (any N; per-client cost comparisons). */
function workloadById(id: string): Workload | undefined {
  const known = WORKLOADS.find((w) => w.id === id);
  if (known !== undefined) return known;
  const m = /^point_select_t([1-9]\d*)$/.exec(id);
  return m === null ? undefined : { id, script: 'oltp_point_select', threads: Number(m[1]), extra: [], queriesPerEvent: 1 };
}

const threadIds: readonly string[] | undefined = (() => {
  if (opt.threads === undefined) return undefined;
  const counts = opt.threads.split(',').map((s) => s.trim());
  if (counts.some((n) => !/^[1-9]\d*$/.test(n))) {
    process.stderr.write(`--threads: expected thread counts like 8,64,256, got "${opt.threads}"\n`);
    process.exit(2);
  }
  return counts.map((n) => `point_select_t${n}`);
})();

const selected: readonly Workload[] = (() => {
  if (opt.only === undefined && threadIds === undefined) return WORKLOADS;
  const ids = [...(opt.only ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''), ...(threadIds ?? [])];
  const bad = ids.filter((id) => workloadById(id) === undefined);
  if (bad.length > 0) {
    process.stderr.write(`--only: unknown workload(s) ${bad.join(', ')}\n${USAGE}\n`);
    process.exit(2);
  }
  return [...new Set(ids)].map((id) => workloadById(id)!);
})();
/** What --profile / --perf measure: point_select at 8 threads, or at each of --threads. */
const PROFILE_WORKLOADS: readonly Workload[] = threadIds?.map((id) => workloadById(id)!) ?? [WORKLOADS[1]!];

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

function parseEndpoint(s: string, what: string): Endpoint {
  const m = /^(.+):(\d+)$/.exec(s.trim());
  if (m === null) {
    process.stderr.write(`${what}: expected host:port, got "${s}"\n`);
    process.exit(2);
  }
  return { host: m[1]!, port: Number(m[2]) };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}


// ---------------------------------------------------------------------------------------------
// /proc readings

const CLK_TCK = Number(sh('getconf', ['CLK_TCK'])) || 100;

/** utime and stime of a process, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pid: number): { user: number; sys: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state) → field 14 is rest[11], field 15 is rest[12].
  return { user: Number(rest[11]), sys: Number(rest[12]) };
}

/** Context switches of the main thread (voluntary, involuntary). */
function ctxSwitches(pid: number): { vol: number; invol: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const n = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { vol: n('voluntary_ctxt_switches'), invol: n('nonvoluntary_ctxt_switches') };
}

/** `taskset -a -p -c CPUS PID`: every thread of a running process (new threads inherit it). */
function pin(pid: number, cpus: string | undefined): void {
  if (cpus === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** VmRSS and VmHWM in MiB. */
function memory(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything we start registers here; runs once, on success, error or signal.

const life = new BenchLifecycle(log);
const children = life.children;
const cleanup = (): Promise<void> => life.cleanup();

// ---------------------------------------------------------------------------------------------
// sysbench

interface SysbenchResult {
  readonly ok: boolean;
  readonly exitCode: number | null;
  readonly queries: number;
  readonly qps: number;
  readonly transactions: number;
  readonly tps: number;
  readonly events: number;
  readonly totalTimeS: number;
  readonly latAvgMs: number;
  readonly latP95Ms: number;
  readonly latMaxMs: number;
  readonly errors: number;
  readonly reconnects: number;
  /** Lines of sysbench output that look like trouble (FATAL, error, warning). */
  readonly complaints: readonly string[];
  readonly logFile: string;
}

const num = (out: string, re: RegExp): number => {
  const m = re.exec(out);
  return m === null ? NaN : Number(m[1]);
};

function parseSysbench(out: string): Omit<SysbenchResult, 'ok' | 'exitCode' | 'logFile'> {
  return {
    queries: num(out, /^\s*queries:\s+(\d+)/m),
    qps: num(out, /^\s*queries:\s+\d+\s+\(([\d.]+) per sec\.\)/m),
    transactions: num(out, /^\s*transactions:\s+(\d+)/m),
    tps: num(out, /^\s*transactions:\s+\d+\s+\(([\d.]+) per sec\.\)/m),
    events: num(out, /^\s*total number of events:\s+(\d+)/m),
    totalTimeS: num(out, /^\s*total time:\s+([\d.]+)s/m),
    // The printed avg has 10 µs resolution (ms, 2 decimals); sum ÷ events is exact enough.
    latAvgMs: num(out, /^\s*sum:\s+([\d.]+)/m) / num(out, /^\s*total number of events:\s+(\d+)/m),
    latP95Ms: num(out, /^\s*95th percentile:\s+([\d.]+)/m),
    latMaxMs: num(out, /^\s*max:\s+([\d.]+)/m),
    errors: num(out, /^\s*ignored errors:\s+(\d+)/m),
    reconnects: num(out, /^\s*reconnects:\s+(\d+)/m),
    complaints: out
      .split('\n')
      .filter((l) => /FATAL|error|warning|ALERT/i.test(l) && !/ignored errors:/.test(l))
      .map((l) => l.trim()),
  };
}

function sysbenchArgs(w: Workload | { script: string; threads: number; extra: readonly string[] }, target: Endpoint, time: number): string[] {
  return [
    w.script,
    `--mysql-host=${target.host}`,
    `--mysql-port=${target.port}`,
    `--mysql-user=${opt.user}`,
    `--mysql-password=${opt.password}`,
    `--mysql-db=${opt.db}`,
    `--tables=${TABLES}`,
    `--table-size=${TABLE_SIZE}`,
    // Text protocol unless the workload asks for prepared statements.
    ...(w.extra.some((e) => e.startsWith('--db-ps-mode=')) ? [] : ['--db-ps-mode=disable']),
    `--threads=${w.threads}`,
    `--time=${time}`,
    ...w.extra,
    'run',
  ];
}

function runSysbench(args: readonly string[], logName: string): Promise<SysbenchResult> {
  if (life.aborted) return Promise.reject(new Error('life.aborted'));
  const logFile = path.join(OUT, logName);
  return new Promise((resolve, reject) => {
    const pinned = opt['pin-client'];
    const child =
      pinned === undefined
        ? spawn('sysbench', [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('taskset', ['-c', pinned, 'sysbench', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      children.delete(child);
      fs.writeFileSync(logFile, `$ ${pinned === undefined ? '' : `taskset -c ${pinned} `}sysbench ${args.join(' ')}\n${out}`);
      const parsed = parseSysbench(out);
      resolve({ ...parsed, ok: code === 0 && Number.isFinite(parsed.qps), exitCode: code, logFile });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Servers and proxy

interface Backends {
  readonly primary: Endpoint;
  readonly replicas: readonly Endpoint[];
  readonly version: string;
  waitForReplication(): Promise<void>;
}

async function query(ep: Endpoint, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({
    host: ep.host,
    port: ep.port,
    user: opt.user,
    password: opt.password,
    database: opt.db,
    connectTimeout: 5_000,
  });
  try {
    const [rows] = await conn.query(sql, params);
    return rows as Record<string, unknown>[];
  } finally {
    await conn.end().catch(() => undefined);
  }
}

async function backends(): Promise<Backends> {
  if (opt.primary !== undefined) {
    if (opt.replicas === undefined) {
      process.stderr.write('--primary needs --replicas\n');
      process.exit(2);
    }
    const primary = parseEndpoint(opt.primary, '--primary');
    if (opt['pin-servers'] !== undefined) log('note: with existing servers --pin-servers pins only the proxy');
    const replicas = opt.replicas.split(',').map((s) => parseEndpoint(s, '--replicas'));
    const v = await query(primary, 'SELECT VERSION() AS v');
    return {
      primary,
      replicas,
      version: String(v[0]?.['v']),
      // MariaDB: wait for the primary's binlog GTID position on every replica.
      async waitForReplication() {
        const pos = String((await query(primary, 'SELECT @@gtid_binlog_pos AS p'))[0]?.['p'] ?? '');
        for (const r of replicas) {
          const res = await query(r, 'SELECT MASTER_GTID_WAIT(?, 120) AS r', [pos]);
          if (Number(res[0]?.['r']) !== 0) throw new Error(`replica ${r.host}:${r.port} did not reach ${pos}`);
        }
      },
    };
  }
  if (opt['skip-prepare']) {
    process.stderr.write('--skip-prepare only makes sense with --primary/--replicas\n');
    process.exit(2);
  }
  log('starting sandbox (primary + 2 replicas)');
  const sb = await startSandbox({ replicas: 2, logger: pino({ level: 'warn' }, pino.destination(2)) });
  life.sandbox = sb;
  log(`sandbox ${sb.kind} ${sb.version}: primary ${sb.primary.port}, replicas ${sb.replicas.map((r) => r.port).join(', ')}`);
  if (opt['pin-servers'] !== undefined) {
    for (const srv of sb.servers) if (srv.pid !== undefined) pin(srv.pid, opt['pin-servers']);
    log(`pinned mariadbd processes to CPU(s) ${opt['pin-servers']}`);
  }
  return {
    primary: sb.primary,
    replicas: sb.replicas,
    version: sb.version,
    waitForReplication: () => sb.waitForReplication(300_000),
  };
}

interface Proxy {
  readonly pid: number;
  readonly endpoint: Endpoint;
  readonly logFile: string;
  stop(): Promise<void>;
}

async function startProxy(b: Backends, name: string, nodeFlags: readonly string[]): Promise<Proxy> {
  if (life.aborted) throw new Error('life.aborted');
  const port = opt['proxy-port'] !== undefined ? intOpt('proxy-port', opt['proxy-port'], 1) : await freePort();
  const config = {
    listen: { host: '127.0.0.1', port },
    users: [{ name: opt.user, password: opt.password }],
    dataHost: {
      name: 'bench',
      balance: 1,
      user: opt.user,
      password: opt.password,
      writeHosts: [{ host: b.primary.host, port: b.primary.port }],
      readHosts: b.replicas.map((r) => ({ host: r.host, port: r.port })),
      failover: { enabled: false, dnindexFile: path.join(OUT, `dnindex-${STAMP}.properties`) },
    },
    // One process: these figures are per process (CPU from /proc/<pid>/stat of that process).
    workers: 1,
    log: { level: 'warn' },
  };
  const configFile = path.join(OUT, `sluice-${name}-${STAMP}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const logFile = path.join(OUT, `proxy-${name}-${STAMP}.log`);
  const fd = fs.openSync(logFile, 'w');
  const args = [...nodeFlags, path.join(REPO, 'dist/main.js'), 'start', '--config', configFile];
  log(`starting proxy: node ${args.map((a) => path.relative(REPO, a) || a).join(' ')}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], cwd: REPO });
  fs.closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const pid = child.pid;
  if (pid === undefined) throw new Error('proxy did not start');
  pin(pid, opt['pin-servers']);
  const endpoint = { host: '127.0.0.1', port };

  // Listening = a MySQL login through it works.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`proxy exited (${child.exitCode ?? child.signalCode}) during start-up; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      await query(endpoint, 'SELECT 1');
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`proxy not accepting logins on ${port} after 30 s: ${String(err)}`);
      await delay(100);
    }
  }
  return {
    pid,
    endpoint,
    logFile,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitExit(child, 15_000);
    },
  };
}

/**
 * The proxy's log at level warn: counts by message; "notable" = anything but the start-up
 * `backend state change … → up` lines (errors, DOWN transitions, unparseable output).
 */
function proxyLog(file: string): { summary: string; notable: string[] } {
  const text = fs.readFileSync(file, 'utf8').trim();
  const lines = text === '' ? [] : text.split('\n');
  const counts = new Map<string, number>();
  const notable: string[] = [];
  for (const l of lines) {
    let key = 'non-JSON output';
    try {
      const j = JSON.parse(l) as { level?: number; msg?: string; to?: string };
      key = `${j.msg ?? '?'}${j.to !== undefined ? ` (→ ${j.to})` : ''}`;
      if (!(j.msg === 'backend state change' && j.to === 'up')) notable.push(l);
    } catch {
      notable.push(l);
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const summary = lines.length === 0 ? 'empty' : [...counts].map(([k, n]) => `${n}× ${k}`).join(', ');
  return { summary, notable };
}

/** Reads through the proxy must land on replicas (balance 1): ask a few times which server answered. */
async function routingCheck(proxy: Proxy, replicaIds: ReadonlySet<number>): Promise<string> {
  const seen = new Map<number, number>();
  const conn = await mysql.createConnection({
    ...proxy.endpoint,
    user: opt.user,
    password: opt.password,
    database: opt.db,
    connectTimeout: 5_000,
  });
  try {
    for (let i = 0; i < 8; i++) {
      const [rows] = await conn.query('SELECT @@server_id AS id');
      const id = Number((rows as Record<string, unknown>[])[0]?.['id']);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
  const desc = [...seen].map(([id, n]) => `server_id ${id}×${n}`).join(', ');
  const stray = [...seen.keys()].filter((id) => !replicaIds.has(id));
  if (stray.length > 0) log(`WARNING: reads through the proxy reached non-replica server_id(s) ${stray.join(', ')} (${desc})`);
  return desc;
}

// ---------------------------------------------------------------------------------------------
// The runs

interface RunRecord {
  readonly workload: Workload;
  readonly round: number;
  readonly mode: 'direct' | 'proxy';
  readonly r: SysbenchResult;
  /** Proxy runs only: utime+stime ÷ queries, and the user / system parts of it. */
  readonly cpuUsPerStmt?: number;
  readonly userUsPerStmt?: number;
  readonly sysUsPerStmt?: number;
  readonly cpuSeconds?: number;
  readonly rssMiB?: number;
  /** Proxy main thread context switches per statement (voluntary + involuntary). */
  readonly ctxPerStmt?: number;
  /** Share of SELECTs each server executed during the run (primary first), in %. */
  readonly readShares?: readonly number[];
}

/** `Com_select` of every server (primary first): where the proxy's reads landed. */
async function comSelect(servers: readonly Endpoint[]): Promise<number[]> {
  return Promise.all(
    servers.map(async (ep) => {
      const rows = await query(ep, "SHOW GLOBAL STATUS LIKE 'Com_select'");
      return Number(rows[0]?.['Value']);
    }),
  );
}

let allServers: readonly Endpoint[] = [];

async function runOne(w: Workload, round: number, mode: 'direct' | 'proxy', target: Endpoint, proxy?: Proxy): Promise<RunRecord> {
  const sel0 = proxy !== undefined ? await comSelect(allServers) : [];
  const before = proxy !== undefined ? cpuTicks(proxy.pid) : { user: 0, sys: 0 };
  const ctx0 = proxy !== undefined ? ctxSwitches(proxy.pid) : { vol: 0, invol: 0 };
  const r = await runSysbench(sysbenchArgs(w, target, TIME), `sysbench-${STAMP}-${w.id}-r${round}-${mode}.log`);
  let extra: Partial<RunRecord> = {};
  if (proxy !== undefined) {
    const after = cpuTicks(proxy.pid);
    const userS = (after.user - before.user) / CLK_TCK;
    const sysS = (after.sys - before.sys) / CLK_TCK;
    extra = {
      cpuSeconds: userS + sysS,
      cpuUsPerStmt: ((userS + sysS) * 1e6) / r.queries,
      userUsPerStmt: (userS * 1e6) / r.queries,
      sysUsPerStmt: (sysS * 1e6) / r.queries,
      rssMiB: memory(proxy.pid).rssMiB,
      ctxPerStmt: (() => {
        const c = ctxSwitches(proxy.pid);
        return (c.vol - ctx0.vol + c.invol - ctx0.invol) / r.queries;
      })(),
    };
    const sel1 = await comSelect(allServers);
    const deltas = sel1.map((v, i) => v - (sel0[i] ?? 0));
    const total = deltas.reduce((a, b) => a + b, 0);
    extra = { ...extra, readShares: deltas.map((d) => (100 * d) / total) };
  }
  const rec: RunRecord = { workload: w, round, mode, r, ...extra };
  const trouble = [
    r.ok ? '' : ` FAILED (exit ${r.exitCode}; see ${path.relative(REPO, r.logFile)})`,
    r.errors > 0 ? ` errors=${r.errors}` : '',
    r.reconnects > 0 ? ` reconnects=${r.reconnects}` : '',
  ].join('');
  log(
    `${w.id.padEnd(16)} round ${round} ${mode.padEnd(6)} ${r.qps.toFixed(0).padStart(7)} q/s  ` +
      `avg ${r.latAvgMs.toFixed(3)} ms  p95 ${r.latP95Ms.toFixed(3)} ms` +
      (rec.readShares !== undefined ? `  reads ${sharesText(rec.readShares)}` : '') +
      (rec.cpuUsPerStmt !== undefined
        ? `  proxy CPU ${rec.cpuUsPerStmt.toFixed(1)} µs/stmt (user ${f1(rec.userUsPerStmt ?? NaN)} + sys ${f1(rec.sysUsPerStmt ?? NaN)})`
        : '') +
      trouble,
  );
  if (!r.ok || r.complaints.length > 0) for (const c of r.complaints.slice(0, 5)) log(`  sysbench: ${c}`);
  return rec;
}

// ---------------------------------------------------------------------------------------------
// Report

/** "P 0 / R1 50 / R2 50" (percent of SELECTs per server). */
function sharesText(shares: readonly number[]): string {
  return shares.map((x, i) => `${i === 0 ? 'P' : `R${i}`} ${Number.isFinite(x) ? x.toFixed(0) : '?'}`).join(' / ');
}

interface Summary {
  readonly w: Workload;
  readonly directQps: number;
  readonly proxyQps: number;
  readonly ratio: number;
  readonly cpuUs: number;
  readonly userUs: number;
  readonly sysUs: number;
  readonly directAvgUs: number;
  readonly proxyAvgUs: number;
  readonly directP95Us: number;
  readonly proxyP95Us: number;
  /** Added latency per sysbench event (median proxy avg − median direct avg), µs. */
  readonly addedPerEventUs: number;
  readonly addedPerStmtUs: number;
  readonly errors: number;
  readonly reconnects: number;
  readonly failed: number;
  /** max ÷ min q/s over rounds, per mode. */
  readonly directSpread: number;
  readonly proxySpread: number;
}

function summarize(records: readonly RunRecord[]): Summary[] {
  return selected.map((w) => {
    const of = (mode: 'direct' | 'proxy'): RunRecord[] => records.filter((x) => x.workload === w && x.mode === mode && x.r.ok);
    const d = of('direct');
    const p = of('proxy');
    const directAvgUs = median(d.map((x) => x.r.latAvgMs * 1000));
    const proxyAvgUs = median(p.map((x) => x.r.latAvgMs * 1000));
    const directQps = median(d.map((x) => x.r.qps));
    const proxyQps = median(p.map((x) => x.r.qps));
    const all = records.filter((x) => x.workload === w);
    return {
      w,
      directQps,
      proxyQps,
      ratio: proxyQps / directQps,
      cpuUs: median(p.map((x) => x.cpuUsPerStmt ?? NaN)),
      userUs: median(p.map((x) => x.userUsPerStmt ?? NaN)),
      sysUs: median(p.map((x) => x.sysUsPerStmt ?? NaN)),
      directAvgUs,
      proxyAvgUs,
      directP95Us: median(d.map((x) => x.r.latP95Ms * 1000)),
      proxyP95Us: median(p.map((x) => x.r.latP95Ms * 1000)),
      addedPerEventUs: proxyAvgUs - directAvgUs,
      addedPerStmtUs: (proxyAvgUs - directAvgUs) / w.queriesPerEvent,
      errors: all.reduce((s, x) => s + (Number.isFinite(x.r.errors) ? x.r.errors : 0), 0),
      reconnects: all.reduce((s, x) => s + (Number.isFinite(x.r.reconnects) ? x.r.reconnects : 0), 0),
      failed: all.filter((x) => !x.r.ok).length,
      directSpread: Math.max(...d.map((x) => x.r.qps)) / Math.min(...d.map((x) => x.r.qps)),
      proxySpread: Math.max(...p.map((x) => x.r.qps)) / Math.min(...p.map((x) => x.r.qps)),
    };
  });
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const sign = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(0)}` : 'n/a');

function resultsTable(s: readonly Summary[]): string {
  const lines = [
    '| workload | threads | direct q/s | proxy q/s | proxy/direct | proxy CPU µs/stmt (user+sys) | direct avg / p95 (µs) | proxy avg / p95 (µs) | added latency µs/stmt | errors / reconnects |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of s) {
    const perEvent = x.w.queriesPerEvent === 1 ? '' : ` (${sign(x.addedPerEventUs)}/event of ${x.w.queriesPerEvent})`;
    const name = `${x.w.script}${x.w.extra.length > 0 ? ' ' + x.w.extra.join(' ') : ''}`;
    lines.push(
      `| ${name} | ${x.w.threads} | ${f0(x.directQps)} | ${f0(x.proxyQps)} | ${f2(x.ratio)}× | ${f1(x.cpuUs)} (${f1(x.userUs)}+${f1(x.sysUs)}) | ` +
        `${f0(x.directAvgUs)} / ${f0(x.directP95Us)} | ${f0(x.proxyAvgUs)} / ${f0(x.proxyP95Us)} | ` +
        `${sign(x.addedPerStmtUs)}${perEvent} | ${x.errors} / ${x.reconnects}${x.failed > 0 ? ` (${x.failed} runs failed)` : ''} |`,
    );
  }
  return lines.join('\n');
}

function roundsTable(records: readonly RunRecord[]): string {
  const lines = [
    '| workload | round | direct q/s | proxy q/s | ratio | direct avg µs | proxy avg µs | proxy CPU µs/stmt (user+sys) | proxy ctx switches/stmt | proxy RSS MiB | proxy reads landed, % (primary / replicas) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const w of selected) {
    for (let round = 1; round <= ROUNDS; round++) {
      const d = records.find((x) => x.workload === w && x.round === round && x.mode === 'direct');
      const p = records.find((x) => x.workload === w && x.round === round && x.mode === 'proxy');
      if (d === undefined && p === undefined) continue;
      const dq = d?.r.qps ?? NaN;
      const pq = p?.r.qps ?? NaN;
      lines.push(
        `| ${w.id} | ${round} | ${f0(dq)} | ${f0(pq)} | ${f2(pq / dq)} | ${f0((d?.r.latAvgMs ?? NaN) * 1000)} | ` +
          `${f0((p?.r.latAvgMs ?? NaN) * 1000)} | ${f1(p?.cpuUsPerStmt ?? NaN)} (${f1(p?.userUsPerStmt ?? NaN)}+${f1(p?.sysUsPerStmt ?? NaN)}) | ` +
          `${f2(p?.ctxPerStmt ?? NaN)} | ${f1(p?.rssMiB ?? NaN)} | ${p?.readShares ? sharesText(p.readShares) : 'n/a'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Flags workloads whose rounds disagree (max/min q/s > 1.3): medians of 3 are then a coin toss. */
const UNSTABLE = 1.3;
function spreadNote(s: readonly Summary[]): string {
  const parts = s.map(
    (x) =>
      `${x.w.id} direct ${f2(x.directSpread)}×${x.directSpread > UNSTABLE ? ' ⚠' : ''}, ` +
      `proxy ${f2(x.proxySpread)}×${x.proxySpread > UNSTABLE ? ' ⚠' : ''}`,
  );
  const bad = s.some((x) => x.directSpread > UNSTABLE || x.proxySpread > UNSTABLE);
  return (
    `Spread over rounds (max ÷ min q/s): ${parts.join('; ')}.` +
    (bad
      ? ' ⚠ = rounds disagree by more than 1.3×; see "Per round". On a 2-vCPU VM, where the scheduler happens ' +
        'to place sysbench, MariaDB and the proxy moves q/s a lot (threads on the same vCPU ping-pong far faster ' +
        'than across vCPUs, whose wake-ups are expensive under virtualisation; 1-thread runs are bimodal, ' +
        '~9k vs ~40-57k q/s direct). `--pin-client` / `--pin-servers` fix the placement.'
      : '')
  );
}

interface Target {
  readonly what: string;
  readonly target: string;
  readonly value: string;
  readonly pass: boolean | undefined;
}

function targets(s: readonly Summary[]): Target[] {
  const ps8 = s.find((x) => x.w.id === 'point_select_t8');
  const ps1 = s.find((x) => x.w.id === 'point_select_t1');
  const out: Target[] = [];
  const check = (v: number | undefined, ok: (v: number) => boolean): boolean | undefined =>
    v === undefined || !Number.isFinite(v) ? undefined : ok(v);
  out.push({
    what: 'point_select, 8 threads: proxy q/s ÷ direct q/s',
    target: '≥ 0.36×',
    value: ps8 ? `${f2(ps8.ratio)}×` : 'not run',
    pass: check(ps8?.ratio, (v) => v >= 0.36),
  });
  out.push({
    what: 'proxy CPU per statement (point_select, 8 threads)',
    target: '≤ 35 µs',
    value: ps8 ? `${f1(ps8.cpuUs)} µs` : 'not run',
    pass: check(ps8?.cpuUs, (v) => v <= 35),
  });
  out.push({
    what: 'added latency per statement (point_select, 1 thread)',
    target: '≤ +55 µs',
    value: ps1 ? `${sign(ps1.addedPerStmtUs)} µs` : 'not run',
    pass: check(ps1?.addedPerStmtUs, (v) => v <= 55),
  });
  return out;
}

function targetsTable(t: readonly Target[]): string {
  return [
    '| target | goal | measured | | HAProxy TCP | ProxySQL | Atlas |',
    '|---|---|---|---|---|---|---|',
    ...t.map((x, i) => {
      const yard = [
        ['0.46×', '0.34×', '0.26×'],
        ['27.5 µs', '37.4 µs', '60.6 µs'],
        ['+38 µs', '+68 µs', '+146 µs'],
      ][i]!;
      return `| ${x.what} | ${x.target} | ${x.value} | ${x.pass === undefined ? '–' : x.pass ? '**pass**' : '**MISS**'} | ${yard.join(' | ')} |`;
    }),
  ].join('\n');
}

function environment(version: string): string[] {
  return [
    machineLine(),
    `- sysbench ${sh('sysbench', ['--version']).replace(/^sysbench\s*/, '')}, MariaDB ${version}, Node ${process.version}`,
    sluiceLine(),
    `- load average when the run started: ${LOAD_AVERAGE} (anything else busy on the machine skews every number)`,
    `- CPU pinning: ${opt['pin-client'] === undefined && opt['pin-servers'] === undefined ? 'none (scheduler decides)' : `sysbench on ${opt['pin-client'] ?? 'any'}, mariadbd + proxy on ${opt['pin-servers'] ?? 'any'}`}`,
  ];
}

function commandLine(): string {
  const args = process.argv.slice(2);
  return `npm run bench${args.length > 0 ? ' -- ' + args.join(' ') : ''}`;
}

function markdown(version: string, records: readonly RunRecord[], s: readonly Summary[], extra: readonly string[]): string {
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const sections: string[] = [`## ${date} — sysbench through Sluice vs direct to one replica`, '', ...environment(version)];
  sections.push(
    `- command: \`${commandLine()}\` (= \`bash bench/run.sh${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}\`)`,
  );
  if (records.length > 0) {
    sections.push(
      `- sysbench: \`--db-ps-mode=disable (ps_* workloads: auto, i.e. server-side prepared statements) --tables=${TABLES} --table-size=${TABLE_SIZE} --time=${TIME}\`, ${ROUNDS} round(s), ` +
        `interleaved direct → proxy per workload per round${WARMUP > 0 ? `, ${WARMUP} s warm-up of each first` : ''}; ` +
        'direct = replica 1, proxy = Sluice (balance 1: reads over both replicas)',
      '',
      'Medians over rounds. Latency is sysbench\'s per-event latency: one event = 1 query for ' +
        'oltp_point_select, 14 queries (10 point + 4 range selects, `--skip-trx`) for oltp_read_only; ' +
        '"added latency µs/stmt" = (median proxy avg − median direct avg) ÷ queries per event. ' +
        'Proxy CPU = the proxy process\'s utime+stime (/proc/<pid>/stat) during the run ÷ queries sysbench reported.',
      '',
      resultsTable(s),
      '',
      spreadNote(s),
      '',
      'Targets (from the issue; yardsticks measured on this machine the same way):',
      '',
      targetsTable(targets(s)),
      '',
      '<details><summary>Per round</summary>',
      '',
      roundsTable(records),
      '',
      '</details>',
    );
  }
  sections.push(...extra);
  return sections.join('\n') + '\n';
}

const RESULTS_HEADER = `# Sluice benchmark results

Produced by \`npm run bench -- --write\` (see [README.md](README.md)). Newest first; older runs are kept
for comparison — mind the commit and the machine line of each.

<!-- newest first: bench/sysbench-compare.ts inserts below this line -->
`;

function writeResults(section: string): void {
  const file = path.join(REPO, 'bench/RESULTS.md');
  const marker = '<!-- newest first: bench/sysbench-compare.ts inserts below this line -->\n';
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : RESULTS_HEADER;
  if (!text.includes(marker)) text = RESULTS_HEADER + '\n' + text;
  const at = text.indexOf(marker) + marker.length;
  text = text.slice(0, at) + '\n' + section + text.slice(at);
  fs.writeFileSync(file, text);
  log(`wrote ${path.relative(REPO, file)}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function profileRun(b: Backends, w: Workload): Promise<{ md: string; summary: ProfileSummary; qps: number }> {
  const name = `proxy-${w.id}-${STAMP}.cpuprofile`;
  const proxy = await startProxy(b, `profile-${w.id}`, [`--cpu-prof`, `--cpu-prof-dir=${OUT}`, `--cpu-prof-name=${name}`]);
  let r: SysbenchResult;
  let cpu: { user: number; sys: number };
  try {
    log(`profiling: ${w.id} through the proxy for ${TIME} s (node --cpu-prof)`);
    const before = cpuTicks(proxy.pid);
    r = await runSysbench(sysbenchArgs(w, proxy.endpoint, TIME), `sysbench-${STAMP}-${w.id}-profile.log`);
    const after = cpuTicks(proxy.pid);
    cpu = { user: (after.user - before.user) / CLK_TCK, sys: (after.sys - before.sys) / CLK_TCK };
    log(
      `profile run: ${r.qps.toFixed(0)} q/s (with the profiler on), proxy CPU ${(cpu.user + cpu.sys).toFixed(2)} s ` +
        `(user ${cpu.user.toFixed(2)} + sys ${cpu.sys.toFixed(2)})${r.ok ? '' : ' FAILED'}`,
    );
  } finally {
    await proxy.stop(); // SIGTERM → orderly exit → V8 writes the profile
  }
  const file = path.join(OUT, name);
  for (let i = 0; i < 50 && !fs.existsSync(file); i++) await delay(100);
  if (!fs.existsSync(file)) throw new Error(`no profile written at ${file}; see ${proxy.logFile}`);
  const summary = summarizeProfile(file, { top: 20, root: REPO });
  const byFile = summarizeProfile(file, { top: 12, root: REPO, by: 'file' });
  const md = [
    '',
    `### CPU profile: ${w.id} through the proxy (separate proxy process under \`node --cpu-prof\`, ` +
      `${TIME} s, ${f0(r.qps)} q/s with the profiler on)`,
    '',
    `During the run the proxy process used ${(cpu.user + cpu.sys).toFixed(2)} s of CPU (user ${cpu.user.toFixed(2)} s + ` +
      `sys ${cpu.sys.toFixed(2)} s, ${f1(((cpu.user + cpu.sys) * 1e6) / r.queries)} µs/stmt) over ${f0(r.queries)} statements. ` +
      'The profile is sampled on wall-clock time of the main thread: native calls such as `writeBuffer` (the socket ' +
      'write syscall) also collect the time the thread sat runnable but preempted, so compare "busy ms" with that CPU figure.',
    '',
    `Self time by function (\`npx tsx bench/profile-top.ts bench/out/${name}\`; includes proxy start-up and shutdown):`,
    '',
    profileMarkdown(summary),
    '',
    '<details><summary>Self time by file</summary>',
    '',
    profileMarkdown(byFile, 'file'),
    '',
    '</details>',
  ].join('\n');
  return { md, summary, qps: r.qps };
}

async function perfRun(b: Backends, w: Workload): Promise<string> {
  if (sh('perf', ['--version']) === '') return '\n(--perf: `perf` not found on PATH; skipped)';
  const proxy = await startProxy(b, `perf-${w.id}`, ['--perf-basic-prof']);
  const data = path.join(OUT, `perf-${w.id}-${STAMP}.data`);
  let r: SysbenchResult;
  let cpuS = NaN;
  try {
    log(`perf: ${w.id} through the proxy for ${TIME} s (perf record -e cpu-clock -g on pid ${proxy.pid})`);
    const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '999', '-g', '-o', data, '-p', String(proxy.pid)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(perf);
    let perfErr = '';
    perf.stderr.on('data', (d: Buffer) => (perfErr += d.toString()));
    await delay(500);
    const before = cpuTicks(proxy.pid);
    r = await runSysbench(sysbenchArgs(w, proxy.endpoint, TIME), `sysbench-${STAMP}-${w.id}-perf.log`);
    const after = cpuTicks(proxy.pid);
    cpuS = (after.user - before.user + after.sys - before.sys) / CLK_TCK;
    perf.kill('SIGINT');
    await waitExit(perf, 30_000);
    children.delete(perf);
    if (!fs.existsSync(data)) throw new Error(`perf record wrote nothing: ${perfErr}`);
    log(`perf run: ${r.qps.toFixed(0)} q/s, proxy CPU ${cpuS.toFixed(2)} s`);
  } finally {
    await proxy.stop();
  }
  const summary = summarizePerf(data, 25);
  // node --perf-basic-prof writes /tmp/perf-<pid>.map; perf report above has read it.
  fs.rmSync(`/tmp/perf-${proxy.pid}.map`, { force: true });
  return [
    '',
    `### perf: ${w.id} through the proxy (separate proxy process under \`node --perf-basic-prof\`, ` +
      `${TIME} s, ${f0(r.qps)} q/s, proxy CPU ${cpuS.toFixed(2)} s = ${f1((cpuS * 1e6) / r.queries)} µs/stmt)`,
    '',
    `\`npx tsx bench/perf-report.ts ${path.relative(REPO, data)}\` (JS names resolve only while /tmp/perf-<pid>.map exists; ` +
      'the run deletes it after summarising):',
    '',
    perfMarkdown(summary, REPO),
  ].join('\n');
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(path.join(REPO, 'dist/main.js'))) throw new Error('dist/main.js missing: run `npx tsc -p tsconfig.json` first');
  if (sh('sysbench', ['--version']) === '') throw new Error('sysbench not found on PATH');

  const b = await backends();
  const direct = b.replicas[0];
  if (direct === undefined) throw new Error('need at least one replica');

  if (!opt['skip-prepare']) {
    log(`preparing ${TABLES} × ${TABLE_SIZE} rows on the primary ${b.primary.port}`);
    const prep = [
      'oltp_read_only',
      `--mysql-host=${b.primary.host}`,
      `--mysql-port=${b.primary.port}`,
      `--mysql-user=${opt.user}`,
      `--mysql-password=${opt.password}`,
      `--mysql-db=${opt.db}`,
      `--tables=${TABLES}`,
      `--table-size=${TABLE_SIZE}`,
    ];
    // Existing servers may hold tables from an earlier run: cleanup is a no-op otherwise.
    if (opt.primary !== undefined) execFileSync('sysbench', [...prep, 'cleanup'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const t = Date.now();
    execFileSync('sysbench', [...prep, 'prepare'], { stdio: ['ignore', 'ignore', 'inherit'] });
    await b.waitForReplication();
    log(`prepared and replicated in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }

  allServers = [b.primary, ...b.replicas];
  const replicaIds = new Set<number>();
  for (const r of b.replicas) replicaIds.add(Number((await query(r, 'SELECT @@server_id AS id'))[0]?.['id']));

  const records: RunRecord[] = [];
  const extra: string[] = [];
  let proxyMem: { rssMiB: number; hwmMiB: number } | undefined;

  if (!PROFILE_ONLY && !opt['perf-only']) {
    const proxy = await startProxy(b, 'bench', []);
    const routed = await routingCheck(proxy, replicaIds);
    log(`proxy pid ${proxy.pid} on ${proxy.endpoint.port}; 8 reads on one connection through it answered by ${routed}`);
    const rss0 = memory(proxy.pid);

    if (WARMUP > 0) {
      log(`warm-up: ${WARMUP} s oltp_read_only at 8 threads, direct and through the proxy`);
      const wu = { script: 'oltp_read_only', threads: 8, extra: ['--skip-trx=on'] };
      await runSysbench(sysbenchArgs(wu, direct, WARMUP), `sysbench-${STAMP}-warmup-direct.log`);
      await runSysbench(sysbenchArgs(wu, proxy.endpoint, WARMUP), `sysbench-${STAMP}-warmup-proxy.log`);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const w of selected) {
        records.push(await runOne(w, round, 'direct', direct));
        records.push(await runOne(w, round, 'proxy', proxy.endpoint, proxy));
      }
    }
    proxyMem = memory(proxy.pid);
    await proxy.stop();
    const pl = proxyLog(proxy.logFile);
    extra.push(
      '',
      `Proxy memory: VmRSS ${f1(rss0.rssMiB)} MiB after start-up, ${f1(proxyMem.rssMiB)} MiB at the end; ` +
        `VmHWM (peak) ${f1(proxyMem.hwmMiB)} MiB. Proxy log (level warn): ${pl.summary}.`,
    );
    if (pl.notable.length > 0) {
      log(`the proxy logged ${pl.notable.length} notable line(s); first ones (full log: ${path.relative(REPO, proxy.logFile)}):`);
      for (const l of pl.notable.slice(0, 8)) log(`  ${l.slice(0, 400)}`);
    }
  }

  if (PROFILE) {
    for (const w of PROFILE_WORKLOADS) extra.push((await profileRun(b, w)).md);
  }
  if (PERF) for (const w of PROFILE_WORKLOADS) extra.push(await perfRun(b, w));

  const s = summarize(records);
  const md = markdown(b.version, records, s, extra);
  process.stdout.write('\n' + md);
  if (opt.write) writeResults(md);

  const failed = records.filter((x) => !x.r.ok);
  if (failed.length > 0) {
    log(`${failed.length} sysbench run(s) failed: ${failed.map((x) => path.relative(REPO, x.r.logFile)).join(', ')}`);
    process.exitCode = 1;
  }
}

main()
  .catch((err: unknown) => {
    if (life.aborted) return;
    log(`error: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup().then(() => process.exit()));
