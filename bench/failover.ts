/**
 * writeHost failover under a write load: how long writes fail, and whether acknowledged writes
 * survive on the new writeHost.
 *
 *   npx tsx bench/failover.ts [--writers 8] [--run-seconds 20] [--kill-after 5] [--no-semisync] [--transactions] [--write]
 *
 * 1. starts a sandbox (MariaDB primary + 2 GTID replicas on free ports, semi-synchronous
 *    replication unless --no-semisync) and `sluice_test.fo_bench` with UNIQUE (writer, seq);
 * 2. builds dist/ when src/ is newer, then starts the proxy from the build as its own process
 *    (`node dist/main.js start --config <yaml>`): writeHosts [primary, replica1], readHosts
 *    [replica2], heartbeat 500 ms / 500 ms / 3 retries, failover with promote (admin account),
 *    log level info to a file;
 * 3. N writer clients (mysql2, one connection each, through the proxy) insert (writer, seq); seq
 *    advances only once the INSERT was acknowledged. A failed attempt is retried with the SAME
 *    seq after 20 ms; a duplicate key (1062) on a retry means an earlier, ambiguous attempt did
 *    commit: that counts as acknowledged;
 *    With --transactions each write is a short read-write transaction instead (BEGIN; SELECT the
 *    writer's counter; INSERT (writer, seq); UPDATE the counter; COMMIT), to see transaction
 *    replay: only COMMITs in flight at the kill should fail. With --sysbench the load is sysbench
 *    oltp_read_write through the proxy instead (bench/failover-sysbench.ts);
 * 4. after --kill-after seconds the primary gets SIGKILL; writing goes on until --run-seconds;
 * 5. measures the switch (dnindex file polled every 10 ms, proxy log lines), the write error
 *    window, and — reading replica1 (the new writeHost) directly — acknowledged rows missing
 *    there; then restarts the old primary to see where missing rows went (and its fencing);
 * 6. prints a markdown summary; --write puts it at the top of bench/RESULTS.md;
 * 7. cleans up (proxy, sandbox) on exit, errors and Ctrl-C.
 */
import { delay, freePort, intOption, LOAD_AVERAGE, machineLine, sluiceLine, buildDistIfNeeded, writeResults } from './util.js';
import { BenchLifecycle, waitExit } from './lifecycle.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import YAML from 'yaml';
import { sandboxProxyConfig, startSandbox, type Sandbox, type SandboxServer } from '../src/sandbox/index.js';
import { prepareSysbench, runSysbench, sysbenchRowCountsOff, sysbenchVersion, SYSBENCH_TABLE_SIZE, SYSBENCH_TABLES, type SysbenchRun } from './failover-sysbench.js';

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: npx tsx bench/failover.ts [options]
  --writers N           concurrent writer clients through the proxy (default 8)
  --run-seconds S       total write time (default 20)
  --kill-after S        SIGKILL the primary after this many seconds of writing (default 5)
  --no-semisync         plain asynchronous replication (default: semi-synchronous)
  --semisync-timeout-ms N   rpl_semi_sync_master_timeout (default: the sandbox's, 2000)
  --no-restart          do not restart the old primary afterwards (its rows, its fencing)
  --switchover          a planned switchover (admin SWITCHOVER dh1:1) instead of the SIGKILL
  --transactions        each write a short read-write transaction (BEGIN; SELECT; INSERT; UPDATE;
                        COMMIT) instead of an autocommit INSERT
  --sysbench            the load is sysbench oltp_read_write (--writers threads, prepared
                        statements, every error ignored and counted) instead of the writers
  --keep-sandbox        keep the sandbox directory (datadirs, server logs) for inspection
  --write               put the results at the top of bench/RESULTS.md (newest first)
  --out DIR             generated config, proxy log, dnindex file (default bench/out)`;

const { values: opt } = parseArgs({
  options: {
    writers: { type: 'string', default: '8' },
    'run-seconds': { type: 'string', default: '20' },
    'kill-after': { type: 'string', default: '5' },
    'no-semisync': { type: 'boolean', default: false },
    'semisync-timeout-ms': { type: 'string' },
    'no-restart': { type: 'boolean', default: false },
    switchover: { type: 'boolean', default: false },
    transactions: { type: 'boolean', default: false },
    sysbench: { type: 'boolean', default: false },
    'keep-sandbox': { type: 'boolean', default: false },
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

const intOpt = (name: string, v: string | undefined, min: number): number => intOption(name, v, min, USAGE);

const WRITERS = intOpt('writers', opt.writers, 1);
const RUN_S = intOpt('run-seconds', opt['run-seconds'], 2);
const KILL_S = intOpt('kill-after', opt['kill-after'], 1);
if (KILL_S >= RUN_S) {
  process.stderr.write(`--kill-after (${KILL_S}) must be less than --run-seconds (${RUN_S})\n`);
  process.exit(2);
}
const SEMISYNC = !opt['no-semisync'];
/** A planned switchover (admin SWITCHOVER) at --kill-after instead of the SIGKILL of the primary. */
const SWITCHOVER = opt.switchover === true;
/** Short read-write transactions instead of autocommit INSERTs. */
const TRANSACTIONS = opt.transactions === true;
/** sysbench oltp_read_write as the load. */
const SYSBENCH = opt.sysbench === true;
/** What happens at --kill-after, in the report's words. */
const EVENT = SWITCHOVER ? 'the switchover' : 'the SIGKILL';
const SEMISYNC_TIMEOUT =
  opt['semisync-timeout-ms'] !== undefined ? intOpt('semisync-timeout-ms', opt['semisync-timeout-ms'], 1) : undefined;
const REPO = process.cwd();
const OUT = path.resolve(opt.out);
const STAMP = new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '');
const DATAHOST = 'dh1';
const HEARTBEAT = { sql: 'SELECT 1', intervalMs: 500, timeoutMs: 500, retries: 3 } as const;
const REPLICATION = { maxLagSeconds: 10, checkEveryMs: 500, readmitAfter: 2 } as const;
const RETRY_DELAY_MS = 20;
const QUERY_TIMEOUT_MS = 10_000;
const TABLE = 'sluice_test.fo_bench';
/** --transactions: one counter row per writer, incremented by each of its transactions. */
const COUNTS = 'sluice_test.fo_counts';

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (msg: string): void => {
  process.stderr.write(`[failover ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
};


const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
/** Seconds relative to the kill, "+1.52 s". */
const rel = (t: number | undefined, kill: number): string =>
  t === undefined || !Number.isFinite(t) ? 'never' : `${t - kill >= 0 ? '+' : '−'}${(Math.abs(t - kill) / 1000).toFixed(2)} s`;
const secs = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

// ---------------------------------------------------------------------------------------------
// Cleanup: everything we start registers here; runs once, on success, error or signal.

const life = new BenchLifecycle(log);
const children = life.children;
const cleanup = (): Promise<void> => life.cleanup();
if (opt['keep-sandbox']) life.sandboxNote = ' (its directory is kept)';
/** A failure with its own exit code and no stack trace. */
class BenchError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

async function rows(srv: SandboxServer, sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  return (await srv.query(sql, params)) as Record<string, unknown>[];
}

async function statusVars(srv: SandboxServer, like: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const r of await rows(srv, `SHOW GLOBAL STATUS LIKE '${like}'`)) out[String(r['Variable_name'])] = String(r['Value']);
  return out;
}

async function globalVars(srv: SandboxServer, like: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const r of await rows(srv, `SHOW GLOBAL VARIABLES LIKE '${like}'`)) out[String(r['Variable_name'])] = String(r['Value']);
  return out;
}

interface SemiSyncState {
  readonly status: string;
  readonly clients: string;
  readonly yesTx: number;
  readonly noTx: number;
  readonly timeoutMs: string;
  readonly waitPoint: string;
}

async function semiSyncState(primary: SandboxServer): Promise<SemiSyncState> {
  const s = await statusVars(primary, 'Rpl_semi_sync_master_%');
  const v = await globalVars(primary, 'rpl_semi_sync_master_%');
  return {
    status: s['Rpl_semi_sync_master_status'] ?? 'n/a',
    clients: s['Rpl_semi_sync_master_clients'] ?? 'n/a',
    yesTx: Number(s['Rpl_semi_sync_master_yes_tx'] ?? NaN),
    noTx: Number(s['Rpl_semi_sync_master_no_tx'] ?? NaN),
    timeoutMs: v['rpl_semi_sync_master_timeout'] ?? 'n/a',
    waitPoint: v['rpl_semi_sync_master_wait_point'] ?? 'n/a',
  };
}

/** Highest GTID sequence number in a MariaDB GTID position ("0-1-12175" → 12175); NaN when empty. */
function gtidSeq(pos: string): number {
  const seqs = pos
    .split(',')
    .map((p) => /^\s*\d+-\d+-(\d+)\s*$/.exec(p)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number);
  return seqs.length === 0 ? NaN : Math.max(...seqs);
}

interface ReplicaSample {
  readonly t: number;
  /** GTID seq received (Gtid_IO_Pos) and applied (gtid_slave_pos), per replica. */
  readonly received: readonly number[];
  readonly applied: readonly number[];
}

/** Samples both replicas' received / applied GTID every 100 ms until stopped. */
function sampleReplicas(replicas: readonly SandboxServer[], samples: ReplicaSample[]): () => Promise<void> {
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t = Date.now();
      try {
        const st = await Promise.all(replicas.map((r) => replicaState(r)));
        samples.push({ t, received: st.map((x) => gtidSeq(x.gtidIoPos)), applied: st.map((x) => gtidSeq(x.gtidSlavePos)) });
      } catch {
        /* a replica busy or restarting: skip the sample */
      }
      await delay(Math.max(0, t + 100 - Date.now()));
    }
  })();
  return async () => {
    stop = true;
    await loop;
  };
}

/** (writer, seq) pairs in the table of one server. */
async function pairsOn(srv: SandboxServer): Promise<Set<string>> {
  const out = new Set<string>();
  for (const r of await rows(srv, `SELECT writer, seq FROM ${TABLE}`)) out.add(`${Number(r['writer'])}:${Number(r['seq'])}`);
  return out;
}

interface ReplicaState {
  readonly readOnly: string;
  readonly io: string;
  readonly sql: string;
  readonly gtidIoPos: string;
  readonly gtidSlavePos: string;
  readonly sqlState: string;
}

async function replicaState(srv: SandboxServer): Promise<ReplicaState> {
  const ro = await rows(srv, 'SELECT @@GLOBAL.read_only AS ro, @@GLOBAL.gtid_slave_pos AS sp');
  const st = (await rows(srv, 'SHOW SLAVE STATUS'))[0];
  return {
    readOnly: Number(ro[0]?.['ro']) === 1 ? 'ON' : 'OFF',
    io: String(st?.['Slave_IO_Running'] ?? 'not a replica'),
    sql: String(st?.['Slave_SQL_Running'] ?? 'not a replica'),
    gtidIoPos: String(st?.['Gtid_IO_Pos'] ?? ''),
    gtidSlavePos: String(ro[0]?.['sp'] ?? ''),
    sqlState: String(st?.['Slave_SQL_Running_State'] ?? ''),
  };
}

// ---------------------------------------------------------------------------------------------
// Proxy

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

interface Proxy {
  readonly pid: number;
  readonly endpoint: Endpoint;
  /** The admin SQL port (SWITCHOVER). */
  readonly admin: Endpoint & { readonly user: string; readonly password: string };
  readonly logFile: string;
  readonly configFile: string;
  readonly dnindexFile: string;
  alive(): boolean;
  stop(): Promise<void>;
}

async function startProxy(sb: Sandbox): Promise<Proxy> {
  const port = await freePort();
  const dnindexFile = path.join(OUT, `dnindex-failover-${STAMP}.properties`);
  const base = sandboxProxyConfig(sb, port) as { dataHost: Record<string, unknown> } & Record<string, unknown>;
  const r1 = sb.replicas[0]!;
  const r2 = sb.replicas[1]!;
  const adminPort = await freePort();
  const config = {
    ...base,
    admin: { host: '127.0.0.1', port: adminPort, user: 'admin', password: 'bench' },
    dataHost: {
      ...base.dataHost,
      name: DATAHOST,
      balance: 1,
      writeHosts: [
        { host: sb.primary.host, port: sb.primary.port },
        { host: r1.host, port: r1.port },
      ],
      readHosts: [{ host: r2.host, port: r2.port }],
      heartbeat: { ...HEARTBEAT },
      failover: { enabled: true, promote: true, dnindexFile, user: sb.adminUser, password: sb.adminPassword },
      replication: { ...REPLICATION },
    },
    log: { level: 'info' },
  };
  const configFile = path.join(OUT, `sluice-failover-${STAMP}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const logFile = path.join(OUT, `proxy-failover-${STAMP}.log`);
  const fd = fs.openSync(logFile, 'w');
  const args = [path.join(REPO, 'dist/main.js'), 'start', '--config', configFile];
  log(`starting proxy: node ${args.map((a) => path.relative(REPO, a) || a).join(' ')}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', fd, fd], cwd: REPO });
  fs.closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const pid = child.pid;
  if (pid === undefined) throw new Error('proxy did not start');
  const endpoint = { host: '127.0.0.1', port };
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!alive()) {
      throw new BenchError(
        `proxy exited (${child.exitCode ?? child.signalCode}) during start-up — config rejected or failover not there yet? ` +
          `${path.relative(REPO, logFile)}:\n${fs.readFileSync(logFile, 'utf8').trim()}`,
        3,
      );
    }
    try {
      const c = await mysql.createConnection({ ...endpoint, user: sb.user, password: sb.password, database: sb.database, connectTimeout: 2_000 });
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`proxy not accepting logins on ${port} after 30 s: ${String(err)}`);
      await delay(100);
    }
  }
  return {
    pid,
    endpoint,
    admin: { host: '127.0.0.1', port: adminPort, user: 'admin', password: 'bench' },
    logFile,
    configFile,
    dnindexFile,
    alive,
    async stop() {
      if (alive()) child.kill('SIGTERM');
      await waitExit(child, 15_000);
    },
  };
}

interface LogLine {
  readonly time: number;
  readonly level: number;
  readonly msg: string;
  readonly raw: Record<string, unknown>;
}

function readProxyLog(file: string): { lines: LogLine[]; nonJson: string[] } {
  const lines: LogLine[] = [];
  const nonJson: string[] = [];
  for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
    if (l.trim() === '') continue;
    try {
      const j = JSON.parse(l) as Record<string, unknown>;
      lines.push({ time: Number(j['time']), level: Number(j['level']), msg: String(j['msg'] ?? ''), raw: j });
    } catch {
      nonJson.push(l);
    }
  }
  return { lines, nonJson };
}

/** Messages about health, rotation and the writer (info included); everything at warn and above. */
const CLUSTER_MSG = /backend state change|read rotation|writeHost|promot|fenc|failover|dnindex|replication/i;

function logLineText(l: LogLine, kill: number): string {
  const { time: _t, level: _l, msg: _m, app: _a, pid: _p, hostname: _h, ...rest } = l.raw;
  const lvl = l.level >= 50 ? 'ERROR' : l.level >= 40 ? 'WARN ' : 'INFO ';
  return `${rel(l.time, kill).padStart(9)} ${lvl} ${l.msg} ${JSON.stringify(rest)}`;
}

// ---------------------------------------------------------------------------------------------
// Writers

interface Ack {
  readonly writer: number;
  readonly seq: number;
  /** When the attempt started / when the OK (or the 1062) arrived. */
  readonly tStart: number;
  readonly t: number;
  /** ok = first attempt; retry-ok = OK after failed attempts; dup = 1062 on a retry after an ambiguous failure. */
  readonly via: 'ok' | 'retry-ok' | 'dup' | 'dup-unexplained';
}

interface Failure {
  readonly writer: number;
  readonly seq: number;
  readonly tStart: number;
  readonly t: number;
  readonly phase: 'connect' | 'insert' | 'transaction' | 'commit';
  readonly key: string;
  readonly message: string;
  /** The INSERT may have committed (the connection broke after it was sent, an unknown error). */
  readonly ambiguous: boolean;
}

interface DbError {
  readonly errno?: number;
  readonly code?: string;
  readonly fatal?: boolean;
  readonly message?: string;
}

/** Errors that prove the statement did not run: refused before it reached a writable server. */
const DEFINITE_ERRNOS = new Set([
  1290, // ER_OPTION_PREVENTS_STATEMENT: --read-only (the new writeHost before promotion)
  1836, // ER_READ_ONLY_MODE
  2003, // the proxy: no writeHost available
  1045, // access denied
  1040, // too many connections
]);
const DEFINITE_CODES = new Set(['ECONNREFUSED', 'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR', 'PROTOCOL_ENQUEUE_AFTER_QUIT']);

function errKey(e: DbError): string {
  return e.errno !== undefined ? `${e.errno} ${e.code ?? ''}`.trim() : (e.code ?? 'unknown');
}

interface WriteRun {
  readonly acks: Ack[];
  readonly failures: Failure[];
  connects: number;
  maxAttemptMs: number;
}

/** A writer's connection through the proxy; a failure is recorded (and waited after): undefined. */
async function connectWriter(id: number, seq: number, proxy: Endpoint, sb: Sandbox, run: WriteRun): Promise<mysql.Connection | undefined> {
  const t0 = Date.now();
  try {
    const conn = await mysql.createConnection({ ...proxy, user: sb.user, password: sb.password, database: sb.database, connectTimeout: 2_000 });
    conn.on('error', () => undefined); // reported through the next query
    run.connects++;
    return conn;
  } catch (err) {
    const e = err as DbError;
    run.failures.push({ writer: id, seq, tStart: t0, t: Date.now(), phase: 'connect', key: errKey(e), message: String(e.message), ambiguous: false });
    await delay(RETRY_DELAY_MS);
    return undefined;
  }
}

/** Where a write attempt was when it failed (the report's "phase"). */
interface Step {
  phase: 'insert' | 'transaction' | 'commit';
}

/** An autocommit INSERT of (writer, seq). */
async function insertOnce(conn: mysql.Connection, id: number, seq: number, step: Step): Promise<void> {
  step.phase = 'insert';
  await conn.query({ sql: `INSERT INTO ${TABLE} (writer, seq) VALUES (?, ?)`, values: [id, seq], timeout: QUERY_TIMEOUT_MS });
}

/**
 * --transactions: BEGIN; SELECT the writer's counter; INSERT (writer, seq); UPDATE the counter;
 * COMMIT. A failure before COMMIT means the transaction is gone; a failure of the COMMIT itself
 * is ambiguous.
 */
async function transactionOnce(conn: mysql.Connection, id: number, seq: number, step: Step): Promise<void> {
  const q = (sql: string, values: unknown[] = []): Promise<unknown> => conn.query({ sql, values, timeout: QUERY_TIMEOUT_MS });
  step.phase = 'transaction';
  await q('BEGIN');
  await q(`SELECT n FROM ${COUNTS} WHERE writer = ?`, [id]);
  await q(`INSERT INTO ${TABLE} (writer, seq) VALUES (?, ?)`, [id, seq]);
  await q(`UPDATE ${COUNTS} SET n = n + 1 WHERE writer = ?`, [id]);
  step.phase = 'commit';
  await q('COMMIT');
}

/**
 * One writer: writes (writer, seq) until `endAt`, seq advancing only on an OK. A failed attempt
 * is retried with the same seq; 1062 on a retry means an earlier, ambiguous attempt committed.
 */
async function writer(id: number, proxy: Endpoint, sb: Sandbox, endAt: number, run: WriteRun): Promise<void> {
  const once = TRANSACTIONS ? transactionOnce : insertOnce;
  let conn: mysql.Connection | undefined;
  let seq = 1;
  let failedBefore = false; // the current seq failed at least once
  let ambiguousBefore = false; // … and at least one of those failures may have committed
  const drop = (): void => {
    conn?.destroy();
    conn = undefined;
  };
  /** A transaction left open by a failed statement is ended before the next attempt. */
  const rollback = async (): Promise<void> => {
    if (TRANSACTIONS && conn !== undefined) await conn.query('ROLLBACK').catch(drop);
  };
  while (Date.now() < endAt && !life.aborted) {
    if (conn === undefined) {
      conn = await connectWriter(id, seq, proxy, sb, run);
      if (conn === undefined) continue;
    }
    const t0 = Date.now();
    const step: Step = { phase: 'insert' };
    try {
      await once(conn, id, seq, step);
      const t = Date.now();
      run.maxAttemptMs = Math.max(run.maxAttemptMs, t - t0);
      run.acks.push({ writer: id, seq, tStart: t0, t, via: failedBefore ? 'retry-ok' : 'ok' });
      seq++;
      failedBefore = ambiguousBefore = false;
    } catch (err) {
      const e = err as DbError;
      const t = Date.now();
      run.maxAttemptMs = Math.max(run.maxAttemptMs, t - t0);
      if (e.errno === 1062) {
        // The row is there: an earlier attempt of this seq committed after all.
        await rollback();
        run.acks.push({ writer: id, seq, tStart: t0, t, via: ambiguousBefore ? 'dup' : 'dup-unexplained' });
        seq++;
        failedBefore = ambiguousBefore = false;
        continue;
      }
      const definite = (e.errno !== undefined && DEFINITE_ERRNOS.has(e.errno)) || (e.code !== undefined && DEFINITE_CODES.has(e.code));
      const ambiguous = step.phase !== 'transaction' && !definite;
      run.failures.push({ writer: id, seq, tStart: t0, t, phase: step.phase, key: errKey(e), message: String(e.message), ambiguous });
      failedBefore = true;
      ambiguousBefore ||= ambiguous;
      if (e.fatal === true || e.errno === undefined) drop();
      else await rollback();
      await delay(RETRY_DELAY_MS);
    }
  }
  if (conn !== undefined) await conn.end().catch(() => conn?.destroy());
}


/** --transactions: writers whose counter on `srv` differs from their rows there (a transaction applied twice, or half). */
async function countMismatches(srv: SandboxServer): Promise<string[]> {
  const out: string[] = [];
  for (const r of await rows(srv, `SELECT c.writer AS w, c.n AS n, (SELECT COUNT(*) FROM ${TABLE} b WHERE b.writer = c.writer) AS k FROM ${COUNTS} c`)) {
    if (Number(r['n']) !== Number(r['k'])) out.push(`writer ${Number(r['w'])}: counter ${Number(r['n'])}, rows ${Number(r['k'])}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The run

interface Result {
  readonly version: string;
  readonly semiStart: SemiSyncState;
  readonly semiAtKill: SemiSyncState | undefined;
  readonly tWriteStart: number;
  readonly tKill: number;
  readonly tEnd: number;
  readonly run: WriteRun;
  readonly dnindexAt: number | undefined;
  readonly dnindexFinal: string;
  readonly logLines: LogLine[];
  readonly nonJson: string[];
  readonly r1Rows: Set<string>;
  readonly r2Rows: Set<string>;
  readonly oldPrimaryRows: Set<string> | undefined;
  readonly r1After: ReplicaState;
  readonly r2After: ReplicaState;
  readonly oldPrimaryAfter: ReplicaState | undefined;
  readonly routedAfter: string;
  readonly routedAfterRestart: string | undefined;
  readonly proxyAlive: boolean;
  readonly proxyLog: string;
  readonly samples: ReplicaSample[];
  /** The primary's gtid_binlog_pos seq 0.3 s before the kill, and after its restart (NaN: not restarted). */
  readonly primarySeqAtKill: number;
  readonly oldPrimarySeq: number;
  /** --transactions: counters on replica1 that disagree with its rows (undefined: not checked). */
  readonly countMismatches: string[] | undefined;
  /** --sysbench: what sysbench said, and its tables on replica1 whose row count is off. */
  readonly sysbench: SysbenchRun | undefined;
  readonly sysbenchRowsOff: string[] | undefined;
}

async function whoAnswers(proxy: Endpoint, sb: Sandbox): Promise<string> {
  const seen = new Map<string, number>();
  let c: mysql.Connection | undefined;
  try {
    c = await mysql.createConnection({ ...proxy, user: sb.user, password: sb.password, database: sb.database, connectTimeout: 2_000 });
    for (const [label, sql] of [
      ['read', `SELECT @@server_id AS id, COUNT(*) AS n FROM ${TABLE}`],
      ['write', `SELECT @@server_id AS id, COUNT(*) AS n FROM ${TABLE} FOR UPDATE`],
    ] as const) {
      for (let i = 0; i < (label === 'read' ? 6 : 1); i++) {
        try {
          const [r] = await c.query(sql);
          const row = (r as Record<string, unknown>[])[0];
          const k = `${label}→server_id ${String(row?.['id'])} (${String(row?.['n'])} rows)`;
          seen.set(k, (seen.get(k) ?? 0) + 1);
        } catch (err) {
          const k = `${label}→error ${errKey(err as DbError)}`;
          seen.set(k, (seen.get(k) ?? 0) + 1);
        }
      }
    }
  } catch (err) {
    return `cannot connect: ${errKey(err as DbError)}`;
  } finally {
    await c?.end().catch(() => undefined);
  }
  return [...seen].map(([k, n]) => `${k} ×${n}`).join(', ');
}

async function runBench(): Promise<Result> {
  fs.mkdirSync(OUT, { recursive: true });
  try {
    buildDistIfNeeded(REPO, log);
  } catch (err) {
    throw new BenchError((err as Error).message, 3);
  }

  log(`starting sandbox (primary + 2 replicas, semi-sync ${SEMISYNC ? 'ON' : 'OFF'})`);
  const sb = await startSandbox({
    replicas: 2,
    semiSync: SEMISYNC,
    ...(SEMISYNC_TIMEOUT !== undefined ? { semiSyncTimeoutMs: SEMISYNC_TIMEOUT } : {}),
    keep: opt['keep-sandbox'],
    logger: pino({ level: 'warn' }, pino.destination(2)),
  });
  life.sandbox = sb;
  const [r1, r2] = [sb.replicas[0]!, sb.replicas[1]!];
  log(`sandbox ${sb.kind} ${sb.version}: primary ${sb.primary.port} (server_id ${sb.primary.serverId}), replica1 ${r1.port} (${r1.serverId}), replica2 ${r2.port} (${r2.serverId}); ${sb.dir}`);

  if (TRANSACTIONS) {
    // No AUTO_INCREMENT: a replayed INSERT must get the same answer on the new writeHost.
    await sb.primary.query(`CREATE TABLE ${TABLE} (writer INT NOT NULL, seq INT NOT NULL, PRIMARY KEY (writer, seq)) ENGINE=InnoDB`);
    await sb.primary.query(`CREATE TABLE ${COUNTS} (writer INT PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB`);
    await sb.primary.query(`INSERT INTO ${COUNTS} VALUES ${Array.from({ length: WRITERS }, (_, i) => `(${i + 1}, 0)`).join(', ')}`);
  } else {
    await sb.primary.query(
      `CREATE TABLE ${TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, writer INT NOT NULL, seq INT NOT NULL, UNIQUE KEY (writer, seq)) ENGINE=InnoDB`,
    );
  }
  await sb.waitForReplication(30_000);
  const semiStart = await semiSyncState(sb.primary);
  log(
    `semi-sync on the primary: status ${semiStart.status}, clients ${semiStart.clients}, timeout ${semiStart.timeoutMs} ms, wait point ${semiStart.waitPoint}`,
  );
  if (SEMISYNC && semiStart.status !== 'ON') log('WARNING: semi-sync requested but Rpl_semi_sync_master_status is not ON');

  if (SYSBENCH) {
    if (sysbenchVersion() === '') throw new BenchError('--sysbench: sysbench not found on PATH', 2);
    log(`sysbench oltp_read_write prepare: ${SYSBENCH_TABLES} × ${SYSBENCH_TABLE_SIZE} rows on the primary`);
    prepareSysbench({ host: sb.primary.host, port: sb.primary.port, user: sb.user, password: sb.password, db: sb.database });
    await sb.waitForReplication(60_000);
  }
  const proxy = await startProxy(sb);
  log(`proxy pid ${proxy.pid} on ${proxy.endpoint.port}; log ${path.relative(REPO, proxy.logFile)}`);

  // dnindex polling (10 ms) from before the writers start.
  let dnindexAt: number | undefined;
  const dnPoll = setInterval(() => {
    if (dnindexAt !== undefined) return;
    try {
      if (new RegExp(`^\\s*${DATAHOST}\\s*[=:]\\s*1\\s*$`, 'm').test(fs.readFileSync(proxy.dnindexFile, 'utf8'))) dnindexAt = Date.now();
    } catch {
      /* not written yet */
    }
  }, 10);

  const run: WriteRun = { acks: [], failures: [], connects: 0, maxAttemptMs: 0 };
  const samples: ReplicaSample[] = [];
  const stopSampling = sampleReplicas([r1, r2], samples);
  const tWriteStart = Date.now();
  const endAt = tWriteStart + RUN_S * 1000;
  log(`${WRITERS} writers for ${RUN_S} s; ${SWITCHOVER ? 'SWITCHOVER dh1:1' : 'SIGKILL of the primary'} at +${KILL_S} s`);
  const sysbenchRun = SYSBENCH
    ? runSysbench({ ...proxy.endpoint, user: sb.user, password: sb.password, db: sb.database }, WRITERS, RUN_S, path.join(OUT, `sysbench-failover-${STAMP}.log`))
    : undefined;
  const writers: Promise<unknown>[] = sysbenchRun
    ? [sysbenchRun]
    : Array.from({ length: WRITERS }, (_, i) => writer(i + 1, proxy.endpoint, sb, endAt, run));

  await delay(tWriteStart + KILL_S * 1000 - 300 - Date.now());
  let semiAtKill: SemiSyncState | undefined;
  let primarySeqAtKill = NaN;
  try {
    semiAtKill = await semiSyncState(sb.primary);
    primarySeqAtKill = gtidSeq(String((await rows(sb.primary, 'SELECT @@GLOBAL.gtid_binlog_pos AS p'))[0]?.['p'] ?? ''));
  } catch (err) {
    log(`could not read semi-sync status before the kill: ${String(err)}`);
  }
  await delay(tWriteStart + KILL_S * 1000 - Date.now());
  const ackedBeforeKill = run.acks.length;
  const tKill = Date.now();
  if (SWITCHOVER) {
    const admin = await mysql.createConnection(proxy.admin);
    try {
      const [reply] = await admin.query('SWITCHOVER dh1:1');
      log(`SWITCHOVER dh1:1 → ${String((reply as { info?: string }).info ?? JSON.stringify(reply))}`);
    } finally {
      await admin.end();
    }
  } else sb.primary.kill('SIGKILL');
  log(
    `${SWITCHOVER ? 'switchover done' : 'SIGKILL primary (pid gone)'} after ${ackedBeforeKill} acknowledged writes; semi-sync just before: status ${semiAtKill?.status ?? '?'}, ` +
      `yes_tx ${semiAtKill?.yesTx ?? '?'}, no_tx ${semiAtKill?.noTx ?? '?'}`,
  );
  const progress = setInterval(() => {
    const last = run.acks.at(-1);
    log(
      `  ${rel(Date.now(), tKill)}: acks ${run.acks.length}, failures ${run.failures.length}, dnindex ${dnindexAt === undefined ? 'dh1=0' : `dh1=1 at ${rel(dnindexAt, tKill)}`}, last ack ${rel(last?.t, tKill)}`,
    );
  }, 2_000);
  await Promise.all(writers);
  clearInterval(progress);
  await stopSampling();
  const tEnd = Date.now();
  // Give a late switch a chance to show in the file before judging.
  for (let i = 0; i < 20 && dnindexAt === undefined; i++) await delay(50);
  clearInterval(dnPoll);
  log(`writers done: ${run.acks.length} acknowledged, ${run.failures.length} failed attempts`);

  // Where do statements go now?
  const routedAfter = proxy.alive() ? await whoAnswers(proxy.endpoint, sb) : 'proxy not running';
  log(`through the proxy after the run: ${routedAfter}`);

  // The new writeHost, read directly. If the proxy never promoted it, it may still be applying
  // its relay log: give it a moment (bounded) so "missing" means missing.
  let r1After = await replicaState(r1);
  for (let i = 0; i < 50 && r1After.sql === 'Yes' && !/read all relay log/i.test(r1After.sqlState); i++) {
    await delay(100);
    r1After = await replicaState(r1);
  }
  const r1Rows = await pairsOn(r1);
  const mismatches = TRANSACTIONS ? await countMismatches(r1) : undefined;
  const sysbenchResult = await sysbenchRun;
  const sysbenchRowsOff = SYSBENCH ? await sysbenchRowCountsOff(r1, sb.database) : undefined;
  const r2After = await replicaState(r2);
  const r2Rows = await pairsOn(r2);
  log(
    `replica1: ${r1Rows.size} rows, read_only ${r1After.readOnly}, IO ${r1After.io} / SQL ${r1After.sql}, gtid_slave_pos ${r1After.gtidSlavePos}, Gtid_IO_Pos ${r1After.gtidIoPos || 'n/a'}`,
  );

  let oldPrimaryRows: Set<string> | undefined;
  let oldPrimaryAfter: ReplicaState | undefined;
  let routedAfterRestart: string | undefined;
  let oldPrimarySeq = NaN;
  if (!opt['no-restart'] && !SWITCHOVER) {
    log('restarting the old primary (its rows; does the proxy fence it and keep it out?)');
    try {
      await sb.primary.start();
      oldPrimaryRows = await pairsOn(sb.primary);
      oldPrimarySeq = gtidSeq(String((await rows(sb.primary, 'SELECT @@GLOBAL.gtid_binlog_pos AS p'))[0]?.['p'] ?? ''));
      await delay(3 * HEARTBEAT.intervalMs + REPLICATION.checkEveryMs * 2);
      oldPrimaryAfter = await replicaState(sb.primary);
      routedAfterRestart = proxy.alive() ? await whoAnswers(proxy.endpoint, sb) : 'proxy not running';
      log(`old primary: ${oldPrimaryRows.size} rows, read_only ${oldPrimaryAfter.readOnly}; through the proxy: ${routedAfterRestart}`);
    } catch (err) {
      log(`restarting the old primary failed: ${String(err)}`);
    }
  }

  const proxyAlive = proxy.alive();
  await proxy.stop();
  const { lines, nonJson } = readProxyLog(proxy.logFile);
  let dnindexFinal = '';
  try {
    dnindexFinal = fs
      .readFileSync(proxy.dnindexFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .join(' ');
  } catch {
    dnindexFinal = '(no file)';
  }
  return {
    version: sb.version,
    semiStart,
    semiAtKill,
    tWriteStart,
    tKill,
    tEnd,
    run,
    dnindexAt,
    dnindexFinal,
    logLines: lines,
    nonJson,
    r1Rows,
    r2Rows,
    oldPrimaryRows,
    r1After,
    r2After,
    oldPrimaryAfter,
    routedAfter,
    routedAfterRestart,
    proxyAlive,
    proxyLog: proxy.logFile,
    samples,
    primarySeqAtKill,
    oldPrimarySeq,
    countMismatches: mismatches,
    sysbench: sysbenchResult,
    sysbenchRowsOff,
  };
}

// ---------------------------------------------------------------------------------------------
// Analysis and report

interface Analysis {
  readonly ackedBefore: number;
  readonly ackedAfter: number;
  readonly viaRetryOk: number;
  readonly viaDup: number;
  readonly viaDupUnexplained: number;
  readonly failuresBefore: number;
  readonly failuresAfter: number;
  readonly ambiguous: number;
  readonly byKey: [string, { n: number; ambiguous: number; sample: string }][];
  readonly firstFailAfterKill: number | undefined;
  readonly firstAckAfterFail: number | undefined;
  readonly firstAckStartedAfterKill: number | undefined;
  readonly allWritersBack: number | undefined;
  readonly writersBack: number;
  readonly longestGapMs: number;
  readonly primaryDown: number | undefined;
  readonly switchLog: number | undefined;
  readonly switchLine: LogLine | undefined;
  readonly promoted: number | undefined;
  readonly missing: { writer: number; seq: number; t: number; onR2: boolean; onOld: boolean | undefined }[];
  readonly extra: number;
  readonly clusterLines: LogLine[];
  /** Other warn-level messages: count, first and last time. */
  readonly otherWarn: [string, { n: number; first: number; last: number }][];
  readonly errorLines: LogLine[];
  /** replica1's received − applied GTIDs: last sample before the kill, last before promotion, max before the kill. */
  readonly backlogAtKill: number;
  readonly backlogAtPromotion: number;
  readonly backlogMax: number;
  readonly r2BacklogAtKill: number;
  readonly unappliedAtEnd: number;
  readonly buckets: string;
  /** Transaction replay outcomes from the proxy log (replayed, mismatch, …). */
  readonly replays: [string, number][];
  /** Failed COMMITs after the kill, and failed attempts after it that were not a COMMIT. */
  readonly commitFailures: number;
  readonly otherFailuresAfter: number;
}

function analyse(r: Result): Analysis {
  const { acks, failures } = r.run;
  const kill = r.tKill;
  const before = acks.filter((a) => a.t < kill);
  const after = acks.filter((a) => a.t >= kill);
  const postFailures = failures.filter((f) => f.t >= kill);
  const firstFailAfterKill = postFailures.length > 0 ? Math.min(...postFailures.map((f) => f.t)) : undefined;
  const ackAfter = (t: number): number | undefined => {
    let best: number | undefined;
    for (const a of acks) if (a.t > t && (best === undefined || a.t < best)) best = a.t;
    return best;
  };
  const firstAckAfterFail = firstFailAfterKill !== undefined ? ackAfter(firstFailAfterKill) : undefined;
  let firstAckStartedAfterKill: number | undefined;
  for (const a of acks) if (a.tStart >= kill && (firstAckStartedAfterKill === undefined || a.t < firstAckStartedAfterKill)) firstAckStartedAfterKill = a.t;

  // Per writer: first ack of an attempt started after the kill; longest gap between acks.
  let allBack: number | undefined = 0;
  let writersBack = 0;
  let longestGapMs = 0;
  for (let w = 1; w <= WRITERS; w++) {
    const mine = acks.filter((a) => a.writer === w).sort((a, b) => a.t - b.t);
    const back = mine.find((a) => a.tStart >= kill);
    if (back === undefined) allBack = undefined;
    else {
      writersBack++;
      if (allBack !== undefined) allBack = Math.max(allBack, back.t);
    }
    let prev = r.tWriteStart;
    for (const a of mine) {
      longestGapMs = Math.max(longestGapMs, a.t - prev);
      prev = a.t;
    }
    longestGapMs = Math.max(longestGapMs, r.tEnd - prev);
  }

  const byKeyMap = new Map<string, { n: number; ambiguous: number; sample: string }>();
  for (const f of failures) {
    const k = `${f.phase}: ${f.key}`;
    const e = byKeyMap.get(k) ?? { n: 0, ambiguous: 0, sample: f.message };
    e.n++;
    if (f.ambiguous) e.ambiguous++;
    byKeyMap.set(k, e);
  }

  const lines = r.logLines;
  const primaryId = (l: LogLine): boolean => String(l.raw['host'] ?? '').endsWith(`:${life.sandbox?.primary.port}`);
  const primaryDown = lines.find((l) => l.time >= kill && l.msg === 'backend state change' && l.raw['to'] === 'down' && primaryId(l))?.time;
  const switchLine = lines.find((l) => l.time >= kill && /writeHost switched/i.test(l.msg));
  const promoted = lines.find((l) => l.time >= kill && /promoted writeHost/i.test(l.msg))?.time;

  const ackedKeys = new Map<string, Ack>();
  for (const a of acks) ackedKeys.set(`${a.writer}:${a.seq}`, a);
  const missing: Analysis['missing'] = [];
  for (const [k, a] of ackedKeys) {
    if (!r.r1Rows.has(k)) missing.push({ writer: a.writer, seq: a.seq, t: a.t, onR2: r.r2Rows.has(k), onOld: r.oldPrimaryRows?.has(k) });
  }
  missing.sort((a, b) => a.t - b.t);
  let extra = 0;
  for (const k of r.r1Rows) if (!ackedKeys.has(k)) extra++;

  // Acks per 250 ms from 1 s before the kill to 4 s after.
  const b: number[] = [];
  for (let s = -1000; s < 4000; s += 250) b.push(acks.filter((a) => a.t >= kill + s && a.t < kill + s + 250).length);

  const lastBefore = (t: number | undefined): ReplicaSample | undefined =>
    t === undefined ? undefined : r.samples.filter((x) => x.t <= t).at(-1);
  const backlog = (x: ReplicaSample | undefined, i: number): number => (x === undefined ? NaN : x.received[i]! - x.applied[i]!);
  const atKill = lastBefore(kill);
  const atPromotion = lastBefore(promoted);
  const backlogMax = Math.max(...r.samples.filter((x) => x.t <= kill).map((x) => backlog(x, 0)).filter(Number.isFinite));

  const otherWarn = new Map<string, { n: number; first: number; last: number }>();
  const isCluster = (l: LogLine): boolean => l.level >= 50 || CLUSTER_MSG.test(l.msg);
  for (const l of lines) {
    if (l.level < 40 || isCluster(l)) continue;
    const e = otherWarn.get(l.msg) ?? { n: 0, first: l.time, last: l.time };
    e.n++;
    e.last = l.time;
    otherWarn.set(l.msg, e);
  }

  return {
    backlogAtKill: backlog(atKill, 0),
    backlogAtPromotion: backlog(atPromotion, 0),
    backlogMax,
    r2BacklogAtKill: backlog(atKill, 1),
    unappliedAtEnd: gtidSeq(r.r1After.gtidIoPos) - gtidSeq(r.r1After.gtidSlavePos),
    otherWarn: [...otherWarn],
    ackedBefore: before.length,
    ackedAfter: after.length,
    viaRetryOk: acks.filter((a) => a.via === 'retry-ok').length,
    viaDup: acks.filter((a) => a.via === 'dup').length,
    viaDupUnexplained: acks.filter((a) => a.via === 'dup-unexplained').length,
    failuresBefore: failures.length - postFailures.length,
    failuresAfter: postFailures.length,
    ambiguous: failures.filter((f) => f.ambiguous).length,
    byKey: [...byKeyMap].sort((a, b) => b[1].n - a[1].n),
    firstFailAfterKill,
    firstAckAfterFail,
    firstAckStartedAfterKill,
    allWritersBack: allBack,
    writersBack,
    longestGapMs,
    primaryDown,
    switchLog: switchLine?.time,
    switchLine,
    promoted,
    missing,
    extra,
    clusterLines: lines.filter(isCluster),
    errorLines: lines.filter((l) => l.level >= 50),
    buckets: b.join(' '),
    replays: replayOutcomes(lines),
    commitFailures: postFailures.filter((f) => f.phase === 'commit').length,
    otherFailuresAfter: postFailures.filter((f) => f.phase !== 'commit').length,
  };
}

/** Outcomes of lost transactions, as the proxy logged them. */
function replayOutcomes(lines: readonly LogLine[]): [string, number][] {
  const n = new Map<string, number>();
  for (const l of lines) {
    const outcome = l.msg === 'transaction replayed on the new writeHost' ? 'replayed' : /^transaction lost/.test(l.msg) ? String(l.raw['outcome']) : undefined;
    if (outcome !== undefined) n.set(outcome, (n.get(outcome) ?? 0) + 1);
  }
  return [...n];
}

/** Consecutive identical messages (same msg + host) folded into "… (×n)". */
function foldLines(lines: readonly LogLine[], kill: number, max: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length && out.length < max) {
    const l = lines[i]!;
    let j = i + 1;
    while (j < lines.length && lines[j]!.msg === l.msg && lines[j]!.raw['host'] === l.raw['host'] && lines[j]!.raw['err'] === undefined) j++;
    const text = logLineText(l, kill);
    out.push(text.length > 420 ? text.slice(0, 420) + '…' : text);
    if (j - i > 1) out.push(`          … ×${j - i - 1} more "${l.msg}" until ${rel(lines[j - 1]!.time, kill)}`);
    i = j;
  }
  if (i < lines.length) out.push(`          … ${lines.length - i} more lines (see the log file)`);
  return out;
}

function environment(version: string): string[] {
  let mysql2v = '?';
  try {
    mysql2v = (JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules/mysql2/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* unknown */
  }
  return [
    machineLine(),
    `- MariaDB ${version}, Node ${process.version}, mysql2 ${mysql2v}`,
    sluiceLine(),
    `- load average when the run started: ${LOAD_AVERAGE}`,
  ];
}

function commandLine(): string {
  const args = process.argv.slice(2);
  return `npx tsx bench/failover.ts${args.length > 0 ? ' ' + args.join(' ') : ''}`;
}

function semiText(s: SemiSyncState | undefined): string {
  if (s === undefined) return 'unknown';
  return `status ${s.status}, clients ${s.clients}, yes_tx ${f0(s.yesTx)}, no_tx ${f0(s.noTx)}`;
}

function markdown(r: Result, a: Analysis): string {
  const k = r.tKill;
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const switched = r.dnindexAt !== undefined || a.switchLog !== undefined;
  const semiOk = SEMISYNC && r.semiAtKill?.status === 'ON';
  const verdict = !switched
    ? '**NO SWITCH** — the proxy never moved the writer to replica1'
    : a.missing.length === 0
      ? 'switched; **0** acknowledged writes missing on the new writeHost'
      : `switched; **${a.missing.length} acknowledged writes MISSING** on the new writeHost${semiOk ? ' ⚠ despite semi-sync' : ''}`;
  const lines: string[] = [
    `## ${date} — ${SWITCHOVER ? 'planned switchover (SWITCHOVER dh1:1)' : 'writeHost failover'} under ${TRANSACTIONS ? 'read-write transactions' : 'writes'} (semi-sync ${SEMISYNC ? 'ON' : 'OFF'}): ${verdict}`,
    '',
    ...environment(r.version),
    `- command: \`${commandLine()}\``,
    `- setup: writeHosts [primary, replica1], readHosts [replica2], balance 1; heartbeat ${HEARTBEAT.intervalMs} ms / timeout ${HEARTBEAT.timeoutMs} ms / ${HEARTBEAT.retries} retries; ` +
      `failover enabled, promote with the sandbox admin account; replication.checkEveryMs ${REPLICATION.checkEveryMs}; ` +
      `${WRITERS} writers (one mysql2 connection each, ${TRANSACTIONS ? 'transactions BEGIN; SELECT counter; INSERT (writer, seq); UPDATE counter; COMMIT' : 'autocommit INSERT (writer, seq)'}; a failure is retried with the same seq after ${RETRY_DELAY_MS} ms on a new connection if the old one broke); ` +
      `${SWITCHOVER ? 'SWITCHOVER dh1:1 on the admin port' : 'primary SIGKILLed'} at +${KILL_S} s of ${RUN_S} s`,
    `- semi-sync: ${SEMISYNC ? `ON (rpl_semi_sync_master_timeout ${r.semiStart.timeoutMs} ms, wait point ${r.semiStart.waitPoint})` : 'OFF (asynchronous replication)'}; ` +
      `primary at start: ${semiText(r.semiStart)}; 0.3 s before the kill: ${semiText(r.semiAtKill)}`,
    '',
    `Times are relative to ${EVENT}.`,
    '',
    '| measure | value |',
    '|---|---|',
    `| primary DOWN (proxy log) | ${rel(a.primaryDown, k)} |`,
    `| writeHost switched (proxy log) | ${rel(a.switchLog, k)} |`,
    `| dnindex \`${DATAHOST}=1\` seen (polled every 10 ms) | ${rel(r.dnindexAt, k)} |`,
    `| replica1 promoted (proxy log) | ${rel(a.promoted, k)} |`,
    `| first failed write | ${rel(a.firstFailAfterKill, k)} |`,
    `| first acknowledged write after that | ${rel(a.firstAckAfterFail, k)} |`,
    `| **write error window** (first failure → first success) | **${a.firstFailAfterKill !== undefined && a.firstAckAfterFail !== undefined ? secs(a.firstAckAfterFail - a.firstFailAfterKill) : 'n/a'}** |`,
    `| first ack of an INSERT sent after the kill | ${rel(a.firstAckStartedAfterKill, k)} |`,
    `| all writers writing again | ${a.allWritersBack !== undefined ? rel(a.allWritersBack, k) : `no (${a.writersBack}/${WRITERS})`} |`,
    `| longest gap between two acks of one writer | ${secs(a.longestGapMs)} |`,
    `| longest single attempt (OK or error) | ${secs(r.run.maxAttemptMs)} |`,
    `| acknowledged writes (before / after the kill) | ${r.run.acks.length} (${a.ackedBefore} / ${a.ackedAfter}) |`,
    `| … of them OK after earlier failed attempts / 1062 after an ambiguous failure (= it had committed) | ${a.viaRetryOk} / ${a.viaDup}${a.viaDupUnexplained > 0 ? ` (+${a.viaDupUnexplained} 1062 without an ambiguous failure ⚠)` : ''} |`,
    `| failed attempts (before / after the kill), ambiguous | ${a.failuresBefore + a.failuresAfter} (${a.failuresBefore} / ${a.failuresAfter}), ${a.ambiguous} ambiguous |`,
    `| writer connections opened | ${r.run.connects} |`,
    ...(TRANSACTIONS
      ? [
          `| **failed transactions after ${EVENT}: at COMMIT / before COMMIT** | **${a.commitFailures} / ${a.otherFailuresAfter}** |`,
          `| lost transactions by outcome (proxy log) | ${a.replays.length === 0 ? 'none' : a.replays.map(([o, n]) => `${o} ×${n}`).join(', ')} |`,
          `| counters on replica1 that disagree with its rows (a transaction applied twice or half) | ${r.countMismatches?.length ?? 'n/a'}${r.countMismatches !== undefined && r.countMismatches.length > 0 ? ` ⚠ ${r.countMismatches.slice(0, 5).join('; ')}` : ''} |`,
        ]
      : []),
    `| **acknowledged writes missing on replica1** (new writeHost, read directly) | **${a.missing.length}**${a.missing.length > 0 ? ` (on replica2: ${a.missing.filter((m) => m.onR2).length}; on the restarted old primary: ${r.oldPrimaryRows === undefined ? 'not checked' : a.missing.filter((m) => m.onOld === true).length})` : ''} |`,
    `| rows on replica1 nobody got an OK for | ${a.extra} |`,
    `| replica1 apply backlog (GTIDs received − applied): max before the kill / at the kill / at promotion / left unapplied at the end | ` +
      `${f0(a.backlogMax)} / ${f0(a.backlogAtKill)} / ${f0(a.backlogAtPromotion)} / **${f0(a.unappliedAtEnd)}** (replica2 at the kill: ${f0(a.r2BacklogAtKill)}; sampled every 100 ms; primary's binlog at −0.3 s: GTID seq ${f0(r.primarySeqAtKill)}) |`,
    `| replica1 afterwards | read_only ${r.r1After.readOnly}, replication IO ${r.r1After.io} / SQL ${r.r1After.sql}, gtid_slave_pos \`${r.r1After.gtidSlavePos}\`, Gtid_IO_Pos \`${r.r1After.gtidIoPos || '–'}\` |`,
    `| replica2 afterwards | read_only ${r.r2After.readOnly}, IO ${r.r2After.io} / SQL ${r.r2After.sql}, ${r.r2Rows.size} rows |`,
    `| old primary restarted | ${r.oldPrimaryAfter === undefined ? 'not restarted' : `${r.oldPrimaryRows?.size ?? '?'} rows, last GTID seq ${f0(r.oldPrimarySeq)} (replica1 had received up to ${f0(gtidSeq(r.r1After.gtidIoPos))}), read_only ${r.oldPrimaryAfter.readOnly} a few s later`} |`,
    `| through the proxy after the run | ${r.routedAfter}${r.routedAfterRestart !== undefined ? `; after the old primary's restart: ${r.routedAfterRestart}` : ''} |`,
    `| dnindex file at the end | \`${r.dnindexFinal}\` |`,
    '',
    ...(a.unappliedAtEnd > 0
      ? [
          `Diagnosis: replica1 had received ${f0(a.unappliedAtEnd)} transactions (Gtid_IO_Pos ${r.r1After.gtidIoPos}) that it never applied ` +
            `(gtid_slave_pos ${r.r1After.gtidSlavePos}): the promotion stopped replication while the SQL thread still had a relay-log backlog, ` +
            'and the new writeHost took writes on top of it' +
            (SEMISYNC
              ? '. Semi-sync acknowledges on receipt (relay log), not on apply, so those commits had been acknowledged to clients.'
              : '. With asynchronous replication transactions replica1 never received are lost too: here ' +
                `${Number.isFinite(r.oldPrimarySeq) ? f0(r.oldPrimarySeq - gtidSeq(r.r1After.gtidIoPos)) : 'n/a (old primary not restarted)'} ` +
                "(the old primary's last GTID minus replica1's Gtid_IO_Pos)."),
          '',
        ]
      : []),
    `Failed attempts by error: ${a.byKey.length === 0 ? 'none' : a.byKey.map(([key, v]) => `\`${key}\` ×${v.n}${v.ambiguous > 0 ? ` (${v.ambiguous} ambiguous)` : ''}`).join(', ')}.`,
    '',
    `Acks per 250 ms from −1 s to +4 s: \`${a.buckets}\``,
  ];
  if (a.missing.length > 0) {
    lines.push(
      '',
      `Missing rows were acknowledged between ${rel(a.missing[0]!.t, k)} and ${rel(a.missing.at(-1)!.t, k)}; ` +
        `first 10 (writer:seq @ ack time): ${a.missing
        .slice(0, 10)
        .map((m) => `${m.writer}:${m.seq} @ ${rel(m.t, k)}${m.onR2 ? ' (on replica2)' : ''}${m.onOld === true ? ' (on old primary)' : ''}`)
        .join(', ')}`,
    );
  }
  lines.push(
    '',
    `<details><summary>Proxy log (health / writer lines, warn and above) — ${path.relative(REPO, r.proxyLog)}</summary>`,
    '',
    '```',
    ...foldLines(a.clusterLines, k, 60),
    ...(a.otherWarn.length > 0
      ? ['', 'other warnings:', ...a.otherWarn.map(([m, v]) => `  "${m}" ×${v.n}, ${rel(v.first, k)} … ${rel(v.last, k)}`)]
      : []),
    ...(r.nonJson.length > 0 ? ['non-JSON output:', ...r.nonJson.slice(0, 10)] : []),
    '```',
    '',
    '</details>',
  );
  return lines.join('\n') + '\n';
}

/** --sysbench: the report, around what sysbench saw. */
function sysbenchMarkdown(r: Result, a: Analysis): string {
  const k = r.tKill;
  const sb = r.sysbench!;
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const switched = r.dnindexAt !== undefined || a.switchLog !== undefined;
  const around = sb.seconds.filter((x) => x.second >= KILL_S - 2 && x.second <= KILL_S + 5);
  const lines = [
    `## ${date} — ${SWITCHOVER ? 'planned switchover (SWITCHOVER dh1:1)' : 'writeHost failover'} under sysbench oltp_read_write (semi-sync ${SEMISYNC ? 'ON' : 'OFF'}): ` +
      `${switched ? 'switched' : '**NO SWITCH**'}; **${f0(sb.ignoredErrors)}** client-visible errors`,
    '',
    ...environment(r.version),
    `- command: \`${commandLine()}\``,
    `- setup: writeHosts [primary, replica1], readHosts [replica2], balance 1; heartbeat ${HEARTBEAT.intervalMs} ms / timeout ${HEARTBEAT.timeoutMs} ms / ${HEARTBEAT.retries} retries; ` +
      `failover enabled, promote; sysbench oltp_read_write, ${WRITERS} threads, ${SYSBENCH_TABLES} × ${SYSBENCH_TABLE_SIZE} rows, server-side prepared statements, ` +
      `\`--mysql-ignore-errors=all\` (an error rolls the transaction back and is counted; a lost connection is reconnected); ` +
      `${SWITCHOVER ? 'SWITCHOVER dh1:1 on the admin port' : 'primary SIGKILLed'} at +${KILL_S} s of ${RUN_S} s`,
    '',
    '| measure | value |',
    '|---|---|',
    `| primary DOWN / writeHost switched / replica1 promoted (proxy log) | ${rel(a.primaryDown, k)} / ${rel(a.switchLog, k)} / ${rel(a.promoted, k)} |`,
    `| sysbench transactions | ${f0(sb.transactions)} |`,
    `| **client-visible errors** (sysbench's ignored errors) / reconnects | **${f0(sb.ignoredErrors)}** / ${f0(sb.reconnects)} |`,
    `| lost transactions by outcome (proxy log) | ${a.replays.length === 0 ? 'none' : a.replays.map(([o, n]) => `${o} ×${n}`).join(', ')} |`,
    `| tables on replica1 without exactly ${SYSBENCH_TABLE_SIZE} rows (a transaction applied twice or half) | ${r.sysbenchRowsOff?.length ?? 'n/a'}${r.sysbenchRowsOff !== undefined && r.sysbenchRowsOff.length > 0 ? ` ⚠ ${r.sysbenchRowsOff.join(', ')}` : ''} |`,
    `| transactions per second, second by second from ${KILL_S - 2} s to ${KILL_S + 5} s (${EVENT} at ${KILL_S} s) | \`${around.map((x) => f0(x.tps)).join(' ')}\` |`,
    `| errors per second in those seconds | \`${around.map((x) => f0(x.errorsPerSecond)).join(' ')}\` |`,
    '',
    ...(sb.complaints.length > 0 ? ['sysbench said:', '```', ...sb.complaints.slice(0, 10), '```', ''] : []),
    `sysbench output: ${path.relative(REPO, sb.logFile)}; proxy log: ${path.relative(REPO, r.proxyLog)}`,
  ];
  return lines.join('\n') + '\n';
}



async function main(): Promise<void> {
  const r = await runBench();
  const a = analyse(r);
  const md = SYSBENCH ? sysbenchMarkdown(r, a) : markdown(r, a);
  process.stdout.write('\n' + md);
  if (!r.proxyAlive) log('WARNING: the proxy process had exited before the end of the run');
  if (a.errorLines.length > 0) log(`the proxy logged ${a.errorLines.length} error line(s); see ${path.relative(REPO, r.proxyLog)}`);
  if (opt.write) log(`wrote ${path.relative(REPO, writeResults(REPO, md))}`);
  if (r.dnindexAt === undefined && a.switchLog === undefined) {
    log('no writer switch happened');
    process.exitCode = 1;
  } else if (SEMISYNC && a.missing.length > 0) {
    log(`${a.missing.length} acknowledged writes lost with semi-sync on`);
    process.exitCode = 1;
  }
}

main()
  .catch((err: unknown) => {
    if (life.aborted) return;
    if (err instanceof BenchError) {
      log(err.message);
      process.exitCode = err.exitCode;
    } else {
      log(`error: ${(err as Error).stack ?? String(err)}`);
      process.exitCode = 1;
    }
  })
  .finally(() => cleanup().then(() => process.exit()));
