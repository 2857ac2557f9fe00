/** Small helpers both bench scripts use: option parsing, shell-outs, free ports. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/** An integer command-line option `>= min`; prints the usage and exits 2 otherwise. */
export function intOption(name: string, v: string | undefined, min: number, usage: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}, got ${String(v)}\n${usage}\n`);
    process.exit(2);
  }
  return n;
}

/** A command's trimmed stdout, or '' when it fails or is missing. */
export function sh(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return '';
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The load average when the run started: anything else busy on the machine skews every number. */
export const LOAD_AVERAGE = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The `- machine: …` line of a results entry: CPUs, model, memory, kernel. */
export function machineLine(): string {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  return `- machine: ${os.availableParallelism()} CPUs (nproc ${sh('nproc', []) || '?'}), ${model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}`;
}

/** The `- Sluice: commit …` line: which build was measured (`note` says how it ran). */
export function sluiceLine(note = ''): string {
  const commit = sh('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src']) !== '';
  return `- Sluice: commit ${commit || '?'}${dirty ? ' + uncommitted changes in src/' : ''} (dist/ built from the working tree)${note}`;
}
