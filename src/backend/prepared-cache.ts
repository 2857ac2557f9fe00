/**
 * The statements prepared on one backend connection: a bounded cache keyed by schema + SQL.
 * Client sessions never see these ids (the proxy translates), so sharing them between the
 * sessions that use the connection is safe.
 */
import { decodeStmtPrepareOk } from '../protocol/statements.js';
import { errFrom } from './internal-results.js';

/** A statement prepared on one backend connection. */
export interface PreparedOnBackend {
  /** The backend's statement id (valid on that connection only). */
  readonly id: number;
  readonly numParams: number;
  readonly numColumns: number;
  /** The PREPARE response as the server sent it (PREPARE_OK, definitions, EOFs), payloads. */
  readonly response: readonly Buffer[];
  /** When it was prepared, relative to every other backend prepare of this process. */
  readonly serial: number;
}

/** What the client was told at its own prepare (its column count, and when that prepare was). */
export interface PrepareTold {
  readonly numColumns: number;
  readonly serial: number;
}

/** What the cache needs of its connection. */
export interface PrepareChannel {
  /** COM_STMT_PREPARE; resolves with the response packets (payloads). */
  prepare(sql: string): Promise<Buffer[]>;
  /** COM_STMT_CLOSE (no response). */
  close(id: number): void;
}

/** Most statements one backend connection keeps prepared (the server's max_prepared_stmt_count is global). */
const PREPARED_PER_CONNECTION = 256;

/** Orders backend prepares across connections (see `prepared()`'s `told`). */
let nextPrepareSerial = 1;

export class PreparedCache {
  private readonly byKey = new Map<string, PreparedOnBackend>();

  constructor(private readonly channel: PrepareChannel) {}

  /**
   * The statement prepared on this connection for `sql` in `schema`, preparing it when it is not
   * (an ERR from the server becomes a BackendSqlError). `told` is what the client was told at its
   * own prepare: a cached statement prepared before that whose column count differs describes a
   * table that has changed since, so it is prepared again rather than executed under a shape
   * the client never saw.
   */
  async prepared(schema: string | undefined, sql: string, told?: PrepareTold): Promise<PreparedOnBackend> {
    const hit = this.cached(schema, sql, told);
    if (hit) {
      // Map order is insertion order: re-insert to mark it recently used.
      const key = keyOf(schema, sql);
      this.byKey.delete(key);
      this.byKey.set(key, hit);
      return hit;
    }
    return this.prepareFresh(schema, sql);
  }

  /** What prepared() would answer without asking the server; undefined when it would prepare. */
  cached(schema: string | undefined, sql: string, told?: PrepareTold): PreparedOnBackend | undefined {
    const hit = this.byKey.get(keyOf(schema, sql));
    return hit && (told === undefined || hit.numColumns === told.numColumns || hit.serial >= told.serial) ? hit : undefined;
  }

  /**
   * Prepares `sql` on the server now, whatever is cached: a client's COM_STMT_PREPARE must get
   * the metadata the server gives today (an ALTER TABLE since the cached prepare changes it).
   * The fresh statement replaces the cached one; the least recently used one is closed when the
   * cache is full, so a connection never holds more than PREPARED_PER_CONNECTION.
   */
  async prepareFresh(schema: string | undefined, sql: string): Promise<PreparedOnBackend> {
    const key = keyOf(schema, sql);
    const packets = await this.channel.prepare(sql);
    const first = packets[0]!;
    if (first[0] === 0xff) throw errFrom(first);
    const ok = decodeStmtPrepareOk(first);
    const entry: PreparedOnBackend = {
      id: ok.statementId,
      numParams: ok.numParams,
      numColumns: ok.numColumns,
      response: packets,
      serial: nextPrepareSerial++,
    };
    const old = this.byKey.get(key);
    if (old) {
      this.byKey.delete(key);
      this.channel.close(old.id);
    } else if (this.byKey.size >= PREPARED_PER_CONNECTION) {
      const [oldKey, lru] = this.byKey.entries().next().value as [string, PreparedOnBackend];
      this.byKey.delete(oldKey);
      this.channel.close(lru.id);
    }
    this.byKey.set(key, entry);
    return entry;
  }

  /** The server deallocated every statement of the connection (COM_RESET_CONNECTION, COM_CHANGE_USER). */
  clear(): void {
    this.byKey.clear();
  }
}

function keyOf(schema: string | undefined, sql: string): string {
  return `${schema ?? ''}\u0000${sql}`;
}
