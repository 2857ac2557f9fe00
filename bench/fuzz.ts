/**
 * Coverage-guided fuzzing of the packet decoders and the statement classifier (bench/fuzz/targets.ts),
 * driven by fast-check, guided by V8's block coverage.
 *
 *   npx tsx bench/fuzz.ts [--minutes 12] [--targets framer,scanner,…] [--seed N] [--no-grow]
 *
 * The time budget is split evenly over the targets, run one after the other, each in its own worker
 * thread. An input is a corpus entry (bench/fuzz/corpus/<target>/) with a few mutations (byte flips,
 * interesting values, inserted / deleted / duplicated ranges, splices with another entry, SQL words
 * for the classifier) or, now and then, random bytes. After every batch the worker takes V8's precise
 * block coverage of the target's source files; when the batch covered code no earlier input did, each
 * input of the batch is run again alone and those that add coverage join the corpus (and are written
 * to disk, named by their SHA-1, unless --no-grow).
 *
 * A broken contract (a foreign error such as TypeError/RangeError, a ContractViolation, a classifier
 * that throws) stops the target: fast-check shrinks the input and it is saved under
 * bench/fuzz/crashes/. A worker that makes no progress for --hang-ms (an infinite loop) or runs out
 * of its heap (an unbounded allocation) is stopped and the input it was running is saved the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import inspector from 'node:inspector';
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FUZZ_DIR = path.join(ROOT, 'bench', 'fuzz');
const MAX_INPUT = 4096;
/** Shared with the watchdog thread: [0] executions, [1] length of the input now running, then its bytes. */
const SHARED_HEADER = 8;

interface WorkerArgs {
  readonly target: string;
  readonly seconds: number;
  readonly seed: number;
  readonly grow: boolean;
  readonly hangMs: number;
}

interface FileCoverage {
  readonly file: string;
  readonly functions: number;
  readonly functionsCovered: number;
  readonly blocks: number;
  readonly blocksCovered: number;
}

interface TargetReport {
  readonly target: string;
  readonly executions: number;
  readonly seconds: number;
  readonly corpusStart: number;
  readonly corpusEnd: number;
  readonly added: number;
  readonly coverage: readonly FileCoverage[];
  readonly failure?: { readonly kind: string; readonly message: string; readonly file: string };
}

// ───────────────────────────── worker ─────────────────────────────

/** Synchronous call into this thread's own inspector (same-thread sessions answer at once). */
function inspect<T>(session: inspector.Session, method: string, params?: object): T {
  let out: { result?: T; error?: Error } = {};
  session.post(method, params ?? {}, (error, result) => {
    out = { result: result as T, error: error ?? undefined };
  });
  if (out.error) throw out.error;
  if (out.result === undefined) throw new Error(`inspector ${method} did not answer synchronously`);
  return out.result;
}

interface CoverageRange { startOffset: number; endOffset: number; count: number }
interface FunctionCov { functionName: string; ranges: CoverageRange[] }
interface ScriptCov { url: string; functions: FunctionCov[] }

/** Everything ever covered in one script, by source offset of the transformed code V8 runs. */
class ScriptCoverage {
  ever = new Uint8Array(0);
  readonly functions = new Map<number, boolean>();
  readonly blocks = new Map<number, boolean>();

  /**
   * Folds one coverage take in; true when it covered an offset never covered before. With
   * `commit` false it only looks: the inputs of a batch that did are then run one by one, and
   * each must still find the offset new to be recognised.
   */
  fold(fns: readonly FunctionCov[], commit = true): boolean {
    const ranges: CoverageRange[] = [];
    let end = 0;
    for (const f of fns) {
      const head = f.ranges[0];
      if (!commit) {
        for (const r of f.ranges) ranges.push(r);
        continue;
      }
      if (head !== undefined) this.functions.set(head.startOffset, (this.functions.get(head.startOffset) ?? false) || head.count > 0);
      for (const r of f.ranges) {
        ranges.push(r);
        if (r.endOffset > end) end = r.endOffset;
        if (!this.blocks.get(r.startOffset)) this.blocks.set(r.startOffset, r.count > 0);
      }
    }
    if (!commit) {
      for (const r of ranges) if (r.endOffset > end) end = r.endOffset;
      ranges.sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
      const now = new Uint8Array(end);
      for (const r of ranges) now.fill(r.count > 0 ? 1 : 0, r.startOffset, r.endOffset);
      for (let i = 0; i < end; i++) if (now[i] === 1 && this.ever[i] !== 1) return true;
      return false;
    }
    if (end > this.ever.length) {
      const grown = new Uint8Array(end);
      grown.set(this.ever);
      this.ever = grown;
    }
    // Nested ranges override their parents: paint outer first (start ascending, end descending).
    ranges.sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
    const now = new Uint8Array(end);
    for (const r of ranges) now.fill(r.count > 0 ? 1 : 0, r.startOffset, r.endOffset);
    let fresh = false;
    for (let i = 0; i < end; i++) {
      if (now[i] === 1 && this.ever[i] === 0) {
        this.ever[i] = 1;
        fresh = true;
      }
    }
    return fresh;
  }

  summary(file: string): FileCoverage {
    // A block V8 stopped listing because it now runs as often as its parent is covered by the paint.
    let blocksCovered = 0;
    for (const [start, seen] of this.blocks) if (seen || this.ever[start] === 1) blocksCovered++;
    return {
      file,
      functions: this.functions.size,
      functionsCovered: [...this.functions.values()].filter(Boolean).length,
      blocks: this.blocks.size,
      blocksCovered,
    };
  }
}

function sha1(b: Buffer): string {
  return crypto.createHash('sha1').update(b).digest('hex').slice(0, 16);
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff];
const INTERESTING_WIDE = [0, 1, 0xff, 0x100, 0xfffe, 0xffff, 0x10000, 0xfffffe, 0xffffff, 0x1000000, 0x7fffffff, 0xffffffff];

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number; to: number }
  | { op: 'int'; at: number; width: number; value: number }
  | { op: 'splice'; other: number; at: number; from: number }
  | { op: 'word'; at: number; word: number }
  | { op: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }), to: fc.nat() }),
  fc.record({ op: fc.constant('int' as const), at: fc.nat(), width: fc.constantFrom(1, 2, 3, 4), value: fc.constantFrom(...INTERESTING_WIDE) }),
  fc.record({ op: fc.constant('splice' as const), other: fc.nat(), at: fc.nat(), from: fc.nat() }),
  fc.record({ op: fc.constant('word' as const), at: fc.nat(), word: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(seed: Buffer, ms: readonly Mutation[], corpus: readonly Buffer[], words: readonly Buffer[]): Buffer {
  let b = Buffer.from(seed);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case 'flip':
        if (at < b.length) b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        if (at < b.length) b[at] = m.value;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)]);
        break;
      case 'duplicate': {
        const piece = b.subarray(at, at + m.length);
        const to = m.to % (b.length + 1);
        b = Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]);
        break;
      }
      case 'int': {
        const w = Buffer.alloc(4);
        w.writeUInt32LE(m.value >>> 0);
        b = Buffer.concat([b.subarray(0, at), w.subarray(0, m.width), b.subarray(Math.min(b.length, at + m.width))]);
        break;
      }
      case 'splice': {
        const other = corpus[m.other % corpus.length]!;
        const from = other.length === 0 ? 0 : m.from % other.length;
        b = Buffer.concat([b.subarray(0, at), other.subarray(from)]);
        break;
      }
      case 'word':
        if (words.length > 0) b = Buffer.concat([b.subarray(0, at), words[m.word % words.length]!, b.subarray(at)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b.length > MAX_INPUT ? b.subarray(0, MAX_INPUT) : b;
}

async function workerMain(args: WorkerArgs): Promise<void> {
  const session = new inspector.Session();
  session.connect();
  inspect(session, 'Profiler.enable');
  inspect(session, 'Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  // Loaded only now, so that V8 instruments every function of the targets from the start.
  const { TARGETS } = await import('./fuzz/targets.js');
  const target = TARGETS.find((t) => t.name === args.target)!;
  const urls = new Map(target.files.map((f) => [pathToFileURL(path.join(ROOT, f)).href, f]));
  const coverage = new Map(target.files.map((f) => [f, new ScriptCoverage()]));
  const shared = new SharedArrayBuffer(SHARED_HEADER + MAX_INPUT);
  const counters = new Int32Array(shared, 0, 2);
  const current = new Uint8Array(shared, SHARED_HEADER);
  startWatchdog(shared, target.name, args.hangMs);

  /** Takes (and resets) coverage; true when some target file got an offset covered for the first time. */
  const takeCoverage = (commit = true): boolean => {
    const { result } = inspect<{ result: ScriptCov[] }>(session, 'Profiler.takePreciseCoverage');
    let fresh = false;
    for (const s of result) {
      const file = urls.get(s.url.split('?')[0]!);
      if (file !== undefined && coverage.get(file)!.fold(s.functions, commit)) fresh = true;
    }
    return fresh;
  };

  const execute = (input: Buffer): void => {
    current.set(input.subarray(0, current.length));
    Atomics.store(counters, 1, input.length);
    target.run(input);
    Atomics.add(counters, 0, 1);
  };

  const dir = path.join(FUZZ_DIR, 'corpus', target.name);
  fs.mkdirSync(dir, { recursive: true });
  const onDisk = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f)));
  const corpus: Buffer[] = [];
  const known = new Set<string>();
  const admit = (b: Buffer, write: boolean): void => {
    const h = sha1(b);
    if (known.has(h)) return;
    known.add(h);
    corpus.push(b);
    if (write && args.grow) fs.writeFileSync(path.join(dir, h), b);
  };
  for (const b of onDisk) admit(b, false);
  // Seeds from the tests join the corpus files the first time.
  for (const b of target.seeds()) admit(b, true);
  const corpusStart = corpus.length;
  takeCoverage();
  for (const b of [...corpus]) {
    try {
      execute(b);
    } catch {
      // A corpus entry that breaks the contract shows up again below, with shrinking.
    }
  }
  takeCoverage();

  const words = (target.dictionary ?? []).map((w) => Buffer.from(w, 'utf8'));
  const arb: fc.Arbitrary<Buffer> = fc.oneof(
    { weight: 19, arbitrary: fc.tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 6 })).map(([i, ms]) => mutate(corpus[i % corpus.length]!, ms, corpus, words)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)) },
  );

  const BATCH = 200;
  let batch: Buffer[] = [];
  let failed = false;
  let added = 0;
  const started = Date.now();
  const details = fc.check(
    fc.property(arb, (input) => {
      try {
        execute(input);
      } catch (e) {
        failed = true;
        throw e;
      }
      if (failed) return;
      batch.push(input);
      if (batch.length < BATCH) return;
      const run = batch;
      batch = [];
      if (!takeCoverage(false)) return;
      // The batch reached new code: find the inputs that did, one by one.
      for (const b of run) {
        try {
          execute(b);
        } catch {
          // cannot happen: each ran once already
        }
        if (takeCoverage()) {
          admit(b, true);
          added++;
        }
      }
      // What only the batch as a whole reached (counts aside, rare) is recorded all the same.
      for (const b of run) execute(b);
      takeCoverage();
    }),
    { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: args.seconds * 1000, seed: args.seed, markInterruptAsFailure: false },
  );
  takeCoverage();

  let failure: TargetReport['failure'];
  if (details.failed && details.counterexample !== null) {
    const input = details.counterexample[0] as Buffer;
    const file = saveCrash(target.name, 'contract', input);
    const err = details.errorInstance as Error | undefined;
    failure = { kind: err?.name ?? 'error', message: err?.message ?? 'property failed'.split('\n')[0]!, file };
  }
  const report: TargetReport = {
    target: target.name,
    executions: Atomics.load(counters, 0),
    seconds: (Date.now() - started) / 1000,
    corpusStart,
    corpusEnd: corpus.length,
    added,
    coverage: target.files.map((f) => coverage.get(f)!.summary(f)),
    ...(failure ? { failure } : {}),
  };
  process.send!(report, () => process.exit(0));
}

/**
 * A thread that watches the executions counter: when it stands still for `hangMs` (an input that
 * never finishes) it saves the input being run and kills the process, which the parent reports.
 * Plain JavaScript, so it needs no TypeScript loader.
 */
function startWatchdog(shared: SharedArrayBuffer, target: string, hangMs: number): void {
  const dir = path.join(FUZZ_DIR, 'crashes', target);
  const code = `
    const { workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    const crypto = require('node:crypto');
    const counters = new Int32Array(workerData.shared, 0, 2);
    let last = -1, since = Date.now();
    setInterval(() => {
      const n = Atomics.load(counters, 0);
      if (n !== last) { last = n; since = Date.now(); return; }
      if (Date.now() - since < workerData.hangMs) return;
      const input = Buffer.from(new Uint8Array(workerData.shared, ${SHARED_HEADER}, Math.min(${MAX_INPUT}, Atomics.load(counters, 1))));
      fs.mkdirSync(workerData.dir, { recursive: true });
      const file = workerData.dir + '/hang-' + crypto.createHash('sha1').update(input).digest('hex').slice(0, 16);
      fs.writeFileSync(file, input);
      fs.writeSync(2, 'hang: no execution finished for ' + workerData.hangMs + ' ms; input saved to ' + file + '\n');
      process.kill(process.pid, 'SIGKILL');
    }, 250).unref();
  `;
  new Worker(code, { eval: true, workerData: { shared, dir, hangMs } }).unref();
}

function saveCrash(target: string, kind: string, input: Buffer): string {
  const dir = path.join(FUZZ_DIR, 'crashes', target);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${sha1(input)}`);
  fs.writeFileSync(file, input);
  return path.relative(ROOT, file);
}

// ───────────────────────────── main ─────────────────────────────

function runTarget(args: WorkerArgs): Promise<TargetReport> {
  // Each target runs in its own process (tsx's loader comes along in execArgv). Its heap is
  // bounded: a decoder that allocates what a length field claims dies there, not the machine.
  const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(args)], {
    execArgv: [...process.execArgv, '--max-old-space-size=512'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve) => {
    let report: TargetReport | undefined;
    child.on('message', (r: TargetReport) => {
      report = r;
    });
    child.on('exit', (code, signal) => {
      resolve(
        report ?? {
          target: args.target, executions: 0, seconds: args.seconds, corpusStart: 0, corpusEnd: 0, added: 0, coverage: [],
          failure: { kind: signal === 'SIGKILL' ? 'hang' : 'exit', message: `target process ended (${signal ?? `exit ${code}`}) without a report`, file: `bench/fuzz/crashes/${args.target}/` },
        },
      );
    });
  });
}

function pct(a: number, b: number): string {
  return b === 0 ? '–' : `${((100 * a) / b).toFixed(1)} %`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (argv.includes('--help')) {
    process.stdout.write('npx tsx bench/fuzz.ts [--minutes 12] [--targets a,b] [--seed N] [--hang-ms 10000] [--no-grow]\n');
    return;
  }
  const { TARGETS } = await import('./fuzz/targets.js');
  const names = opt('targets')?.split(',') ?? TARGETS.map((t) => t.name);
  for (const n of names) if (!TARGETS.some((t) => t.name === n)) throw new Error(`unknown target ${n} (${TARGETS.map((t) => t.name).join(', ')})`);
  const minutes = Number(opt('minutes') ?? 12);
  const seed = Number(opt('seed') ?? Date.now() % 2 ** 31);
  const hangMs = Number(opt('hang-ms') ?? 10_000);
  const seconds = (minutes * 60) / names.length;
  process.stdout.write(`fuzzing ${names.join(', ')}: ${seconds.toFixed(0)} s each, seed ${seed}\n`);
  const reports: TargetReport[] = [];
  for (const name of names) {
    const r = await runTarget({ target: name, seconds, seed, grow: !argv.includes('--no-grow'), hangMs });
    reports.push(r);
    const fn = r.coverage.reduce((a, c) => [a[0]! + c.functionsCovered, a[1]! + c.functions], [0, 0]);
    const bl = r.coverage.reduce((a, c) => [a[0]! + c.blocksCovered, a[1]! + c.blocks], [0, 0]);
    process.stdout.write(
      `${name}: ${r.executions} executions (${(r.executions / r.seconds).toFixed(0)}/s), corpus ${r.corpusStart} → ${r.corpusEnd}, ` +
        `functions ${pct(fn[0]!, fn[1]!)}, blocks ${pct(bl[0]!, bl[1]!)}${r.failure ? `, FAILED ${r.failure.kind}: ${r.failure.message} (${r.failure.file})` : ''}\n`,
    );
  }
  const lines = [
    `## Fuzzing (${new Date().toISOString().slice(0, 16).replace('T', ' ')}, ${minutes} min, seed ${seed})`,
    '',
    '| target | executions | exec/s | corpus start → end | functions covered | blocks covered | outcome |',
    '|---|---:|---:|---|---:|---:|---|',
  ];
  const perFile: string[] = ['', '| target | file | functions | blocks |', '|---|---|---:|---:|'];
  for (const r of reports) {
    const fn = r.coverage.reduce((a, c) => [a[0]! + c.functionsCovered, a[1]! + c.functions], [0, 0]);
    const bl = r.coverage.reduce((a, c) => [a[0]! + c.blocksCovered, a[1]! + c.blocks], [0, 0]);
    lines.push(
      `| ${r.target} | ${r.executions} | ${(r.executions / r.seconds).toFixed(0)} | ${r.corpusStart} → ${r.corpusEnd} | ` +
        `${fn[0]}/${fn[1]} (${pct(fn[0]!, fn[1]!)}) | ${bl[0]}/${bl[1]} (${pct(bl[0]!, bl[1]!)}) | ${r.failure ? `${r.failure.kind}: ${r.failure.message} → \`${r.failure.file}\`` : 'ok'} |`,
    );
    for (const c of r.coverage) {
      perFile.push(`| ${r.target} | ${c.file} | ${c.functionsCovered}/${c.functions} (${pct(c.functionsCovered, c.functions)}) | ${c.blocksCovered}/${c.blocks} (${pct(c.blocksCovered, c.blocks)}) |`);
    }
  }
  process.stdout.write(`\n${[...lines, ...perFile].join('\n')}\n`);
  if (reports.some((r) => r.failure)) process.exitCode = 1;
}

const childAt = process.argv.indexOf('--child');
if (childAt < 0) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  });
} else {
  void workerMain(JSON.parse(process.argv[childAt + 1]!) as WorkerArgs);
}
