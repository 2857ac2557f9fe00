/**
 * Planned switchover (admin `SWITCHOVER dh1:i`, and `SWITCH @@DATASOURCE dh1:i` with
 * failover.promote while the writeHost is up): the writer role moves with no client error and no
 * lost write, where a failover is a crash.
 *
 *  0. The new writeHost catches up with the old one while writes still flow (bounded by
 *     catchUpTimeoutMs; again while a round takes over 300 ms, at most 5 rounds), so the
 *     catch-up in step 4 is short.
 *  1. New writes are held back (the view's `writesPaused`): a statement that needs the writeHost
 *     and is not part of an open transaction waits in the proxy (bounded by promotionWaitMs).
 *  2. Open transactions on the old writeHost finish (bounded: half of promotionWaitMs); those
 *     still open then are cut off when the old writeHost turns read-only, and counted.
 *  3. The old writeHost is fenced (`read_only=ON`) and its binary log position read.
 *  4. The new writeHost applies everything up to that position (MASTER_GTID_WAIT /
 *     WAIT_FOR_EXECUTED_GTID_SET, bounded by what is left).
 *  5. The writer role moves (a manual switch): the failover effects promote the new writeHost and
 *     point the others at it, the old one included (failover.rejoin).
 *  6. Once the new writeHost is writable, the held writes go there.
 * A step that fails undoes what was done (read_only=OFF again on the old writeHost) and writes
 * resume where they were; the operator gets the reason.
 */
import type mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { DataHostConfig } from '../config/types.js';
import { sameEndpoint } from '../config/endpoint.js';
import { flavorOf, type GtidFlavor } from './gtid.js';
import { withAdminConnection } from './admin-connection.js';
import { mayDecide } from './cooperation-rules.js';
import type { ClusterStore } from './store.js';
import type { ClusterView, HostView } from './view.js';

export interface SwitchoverDeps {
  readonly store: ClusterStore;
  readonly dataHost: () => DataHostConfig;
  readonly ssl?: mysql.SslOptions;
  readonly logger: Logger;
  /** Client sessions with an open transaction (or pinned state) on `hostId`, in every worker. */
  readonly openOn: (hostId: string) => Promise<number>;
}

export interface SwitchoverReport {
  readonly from: string;
  readonly to: string;
  /** The new writer's catch-up before writes were held back. */
  readonly preCatchUpMs: number;
  /** How long new writes were held back. */
  readonly pausedMs: number;
  readonly drainMs: number;
  /** Transactions still open on the old writeHost when it turned read-only. */
  readonly cutTransactions: number;
  readonly catchUpMs: number;
  readonly position: string;
}

export class SwitchoverError extends Error {
  /** `refused`: it stopped before holding any write (a precondition, or the catch-up before the pause). */
  constructor(
    message: string,
    readonly refused = false,
  ) {
    super(message);
  }
}

/** The server's own binary log position (MariaDB gtid_binlog_pos, MySQL gtid_executed). */
async function binlogPosition(c: mysql.Connection): Promise<{ flavor: GtidFlavor; pos: string }> {
  const [v] = await c.query('SELECT VERSION() AS v');
  const flavor = flavorOf(String((v as { v: unknown }[])[0]?.v));
  const [p] = await c.query(flavor === 'mariadb' ? 'SELECT @@GLOBAL.gtid_binlog_pos AS p' : 'SELECT @@GLOBAL.gtid_executed AS p');
  return { flavor, pos: String((p as { p: unknown }[])[0]?.p ?? '').replace(/\s+/g, '') };
}

/**
 * Waits (at most `seconds`) until the server has applied `pos`, the whole set as read (not
 * gtid.ts waitSql's highest number per stream: a switchover hands over every transaction).
 */
async function applied(c: mysql.Connection, flavor: GtidFlavor, pos: string, seconds: number): Promise<boolean> {
  const sql = flavor === 'mariadb' ? 'SELECT MASTER_GTID_WAIT(?, ?) AS w' : 'SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS w';
  const [r] = await c.query(sql, [pos, Math.max(0.1, seconds)]);
  return Number((r as { w: unknown }[])[0]?.w) === 0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Why `target` cannot take over from `writer` in a switchover; undefined = it can. */
export function switchoverProblem(view: ClusterView, target: HostView | undefined, promote: boolean): string | undefined {
  const writer = view.hosts.find((h) => h.role === 'write' && h.index === view.writerIndex)!;
  if (!promote) return 'a switchover needs failover.promote: true (it turns read_only on and off)';
  if (target === undefined) return 'no such writeHost';
  if (target.id === writer.id) return `writeHost ${target.index} (${target.id}) is already the active writeHost`;
  if (writer.status !== 'up') return `the active writeHost ${writer.id} is ${writer.status}: nothing to hand over (SWITCH @@DATASOURCE moves the role at once)`;
  if (target.status !== 'up') return `writeHost ${target.index} (${target.id}) is ${target.status}`;
  const r = target.replication;
  if (r === undefined || r.probeError !== undefined) return `the replication state of ${target.id} is not known`;
  if (!r.isReplica || r.sourceHost === undefined || r.sourcePort === undefined || !sameEndpoint(r.sourceHost, r.sourcePort, writer.host, writer.port)) {
    return `${target.id} does not replicate from the active writeHost ${writer.id}: it would not have its writes`;
  }
  if (!r.sqlRunning || r.ioState !== 'yes') return `${target.id} does not replicate right now (IO ${r.ioState}, SQL ${r.sqlRunning ? 'running' : 'stopped'})`;
  return undefined;
}

export async function switchover(deps: SwitchoverDeps, toIndex: number, reason: string): Promise<SwitchoverReport> {
  const { store, logger } = deps;
  const dh = deps.dataHost();
  const budget = dh.failover.promotionWaitMs;
  const view = store.view;
  const writer = view.hosts.find((h) => h.role === 'write' && h.index === view.writerIndex)!;
  const target = view.hosts.find((h) => h.role === 'write' && h.index === toIndex);
  if (!mayDecide(store.snapshot)) {
    throw new SwitchoverError(`this instance does not lead the dataHost's instances (${view.cooperation?.facts?.leader ?? 'no instance leads now'}): run the switchover there`, true);
  }
  const problem = switchoverProblem(view, target, dh.failover.promote);
  if (problem !== undefined) throw new SwitchoverError(`switchover to writeHost ${toIndex} refused: ${problem}`, true);
  const to = target!;
  const admin = <T>(h: HostView, ms: number, fn: (c: mysql.Connection) => Promise<T>): Promise<T> => withAdminConnection(dh, deps.ssl, h, Math.max(ms, 100), fn);
  const log = logger.child({ dataHost: dh.name, from: writer.id, to: to.id });

  // 0. Before anything waits: the new writer catches up with what the old one has now (a
  //    replica under load lags), so the catch-up while writes are held is only the last moment's.
  // Again while each round still took long: a replica under load falls behind again during a
  // long catch-up, and what it lags when writes are held is what the clients wait for.
  const ahead = Date.now();
  const catchUpUntil = ahead + dh.failover.catchUpTimeoutMs;
  for (let round = 0; round < 5; round++) {
    const roundStarted = Date.now();
    const now = await admin(writer, dh.heartbeat.timeoutMs * 3, binlogPosition);
    if (now.pos === '') break;
    const left = catchUpUntil - Date.now();
    if (left <= 0) throw new SwitchoverError(`switchover refused: ${to.id} did not catch up with ${writer.id} within failover.catchUpTimeoutMs`, true);
    if (!(await admin(to, left, (t) => applied(t, now.flavor, now.pos, left / 1000 - 0.5)))) {
      throw new SwitchoverError(`switchover refused: ${to.id} did not catch up with ${writer.id} (${now.pos}) within failover.catchUpTimeoutMs`, true);
    }
    if (Date.now() - roundStarted < 300) break;
  }
  const preCatchUpMs = Date.now() - ahead;

  const pausedAt = Date.now();
  store.dispatch({ type: 'pause-writes', reason: `switchover from ${writer.id} to ${to.id}` });
  let fenced = false;
  let switched = false;
  // What follows holds writes back: it must end within promotionWaitMs, or they fail.
  const started = pausedAt;
  const deadline = started + budget;
  try {
    // 2. Open transactions on the old writer finish.
    const drainUntil = started + Math.floor(budget / 2);
    let open = await deps.openOn(writer.id);
    while (open > 0 && Date.now() < drainUntil) {
      await sleep(20);
      open = await deps.openOn(writer.id);
    }
    const drainMs = Date.now() - started;

    // 3. Fence the old writer, then read how far it got.
    const position = await admin(writer, deadline - Date.now(), async (c) => {
      await c.query('SET GLOBAL read_only = ON');
      fenced = true;
      return binlogPosition(c);
    });
    store.dispatch({ type: 'read-only', hostId: writer.id, readOnly: true, reason: 'fenced by switchover (SET GLOBAL read_only=ON)' });

    // 4. The new writer applies everything the old one wrote.
    const catchUpStarted = Date.now();
    if (position.pos !== '') {
      const seconds = (deadline - Date.now() - 500) / 1000;
      if (!(await admin(to, deadline - Date.now(), (c) => applied(c, position.flavor, position.pos, seconds)))) {
        throw new SwitchoverError(`${to.id} did not apply ${position.pos} in time`);
      }
    }
    const catchUpMs = Date.now() - catchUpStarted;

    // 5. The role moves; the failover effects promote the new writer and rejoin the others.
    const refusal = store.switchWriter(toIndex, reason).find((t) => t.kind === 'writer-refused');
    if (refusal !== undefined) throw new SwitchoverError(refusal.reason);
    switched = true;

    // 6. Writes resume once the new writer is writable.
    while (!(store.view.writer?.id === to.id && store.view.writer.readOnly === false)) {
      if (Date.now() >= deadline) throw new SwitchoverError(`${to.id} was not promoted within failover.promotionWaitMs (${budget} ms)`);
      await sleep(10);
    }
    const report: SwitchoverReport = { from: writer.id, to: to.id, preCatchUpMs, pausedMs: Date.now() - started, drainMs, cutTransactions: open, catchUpMs, position: position.pos };
    log.warn({ ...report }, 'switchover done');
    return report;
  } catch (err) {
    log.error({ err: (err as Error).message, fenced, switched }, 'switchover failed');
    if (fenced && !switched) {
      // Undo: the old writer takes writes again.
      await admin(writer, 5_000, async (c) => c.query('SET GLOBAL read_only = OFF')).catch((e: unknown) =>
        log.error({ err: (e as Error).message }, 'switchover: could not turn read_only off again on the old writeHost'),
      );
      store.dispatch({ type: 'read-only', hostId: writer.id, readOnly: false, reason: 'switchover undone (SET GLOBAL read_only=OFF)' });
    }
    throw err instanceof SwitchoverError ? err : new SwitchoverError(`switchover failed: ${(err as Error).message}`);
  } finally {
    store.dispatch({ type: 'resume-writes' });
  }
}
