/**
 * Cooperating Sluice instances under network partitions (cluster.cooperation: backend-locks).
 * Every server and every instance runs on a lab host of its own (test/helpers/netlab.ts: network
 * namespaces on a private bridge); partitions drop packets between two hosts silently, as a cut
 * cable does. Skipped, with the reason, where network namespaces cannot be made.
 *
 * Clients write unique ids through all three instances for the whole file, while the tests cut
 * the leading instance off from the majority, then from the writer alone, then isolate the
 * writer; the last test is the Jepsen-style check over everything they did: every acknowledged id
 * is on the final writer, and no id is on a server without being on the final writer (no write
 * landed on a second writable server).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import type { Sandbox, SandboxServer } from '../../src/sandbox/index.js';
import { startBuiltProxy, type BuiltProxy } from '../helpers/built-proxy.js';
import { NetLab, type LabHost } from '../helpers/netlab.js';
import { cooperatingInstanceConfig, dumpLogs, leadersOf, promotionsBy, role, startWriters, writerServerId, type Writers } from '../helpers/instances.js';
import { sandboxInfo, startPrivateSandbox, waitFor } from '../helpers/sandbox.js';

const unavailable = await NetLab.unavailable();

const HEARTBEAT = { intervalMs: 300, timeoutMs: 300, retries: 3 };
const LOCK_TIMEOUT_S = 2;
/** Replicas give up on a silent primary after this many seconds (MariaDB's default: 60). */
const NET_TIMEOUT_S = 4;
const NAMES = ['a', 'b', 'c'] as const;
const TABLE = 'sluice_test.part_t';

let lab: NetLab;
let db: LabHost[];
const at = new Map<string, LabHost>();
let sb: Sandbox;
const instances = new Map<string, BuiltProxy>();
let writers: Writers | undefined;
/** The writer after the isolation test (the last failover). */
let finalWriter: SandboxServer;

const account = (): { user: string; password: string } => ({ user: sb.user, password: sb.password });
const target = (n: string): { host: string; port: number } => ({ host: at.get(n)!.address, port: instances.get(n)!.port });
const promotions = (): number => [...instances.values()].reduce((k, p) => k + promotionsBy(p), 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Root over the server's unix socket: reaches it whatever the network does. */
async function viaSocket(s: SandboxServer, sql: string): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({ socketPath: s.socketPath, user: sb.adminUser, password: sb.adminPassword });
  try {
    return (await conn.query(sql))[0] as Record<string, unknown>[];
  } finally {
    await conn.end();
  }
}

function instanceConfig(name: string): Record<string, unknown> {
  return cooperatingInstanceConfig(sb, name, { heartbeat: HEARTBEAT, lockTimeoutSeconds: LOCK_TIMEOUT_S });
}

async function leader(): Promise<string> {
  return waitFor(() => (leadersOf(instances).length === 1 ? leadersOf(instances)[0] : undefined), { timeoutMs: 15_000, what: 'exactly one leading instance' });
}

async function writerIds(names: readonly string[] = NAMES): Promise<number[]> {
  return Promise.all(names.map((n) => writerServerId(target(n), account())));
}

/** An INSERT through instance `n`: 'ok' or the error's errno and message. */
async function tryWrite(n: string): Promise<string> {
  const c = await mysql.createConnection({ ...target(n), ...account(), connectTimeout: 2_000 });
  try {
    await c.query(`INSERT INTO ${TABLE} (id, via) VALUES (?, 'probe')`, [-Math.floor(Math.random() * 1e9)]);
    return 'ok';
  } catch (err) {
    return `${(err as { errno?: number }).errno} ${(err as Error).message}`;
  } finally {
    c.destroy();
  }
}

describe('cooperating instances under partitions', { skip: unavailable }, () => {
  before(async () => {
    lab = await NetLab.create('pt');
    db = [await lab.addHost('db1'), await lab.addHost('db2'), await lab.addHost('db3')];
    for (const n of NAMES) at.set(n, await lab.addHost(`s${n}`));
    sb = await startPrivateSandbox({
      replicas: 2,
      semiSync: true,
      semiSyncTimeoutMs: 15_000,
      placement: db,
      extraArgs: [`--slave-net-timeout=${NET_TIMEOUT_S}`],
    });
    // `origin`: the server that executed the insert (row events carry it to the replicas).
    await sb.primary.query(`CREATE TABLE ${TABLE} (id INT PRIMARY KEY, via VARCHAR(8), origin INT)`);
    await sb.primary.query(`CREATE TRIGGER sluice_test.part_origin BEFORE INSERT ON ${TABLE} FOR EACH ROW SET NEW.origin = @@server_id`);
    await sb.waitForReplication();
    const info = sandboxInfo(sb);
    const started = await Promise.all(NAMES.map((n) => startBuiltProxy(info, instanceConfig(n), { netns: at.get(n)!.netns, host: at.get(n)!.address })));
    started.forEach((p, i) => instances.set(NAMES[i]!, p));
    await leader();
    writers = startWriters(new Map(NAMES.map((n) => [n, target(n)])), account(), TABLE, 2);
  });

  after(async () => {
    await writers?.stop();
    dumpLogs(instances);
    await Promise.all([...instances.values()].map((p) => p.stop()));
    await sb?.stop();
    await lab?.destroy();
  });

  test('the leader cut off from the writer and from a replica: never promotes, refuses writes naming what it cannot reach, reads go on; another instance leads', { timeout: 60_000 }, async () => {
    const cut = await leader();
    const before = promotions();
    const cutAt = Date.now();
    await lab.partition(at.get(cut)!, db[0]!);
    await lab.partition(at.get(cut)!, db[1]!);
    await waitFor(() => role(instances.get(cut)!) === 'without a majority of the servers', { timeoutMs: 10_000, what: `${cut} without a majority` });
    const refused = await tryWrite(cut);
    assert.match(refused, /^1290 .*cannot reach a majority.*unreachable: 10\.231\.\d+\.\d+:\d+, 10\.231\.\d+\.\d+:\d+/);
    assert.ok(refused.includes(`${db[0]!.address}:${sb.primary.port}`) && refused.includes(`${db[1]!.address}:${sb.replicas[0]!.port}`), refused);
    const c = await mysql.createConnection({ ...target(cut), ...account() });
    const [rows] = await c.query('SELECT @@server_id AS id');
    c.destroy();
    assert.equal(Number((rows as { id: number }[])[0]!.id), 3, 'reads go to the server it still reaches');
    // Its locks on the cut servers die with wait_timeout; then another instance leads.
    const next = await waitFor(() => leadersOf(instances).find((n) => n !== cut), { timeoutMs: (LOCK_TIMEOUT_S + 4) * 1000, what: 'another leader' });
    assert.notEqual(next, cut);
    process.stdout.write(`# leader cut off: ${next} leads ${Date.now() - cutAt} ms after the cut (lockTimeoutSeconds ${LOCK_TIMEOUT_S})\n`);
    await sleep(HEARTBEAT.retries * HEARTBEAT.intervalMs + 1_000);
    assert.equal(promotions(), before, 'nobody promoted');
    const others = NAMES.filter((n) => n !== cut);
    assert.deepEqual(await writerIds(others), [1, 1]);
    for (const n of others) assert.equal(await tryWrite(n), 'ok');
    await lab.healAll();
    await waitFor(() => role(instances.get(cut)!) === 'following', { timeoutMs: 10_000, what: `${cut} follows again` });
    await waitFor(async () => (await tryWrite(cut)) === 'ok', { timeoutMs: 10_000, what: `writes through ${cut} again (once its heartbeats see the writer)` });
  });

  test('the leader cut off from the writer alone, while the replicas still receive from it: no failover', { timeout: 60_000 }, async () => {
    const cut = await leader();
    const before = promotions();
    await lab.partition(at.get(cut)!, db[0]!);
    await sleep(HEARTBEAT.retries * HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs + 2_000);
    assert.ok(/still receives its binary log: not failing over/.test(instances.get(cut)!.log()), 'the leader says why it does not fail over');
    assert.equal(promotions(), before, 'nobody promoted');
    assert.equal(role(instances.get(cut)!), 'leading', 'it still leads (it reaches two of three)');
    const others = NAMES.filter((n) => n !== cut);
    assert.deepEqual(await writerIds(others), [1, 1]);
    await lab.healAll();
    await waitFor(async () => (await tryWrite(cut)) === 'ok', { timeoutMs: 10_000, what: `writes through ${cut} again` });
  });

  test('the writer isolated from everybody: one promotion (of the standby that received the most), every instance follows; healed, the old writer is fenced, and joined unless its history diverged', { timeout: 90_000 }, async () => {
    const before = promotions();
    await lab.isolate(db[0]!);
    // The standby that received the most takes over (db2 or db3, whichever the semi-sync acks reached last).
    const ids = await waitFor(
      async () => {
        const now = await writerIds();
        return promotions() > before && now[0] !== 1 && now.every((id) => id === now[0]) ? now : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'a standby promoted, every instance writes to it' },
    );
    assert.equal(promotions() - before, 1, 'exactly one promotion');
    finalWriter = sb.servers.find((x) => x.serverId === ids[0])!;
    await lab.healAll();
    await waitFor(async () => Number((await viaSocket(sb.primary, 'SELECT @@read_only AS ro'))[0]!['ro']) === 1, { timeoutMs: 15_000, what: 'the old writer fenced (read_only=ON)' });
    // Statements in flight when it was cut off committed there after the semi-sync timeout,
    // unacknowledged: then its history diverged and it must not be joined (the leader says so);
    // otherwise it replicates from db2.
    const pos = async (s: SandboxServer): Promise<string> => String((await viaSocket(s, 'SELECT @@gtid_binlog_pos AS p'))[0]!['p']);
    const diverged = !(await pos(finalWriter)).includes((await pos(sb.primary)).split(',').find((g) => g.startsWith('0-1-')) ?? '\u0000');
    if (diverged) {
      // The server refuses to follow the new writer (the GTIDs it asks for are not there).
      await waitFor(
        async () => {
          const st = (await viaSocket(sb.primary, 'SHOW SLAVE STATUS'))[0];
          return st !== undefined && st['Slave_IO_Running'] !== 'Yes' && /1236|not in the master's binlog|GTID/i.test(String(st['Last_IO_Error'])) ? st : undefined;
        },
        { timeoutMs: 15_000, what: 'the diverged old writer refused by the new writer (not serving reads)' },
      );
    } else {
      await waitFor(
        async () => {
          const st = (await viaSocket(sb.primary, 'SHOW SLAVE STATUS'))[0];
          return st?.['Slave_IO_Running'] === 'Yes' && Number(st?.['Master_Port']) === finalWriter.port;
        },
        { timeoutMs: 20_000, what: 'the old writer replicating from the new one' },
      );
    }
    process.stdout.write(`# isolated writer: ${diverged ? 'diverged (in-flight statements committed there unacknowledged): fenced, not joined' : `fenced and joined to ${finalWriter.name}`}\n`);
    assert.deepEqual(await writerIds(), [finalWriter.serverId, finalWriter.serverId, finalWriter.serverId], 'converged on one writer');
    for (const n of NAMES) assert.equal(await tryWrite(n), 'ok');
  });

  test('the writer cut off from everybody but one instance: that instance aborts what it had in flight there when it follows the new writer', { timeout: 90_000 }, async () => {
    const old = finalWriter;
    const oldHost = db[sb.servers.indexOf(old)]!;
    const lead = await leader();
    const keeps = NAMES.find((n) => n !== lead)!;
    const before = promotions();
    for (const h of [...db.filter((x) => x !== oldHost), ...NAMES.filter((n) => n !== keeps).map((n) => at.get(n)!)]) await lab.partition(oldHost, h);
    const ids = await waitFor(
      async () => {
        const now = await writerIds(NAMES.filter((n) => n !== keeps));
        return promotions() > before && now[0] !== old.serverId && now.every((id) => id === now[0]) ? now : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 200, what: 'the cut-off writer replaced' },
    );
    finalWriter = sb.servers.find((x) => x.serverId === ids[0])!;
    await waitFor(async () => (await writerIds([keeps]))[0] === finalWriter.serverId, { timeoutMs: 5_000, what: `${keeps} follows the new writer` });
    const moved = instances
      .get(keeps)!
      .log()
      .split('\n')
      .filter((l) => l.includes('aborting a statement') && l.includes(`"backend":"${old.host}:${old.port}"`) && l.includes(`the writeHost role moved to ${finalWriter.host}:${finalWriter.port}`));
    assert.ok(moved.length > 0, `${keeps} aborted its statements in flight on the old writer when it followed the new one`);
    // Past the old writer's semi-sync timeout: whatever it committed alone is now on it.
    await sleep(16_000);
    await lab.healAll();
    await waitFor(async () => Number((await viaSocket(old, 'SELECT @@read_only AS ro'))[0]!['ro']) === 1, { timeoutMs: 15_000, what: 'the old writer fenced' });
  });

  test('Jepsen-style: every acknowledged id is on the final writer, and no server took writes after another had taken over', { timeout: 60_000 }, async () => {
    const w = writers!;
    writers = undefined;
    await w.stop();
    await sleep(1_000);
    await sb.waitForReplication(30_000).catch(() => undefined);
    const rowsOf = async (s: SandboxServer): Promise<Map<number, number>> =>
      new Map((await viaSocket(s, `SELECT id, origin FROM ${TABLE} WHERE id > 0`)).map((r) => [Number(r['id']), Number(r['origin'])]));
    const final = await rowsOf(finalWriter);
    const lost = [...w.acked].filter((id) => !final.has(id));
    assert.deepEqual(lost, [], `acknowledged ids missing on the final writer (${w.acked.size} acknowledged)`);
    // One writer at a time: once a server acknowledged a write, no write sent later was
    // acknowledged by the server before it.
    const acks = [...w.acked].map((id) => ({ id, origin: final.get(id)!, sent: w.sentAt.get(id)!, acked: w.ackedAt.get(id)! }));
    const firstAck = new Map<number, number>();
    for (const a of acks) firstAck.set(a.origin, Math.min(firstAck.get(a.origin) ?? Infinity, a.acked));
    const origins = [...firstAck.keys()].sort((x, y) => firstAck.get(x)! - firstAck.get(y)!);
    for (let i = 1; i < origins.length; i++) {
      const late = acks.filter((a) => a.origin === origins[i - 1] && a.sent > firstAck.get(origins[i]!)!);
      assert.deepEqual(late.map((a) => a.id), [], `server ${origins[i - 1]} acknowledged writes sent after server ${origins[i]} had taken over`);
    }
    let divergedIds = 0;
    for (const s of sb.servers) divergedIds += [...(await rowsOf(s)).keys()].filter((id) => !final.has(id)).length;
    process.stdout.write(
      `# partitions: ${w.acked.size} writes acknowledged through 3 instances, 0 lost; writers in turn: server ${origins.join(' → ')}; ${divergedIds} unacknowledged rows only on a cut-off server\n`,
    );
  });
});
