/**
 * Backend connection pools: one generic-pool per (host, wire format, handshake collation).
 *
 * Keying by wire format lets raw results be relayed unchanged to every client (a client that
 * negotiated CLIENT_DEPRECATE_EOF must get OK-terminated result sets, one that did not must get
 * EOF packets). Keying by collation makes the common case need no `SET NAMES` at all.
 *
 * Every socket has exactly one owner: the pool while idle, a session while borrowed. Counters are
 * read from the pools themselves, never kept on the side (user-pain #13).
 */
import genericPool from 'generic-pool';
import type { Logger } from 'pino';
import type { PoolConfig } from '../config/types.js';
import { BackendConnection, BackendLacksCapabilities, type BackendEndpoint } from './backend-connection.js';
import { backendLogThrottle } from './log-throttle.js';

export interface PoolKey {
  readonly wireCapabilities: number;
  readonly charset: number;
  /**
   * MariaDB extended capabilities the client negotiated (absent = 0): extended metadata changes
   * the bytes of column definitions, so they are part of the wire format too.
   */
  readonly mariadbCapabilities?: number;
}

function keyString(key: PoolKey): string {
  return `${key.wireCapabilities}/${key.charset}/${key.mariadbCapabilities ?? 0}`;
}

/** How long a failed greeting probe (learnCapabilities) keeps the next one from starting. */
const LEARN_RETRY_MS = 5_000;

interface KeyedPool {
  readonly key: PoolKey;
  readonly pool: genericPool.Pool<BackendConnection>;
}

/** One backend socket as the admin port shows it (SHOW @@BACKEND). */
export interface BackendSocketInfo {
  readonly serial: number;
  readonly hostId: string;
  /** Server thread id (CONNECTION_ID() on the backend, PROCESSLIST Id). */
  readonly threadId: number;
  readonly localPort: number | undefined;
  /** idle: in the pool; held: lent to a session, between statements; busy: a statement runs. */
  readonly state: 'idle' | 'held' | 'busy';
  readonly schema: string | undefined;
  readonly charset: number;
  readonly tls: boolean;
  /** Session state that needs a reset before anyone else may use it (temporary tables, locks …). */
  readonly dirty: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

export interface HostPoolStats {
  readonly hostId: string;
  /** Connections lent to sessions right now. */
  readonly borrowed: number;
  /** Idle connections in the pools. */
  readonly idle: number;
  /** Statements waiting for a connection. */
  readonly waiting: number;
}

/** The pools of one backend host. */
export class HostPools {
  readonly hostId: string;
  private readonly pools = new Map<string, KeyedPool>();
  private readonly endpoint: BackendEndpoint;
  private readonly config: PoolConfig;
  private readonly log: Logger;
  /** Statements sent to this host since start (metrics: sluice_backend_statements_total). */
  statements = 0;
  /** Version string from the first handshake, advertised to clients when this is the writer. */
  serverVersion: string | undefined;
  /**
   * MariaDB extended capabilities this host's greeting offers (0 for MySQL); undefined until a
   * connection to it has been opened. This is the one place the proxy keeps that knowledge: each
   * new connection's greeting refreshes it (a server replaced by another version on the same
   * address), and the front end's greeting offers what every host offers (app.ts).
   */
  mariadbCapabilities: number | undefined;
  private learning: Promise<void> | undefined;
  private learnFailedAt = 0;
  private closed = false;

  constructor(endpoint: BackendEndpoint, config: PoolConfig, log: Logger) {
    this.endpoint = endpoint;
    this.config = config;
    this.hostId = `${endpoint.host}:${endpoint.port}`;
    this.log = log.child({ backend: this.hostId });
  }

  /**
   * Borrows a connection with the given wire format. Waits at most `acquireTimeoutMs`; rejects
   * when the host cannot be reached (the caller turns that into a MySQL error or tries another).
   */
  async acquire(key: PoolKey): Promise<BackendConnection> {
    if (this.closed) throw new Error(`pools of ${this.hostId} are closed`);
    // A host known to lack what the session's client negotiated (added after the client
    // connected) cannot serve it: refuse without a connect attempt, so a read goes elsewhere.
    const missing = ((key.mariadbCapabilities ?? 0) & ~(this.mariadbCapabilities ?? 0xffffffff)) >>> 0;
    if (missing !== 0) throw new Error(`backend lacks MariaDB capabilities 0x${missing.toString(16)} this client negotiated`);
    return this.poolFor(key).acquire();
  }

  /**
   * Opens one connection just to read the greeting when nothing is known about this host yet
   * (start-up, a backend added live, a host that was down). At most one probe runs at a time,
   * and a failed one is not repeated for LEARN_RETRY_MS. Never throws.
   */
  learnCapabilities(): Promise<void> {
    if (this.mariadbCapabilities !== undefined || this.closed) return Promise.resolve();
    if (this.learning) return this.learning;
    if (Date.now() - this.learnFailedAt < LEARN_RETRY_MS) return Promise.resolve();
    this.learning = this.connectDirect({ wireCapabilities: 0, charset: 45 })
      .then((conn) => {
        this.noteGreeting(conn);
        conn.quit();
      })
      .catch((err: unknown) => {
        this.learnFailedAt = Date.now();
        this.log.debug({ err: (err as Error).message }, 'greeting probe failed');
      })
      .finally(() => {
        this.learning = undefined;
      });
    return this.learning;
  }

  private noteGreeting(conn: BackendConnection): void {
    this.serverVersion ??= conn.serverVersion;
    this.mariadbCapabilities = conn.serverMariadbCapabilities;
  }

  /**
   * Whether an acquire with this key would have to wait (no idle connection and no room to open
   * one). A session gives back what it keeps before it waits, so sessions never deadlock.
   */
  wouldWait(key: PoolKey): boolean {
    const entry = this.pools.get(keyString(key));
    if (!entry) return false;
    const p = entry.pool;
    return p.available <= p.pending && p.size >= p.max;
  }

  /**
   * Returns a healthy, clean connection to the pool that lent it — also when that pool has been
   * retired meanwhile (clearIdle, close): its drain waits for exactly these returns.
   */
  release(conn: BackendConnection): void {
    const pool = this.owner.get(conn);
    if (!pool || !pool.isBorrowedResource(conn)) {
      conn.destroy();
      return;
    }
    if (!conn.alive || conn.isBusy || conn.state.dirty) {
      void pool.destroy(conn);
      return;
    }
    void pool.release(conn);
  }

  /** Closes a borrowed connection that cannot be trusted any more. */
  discard(conn: BackendConnection): void {
    const pool = this.owner.get(conn);
    if (pool && pool.isBorrowedResource(conn)) void pool.destroy(conn);
    else conn.destroy();
  }

  /** Every open connection of this host, idle or lent (for aborting work on a dead host). */
  private readonly live = new Set<BackendConnection>();

  /**
   * The host went down: fails every statement still running on it, so a read that has not
   * streamed anything yet is retried elsewhere and everything else gets an error — instead of
   * waiting on a hung server (SIGSTOP, dead network) for ever.
   */
  abortInFlight(reason: string): number {
    let aborted = 0;
    for (const conn of this.live) {
      if (!conn.alive) {
        this.live.delete(conn); // closed outside the pool's destroy path
        continue;
      }
      if (conn.isBusy) {
        this.log.warn({ backend: this.hostId, thread: conn.threadId, reason }, 'aborting a statement on a backend that went down or lost the writer role');
        conn.destroy();
        aborted++;
      }
    }
    return aborted;
  }

  /**
   * The operator cuts the host off (SET OFFLINE … FORCE): every connection lent out is closed,
   * busy or not — a statement running there fails (a read that sent nothing yet retries
   * elsewhere), a transaction kept there fails at its next statement. Idle ones: clearIdle().
   */
  cutAll(reason: string): number {
    let cut = 0;
    for (const conn of this.live) {
      if (!conn.alive) {
        this.live.delete(conn);
        continue;
      }
      const pool = this.owner.get(conn);
      if (pool && !pool.isBorrowedResource(conn)) continue; // idle in the pool
      this.log.warn({ backend: this.hostId, thread: conn.threadId, busy: conn.isBusy, reason }, 'cutting a backend connection');
      conn.destroy();
      cut++;
    }
    return cut;
  }

  /** Every open connection of this host (SHOW @@BACKEND). */
  connections(): BackendSocketInfo[] {
    const out: BackendSocketInfo[] = [];
    for (const conn of this.live) {
      if (!conn.alive) continue;
      const pool = this.owner.get(conn);
      const lent = pool === undefined || pool.isBorrowedResource(conn);
      out.push({
        serial: conn.serial,
        hostId: this.hostId,
        threadId: conn.threadId,
        localPort: conn.localPort,
        state: !lent ? 'idle' : conn.isBusy ? 'busy' : 'held',
        schema: conn.state.schema,
        charset: conn.charset,
        tls: conn.secure,
        dirty: conn.state.dirty,
        createdAt: conn.createdAt,
        lastUsedAt: conn.lastUsedAt,
      });
    }
    return out.sort((a, b) => a.serial - b.serial);
  }

  /** The pool each connection came from (pools are replaced by clearIdle; connections outlive that). */
  private readonly owner = new WeakMap<BackendConnection, genericPool.Pool<BackendConnection>>();

  /** Opens a connection outside the pools (e.g. to send KILL while the pool is exhausted). */
  connectDirect(key: PoolKey): Promise<BackendConnection> {
    return BackendConnection.connect({
      ...this.endpoint,
      ...key,
      connectTimeoutMs: this.config.connectTimeoutMs,
      logger: this.log,
    });
  }

  stats(): HostPoolStats {
    let borrowed = 0;
    let idle = 0;
    let waiting = 0;
    for (const { pool } of this.pools.values()) {
      borrowed += pool.borrowed;
      idle += pool.available;
      waiting += pool.pending;
    }
    return { hostId: this.hostId, borrowed, idle, waiting };
  }

  /** Drops idle connections (e.g. the host went down); borrowed ones are closed on release. */
  async clearIdle(): Promise<void> {
    // generic-pool has no "evict all idle" call: drain+clear would refuse new acquires, so
    // replace every pool; borrowed connections of the old pools are destroyed on release.
    const old = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(old.map(async ({ pool }) => {
      await pool.drain();
      await pool.clear();
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.clearIdle();
  }

  private poolFor(key: PoolKey): genericPool.Pool<BackendConnection> {
    const k = keyString(key);
    const existing = this.pools.get(k);
    if (existing) return existing.pool;
    const cfg = this.config;
    const pool = genericPool.createPool<BackendConnection>(
      {
        create: async () => {
          let conn: BackendConnection;
          try {
            conn = await BackendConnection.connect({
              ...this.endpoint,
              ...key,
              connectTimeoutMs: cfg.connectTimeoutMs,
              logger: this.log,
            });
          } catch (err) {
            if (err instanceof BackendLacksCapabilities) this.mariadbCapabilities = err.serverMariadbCapabilities;
            throw err;
          }
          this.noteGreeting(conn);
          this.owner.set(conn, pool);
          this.live.add(conn);
          return conn;
        },
        destroy: async (conn) => {
          this.live.delete(conn);
          if (conn.alive && !conn.isBusy) conn.quit();
          else conn.destroy();
        },
        // Cheap check on borrow: a socket the server closed (wait_timeout, restart) is refused
        // here and replaced, so the client never sees it.
        validate: async (conn) => conn.alive && !conn.isBusy && !conn.state.dirty,
      },
      {
        min: cfg.min,
        max: cfg.max,
        testOnBorrow: true,
        acquireTimeoutMillis: cfg.acquireTimeoutMs,
        idleTimeoutMillis: cfg.idleTimeoutMs,
        evictionRunIntervalMillis: Math.max(1000, Math.min(cfg.idleTimeoutMs / 2, 30_000)),
        // Create errors reject the waiting acquire instead of retrying forever.
        autostart: true,
      },
    );
    pool.on('factoryCreateError', (err: unknown) => {
      // Once per retry of every waiting client while the host is down: rate-limited per host.
      const message = (err as Error).message;
      backendLogThrottle.hit(`backend connect failed ${this.hostId}`, ({ suppressed, windowMs }) => {
        if (suppressed === 0) this.log.warn({ err: message }, 'backend connect failed');
        else this.log.warn({ err: message, suppressed, windowMs }, `backend connect failed (${suppressed} more in the last ${windowMs / 1000} s)`);
      });
      // generic-pool keeps a failed create's waiter queued; fail it now so the session can
      // answer with a MySQL error (or pick another host) instead of waiting for the timeout.
      const waiters = (pool as unknown as { _waitingClientsQueue?: { dequeue(): { reject(e: unknown): void } | undefined; length: number } })._waitingClientsQueue;
      const w = waiters && waiters.length > 0 ? waiters.dequeue() : undefined;
      w?.reject(err);
    });
    this.pools.set(k, { key, pool });
    return pool;
  }
}
