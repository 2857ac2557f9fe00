/**
 * Load-balancing selectors: pick one host among the router's reader candidates. Pure (no I/O,
 * no clock, no randomness); the only state is the selector's own rotation / ring caches.
 *
 *  - round-robin: smooth weighted round-robin (nginx). State is kept per candidate set (ids +
 *    weights, in order), so a set that changes and later comes back resumes its own sequence,
 *    and every set gets an exact weighted distribution (over `sum(weights)` consecutive picks
 *    each host is picked exactly `weight` times, interleaved).
 *  - least-conn: fewest active connections per unit of weight (compared without division);
 *    ties are broken round-robin.
 *  - consistent-hash: a ring of virtual nodes (160 × weight per host, FNV-1a + murmur3
 *    finaliser) hashed on the statement digest; one ring per candidate set, cached. Removing a
 *    host remaps only the keys that host owned.
 *
 * Hosts with weight <= 0 (or a non-finite weight) are never picked. Picking from an empty set, or
 * from a set with no positive weight, throws a RangeError (the router never asks for that).
 */
import type { HostId, HostView } from '../cluster/view.js';

export type SelectorKind = 'round-robin' | 'least-conn' | 'consistent-hash';

export interface Selector {
  readonly kind: SelectorKind;
  /**
   * @param candidates hosts to choose from (the router's memoised, frozen list)
   * @param key the statement digest (consistent-hash only)
   * @param activeConnections in-use connections per host (least-conn only)
   */
  pick(candidates: readonly HostView[], key: string, activeConnections: (id: HostId) => number): HostView;
}

/** Virtual nodes per unit of weight on the consistent-hash ring. */
export const VNODES_PER_WEIGHT = 160;
/** Upper bound on ring points per host (a weight of 1000 and beyond is treated as 1000). */
const MAX_VNODES_PER_HOST = VNODES_PER_WEIGHT * 1000;
/** Candidate sets remembered per selector (state for sets beyond this is rebuilt when needed). */
const MAX_SETS = 64;

function effectiveWeight(h: HostView): number {
  const w = h.weight;
  return Number.isFinite(w) && w > 0 ? w : 0;
}

function noCandidate(candidates: readonly HostView[]): RangeError {
  return new RangeError(
    candidates.length === 0 ? 'selector: no candidate hosts' : 'selector: no candidate host has a positive weight',
  );
}

/** Identity of a candidate set: ids and weights in order. */
export function candidateSetKey(candidates: readonly HostView[]): string {
  let key = '';
  for (let j = 0; j < candidates.length; j++) {
    const h = candidates[j]!;
    key += (j === 0 ? '' : '\u0001') + h.id + '\u0000' + effectiveWeight(h);
  }
  return key;
}

/**
 * Per-candidate-set state, found by array identity first (the router hands out the same frozen
 * array for the same view) and by content otherwise.
 */
class SetCache<S> {
  readonly #byArray = new WeakMap<readonly HostView[], S>();
  readonly #byKey = new Map<string, S>();
  readonly #build: (candidates: readonly HostView[]) => S;

  constructor(build: (candidates: readonly HostView[]) => S) {
    this.#build = build;
  }

  get(candidates: readonly HostView[]): S {
    const hit = this.#byArray.get(candidates);
    if (hit !== undefined) return hit;
    const key = candidateSetKey(candidates);
    let state = this.#byKey.get(key);
    if (state === undefined) {
      state = this.#build(candidates);
      if (this.#byKey.size >= MAX_SETS) {
        const oldest = this.#byKey.keys().next();
        if (oldest.done !== true) this.#byKey.delete(oldest.value);
      }
      this.#byKey.set(key, state);
    }
    this.#byArray.set(candidates, state);
    return state;
  }

  get size(): number {
    return this.#byKey.size;
  }
}

// ---------------------------------------------------------------------------------------------
// Smooth weighted round-robin
// ---------------------------------------------------------------------------------------------

interface WrrState {
  readonly weights: Float64Array;
  readonly current: Float64Array;
  readonly total: number;
}

function buildWrr(candidates: readonly HostView[]): WrrState {
  const weights = new Float64Array(candidates.length);
  let total = 0;
  for (let j = 0; j < candidates.length; j++) {
    const w = effectiveWeight(candidates[j]!);
    weights[j] = w;
    total += w;
  }
  return { weights, current: new Float64Array(candidates.length), total };
}

class RoundRobinSelector implements Selector {
  readonly kind = 'round-robin' as const;
  readonly #sets = new SetCache<WrrState>(buildWrr);

  pick(candidates: readonly HostView[]): HostView {
    if (candidates.length === 1 && effectiveWeight(candidates[0]!) > 0) return candidates[0]!;
    const s = this.#sets.get(candidates);
    if (s.total <= 0) throw noCandidate(candidates);
    const { weights, current } = s;
    let best = -1;
    let bestCurrent = -Infinity;
    for (let j = 0; j < weights.length; j++) {
      const w = weights[j]!;
      if (w <= 0) continue;
      const c = current[j]! + w;
      current[j] = c;
      if (c > bestCurrent) {
        bestCurrent = c;
        best = j;
      }
    }
    current[best] = bestCurrent - s.total;
    return candidates[best]!;
  }
}

// ---------------------------------------------------------------------------------------------
// Least connections
// ---------------------------------------------------------------------------------------------

class LeastConnSelector implements Selector {
  readonly kind = 'least-conn' as const;
  #rotation = 0;
  #active = new Float64Array(16);

  pick(candidates: readonly HostView[], _key: string, activeConnections: (id: HostId) => number): HostView {
    const n = candidates.length;
    if (this.#active.length < n) this.#active = new Float64Array(n * 2);
    const active = this.#active;
    let bestActive = 0;
    let bestWeight = 0;
    let ties = 0;
    for (let j = 0; j < n; j++) {
      const h = candidates[j]!;
      const w = effectiveWeight(h);
      if (w <= 0) continue;
      const a = Math.max(0, activeConnections(h.id) || 0);
      active[j] = a;
      if (ties === 0) {
        bestActive = a;
        bestWeight = w;
        ties = 1;
        continue;
      }
      // compare a / w with bestActive / bestWeight without dividing
      const lhs = a * bestWeight;
      const rhs = bestActive * w;
      if (lhs < rhs) {
        bestActive = a;
        bestWeight = w;
        ties = 1;
      } else if (lhs === rhs) ties++;
    }
    if (ties === 0) throw noCandidate(candidates);
    let nth = ties === 1 ? 0 : this.#rotation++ % ties;
    if (this.#rotation >= 0x3fffffff) this.#rotation = 0;
    for (let j = 0; j < n; j++) {
      const h = candidates[j]!;
      const w = effectiveWeight(h);
      if (w <= 0) continue;
      if (active[j]! * bestWeight === bestActive * w) {
        if (nth === 0) return h;
        nth--;
      }
    }
    /* c8 ignore next */
    throw noCandidate(candidates);
  }
}

// ---------------------------------------------------------------------------------------------
// Consistent hash
// ---------------------------------------------------------------------------------------------

/** FNV-1a over UTF-16 code units, then the murmur3 finaliser for avalanche. Unsigned 32-bit. */
export function hash32(s: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ring {
  /** Sorted ring positions. */
  readonly points: Uint32Array;
  /** Index (into the candidate list the ring was built for) owning each point. */
  readonly owners: Int32Array;
}

function buildRing(candidates: readonly HostView[]): Ring {
  const pts: number[] = [];
  const own: number[] = [];
  for (let j = 0; j < candidates.length; j++) {
    const h = candidates[j]!;
    const w = effectiveWeight(h);
    if (w <= 0) continue;
    const vnodes = Math.min(MAX_VNODES_PER_HOST, Math.max(1, Math.round(VNODES_PER_WEIGHT * w)));
    for (let v = 0; v < vnodes; v++) {
      pts.push(hash32(`${h.id}#${v}`));
      own.push(j);
    }
  }
  const order = pts.map((_, i) => i);
  // Sort by position; equal positions by host id so the ring does not depend on list order.
  order.sort((a, b) => pts[a]! - pts[b]! || compareIds(candidates[own[a]!]!.id, candidates[own[b]!]!.id));
  const points = new Uint32Array(order.length);
  const owners = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    points[i] = pts[order[i]!]!;
    owners[i] = own[order[i]!]!;
  }
  return { points, owners };
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

class ConsistentHashSelector implements Selector {
  readonly kind = 'consistent-hash' as const;
  readonly #rings = new SetCache<Ring>(buildRing);

  pick(candidates: readonly HostView[], key: string): HostView {
    if (candidates.length === 1 && effectiveWeight(candidates[0]!) > 0) return candidates[0]!;
    const { points, owners } = this.#rings.get(candidates);
    if (points.length === 0) throw noCandidate(candidates);
    const h = hash32(key);
    // first point >= h, wrapping around
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    if (lo === points.length) lo = 0;
    return candidates[owners[lo]!]!;
  }
}

export function createSelector(kind: SelectorKind): Selector {
  switch (kind) {
    case 'round-robin':
      return new RoundRobinSelector();
    case 'least-conn':
      return new LeastConnSelector();
    case 'consistent-hash':
      return new ConsistentHashSelector();
    default: {
      const never: never = kind;
      throw new RangeError(`unknown selector kind: ${String(never)}`);
    }
  }
}
