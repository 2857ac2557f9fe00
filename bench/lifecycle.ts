/**
 * Process lifecycle shared by the bench scripts: every child process and the sandbox they start
 * register here; `cleanup()` runs once — on success, on error, or on the first signal — and stops
 * them. A second Ctrl-C while cleaning waits, a third kills everything at once. On any exit no
 * proxy is left behind.
 *
 * A proxy with workers is a primary process and its children (see `groupLeader`): SIGTERM goes
 * to the primary only, which stops its workers in order; SIGKILL, when it comes to that, goes to
 * the workers too, so none outlives its primary.
 */
import type { ChildProcess } from 'node:child_process';
import type { Sandbox } from '../src/sandbox/index.js';
import { groupPids, readProc } from './proc-group.js';

export class BenchLifecycle {
  /** Child processes to stop (proxies, sysbench runs). */
  readonly children = new Set<ChildProcess>();
  /** The sandbox to stop, once started. */
  sandbox: Sandbox | undefined;
  /** Set by the first signal: nothing new is started after it. */
  aborted = false;
  private cleaning: Promise<void> | undefined;
  private signals = 0;

  /** Appended to the "stopping the sandbox" line (e.g. that its directory is kept). */
  sandboxNote = '';

  constructor(private readonly log: (line: string) => void) {
    // Last resort if the process dies without running cleanup(): no orphaned proxy.
    process.on('exit', () => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) kill(c);
    });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        this.aborted = true;
        // tsx forwards the terminal's SIGINT too, so one Ctrl-C can arrive twice within a few ms.
        if (++this.signals === 1 || this.cleaning === undefined) {
          this.log(`${sig}: stopping the proxy and the sandbox (again to force)`);
          void this.cleanup().finally(() => process.exit(130));
        } else if (this.signals > 2) {
          for (const c of this.children) kill(c);
          for (const srv of this.sandbox?.servers ?? []) srv.kill('SIGKILL');
          process.exit(130);
        }
      });
    }
  }

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await Promise.all([...this.children].map((c) => waitExit(c, 10_000)));
      const sb = this.sandbox;
      if (sb !== undefined) {
        this.log(`stopping the sandbox${this.sandboxNote}`);
        await sb.stop().catch((err: unknown) => this.log(`sandbox stop failed: ${String(err)}`));
      }
    })();
    return this.cleaning;
  }
}

const groupLeaders = new WeakSet<ChildProcess>();

/**
 * `c` has descendants that belong to it (node:cluster workers of a proxy): a SIGKILL for it goes
 * to them too, and `waitExit` waits for them, not just for `c`. They stay in the bench's process
 * group, so a Ctrl-C on the terminal reaches them as it reaches `c` — even if the bench itself is
 * killed before it can clean up.
 */
export function groupLeader(c: ChildProcess): void {
  groupLeaders.add(c);
}

interface Member {
  readonly pid: number;
  readonly start: number;
}

/** The descendants of a group leader while it lives (empty for other children). */
function members(c: ChildProcess): Member[] {
  if (!groupLeaders.has(c) || c.pid === undefined) return [];
  return groupPids(c.pid)
    .slice(1)
    .flatMap((pid) => {
      const r = readProc(pid);
      return r === undefined ? [] : [{ pid, start: r.start }];
    });
}

/** Still running (the same process: a reused pid has another start time; a zombie has exited). */
const alive = (m: Member): boolean => {
  const r = readProc(m.pid);
  return r !== undefined && r.start === m.start && r.state !== 'Z';
};

/** SIGKILL to `c` and to `also` and its descendants (if it leads a group). */
function kill(c: ChildProcess, also: readonly Member[] = []): void {
  const ms = [...members(c), ...also];
  c.kill('SIGKILL');
  for (const m of ms) {
    if (!alive(m)) continue;
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Resolves when `c` has exited — and, for a group leader, the descendants it had when this was
 * called; SIGKILLs what is left after `ms`.
 */
export async function waitExit(c: ChildProcess, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const group = members(c);
  if (c.exitCode === null && c.signalCode === null) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        kill(c, group);
        resolve();
      }, ms);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  // Workers whose primary has gone normally follow it within milliseconds; a stuck one gets
  // what is left of `ms`, at least 2 s, then SIGKILL.
  const until = Math.max(deadline, Date.now() + 2_000);
  let killedAt: number | undefined;
  while (group.some(alive)) {
    if (killedAt === undefined && Date.now() >= until) {
      kill(c, group);
      killedAt = Date.now();
    }
    // SIGKILL takes effect at once, but give the kernel a moment before going on.
    if (killedAt !== undefined && Date.now() - killedAt > 1_000) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
