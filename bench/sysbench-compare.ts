/**
 * sysbench through Sluice vs straight to one replica, interleaved, in one run.
 *
 *   bash bench/run.sh [options]          (npm run bench -- [options] builds dist/ first)
 *
 * 1. starts a sandbox (MariaDB primary + 2 GTID replicas on free ports), or uses existing servers
 *    (--primary h:p --replicas h:p,h:p);
 * 2. `sysbench oltp_read_only prepare` on the PRIMARY, then waits until both replicas applied it;
 * 3. starts one proxy per `--workers` count from the compiled build (`node dist/main.js start
 *    --config <yaml>`), each a separate process (with its workers) for the whole run:
 *    primary = writeHost, both replicas = readHosts, balance 1, `workers: N`, log level info;
 * 4. for each round, for each workload: direct (one replica), then each proxy in --workers order,
 *    `--db-ps-mode=disable`;
 * 5. around every proxy run reads utime+stime of the proxy's processes (the started one and its
 *    descendants, bench/proc-group.ts) → CPU µs/statement, and their VmRSS;
 * 6. prints medians per workload (markdown) and with --write puts them into bench/RESULTS.md;
 * 7. --profile: one extra proxy process (workers: 1) under `node --cpu-prof` for point_select at
 *    each --threads count, summarised by self time (bench/profile-top.ts);
 * 8. cleans up (proxies with their workers, sandbox) on exit, errors and Ctrl-C.
 */
import { delay, freePort, intOption, LOAD_AVERAGE, machineLine, sh, sluiceLine, writeResults } from './util.js';
import { BenchLifecycle, groupLeader, waitExit } from './lifecycle.js';
import { groupDelta, groupMemory, groupPids, snapshot, type GroupSnapshot } from './proc-group.js';
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
  --rounds N            interleaved rounds per workload: direct, then each proxy (default 3)
  --workers LIST        comma-separated worker counts, one proxy each (config \`workers: N\`), measured
                        side by side in every round (default 1; e.g. 1,2 or 1,2,4,8)
  --threads LIST        sysbench thread counts of the multi-threaded workloads (default 8; e.g. 8,16,64)
  --time S              seconds per sysbench run (default 10)
  --warmup S            warm-up seconds before round 1, direct and through each proxy (default 5; 0 = none)
  --tables N            sysbench tables (default 4)
  --table-size N        rows per table (default 10000)
  --only LIST           comma-separated workload ids (default all): point_select_t1 and, for every N in
                        --threads, point_select_tN, read_only_tN, ps_point_select_tN, ps_read_only_tN
  --write               put the results into bench/RESULTS.md (newest first)
  --profile             afterwards, profile a proxy (workers: 1, node --cpu-prof) during point_select at
                        each --threads count (e.g. --threads 8,256: does the cost per query grow with clients?)
  --profile-only        only the profile run (no rounds; implies --profile)
  --perf                afterwards, \`perf record -e cpu-clock -g\` a proxy (workers: 1, node --perf-basic-prof)
                        during point_select at the first --threads count: CPU-time split kernel / V8+native
                        / JS and top symbols
  --perf-only           only the perf run (no rounds; implies --perf)
  --pin-client CPUS     run sysbench under \`taskset -c CPUS\` (e.g. 0)
  --pin-servers CPUS    pin the sandbox's mariadbd processes and the proxy to CPUS (e.g. 1, or 0 for
                        everything on one core); default: no pinning, the scheduler decides
  --primary H:P         use this existing primary instead of a sandbox (with --replicas)
  --replicas H:P,H:P    existing replicas (the first one is the "direct" target)
  --skip-prepare        tables already exist (existing servers only)
  --user U --password P --db D   account / schema (default app / app / sluice_test)
  --proxy-port N        port for the first proxy, N+1 for the second … (default: free ones)
  --out DIR             logs, generated config, profiles (default bench/out)
Environment: SLUICE_BENCH_PRIMARY, SLUICE_BENCH_REPLICAS work like --primary / --replicas.`;

const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    threads: { type: 'string', default: '8' },
    time: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    tables: { type: 'string', default: '4' },
    'table-size': { type: 'string', default: '10000' },
    only: { type: 'string' },
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
/** A comma-separated list of distinct integers in [min, max], in the order given. */
function intList(name: string, v: string | undefined, min: number, max: number): number[] {
  const parts = (v ?? '').split(',').map((x) => x.trim());
  const xs = parts.map(Number);
  if (parts.some((x) => x === '') || xs.some((n) => !Number.isInteger(n) || n < min || n > max) || new Set(xs).size !== xs.length) {
    process.stderr.write(`--${name}: expected distinct integers ${min}-${max} separated by commas, got "${String(v)}"\n${USAGE}\n`);
    process.exit(2);
  }
  return xs;
}
/** Worker counts, one proxy each (the config validator allows 1-256). */
const WORKERS = intList('workers', opt.workers, 1, 256);
const THREADS = intList('threads', opt.threads, 1, 10_000);
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

/** point_select at 1 thread (where added latency is judged), then per --threads count N (default 8). */
const WORKLOADS: readonly Workload[] = [
  { id: 'point_select_t1', script: 'oltp_point_select', threads: 1, extra: [], queriesPerEvent: 1 },
  ...THREADS.flatMap((n): Workload[] => [
    ...(n === 1 ? [] : [{ id: `point_select_t${n}`, script: 'oltp_point_select', threads: n, extra: [], queriesPerEvent: 1 }]),
    // 10 point selects + 4 range queries per event; --skip-trx drops BEGIN/COMMIT.
    { id: `read_only_t${n}`, script: 'oltp_read_only', threads: n, extra: ['--skip-trx=on'], queriesPerEvent: 14 },
  ]),
  // The same through server-side prepared statements (sysbench's default mode): the proxy
  // prepares lazily on each backend and relays binary result sets.
  ...THREADS.flatMap((n): Workload[] => [
    { id: `ps_point_select_t${n}`, script: 'oltp_point_select', threads: n, extra: ['--db-ps-mode=auto'], queriesPerEvent: 1 },
    { id: `ps_read_only_t${n}`, script: 'oltp_read_only', threads: n, extra: ['--db-ps-mode=auto', '--skip-trx=on'], queriesPerEvent: 14 },
  ]),
];
/** --profile / --perf: point_select at each --threads count (does the cost per query grow with clients?). */
const PROFILE_WORKLOADS: readonly Workload[] = THREADS.map((n) => WORKLOADS.find((w) => w.id === `point_select_t${n}`)!);

const selected: readonly Workload[] = (() => {
  if (opt.only === undefined) return WORKLOADS;
  const ids = opt.only.split(',').map((s) => s.trim());
  const bad = ids.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (bad.length > 0) {
    process.stderr.write(`--only: unknown workload(s) ${bad.join(', ')}\n${USAGE}\n`);
    process.exit(2);
  }
  return WORKLOADS.filter((w) => ids.includes(w.id));
})();

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

/** CPU seconds (user, sys) of a proxy's processes between two snapshots (bench/proc-group.ts). */
function cpuSeconds(a: GroupSnapshot, b: GroupSnapshot): { user: number; sys: number } {
  const d = groupDelta(a, b);
  return { user: d.user / CLK_TCK, sys: d.sys / CLK_TCK };
}

/** `taskset -a -p -c CPUS PID`: every thread of a running process (new threads inherit it). */
function pin(pid: number, cpus: string | undefined): void {
  if (cpus === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/** Σ VmRSS and Σ VmHWM (per-process peaks) of a proxy's processes, MiB. */
function memory(root: number): { rssMiB: number; hwmMiB: number } {
  const m = groupMemory(snapshot(root));
  return { rssMiB: m.rssKiB / 1024, hwmMiB: m.hwmKiB / 1024 };
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
  /** Every server accepts at least `n` connections (sandbox: raised; existing servers: a warning). */
  ensureMaxConnections(n: number): Promise<void>;
}

interface Account {
  readonly user: string;
  readonly password: string;
}

async function query(ep: Endpoint, sql: string, params: unknown[] = [], account?: Account): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({
    host: ep.host,
    port: ep.port,
    user: account?.user ?? opt.user,
    password: account?.password ?? opt.password,
    ...(account === undefined ? { database: opt.db } : {}),
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
      async ensureMaxConnections(n) {
        for (const ep of [primary, ...replicas]) {
          const max = Number((await query(ep, 'SELECT @@max_connections AS m'))[0]?.['m']);
          if (max < n) log(`WARNING: ${ep.host}:${ep.port} has max_connections ${max}; this run may need up to ${n} (idle proxies keep their pools)`);
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
    async ensureMaxConnections(n) {
      const admin = { user: sb.adminUser, password: sb.adminPassword };
      for (const ep of sb.servers) {
        const max = Number((await query(ep, 'SELECT @@max_connections AS m', [], admin))[0]?.['m']);
        if (max >= n) continue;
        await query(ep, `SET GLOBAL max_connections = ${n}`, [], admin);
        log(`raised max_connections on ${ep.port} from ${max} to ${n} (idle proxies keep their pools)`);
      }
    },
  };
}

interface Proxy {
  /** The started process: with `workers > 1` the primary, whose children are the workers. */
  readonly pid: number;
  /** `workers:` in its config. */
  readonly workers: number;
  /** Processes in its group once it listened (1 for `workers: 1`; workers + 1 with node:cluster). */
  readonly processes: number;
  readonly endpoint: Endpoint;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** The line a proxy logs once it accepts clients (with workers: once all of them listen). */
const LISTENING = 'sluice listening';

/**
 * One proxy from dist/ with `workers: N`, as its own process (with workers: a primary and its
 * children; the lifecycle SIGTERMs the primary and SIGKILLs all of them if it has to). Ready = it
 * logged `sluice listening` and a MySQL login through it works.
 */
async function startProxy(b: Backends, name: string, nodeFlags: readonly string[], workers: number, port: number): Promise<Proxy> {
  if (life.aborted) throw new Error('life.aborted');
  const config = {
    listen: { host: '127.0.0.1', port },
    // Always explicit: the default is `auto` (one worker per core).
    workers,
    users: [{ name: opt.user, password: opt.password }],
    dataHost: {
      name: 'bench',
      balance: 1,
      user: opt.user,
      password: opt.password,
      writeHosts: [{ host: b.primary.host, port: b.primary.port }],
      readHosts: b.replicas.map((r) => ({ host: r.host, port: r.port })),
      failover: { enabled: false, dnindexFile: path.join(OUT, `dnindex-${name}-${STAMP}.properties`) },
    },
    // info: the start-up lines, `sluice listening` among them; nothing is logged per statement.
    log: { level: 'info', format: 'json' },
  };
  const configFile = path.join(OUT, `sluice-${name}-${STAMP}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const logFile = path.join(OUT, `proxy-${name}-${STAMP}.log`);
  const fd = fs.openSync(logFile, 'w');
  const args = [...nodeFlags, path.join(REPO, 'dist/main.js'), 'start', '--config', configFile];
  log(`starting proxy (workers: ${workers}): node ${args.map((a) => path.relative(REPO, a) || a).join(' ')}`);
  const env = { ...process.env };
  delete env['SLUICE_LOG_FORMAT'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], cwd: REPO, env });
  fs.closeSync(fd);
  children.add(child);
  groupLeader(child);
  child.once('exit', () => children.delete(child));
  const pid = child.pid;
  if (pid === undefined) throw new Error('proxy did not start');
  // Workers forked later inherit the CPU affinity; the group is pinned once more below.
  pin(pid, opt['pin-servers']);
  const endpoint = { host: '127.0.0.1', port };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitExit(child, 15_000);
  };

  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const failed = (why: string): Error =>
    new Error(`proxy (workers: ${workers}) ${why}; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
  try {
    const deadline = Date.now() + 60_000;
    while (!fs.readFileSync(logFile, 'utf8').includes(LISTENING)) {
      if (exited()) throw failed(`exited (${child.exitCode ?? child.signalCode}) during start-up`);
      if (Date.now() > deadline) throw failed(`did not log "${LISTENING}" within 60 s`);
      await delay(100);
    }
    for (;;) {
      if (exited()) throw failed(`exited (${child.exitCode ?? child.signalCode}) during start-up`);
      try {
        await query(endpoint, 'SELECT 1');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw failed(`logged "${LISTENING}" but accepts no logins on ${port}: ${String(err)}`);
        await delay(100);
      }
    }
    // node:cluster: a primary and its workers. A build that does not know the setting yet runs
    // one process whatever `workers` says: reported, not fatal, so the harness runs against it.
    const expected = workers === 1 ? 1 : workers + 1;
    let pids = groupPids(pid);
    for (let i = 0; i < 30 && pids.length < expected; i++) {
      await delay(100);
      pids = groupPids(pid);
    }
    if (opt['pin-servers'] !== undefined) for (const p of pids) pin(p, opt['pin-servers']);
    if (pids.length !== expected) {
      log(
        `WARNING: proxy with workers: ${workers} runs ${pids.length} process(es), expected ${expected}` +
          (pids.length === 1 ? ' (this build runs one process whatever `workers` says?)' : ''),
      );
    }
    return { pid, workers, processes: pids.length, endpoint, logFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The proxy's log: counts by message; "notable" = warnings and worse, and unparseable output
 * (the start-up lines and `backend state change … → up` are info).
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
      if ((j.level ?? 60) >= 40) notable.push(l);
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

/** What a run went through: straight to replica 1, or the proxy with this many workers. */
type TargetKey = 'direct' | number;
const targetLabel = (t: TargetKey): string => (t === 'direct' ? 'direct' : `proxy workers=${t}`);
/** Short form for log lines and file names. */
const targetTag = (t: TargetKey): string => (t === 'direct' ? 'direct' : `w${t}`);

interface RunRecord {
  readonly workload: Workload;
  readonly round: number;
  readonly target: TargetKey;
  readonly r: SysbenchResult;
  /** Proxy runs only: utime+stime of its processes ÷ queries, and the user / system parts of it. */
  readonly cpuUsPerStmt?: number;
  readonly userUsPerStmt?: number;
  readonly sysUsPerStmt?: number;
  readonly cpuSeconds?: number;
  /** Σ VmRSS of the proxy's processes at the end of the run. */
  readonly rssMiB?: number;
  /** Main-thread context switches of the proxy's processes per statement (voluntary + involuntary). */
  readonly ctxPerStmt?: number;
  /** Processes in the proxy's group at the end of the run. */
  readonly processes?: number;
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

async function runOne(w: Workload, round: number, target: TargetKey, endpoint: Endpoint, proxy?: Proxy): Promise<RunRecord> {
  const sel0 = proxy !== undefined ? await comSelect(allServers) : [];
  const before = proxy !== undefined ? snapshot(proxy.pid) : undefined;
  const r = await runSysbench(sysbenchArgs(w, endpoint, TIME), `sysbench-${STAMP}-${w.id}-r${round}-${targetTag(target)}.log`);
  let extra: Partial<RunRecord> = {};
  if (proxy !== undefined && before !== undefined) {
    const d = groupDelta(before, snapshot(proxy.pid));
    const userS = d.user / CLK_TCK;
    const sysS = d.sys / CLK_TCK;
    if (d.started > 0 || d.ended > 0) {
      log(`WARNING: ${targetLabel(target)}: ${d.started} process(es) started and ${d.ended} ended during the run (crashed workers?)`);
    }
    extra = {
      cpuSeconds: userS + sysS,
      cpuUsPerStmt: ((userS + sysS) * 1e6) / r.queries,
      userUsPerStmt: (userS * 1e6) / r.queries,
      sysUsPerStmt: (sysS * 1e6) / r.queries,
      rssMiB: d.rssKiB / 1024,
      ctxPerStmt: d.ctx / r.queries,
      processes: d.processes,
    };
    const sel1 = await comSelect(allServers);
    const deltas = sel1.map((v, i) => v - (sel0[i] ?? 0));
    const total = deltas.reduce((a, b) => a + b, 0);
    extra = { ...extra, readShares: deltas.map((x) => (100 * x) / total) };
  }
  const rec: RunRecord = { workload: w, round, target, r, ...extra };
  const trouble = [
    r.ok ? '' : ` FAILED (exit ${r.exitCode}; see ${path.relative(REPO, r.logFile)})`,
    r.errors > 0 ? ` errors=${r.errors}` : '',
    r.reconnects > 0 ? ` reconnects=${r.reconnects}` : '',
  ].join('');
  log(
    `${w.id.padEnd(16)} round ${round} ${targetTag(target).padEnd(6)} ${r.qps.toFixed(0).padStart(7)} q/s  ` +
      `avg ${r.latAvgMs.toFixed(3)} ms  p95 ${r.latP95Ms.toFixed(3)} ms` +
      (rec.readShares !== undefined ? `  reads ${sharesText(rec.readShares)}` : '') +
      (rec.cpuUsPerStmt !== undefined
        ? `  proxy CPU ${rec.cpuUsPerStmt.toFixed(1)} µs/stmt (user ${f1(rec.userUsPerStmt ?? NaN)} + sys ${f1(rec.sysUsPerStmt ?? NaN)}` +
          `, ${rec.processes ?? '?'} process${rec.processes === 1 ? '' : 'es'})`
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

/** One target of one workload, medians over rounds. */
interface TargetSummary {
  readonly target: TargetKey;
  readonly qps: number;
  /** Median q/s ÷ direct's median q/s (1 for direct). */
  readonly ratio: number;
  /** Proxy targets only (NaN for direct). */
  readonly cpuUs: number;
  readonly userUs: number;
  readonly sysUs: number;
  readonly rssMiB: number;
  /** Most processes seen at the end of a run (NaN for direct). */
  readonly processes: number;
  readonly avgUs: number;
  readonly p95Us: number;
  /** Added latency per sysbench event (median avg − direct's median avg), µs; 0 for direct. */
  readonly addedPerEventUs: number;
  readonly addedPerStmtUs: number;
  /** Smallest and largest per-round added latency per statement (this round's avg − direct's). */
  readonly addedRange: readonly [number, number];
  readonly errors: number;
  readonly reconnects: number;
  readonly failed: number;
  /** max ÷ min q/s over rounds. */
  readonly spread: number;
}

interface Summary {
  readonly w: Workload;
  readonly direct: TargetSummary;
  /** One per --workers count, in that order. */
  readonly proxies: readonly TargetSummary[];
}

const TARGETS: readonly TargetKey[] = ['direct', ...WORKERS];

function summarize(records: readonly RunRecord[]): Summary[] {
  return selected.map((w) => {
    const ok = (t: TargetKey): RunRecord[] => records.filter((x) => x.workload === w && x.target === t && x.r.ok);
    const directRuns = ok('direct');
    const directAvgUs = median(directRuns.map((x) => x.r.latAvgMs * 1000));
    const directQps = median(directRuns.map((x) => x.r.qps));
    const one = (t: TargetKey): TargetSummary => {
      const runs = ok(t);
      const all = records.filter((x) => x.workload === w && x.target === t);
      const avgUs = median(runs.map((x) => x.r.latAvgMs * 1000));
      const qps = median(runs.map((x) => x.r.qps));
      const perRound = runs.flatMap((x) => {
        const d = directRuns.find((y) => y.round === x.round);
        return d === undefined ? [] : [((x.r.latAvgMs - d.r.latAvgMs) * 1000) / w.queriesPerEvent];
      });
      return {
        target: t,
        qps,
        ratio: qps / directQps,
        cpuUs: median(runs.map((x) => x.cpuUsPerStmt ?? NaN)),
        userUs: median(runs.map((x) => x.userUsPerStmt ?? NaN)),
        sysUs: median(runs.map((x) => x.sysUsPerStmt ?? NaN)),
        rssMiB: median(runs.map((x) => x.rssMiB ?? NaN)),
        processes: runs.reduce((m, x) => (x.processes === undefined ? m : Number.isNaN(m) ? x.processes : Math.max(m, x.processes)), NaN),
        avgUs,
        p95Us: median(runs.map((x) => x.r.latP95Ms * 1000)),
        addedPerEventUs: avgUs - directAvgUs,
        addedPerStmtUs: (avgUs - directAvgUs) / w.queriesPerEvent,
        addedRange: perRound.length === 0 ? [NaN, NaN] : [Math.min(...perRound), Math.max(...perRound)],
        errors: all.reduce((s, x) => s + (Number.isFinite(x.r.errors) ? x.r.errors : 0), 0),
        reconnects: all.reduce((s, x) => s + (Number.isFinite(x.r.reconnects) ? x.r.reconnects : 0), 0),
        failed: all.filter((x) => !x.r.ok).length,
        spread: Math.max(...runs.map((x) => x.r.qps)) / Math.min(...runs.map((x) => x.r.qps)),
      };
    };
    return { w, direct: one('direct'), proxies: WORKERS.map((n) => one(n)) };
  });
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const sign = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(0)}` : 'n/a');

function resultsTable(s: readonly Summary[]): string {
  const lines = [
    '| workload | threads | target | processes | q/s | ÷ direct | proxy CPU µs/stmt (user+sys) | avg / p95 latency (µs) | added latency µs/stmt | proxy RSS MiB | errors / reconnects |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of s) {
    const name = `${x.w.id} (${x.w.script}${x.w.extra.length > 0 ? ' ' + x.w.extra.join(' ') : ''})`;
    for (const t of [x.direct, ...x.proxies]) {
      const direct = t.target === 'direct';
      const perEvent = x.w.queriesPerEvent === 1 || direct ? '' : ` (${sign(t.addedPerEventUs)}/event of ${x.w.queriesPerEvent})`;
      lines.push(
        `| ${name} | ${x.w.threads} | ${targetLabel(t.target)} | ${direct ? '–' : f0(t.processes)} | ${f0(t.qps)} | ` +
          `${direct ? '1' : `${f2(t.ratio)}×`} | ${direct ? '–' : `${f1(t.cpuUs)} (${f1(t.userUs)}+${f1(t.sysUs)})`} | ` +
          `${f0(t.avgUs)} / ${f0(t.p95Us)} | ${direct ? '–' : `${sign(t.addedPerStmtUs)}${perEvent}`} | ${direct ? '–' : f1(t.rssMiB)} | ` +
          `${t.errors} / ${t.reconnects}${t.failed > 0 ? ` (${t.failed} runs failed)` : ''} |`,
      );
    }
  }
  return lines.join('\n');
}

function roundsTable(records: readonly RunRecord[]): string {
  const lines = [
    '| workload | round | target | q/s | ÷ direct (this round) | avg µs | proxy CPU µs/stmt (user+sys) | proxy ctx switches/stmt | processes | proxy RSS MiB | proxy reads landed, % (primary / replicas) |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const w of selected) {
    for (let round = 1; round <= ROUNDS; round++) {
      const d = records.find((x) => x.workload === w && x.round === round && x.target === 'direct');
      for (const t of TARGETS) {
        const p = records.find((x) => x.workload === w && x.round === round && x.target === t);
        if (p === undefined) continue;
        const direct = t === 'direct';
        lines.push(
          `| ${w.id} | ${round} | ${targetLabel(t)} | ${f0(p.r.qps)} | ${direct ? '1' : f2(p.r.qps / (d?.r.qps ?? NaN))} | ` +
            `${f0(p.r.latAvgMs * 1000)} | ${direct ? '–' : `${f1(p.cpuUsPerStmt ?? NaN)} (${f1(p.userUsPerStmt ?? NaN)}+${f1(p.sysUsPerStmt ?? NaN)})`} | ` +
            `${direct ? '–' : f2(p.ctxPerStmt ?? NaN)} | ${direct ? '–' : (p.processes ?? 'n/a')} | ${direct ? '–' : f1(p.rssMiB ?? NaN)} | ` +
            `${p.readShares ? sharesText(p.readShares) : '–'} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

/** Flags targets whose rounds disagree (max/min q/s > 1.3): medians of 3 are then a coin toss. */
const UNSTABLE = 1.3;
function spreadNote(s: readonly Summary[]): string {
  const parts = s.map(
    (x) =>
      `${x.w.id} ` +
      [x.direct, ...x.proxies].map((t) => `${targetTag(t.target)} ${f2(t.spread)}×${t.spread > UNSTABLE ? ' ⚠' : ''}`).join(', '),
  );
  const bad = s.some((x) => [x.direct, ...x.proxies].some((t) => t.spread > UNSTABLE));
  return (
    `Spread over rounds (max ÷ min q/s; wN = proxy with N workers): ${parts.join('; ')}.` +
    (bad
      ? ' ⚠ = rounds disagree by more than 1.3×; see "Per round". On a 2-vCPU VM, where the scheduler happens ' +
        'to place sysbench, MariaDB and the proxy moves q/s a lot (threads on the same vCPU ping-pong far faster ' +
        'than across vCPUs, whose wake-ups are expensive under virtualisation; 1-thread runs are bimodal, ' +
        '~9k vs ~40-57k q/s direct). `--pin-client` / `--pin-servers` fix the placement.'
      : '')
  );
}

/** One cell of the targets table: a value and whether it meets the goal (undefined: cannot say). */
interface Verdict {
  readonly value: string;
  readonly pass: boolean | undefined;
}

interface Target {
  readonly what: string;
  readonly goal: string;
  /** One per --workers count, in that order. */
  readonly cells: readonly Verdict[];
  /** HAProxy TCP, ProxySQL, Atlas (measured on this machine earlier). */
  readonly yardsticks: readonly string[];
}

/** Added latency may differ from workers=1's by this much before it counts as grown, at least. */
const LATENCY_SLACK_US = 5;

function targets(s: readonly Summary[]): Target[] {
  const ps8 = s.find((x) => x.w.id === 'point_select_t8');
  const ps1 = s.find((x) => x.w.id === 'point_select_t1');
  const check = (v: number | undefined, ok: (v: number) => boolean): boolean | undefined =>
    v === undefined || !Number.isFinite(v) ? undefined : ok(v);
  const cells = (x: Summary | undefined, cell: (t: TargetSummary, i: number) => Verdict): Verdict[] =>
    WORKERS.map((_, i) => (x === undefined ? { value: 'not run', pass: undefined } : cell(x.proxies[i]!, i)));
  const out: Target[] = [
    {
      what: 'point_select, 8 threads: proxy q/s ÷ direct q/s',
      goal: '≥ 0.36×',
      cells: cells(ps8, (t) => ({ value: `${f2(t.ratio)}×`, pass: check(t.ratio, (v) => v >= 0.36) })),
      yardsticks: ['0.46×', '0.34×', '0.26×'],
    },
    {
      what: 'proxy CPU per statement (point_select, 8 threads)',
      goal: '≤ 35 µs',
      cells: cells(ps8, (t) => ({ value: `${f1(t.cpuUs)} µs`, pass: check(t.cpuUs, (v) => v <= 35) })),
      yardsticks: ['27.5 µs', '37.4 µs', '60.6 µs'],
    },
    {
      what: 'added latency per statement (point_select, 1 thread)',
      goal: '≤ +55 µs',
      cells: cells(ps1, (t) => ({ value: `${sign(t.addedPerStmtUs)} µs`, pass: check(t.addedPerStmtUs, (v) => v <= 55) })),
      yardsticks: ['+38 µs', '+68 µs', '+146 µs'],
    },
  ];
  const first = ps1?.proxies[0];
  if (WORKERS.length > 1 && ps1 !== undefined && first !== undefined) {
    // Noise = the larger of the two targets' per-round ranges of added latency.
    const range = (t: TargetSummary): number => t.addedRange[1] - t.addedRange[0];
    out.push({
      what: `added latency at 1 thread does not grow with workers: difference to workers=${first.target}`,
      goal: `≤ round-to-round range (min ${LATENCY_SLACK_US} µs)`,
      cells: cells(ps1, (t, i) => {
        if (i === 0) return { value: 'ref.', pass: undefined };
        const diff = t.addedPerStmtUs - first.addedPerStmtUs;
        const noise = Math.max(LATENCY_SLACK_US, range(t), range(first));
        return { value: `${sign(diff)} µs (range ${f0(noise)} µs)`, pass: check(diff, (v) => v <= noise) };
      }),
      yardsticks: ['–', '–', '–'],
    });
  }
  return out;
}

function targetsTable(t: readonly Target[]): string {
  const mark = (p: boolean | undefined): string => (p === undefined ? '' : p ? ' **pass**' : ' **MISS**');
  return [
    `| target | goal | ${WORKERS.map((n) => `workers=${n}`).join(' | ')} | HAProxy TCP | ProxySQL | Atlas |`,
    `|---|---|${WORKERS.map(() => '---|').join('')}---|---|---|`,
    ...t.map((x) => `| ${x.what} | ${x.goal} | ${x.cells.map((c) => `${c.value}${mark(c.pass)}`).join(' | ')} | ${x.yardsticks.join(' | ')} |`),
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
        `interleaved per workload per round: direct → ${WORKERS.map((n) => `proxy workers=${n}`).join(' → ')}` +
        `${WARMUP > 0 ? `, ${WARMUP} s warm-up of each first` : ''}; ` +
        'direct = replica 1, proxy = Sluice (balance 1: reads over both replicas)',
      `- proxies: one per worker count (\`workers: ${WORKERS.join('` / `workers: ')}\` in its config), each started once from ` +
        'dist/ as its own process (a primary and its workers) and kept for the whole run; the others sit idle while one is measured',
      '',
      'Medians over rounds. Latency is sysbench\'s per-event latency: one event = 1 query for ' +
        'oltp_point_select, 14 queries (10 point + 4 range selects, `--skip-trx`) for oltp_read_only; ' +
        '"added latency µs/stmt" = (median proxy avg − median direct avg) ÷ queries per event. ' +
        'Proxy CPU = utime+stime (with cutime+cstime: reaped children) of the proxy\'s processes — the started one and ' +
        'its descendants, i.e. primary + workers — during the run ÷ queries sysbench reported; RSS = Σ VmRSS over them; ' +
        '"processes" = how many there were (1 = one process relays everything).',
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



// ---------------------------------------------------------------------------------------------
// Main

/** The port of the i-th proxy of the run: --proxy-port + i, or a free one. */
async function proxyPort(i: number): Promise<number> {
  return opt['proxy-port'] !== undefined ? intOpt('proxy-port', opt['proxy-port'], 1) + i : freePort();
}

async function profileRun(b: Backends, w: Workload): Promise<{ md: string; summary: ProfileSummary; qps: number }> {
  const name = `proxy-${w.id}-${STAMP}.cpuprofile`;
  const proxy = await startProxy(b, `profile-${w.id}`, [`--cpu-prof`, `--cpu-prof-dir=${OUT}`, `--cpu-prof-name=${name}`], 1, await proxyPort(0));
  let r: SysbenchResult;
  let cpu: { user: number; sys: number };
  try {
    log(`profiling: ${w.id} through the proxy for ${TIME} s (node --cpu-prof)`);
    const before = snapshot(proxy.pid);
    r = await runSysbench(sysbenchArgs(w, proxy.endpoint, TIME), `sysbench-${STAMP}-${w.id}-profile.log`);
    cpu = cpuSeconds(before, snapshot(proxy.pid));
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
    `### CPU profile: ${w.id} through the proxy (separate proxy process, \`workers: 1\`, under \`node --cpu-prof\`, ` +
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
  const proxy = await startProxy(b, `perf-${w.id}`, ['--perf-basic-prof'], 1, await proxyPort(0));
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
    const before = snapshot(proxy.pid);
    r = await runSysbench(sysbenchArgs(w, proxy.endpoint, TIME), `sysbench-${STAMP}-${w.id}-perf.log`);
    const cpu = cpuSeconds(before, snapshot(proxy.pid));
    cpuS = cpu.user + cpu.sys;
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
    `### perf: ${w.id} through the proxy (separate proxy process, \`workers: 1\`, under \`node --perf-basic-prof\`, ` +
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

  if (!PROFILE_ONLY && !opt['perf-only']) {
    // Idle proxies keep their pools (up to pool.max per host, 64 by default, but no more than the
    // threads that ever ran through them) while another is measured, and direct runs add theirs.
    const maxThreads = Math.max(...selected.map((w) => w.threads));
    await b.ensureMaxConnections(WORKERS.reduce((n, k) => n + Math.min(64, maxThreads) + 4 + k, maxThreads + 20));

    // One proxy per worker count for the whole run, started one after the other.
    const proxies: Proxy[] = [];
    for (const [i, n] of WORKERS.entries()) {
      const proxy = await startProxy(b, `bench-w${n}`, [], n, await proxyPort(i));
      proxies.push(proxy);
      const routed = await routingCheck(proxy, replicaIds);
      log(
        `proxy workers=${n}: pid ${proxy.pid} (${proxy.processes} process${proxy.processes === 1 ? '' : 'es'}) on ${proxy.endpoint.port}; ` +
          `8 reads on one connection through it answered by ${routed}`,
      );
    }
    const rss0 = proxies.map((p) => memory(p.pid));

    if (WARMUP > 0) {
      log(`warm-up: ${WARMUP} s oltp_read_only at 8 threads, direct and through each proxy`);
      const wu = { script: 'oltp_read_only', threads: 8, extra: ['--skip-trx=on'] };
      await runSysbench(sysbenchArgs(wu, direct, WARMUP), `sysbench-${STAMP}-warmup-direct.log`);
      for (const p of proxies) await runSysbench(sysbenchArgs(wu, p.endpoint, WARMUP), `sysbench-${STAMP}-warmup-w${p.workers}.log`);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const w of selected) {
        records.push(await runOne(w, round, 'direct', direct));
        for (const p of proxies) records.push(await runOne(w, round, p.workers, p.endpoint, p));
      }
    }
    const mem = proxies.map((p) => memory(p.pid));
    await Promise.all(proxies.map((p) => p.stop()));
    for (const [i, p] of proxies.entries()) {
      const pl = proxyLog(p.logFile);
      extra.push(
        '',
        `Proxy workers=${p.workers} (${p.processes} process${p.processes === 1 ? '' : 'es'}): Σ VmRSS ${f1(rss0[i]!.rssMiB)} MiB after start-up, ` +
          `${f1(mem[i]!.rssMiB)} MiB at the end; Σ VmHWM (each process's peak) ${f1(mem[i]!.hwmMiB)} MiB. ` +
          `Proxy log (level info): ${pl.summary}.`,
      );
      if (pl.notable.length > 0) {
        log(
          `proxy workers=${p.workers} logged ${pl.notable.length} warning(s) or worse; first ones (full log: ${path.relative(REPO, p.logFile)}):`,
        );
        for (const l of pl.notable.slice(0, 8)) log(`  ${l.slice(0, 400)}`);
      }
    }
  }

  for (const w of PROFILE ? PROFILE_WORKLOADS : []) extra.push((await profileRun(b, w)).md);
  for (const w of PERF ? PROFILE_WORKLOADS : []) extra.push(await perfRun(b, w));

  const s = summarize(records);
  const md = markdown(b.version, records, s, extra);
  process.stdout.write('\n' + md);
  if (opt.write) log(`wrote ${path.relative(REPO, writeResults(REPO, md))}`);

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
