/** Small helpers both bench scripts use: option parsing, shell-outs, free ports. */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

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

const RESULTS_HEADER = `# Sluice benchmark results

Produced by \`npm run bench -- --write\` (see [README.md](README.md)). Newest first; older runs are kept
for comparison — mind the commit and the machine line of each.

<!-- newest first: bench/sysbench-compare.ts inserts below this line -->
`;
const RESULTS_MARKER = '<!-- newest first: bench/sysbench-compare.ts inserts below this line -->\n';

/** Puts `section` at the top of bench/RESULTS.md (newest first, below the marker line); returns the file. */
export function writeResults(repo: string, section: string): string {
  const file = path.join(repo, 'bench/RESULTS.md');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : RESULTS_HEADER;
  if (!text.includes(RESULTS_MARKER)) text = RESULTS_HEADER + '\n' + text;
  const at = text.indexOf(RESULTS_MARKER) + RESULTS_MARKER.length;
  fs.writeFileSync(file, text.slice(0, at) + '\n' + section + text.slice(at));
  return file;
}

/** Newest mtime of the .ts files under a directory. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `npx tsc -p tsconfig.json` unless dist/main.js is newer than every file in src/ (benches run
 * the proxy from the build). Throws with the compiler's output when the build fails.
 */
export function buildDistIfNeeded(repo: string, log: (msg: string) => void): void {
  const main = path.join(repo, 'dist/main.js');
  const built = fs.existsSync(main) ? fs.statSync(main).mtimeMs : 0;
  if (built > newestMtime(path.join(repo, 'src'))) {
    log('dist/ is up to date with src/');
    return;
  }
  log('src/ is newer than dist/: npx tsc -p tsconfig.json');
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building dist/ failed (src/ mid-edit?):\n${(r.stdout + r.stderr).trim()}`);
}
