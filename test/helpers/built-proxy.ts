/**
 * The proxy as it is deployed (`tsc`, then `node dist/main.js start`), in its own process in
 * front of a sandbox: for tests that measure the proxy's own memory (under tsx the on-the-fly
 * compiler's memory would be counted too), for worker groups (node:cluster forks the built
 * worker entry point) and for proxies on a host of their own in a network lab (netlab.ts).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sandboxProxyConfig, type SandboxProxyExtras } from '../../src/sandbox/index.js';
import type { SandboxInfo } from './sandbox.js';

const execFileP = promisify(execFile);

export interface BuiltProxy {
  /** Where its listeners are (`opts.host`, default 127.0.0.1). */
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** The config file it was started with. */
  readonly configFile: string;
  /** A field of /proc/<pid>/status in kB (`VmRSS`, `VmHWM`). */
  memoryKb(field: 'VmRSS' | 'VmHWM'): number;
  /** Everything it logged so far (JSON lines). */
  log(): string;
  /** Pids of its child processes (the workers of a group). */
  children(): number[];
  /** Sends SIGTERM and waits for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  signal(sig: NodeJS.Signals): void;
}

let built: Promise<unknown> | undefined;

/** One build per test process (tsc takes seconds). */
function build(): Promise<unknown> {
  built ??= execFileP(process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  return built;
}

export interface BuiltProxyOptions extends SandboxProxyExtras {
  /**
   * Start it inside this network namespace (`ip netns exec`, root only). `ip netns exec` execs
   * node without forking, so `pid`, `stop()` and `signal()` reach the proxy itself. Give `host`
   * too (the namespace's address) to reach it from outside: 127.0.0.1 there is the namespace's
   * own loopback.
   */
  readonly netns?: string;
}

/**
 * `top`: top-level config keys added to the sandbox's proxy config (workers, admin, http …);
 * `workers` is 1 unless given (the default `auto` would depend on the machine). `opts`: where it
 * runs and listens (`host` applies to the MySQL, admin and HTTP listeners), and admin / HTTP
 * listeners as `sandboxProxyConfig` opens them.
 */
export async function startBuiltProxy(
  sb: SandboxInfo,
  top: Record<string, unknown> = {},
  opts: BuiltProxyOptions = {},
): Promise<BuiltProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-built-'));
  const conf = path.join(dir, 'sluice.yaml');
  const { netns, ...extras } = opts;
  writeFileSync(conf, JSON.stringify({ ...sandboxProxyConfig({ ...sb, dir }, 0, extras), log: { level: 'info' }, workers: 1, ...top }));
  await build();
  const argv = [process.execPath, path.resolve('dist/main.js'), 'start', '--config', conf];
  const [cmd, ...args] = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
  const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLUICE_LOG_FORMAT: 'json' } });
  let buf = '';
  child.stderr.on('data', (d: Buffer) => {
    buf += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const check = (): void => {
        const line = buf.split('\n').find((l) => l.includes('sluice listening'));
        const m = line && /"port":(\d+)/.exec(line);
        if (m) {
          child.stderr.off('data', check);
          resolve(Number(m[1]));
        }
      };
      child.stderr.on('data', check);
      void exited.then((code) => reject(new Error(`proxy exited ${code}: ${buf}`)));
    });
    return {
      host: opts.host ?? '127.0.0.1',
      port,
      pid: child.pid!,
      configFile: conf,
      memoryKb: (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]),
      log: () => buf,
      children: () =>
        readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map(Number),
      signal: (sig) => child.kill(sig),
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return exited;
      },
    };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}
