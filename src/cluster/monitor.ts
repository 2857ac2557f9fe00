/**
 * Watches every backend with mysql2 and reports what it sees to the cluster store as events.
 * It never changes host status itself (DESIGN §1): the reducer decides.
 *
 * Per host, two independent loops, each on its own connection (so a slow replication probe
 * never delays a heartbeat):
 *  - heartbeat, every `heartbeat.intervalMs` (fixed rate, measured from the start of the previous
 *    tick): `heartbeat.sql` then `SELECT @@read_only` → 'probe-ok' / 'probe-failed'. A probe that
 *    does not answer within `heartbeat.timeoutMs` is a miss exactly like a refused connection, and
 *    its connection is destroyed (a SIGSTOPped or black-holed server never answers COM_QUIT), so a
 *    hung server is detected as fast as a dead one: DOWN at most
 *    `retries × intervalMs + timeoutMs` after it stops answering (when timeoutMs ≤ intervalMs; a
 *    tick that finds the previous probe still running starts the next one as soon as it ends).
 *  - replication, every `replication.checkEveryMs`: `SHOW REPLICA STATUS`, falling back to
 *    `SHOW SLAVE STATUS` on a syntax error (MySQL < 8.0.22, MariaDB < 10.5; MySQL 8.4 only has
 *    REPLICA), either column spelling → 'replication' with the IO thread state (yes / connecting /
 *    no) and the source (host, port) the replica follows. An empty result = not a replica.
 */
import { parseGtids, type GtidPosition } from './gtid.js';
import { Serial, Ticker } from './schedule.js';
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { DataHostConfig } from '../config/types.js';
import type { ClusterEvent } from './state.js';
import type { HostView, IoState } from './view.js';

export interface MonitorOptions {
  readonly dataHost: DataHostConfig;
  /**
   * TLS for the probe connections (dataHost.tls, as mysql2 takes it). A backend with
   * require_secure_transport refuses plain logins: probing it in clear would declare it DOWN.
   */
  readonly ssl?: mysql.SslOptions;
  readonly hosts: readonly HostView[];
  readonly dispatch: (event: ClusterEvent) => void;
  readonly logger: Logger;
  /**
   * Each heartbeat also reads how far the host has applied replication (`@@gtid_slave_pos` on
   * MariaDB, `@@gtid_executed` on MySQL) and reports it here: causal reads skip the wait on a
   * replica known to be far enough. Not host status: it does not go through the reducer.
   */
  readonly positions?: (hostId: string, position: GtidPosition) => void;
}

/** MariaDB's applied position, then MySQL's. */
const POSITION_VARIABLES = ['gtid_slave_pos', 'gtid_executed'];

export class Monitor {
  private readonly probes = new Map<string, HostProbe>();
  private started = false;

  constructor(private readonly opts: MonitorOptions) {
    for (const h of opts.hosts) this.probes.set(h.id, new HostProbe(h, opts));
  }

  start(): void {
    this.started = true;
    for (const p of this.probes.values()) p.start();
  }

  /** Runs one heartbeat and one replication probe of every host now and waits for the verdicts. */
  async probeAll(): Promise<void> {
    await Promise.all([...this.probes.values()].flatMap((p) => [p.heartbeat(), p.replication()]));
  }

  /** A backend joined at run time: probed from now on (at once when the monitor runs). */
  addHost(host: HostView): void {
    if (this.probes.has(host.id)) return;
    const probe = new HostProbe(host, this.opts);
    this.probes.set(host.id, probe);
    if (this.started) probe.start();
  }

  /** A backend left: its probes stop and their connections close; no more events about it. */
  async removeHost(hostId: string): Promise<void> {
    const probe = this.probes.get(hostId);
    if (!probe) return;
    this.probes.delete(hostId);
    await probe.stop();
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.probes.values()].map((p) => p.stop()));
  }
}

// ------------------------------------------------------------------------------ replication

export type RowsQuery = (sql: string) => Promise<Record<string, unknown>[]>;

export type StatusSpelling = 'REPLICA' | 'SLAVE';

export type { IoState } from './view.js';

export interface ReplicationStatus {
  readonly isReplica: boolean;
  /** `ioState === 'yes'` (kept for callers that only need "connected and receiving"). */
  readonly ioRunning: boolean;
  readonly ioState: IoState;
  readonly sqlRunning: boolean;
  readonly lagSeconds: number | null;
  /** Source_Host / Master_Host and Source_Port / Master_Port: whom this replica follows. */
  readonly sourceHost?: string;
  readonly sourcePort?: number;
  /** Last_IO_Error / Last_SQL_Error when non-empty. */
  readonly threadError?: string;
  /**
   * The only error reported is the IO thread failing to reach its source (Last_IO_Errno a
   * connection error, no SQL error): says nothing about the replica's history.
   */
  readonly sourceUnreachable?: boolean;
  /** GTIDs received from the source (Gtid_IO_Pos / Retrieved_Gtid_Set). */
  readonly receivedGtids?: string;
}

/** MySQL / MariaDB ER_PARSE_ERROR: the server does not know the statement's spelling. */
export function isSyntaxError(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown };
  return e?.errno === 1064 || e?.code === 'ER_PARSE_ERROR';
}

function column(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (row[n] !== undefined) return row[n];
  return undefined;
}

/** CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_GONE_ERROR, CR_SERVER_LOST: the source was not reached. */
const CONNECT_ERRNOS: ReadonlySet<number> = new Set([2003, 2005, 2006, 2013]);

/** Whether a replication status row's only error is its IO thread not reaching the source. */
function sourceUnreachable(row: Record<string, unknown>): boolean {
  const sqlError = column(row, 'Last_SQL_Error');
  if (typeof sqlError === 'string' && sqlError.trim() !== '') return false;
  return CONNECT_ERRNOS.has(Number(column(row, 'Last_IO_Errno')));
}

/** `Replica_IO_Running` / `Slave_IO_Running` → state; anything unexpected counts as stopped. */
export function parseIoState(v: unknown): IoState {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return s === 'yes' ? 'yes' : s === 'connecting' ? 'connecting' : 'no';
}

/** One row of `SHOW REPLICA|SLAVE STATUS` (either column spelling) → facts; no row = not a replica. */
export function parseReplicaStatus(rows: readonly Record<string, unknown>[]): ReplicationStatus {
  const row = rows[0];
  if (row === undefined) return { isReplica: false, ioRunning: false, ioState: 'no', sqlRunning: false, lagSeconds: null };
  const yes = (v: unknown): boolean => typeof v === 'string' && v.toLowerCase() === 'yes';
  const lagRaw = column(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master');
  const lag = lagRaw === null || lagRaw === undefined || lagRaw === '' ? null : Number(lagRaw);
  const errors = [column(row, 'Last_SQL_Error'), column(row, 'Last_IO_Error')]
    .filter((e): e is string => typeof e === 'string' && e.trim() !== '')
    .map((e) => e.trim());
  const ioState = parseIoState(column(row, 'Replica_IO_Running', 'Slave_IO_Running'));
  const hostRaw = column(row, 'Source_Host', 'Master_Host');
  const sourceHost = typeof hostRaw === 'string' && hostRaw.trim() !== '' ? hostRaw.trim() : undefined;
  // What the replica has received (not only applied): MariaDB Gtid_IO_Pos, MySQL Retrieved_Gtid_Set.
  const received = column(row, 'Gtid_IO_Pos', 'Retrieved_Gtid_Set');
  const portRaw = column(row, 'Source_Port', 'Master_Port');
  const port = portRaw === null || portRaw === undefined || portRaw === '' ? NaN : Number(portRaw);
  return {
    isReplica: true,
    ioRunning: ioState === 'yes',
    ioState,
    sqlRunning: yes(column(row, 'Replica_SQL_Running', 'Slave_SQL_Running')),
    lagSeconds: lag === null || !Number.isFinite(lag) ? null : lag,
    ...(sourceHost !== undefined ? { sourceHost } : {}),
    ...(Number.isInteger(port) && port > 0 ? { sourcePort: port } : {}),
    ...(errors.length > 0 ? { threadError: errors.join('; ') } : {}),
    ...(sourceUnreachable(row) ? { sourceUnreachable: true } : {}),
    ...(typeof received === 'string' && received.trim() !== '' ? { receivedGtids: received.replace(/\s+/g, '') } : {}),
  };
}

/**
 * Runs the replication status statement in the given spelling, falling back to SLAVE on a
 * syntax error. Returns the facts and the spelling that worked (remember it per host).
 */
export async function probeReplication(
  query: RowsQuery,
  spelling: StatusSpelling = 'REPLICA',
): Promise<{ status: ReplicationStatus; spelling: StatusSpelling }> {
  try {
    return { status: parseReplicaStatus(await query(`SHOW ${spelling} STATUS`)), spelling };
  } catch (err) {
    if (spelling === 'REPLICA' && isSyntaxError(err)) {
      return { status: parseReplicaStatus(await query('SHOW SLAVE STATUS')), spelling: 'SLAVE' };
    }
    throw err;
  }
}

// ------------------------------------------------------------------------------ connections

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly ssl?: mysql.SslOptions;
}

/**
 * One monitoring connection, opened lazily, reused while it works, destroyed on any failure or
 * timeout. `run` bounds connect + work by `timeoutMs`; a connection that completes after its
 * attempt timed out is destroyed, never reused.
 */
export class ProbeConnection {
  private conn: mysql.Connection | undefined;
  private generation = 0;
  private closed = false;

  constructor(
    private readonly target: ProbeTarget,
    private readonly timeoutMs: number,
  ) {}

  async run<T>(what: string, fn: (conn: mysql.Connection) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('probe connection closed');
    const gen = this.generation;
    const work = (async () => {
      let c = this.conn;
      if (c === undefined) {
        c = await mysql.createConnection({
          host: this.target.host,
          port: this.target.port,
          user: this.target.user,
          password: this.target.password,
          connectTimeout: this.timeoutMs,
          ...(this.target.ssl ? { ssl: this.target.ssl } : {}),
        });
        // An idle connection whose server dies emits 'error'; the next use fails and replaces it.
        c.on('error', () => undefined);
        if (gen !== this.generation || this.closed) {
          c.destroy();
          throw new Error('superseded');
        }
        this.conn = c;
      }
      return fn(c);
    })();
    try {
      return await withTimeout(work, this.timeoutMs, `${what} timed out after ${this.timeoutMs} ms`);
    } catch (err) {
      this.drop();
      throw err;
    }
  }

  /** Destroys the socket (a hung server would never answer COM_QUIT). */
  drop(): void {
    this.generation++;
    const c = this.conn;
    this.conn = undefined;
    c?.destroy();
  }

  close(): void {
    this.closed = true;
    this.drop();
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}

// ------------------------------------------------------------------------------ per host

class HostProbe {
  private readonly hbConn: ProbeConnection;
  private readonly replConn: ProbeConnection;
  private readonly hbTicker: Ticker;
  private readonly replTicker: Ticker;
  private readonly hb: Serial;
  private readonly repl: Serial;
  private spelling: StatusSpelling = 'REPLICA';
  private stopped = false;
  private readonly log: Logger;

  constructor(
    private readonly host: HostView,
    private readonly opts: MonitorOptions,
  ) {
    const dh = opts.dataHost;
    const target = { host: host.host, port: host.port, user: dh.user, password: dh.password, ...(opts.ssl ? { ssl: opts.ssl } : {}) };
    this.hbConn = new ProbeConnection(target, dh.heartbeat.timeoutMs);
    this.replConn = new ProbeConnection(target, dh.heartbeat.timeoutMs);
    this.hb = new Serial(() => this.heartbeatOnce(), () => !this.stopped);
    this.repl = new Serial(() => this.replicationOnce(), () => !this.stopped);
    this.hbTicker = new Ticker(dh.heartbeat.intervalMs, () => this.heartbeat());
    this.replTicker = new Ticker(dh.replication.checkEveryMs, () => this.replication());
    this.log = opts.logger.child({ host: host.id });
  }

  start(): void {
    this.hbTicker.start(0);
    this.replTicker.start(0);
  }

  heartbeat(): Promise<void> {
    return this.hb.run();
  }

  replication(): Promise<void> {
    return this.repl.run();
  }

  private emit(event: ClusterEvent): void {
    if (this.stopped) return;
    try {
      this.opts.dispatch(event);
    } catch (err) {
      this.log.error({ err }, 'cluster event handler failed');
    }
  }

  private async heartbeatOnce(): Promise<void> {
    const sql = this.opts.dataHost.heartbeat.sql;
    try {
      const readOnly = await this.hbConn.run('heartbeat', async (c) => {
        await c.query(sql);
        const [rows] = await c.query('SELECT @@read_only AS ro');
        const ro = (rows as { ro: number | string }[])[0]?.ro;
        await this.readPosition(c);
        return ro === undefined || ro === null ? undefined : Number(ro) === 1;
      });
      this.emit({ type: 'probe-ok', hostId: this.host.id, readOnly });
    } catch (err) {
      const error = (err as Error).message;
      this.log.debug({ err: error }, 'heartbeat failed');
      this.emit({ type: 'probe-failed', hostId: this.host.id, error });
    }
  }

  /** Which variable holds the applied position here; null once neither exists. */
  private positionVariable: string | null | undefined;

  private async readPosition(c: mysql.Connection): Promise<void> {
    const report = this.opts.positions;
    if (report === undefined || this.positionVariable === null) return;
    for (const variable of this.positionVariable ? [this.positionVariable] : POSITION_VARIABLES) {
      try {
        const [rows] = await c.query(`SELECT @@global.${variable} AS pos`);
        const pos = (rows as { pos: string | null }[])[0]?.pos;
        this.positionVariable = variable;
        report(this.host.id, parseGtids(pos));
        return;
      } catch (err) {
        // 1193 unknown system variable: the other flavor's name. Anything else is not ours to judge.
        if ((err as { errno?: number }).errno !== 1193) return;
      }
    }
    this.positionVariable = null;
  }

  private async replicationOnce(): Promise<void> {
    try {
      const { status, spelling } = await this.replConn.run('replication probe', (c) =>
        probeReplication(async (sql) => (await c.query(sql))[0] as Record<string, unknown>[], this.spelling),
      );
      if (spelling !== this.spelling) this.log.info({ statement: `SHOW ${spelling} STATUS` }, 'replication probe spelling');
      this.spelling = spelling;
      this.emit({ type: 'replication', hostId: this.host.id, ...status });
    } catch (err) {
      const error = (err as Error).message;
      this.log.debug({ err: error }, 'replication probe failed');
      this.emit({ type: 'replication', hostId: this.host.id, isReplica: false, ioRunning: false, ioState: 'no', sqlRunning: false, lagSeconds: null, error });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.hbTicker.stop();
    this.replTicker.stop();
    this.hbConn.drop();
    this.replConn.drop();
    await Promise.all([this.hb.settle(), this.repl.settle()]);
    this.hbConn.close();
    this.replConn.close();
  }
}
