/**
 * Summarises a `perf record -e cpu-clock` of the proxy (started with `node --perf-basic-prof`, so
 * JIT-compiled JS has names via /tmp/perf-<pid>.map): CPU time split into kernel / V8 + Node
 * native / JIT JS / libc, and the top symbols by self time.
 *
 *   npx tsx bench/perf-report.ts bench/out/perf-<stamp>.data [--top 25]
 *
 * Unlike the V8 profile (wall-clock samples of the main thread), cpu-clock samples only fire while
 * a thread is on a CPU, so these percentages are shares of the CPU time the proxy really used
 * (all its threads).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { sourceLocation } from './profile-top.js';

export interface PerfRow {
  readonly pct: number;
  readonly dso: string;
  readonly sym: string;
}

export interface PerfSummary {
  readonly file: string;
  /** As perf prints it, e.g. "2K". */
  readonly samples: string;
  readonly split: readonly { category: string; pct: number }[];
  readonly top: readonly PerfRow[];
}

function report(file: string, sort: string): string {
  return execFileSync(
    'perf',
    ['report', '-i', file, '--no-children', '--sort', sort, '--stdio', '-g', 'none', '--percent-limit', '0.01'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
  );
}

export function categoryOf(dso: string): string {
  if (dso === '[kernel.kallsyms]' || dso.startsWith('[kernel')) return 'kernel (syscalls, TCP, scheduler)';
  if (/^perf-\d+\.map$/.test(dso) || dso.startsWith('[JIT]')) return 'JIT-compiled JS (Sluice, node:*, deps)';
  if (dso === 'node' || dso.endsWith('/node')) return 'node binary (V8 builtins/IC, GC, Node C++, libuv)';
  if (dso.startsWith('libc') || dso.startsWith('libstdc++') || dso.startsWith('libm') || dso.startsWith('ld-linux')) return 'libc / libstdc++';
  return `other (${dso})`;
}

export function summarizePerf(file: string, top = 25): PerfSummary {
  const text = report(file, 'dso,sym');
  const samples = /^# Samples: (\S+)/m.exec(text)?.[1] ?? '?';
  const rows: PerfRow[] = [];
  for (const line of text.split('\n')) {
    // "    22.91%  [kernel.kallsyms]    [k] _raw_spin_unlock_irqrestore"
    const m = /^\s+([\d.]+)%\s+(\[JIT\] tid \d+|\S+)\s+\[[a-zA-Z.]\]\s+(.*)$/.exec(line);
    if (m !== null) rows.push({ pct: Number(m[1]), dso: m[2]!, sym: m[3]!.trim() });
  }
  const split = new Map<string, number>();
  for (const r of rows) split.set(categoryOf(r.dso), (split.get(categoryOf(r.dso)) ?? 0) + r.pct);
  return {
    file,
    samples,
    split: [...split].map(([category, pct]) => ({ category, pct })).sort((a, b) => b.pct - a.pct),
    top: rows.slice(0, top),
  };
}

/** `JS:*lease file:///work/main/dist/frontend/session.js:322:10` → `JS:*lease src/frontend/session.ts:370` (source-mapped). */
function shortSym(sym: string, root: string): string {
  return sym.replace(/file:\/\/(\S+?):(\d+)(?::(\d+))?$/, (_m, p: string, line: string, col: string | undefined) =>
    sourceLocation(p, Number(line), Number(col ?? 1), root),
  );
}

export function perfMarkdown(s: PerfSummary, root = process.cwd()): string {
  return [
    `\`perf record -e cpu-clock\` of the proxy: ${s.samples} samples. CPU time by where it went:`,
    '',
    '| category | % of proxy CPU |',
    '|---|---:|',
    ...s.split.map((x) => `| ${x.category} | ${x.pct.toFixed(1)} |`),
    '',
    'Top symbols by self CPU time:',
    '',
    '| # | % | object | symbol |',
    '|---|---:|---|---|',
    ...s.top.map((r, i) => `| ${i + 1} | ${r.pct.toFixed(2)} | ${r.dso} | \`${shortSym(r.sym, root).replace(/\|/g, '\\|')}\` |`),
  ].join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true });
  const file = positionals[0];
  if (file === undefined) {
    process.stderr.write('usage: npx tsx bench/perf-report.ts <perf.data> [--top 25]\n');
    process.exit(2);
  }
  process.stdout.write(perfMarkdown(summarizePerf(file, Number(values.top ?? 25))) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
