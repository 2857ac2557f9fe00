/**
 * The real-client compatibility matrix: each `*.test.ts` beside this file runs ONE client script
 * from test/clients/ (PHP, Python, Perl, Java, JS, the mariadb CLI) against an in-process Sluice
 * (`startProxy()`) and turns every JSON line the script prints into one `test()`, so the report
 * says exactly which check of which driver passes.
 *
 * Script contract (see test/clients/common.mjs): `SCRIPT HOST PORT USER PASSWORD DATABASE
 * [--direct]`, one `{"check", "ok", "detail", "ms"[, "skip"]}` line per check on stdout.
 *
 * A client that is not installed is skipped with the reason (`.ci/install-deps` installs all of
 * them from Debian's packages; the npm ones are devDependencies) — except under CI=true, where a
 * missing client is a failure: install-deps ran, so a missing driver is a broken install step.
 *
 * `SLUICE_CLIENTS_DIRECT=1` also runs every script with `--direct` against the sandbox primary
 * (no proxy) first, as a baseline: a check that passes direct and fails through Sluice is a
 * Sluice bug. Routing assertions are skipped there (they make no sense against one server).
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProxy, type TestProxy } from '../../helpers/proxy.js';
import { getSandbox } from '../../helpers/sandbox.js';

/** test/clients/ */
export const CLIENTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../clients');

export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  readonly detail?: unknown;
  readonly skip?: string;
  readonly ms?: number;
}

export interface ScriptRun {
  readonly results: Map<string, CheckResult>;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stderr: string;
  readonly junk: readonly string[];
  readonly ms: number;
}

export interface ClientSpec {
  /** Short name, used in the suite titles (`php-pdo`). */
  readonly name: string;
  /** Every check the script reports, in order (a check not reported fails). */
  readonly checks: readonly string[];
  /** Why this client cannot run on this machine, or undefined when it can. */
  readonly unavailable: () => string | undefined | Promise<string | undefined>;
  /** The command that runs the script, without the connection arguments (may build first). */
  readonly command: () => readonly string[] | Promise<readonly string[]>;
  /** Bound on one run of the script (default 60 s). */
  readonly timeoutMs?: number;
  /** Called after the file's tests (e.g. to remove a build directory). */
  readonly cleanup?: () => Promise<void>;
}

/** True when `cmd args…` runs and exits 0 (quietly, bounded). */
export function runs(cmd: string, args: readonly string[]): boolean {
  const r = spawnSync(cmd, [...args], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

/** Runs a client script to the end (or its time bound) and parses its JSON lines. */
export function runScript(argv: readonly string[], timeoutMs: number): Promise<ScriptRun> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const t = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const results = new Map<string, CheckResult>();
      const junk: string[] = [];
      for (const line of Buffer.concat(out).toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const r = JSON.parse(line) as CheckResult;
          if (typeof r.check === 'string' && typeof r.ok === 'boolean') results.set(r.check, r);
          else junk.push(line);
        } catch {
          junk.push(line);
        }
      }
      resolve({ results, code, signal, timedOut, stderr: Buffer.concat(err).toString('utf8'), junk, ms: Date.now() - t });
    });
  });
}

const tail = (s: string, n = 1500): string => (s.length > n ? `…${s.slice(-n)}` : s).trim();

function exitSummary(run: ScriptRun): string {
  if (run.timedOut) return `killed after ${run.ms} ms (time bound)`;
  if (run.signal !== null) return `killed by ${run.signal}`;
  return `exit code ${run.code}`;
}

function assertCheck(t: TestContext, name: string, check: string, run: ScriptRun | undefined, skipReason: string | undefined): void {
  if (skipReason !== undefined) {
    t.skip(skipReason);
    return;
  }
  assert.ok(run, 'the script did not run (see the before hook)');
  const r = run.results.get(check);
  if (r === undefined) {
    assert.fail(`${name} did not report "${check}" (${exitSummary(run)}); stderr: ${tail(run.stderr) || '(empty)'}`);
  }
  if (!r.ok) assert.fail(`${check} failed: ${JSON.stringify(r.detail)}`);
  if (r.skip !== undefined) {
    t.skip(`${r.skip}: ${JSON.stringify(r.detail)}`);
    return;
  }
  // Short details (which server answered, how executions were spread) go into the report.
  const detail = JSON.stringify(r.detail);
  if (detail !== undefined && detail.length <= 200) t.diagnostic(detail);
}

/**
 * `proxy.close()` with a bound. A close that waits on something no handle will ever complete
 * (e.g. a pool draining a backend connection that was never given back) would otherwise end the
 * file with node's bare "Promise resolution is still pending but the event loop has already
 * resolved"; the timer keeps the loop alive and names the problem instead.
 */
async function closeWithin(proxy: TestProxy, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Sluice's close() did not finish within ${ms} ms after the client script ended`)), ms);
  });
  try {
    await Promise.race([proxy.close(), bound]);
  } finally {
    clearTimeout(timer);
  }
}

let notice = false;

/** Declares the suites of one client: through Sluice (and direct, with SLUICE_CLIENTS_DIRECT=1). */
export function clientMatrix(spec: ClientSpec): void {
  let availability: Promise<string | undefined> | undefined;
  const unavailable = (): Promise<string | undefined> => (availability ??= Promise.resolve(spec.unavailable()));
  let command: Promise<readonly string[]> | undefined;
  const getCommand = (): Promise<readonly string[]> => (command ??= Promise.resolve(spec.command()));
  const timeoutMs = spec.timeoutMs ?? 60_000;

  const modes: ('direct' | 'proxy')[] = process.env['SLUICE_CLIENTS_DIRECT'] === '1' ? ['direct', 'proxy'] : ['proxy'];
  for (const mode of modes) {
    describe(`${spec.name} ${mode === 'proxy' ? 'through Sluice' : 'direct to the primary (baseline, no proxy)'}`, () => {
      let proxy: TestProxy | undefined;
      let run: ScriptRun | undefined;
      let skipReason: string | undefined;

      before(
        async () => {
          const why = await unavailable();
          if (why !== undefined) {
            if (process.env['CI'] === 'true') {
              throw new Error(`${spec.name} is not available under CI (.ci/install-deps should have installed it): ${why}`);
            }
            skipReason = `${spec.name} not available: ${why} (bash .ci/install-deps installs it)`;
            if (!notice) process.stdout.write(`# skipping ${spec.name}: ${why}\n`);
            notice = true;
            return;
          }
          const sb = await getSandbox();
          let host: string;
          let port: number;
          if (mode === 'proxy') {
            proxy = await startProxy();
            host = '127.0.0.1';
            port = proxy.port;
          } else {
            host = sb.primary.host;
            port = sb.primary.port;
          }
          const argv = [...(await getCommand()), host, String(port), sb.user, sb.password, sb.database];
          if (mode === 'direct') argv.push('--direct');
          run = await runScript(argv, timeoutMs);
        },
        { timeout: timeoutMs + 60_000 },
      );

      after(async () => {
        try {
          if (proxy !== undefined) await closeWithin(proxy, 10_000);
        } finally {
          if (mode === modes[modes.length - 1]) await spec.cleanup?.();
        }
      });

      for (const check of spec.checks) {
        test(check, (t) => assertCheck(t, spec.name, check, run, skipReason));
      }

      test('script ran every check to the end', (t) => {
        if (skipReason !== undefined) {
          t.skip(skipReason);
          return;
        }
        assert.ok(run);
        const problems: string[] = [];
        if (run.timedOut || run.signal !== null || (run.code !== 0 && run.code !== 1)) problems.push(exitSummary(run));
        const unknown = [...run.results.keys()].filter((c) => !spec.checks.includes(c));
        if (unknown.length > 0) problems.push(`checks not declared in the test file: ${unknown.join(', ')}`);
        const missing = spec.checks.filter((c) => !run!.results.has(c));
        if (missing.length > 0) problems.push(`checks not reported: ${missing.join(', ')}`);
        if (run.junk.length > 0) problems.push(`non-JSON output: ${tail(run.junk.join('\n'), 500)}`);
        if (problems.length > 0) assert.fail(`${problems.join('; ')}; stderr: ${tail(run.stderr) || '(empty)'}`);
        t.diagnostic(`${spec.name}: ${run.results.size} checks in ${run.ms} ms`);
      });
    });
  }
}

/** Node itself runs the JS client scripts. */
export function nodeScript(file: string): readonly string[] {
  return [process.execPath, path.join(CLIENTS_DIR, file)];
}

/** MariaDB Connector/J's jar from Debian's libmariadb-java, whatever its exact name. */
export function connectorJJar(): string | undefined {
  const dir = '/usr/share/java';
  if (existsSync(path.join(dir, 'mariadb-java-client.jar'))) return path.join(dir, 'mariadb-java-client.jar');
  if (!existsSync(dir)) return undefined;
  const found = readdirSync(dir).filter((f) => /^mariadb-java-client.*\.jar$/.test(f)).sort();
  return found.length > 0 ? path.join(dir, found[found.length - 1]!) : undefined;
}

/** A temporary directory, removed by the returned cleanup. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
