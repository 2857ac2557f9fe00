/**
 * The rules of cooperation between Sluice instances of one dataHost (DESIGN §8), pure: what one
 * round of lock queries means (judgeLocks), and how it changes the cluster state
 * (reduceCooperation). The lock connections themselves are in cooperation.ts.
 *
 * Every instance holds one lock connection per configured server and tries to take the dataHost's
 * lead lock (`GET_LOCK(name, 0)`) on it. MaxScale's cooperative monitoring, made sharper:
 *  - The instance holding the lead lock on a majority of the servers leads. Majority of ALL
 *    configured servers by default (`cluster.majority: all`, MaxScale majority_of_all): two sides
 *    of a partition can never both have one. `running` counts only the servers that answer.
 *  - Only the leader moves the writer (failover, manual switch) and changes servers (promotion,
 *    fencing, rejoin). It publishes the writer it chose as a second lock, held by the same lock
 *    connection on every server where it holds the lead lock; the others follow that
 *    publication. A publication lives on every server of the leader's majority, so it survives
 *    the writer's death (a row or a lock on the writer alone would die with it), and it is never
 *    written to a binary log (a row would replicate, and a row written on a read-only replica
 *    would be an errant transaction).
 *  - An instance that does not reach a majority refuses writes rather than write to a server of
 *    its own choosing; reads go on.
 */
import type { HostId } from './view.js';
import type { ClusterState, CooperationFacts, CooperationState, CooperationTransition } from './state.js';
import type { MajorityRule } from '../config/types.js';

/** What one lock connection answered this round; undefined `answer` = the server did not answer. */
export interface LockObservation {
  readonly hostId: HostId;
  readonly answer:
    | {
        /** CONNECTION_ID() of this instance's lock connection on that server. */
        readonly self: number;
        /** IS_USED_LOCK(lead lock): the holder's connection id, or null. */
        readonly leadHolder: number | null;
        /** IS_USED_LOCK(writer lock of each writeHost), by writeHost id. */
        readonly writerHolders: ReadonlyMap<HostId, number | null>;
        /** Where the lead holder connects from (information_schema.PROCESSLIST.HOST), when another instance holds it. */
        readonly leadHolderFrom?: string;
      }
    | undefined;
}

/** Servers a majority takes: of all configured ones, or of those that answered (at least one). */
export function majorityNeeded(rule: MajorityRule, total: number, reachable: number): number {
  return Math.floor((rule === 'all' ? total : Math.max(reachable, 1)) / 2) + 1;
}

/** The facts one round of observations (every configured server, in order) establishes. */
export function judgeLocks(observations: readonly LockObservation[], rule: MajorityRule, instanceName: string): CooperationFacts {
  const reachable: HostId[] = [];
  const unreachable: HostId[] = [];
  const held: HostId[] = [];
  const publications = new Map<HostId, HostId[]>();
  let otherLeader: string | undefined;
  for (const o of observations) {
    const a = o.answer;
    if (a === undefined) {
      unreachable.push(o.hostId);
      continue;
    }
    reachable.push(o.hostId);
    if (a.leadHolder === null) continue;
    if (a.leadHolder === a.self) held.push(o.hostId);
    else otherLeader ??= `another instance (lock connection ${a.leadHolder} on ${o.hostId}${a.leadHolderFrom ? `, from ${a.leadHolderFrom}` : ''})`;
    // A publication counts only when the lead holder itself holds it.
    for (const [writer, holder] of a.writerHolders) {
      if (holder !== null && holder === a.leadHolder) publications.set(writer, [...(publications.get(writer) ?? []), o.hostId]);
    }
  }
  const needed = majorityNeeded(rule, observations.length, reachable.length);
  const leading = held.length >= needed;
  // More than one publication is seen only for a moment (a leader that lost its majority keeps
  // its locks until it notices); the one on more servers wins, a tie follows nobody.
  let published: HostId | undefined;
  let publishedOn: HostId[] = [];
  let tie = false;
  for (const [writer, on] of publications) {
    if (on.length > publishedOn.length) {
      published = writer;
      publishedOn = on;
      tie = false;
    } else if (on.length === publishedOn.length) tie = true;
  }
  if (tie) {
    published = undefined;
    publishedOn = [];
  }
  return {
    reachable,
    unreachable,
    held,
    needed,
    leading,
    seesMajority: rule === 'all' ? reachable.length >= needed : reachable.length > 0,
    leader: leading ? `this instance (${instanceName})` : otherLeader,
    published,
    publishedOn,
  };
}

/** leading / following / without a majority / before the first round. */
export function cooperationRole(c: CooperationState): 'leading' | 'following' | 'no-majority' | 'starting' {
  const f = c.facts;
  if (f === undefined) return 'starting';
  if (f.leading) return 'leading';
  return f.seesMajority ? 'following' : 'no-majority';
}

/** Whether this instance may move the writer and change servers: alone, or as the leader. */
export function mayDecide(state: Pick<ClusterState, 'cooperation'>): boolean {
  return state.cooperation === undefined || state.cooperation.facts?.leading === true;
}

/** Why this instance refuses writes now (no majority), or undefined. */
export function writesRefusedReason(c: CooperationState | undefined, total: number): string | undefined {
  const f = c?.facts;
  if (c === undefined || f === undefined || f.seesMajority) return undefined;
  return (
    `this Sluice instance (${c.instanceName}) cannot reach a majority of the dataHost's servers ` +
    `(${f.reachable.length} of ${total}; unreachable: ${f.unreachable.join(', ')}): writes are refused until it can; reads go on`
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function sameFacts(a: CooperationFacts | undefined, b: CooperationFacts): boolean {
  return (
    a !== undefined &&
    a.leading === b.leading &&
    a.seesMajority === b.seesMajority &&
    a.needed === b.needed &&
    a.leader === b.leader &&
    a.published === b.published &&
    sameList(a.reachable, b.reachable) &&
    sameList(a.unreachable, b.unreachable) &&
    sameList(a.held, b.held) &&
    sameList(a.publishedOn, b.publishedOn)
  );
}

/** A round's facts into the state; a transition when this instance's role changed. */
export function reduceCooperation(
  c: CooperationState,
  facts: CooperationFacts,
  writerId: HostId,
): { cooperation: CooperationState; transitions: CooperationTransition[] } {
  if (sameFacts(c.facts, facts)) return { cooperation: c, transitions: [] };
  const next: CooperationState = { ...c, facts };
  const from = cooperationRole(c);
  const to = cooperationRole(next);
  if (from === to) return { cooperation: next, transitions: [] };
  const reason =
    to === 'leading'
      ? `holds the lead lock on ${facts.held.length} of ${facts.reachable.length + facts.unreachable.length} servers (${facts.held.join(', ')}; a majority is ${facts.needed})`
      : to === 'following'
        ? `${facts.leader ?? 'no instance'} leads${facts.published ? ` and publishes writeHost ${facts.published}` : ''}`
        : `reaches ${facts.reachable.length} of ${facts.reachable.length + facts.unreachable.length} servers (unreachable: ${facts.unreachable.join(', ')}; a majority is ${facts.needed}): writes refused`;
  return { cooperation: next, transitions: [{ kind: 'cooperation', hostId: writerId, from, to, reason }] };
}
