/**
 * Aggregates a V8 `.cpuprofile` (from `node --cpu-prof`) by self time.
 *
 *   npx tsx bench/profile-top.ts bench/out/<file>.cpuprofile [--top 15] [--by function|file]
 *
 * Self time of a sample = the time until the next sample (timeDeltas), attributed to the node
 * that was on top of the stack. Rows are grouped by function name + script URL + line; locations
 * in `dist/*.js` are mapped back to `src/*.ts` through the `.js.map` files next to them.
 * Percentages are of the whole profile and of the busy (non-idle) part.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number; // 0-based
  readonly columnNumber: number; // 0-based
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileRow {
  readonly name: string;
  /** `file:line` (1-based), source-mapped to src/*.ts where possible; relative to the repo. */
  readonly location: string;
  readonly selfMs: number;
  readonly pctTotal: number;
  readonly pctBusy: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  readonly idleMs: number;
  readonly busyMs: number;
  readonly rows: readonly ProfileRow[];
}

const IDLE = new Set(['(idle)']);

/** Lazily loaded source maps per generated-file path (null = none). */
const maps = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  let m = maps.get(file);
  if (m !== undefined) return m;
  m = null;
  try {
    const payload = JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0];
    m = new SourceMap(payload);
  } catch {
    // no map: keep the generated location
  }
  maps.set(file, m);
  return m;
}

/**
 * `file:line` (1-based) of a place in generated JS, mapped to the TypeScript source through the
 * `.js.map` next to it when there is one; relative to `root`.
 */
export function sourceLocation(file: string, line1: number, col1: number, root: string): string {
  const map = sourceMapFor(file);
  if (map !== null && line1 >= 1) {
    const e = map.findEntry(line1 - 1, Math.max(0, col1 - 1));
    if ('originalSource' in e && e.originalSource) {
      const src = e.originalSource.startsWith('file://')
        ? fileURLToPath(e.originalSource)
        : path.resolve(path.dirname(file), e.originalSource);
      return `${path.relative(root, src)}:${e.originalLine + 1}`;
    }
  }
  const rel = path.relative(root, file);
  return `${rel.startsWith('..') ? file : rel}:${line1}`;
}

function locate(cf: CallFrame, root: string): string {
  if (cf.url === '') return '';
  if (!cf.url.startsWith('file://')) return `${cf.url}:${cf.lineNumber + 1}`;
  return sourceLocation(fileURLToPath(cf.url), cf.lineNumber + 1, cf.columnNumber + 1, root);
}

export function summarizeProfile(
  file: string,
  opts: { top?: number; by?: 'function' | 'file'; root?: string } = {},
): ProfileSummary {
  const top = opts.top ?? 15;
  const by = opts.by ?? 'function';
  const root = opts.root ?? process.cwd();
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of prof.nodes) byId.set(n.id, n);

  // Self time per node id, in µs.
  const selfUs = new Map<number, number>();
  const { samples, timeDeltas } = prof;
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1]! : 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }

  const groups = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const cf = node.callFrame;
    totalUs += us;
    if (IDLE.has(cf.functionName)) idleUs += us;
    const location = locate(cf, root);
    const name = cf.functionName === '' ? '(anonymous)' : cf.functionName;
    const key = by === 'file' ? location.replace(/:\d+$/, '') || name : `${name}\u0000${location}`;
    const g = groups.get(key) ?? {
      name: by === 'file' ? (location === '' ? name : '') : name,
      location: by === 'file' ? location.replace(/:\d+$/, '') : location,
      us: 0,
    };
    g.us += us;
    groups.set(key, g);
  }
  const busyUs = totalUs - idleUs;
  const rows = [...groups.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((g) => ({
      name: g.name,
      location: g.location,
      selfMs: g.us / 1000,
      pctTotal: totalUs > 0 ? (100 * g.us) / totalUs : 0,
      pctBusy: busyUs > 0 && !IDLE.has(g.name) ? (100 * g.us) / busyUs : 0,
    }));
  return { file, totalMs: totalUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, rows };
}

export function profileMarkdown(s: ProfileSummary, by: 'function' | 'file' = 'function'): string {
  const lines = [
    `Profile \`${path.basename(s.file)}\`: ${s.totalMs.toFixed(0)} ms sampled, ` +
      `${s.idleMs.toFixed(0)} ms idle, ${s.busyMs.toFixed(0)} ms busy.`,
    '',
    by === 'file' ? '| # | file | self ms | % total | % busy |' : '| # | function | location | self ms | % total | % busy |',
    by === 'file' ? '|---|---|---:|---:|---:|' : '|---|---|---|---:|---:|---:|',
  ];
  s.rows.forEach((r, i) => {
    const pctBusy = r.name === '(idle)' ? '–' : r.pctBusy.toFixed(1);
    lines.push(
      by === 'file'
        ? `| ${i + 1} | ${r.location || r.name} | ${r.selfMs.toFixed(0)} | ${r.pctTotal.toFixed(1)} | ${pctBusy} |`
        : `| ${i + 1} | \`${r.name}\` | ${r.location || '–'} | ${r.selfMs.toFixed(0)} | ${r.pctTotal.toFixed(1)} | ${pctBusy} |`,
    );
  });
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string' }, by: { type: 'string' } },
    allowPositionals: true,
  });
  const file = positionals[0];
  const by = values.by === 'file' ? 'file' : 'function';
  if (file === undefined || (values.by !== undefined && values.by !== 'file' && values.by !== 'function')) {
    process.stderr.write('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [--top 15] [--by function|file]\n');
    process.exit(2);
  }
  const top = Number(values.top ?? 15);
  process.stdout.write(profileMarkdown(summarizeProfile(file, { top, by }), by) + '\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
