/**
 * The backend locks through which several Sluice instances of one dataHost agree on a writer
 * (cluster.cooperation: backend-locks). The rules are in cooperation-rules.ts; this module holds
 * the connections and sends the statements.
 *
 * One lock connection per configured server, kept open (a lock belongs to the connection that
 * took it). Its `wait_timeout` is `cluster.lockTimeoutSeconds`: the connection is used every
 * heartbeat interval, so only an instance that vanished without closing it (a host crash, a
 * partition) leaves it idle, and the server then drops it and its locks within that bound. A
 * process that dies frees them at once (the kernel closes its sockets).
 *
 * Each round (every heartbeat interval, and at once after the writer moved):
 *  1. on every server, in parallel: who holds the lead lock and each writer lock;
 *  2. in configured order, the free lead locks are taken (`GET_LOCK(name, 0)`, never waiting),
 *     stopping at the first server whose lock another instance holds: instances that start
 *     together all try the first server first, one gets it and goes on, the others stop — no
 *     three-way split;
 *  3. the facts (who leads, what it publishes, what this instance reaches) go to the reducer;
 *  4. the leader holds the writer lock of its writeHost on every server where it leads and
 *     releases any other; an instance that does not lead releases the writer locks it holds;
 *     An instance whose writer is unusable runs a round four times per interval until the
 *     leader's decision arrives;
 *  5. an instance that holds some lead locks but has not led for two rounds gives them back and
 *     waits one to three rounds (random) before trying again, so a split always resolves.
 */
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { ClusterConfig, DataHostConfig } from '../config/types.js';
import { judgeLocks, type LockObservation } from './cooperation-rules.js';
import { withTimeout } from './monitor.js';
import { Serial, Ticker } from './schedule.js';
import type { ClusterStore } from './store.js';
import type { HostId, HostView } from './view.js';

export interface BackendLocksOptions {
  readonly dataHost: DataHostConfig;
  readonly cluster: ClusterConfig;
  readonly store: ClusterStore;
  readonly ssl?: mysql.SslOptions;
  readonly logger: Logger;
}

/** A named lock of this dataHost; MariaDB and MySQL take names of at most 64 characters. */
export function lockName(dataHost: string, what: string): string {
  const name = `sluice:${dataHost}:${what}`;
  return name.length <= 64 ? name : `sluice:${createHash('sha1').update(name).digest('hex')}`;
}

/** Rounds without the lead, while holding some of its locks, before giving them back. */
const GIVE_BACK_AFTER = 2;

type Answer = NonNullable<LockObservation['answer']>;

export class BackendLocks {
  private readonly links = new Map<HostId, LockLink>();
  private readonly ticker: Ticker;
  private readonly serial: Serial;
  private stopped = false;
  private roundsWithoutLead = 0;
  private pauseRounds = 0;
  private readonly leadLock: string;
  private readonly onChange = (): void => {
    const v = this.opts.store.view;
    // The leader publishes a new writer at once, not a heartbeat later.
    if (v.cooperation?.role === 'leading' && v.cooperation.facts?.published !== this.writerId()) this.kick();
    // An instance whose writer is unusable waits for the leader's decision: it looks four times
    // per interval until the writer works again, so it follows within a fraction of an interval.
    if (v.cooperation?.role !== 'leading' && v.writer === undefined) this.watchClosely();
  };
  private closeWatch: NodeJS.Timeout | undefined;

  private watchClosely(): void {
    if (this.closeWatch !== undefined || this.stopped) return;
    const every = Math.max(50, Math.floor(this.opts.dataHost.heartbeat.intervalMs / 4));
    this.closeWatch = setInterval(() => {
      const v = this.opts.store.view;
      if (this.stopped || v.writer !== undefined || v.cooperation?.role === 'leading') {
        clearInterval(this.closeWatch);
        this.closeWatch = undefined;
        return;
      }
      this.kick();
    }, every);
    this.closeWatch.unref();
  }

  constructor(private readonly opts: BackendLocksOptions) {
    this.leadLock = lockName(opts.dataHost.name, 'lead');
    this.ticker = new Ticker(opts.dataHost.heartbeat.intervalMs, () => this.serial.run());
    this.serial = new Serial(
      () => this.round(),
      () => !this.stopped,
    );
  }

  /** The lock names, for status output and operators who look at the servers themselves. */
  get names(): { lead: string; writer: (hostId: HostId) => string } {
    return { lead: this.leadLock, writer: (id) => lockName(this.opts.dataHost.name, `writer:${id}`) };
  }

  /** One round now (before the proxy listens), then one per heartbeat interval. */
  async start(): Promise<void> {
    this.opts.store.on('change', this.onChange);
    await this.serial.run();
    this.ticker.start(this.opts.dataHost.heartbeat.intervalMs);
  }

  kick(): void {
    if (!this.stopped) void this.serial.run();
  }

  /** Closes the lock connections (COM_QUIT): the servers free this instance's locks at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker.stop();
    if (this.closeWatch !== undefined) clearInterval(this.closeWatch);
    this.opts.store.off('change', this.onChange);
    await this.serial.settle();
    await Promise.all([...this.links.values()].map((l) => l.close()));
    this.links.clear();
  }

  private writerId(): HostId {
    const v = this.opts.store.view;
    return v.hosts.find((h) => h.role === 'write' && h.index === v.writerIndex)!.id;
  }

  private link(h: HostView): LockLink {
    let l = this.links.get(h.id);
    if (l === undefined) {
      l = new LockLink(h, this.opts);
      this.links.set(h.id, l);
    }
    return l;
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const { store, cluster, logger } = this.opts;
    const hosts = store.view.hosts;
    for (const id of this.links.keys()) {
      if (!hosts.some((h) => h.id === id)) {
        void this.links.get(id)!.close();
        this.links.delete(id);
      }
    }
    const writers = hosts.filter((h) => h.role === 'write').map((h) => h.id);
    const names = writers.map((id) => this.names.writer(id));
    const read = (h: HostView): Promise<Answer | undefined> => this.link(h).read(this.leadLock, writers, names);

    // 1. What every server says.
    const answers = await Promise.all(hosts.map(read));

    // 2. Free lead locks, in configured order, unless another instance holds an earlier one.
    if (this.pauseRounds > 0) this.pauseRounds--;
    else {
      for (let i = 0; i < hosts.length; i++) {
        const a = answers[i];
        if (a === undefined || a.leadHolder === a.self) continue;
        if (a.leadHolder !== null) break;
        const got = await this.link(hosts[i]!).tryLock(this.leadLock);
        answers[i] = await read(hosts[i]!);
        if (!got) break;
      }
    }
    const observe = (): LockObservation[] => hosts.map((h, i) => ({ hostId: h.id, answer: answers[i] }));
    let facts = judgeLocks(observe(), cluster.majority, cluster.instanceName);

    // 4. The writer lock: held by the leader wherever it leads, by nobody else (all servers at
    //    once: the others see the new writer as soon as one of them shows it).
    const mine = writers[store.view.writerIndex];
    await Promise.all(
      hosts.map(async (h, i) => {
        const a = answers[i];
        if (a === undefined) return;
        const leadsHere = facts.leading && a.leadHolder === a.self;
        let touched = false;
        for (let w = 0; w < writers.length; w++) {
          const holder = a.writerHolders.get(writers[w]!);
          const want = leadsHere && writers[w] === mine;
          if (want && holder === null) touched = (await this.link(h).tryLock(names[w]!)) || touched;
          else if (!want && holder === a.self) touched = (await this.link(h).release(names[w]!)) || touched;
        }
        if (touched) answers[i] = await read(h);
      }),
    );
    facts = judgeLocks(observe(), cluster.majority, cluster.instanceName);

    // 5. A lead that does not come: give its locks back, then wait a little.
    if (facts.leading || facts.held.length === 0) this.roundsWithoutLead = 0;
    else if (++this.roundsWithoutLead >= GIVE_BACK_AFTER) {
      this.roundsWithoutLead = 0;
      this.pauseRounds = 1 + Math.floor(Math.random() * 3);
      logger.warn(
        { held: facts.held, needed: facts.needed, pauseRounds: this.pauseRounds },
        'cooperation: holding lead locks without a majority; giving them back so another instance can lead',
      );
      for (const id of facts.held) {
        const h = hosts.find((x) => x.id === id)!;
        await this.link(h).release(this.leadLock);
        answers[hosts.indexOf(h)] = await read(h);
      }
      facts = judgeLocks(observe(), cluster.majority, cluster.instanceName);
    }
    if (!this.stopped) store.dispatch({ type: 'cooperation', facts });
  }
}

/** One server's lock connection. Any failure drops the connection (and with it the locks). */
class LockLink {
  private conn: mysql.Connection | undefined;
  private connecting: Promise<mysql.Connection> | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly host: HostView,
    private readonly opts: BackendLocksOptions,
  ) {}

  private get timeoutMs(): number {
    return this.opts.dataHost.heartbeat.timeoutMs;
  }

  private async connection(): Promise<mysql.Connection> {
    if (this.conn !== undefined) return this.conn;
    const dh = this.opts.dataHost;
    this.connecting ??= (async () => {
      const c = await mysql.createConnection({
        host: this.host.host,
        port: this.host.port,
        user: dh.user,
        password: dh.password,
        connectTimeout: this.timeoutMs,
        ...(this.opts.ssl ? { ssl: this.opts.ssl } : {}),
      });
      c.on('error', () => this.drop());
      try {
        await c.query(`SET SESSION wait_timeout = ${this.opts.cluster.lockTimeoutSeconds}`);
      } catch (err) {
        c.destroy();
        throw err;
      }
      return c;
    })().finally(() => (this.connecting = undefined));
    this.conn = await this.connecting;
    return this.conn;
  }

  private drop(): void {
    this.conn?.destroy();
    this.conn = undefined;
  }

  private async query(sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      const c = await withTimeout(this.connection(), this.timeoutMs, `lock connection to ${this.host.id}: no answer in ${this.timeoutMs} ms`);
      const [rows] = await withTimeout(c.query(sql, params), this.timeoutMs, `lock query on ${this.host.id}: no answer in ${this.timeoutMs} ms`);
      if (this.lastError !== undefined) {
        this.opts.logger.info({ backend: this.host.id }, 'cooperation: lock connection works again');
        this.lastError = undefined;
      }
      return rows as Record<string, unknown>[];
    } catch (err) {
      this.drop();
      const message = (err as Error).message;
      if (this.lastError === undefined) this.opts.logger.warn({ backend: this.host.id, err: message }, 'cooperation: lock connection lost (its locks are gone)');
      this.lastError = message;
      throw err;
    }
  }

  /** Who holds the lead lock and each writer lock on this server; undefined = it did not answer. */
  async read(lead: string, writers: readonly HostId[], names: readonly string[]): Promise<Answer | undefined> {
    const cols = names.map((_, i) => `, IS_USED_LOCK(?) AS w${i}`).join('');
    const sql =
      `SELECT CONNECTION_ID() AS self, IS_USED_LOCK(?) AS lead${cols}, ` +
      `(SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = IS_USED_LOCK(?)) AS leadFrom`;
    try {
      const rows = await this.query(sql, [lead, ...names, lead]);
      const r = rows[0] ?? {};
      const id = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
      const self = Number(r['self']);
      const leadHolder = id(r['lead']);
      const from = r['leadFrom'];
      return {
        self,
        leadHolder,
        writerHolders: new Map(writers.map((w, i) => [w, id(r[`w${i}`])])),
        ...(leadHolder !== null && leadHolder !== self && typeof from === 'string' ? { leadHolderFrom: from } : {}),
      };
    } catch {
      return undefined;
    }
  }

  /** GET_LOCK(name, 0): true when this connection holds it now. */
  async tryLock(name: string): Promise<boolean> {
    try {
      const rows = await this.query('SELECT GET_LOCK(?, 0) AS got', [name]);
      return Number(rows[0]?.['got']) === 1;
    } catch {
      return false;
    }
  }

  async release(name: string): Promise<boolean> {
    try {
      await this.query('SELECT RELEASE_LOCK(?) AS released', [name]);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (c === undefined) return;
    await withTimeout(c.end(), this.timeoutMs, 'close').catch(() => c.destroy());
  }
}
