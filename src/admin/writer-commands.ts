/**
 * The admin commands that move the writer role: SWITCHOVER, SWITCH @@DATASOURCE (a planned
 * switchover while the writeHost lives and promotion is on, else an immediate switch), and the
 * standby SET OFFLINE of the active writeHost hands over to.
 */
import { switchoverProblem } from '../cluster/switchover.js';
import { ok, refused, type AdminDeps, type AdminReply } from './admin-types.js';
import { hostAddress } from './admin-views.js';


export async function switchover(deps: AdminDeps, name: string, index: number, reason: string): Promise<AdminReply> {
  if (name !== deps.cluster.view.dataHost) return refused(`unknown dataHost "${name}" (this proxy serves "${deps.cluster.view.dataHost}")`);
  try {
    const r = await deps.switchover(index, reason);
    return ok(
      `switchover done: active writeHost is now ${index} (${r.to}), was ${r.from}; ${r.to} caught up in ${r.preCatchUpMs} ms, then writes waited ${r.pausedMs} ms ` +
        `(open transactions drained in ${r.drainMs} ms${r.cutTransactions > 0 ? `, ${r.cutTransactions} still open were cut` : ''}, caught up to ${r.position || 'nothing'} in ${r.catchUpMs} ms); recorded in dnindex`,
    );
  } catch (err) {
    return refused((err as Error).message);
  }
}

/** The first writeHost (in configured order after the active one) a switchover could move to; undefined without promotion or a standby. */
export function switchoverStandby(deps: AdminDeps): number | undefined {
  const view = deps.cluster.view;
  if (!deps.config().dataHost.failover.promote) return undefined;
  const writers = view.hosts.filter((x) => x.role === 'write');
  for (let k = 1; k < writers.length; k++) {
    const w = writers[(view.writerIndex + k) % writers.length]!;
    if (switchoverProblem(view, w, true) === undefined) return w.index;
  }
  return undefined;
}

export function switchWriter(deps: AdminDeps, name: string, index: number): AdminReply {
  const { cluster } = deps;
  const view = cluster.view;
  if (name !== view.dataHost) return refused(`unknown dataHost "${name}" (this proxy serves "${view.dataHost}")`);
  const target = view.hosts.find((h) => h.role === 'write' && h.index === index);
  const writeCount = view.hosts.filter((h) => h.role === 'write').length;
  if (!target) {
    return refused(`dataHost ${name} has no writeHost ${index} (writeHosts are 0-${writeCount - 1}: the INDEX of SHOW @@DATASOURCE, not backend_ndx)`);
  }
  if (index === view.writerIndex) return refused(`writeHost ${index} (${hostAddress(target)}) is already the active writeHost`);
  if (target.readOnly === true && !deps.config().dataHost.failover.promote) {
    return refused(
      `switch to writeHost ${index} (${hostAddress(target)}) refused: it is read-only (read_only=ON) and failover.promote is off, so every write would fail; turn read_only off on it first or enable failover.promote`,
    );
  }
  const transitions = cluster.switchWriter(index, 'admin SWITCH @@DATASOURCE');
  const refusal = transitions.find((t) => t.kind === 'writer-refused');
  if (refusal) return refused(refusal.reason);
  const sw = transitions.find((t) => t.kind === 'writer-switch');
  if (!sw || sw.kind !== 'writer-switch') return refused('switch not applied (no transition)');
  return ok(`active writeHost is now ${sw.toIndex} (${sw.toHostId}), was ${sw.fromIndex} (${sw.fromHostId}); recorded in dnindex`);
}
