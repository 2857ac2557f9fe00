/**
 * What of a new configuration the running proxy can take without a restart (ProxySQL's
 * "load to runtime", done for every change: admin commands and RELOAD @@CONFIG alike).
 *
 * `planConfigChange` is pure: running config + validated next config + the active writeHost
 * index → the backend changes to make (as cluster events) and the config to run with from now
 * on. Everything else that differs is listed as needing a restart and keeps its running value,
 * so the running proxy never half-applies a setting it cannot honour (pool sizes, listeners,
 * TLS, heartbeat timing are built at start).
 *
 * Live:
 *  - users, clients, maxConnections, limits (checked at each login / connection);
 *  - log.sql / slowMs / maxStatementLength / maskLiterals, session.readYourWritesMs,
 *    session.consistency / consistencyTimeoutMs / idleTimeoutMs / writeTimeoutMs,
 *    serverVersion (read per statement or per connection);
 *  - dataHost.readHosts and dataHost.writeHosts: hosts added, removed, re-weighted. writeHosts
 *    only when the hosts that stay keep their order and none at or before the active writeHost
 *    leaves, because the dnindex records a position in that list; otherwise the writeHosts
 *    change waits for a restart (and the reason is given).
 */
import type { HostConfig, SluiceConfig } from './types.js';

type HostRole = 'write' | 'read';

export interface HostChange {
  readonly host: string;
  readonly port: number;
  readonly role: HostRole;
  readonly weight: number;
}

export interface ConfigChangePlan {
  /** Backends to remove (by id `host:port`), applied before `add`. */
  readonly remove: readonly { readonly hostId: string; readonly role: HostRole }[];
  readonly add: readonly HostChange[];
  readonly reweight: readonly { readonly hostId: string; readonly weight: number }[];
  /** Config paths whose new value is applied now. */
  readonly live: readonly string[];
  /** Config paths that differ but take effect only at the next start (running value kept). */
  readonly restart: readonly string[];
  /** Why a host-list change is not applied live (it is then in `restart`). */
  readonly notes: readonly string[];
  /** The configuration to run with: `running` with the live parts of `next`. */
  readonly config: SluiceConfig;
}

const idOf = (h: HostConfig): string => `${h.host}:${h.port}`;
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Top-level keys (dataHost: its keys) whose values differ, as config paths. */
export function configDifferences(a: SluiceConfig, b: SluiceConfig): string[] {
  const out: string[] = [];
  const ja = a as unknown as Record<string, unknown>;
  const jb = b as unknown as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(ja), ...Object.keys(jb)])].sort()) {
    if (k === 'dataHost' || k === 'log' || k === 'session') {
      const da = (ja[k] ?? {}) as Record<string, unknown>;
      const db = (jb[k] ?? {}) as Record<string, unknown>;
      for (const dk of [...new Set([...Object.keys(da), ...Object.keys(db)])].sort()) {
        if (!same(da[dk], db[dk])) out.push(`${k}.${dk}`);
      }
    } else if (!same(ja[k], jb[k])) {
      out.push(k);
    }
  }
  return out;
}

const LIVE_PATHS = new Set([
  'users',
  'clients',
  'maxConnections',
  'limits',
  'serverVersion',
  'log.sql',
  'log.slowMs',
  'log.maxStatementLength',
  'log.maskLiterals',
  'session.readYourWritesMs',
  'session.consistency',
  'session.consistencyTimeoutMs',
  'session.idleTimeoutMs',
  'session.writeTimeoutMs',
  'dataHost.readHosts',
  'dataHost.writeHosts',
]);

interface HostListPlan {
  readonly remove: string[];
  readonly add: HostConfig[];
  readonly reweight: { hostId: string; weight: number }[];
  /** Set when the change cannot be made live. */
  readonly refusal?: string;
}

function planHostList(role: HostRole, before: readonly HostConfig[], after: readonly HostConfig[], writerIndex: number): HostListPlan {
  const afterIds = new Set(after.map(idOf));
  const beforeIds = new Set(before.map(idOf));
  const remove = before.filter((h) => !afterIds.has(idOf(h))).map(idOf);
  const add = after.filter((h) => !beforeIds.has(idOf(h)));
  const reweight = after
    .filter((h) => beforeIds.has(idOf(h)))
    .flatMap((h) => {
      const old = before.find((b) => idOf(b) === idOf(h))!;
      return old.weight === h.weight ? [] : [{ hostId: idOf(h), weight: h.weight }];
    });
  if (role === 'write') {
    const kept = (list: readonly HostConfig[]) => list.map(idOf).filter((id) => beforeIds.has(id) && afterIds.has(id));
    if (!same(kept(before), kept(after))) {
      return { remove, add, reweight, refusal: 'the writeHosts that stay changed order (the dnindex records a position in that list)' };
    }
    const early = before.findIndex((h, i) => i <= writerIndex && !afterIds.has(idOf(h)));
    if (early !== -1) {
      const what = early === writerIndex ? 'the active writeHost' : `writeHost ${early}, before the active writeHost ${writerIndex},`;
      return { remove, add, reweight, refusal: `${what} (${idOf(before[early]!)}) would leave (the dnindex records a position in that list)` };
    }
    // New writeHosts can only join at the end of the list (positions before stay meaningful).
    const firstNew = after.findIndex((h) => !beforeIds.has(idOf(h)));
    if (firstNew !== -1 && after.slice(firstNew).some((h) => beforeIds.has(idOf(h)))) {
      return { remove, add, reweight, refusal: 'a new writeHost is placed before existing ones (new writeHosts can only be appended)' };
    }
  }
  return { remove, add, reweight };
}

export function planConfigChange(running: SluiceConfig, next: SluiceConfig, writerIndex: number): ConfigChangePlan {
  const differs = configDifferences(running, next);
  const notes: string[] = [];
  const remove: { hostId: string; role: HostRole }[] = [];
  const add: HostChange[] = [];
  const reweight: { hostId: string; weight: number }[] = [];
  const live: string[] = [];
  const restart: string[] = [];

  let writeHosts = running.dataHost.writeHosts;
  let readHosts = running.dataHost.readHosts;
  for (const role of ['write', 'read'] as const) {
    const path = role === 'write' ? 'dataHost.writeHosts' : 'dataHost.readHosts';
    if (!differs.includes(path)) continue;
    const before = role === 'write' ? running.dataHost.writeHosts : running.dataHost.readHosts;
    const after = role === 'write' ? next.dataHost.writeHosts : next.dataHost.readHosts;
    const p = planHostList(role, before, after, writerIndex);
    if (p.refusal !== undefined) {
      notes.push(`${path} not applied live: ${p.refusal}`);
      restart.push(path);
      continue;
    }
    remove.push(...p.remove.map((hostId) => ({ hostId, role })));
    add.push(...p.add.map((h) => ({ host: h.host, port: h.port, role, weight: h.weight })));
    reweight.push(...p.reweight);
    // The running order: the hosts that stay, in their order, then the new ones.
    const kept = before.filter((h) => !p.remove.includes(idOf(h))).map((h) => after.find((a) => idOf(a) === idOf(h))!);
    const list = [...kept, ...p.add];
    if (role === 'write') writeHosts = list;
    else readHosts = list;
    live.push(path);
  }
  // A host that moves between the lists leaves one and joins the other: remove before add.
  for (const path of differs) {
    if (path === 'dataHost.writeHosts' || path === 'dataHost.readHosts') continue;
    (LIVE_PATHS.has(path) ? live : restart).push(path);
  }

  const { serverVersion: _old, ...runningRest } = running;
  const config: SluiceConfig = {
    ...runningRest,
    ...(next.serverVersion !== undefined ? { serverVersion: next.serverVersion } : {}),
    users: next.users,
    clients: next.clients,
    maxConnections: next.maxConnections,
    log: { ...running.log, sql: next.log.sql, slowMs: next.log.slowMs, maxStatementLength: next.log.maxStatementLength, maskLiterals: next.log.maskLiterals },
    session: {
      ...running.session,
      readYourWritesMs: next.session.readYourWritesMs,
      consistency: next.session.consistency,
      consistencyTimeoutMs: next.session.consistencyTimeoutMs,
      idleTimeoutMs: next.session.idleTimeoutMs,
      writeTimeoutMs: next.session.writeTimeoutMs,
    },
    dataHost: { ...running.dataHost, writeHosts, readHosts },
  };
  return { remove, add, reweight, live: live.sort(), restart: restart.sort(), notes, config };
}
