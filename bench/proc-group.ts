/**
 * A process and its descendants read from /proc: the proxy with `workers > 1` is a primary
 * process whose workers are its children (node:cluster), and its cost is the whole group's.
 *
 * CPU of a group between two snapshots = Σ over the processes in the second snapshot of
 * (utime + stime + cutime + cstime) − the same Σ over the first snapshot, pid by pid:
 * - a process alive in both counts its own difference;
 * - a process that appeared in between counts everything it used (all of it after the first
 *   snapshot);
 * - a process that exited in between and was reaped by its parent in the group (node:cluster's
 *   primary reaps its workers) has its whole CPU added to the parent's cutime/cstime, and its
 *   reading from the first snapshot is subtracted: what it used in between is counted, exactly;
 * - the same pid with a different start time is a different process (pid reuse).
 * Not counted: a process that exited but was not yet reaped when the second snapshot was taken
 * and vanished before it could be read, and the CPU of a process whose parent is outside the
 * group. Both are edge cases of crashing workers, which a benchmark run must not have anyway.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export interface ProcReading {
  readonly pid: number;
  /** Field 3: R running, S sleeping, Z zombie (exited, not yet reaped) … */
  readonly state: string;
  readonly ppid: number;
  /** Field 22: clock ticks after boot when the process started (tells pid reuse apart). */
  readonly start: number;
  /** utime + cutime (the process and its reaped children), clock ticks. */
  readonly user: number;
  /** stime + cstime, clock ticks. */
  readonly sys: number;
  readonly rssKiB: number;
  readonly hwmKiB: number;
  /** Context switches of the process's main thread. */
  readonly ctxVol: number;
  readonly ctxInvol: number;
}

/** One look at a group: every process in it that could be read. */
export type GroupSnapshot = ReadonlyMap<number, ProcReading>;

/** Children of `pid`, from /proc/<pid>/task/<tid>/children (all threads), or `pgrep -P`. */
export function childPids(pid: number): number[] {
  const out = new Set<number>();
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  let viaProc = false;
  for (const tid of tasks) {
    try {
      for (const s of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/)) {
        if (s !== '') out.add(Number(s));
      }
      viaProc = true;
    } catch {
      // the thread ended, or the kernel has no CONFIG_PROC_CHILDREN
    }
  }
  if (!viaProc) {
    try {
      for (const s of execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split(/\s+/)) {
        if (s !== '') out.add(Number(s));
      }
    } catch {
      // pgrep exits 1 when there are none
    }
  }
  return [...out];
}

/** `root` and all its descendants, root first. */
export function groupPids(root: number): number[] {
  const seen: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.includes(pid)) continue;
    seen.push(pid);
    queue.push(...childPids(pid));
  }
  return seen;
}

/** One process, or undefined if it is gone. */
export function readProc(pid: number): ProcReading | undefined {
  let stat: string;
  let status: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const f = (n: number): number => Number(rest[n - 3]);
  const kv = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return {
    pid,
    state: rest[0] ?? '?',
    ppid: f(4),
    start: f(22),
    user: f(14) + f(16),
    sys: f(15) + f(17),
    // A zombie has no VmRSS line: 0.
    rssKiB: kv('VmRSS'),
    hwmKiB: kv('VmHWM'),
    ctxVol: kv('voluntary_ctxt_switches'),
    ctxInvol: kv('nonvoluntary_ctxt_switches'),
  };
}

export function snapshot(root: number): GroupSnapshot {
  const m = new Map<number, ProcReading>();
  for (const pid of groupPids(root)) {
    const r = readProc(pid);
    if (r !== undefined) m.set(pid, r);
  }
  return m;
}

export interface GroupDelta {
  /** Clock ticks (see the module comment for what is counted). */
  readonly user: number;
  readonly sys: number;
  /** Main-thread context switches of processes alive at both snapshots. */
  readonly ctx: number;
  /** Processes at the second snapshot. */
  readonly processes: number;
  /** Processes that appeared / disappeared in between. */
  readonly started: number;
  readonly ended: number;
  /** Σ VmRSS at the second snapshot, KiB. */
  readonly rssKiB: number;
}

export function groupDelta(a: GroupSnapshot, b: GroupSnapshot): GroupDelta {
  const same = (p: ProcReading): ProcReading | undefined => {
    const q = a.get(p.pid);
    return q !== undefined && q.start === p.start ? q : undefined;
  };
  let user = 0;
  let sys = 0;
  let ctx = 0;
  let started = 0;
  let rssKiB = 0;
  for (const p of b.values()) {
    user += p.user;
    sys += p.sys;
    rssKiB += p.rssKiB;
    const q = same(p);
    if (q === undefined) started++;
    else ctx += p.ctxVol - q.ctxVol + p.ctxInvol - q.ctxInvol;
  }
  let ended = 0;
  for (const q of a.values()) {
    user -= q.user;
    sys -= q.sys;
    const p = b.get(q.pid);
    if (p === undefined || p.start !== q.start) ended++;
  }
  return { user, sys, ctx, processes: b.size, started, ended, rssKiB };
}

/** Σ VmRSS and Σ VmHWM (each process's own peak, not the group's) of a snapshot, KiB. */
export function groupMemory(s: GroupSnapshot): { rssKiB: number; hwmKiB: number } {
  let rssKiB = 0;
  let hwmKiB = 0;
  for (const p of s.values()) {
    rssKiB += p.rssKiB;
    hwmKiB += p.hwmKiB;
  }
  return { rssKiB, hwmKiB };
}
