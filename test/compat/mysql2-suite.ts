/**
 * node-mysql2's own test suite, run twice against a fresh sandbox (primary + 2 GTID replicas):
 * once straight against the primary, once through Sluice with its default settings. Prints
 * every file's result side by side and the files that fail ONLY through Sluice.
 *
 *   npx tsx test/compat/mysql2-suite.ts <node-mysql2 checkout> [filter…] [options]
 *
 * The checkout is not part of this repository: clone https://github.com/sidorares/node-mysql2
 * somewhere (outside this tree) and run `npm ci` in it once; its dev dependencies bring `tsx`
 * and `poku`, which its test files need.
 *
 * Files: `test/unit`, `test/integration` and `test/global` (`*.test.mts`), one at a time, each
 * as `tsx <file>` in the checkout (what its AGENTS.md documents for a single file), with a
 * per-file timeout; a filter keeps the files whose path contains it. The suite reads
 * MYSQL_HOST / MYSQL_PORT / MYSQL_USER / MYSQL_DATABASE, and MYSQL_PASSWORD only when CI is set.
 * It wants a root-like account (CREATE USER, SET GLOBAL, FLUSH …) and a database `test`: both
 * are created in the sandbox, the account with every privilege except READ_ONLY ADMIN (MariaDB)
 * / SUPER and CONNECTION_ADMIN (MySQL), so a write that reached a replica would fail loudly. The
 * proxy is `sandboxProxyConfig` (what `sluice sandbox` runs) with this account as both the client
 * account and the dataHost account, so both runs have the same privileges on the server.
 *
 * Options:
 *   --timeout <s>        per-file limit (default 60)
 *   --only direct|sluice run one side only
 *   --out <dir>          where per-file logs, the sandbox and proxy logs go (default: a new temp dir)
 *   --workers <n>        run Sluice as a group of n worker processes (the built proxy, `node
 *                        dist/main.js start`; build first) instead of one process in this one
 *
 * Exit status: 0 when no file fails only through Sluice, 1 otherwise, 2 on bad usage.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino, type Logger } from 'pino';
import { startSluice, type Sluice } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { sandboxProxyConfig, startSandbox, type Sandbox } from '../../src/sandbox/index.js';

const SUITE_DIRS = ['test/unit', 'test/integration', 'test/global'];
const SUITE_USER = 'mysql2_suite';
const SUITE_PASSWORD = 'mysql2_suite_pw';
const SUITE_DATABASE = 'test';

type Mode = 'direct' | 'sluice';
type Status = 'pass' | 'skip' | 'FAIL' | 'TIMEOUT';

interface FileResult {
  readonly status: Status;
  readonly ms: number;
  /** First error-looking line of the output (ANSI stripped), for failures. */
  readonly error: string;
  readonly log: string;
}

const USAGE = 'usage: npx tsx test/compat/mysql2-suite.ts <node-mysql2 checkout> [filter…] [--timeout 60] [--only direct|sluice] [--out dir] [--workers n]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: {
    timeout: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    workers: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const [suiteArg, ...filters] = positionals;
if (suiteArg === undefined) fail('the path of a node-mysql2 checkout is required');
const suiteDir = path.resolve(suiteArg);
const tsxBin = path.join(suiteDir, 'node_modules', '.bin', 'tsx');
if (!existsSync(path.join(suiteDir, 'test', 'common.test.mts'))) fail(`${suiteDir} does not look like a node-mysql2 checkout (no test/common.test.mts)`);
if (!existsSync(tsxBin)) fail(`${tsxBin} is missing: run \`npm ci\` in ${suiteDir} first`);
const timeoutMs = Number(values.timeout ?? 60) * 1000;
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail('--timeout must be a positive number of seconds');
if (values.only !== undefined && values.only !== 'direct' && values.only !== 'sluice') fail('--only must be direct or sluice');
const modes: Mode[] = values.only === undefined ? ['direct', 'sluice'] : [values.only as Mode];
const workers = Number(values.workers ?? 1);
if (!Number.isInteger(workers) || workers < 1) fail('--workers must be a positive integer');
const outDir = values.out !== undefined ? path.resolve(values.out) : mkdtempSync(path.join(tmpdir(), 'mysql2-suite-'));
mkdirSync(outDir, { recursive: true });

function listFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(suiteDir, rel);
    if (!existsSync(abs)) return;
    for (const name of readdirSync(abs).sort()) {
      const r = `${rel}/${name}`;
      if (statSync(path.join(suiteDir, r)).isDirectory()) walk(r);
      else if (name.endsWith('.test.mts')) out.push(r);
    }
  };
  for (const d of SUITE_DIRS) walk(d);
  return filters.length === 0 ? out : out.filter((f) => filters.some((x) => f.includes(x)));
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** What says best why a file failed: its first assertion / error, with a few lines of detail. */
function firstError(output: string): string {
  const lines = output.replace(ANSI, '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  let at = lines.findIndex((l) => l.startsWith('✘'));
  if (at < 0) at = lines.findIndex((l) => /^(\w*Error\b|Error:|uncaughtException|unhandledRejection)/.test(l));
  if (at < 0) at = lines.findIndex((l) => /\bError\b|failed/i.test(l));
  if (at < 0) return lines.at(-1) ?? '(no output)';
  const detail: string[] = [];
  for (const l of lines.slice(at, at + 12)) {
    if (detail.length > 0 && /^(◌|●|✘|at )/.test(l)) break;
    detail.push(l);
  }
  const text = detail.join(' | ');
  return text.length > 400 ? `${text.slice(0, 397)}...` : text;
}

function runFile(file: string, env: NodeJS.ProcessEnv, logFile: string): Promise<FileResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Own process group, so a timeout kills tsx and the node process it starts.
    const child = spawn(tsxBin, [file], { cwd: suiteDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    let timedOut = false;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      killGroup(); // anything the file left running in its group
      const output = Buffer.concat(chunks).toString('utf8');
      writeFileSync(logFile, `$ tsx ${file}\n# exit ${code ?? signal}${timedOut ? ' (timeout)' : ''}\n${output}`);
      const ms = Date.now() - t0;
      // poku's skip() prints "◯ <message>" at column 0 and exits 0.
      const skipped = /^◯ /m.test(output.replace(ANSI, ''));
      const status: Status = timedOut ? 'TIMEOUT' : code === 0 ? (skipped ? 'skip' : 'pass') : 'FAIL';
      resolve({
        status,
        ms,
        error: status === 'TIMEOUT' ? `no exit within ${timeoutMs / 1000} s` : status === 'FAIL' ? firstError(output) : '',
        log: logFile,
      });
    });
  });
}

/** The suite's account and database, created through the sandbox's admin account (replicated). */
async function prepareSandbox(sb: Sandbox): Promise<void> {
  for (const host of ['%', 'localhost']) {
    const account = `'${SUITE_USER}'@'${host}'`;
    await sb.primary.query(`CREATE USER ${account} IDENTIFIED BY '${SUITE_PASSWORD}'`);
    await sb.primary.query(`GRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION`);
    const revoke = sb.kind === 'mariadb' ? ['READ_ONLY ADMIN'] : ['SUPER', 'CONNECTION_ADMIN'];
    for (const priv of revoke) {
      // Older servers do not have the privilege (then ALL does not include it either).
      await sb.primary.query(`REVOKE ${priv} ON *.* FROM ${account}`).catch(() => undefined);
    }
  }
  await sb.primary.query(`CREATE DATABASE IF NOT EXISTS \`${SUITE_DATABASE}\``);
  await sb.waitForReplication(30_000);
}

function suiteEnv(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['MYSQL_CONNECTION_URL', 'MYSQL_USE_TLS', 'MYSQL_USE_COMPRESSION', 'STATIC_PARSER', 'DEBUG', 'FILTER']) delete env[k];
  return {
    ...env,
    CI: '1', // the suite reads MYSQL_PASSWORD only under CI
    MYSQL_HOST: '127.0.0.1',
    MYSQL_PORT: String(port),
    MYSQL_USER: SUITE_USER,
    MYSQL_PASSWORD: SUITE_PASSWORD,
    MYSQL_DATABASE: SUITE_DATABASE,
  };
}

let currentFile = '';
const crashes: string[] = [];
const closeProblems: string[] = [];
const CLOSE_TIMEOUT_MS = 20_000;
// Sluice runs in this process: an exception it lets escape is a finding, not the end of the run.
process.on('uncaughtException', (err) => {
  crashes.push(`${currentFile}: ${err.stack ?? String(err)}`);
  process.stderr.write(`\nuncaught exception in the proxy process during ${currentFile}: ${err.stack ?? String(err)}\n`);
});

async function runMode(mode: Mode, files: readonly string[]): Promise<Map<string, FileResult>> {
  const logDir = path.join(outDir, mode);
  mkdirSync(logDir, { recursive: true });
  const sandboxLog: Logger = pino({ level: 'info' }, pino.destination({ dest: path.join(outDir, `${mode}-sandbox.log`), sync: true }));
  const results = new Map<string, FileResult>();
  let sb: Sandbox | undefined;
  let sluice: Pick<Sluice, 'close'> | undefined;
  try {
    sb = await startSandbox({ replicas: 2, semiSync: true, logger: sandboxLog });
    await prepareSandbox(sb);
    let port = sb.primary.port;
    if (mode === 'sluice') {
      const config = validateConfig(
        sandboxProxyConfig(
          { primary: sb.primary, replicas: sb.replicas, user: SUITE_USER, password: SUITE_PASSWORD, dir: sb.dir },
          0,
        ),
      );
      if (workers > 1) {
        const group = await startGroupProcess({ ...config, workers }, path.join(outDir, 'sluice.log'));
        sluice = group;
        port = group.port;
      } else {
        const proxyLog = createLogger(config.log.level, pino.destination({ dest: path.join(outDir, 'sluice.log'), sync: true }));
        const one = await startSluice(config, proxyLog);
        sluice = one;
        port = one.address.port;
      }
    }
    process.stdout.write(`${mode}: ${sb.kind} ${sb.version}, ${mode === 'direct' ? 'primary' : 'Sluice'} at 127.0.0.1:${port}; ${files.length} files\n`);
    const env = suiteEnv(port);
    let i = 0;
    for (const file of files) {
      currentFile = `${mode} ${file}`;
      const r = await runFile(file, env, path.join(logDir, `${file.replace(/[/#]/g, '_')}.log`));
      results.set(file, r);
      i++;
      process.stdout.write(`  [${mode} ${i}/${files.length}] ${r.status.padEnd(7)} ${(r.ms / 1000).toFixed(1).padStart(5)}s ${file}\n`);
    }
  } finally {
    if (sluice !== undefined) {
      // A proxy that cannot close (a backend connection never given back) is a finding, not a hang.
      const closed = await Promise.race([
        sluice.close().then(
          () => true,
          (err: Error) => (process.stderr.write(`closing the proxy: ${err.message}\n`), true),
        ),
        new Promise<false>((r) => setTimeout(() => r(false), CLOSE_TIMEOUT_MS).unref()),
      ]);
      if (!closed) closeProblems.push(`Sluice close() did not finish within ${CLOSE_TIMEOUT_MS / 1000} s (see ${path.join(outDir, 'sluice.log')})`);
    }
    await sb?.stop().catch((err: Error) => process.stderr.write(`stopping the sandbox: ${err.message}\n`));
  }
  return results;
}

/** The built proxy as a group of worker processes (`sluice start`), its log in `logFile`. */
async function startGroupProcess(config: object, logFile: string): Promise<{ port: number; close(): Promise<void> }> {
  const confFile = path.join(outDir, 'sluice-group.yaml');
  writeFileSync(confFile, JSON.stringify(config));
  const child = spawn(process.execPath, ['dist/main.js', 'start', '--config', confFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SLUICE_LOG_FORMAT: 'json' },
  });
  const log = createWriteStream(logFile);
  child.stderr.pipe(log);
  let text = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"sluice listening"/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`the proxy exited (${code}) before listening: see ${logFile}`)));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const ok = (r: FileResult | undefined): boolean => r !== undefined && (r.status === 'pass' || r.status === 'skip');
const cell = (r: FileResult | undefined): string => (r === undefined ? '-' : `${r.status} ${(r.ms / 1000).toFixed(1)}s`);

async function main(): Promise<number> {
  const files = listFiles();
  if (files.length === 0) fail(`no test files under ${SUITE_DIRS.join(', ')} of ${suiteDir}${filters.length > 0 ? ' match the filter' : ''}`);
  const t0 = Date.now();
  const byMode = new Map<Mode, Map<string, FileResult>>();
  for (const mode of modes) byMode.set(mode, await runMode(mode, files));
  const direct = byMode.get('direct');
  const viaSluice = byMode.get('sluice');

  const width = Math.max(...files.map((f) => f.length));
  const lines = ['', `${'file'.padEnd(width)}  ${'direct'.padEnd(13)}  sluice`];
  for (const f of files) {
    const d = direct?.get(f);
    const s = viaSluice?.get(f);
    const mark = direct && viaSluice && ok(d) && !ok(s) ? '  <-- only through Sluice' : '';
    lines.push(`${f.padEnd(width)}  ${cell(d).padEnd(13)}  ${cell(s)}${mark}`);
  }
  const total = files.length;
  const passed = (m: Map<string, FileResult> | undefined): number => files.filter((f) => ok(m?.get(f))).length;
  const onlySluice = direct && viaSluice ? files.filter((f) => ok(direct.get(f)) && !ok(viaSluice.get(f))) : [];
  const onlyDirect = direct && viaSluice ? files.filter((f) => !ok(direct.get(f)) && ok(viaSluice.get(f))) : [];
  const bothFail = direct && viaSluice ? files.filter((f) => !ok(direct.get(f)) && !ok(viaSluice.get(f))) : [];
  const describe = (title: string, list: readonly string[], m: Map<string, FileResult> | undefined): void => {
    if (list.length === 0) return;
    lines.push('', `${title} (${list.length}):`);
    for (const f of list) {
      const r = m?.get(f);
      lines.push(`  ${f}`, `      ${r?.status ?? '?'}: ${r?.error ?? ''}`, `      log: ${r?.log ?? ''}`);
    }
  };
  describe('Fail only through Sluice', onlySluice, viaSluice);
  describe('Fail directly, pass through Sluice', onlyDirect, direct);
  describe('Fail both ways', bothFail, viaSluice);
  if (crashes.length > 0) lines.push('', `Uncaught exceptions in the proxy process (${crashes.length}):`, ...crashes.map((c) => `  ${c}`));
  if (closeProblems.length > 0) lines.push('', ...closeProblems);
  lines.push('', `logs: ${outDir}; ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  const summary: string[] = [];
  if (direct) summary.push(`direct ${passed(direct)}/${total}`);
  if (viaSluice) summary.push(`sluice ${passed(viaSluice)}/${total}`);
  if (direct && viaSluice) summary.push(`only-through-sluice: ${onlySluice.length === 0 ? 'none' : `${onlySluice.length} (${onlySluice.join(', ')})`}`);
  lines.push(summary.join(', '), '');
  process.stdout.write(lines.join('\n'));
  return onlySluice.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`mysql2-suite: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
