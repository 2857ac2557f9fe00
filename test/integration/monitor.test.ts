/**
 * The monitor + cluster store + failover effects against real servers (a private sandbox:
 * primary, replica1, replica2 — killed, stopped and restarted here). No frontend: the view and
 * the transitions are what is checked.
 *
 * Also: a dead primary does not take the replicas out of read rotation (IO 'Connecting' is not
 * stopped), and after a switch a replica still following the old primary is not readable until
 * re-pointed at the new writer (source check).
 *
 * Detection bound: DOWN within retries × intervalMs + timeoutMs of the failure (+ slack for a
 * loaded machine); the measured times are printed as test diagnostics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { validateConfig } from '../../src/config/index.js';
import type { DataHostConfig } from '../../src/config/types.js';
import { ClusterStore } from '../../src/cluster/store.js';
import { initialState } from '../../src/cluster/reduce.js';
import type { Transition } from '../../src/cluster/state.js';
import { Monitor } from '../../src/cluster/monitor.js';
import { FailoverEffects } from '../../src/cluster/failover.js';
import { readDnIndex } from '../../src/cluster/dnindex.js';
import type { HostView } from '../../src/cluster/view.js';
import type { Sandbox, SandboxServer } from '../../src/sandbox/index.js';
import { startPrivateSandbox, testLogger, waitFor } from '../helpers/sandbox.js';

const HEARTBEAT = { intervalMs: 250, timeoutMs: 250, retries: 3 };
const REPLICATION = { maxLagSeconds: 10, checkEveryMs: 250, readmitAfter: 2 };
const SLACK_MS = 1_000;
const DOWN_BOUND_MS = HEARTBEAT.retries * HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs + SLACK_MS;

let sb: Sandbox;

before(async () => {
  sb = await startPrivateSandbox({ replicas: 2 });
});

after(async () => {
  await sb?.stop();
});

const ep = (s: SandboxServer) => ({ host: s.host, port: s.port });
const idOf = (s: SandboxServer) => `${s.host}:${s.port}`;

interface TestCluster {
  readonly dh: DataHostConfig;
  readonly store: ClusterStore;
  readonly effects: FailoverEffects;
  /** Every transition with the time it happened. */
  readonly log: { at: number; t: Transition }[];
  host(s: SandboxServer): HostView;
  /** Time of the first transition after `since` matching `pred`. */
  when(since: number, pred: (t: Transition) => boolean): number | undefined;
  close(): Promise<void>;
}

/** Wires store + effects + monitor exactly as app.ts does. */
async function startCluster(dataHost: Record<string, unknown>): Promise<TestCluster> {
  const dh = validateConfig({
    listen: { port: 0 },
    users: [{ name: 'app', password: 'app' }],
    dataHost: { name: 'dh1', user: sb.user, password: sb.password, heartbeat: HEARTBEAT, replication: REPLICATION, ...dataHost },
  }).dataHost;
  const logger = testLogger();
  const persisted = readDnIndex(dh.failover.dnindexFile, dh.name, dh.writeHosts.length);
  const store = new ClusterStore(initialState(dh, persisted ?? 0), logger.child({ component: 'cluster' }));
  const log: { at: number; t: Transition }[] = [];
  store.on('change', (_v, ts) => {
    for (const t of ts) log.push({ at: Date.now(), t });
  });
  const effects = new FailoverEffects({ store, dataHost: dh, logger: logger.child({ component: 'failover' }), persistedIndex: persisted });
  effects.start();
  const monitor = new Monitor({ dataHost: dh, hosts: store.view.hosts, dispatch: (e) => store.dispatch(e), logger });
  await monitor.probeAll();
  monitor.start();
  return {
    dh,
    store,
    effects,
    log,
    host: (s) => {
      const h = store.view.hosts.find((x) => x.id === idOf(s));
      assert.ok(h);
      return h;
    },
    when: (since, pred) => log.find((e) => e.at >= since && pred(e.t))?.at,
    async close() {
      await monitor.stop();
      await effects.stop();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Points `replica` at `source` (GTID positioning) and starts replicating, either flavor. */
async function repoint(replica: SandboxServer, source: SandboxServer): Promise<void> {
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (sb.kind === 'mariadb') {
    await replica.query('STOP SLAVE');
    await replica.query(
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${source.port}, MASTER_USER=${q(sb.replUser)}, ` +
        `MASTER_PASSWORD=${q(sb.replPassword)}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
    );
    await replica.query('START SLAVE');
  } else {
    await replica.query('STOP REPLICA');
    await replica.query(
      `CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=${source.port}, SOURCE_USER=${q(sb.replUser)}, ` +
        `SOURCE_PASSWORD=${q(sb.replPassword)}, SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1, GET_SOURCE_PUBLIC_KEY=1`,
    );
    await replica.query('START REPLICA');
  }
}

async function readOnlyOf(s: SandboxServer): Promise<number> {
  const rows = (await s.query('SELECT @@global.read_only AS ro')) as { ro: unknown }[];
  return Number(rows[0]?.ro);
}

describe('replicas: detection and read rotation', () => {
  let c: TestCluster;
  before(async () => {
    c = await startCluster({
      writeHosts: [ep(sb.primary)],
      readHosts: sb.replicas.map(ep),
      failover: { enabled: false, dnindexFile: path.join(sb.dir, 'replicas-dnindex.properties') },
    });
    await waitFor(() => sb.replicas.every((r) => c.host(r).status === 'up' && c.host(r).readable), { what: 'replicas up and readable' });
  });
  after(() => c?.close());

  test('SIGKILL a replica → DOWN within the bound; restarted → UP, then readable', { timeout: 90_000 }, async (t) => {
    const r = sb.replicas[1]!;
    const killedAt = Date.now();
    r.kill('SIGKILL');
    await waitFor(() => c.host(r).status === 'down', { timeoutMs: DOWN_BOUND_MS + 2_000, what: 'DOWN after SIGKILL' });
    const took = c.when(killedAt, (x) => x.kind === 'status' && x.hostId === idOf(r) && x.to === 'down')! - killedAt;
    t.diagnostic(`SIGKILL → DOWN in ${took} ms (bound ${DOWN_BOUND_MS - SLACK_MS} ms + ${SLACK_MS} ms slack)`);
    assert.ok(took <= DOWN_BOUND_MS, `DOWN after ${took} ms`);
    assert.equal(c.host(r).readable, false);
    assert.equal(c.host(sb.replicas[0]!).readable, true, 'the other replica is untouched');

    await r.start();
    await waitFor(() => c.host(r).status === 'up', { timeoutMs: 30_000, what: 'UP after restart' });
    await waitFor(() => c.host(r).readable, { timeoutMs: 30_000, what: 'readable after restart' });
    const back = c.log.filter((e) => e.t.kind === 'readable' && e.t.hostId === idOf(r) && e.t.to).at(-1);
    assert.match(back!.t.reason, /2 consecutive checks/);
  });

  test('SIGSTOP a replica → DOWN within the same bound; SIGCONT → UP', { timeout: 60_000 }, async (t) => {
    const r = sb.replicas[0]!;
    const stoppedAt = Date.now();
    r.kill('SIGSTOP');
    try {
      await waitFor(() => c.host(r).status === 'down', { timeoutMs: DOWN_BOUND_MS + 2_000, what: 'DOWN after SIGSTOP' });
      const took = c.when(stoppedAt, (x) => x.kind === 'status' && x.hostId === idOf(r) && x.to === 'down')! - stoppedAt;
      t.diagnostic(`SIGSTOP → DOWN in ${took} ms (bound ${DOWN_BOUND_MS - SLACK_MS} ms + ${SLACK_MS} ms slack)`);
      assert.ok(took <= DOWN_BOUND_MS, `DOWN after ${took} ms`);
      assert.equal(c.host(r).readable, false);
      assert.match(c.host(r).lastError ?? '', /timed out|ETIMEDOUT/);
    } finally {
      r.kill('SIGCONT');
    }
    const contAt = Date.now();
    await waitFor(() => c.host(r).status === 'up', { timeoutMs: 10_000, what: 'UP after SIGCONT' });
    t.diagnostic(`SIGCONT → UP in ${Date.now() - contAt} ms`);
    await waitFor(() => c.host(r).readable, { timeoutMs: 30_000, what: 'readable after SIGCONT' });
  });

  test('STOP SLAVE → not readable; START SLAVE → readable after readmitAfter healthy checks', { timeout: 60_000 }, async (t) => {
    const r = sb.replicas[0]!;
    await waitFor(() => c.host(r).readable, { timeoutMs: 30_000, what: 'readable to begin with' });
    const stopAt = Date.now();
    await r.query('STOP SLAVE');
    try {
      await waitFor(() => !c.host(r).readable, { timeoutMs: 5_000, what: 'out of rotation' });
      t.diagnostic(`STOP SLAVE → out of rotation in ${Date.now() - stopAt} ms`);
      assert.equal(c.host(r).status, 'up', 'still up: only replication stopped');
      assert.equal(c.host(r).replication?.sqlRunning, false);
      const out = c.log.filter((e) => e.t.kind === 'readable' && e.t.hostId === idOf(r) && !e.t.to).at(-1);
      assert.match(out!.t.reason, /replication stopped|thread not running/);
    } finally {
      await r.query('START SLAVE');
    }
    const startAt = Date.now();
    await waitFor(() => c.host(r).readable, { timeoutMs: 10_000, what: 'back in rotation' });
    const took = Date.now() - startAt;
    t.diagnostic(`START SLAVE → back in rotation in ${took} ms (readmitAfter ${REPLICATION.readmitAfter} × ${REPLICATION.checkEveryMs} ms)`);
    const back = c.log.filter((e) => e.t.kind === 'readable' && e.t.hostId === idOf(r) && e.t.to).at(-1);
    assert.match(back!.t.reason, /healthy for 2 consecutive checks/);
  });

  test('SIGKILL the primary → the replicas keep serving reads, before and after it is declared down (user-pain #11)', { timeout: 90_000 }, async (t) => {
    await waitFor(() => sb.replicas.every((r) => c.host(r).readable && c.host(r).replication?.ioState === 'yes'), {
      timeoutMs: 30_000,
      what: 'replicas readable and connected to begin with',
    });
    const r2 = sb.replicas[1]!;
    const killedAt = Date.now();
    sb.primary.kill('SIGKILL');
    try {
      // Sample the view over the whole detection window and 1.5 s beyond it.
      let samples = 0;
      let sawConnecting = false;
      let downAt: number | undefined;
      const notReadable: string[] = [];
      for (;;) {
        const now = Date.now();
        samples++;
        for (const r of sb.replicas) if (!c.host(r).readable) notReadable.push(`${r.name} at +${now - killedAt} ms`);
        if (c.host(r2).replication?.ioState === 'connecting') sawConnecting = true;
        if (downAt === undefined && c.host(sb.primary).status === 'down') downAt = now;
        if (downAt !== undefined && now - downAt >= 1_500 && sawConnecting) break;
        assert.ok(now - killedAt < DOWN_BOUND_MS + 10_000, `primary DOWN (${downAt !== undefined}) and replica2 seen 'connecting' (${sawConnecting})`);
        await sleep(20);
      }
      t.diagnostic(`primary DOWN after ${downAt! - killedAt} ms; ${samples} samples of the replicas' readable flag, all true`);
      assert.deepEqual(notReadable, []);
      assert.equal(c.host(r2).replication?.sqlRunning, true);
      const out = c.log.filter((e) => e.at >= killedAt && e.t.kind === 'readable' && e.t.hostId !== idOf(sb.primary));
      assert.deepEqual(out.map((e) => e.t), [], 'no readable transition of a replica');
    } finally {
      await sb.primary.start();
    }
    await waitFor(() => c.host(sb.primary).status === 'up', { timeoutMs: 30_000, what: 'primary UP after restart' });
    await waitFor(() => sb.replicas.every((r) => c.host(r).readable && c.host(r).replication?.ioState === 'yes'), {
      timeoutMs: 30_000,
      what: 'replicas reconnected to the restarted primary',
    });
  });
});

describe('writeHost failover with promotion and fencing', () => {
  let c: TestCluster;
  let dnindex: string;
  let primaryKilledAt = 0;
  before(async () => {
    dnindex = path.join(sb.dir, 'dnindex.properties');
    c = await startCluster({
      writeHosts: [ep(sb.primary), ep(sb.replicas[0]!)],
      readHosts: [ep(sb.replicas[1]!)],
      failover: { enabled: true, promote: true, dnindexFile: dnindex, user: sb.adminUser, password: sb.adminPassword },
    });
    await waitFor(() => c.store.view.hosts.every((h) => h.status === 'up' && h.readable), {
      timeoutMs: 30_000,
      what: 'every host up and readable',
    });
    await c.effects.idle();
  });
  after(() => c?.close());

  test('start-up without a dnindex file writes dh1=0', () => {
    assert.match(readFileSync(dnindex, 'utf8'), /^dh1=0$/m);
    assert.equal(c.store.view.writer?.id, idOf(sb.primary));
  });

  test('SIGKILL the primary → writer switches to index 1, which is promoted; dnindex says dh1=1', { timeout: 60_000 }, async (t) => {
    assert.equal(await readOnlyOf(sb.replicas[0]!), 1, 'replica1 starts read-only');
    const killedAt = Date.now();
    primaryKilledAt = killedAt;
    sb.primary.kill('SIGKILL');
    await waitFor(() => c.store.view.writerIndex === 1, { timeoutMs: DOWN_BOUND_MS + 2_000, what: 'the writer switch' });
    const switched = c.when(killedAt, (x) => x.kind === 'writer-switch')! - killedAt;
    t.diagnostic(`SIGKILL primary → writer switched in ${switched} ms`);
    assert.ok(switched <= DOWN_BOUND_MS, `switched after ${switched} ms`);
    const sw = c.log.find((e) => e.at >= killedAt && e.t.kind === 'writer-switch')!.t;
    assert.ok(sw.kind === 'writer-switch');
    assert.deepEqual([sw.fromIndex, sw.toIndex, sw.fromHostId, sw.toHostId, sw.manual], [0, 1, idOf(sb.primary), idOf(sb.replicas[0]!), false]);

    await waitFor(async () => (await readOnlyOf(sb.replicas[0]!)) === 0, { timeoutMs: 10_000, what: 'replica1 read_only=0' });
    await waitFor(() => c.store.view.writer?.readOnly === false, { timeoutMs: 5_000, what: 'the view to show a writable writer' });
    t.diagnostic(`SIGKILL primary → writable new writer in the view after ${Date.now() - killedAt} ms`);
    const rows = (await sb.replicas[0]!.query('SHOW SLAVE STATUS')) as Record<string, unknown>[];
    assert.ok(rows.length === 0 || (rows[0]!['Slave_SQL_Running'] === 'No' && rows[0]!['Slave_IO_Running'] === 'No'), 'replication stopped on the new writer');
    await waitFor(() => /^dh1=1$/m.test(readFileSync(dnindex, 'utf8')), { timeoutMs: 5_000, what: 'dnindex dh1=1' });
    assert.equal(readDnIndex(dnindex, 'dh1', 2), 1);
  });

  test('after the switch, replica2 — still following the dead old primary — is not readable; it was until the switch', () => {
    const r2 = sb.replicas[1]!;
    const switchedAt = c.when(primaryKilledAt, (x) => x.kind === 'writer-switch')!;
    const outs = c.log.filter((e) => e.at >= primaryKilledAt && e.t.kind === 'readable' && e.t.hostId === idOf(r2));
    assert.equal(outs.length, 1, JSON.stringify(outs));
    assert.ok(outs[0]!.at >= switchedAt, 'left rotation at the switch, not before (IO connecting ≠ stopped)');
    assert.match(
      outs[0]!.t.reason,
      new RegExp(`replicates from 127\\.0\\.0\\.1:${sb.primary.port}, not from the writeHost ${idOf(sb.replicas[0]!).replace(/\./g, '\\.')}`),
    );
    assert.equal(c.host(r2).readable, false);
    assert.equal(c.host(r2).replication?.sourcePort, sb.primary.port);
  });

  test('the restarted old primary stays out of the writer role, is fenced read_only=1 and not readable', { timeout: 90_000 }, async () => {
    assert.equal(await readOnlyOf(sb.primary).catch(() => -1), -1, 'the old primary is still dead');
    await sb.primary.start();
    await waitFor(() => c.host(sb.primary).status === 'up', { timeoutMs: 30_000, what: 'old primary UP' });
    await waitFor(async () => (await readOnlyOf(sb.primary)) === 1, { timeoutMs: 10_000, what: 'old primary fenced read_only=1' });
    // A few more heartbeats and replication checks: still no preemption, still not readable.
    await new Promise((r) => setTimeout(r, HEARTBEAT.intervalMs * 6));
    assert.equal(c.store.view.writerIndex, 1);
    assert.equal(c.store.view.writer?.id, idOf(sb.replicas[0]!));
    assert.equal(c.host(sb.primary).readable, false, 'not replicating: no reads');
    assert.equal(c.host(sb.primary).readOnly, true);
    assert.equal(c.log.filter((e) => e.t.kind === 'writer-switch').length, 1, 'exactly one switch');
    assert.match(readFileSync(dnindex, 'utf8'), /^dh1=1$/m);
  });

  test('replica2 re-pointed at the new writer (CHANGE MASTER … START SLAVE) becomes readable again', { timeout: 60_000 }, async (t) => {
    const r2 = sb.replicas[1]!;
    // The old primary is back: replica2 may be connected to it again, lag 0 — still not readable.
    await sleep(REPLICATION.checkEveryMs * 4);
    t.diagnostic(`replica2 before: ${JSON.stringify(c.host(r2).replication)}`);
    assert.equal(c.host(r2).readable, false, 'following the fenced old primary');
    assert.equal(c.host(r2).replication?.sourcePort, sb.primary.port);
    const at = Date.now();
    await repoint(r2, sb.replicas[0]!);
    await waitFor(() => c.host(r2).readable, { timeoutMs: 15_000, what: 'replica2 readable after re-pointing' });
    t.diagnostic(`re-pointed → readable in ${Date.now() - at} ms`);
    assert.equal(c.host(r2).replication?.sourcePort, sb.replicas[0]!.port);
    const back = c.log.filter((e) => e.t.kind === 'readable' && e.t.hostId === idOf(r2) && e.t.to).at(-1);
    assert.match(back!.t.reason, /healthy for 2 consecutive checks/);
  });
});
