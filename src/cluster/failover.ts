/**
 * Failover effects: what has to happen outside the proxy when the cluster state says so. It
 * subscribes to the store and never changes state itself except by dispatching facts it has
 * verified (`read-only` after it changed @@read_only).
 *
 *  - dnindex: whenever the active writer index differs from what the file holds (a switch, or a
 *    missing file at start-up), write it atomically (`dnindex.ts`). Logged old → new.
 *  - with `failover.promote: true`:
 *    - fencing: every writeHost that is UP, is not the active writer and does not report
 *      read_only=ON gets `SET GLOBAL read_only=ON` — the demoted old master the moment it is
 *      reachable again, and a standby somebody made writable;
 *    - promotion: the active writer, when it became the writer by a switch in this process or
 *      reports read_only=ON, gets `STOP REPLICA` (`STOP SLAVE` on older servers) if it replicates,
 *      then `SET GLOBAL read_only=OFF`. Fencing runs before promotion.
 *    - rejoin (`failover.rejoin: true`), once the writer is promoted: every other server that is
 *      UP and either replicates from another configured host than the writer (a replica of the
 *      old master) or is a writeHost that does not replicate at all and is read-only (the old
 *      master, back and fenced) is pointed at the writer with GTID auto-positioning — MariaDB
 *      `CHANGE MASTER TO … MASTER_USE_GTID=slave_pos` (`current_pos` for a former master),
 *      MySQL `CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION=1`. Once per server and writer:
 *      a server whose history diverged fails to replicate (the server says why), stays out of
 *      read rotation, and is not retried until the writer changes. Replicas of hosts outside the
 *      configuration (deliberate chains) and standalone readHosts are left alone.
 *    All use `failover.user` / `failover.password` (default dataHost.user/password) on
 *    short-lived mysql2 connections with timeouts.
 *  Failures are logged and retried on the next state change or after a backoff (never thrown).
 */
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { DataHostConfig } from '../config/types.js';
import { writeDnIndex } from './dnindex.js';
import { sameEndpoint } from '../config/endpoint.js';
import { isSyntaxError, probeReplication } from './monitor.js';
import type { Transition } from './state.js';
import { mayDecide } from './cooperation-rules.js';
import { readOnlyOf, withAdminConnection } from './admin-connection.js';
import type { ClusterStore } from './store.js';
import type { ClusterView, HostId, HostView } from './view.js';

export interface FailoverEffectsOptions {
  readonly store: ClusterStore;
  readonly dataHost: DataHostConfig;
  /** TLS for promotion / fencing / rejoin connections (dataHost.tls, as mysql2 takes it). */
  readonly ssl?: mysql.SslOptions;
  readonly logger: Logger;
  /** The index the dnindex file holds now (undefined: no file / no key → written at start). */
  readonly persistedIndex: number | undefined;
}

const MAX_BACKOFF_MS = 30_000;

interface Retry {
  failures: number;
  notBefore: number;
}

export class FailoverEffects {
  private readonly dh: DataHostConfig;
  private readonly store: ClusterStore;
  private readonly log: Logger;
  private persisted: number | undefined;
  /** Hosts that became the writer by a switch and still need promotion. */
  private readonly pendingPromotion = new Set<HostId>();
  private readonly retries = new Map<string, Retry>();
  /** Rejoin done: server id → the writer it was pointed at (once per server and writer). */
  private readonly rejoined = new Map<HostId, HostId>();
  /** Rejoins under way, by server. */
  private readonly rejoining = new Map<HostId, Promise<void>>();
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onChange = (_view: ClusterView, transitions: readonly Transition[]): void => {
    for (const t of transitions) {
      if (t.kind === 'writer-switch') {
        this.pendingPromotion.delete(t.fromHostId);
        // The new writer's rejoin is history: when it hands over again it must follow anew.
        this.rejoined.delete(t.toHostId);
        // A switch that follows the leading instance was the leader's to carry out (an instance
        // that leads later still promotes a writer it finds read-only).
        if (mayDecide(this.store.snapshot)) this.pendingPromotion.add(t.toHostId);
      }
      // A host that just came back deserves an immediate attempt.
      if (t.kind === 'status' && t.to === 'up') {
        for (const key of this.retries.keys()) if (key.endsWith(`:${t.hostId}`)) this.retries.delete(key);
      }
    }
    this.kick();
  };

  constructor(opts: FailoverEffectsOptions) {
    this.dh = opts.dataHost;
    this.store = opts.store;
    this.log = opts.logger;
    this.persisted = opts.persistedIndex;
    this.ssl = opts.ssl;
  }

  private readonly ssl: mysql.SslOptions | undefined;

  start(): void {
    const f = this.dh.failover;
    if (f.promote && f.user === undefined) {
      this.log.warn(
        { dataHost: this.dh.name, user: this.dh.user },
        'failover.promote is on but failover.user is not set: promotion and fencing use dataHost.user, which should NOT have READ_ONLY ADMIN / SUPER — they will likely fail',
      );
    }
    this.log.info(
      {
        dataHost: this.dh.name,
        failover: f.enabled ? 'enabled' : 'disabled',
        promote: f.promote,
        dnindexFile: f.dnindexFile,
        writerIndex: this.store.view.writerIndex,
      },
      'failover policy',
    );
    this.store.on('change', this.onChange);
    this.kick();
  }

  /** Resolves once no work is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.running !== undefined || this.rejoining.size > 0) {
      await this.running;
      await Promise.all(this.rejoining.values());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.store.off('change', this.onChange);
    if (this.timer) clearTimeout(this.timer);
    await this.idle();
  }

  private kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.running ??= (async () => {
      try {
        while (this.dirty && !this.stopped) {
          this.dirty = false;
          await this.evaluate();
        }
      } catch (err) {
        this.log.error({ err }, 'failover effects failed');
      } finally {
        this.running = undefined;
      }
    })();
  }

  /** Runs `fn` unless it failed recently; on failure logs, backs off and schedules a retry. */
  private async attempt(key: string, what: Record<string, unknown>, fn: () => Promise<void>): Promise<void> {
    const r = this.retries.get(key);
    if (r !== undefined && Date.now() < r.notBefore) return;
    try {
      await fn();
      this.retries.delete(key);
    } catch (err) {
      const failures = (r?.failures ?? 0) + 1;
      const delay = Math.min(MAX_BACKOFF_MS, this.dh.heartbeat.intervalMs * 2 ** (failures - 1));
      this.retries.set(key, { failures, notBefore: Date.now() + delay });
      this.log.error({ ...what, err: (err as Error).message, failures, retryInMs: delay }, `${key.split(':')[0]} failed`);
      this.scheduleRetry(delay);
    }
  }

  private scheduleRetry(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), delayMs + 5);
    this.timer.unref();
  }

  private async evaluate(): Promise<void> {
    const view = this.store.view;
    const writeHosts = view.hosts.filter((h) => h.role === 'write');
    const writer = writeHosts[view.writerIndex];

    // 1. dnindex follows the writer index.
    const index = view.writerIndex;
    if (this.persisted !== index) {
      await this.attempt('dnindex write:file', { dataHost: this.dh.name, file: this.dh.failover.dnindexFile }, async () => {
        const res = await writeDnIndex(this.dh.failover.dnindexFile, this.dh.name, index, writer ? `${writer.host.includes(':') ? `[${writer.host}]` : writer.host}:${writer.port}` : undefined);
        if (res.dropped.length > 0) {
          this.log.warn({ file: this.dh.failover.dnindexFile, dropped: res.dropped }, 'dnindex: dropped unparsable lines while rewriting');
        }
        this.log.warn(
          { dataHost: this.dh.name, file: this.dh.failover.dnindexFile, from: res.previous ?? '(none)', to: index },
          'dnindex updated',
        );
        this.persisted = index;
      });
    }

    // Servers are changed by one instance only: alone, or the leader of cooperating instances.
    if (!this.dh.failover.promote || !mayDecide(this.store.snapshot)) return;

    // 2. Fencing: reachable writeHosts other than the writer must be read-only.
    for (const h of writeHosts) {
      if (h === writer || h.status !== 'up' || h.readOnly === true) continue;
      await this.attempt(`fencing:${h.id}`, { dataHost: this.dh.name, host: h.id }, () => this.fence(h));
    }

    // 3. Promotion of the active writer.
    const current = this.store.view.hosts.find((h) => h.role === 'write' && h.index === this.store.view.writerIndex);
    if (current === undefined || current.status !== 'up') return;
    // A writer found read-only is promoted back — unless a planned switchover turned it
    // read-only on purpose (writes are paused while it hands over).
    if (this.pendingPromotion.has(current.id) || (current.readOnly === true && this.store.snapshot.writesPaused === undefined)) {
      await this.attempt(`promotion:${current.id}`, { dataHost: this.dh.name, host: current.id }, () => this.promote(current));
      return;
    }

    // 4. Rejoin: the other servers follow the (promoted, writable) writer.
    if (!this.dh.failover.rejoin || current.readOnly !== false) return;
    // Each server on its own: a rejoin may wait up to catchUpTimeoutMs for a replica to apply
    // what it received, and fencing a server that comes back must not wait behind that.
    for (const h of this.store.view.hosts) {
      if (this.rejoining.has(h.id)) continue;
      const why = this.rejoinReason(h, current);
      if (why === undefined) continue;
      const done = this.attempt(`rejoin:${h.id}`, { dataHost: this.dh.name, host: h.id, writer: current.id }, () => this.rejoin(h, current, why)).finally(() => {
        this.rejoining.delete(h.id);
        this.kick();
      });
      this.rejoining.set(h.id, done);
    }
  }

  /** Why `h` should be pointed at `writer`; undefined = leave it alone. */
  private rejoinReason(h: HostView, writer: HostView): { formerMaster: boolean; text: string } | undefined {
    if (h.id === writer.id || h.status !== 'up' || this.rejoined.get(h.id) === writer.id) return undefined;
    const r = h.replication;
    if (r === undefined || r.probeError !== undefined) return undefined;
    if (!r.isReplica) {
      return h.role === 'write' && h.readOnly === true ? { formerMaster: true, text: 'read-only writeHost that does not replicate (a former master)' } : undefined;
    }
    if (r.sourceHost === undefined || r.sourcePort === undefined) return undefined;
    if (sameEndpoint(r.sourceHost, r.sourcePort, writer.host, writer.port)) {
      // A former writer whose replication this proxy stopped when it promoted it, and whose old
      // source is the writer again (a switchover back): it only needs starting. STOP REPLICA does
      // not clear Last_IO_Error, so a "could not reach the source" from when that source was down
      // may still show; it says nothing about the history (sourceUnreachable).
      return h.role === 'write' && h.readOnly === true && !r.sqlRunning && r.ioState === 'no' && (r.threadError === undefined || r.sourceUnreachable === true)
        ? { formerMaster: true, text: 'a former writeHost whose replication from the writeHost is stopped' }
        : undefined;
    }
    const known = this.store.view.hosts.some((x) => sameEndpoint(x.host, x.port, r.sourceHost!, r.sourcePort!));
    return known ? { formerMaster: false, text: `replicates from ${r.sourceHost}:${r.sourcePort}, not from the writeHost` } : undefined;
  }

  private async rejoin(h: HostView, writer: HostView, why: { formerMaster: boolean; text: string }): Promise<void> {
    const f = this.dh.failover;
    let statements: string[] = [];
    let caughtUp: string | undefined;
    await this.withConnection(h, async (c) => {
      if (!this.isWriter(writer.id)) return;
      const [v] = await c.query('SELECT VERSION() AS v');
      const mariadb = /mariadb/i.test(String((v as { v: unknown }[])[0]?.v));
      const account =
        f.replicationUser !== undefined
          ? mariadb
            ? `, MASTER_USER=${mysql.escape(f.replicationUser)}, MASTER_PASSWORD=${mysql.escape(f.replicationPassword ?? '')}`
            : `, SOURCE_USER=${mysql.escape(f.replicationUser)}, SOURCE_PASSWORD=${mysql.escape(f.replicationPassword ?? '')}`
          : '';
      statements = mariadb
        ? [
            'STOP SLAVE',
            `CHANGE MASTER TO MASTER_HOST=${mysql.escape(writer.host)}, MASTER_PORT=${writer.port}${account}, ` +
              `MASTER_USE_GTID=${why.formerMaster ? 'current_pos' : 'slave_pos'}`,
            'START SLAVE',
          ]
        : [
            'STOP REPLICA',
            // GET_SOURCE_PUBLIC_KEY: a caching_sha2_password replication account over plain TCP
            // needs the source's RSA key (a former master never had it set).
            `CHANGE REPLICATION SOURCE TO SOURCE_HOST=${mysql.escape(writer.host)}, SOURCE_PORT=${writer.port}${account}, ` +
              'SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1',
            'START REPLICA',
          ];
      if (!why.formerMaster) {
        // What it already received from the old master is applied first (as for a promotion):
        // CHANGE MASTER discards the relay log.
        const rows = async (sql: string): Promise<Record<string, unknown>[]> => (await c.query(sql))[0] as Record<string, unknown>[];
        const { status, spelling } = await probeReplication(rows);
        if (status.isReplica && status.sqlRunning) caughtUp = await this.applyReceived(h, rows, spelling, 'rejoin');
      }
      for (const sql of statements) await c.query(sql);
    }, this.dh.failover.catchUpTimeoutMs + this.timeoutMs());
    if (!this.isWriter(writer.id)) return;
    this.rejoined.set(h.id, writer.id);
    this.log.warn(
      {
        dataHost: this.dh.name,
        host: h.id,
        to: writer.id,
        reason: why.text,
        caughtUp,
        statements: statements.map((s) => s.replace(/(MASTER|SOURCE)_PASSWORD='(?:[^'\\]|\\.)*'/g, "$1_PASSWORD='***'")),
      },
      'rejoined a server to the writeHost (it serves reads again once seen replicating)',
    );
  }

  private timeoutMs(): number {
    return Math.max(5_000, this.dh.heartbeat.timeoutMs);
  }

  private withConnection<T>(h: HostView, fn: (c: mysql.Connection) => Promise<T>, ms = this.timeoutMs()): Promise<T> {
    return withAdminConnection(this.dh, this.ssl, h, ms, fn);
  }

  private readOnlyOf(c: mysql.Connection): Promise<boolean> {
    return readOnlyOf(c);
  }

  private async fence(h: HostView): Promise<void> {
    // The writer may have moved while we waited for the connection: re-check before acting.
    await this.withConnection(h, async (c) => {
      if (this.isWriter(h.id)) return;
      await c.query('SET GLOBAL read_only = ON');
      const ro = await this.readOnlyOf(c);
      if (!ro) throw new Error('read_only is still OFF after SET GLOBAL read_only = ON');
    });
    if (this.isWriter(h.id)) return;
    this.log.warn({ dataHost: this.dh.name, host: h.id, from: 'read_only=OFF', to: 'read_only=ON', reason: 'not the active writeHost (fencing)' }, 'fenced writeHost');
    this.store.dispatch({ type: 'read-only', hostId: h.id, readOnly: true, reason: 'fenced by failover (SET GLOBAL read_only=ON)' });
  }

  private async promote(h: HostView): Promise<void> {
    let stopped: string | undefined;
    let caughtUp: string | undefined;
    await this.withConnection(h, async (c) => {
      if (!this.isWriter(h.id)) return;
      const rows = async (sql: string): Promise<Record<string, unknown>[]> => (await c.query(sql))[0] as Record<string, unknown>[];
      const { status, spelling } = await probeReplication(rows);
      if (status.isReplica && status.sqlRunning) {
        // Semi-synchronous replication acknowledges a write once the replica has RECEIVED it;
        // applying may lag behind. Stopping replication now would throw away acknowledged
        // writes still in the relay log: wait until everything received is applied.
        caughtUp = await this.applyReceived(h, rows, spelling);
      }
      // A thread still trying to reconnect to the old master ('Connecting') must stop too.
      if (status.isReplica && (status.ioState !== 'no' || status.sqlRunning)) {
        try {
          await c.query('STOP REPLICA');
          stopped = 'STOP REPLICA';
        } catch (err) {
          if (!isSyntaxError(err)) throw err;
          await c.query('STOP SLAVE');
          stopped = 'STOP SLAVE';
        }
      }
      await c.query('SET GLOBAL read_only = OFF');
      if (await this.readOnlyOf(c)) throw new Error('read_only is still ON after SET GLOBAL read_only = OFF');
    }, this.dh.failover.catchUpTimeoutMs + this.timeoutMs());
    if (!this.isWriter(h.id)) return;
    this.pendingPromotion.delete(h.id);
    this.log.warn(
      { dataHost: this.dh.name, host: h.id, from: 'read_only=ON', to: 'read_only=OFF', replication: stopped ?? 'not replicating', caughtUp },
      'promoted writeHost',
    );
    this.store.dispatch({ type: 'read-only', hostId: h.id, readOnly: false, reason: 'promoted by failover (SET GLOBAL read_only=OFF)' });
  }

  /**
   * Waits (bounded) until the replica has applied every transaction it received: MariaDB
   * `MASTER_GTID_WAIT(Gtid_IO_Pos)`, MySQL `WAIT_FOR_EXECUTED_GTID_SET(Retrieved_Gtid_Set)`.
   * Returns what happened, for the promotion log line. On timeout the promotion goes ahead (the
   * cluster needs a writer) and says loudly what may be missing.
   */
  private async applyReceived(
    h: HostView,
    rows: (sql: string) => Promise<Record<string, unknown>[]>,
    spelling: string,
    purpose: 'promotion' | 'rejoin' = 'promotion',
  ): Promise<string> {
    const row = (await rows(`SHOW ${spelling} STATUS`))[0] ?? {};
    const started = Date.now();
    const seconds = this.dh.failover.catchUpTimeoutMs / 1000;
    const mariadbReceived = row['Gtid_IO_Pos'];
    const mysqlReceived = row['Retrieved_Gtid_Set'];
    let waited: number | undefined;
    let received: string | undefined;
    if (typeof mariadbReceived === 'string' && mariadbReceived !== '') {
      received = mariadbReceived;
      const [r] = await rows(`SELECT MASTER_GTID_WAIT(${mysql.escape(received)}, ${seconds}) AS w`);
      waited = Number(r?.['w']);
    } else if (typeof mysqlReceived === 'string' && mysqlReceived !== '') {
      received = mysqlReceived;
      const [r] = await rows(`SELECT WAIT_FOR_EXECUTED_GTID_SET(${mysql.escape(received)}, ${seconds}) AS w`);
      waited = Number(r?.['w']);
    }
    const ms = Date.now() - started;
    if (received === undefined) return 'no GTID position to wait for';
    if (waited === 0) return `applied everything received (${received}) in ${ms} ms`;
    this.log.error(
      { dataHost: this.dh.name, host: h.id, received, waitedMs: ms },
      purpose === 'promotion'
        ? 'promoting a writeHost that has not applied everything it received: acknowledged writes may be missing'
        : 'rejoining a server that has not applied everything it received from the old writeHost: the rest of its relay log is discarded',
    );
    return `timed out after ${ms} ms waiting to apply ${received}`;
  }

  private isWriter(id: HostId): boolean {
    const v = this.store.view;
    return v.hosts.some((h) => h.id === id && h.role === 'write' && h.index === v.writerIndex);
  }
}
