/**
 * Three Sluice instances (built, in their own processes) in front of one semi-sync sandbox,
 * cooperating through locks on the backends (cluster.cooperation: backend-locks). Clients write
 * through all three at once while the writeHost, then the leading instance and the next writeHost
 * are SIGKILLed: one promotion per failover, every instance writes to the same new writer within
 * the bound, and no acknowledged write is lost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox/index.js';
import { startBuiltProxy, type BuiltProxy } from '../helpers/built-proxy.js';
import { cooperatingInstanceConfig, dumpLogs, leadersOf, promotionsBy, role, switchTimes, resumedSince, resumeTimes, startWriters, writerServerId, type WriterTarget } from '../helpers/instances.js';
import { sandboxInfo, startPrivateSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';

const HEARTBEAT = { intervalMs: 300, timeoutMs: 300, retries: 3 };
/** retries × interval + timeout + 1 s (the issue's bound for writes to resume). */
const RESUME_BOUND_MS = HEARTBEAT.retries * HEARTBEAT.intervalMs + HEARTBEAT.timeoutMs + 1_000;
const LOCK_TIMEOUT_S = 2;

let sb: Sandbox;
let info: SandboxInfo;
const instances = new Map<string, BuiltProxy>();
/** The writer after the first failover (whichever standby had received the most). */
let newWriter: Sandbox['primary'];

function instanceConfig(name: string): Record<string, unknown> {
  return cooperatingInstanceConfig(sb, name, { heartbeat: HEARTBEAT, lockTimeoutSeconds: LOCK_TIMEOUT_S });
}

const leaders = (): string[] => leadersOf(instances);
const account = (): { user: string; password: string } => ({ user: sb.user, password: sb.password });
const targets = (names: readonly string[]): Map<string, WriterTarget> => new Map(names.map((n) => [n, { host: '127.0.0.1', port: instances.get(n)!.port }]));

before(async () => {
  sb = await startPrivateSandbox({ replicas: 2, semiSync: true, semiSyncTimeoutMs: 10_000 });
  info = sandboxInfo(sb);
  await sb.primary.query('CREATE TABLE sluice_test.coop_t (id INT PRIMARY KEY, via VARCHAR(8))');
  await sb.waitForReplication();
  // c runs worker processes: cooperation is the primary process's, its workers follow it.
  const started = await Promise.all(['a', 'b', 'c'].map((n) => startBuiltProxy(info, { ...instanceConfig(n), ...(n === 'c' ? { workers: 2 } : {}) })));
  started.forEach((p, i) => instances.set(['a', 'b', 'c'][i]!, p));
});

after(async () => {
  dumpLogs(instances);
  await Promise.all([...instances.values()].map((p) => p.stop()));
  await sb?.stop();
});

/** @@server_id of the writer each instance sends writes to. */
function writerServerIds(names: readonly string[]): Promise<number[]> {
  return Promise.all(names.map((n) => writerServerId({ host: '127.0.0.1', port: instances.get(n)!.port }, account())));
}

async function idsOn(server: Sandbox['primary']): Promise<Set<number>> {
  const rows = (await server.query('SELECT id FROM sluice_test.coop_t')) as { id: number }[];
  return new Set(rows.map((r) => Number(r.id)));
}

/**
 * What an operator does with a former primary whose history diverged by transactions it
 * binlogged but nobody acknowledged: drops them and re-seeds its GTID position from the writer,
 * so it replicates again. Without it the next failover's writer would have no replica at all,
 * and a semi-sync server then holds its first commit for the whole rpl_semi_sync_master_timeout
 * (the server's documented behaviour, not the proxy's).
 */
async function reseedDivergedServer(server: Sandbox['primary'], writer: Sandbox['primary']): Promise<void> {
  const onWriter = await idsOn(writer);
  const errant = [...(await idsOn(server))].filter((id) => !onWriter.has(id));
  const [pos] = (await writer.query('SELECT @@gtid_binlog_pos AS p')) as { p: string }[];
  await server.rootExec([
    'STOP SLAVE',
    'SET sql_log_bin = 0',
    ...(errant.length > 0 ? [`DELETE FROM sluice_test.coop_t WHERE id IN (${errant.join(',')})`] : []),
    'RESET MASTER',
    `SET GLOBAL gtid_slave_pos = '${pos!.p}'`,
    'CHANGE MASTER TO MASTER_USE_GTID = slave_pos',
    'START SLAVE',
  ]);
  await waitFor(
    async () => {
      const rows = (await server.query('SHOW SLAVE STATUS')) as Record<string, unknown>[];
      return rows[0]?.['Slave_IO_Running'] === 'Yes' && rows[0]?.['Slave_SQL_Running'] === 'Yes';
    },
    { timeoutMs: 10_000, what: 'the re-seeded server replicating' },
  );
}

const promotions = (): number => [...instances.values()].reduce((n, p) => n + promotionsBy(p), 0);

test('three instances: exactly one leads, the others follow it, every instance writes to the same writer', { timeout: 60_000 }, async () => {
  await waitFor(() => leaders().length === 1 && [...instances.values()].every((p) => role(p) !== undefined), { timeoutMs: 15_000, what: 'one leader, two followers' });
  const followers = [...instances].filter(([, p]) => role(p) === 'following').map(([n]) => n);
  assert.equal(followers.length, 2, `roles: ${[...instances].map(([n, p]) => `${n}=${role(p)}`).join(' ')}`);
  assert.deepEqual(await writerServerIds(['a', 'b', 'c']), [1, 1, 1]);
  // The servers themselves say so: the lead lock is held on each of them.
  for (const s of sb.servers) {
    const rows = (await s.query("SELECT IS_USED_LOCK('sluice:dh1:lead') AS h, IS_USED_LOCK(?) AS w", [`sluice:dh1:writer:${sb.primary.host}:${sb.primary.port}`])) as { h: number | null; w: number | null }[];
    assert.notEqual(rows[0]!.h, null, `lead lock on ${s.name}`);
    assert.equal(rows[0]!.w, rows[0]!.h, `the leader's writer lock on ${s.name}`);
  }
});

test('SIGKILL of the writeHost under writes through all three: one promotion, one new writer everywhere, nothing acknowledged lost', { timeout: 90_000 }, async () => {
  const names = ['a', 'b', 'c'];
  const before = promotions();
  const w = startWriters(targets(names), account(), 'sluice_test.coop_t');
  await new Promise((r) => setTimeout(r, 1_000));
  const t0 = Date.now();
  sb.primary.kill('SIGKILL');
  await waitFor(() => names.every((n) => resumedSince(w, n, t0)), { timeoutMs: 20_000, what: 'writes resume through every instance' });
  await new Promise((r) => setTimeout(r, 1_000));
  await w.stop();
  const resumed = resumeTimes(w, names, t0);
  // Followers take the leader's decision within one heartbeat interval of it.
  const leaderSwitch = Math.min(...names.map((n) => switchTimes(instances.get(n)!).at(-1)!));
  const follow = names.map((n) => switchTimes(instances.get(n)!).at(-1)! - leaderSwitch);

  assert.equal(promotions() - before, 1, 'exactly one promotion among the three instances');
  assert.ok(Math.max(...follow) <= HEARTBEAT.intervalMs, `followers took the new writer ${follow.join(' / ')} ms after the leader (interval ${HEARTBEAT.intervalMs} ms)`);
  // The standby that received the most takes over (either replica: semi-sync acks on any one).
  const ids = await writerServerIds(names);
  assert.ok(ids[0] !== 1 && ids.every((id) => id === ids[0]), `one new writer everywhere: ${ids.join(', ')}`);
  newWriter = sb.servers.find((x) => x.serverId === ids[0])!;
  const index = sb.servers.indexOf(newWriter);
  for (const n of names) assert.match(readFileSync(path.join(sb.dir, `dnindex-${n}.properties`), 'utf8'), new RegExp(`^dh1=${index}`, 'm'));
  const onWriter = await idsOn(newWriter);
  const lost = [...w.acked].filter((id) => !onWriter.has(id));
  assert.deepEqual(lost, [], 'acknowledged writes missing on the new writer');
  assert.ok(Math.max(...resumed) <= RESUME_BOUND_MS, `writes resumed after ${resumed.join(', ')} ms (bound ${RESUME_BOUND_MS} ms)`);
  // Bring the old primary back: the leader fences it and joins it to the new writer — unless
  // it binlogged, before it died, transactions no replica received (semi-sync waits after the
  // commit): then the new writer refuses it (its history diverged) and it stays out.
  await sb.primary.start();
  const outcome = await waitFor(
    async () => {
      const rows = (await sb.primary.query('SHOW SLAVE STATUS')) as Record<string, unknown>[];
      const r = rows[0];
      if (r?.['Slave_IO_Running'] === 'Yes' && Number(r['Master_Port']) === newWriter.port) return 'joined';
      return r !== undefined && /1236|GTID/i.test(String(r['Last_IO_Error'])) ? 'diverged (refused by the new writer)' : undefined;
    },
    { timeoutMs: 20_000, what: 'the old primary replicating from the new writer, or refused by it' },
  );
  const ro = (await sb.primary.query('SELECT @@read_only AS ro')) as { ro: number }[];
  assert.equal(Number(ro[0]!.ro), 1, 'the old primary is fenced');
  if (outcome !== 'joined') await reseedDivergedServer(sb.primary, newWriter);
  process.stdout.write(`# old primary back: fenced, ${outcome}\n`);
  process.stdout.write(`# writeHost SIGKILL: writes resumed after ${resumed.join(' / ')} ms (a / b / c), followers took the new writer ${follow.join(' / ')} ms after the leader, ${w.acked.size} acknowledged, 0 lost\n`);
});

test('SIGKILL of the leading instance, then of the writeHost: another instance leads and fails over', { timeout: 90_000 }, async () => {
  const [leader] = leaders();
  assert.ok(leader !== undefined, 'a leader');
  const survivors = ['a', 'b', 'c'].filter((n) => n !== leader);
  const killed = instances.get(leader)!;
  const before = promotions() - promotionsBy(killed);
  const w = startWriters(targets(survivors), account(), 'sluice_test.coop_t');
  await new Promise((r) => setTimeout(r, 500));
  const tKill = Date.now();
  killed.signal('SIGKILL');
  await waitFor(() => survivors.some((n) => role(instances.get(n)!) === 'leading'), { timeoutMs: (LOCK_TIMEOUT_S + 5) * 1000, what: 'a new leader' });
  const takeover = Date.now() - tKill;
  instances.delete(leader);
  const t0 = Date.now();
  newWriter.kill('SIGKILL');
  await waitFor(() => survivors.every((n) => resumedSince(w, n, t0)), { timeoutMs: 20_000, what: 'writes resume through both survivors' });
  await new Promise((r) => setTimeout(r, 500));
  await w.stop();
  const resumed = resumeTimes(w, survivors, t0);

  assert.equal(promotions() - before, 1, 'exactly one promotion');
  const ids = await writerServerIds(survivors);
  assert.equal(new Set(ids).size, 1, `one writer everywhere: ${ids.join(', ')}`);
  const writer = sb.servers.find((s) => s.serverId === ids[0])!;
  assert.notEqual(writer, newWriter, 'the dead server is not the writer');
  const onWriter = await idsOn(writer);
  assert.deepEqual([...w.acked].filter((id) => !onWriter.has(id)), [], 'acknowledged writes missing on the new writer');
  assert.ok(takeover <= LOCK_TIMEOUT_S * 1000 + HEARTBEAT.intervalMs * 2, `new leader after ${takeover} ms`);
  assert.ok(Math.max(...resumed) <= RESUME_BOUND_MS, `writes resumed after ${resumed.join(', ')} ms (bound ${RESUME_BOUND_MS} ms)`);
  process.stdout.write(`# leader SIGKILL: new leader after ${takeover} ms; writeHost SIGKILL: writes resumed after ${resumed.join(' / ')} ms\n`);
});
