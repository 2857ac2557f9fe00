/**
 * Process lifecycle shared by the bench scripts: every child process and the sandbox they start
 * register here; `cleanup()` runs once — on success, on error, or on the first signal — and stops
 * them. A second Ctrl-C while cleaning waits, a third kills everything at once. On any exit no
 * proxy is left behind.
 */
import type { ChildProcess } from 'node:child_process';
import type { Sandbox } from '../src/sandbox/index.js';

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
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        this.aborted = true;
        // tsx forwards the terminal's SIGINT too, so one Ctrl-C can arrive twice within a few ms.
        if (++this.signals === 1 || this.cleaning === undefined) {
          this.log(`${sig}: stopping the proxy and the sandbox (again to force)`);
          void this.cleanup().finally(() => process.exit(130));
        } else if (this.signals > 2) {
          for (const c of this.children) c.kill('SIGKILL');
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

/** Resolves when `c` has exited; SIGKILLs it after `ms`. */
export function waitExit(c: ChildProcess, ms: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      resolve();
    }, ms);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
