/** One sandbox server process: spawn, readiness, signals, bounded shutdown, admin queries. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import mysql from 'mysql2/promise';
import type { SandboxServer, SandboxServerName } from './types.js';

export interface ManagedServerSpec {
  readonly name: SandboxServerName;
  readonly serverId: number;
  /** Where it listens: 127.0.0.1, or its placement address. */
  readonly host: string;
  readonly port: number;
  /** Network namespace to start it in (`ip netns exec`); undefined: this process's own. */
  readonly netns?: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly socketPath: string;
  readonly logFile: string;
  readonly logger: Logger;
  readonly startTimeoutMs: number;
  /** Credentials for `query()` (the admin account once it exists). */
  readonly credentials: () => { user: string; password: string };
}

const STOP_TIMEOUT_MS = 20_000;
const KILL_TIMEOUT_MS = 5_000;

/** Errors that mean "nobody is listening / accepting yet" rather than "the server answered". */
const NOT_UP = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'ENOENT', 'EHOSTUNREACH']);

export async function logTail(file: string, lines = 25): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 16_384);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await fh.close();
    }
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once `child` has exited, false after `ms`. */
function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

const QUERY_TIMEOUT_MS = 30_000;

/** COM_QUIT (no "aborted connection" noise in the server log), bounded; destroy as the fallback. */
async function closeQuietly(conn: mysql.Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      conn.end(),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error('end timeout')), 2_000);
      }),
    ]);
  } catch {
    conn.destroy();
  } finally {
    clearTimeout(timer);
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Process-exit safety net: whatever happens to the tests, no mariadbd outlives this process.

interface Tracked {
  readonly child: ChildProcess;
}
const live = new Set<Tracked>();
const dirsToRemove = new Set<string>();
let hooked = false;

function killAllSync(): void {
  for (const t of live) {
    try {
      t.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
  for (const dir of dirsToRemove) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  dirsToRemove.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  // Someone else (e.g. test/run.ts) handles this signal and will stop the sandbox properly.
  if (process.listenerCount(signal) > 1) return;
  killAllSync();
  unhook();
  process.kill(process.pid, signal);
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.removeListener('exit', killAllSync);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

function maybeUnhook(): void {
  if (live.size === 0 && dirsToRemove.size === 0) unhook();
}

/** Removes `dir` if the process exits before the sandbox is stopped. */
export function removeOnExit(dir: string): void {
  dirsToRemove.add(dir);
  hook();
}

export function forgetDir(dir: string): void {
  dirsToRemove.delete(dir);
  maybeUnhook();
}

// ---------------------------------------------------------------------------------------------

export class ManagedServer implements SandboxServer {
  readonly name: SandboxServerName;
  readonly host: string;
  readonly netns: string | undefined;
  readonly port: number;
  readonly serverId: number;
  readonly socketPath: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private tracked: Tracked | undefined;
  private readonly log: Logger;

  constructor(private readonly spec: ManagedServerSpec) {
    this.name = spec.name;
    this.host = spec.host;
    this.netns = spec.netns;
    this.port = spec.port;
    this.serverId = spec.serverId;
    this.socketPath = spec.socketPath;
    this.logFile = spec.logFile;
    this.log = spec.logger.child({ server: spec.name, port: spec.port });
  }

  get pid(): number | undefined {
    const c = this.child;
    return c !== undefined && !hasExited(c) ? c.pid : undefined;
  }

  kill(signal: NodeJS.Signals): void {
    const c = this.child;
    if (c === undefined || hasExited(c)) return;
    this.log.info({ signal, pid: c.pid }, 'signalling server');
    c.kill(signal);
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.spawnProcess();
    await this.waitReady();
  }

  private spawnProcess(): void {
    const fd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      // `ip netns exec` enters the namespace and then execs the server (no fork), so `child.pid`
      // is the server's own pid and signals reach it.
      const [cmd, args] =
        this.netns === undefined
          ? [this.spec.binary, [...this.spec.args]]
          : ['ip', ['netns', 'exec', this.netns, this.spec.binary, ...this.spec.args]];
      child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    // Do not keep the event loop alive for it; the exit hook still kills it.
    child.unref();
    const tracked: Tracked = { child };
    live.add(tracked);
    hook();
    this.child = child;
    this.tracked = tracked;
    child.on('error', (err) => this.log.error({ err }, 'server process error'));
    child.once('exit', (code, signal) => {
      live.delete(tracked);
      this.log.info({ code, signal }, 'server exited');
    });
    this.log.info({ pid: child.pid }, 'server spawned');
  }

  /** Bounded retry loop: connect until the server answers the handshake. */
  private async waitReady(): Promise<void> {
    const child = this.child;
    if (child === undefined) throw new Error(`${this.name} was not started`);
    const started = Date.now();
    const deadline = started + this.spec.startTimeoutMs;
    let lastError = '';
    let pause = 25;
    while (Date.now() < deadline) {
      if (hasExited(child)) {
        throw new Error(
          `${this.name} (port ${this.port}) exited during start-up (code ${child.exitCode}, signal ${child.signalCode}); ` +
            `tail of ${this.logFile}:\n${await logTail(this.logFile)}`,
        );
      }
      const outcome = await this.probe();
      if (outcome === 'up') {
        this.log.info({ ms: Date.now() - started }, 'server ready');
        return;
      }
      lastError = outcome;
      await delay(pause);
      pause = Math.min(pause * 2, 250);
    }
    throw new Error(
      `${this.name} (port ${this.port}) not ready after ${this.spec.startTimeoutMs} ms (last error: ${lastError}); ` +
        `tail of ${this.logFile}:\n${await logTail(this.logFile)}`,
    );
  }

  /**
   * 'up' when the server answered (even with an access error), otherwise the error text. Over TCP;
   * a server in a namespace over its unix socket instead (it opens both before accepting
   * either), since a test may have cut this process off from it before restarting it.
   */
  private async probe(): Promise<'up' | string> {
    const { user, password } = this.spec.credentials();
    const where = this.netns === undefined ? { host: this.host, port: this.port } : { socketPath: this.socketPath };
    try {
      const conn = await mysql.createConnection({ ...where, user, password, connectTimeout: 2_000 });
      await closeQuietly(conn);
      return 'up';
    } catch (err) {
      const e = err as { code?: string; errno?: number; message?: string };
      if (e.code !== undefined && NOT_UP.has(e.code)) return `${e.code}`;
      // A MySQL error packet (e.g. 1045 access denied) means the server is accepting connections.
      if (typeof e.errno === 'number' && e.errno >= 1000 && e.errno < 5000) return 'up';
      return e.message ?? String(err);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || hasExited(child)) return;
    this.log.info({ pid: child.pid }, 'stopping server');
    child.kill('SIGTERM');
    child.kill('SIGCONT'); // a SIGSTOPped server must wake up to handle SIGTERM
    if (!(await waitExit(child, STOP_TIMEOUT_MS))) {
      this.log.warn({ pid: child.pid }, `no exit ${STOP_TIMEOUT_MS} ms after SIGTERM; sending SIGKILL`);
      child.kill('SIGKILL');
      if (!(await waitExit(child, KILL_TIMEOUT_MS))) throw new Error(`${this.name} (pid ${child.pid}) survived SIGKILL`);
    }
    if (this.tracked !== undefined) live.delete(this.tracked);
    maybeUnhook();
  }

  /** Kill at once (used when start-up of the sandbox failed half way). */
  async destroy(): Promise<void> {
    const child = this.child;
    if (child === undefined || hasExited(child)) return;
    child.kill('SIGKILL');
    await waitExit(child, KILL_TIMEOUT_MS);
    if (this.tracked !== undefined) live.delete(this.tracked);
    maybeUnhook();
  }

  async query(sql: string, params?: readonly unknown[]): Promise<unknown> {
    const { user, password } = this.spec.credentials();
    const conn = await mysql.createConnection({ host: this.host, port: this.port, user, password, connectTimeout: 5_000 });
    try {
      const [rows] = await conn.query({ sql, timeout: QUERY_TIMEOUT_MS }, params === undefined ? undefined : [...params]);
      return rows;
    } finally {
      await closeQuietly(conn);
    }
  }

  /** Query as root over the unix socket (works before the admin account exists, on every flavour). */
  async rootQuery(sql: string, params?: readonly unknown[]): Promise<unknown> {
    const conn = await mysql.createConnection({ socketPath: this.socketPath, user: 'root', password: '', connectTimeout: 5_000 });
    try {
      const [rows] = await conn.query({ sql, timeout: QUERY_TIMEOUT_MS }, params === undefined ? undefined : [...params]);
      return rows;
    } finally {
      await closeQuietly(conn);
    }
  }

  /** Several statements as root in ONE session (so `SET SESSION …` applies to the ones after it). */
  async rootExec(statements: readonly string[]): Promise<void> {
    const conn = await mysql.createConnection({ socketPath: this.socketPath, user: 'root', password: '', connectTimeout: 5_000 });
    try {
      for (const sql of statements) await conn.query({ sql, timeout: QUERY_TIMEOUT_MS });
    } finally {
      await closeQuietly(conn);
    }
  }
}
