/**
 * The mariadb driver's `batch()` (COM_STMT_BULK_EXECUTE) straight to the primary vs through
 * Sluice, interleaved in one run.
 *
 *   npx tsc -p tsconfig.json && npx tsx bench/batch.ts [--rows N] [--rounds N]
 *
 * Starts a sandbox (MariaDB primary + 2 replicas), then the proxy from the compiled build as its
 * own process (`node dist/main.js start`), so the proxy does not share the client's event loop.
 * Each round empties the table on the primary and times one `batch()` INSERT of N rows per
 * variant: direct, through Sluice, and through Sluice with `bulk: false` (one COM_STMT_EXECUTE
 * per row: what drivers do when the greeting does not offer bulk operations). Prints the median
 * per variant and the proxy/direct ratio; cleans up on exit, errors and Ctrl-C.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mariadb from 'mariadb';
import { pino } from 'pino';
import YAML from 'yaml';
import { sandboxProxyConfig, startSandbox } from '../src/sandbox/index.js';
import { BenchLifecycle } from './lifecycle.js';
import { delay, freePort, intOption } from './util.js';

const USAGE = 'usage: npx tsx bench/batch.ts [--rows N (default 1000)] [--rounds N (default 7)]';
const { values: opt } = parseArgs({ options: { rows: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '7' } } });
const ROWS = intOption('rows', opt.rows, 1, USAGE);
const ROUNDS = intOption('rounds', opt.rounds, 1, USAGE);
const REPO = process.cwd();
const OUT = path.join(REPO, 'bench/out');

const log = (line: string): void => {
  process.stderr.write(`[batch] ${line}\n`);
};
const life = new BenchLifecycle(log);

interface Endpoint {
  readonly host: string;
  readonly port: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function startProxy(sb: Parameters<typeof sandboxProxyConfig>[0]): Promise<Endpoint> {
  const port = await freePort();
  const config = { ...sandboxProxyConfig(sb, port), log: { level: 'warn' } };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const configFile = path.join(OUT, `sluice-batch-${stamp}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  const logFile = path.join(OUT, `proxy-batch-${stamp}.log`);
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [path.join(REPO, 'dist/main.js'), 'start', '--config', configFile], { stdio: ['ignore', fd, fd], cwd: REPO });
  fs.closeSync(fd);
  life.children.add(child);
  child.once('exit', () => life.children.delete(child));
  const endpoint = { host: '127.0.0.1', port };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited during start-up; see ${logFile}`);
    try {
      const c = await connect(endpoint, sb);
      await c.end();
      return endpoint;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`proxy not accepting logins after 30 s: ${String(err)}`);
      await delay(100);
    }
  }
}

function connect(e: Endpoint, sb: { user: string; password: string }, bulk = true): ReturnType<typeof mariadb.createConnection> {
  return mariadb.createConnection({ host: e.host, port: e.port, user: sb.user, password: sb.password, database: 'sluice_test', bulk });
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(path.join(REPO, 'dist/main.js'))) throw new Error('dist/main.js missing: run `npx tsc -p tsconfig.json` first');
  log('starting sandbox (primary + 2 replicas)');
  const sb = await startSandbox({ replicas: 2, logger: pino({ level: 'warn' }, pino.destination(2)) });
  life.sandbox = sb;
  log(`sandbox ${sb.kind} ${sb.version}: primary ${sb.primary.port}`);
  const proxy = await startProxy(sb);
  const admin = await connect(sb.primary, sb);
  await admin.query('DROP TABLE IF EXISTS bench_batch');
  await admin.query('CREATE TABLE bench_batch (id INT PRIMARY KEY, v VARCHAR(64), n BIGINT) ENGINE=InnoDB');
  const rows = Array.from({ length: ROWS }, (_, i) => [i + 1, `row-${i + 1}`, i * 1000]);
  const variants = [
    { name: 'direct', endpoint: sb.primary as Endpoint, bulk: true },
    { name: 'sluice', endpoint: proxy, bulk: true },
    { name: 'sluice, bulk: false', endpoint: proxy, bulk: false },
  ];
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  // Round 0 warms up (JIT, statement caches, pools) and is not counted.
  for (let round = 0; round <= ROUNDS && !life.aborted; round++) {
    for (const v of variants) {
      await admin.query('TRUNCATE TABLE bench_batch');
      const c = await connect(v.endpoint, sb, v.bulk);
      try {
        const t0 = performance.now();
        await c.batch('INSERT INTO bench_batch (id, v, n) VALUES (?, ?, ?)', rows);
        const ms = performance.now() - t0;
        const n = ((await admin.query('SELECT COUNT(*) AS n FROM bench_batch')) as { n: bigint }[])[0]?.n;
        if (Number(n) !== ROWS) throw new Error(`${v.name}: ${n} rows inserted, expected ${ROWS}`);
        if (round > 0) times.get(v.name)!.push(ms);
      } finally {
        await c.end();
      }
    }
  }
  await admin.end();
  const direct = median(times.get('direct')!);
  process.stdout.write(`\nmariadb batch() of ${ROWS} rows, ${ROUNDS} rounds, ${sb.kind} ${sb.version}; median ms (min … max)\n\n`);
  process.stdout.write('| variant | median ms | min … max ms | / direct |\n|---|---:|---:|---:|\n');
  for (const v of variants) {
    const xs = times.get(v.name)!;
    const m = median(xs);
    process.stdout.write(`| ${v.name} | ${m.toFixed(1)} | ${Math.min(...xs).toFixed(1)} … ${Math.max(...xs).toFixed(1)} | ${(m / direct).toFixed(2)}× |\n`);
  }
}

main()
  .catch((err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => life.cleanup());
