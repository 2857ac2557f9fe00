/**
 * Several "hosts" on one machine for tests that need real network partitions between
 * individual processes (a proxy cut off from one server but not the others, a primary cut off
 * from its replicas and from the proxies …): one Linux network namespace per host, each with a
 * veth into a bridge in the root namespace, all in one private /24 (10.231.X.0/24).
 *
 *   bridge  <prefix><X>br   10.231.X.1/24 (the root namespace, i.e. the test process itself)
 *   host k  netns <prefix><X>-<name>, `eth0` = 10.231.X.k/24 (k = 2 … 253), `lo` up, and the
 *           subnet's own route only: no default route, nothing reachable but the lab and itself
 *   sink    10.231.X.254: no such host; every namespace has a permanent neighbour entry for it
 *           with a MAC no interface has
 *
 * A partition is a route to the other side's /32 via the sink, in both namespaces: the packets
 * leave with a destination MAC nobody owns, the bridge floods them and every interface ignores
 * them. So they vanish silently, as across a cut cable: no RST, no ICMP, no local error; a
 * connect() just times out. (Not a `blackhole` route: for packets the namespace sends itself
 * that fails at once — connect() gets EINVAL — as `prohibit` / `unreachable` do with their
 * errors; a blackhole is silent only for forwarded packets. Without iptables — not installed —
 * a route to a sink is the silent drop that remains.) New and established connections both
 * stall, since a route change invalidates the routes cached on sockets, and resume once healed
 * (TCP retransmits). Needs root (`ip`, iproute2). `delay()` needs the kernel's netem qdisc
 * (`NetLab.delayUnavailable()`).
 *
 * X: derived from the pid, claimed with an exclusive state file in /run/sluice-netlab (so labs in
 * parallel test processes, in any worktree, never share a subnet or names), and skipped when the
 * bridge name or subnet is in use. The state file lists what the lab created; `create()` first
 * removes what labs of dead processes left (SIGKILL), and every lab is torn down on exit /
 * SIGINT / SIGTERM / SIGHUP. A caveat: the host's bridge traffic passes the iptables FORWARD
 * chain when br_netfilter is loaded with bridge-nf-call-iptables=1, so a host whose FORWARD
 * policy is DROP (Docker sets that) lets the root namespace reach the lab hosts but not the hosts
 * each other.
 */
import { execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface LabHost {
  /** The name given to `addHost`. */
  readonly name: string;
  /** Its network namespace (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** Its address in the lab (10.231.X.k). */
  readonly address: string;
  /** Its interface inside the namespace (`eth0`). */
  readonly device: string;
}

/** What a lab created, written before each creation: the sweep of a dead owner's lab reads it. */
interface LabState {
  readonly pid: number;
  readonly started: string;
  readonly bridge: string;
  readonly netns: string[];
  readonly veths: string[];
}

const STATE_DIR = '/run/sluice-netlab';
const DEVICE = 'eth0';
/** Locally administered, unicast, owned by no interface: frames to it are dropped by everyone. */
const SINK_MAC = '02:00:5e:10:0d:fe';

/** Runs `ip …` / `tc …`; the error carries the command and what it printed. */
function run(cmd: 'ip' | 'tc', args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** The start time of a process (field 22 of /proc/<pid>/stat): tells a live owner from a reused pid. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** One `ip` process that runs every deletion and goes on past errors (some may be gone already). */
function teardownBatch(state: Pick<LabState, 'bridge' | 'netns' | 'veths'>): string {
  return [...state.netns.map((n) => `netns del ${n}`), ...state.veths.map((v) => `link del ${v}`), `link del ${state.bridge}`]
    .map((l) => `${l}\n`)
    .join('');
}

function teardownSync(state: Pick<LabState, 'bridge' | 'netns' | 'veths'>): void {
  spawnSync('ip', ['-force', '-batch', '-'], { input: teardownBatch(state), stdio: ['pipe', 'ignore', 'ignore'], timeout: 10_000 });
}

/** Removes the labs whose owner process is gone (its state file says what they were). */
function sweepStale(): void {
  let files: string[];
  try {
    files = readdirSync(STATE_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return;
  }
  for (const f of files) {
    const file = path.join(STATE_DIR, f);
    let state: LabState;
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as LabState;
    } catch {
      // Being written right now (or unreadable): not provably stale; left alone unless old.
      const age = Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 600_000) rmSync(file, { force: true });
      continue;
    }
    if (startTime(state.pid) === state.started) continue;
    teardownSync(state);
    rmSync(file, { force: true });
  }
}

// Every lab of this process, torn down synchronously if the process ends before destroy().
const live = new Set<NetLab>();
let hooked = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function destroyAllSync(): void {
  for (const lab of live) lab.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAllSync();
  unhook();
  // Raised again without this handler: the default action ends the process, or the sandbox's own
  // handler (src/sandbox/server.ts, which defers while another listener exists) now acts.
  process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', destroyAllSync);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function unhook(): void {
  if (!hooked) return;
  hooked = false;
  process.removeListener('exit', destroyAllSync);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

export class NetLab {
  private readonly added: LabHost[] = [];
  /** Routes to the sink in place, as `<netns> <address>`. */
  private readonly cut = new Set<string>();
  private readonly delayed = new Set<string>();
  private destroyed = false;

  private constructor(
    /** `<prefix><X>`: what every name of this lab starts with. */
    readonly prefix: string,
    /** The third octet: the lab is 10.231.<octet>.0/24. */
    readonly octet: number,
    readonly bridge: string,
    private readonly stateFile: string,
    private readonly state: LabState,
  ) {}

  /** The hosts, in the order they were added. */
  get hosts(): readonly LabHost[] {
    return this.added;
  }

  /** 10.231.X.0/24 */
  get subnet(): string {
    return `10.231.${this.octet}.0/24`;
  }

  /** The root namespace's (the test process's) address on the bridge: 10.231.X.1. */
  get gateway(): string {
    return `10.231.${this.octet}.1`;
  }

  /** The next hop of partitioned traffic: an address in the subnet that nobody has. */
  private get sink(): string {
    return `10.231.${this.octet}.254`;
  }

  /** Why labs cannot be built here (a reason for `t.skip`), or undefined when they can. */
  static async unavailable(): Promise<string | undefined> {
    if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return 'network namespaces need root';
    try {
      await run('ip', ['-V']);
    } catch {
      return 'the `ip` command (iproute2) is not installed';
    }
    const probe = `slprobe${process.pid}`;
    try {
      await run('ip', ['netns', 'add', probe]);
    } catch (err) {
      return `\`ip netns add\` fails: ${(err as Error).message}`;
    }
    await run('ip', ['netns', 'del', probe]).catch(() => undefined);
    return undefined;
  }

  /** Why `delay()` cannot work here (no netem qdisc in the kernel), or undefined. */
  static async delayUnavailable(): Promise<string | undefined> {
    const probe = `slnetem${process.pid}`;
    try {
      await run('ip', ['netns', 'add', probe]);
    } catch (err) {
      return `\`ip netns add\` fails: ${(err as Error).message}`;
    }
    try {
      await run('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
      return undefined;
    } catch (err) {
      return `tc netem is not available (kernel without sch_netem?): ${(err as Error).message}`;
    } finally {
      await run('ip', ['netns', 'del', probe]).catch(() => undefined);
    }
  }

  /**
   * A new lab: its bridge up with 10.231.X.1/24. `prefix`: 1-6 lowercase letters, which with X
   * starts every name (letters only, so `<prefix><X>` is unambiguous; interface names are at
   * most 15 characters).
   */
  static async create(prefix = 'nl'): Promise<NetLab> {
    if (!/^[a-z]{1,6}$/.test(prefix)) throw new Error(`netlab prefix must be 1-6 lowercase letters, got "${prefix}"`);
    mkdirSync(STATE_DIR, { recursive: true });
    sweepStale();
    const started = startTime(process.pid) ?? '';
    const inUse = `${await run('ip', ['-o', '-4', 'addr', 'show'])}\n${await run('ip', ['-o', '-4', 'route', 'show', 'table', 'all'])}`;
    const links = await run('ip', ['-o', 'link', 'show']);
    for (let n = 0; n < 256; n++) {
      const octet = (process.pid + n) % 256;
      const labPrefix = `${prefix}${octet}`;
      const bridge = `${labPrefix}br`;
      const stateFile = path.join(STATE_DIR, `10.231.${octet}.json`);
      if (new RegExp(`\\b10\\.231\\.${octet}\\.`).test(inUse) || links.includes(` ${bridge}:`)) continue;
      const state: LabState = { pid: process.pid, started, bridge, netns: [], veths: [] };
      try {
        writeFileSync(stateFile, JSON.stringify(state), { flag: 'wx' }); // the claim: exclusive
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      const lab = new NetLab(labPrefix, octet, bridge, stateFile, state);
      live.add(lab);
      hook();
      try {
        // forward_delay 0: ports forward as soon as they are up (no STP in a star of veths).
        await run('ip', ['link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0']);
        await run('ip', ['addr', 'add', `${lab.gateway}/24`, 'dev', bridge]);
        await run('ip', ['link', 'set', bridge, 'up']);
      } catch (err) {
        await lab.destroy();
        throw err;
      }
      return lab;
    }
    throw new Error('netlab: no free 10.231.X.0/24 subnet');
  }

  /** A new host: namespace `<prefix>-<name>`, a veth into the bridge, the next address. */
  async addHost(name: string): Promise<LabHost> {
    if (this.destroyed) throw new Error('netlab: destroyed');
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/i.test(name)) throw new Error(`netlab host name must be [a-z0-9-], got "${name}"`);
    if (this.added.some((h) => h.name === name)) throw new Error(`netlab: host ${name} exists`);
    const k = this.added.length + 2;
    if (k > 253) throw new Error('netlab: at most 252 hosts');
    const netns = `${this.prefix}-${name}`;
    const veth = `${this.prefix}h${k}`;
    const host: LabHost = { name, netns, address: `10.231.${this.octet}.${k}`, device: DEVICE };
    // Recorded before it exists, so a crash in between still leaves a complete list to sweep.
    this.state.netns.push(netns);
    this.state.veths.push(veth);
    this.saveState();
    await run('ip', ['netns', 'add', netns]);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', DEVICE, 'netns', netns]);
    await run('ip', ['link', 'set', veth, 'master', this.bridge, 'up']);
    await run('ip', ['-n', netns, 'addr', 'add', `${host.address}/24`, 'dev', DEVICE]); // the /24 route comes with it
    await run('ip', ['-n', netns, 'link', 'set', DEVICE, 'up']);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await run('ip', ['-n', netns, 'neigh', 'replace', this.sink, 'lladdr', SINK_MAC, 'nud', 'permanent', 'dev', DEVICE]);
    this.added.push(host);
    return host;
  }

  /** Traffic between `a` and `b` vanishes, both ways, until `heal(a, b)` / `healAll()`. */
  async partition(a: LabHost, b: LabHost): Promise<void> {
    await this.toSink(a, b.address);
    await this.toSink(b, a.address);
  }

  async heal(a: LabHost, b: LabHost): Promise<void> {
    await this.unSink(a.netns, b.address);
    await this.unSink(b.netns, a.address);
  }

  /**
   * `a` is cut off from every other host of the lab (as it is now) and from the root namespace
   * (the test process), whose packets still arrive but get no answer. What still reaches it: its
   * processes' unix sockets (the filesystem is shared; e.g. `SandboxServer.socketPath`) and
   * `spawn(a, …)`, which runs inside its namespace (its own address and loopback stay reachable).
   */
  async isolate(a: LabHost): Promise<void> {
    for (const h of this.added) if (h !== a) await this.partition(a, h);
    await this.toSink(a, this.gateway);
  }

  /** Removes every partition (not the delays). */
  async healAll(): Promise<void> {
    for (const key of [...this.cut]) {
      const [netns = '', address = ''] = key.split(' ');
      await this.unSink(netns, address);
    }
  }

  /** Every packet `host` sends waits `ms` first (netem on its interface): round trips with it take `ms` longer. */
  async delay(host: LabHost, ms: number): Promise<void> {
    await run('tc', ['-n', host.netns, 'qdisc', 'replace', 'dev', host.device, 'root', 'netem', 'delay', `${ms}ms`]);
    this.delayed.add(host.netns);
  }

  async clearDelay(host: LabHost): Promise<void> {
    if (!this.delayed.delete(host.netns)) return;
    await run('tc', ['-n', host.netns, 'qdisc', 'del', 'dev', host.device, 'root']);
  }

  /**
   * `cmd args` inside `host`'s namespace. `ip netns exec` enters it and then execs `cmd` without
   * forking (checked by test/integration/netlab.test.ts), so the child's pid is the program's
   * own: `kill()` and /proc/<pid> reach it. The filesystem, environment and cwd are shared.
   */
  spawn(host: LabHost, cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', host.netns, cmd, ...args], opts);
  }

  /**
   * A fresh TCP connection from inside `from` to `address:port`: 'connected', 'timeout' (nothing
   * came back within `timeoutMs`, as across a partition) or the error code (ECONNREFUSED …).
   */
  async tcpProbe(from: LabHost, address: string, port: number, timeoutMs = 1_500): Promise<string> {
    const script =
      'const s=require("net").connect({host:process.argv[1],port:+process.argv[2]});' +
      's.setTimeout(+process.argv[3],()=>{console.log("timeout");process.exit(0)});' +
      's.on("connect",()=>{console.log("connected");process.exit(0)});' +
      's.on("error",(e)=>{console.log(e.code||e.message);process.exit(0)});';
    const child = this.spawn(from, process.execPath, ['-e', script, address, String(port), String(timeoutMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => child.once('close', resolve));
    return out.trim();
  }

  /** Deletes the namespaces (with their veths) and the bridge. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await new Promise<void>((resolve) => {
      const child = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
      child.once('close', () => resolve());
      child.once('error', () => resolve());
      child.stdin?.end(teardownBatch(this.state));
    });
    this.forget();
  }

  /** `destroy()` for process-exit hooks (synchronous). */
  destroySync(): void {
    if (this.destroyed) return;
    teardownSync(this.state);
    this.forget();
  }

  private forget(): void {
    this.destroyed = true;
    this.cut.clear();
    this.delayed.clear();
    rmSync(this.stateFile, { force: true });
    live.delete(this);
    if (live.size === 0) unhook();
  }

  private saveState(): void {
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.stateFile); // atomic: a sweep never reads half a file
  }

  private async toSink(from: LabHost, address: string): Promise<void> {
    await run('ip', ['-n', from.netns, 'route', 'replace', `${address}/32`, 'via', this.sink, 'dev', from.device]);
    this.cut.add(`${from.netns} ${address}`);
  }

  private async unSink(netns: string, address: string): Promise<void> {
    if (!this.cut.delete(`${netns} ${address}`)) return;
    await run('ip', ['-n', netns, 'route', 'del', `${address}/32`]);
  }
}
