/**
 * The writer role (DESIGN §4): automatic failover when the active writeHost is down, and the
 * operator's manual switch. Pure; the reducer (reduce.ts) applies what it decides.
 * (Mycat semantics, then better — see /work/shared/reference/dnindex-and-heartbeat.md.)
 *
 *  - Writer switch (automatic): when the active writeHost is DOWN and `failover.enabled`, the
 *    next writeHost after it in configured order (wrapping) that is UP, whose replication is OK
 *    (not a replica, or SQL thread running, replicating from the down writer, and the last known
 *    lag ≤ maxLagSeconds — the IO thread of a replica of a dead master is "Connecting", so the
 *    lag seen while the master was alive counts, as in Mycat switchType 2; the same rule as the
 *    'connecting' hold of the read gate) and that is writable (`readOnly === false`) or
 *    `failover.promote` is on. A writeHost demoted by a switch in this process is not a candidate
 *    until seen replicating again (it lacks the writes made since). No candidate: the writer
 *    stays unusable (`view.writer` undefined) and a 'writer-refused' transition says why (once
 *    per distinct reason). Evaluated on every event while the writer is DOWN, so a candidate
 *    that becomes eligible later is taken then.
 *  - No preemption: a recovered old writeHost never takes the role back; only a new outage of
 *    the active writer or a manual `switch-writer` moves it.
 *  - Manual switch (`SWITCH @@DATASOURCE dh1:1`): any writeHost index in range that is not down
 *    or offline, whatever failover.enabled says (Mycat's MANAGER switch).
 *  - An operator taking the active writer offline does not trigger a switch (use a manual one).
 *  - Instances that cooperate (cluster.cooperation, cooperation-rules.ts): only the leading
 *    instance decides as above. Before failing over it also asks the other servers: while one
 *    of them still receives the writeHost's binary log (IO thread connected to it), the writeHost
 *    is alive and only this instance is cut off from it, so it does not fail over (MaxScale's
 *    verify_master_failure). Every other instance follows the writeHost the leader publishes,
 *    whatever its own heartbeats say, and refuses a manual switch (it names the leader).
 */
import type { HostId } from './view.js';
import type { ClusterEvent, ClusterState, HostFacts, Transition } from './state.js';
import { isUsable } from './host-view.js';
import { closeGate, sourceProblem } from './replication-gate.js';
import { mayDecide } from './cooperation-rules.js';
import { covers, parseGtids, type GtidPosition } from './gtid.js';

/** What the writer step decided; `gateReasons` = the reason to report for a host whose gate it closed (the demoted writer). */
export interface WriterStep {
  readonly facts: HostFacts[];
  readonly writerIndex: number;
  readonly writerBlocked: string | undefined;
  readonly writerBlockedKey: string | undefined;
  readonly transitions: Transition[];
  readonly gateReasons: ReadonlyMap<HostId, string>;
}

/**
 * Moves or keeps the writer role after `event`; `hostFacts` = the hosts with the event's own
 * effect already applied.
 */
export function electWriter(state: ClusterState, event: ClusterEvent, hostFacts: HostFacts[]): WriterStep {
  let facts = hostFacts;
  const transitions: Transition[] = [];
  const gateReasons = new Map<HostId, string>();
  let writerIndex = state.writerIndex;
  let writerBlocked = state.writerBlocked;
  let writerBlockedKey = state.writerBlockedKey;
  const writeHosts = facts.filter((h) => h.role === 'write');
  const switchTo = (to: number, manual: boolean, reason: string): void => {
    const from = writerIndex;
    const oldW = writeHosts[from]!;
    const newW = writeHosts[to]!;
    facts = facts.map((h) => {
      if (h.id === oldW.id) return { ...closeGate(h), demoted: true };
      if (h.id === newW.id) return h.demoted ? { ...h, demoted: false } : h;
      return h;
    });
    gateReasons.set(oldW.id, 'demoted: no longer the active writeHost (readable again once seen replicating)');
    writerIndex = to;
    writerBlocked = undefined;
    writerBlockedKey = undefined;
    transitions.push({
      kind: 'writer-switch',
      hostId: newW.id,
      fromIndex: from,
      toIndex: to,
      fromHostId: oldW.id,
      toHostId: newW.id,
      manual,
      reason,
    });
  };
  const refuse = (manual: boolean, key: string, reason: string): void => {
    const current = writeHosts[writerIndex]!;
    if (!manual) {
      if (key === writerBlockedKey) return;
      writerBlocked = reason;
      writerBlockedKey = key;
    }
    transitions.push({ kind: 'writer-refused', hostId: current.id, writerIndex, manual, reason });
  };

  if (!mayDecide(state)) {
    const c = state.cooperation!;
    const leader = c.facts?.leader ?? 'no instance leads now';
    const current = writeHosts[writerIndex]!;
    const published = c.facts?.published;
    if (event.type === 'switch-writer') {
      refuse(true, 'follower', `manual switch refused: this instance (${c.instanceName}) does not lead the dataHost's instances (${leader}); run it on the leading instance`);
    } else if (published !== undefined && published !== current.id) {
      const to = writeHosts.findIndex((h) => h.id === published);
      if (to < 0) {
        refuse(false, `unknown:${published}`, `the leading instance publishes ${published} as the writeHost, which is not a writeHost in this instance's configuration: give every instance the same configuration`);
      } else {
        switchTo(to, false, `following the leading instance (${leader}): it publishes writeHost ${to} (${published})`);
      }
    } else if (current.status === 'down') {
      refuse(false, 'await-leader', `writeHost ${writerIndex} (${current.id}) is down; the leading instance decides where writes go next (${leader})`);
    } else if (writerBlocked !== undefined && isUsable(current.status)) {
      writerBlocked = undefined;
      writerBlockedKey = undefined;
    }
  } else if (event.type === 'switch-writer') {
    const target = writeHosts[event.index];
    if (!Number.isInteger(event.index) || target === undefined) {
      refuse(true, 'range', `manual switch to writeHost index ${event.index} refused: dataHost ${state.dataHost} has writeHosts 0-${writeHosts.length - 1}`);
    } else if (event.index === writerIndex) {
      refuse(true, 'same', `manual switch refused: writeHost ${event.index} (${target.id}) is already the active writeHost`);
    } else if (target.status === 'down' || target.status === 'offline') {
      refuse(true, target.status, `manual switch to writeHost ${event.index} (${target.id}) refused: it is ${target.status}`);
    } else {
      const notes: string[] = [];
      if (target.readOnly === true && !state.failover.promote) notes.push('it is read_only=ON and failover.promote is off: writes fail until read_only is turned off');
      switchTo(event.index, true, `${event.reason || 'manual switch'}${notes.length > 0 ? ` (warning: ${notes.join('; ')})` : ''}`);
    }
  } else {
    const w = writeHosts[writerIndex]!;
    if (w.status === 'down') {
      if (!state.failover.enabled) {
        refuse(false, 'disabled', `writeHost ${writerIndex} (${w.id}) is down and failover is disabled (failover.enabled: false)`);
      } else if (writeHosts.length < 2) {
        refuse(false, 'single', `writeHost ${writerIndex} (${w.id}) is down and there is no other writeHost to switch to`);
      } else if (state.cooperation !== undefined && stillReplicated(facts, w) !== undefined) {
        const r = stillReplicated(facts, w)!;
        refuse(
          false,
          `alive:${r.id}`,
          `writeHost ${writerIndex} (${w.id}) is down from this instance, but ${r.id} still receives its binary log: not failing over (this instance is cut off from the writeHost, the writeHost is alive)`,
        );
      } else {
        const problems: { id: string; index: number; code: string; text: string }[] = [];
        let chosen: number | undefined;
        for (let k = 1; k < writeHosts.length; k++) {
          const idx = (writerIndex + k) % writeHosts.length;
          const c = writeHosts[idx]!;
          const p = candidateProblem(c, state, w);
          if (p === undefined) {
            chosen = idx;
            break;
          }
          problems.push({ id: c.id, index: idx, ...p });
        }
        if (chosen !== undefined) {
          // Semi-sync acknowledges a write once ANY replica has received it: the candidate must
          // be the one that received the most, or an acknowledged write can be lost.
          const ahead = mostReceived(writeHosts, chosen, (idx) => idx !== writerIndex && candidateProblem(writeHosts[idx]!, state, w) === undefined);
          const aheadNote = ahead !== chosen ? `; ${writeHosts[ahead]!.id} has received more than ${writeHosts[chosen]!.id} (${writeHosts[ahead]!.replication?.receivedGtids})` : '';
          chosen = ahead;
          const c = writeHosts[chosen]!;
          const skipped = problems.map((p) => `${p.index} (${p.id}) ${p.text}`).join('; ');
          const how = c.readOnly !== false ? ', to be promoted (failover.promote)' : '';
          switchTo(
            chosen,
            false,
            `writeHost ${writerIndex} (${w.id}) is down: ${w.lastError ?? 'heartbeat misses'}; switching to ${chosen} (${c.id})${how}${aheadNote}${skipped ? `; skipped ${skipped}` : ''}`,
          );
        } else {
          const onlyReadOnly = problems.length > 0 && problems.every((p) => p.code === 'read-only');
          refuse(
            false,
            problems.map((p) => `${p.id}:${p.code}`).join(','),
            `writeHost ${writerIndex} (${w.id}) is down and no writeHost can take over: ` +
              problems.map((p) => `${p.index} (${p.id}) ${p.text}`).join('; ') +
              (onlyReadOnly ? ' — set failover.promote: true to let Sluice promote a read-only writeHost' : ''),
          );
        }
      }
    } else if (writerBlocked !== undefined && isUsable(w.status)) {
      writerBlocked = undefined;
      writerBlockedKey = undefined;
    }
  }
  return { facts, writerIndex, writerBlocked, writerBlockedKey, transitions, gateReasons };
}

/**
 * Among the eligible writeHosts, the one that received strictly more than every other eligible
 * one chosen so far (configured order from `first` breaks ties and incomparable histories).
 */
function mostReceived(writeHosts: readonly HostFacts[], first: number, eligible: (idx: number) => boolean): number {
  let best = first;
  const received = (idx: number): GtidPosition | undefined => {
    const text = writeHosts[idx]!.replication?.receivedGtids;
    return text === undefined ? undefined : parseGtids(text);
  };
  for (let k = 1; k < writeHosts.length; k++) {
    const idx = (first + k) % writeHosts.length;
    if (!eligible(idx)) continue;
    const mine = received(idx);
    const theirs = received(best);
    if (mine === undefined || theirs === undefined) continue;
    if (covers(mine, theirs) && !covers(theirs, mine)) best = idx;
  }
  return best;
}

/** A server whose replication IO thread is connected to `writer` right now (so `writer` is alive), if any. */
function stillReplicated(facts: readonly HostFacts[], writer: HostFacts): HostFacts | undefined {
  return facts.find(
    (h) =>
      h.id !== writer.id &&
      h.status === 'up' &&
      h.replication !== undefined &&
      h.replication.probeError === undefined &&
      h.replication.ioState === 'yes' &&
      sourceProblem(h.replication, writer) === undefined,
  );
}

/**
 * Why writeHost `c` cannot take over automatically from the (down) writeHost `writer`; undefined
 * = it can. `code` is stable. The IO thread state is not looked at: a replica of a dead writer
 * shows 'connecting' (or 'no' after slave_net_timeout on some versions); what counts is that the
 * SQL thread applies, it follows `writer`, and the last known lag.
 */
function candidateProblem(c: HostFacts, state: ClusterState, writer: HostFacts): { code: string; text: string } | undefined {
  if (c.status !== 'up') {
    return { code: c.status, text: c.status === 'unknown' ? 'not probed yet' : `is ${c.status}` };
  }
  if (c.readOnly !== false && !state.failover.promote) {
    return c.readOnly === true
      ? { code: 'read-only', text: 'is read-only (read_only=ON) and failover.promote is off' }
      : { code: 'read-only-unknown', text: '@@read_only unknown and failover.promote is off' };
  }
  const r = c.replication;
  if (r === undefined) return { code: 'repl-unknown', text: 'replication state not known yet' };
  if (r.probeError !== undefined) return { code: 'repl-probe', text: `replication probe failed: ${r.probeError}` };
  if (!r.isReplica) {
    if (c.demoted) {
      return { code: 'demoted', text: 'was demoted from the writer role and has not been seen replicating since (it lacks newer writes)' };
    }
    return undefined;
  }
  if (!r.sqlRunning) {
    return { code: 'sql-stopped', text: `replication SQL thread not running${r.threadError ? ` (${r.threadError})` : ''}` };
  }
  const source = sourceProblem(r, writer);
  if (source !== undefined) return { code: 'source', text: source };
  if (c.lastKnownLag === undefined) return { code: 'lag-unknown', text: 'replication lag never known' };
  if (c.lastKnownLag > state.replication.maxLagSeconds) {
    return { code: 'lagging', text: `lags ${c.lastKnownLag} s (maxLagSeconds ${state.replication.maxLagSeconds})` };
  }
  return undefined;
}
