/**
 * Test entry point (`npm test` → `tsc -p tsconfig.test.json && tsx test/run.ts`).
 *
 *   tsx test/run.ts                 all of test/unit/**\/*.test.ts then test/integration/**\/*.test.ts
 *   tsx test/run.ts config sandbox  only files whose path contains one of the arguments
 *
 * When integration files are selected it starts ONE sandbox (primary + 2 replicas, semi-sync)
 * and hands its coordinates to every test file in `SLUICE_SANDBOX` (see test/helpers/sandbox.ts);
 * an already-set `SLUICE_SANDBOX` is reused as is. Then it runs every file in one
 * `node --test` (one file at a time), stops the sandbox (also on failure / SIGINT / SIGTERM)
 * and exits with the runner's code. Node 20's spec reporter ends with `ℹ tests N` / `ℹ pass N` /
 * `ℹ fail N` lines; the same totals are repeated afterwards as `# tests N` / `# pass N` /
 * `# fail N` (TAP style) for CI.
 *
 * Env: SLUICE_TEST_LOG=<pino level> for sandbox/proxy logs (stderr), SLUICE_KEEP_SANDBOX=1 to keep
 * the sandbox directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startSandbox, type Sandbox } from '../src/sandbox/index.js';
import { SANDBOX_ENV, sandboxInfo } from './helpers/sandbox-info.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function collect(dir: string): string[] {
  const abs = path.join(root, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.test.ts')) out.push(path.relative(root, p));
    }
  };
  walk(abs);
  return out.sort();
}

const filters = process.argv.slice(2);
const unit = collect('test/unit');
const integration = collect('test/integration');
const selected = (f: string): boolean => filters.length === 0 || filters.some((x) => f.includes(x));
const files = [...unit.filter(selected), ...integration.filter(selected)];
const needSandbox = integration.some(selected);

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

if (files.length === 0) {
  out(`# no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const log = pino({ level: process.env['SLUICE_TEST_LOG'] ?? 'warn' }, pino.destination(2));
let sandbox: Sandbox | undefined;
let child: ChildProcess | undefined;
let finishing = false;
let interruptedCode: number | undefined;

async function finish(code: number): Promise<never> {
  if (!finishing) {
    finishing = true;
    if (sandbox !== undefined) {
      const t = Date.now();
      try {
        await sandbox.stop();
        out(`# sandbox stopped in ${Date.now() - t} ms`);
      } catch (err) {
        process.stderr.write(`sandbox stop failed: ${(err as Error).message}\n`);
        code = code === 0 ? 1 : code;
      }
    }
  }
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping tests and sandbox\n`);
    interruptedCode = sig === 'SIGINT' ? 130 : 143;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
      const c = child;
      setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
      c.once('exit', () => void finish(sig === 'SIGINT' ? 130 : 143));
    } else {
      void finish(sig === 'SIGINT' ? 130 : 143);
    }
  });
}

const env: NodeJS.ProcessEnv = { ...process.env };
if (needSandbox && env[SANDBOX_ENV] === undefined) {
  const t = Date.now();
  try {
    sandbox = await startSandbox({
      logger: log,
      replicas: 2,
      semiSync: true,
      keep: process.env['SLUICE_KEEP_SANDBOX'] === '1',
    });
  } catch (err) {
    process.stderr.write(`could not start the sandbox: ${(err as Error).stack ?? String(err)}\n`);
    out('# fail 1');
    await finish(1);
  }
  if (sandbox !== undefined) {
    env[SANDBOX_ENV] = JSON.stringify(sandboxInfo(sandbox));
    out(
      `# sandbox: ${sandbox.kind} ${sandbox.version}, ports ${sandbox.servers.map((s) => s.port).join(', ')}, ` +
        `started in ${Date.now() - t} ms (${sandbox.dir})`,
    );
  }
}

/** `--test-force-exit` exists since Node 20.14 / 22.0. */
function supportsForceExit(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major >= 22 || (major === 20 && minor >= 14);
}

const nodeArgs = [
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=1',
  '--test-reporter=spec',
  // A file whose tests finished but that left a handle open must not hang CI.
  ...(supportsForceExit() ? ['--test-force-exit'] : []),
  ...files,
];
if (process.stdout.isTTY && env['FORCE_COLOR'] === undefined && env['NO_COLOR'] === undefined) env['FORCE_COLOR'] = '1';

// Node 20's spec reporter closes with `ℹ tests N`, `ℹ pass N`, `ℹ fail N` …: pass its output
// through and remember those totals. (A second reporter writing TAP to a file is not reliable:
// with --test-force-exit the file stream is not flushed.)
const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];
const totals = new Map<string, string>();
let pending = '';
const scan = (text: string): void => {
  const lines = (pending + text).split('\n');
  pending = lines.pop() ?? '';
  for (const raw of lines) {
    const m = /^ℹ (\w+) (\S+)\s*$/.exec(raw.replace(/\x1b\[[0-9;]*m/g, ''));
    if (m !== null && SUMMARY_KEYS.includes(m[1] ?? '')) totals.set(m[1] ?? '', m[2] ?? '');
  }
};

const code = await new Promise<number>((resolve) => {
  child = spawn(process.execPath, nodeArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout?.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    scan(chunk.toString('utf8'));
  });
  child.once('error', (err) => {
    process.stderr.write(`could not run node --test: ${err.message}\n`);
    resolve(1);
  });
  child.once('close', (c, signal) => resolve(c ?? (signal !== null ? 1 : 0)));
});
scan('\n');

if (totals.size > 0) {
  for (const k of SUMMARY_KEYS) if (totals.has(k)) out(`# ${k} ${totals.get(k)}`);
  const cancelled = Number(totals.get('cancelled') ?? 0);
  out(`${totals.get('pass') ?? 0} passed, ${totals.get('fail') ?? 0} failed, ${cancelled > 0 ? `${cancelled} cancelled, ` : ''}${totals.get('skipped') ?? 0} skipped`);
} else {
  out('# no summary from the test runner');
}
if (code !== 0 && !/^[1-9]/.test(totals.get('fail') ?? '')) out(`# runner exit code ${code}`);
await finish(interruptedCode ?? code);
