/**
 * Heartbeats every backend with its own mysql2 connection and reports what it sees to the
 * cluster store as events. It never changes host status itself (DESIGN §1).
 *
 * A probe that does not answer within `timeoutMs` is a miss, exactly like a refused connection,
 * so a hung server (SIGSTOP, full disk) is detected as fast as a dead one.
 */
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { DataHostConfig } from '../config/types.js';
import type { ClusterEvent } from './reduce.js';
import type { HostView } from './view.js';

export interface MonitorOptions {
  readonly dataHost: DataHostConfig;
  readonly hosts: readonly HostView[];
  readonly dispatch: (event: ClusterEvent) => void;
  readonly logger: Logger;
}

export class Monitor {
  private readonly probes: HostProbe[];
  private stopped = false;

  constructor(private readonly opts: MonitorOptions) {
    this.probes = opts.hosts.map((h) => new HostProbe(h, opts));
  }

  start(): void {
    for (const p of this.probes) p.schedule(0);
  }

  /** Runs one probe of every host now and waits for the verdicts (start-up, tests). */
  async probeAll(): Promise<void> {
    await Promise.all(this.probes.map((p) => p.probe()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.probes.map((p) => p.stop()));
  }
}

class HostProbe {
  private conn: mysql.Connection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly host: HostView,
    private readonly opts: MonitorOptions,
  ) {}

  schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.probe().finally(() => this.schedule(this.opts.dataHost.heartbeat.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  probe(): Promise<void> {
    this.running ??= this.probeOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async probeOnce(): Promise<void> {
    const hb = this.opts.dataHost.heartbeat;
    try {
      const readOnly = await withTimeout(this.check(), hb.timeoutMs, `heartbeat timed out after ${hb.timeoutMs} ms`);
      if (!this.stopped) this.opts.dispatch({ type: 'probe-ok', hostId: this.host.id, readOnly });
    } catch (err) {
      this.drop();
      if (!this.stopped) this.opts.dispatch({ type: 'probe-failed', hostId: this.host.id, error: (err as Error).message });
    }
  }

  private async check(): Promise<boolean | undefined> {
    const dh = this.opts.dataHost;
    this.conn ??= await mysql.createConnection({
      host: this.host.host,
      port: this.host.port,
      user: dh.user,
      password: dh.password,
      connectTimeout: dh.heartbeat.timeoutMs,
    });
    await this.conn.query(dh.heartbeat.sql);
    const [rows] = await this.conn.query('SELECT @@read_only AS ro');
    const ro = (rows as { ro: number | string }[])[0]?.ro;
    return ro === undefined ? undefined : Number(ro) === 1;
  }

  private drop(): void {
    const c = this.conn;
    this.conn = undefined;
    // A hung server would never answer COM_QUIT: destroy the socket.
    c?.destroy();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.drop();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
