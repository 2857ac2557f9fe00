/**
 * Causal reads (session.consistency): making sure the readHost a read lands on has applied the
 * writes the read must see, by GTID. The statement runner asks, per read:
 *  - mustWait: is a wait needed at all (not on the writeHost, nor on a host known to have them);
 *  - relayAfterWait: the wait in the same packet as the read, the read's answer relayed only if
 *    the wait succeeded (no round trip);
 *  - waitAlone: a wait of its own first, where the read cannot carry it (a replay of USE, a lazy
 *    prepare, COM_STMT_PREPARE).
 * Every wait is counted and timed, and a successful one teaches ReplicaPositions that host's
 * position.
 */
import { BackendSqlError, type BackendConnection, type ClientSink } from '../backend/backend-connection.js';
import type { OkView, ResponseShape, ResponseSummary } from '../backend/response-scanner.js';
import { waitSql, type GtidPosition } from '../cluster/gtid.js';
import { CONSISTENCY_WAIT_BUCKETS } from './session-context.js';
import type { SessionScope } from './session-scope.js';

/** MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET answered 0: the GTIDs are applied. */
const gtidReached = (rows: (string | null)[][]): boolean => rows[0]?.[0] === '0';

export class CausalReads {
  constructor(private readonly scope: SessionScope) {}

  /**
   * Whether a read on `conn` must wait for `need` first: not on the writeHost, nor on a host
   * known (monitor positions, earlier waits) to have it — those count as served without a wait.
   */
  mustWait(conn: BackendConnection, need: GtidPosition): boolean {
    const { ctx } = this.scope;
    if (conn.hostId === ctx.cluster().writer?.id || ctx.positions.covers(conn.hostId, need)) {
      ctx.stats.consistency.none++;
      return false;
    }
    return true;
  }

  /** Whether `conn`'s host has `need`, waiting there (a round trip) when it is not known to. */
  async caughtUp(conn: BackendConnection, need: GtidPosition): Promise<boolean> {
    return !this.mustWait(conn, need) || this.waitAlone(conn, need);
  }

  /** A wait of its own before anything else runs on `conn`; true when `need` was reached in time. */
  async waitAlone(conn: BackendConnection, need: GtidPosition): Promise<boolean> {
    const started = performance.now();
    let reached = false;
    try {
      reached = gtidReached(await conn.query(waitSql(conn.flavor, need, this.timeoutMs())));
    } catch (err) {
      if (!(err instanceof BackendSqlError)) throw err; // an ERR (replication not set up): not reached
    }
    this.recordWait((performance.now() - started) / 1000);
    if (reached) this.learn(conn, need);
    return reached;
  }

  /**
   * Sends the wait and `command` in one packet and relays the command's answer to `client` only
   * if the wait succeeded; undefined when it did not (the answer was read and dropped).
   */
  async relayAfterWait(
    conn: BackendConnection,
    need: GtidPosition,
    command: Buffer,
    shape: ResponseShape,
    client: ClientSink,
    firstSeq: number,
    okView: OkView,
  ): Promise<ResponseSummary | undefined> {
    const waited = await conn.relayAfter(waitSql(conn.flavor, need, this.timeoutMs()), gtidReached, command, shape, client, firstSeq, okView);
    this.recordWait(waited.prefixMs / 1000);
    if (!waited.accepted) return undefined;
    this.learn(conn, need);
    return waited.summary;
  }

  private timeoutMs(): number {
    return this.scope.ctx.config().session.consistencyTimeoutMs;
  }

  private learn(conn: BackendConnection, need: GtidPosition): void {
    this.scope.ctx.positions.reached(conn.hostId, need);
    this.scope.ctx.stats.consistency.waited++;
  }

  private recordWait(seconds: number): void {
    const counts = this.scope.ctx.stats.consistency;
    let i = 0;
    while (i < CONSISTENCY_WAIT_BUCKETS.length && seconds > CONSISTENCY_WAIT_BUCKETS[i]!) i++;
    counts.waitBuckets[i]!++;
    counts.waitSum += seconds;
  }
}
