/**
 * State → result rows for the admin port. Pure functions: the server encodes the tables.
 * Column names and order of the Atlas views are Atlas's (`backend_ndx | address | state | type`),
 * Sluice's own columns follow them.
 */
import type { HostErrorRow } from '../frontend/host-errors.js';
import { readFileSync } from 'node:fs';
import type { BackendSocketInfo } from '../backend/host-pools.js';
import type { ClusterView, HostView } from '../cluster/view.js';
import type { SluiceConfig } from '../config/types.js';
import { nativePasswordHash } from '../protocol/auth.js';
import { COLLATIONS } from '../protocol/collations.js';
import { ADMIN_HELP } from './admin-commands.js';
import { backendNdx, roleName, switchDatasourceArg } from './backend-numbers.js';
import { leadLockOn, publishedWriterOn } from './cooperation-views.js';

export type { AdminColumn, AdminTable, Cell } from './admin-table.js';
import type { AdminColumn, AdminTable, Cell } from './admin-table.js';

/** One statement digest, as the statement stats registry reports it. */
export interface StatementStat {
  readonly digest: string;
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
  readonly rows: number;
  readonly writer: number;
  readonly reader: number;
}

/** A host's pool connections (summed over workers). */
export interface PoolNumbers {
  readonly borrowed: number;
  readonly idle: number;
  readonly waiting: number;
}

/** What a client session exposes to the admin views. */
export interface SessionInfo {
  readonly id: number;
  readonly user: string | undefined;
  readonly remoteAddress: string;
  readonly schema: string | undefined;
  readonly currentSql: string | undefined;
  readonly connectedAt?: number;
  /** Host of the open transaction / pinned state, if any. */
  readonly transactionHost?: string | undefined;
  /** Hosts the session keeps a backend connection to. */
  readonly heldHosts?: readonly string[];
  /** GTIDs of the session's commits, which its reads must see (session.consistency). */
  readonly lastGtid?: string | undefined;
  /** Worker process holding the session (1-based); 0 or absent when one process does everything. */
  readonly worker?: number;
}

const str = (name: string): AdminColumn => ({ name });
const num = (name: string): AdminColumn => ({ name, numeric: true });
const real = (name: string): AdminColumn => ({ name, numeric: true, real: true });

let cachedVersion: string | undefined;
/** Sluice's version from package.json (src/admin and dist/admin are both two levels down). */
export function sluiceVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
      cachedVersion = pkg.version ?? 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

export function helpTable(): AdminTable {
  return { columns: [str('command'), str('description')], rows: ADMIN_HELP.map(([c, d]) => [c, d]) };
}

export function versionTable(): AdminTable {
  return { columns: [str('version')], rows: [[sluiceVersion()]] };
}

export function hostAddress(h: { host: string; port: number }): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

/** Atlas type: rw for the active writeHost, ro for everything else. */
function atlasType(view: ClusterView, h: HostView): 'rw' | 'ro' {
  return h.role === 'write' && h.index === view.writerIndex ? 'rw' : 'ro';
}

function yesNo(v: boolean | undefined): string | null {
  return v === undefined ? null : v ? 'yes' : 'no';
}

export const BACKENDS_COLUMNS: readonly AdminColumn[] = [
  num('backend_ndx'),
  str('address'),
  str('state'),
  str('type'),
  num('weight'),
  str('role'),
  str('readable'),
  str('read_only'),
  num('lag'),
  num('connections'),
  str('last_error'),
  // Added after Atlas's and the earlier Sluice columns so tools reading by position keep working:
  // the argument SWITCH @@DATASOURCE takes for this writeHost (null for readHosts), so the two
  // numberings are side by side in one output.
  str('switch_datasource'),
];

/**
 * With cluster.cooperation on, `SELECT * FROM backends` and `SHOW @@HEARTBEAT` end with two more
 * columns: who holds the lead lock on the server (this instance / other instance / free /
 * unreachable; NULL before the first round of lock queries) and the writeHost published there
 * (the leader's writer lock; NULL where none was seen). Without cooperation the columns are left
 * out rather than sent as NULL: cooperation cannot change without a restart, so a running
 * instance keeps one column list, and the output of an instance that does not cooperate stays
 * exactly what existing tools and scripts (Atlas's clients included) already read.
 */
function cooperationColumns(view: ClusterView, upper: boolean): readonly AdminColumn[] {
  if (view.cooperation === undefined) return [];
  return upper ? [str('LEAD_LOCK'), str('PUBLISHED_WRITER')] : [str('lead_lock'), str('published_writer')];
}

function cooperationCells(view: ClusterView, h: HostView): Cell[] {
  return view.cooperation === undefined ? [] : [leadLockOn(view, h.id), publishedWriterOn(view, h.id)];
}

/** `SELECT * FROM backends` (all hosts, or only those whose backend_ndx is in `only`). */
export function backendsTable(
  view: ClusterView,
  stats: (hostId: string) => PoolNumbers | undefined,
  only?: readonly number[],
): AdminTable {
  const rows: Cell[][] = [];
  view.hosts.forEach((h, i) => {
    const ndx = backendNdx(i);
    if (only && !only.includes(ndx)) return;
    const s = stats(h.id);
    rows.push([
      ndx,
      hostAddress(h),
      h.status,
      atlasType(view, h),
      h.weight,
      roleName(h),
      yesNo(h.readable),
      yesNo(h.readOnly),
      h.replication?.lagSeconds ?? null,
      s ? s.borrowed + s.idle : null,
      h.lastError ?? null,
      switchDatasourceArg(view, h),
      ...cooperationCells(view, h),
    ]);
  });
  return { columns: [...BACKENDS_COLUMNS, ...cooperationColumns(view, false)], rows };
}

/** SHOW @@BLOCKED_HOSTS: addresses with handshake errors in a row, most first. */
export function blockedHostsTable(rows: readonly HostErrorRow[]): AdminTable {
  return {
    columns: [str('ADDRESS'), { name: 'ERRORS', numeric: true }, str('BLOCKED'), str('LAST_ERROR')],
    rows: rows.map((r) => [r.address, r.errors, r.blocked ? 'yes' : 'no', new Date(r.lastErrorAt).toISOString()]),
  };
}

export function clientsTable(config: SluiceConfig): AdminTable {
  return { columns: [str('client')], rows: config.clients.map((c) => [c]) };
}

/** The stored password form shown by `SELECT * FROM pwds`: never the plain text. */
export function passwordHashForm(stored: string, auth: string | undefined): string {
  if (/^\*[0-9a-fA-F]{40}$/.test(stored) || /^sha2:[0-9a-fA-F]{64}$/.test(stored)) return stored;
  if (stored === '') return '';
  if (auth === 'caching_sha2_password') return '(plain text in the config; hashed as sha2)';
  return `*${nativePasswordHash(stored).toString('hex').toUpperCase()}`;
}

export function pwdsTable(config: SluiceConfig): AdminTable {
  return {
    columns: [str('username'), str('password'), str('auth')],
    rows: config.users.map((u) => [u.name, passwordHashForm(u.password, u.auth), u.auth ?? 'mysql_native_password']),
  };
}

export function datasourceTable(
  view: ClusterView,
  stats: (hostId: string) => PoolNumbers | undefined,
  poolMax: number,
): AdminTable {
  return {
    // INDEX is Mycat's per-role index (SWITCH @@DATASOURCE NAME:INDEX for a W row); BACKEND_NDX,
    // added last, is the number of the same host in SELECT * FROM backends (SET ONLINE/OFFLINE,
    // REMOVE BACKEND), so an operator never has to translate between the two.
    columns: [
      str('NAME'), num('INDEX'), str('HOST'), num('PORT'), str('W/R'), str('STATUS'), str('ACTIVE_WRITER'),
      num('ACTIVE'), num('IDLE'), num('WAITING'), num('SIZE'), num('WEIGHT'), num('BACKEND_NDX'),
    ],
    rows: view.hosts.map((h, i) => {
      const s = stats(h.id);
      return [
        view.dataHost,
        h.index,
        h.host,
        h.port,
        h.role === 'write' ? 'W' : 'R',
        h.status,
        atlasType(view, h) === 'rw' ? 'yes' : 'no',
        s?.borrowed ?? 0,
        s?.idle ?? 0,
        s?.waiting ?? 0,
        poolMax,
        h.weight,
        backendNdx(i),
      ];
    }),
  };
}

export function heartbeatTable(view: ClusterView): AdminTable {
  return {
    columns: [
      str('NAME'), str('ROLE'), str('HOST'), num('PORT'), str('STATUS'), num('MISSES'), str('LAST_ERROR'),
      str('READABLE'), str('READ_ONLY'), num('LAG'), str('IO_THREAD'), str('SQL_THREAD'), str('SOURCE'), str('REPLICATION_ERROR'),
      ...cooperationColumns(view, true),
    ],
    rows: view.hosts.map((h) => {
      const r = h.replication;
      return [
        view.dataHost,
        roleName(h),
        h.host,
        h.port,
        h.status,
        h.misses ?? 0,
        h.lastError ?? null,
        yesNo(h.readable),
        yesNo(h.readOnly),
        r?.lagSeconds ?? null,
        r ? (r.isReplica ? r.ioState : 'n/a') : null,
        r ? (r.isReplica ? (r.sqlRunning ? 'yes' : 'no') : 'n/a') : null,
        r?.sourceHost !== undefined ? `${r.sourceHost}:${r.sourcePort ?? '?'}` : null,
        r?.probeError ?? r?.threadError ?? null,
        ...cooperationCells(view, h),
      ];
    }),
  };
}

export function connectionTable(sessions: Iterable<SessionInfo>, now = Date.now()): AdminTable {
  const rows: Cell[][] = [];
  for (const s of sessions) {
    rows.push([
      s.id,
      s.user ?? null,
      s.remoteAddress,
      s.schema ?? null,
      s.currentSql ?? null,
      s.connectedAt !== undefined ? Math.floor((now - s.connectedAt) / 1000) : null,
      s.transactionHost ?? null,
      s.heldHosts && s.heldHosts.length > 0 ? s.heldHosts.join(',') : null,
      s.lastGtid ?? null,
      s.worker ? s.worker : null,
    ]);
  }
  rows.sort((a, b) => (a[0] as number) - (b[0] as number));
  return {
    columns: [num('ID'), str('USER'), str('HOST'), str('SCHEMA'), str('INFO'), num('TIME'), str('TRANSACTION_ON'), str('BACKENDS'), str('LAST_GTID'), num('WORKER')],
    rows,
  };
}

/** Mycat `SHOW @@BACKEND`: every backend socket with its state. */
export function backendSocketsTable(view: ClusterView, sockets: (hostId: string) => readonly BackendSocketInfo[], now = Date.now()): AdminTable {
  const rows: Cell[][] = [];
  for (const h of view.hosts) {
    for (const c of sockets(h.id)) {
      rows.push([
        c.serial,
        c.threadId,
        hostAddress(h),
        roleName(h),
        c.localPort ?? null,
        c.state,
        c.schema ?? null,
        COLLATIONS.get(c.charset)?.name ?? String(c.charset),
        c.tls ? 'yes' : 'no',
        c.dirty ? 'yes' : 'no',
        Math.round((now - c.createdAt) / 1000),
        Math.round((now - c.lastUsedAt) / 1000),
      ]);
    }
  }
  return {
    columns: [
      num('ID'),
      num('MYSQLID'),
      str('HOST'),
      str('ROLE'),
      num('LOCAL_PORT'),
      str('STATE'),
      str('SCHEMA'),
      str('COLLATION'),
      str('TLS'),
      str('NEEDS_RESET'),
      num('AGE_S'),
      num('IDLE_S'),
    ],
    rows,
  };
}

export function statsTable(top: readonly StatementStat[]): AdminTable {
  return {
    columns: [str('digest'), num('count'), real('total_ms'), real('avg_ms'), real('max_ms'), num('rows'), num('writer'), num('reader')],
    rows: top.map((s) => [
      s.digest,
      s.count,
      Math.round(s.totalMs * 1000) / 1000,
      s.count > 0 ? Math.round((s.totalMs / s.count) * 1000) / 1000 : 0,
      Math.round(s.maxMs * 1000) / 1000,
      s.rows,
      s.writer,
      s.reader,
    ]),
  };
}
