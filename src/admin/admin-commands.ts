import { NUMBERING_HELP } from './backend-numbers.js';

/**
 * The admin port's grammar (Atlas and Mycat shapes, case-insensitive, one statement per query).
 * `parseAdminCommand` is pure: it turns the text of a COM_QUERY into a command value; the admin
 * server executes it. Malformed arguments of a known command come back as `invalid` with the
 * reason; anything else as `unknown`.
 */

export type AdminCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  /** `select @@version_comment limit 1`, sent by the mysql/mariadb CLI on connect. */
  | { readonly kind: 'version-comment' }
  | { readonly kind: 'backends' }
  /** `ndx` is the 1-based backend_ndx of `SELECT * FROM backends`. */
  | { readonly kind: 'set-offline'; readonly ndx: number; readonly force: boolean }
  | { readonly kind: 'set-online'; readonly ndx: number }
  | { readonly kind: 'add-backend'; readonly role: 'write' | 'read'; readonly host: string; readonly port: number; readonly weight?: number }
  | { readonly kind: 'remove-backend'; readonly ndx: number }
  | { readonly kind: 'clients' }
  | { readonly kind: 'add-client'; readonly client: string }
  | { readonly kind: 'remove-client'; readonly client: string }
  | { readonly kind: 'pwds' }
  | { readonly kind: 'add-pwd'; readonly user: string; readonly password: string }
  | { readonly kind: 'remove-pwd'; readonly user: string }
  | { readonly kind: 'save-config' }
  | { readonly kind: 'show-datasource' }
  | { readonly kind: 'show-heartbeat' }
  /** `SHOW @@CLUSTER` / `SELECT * FROM cluster`: this instance's place among cooperating instances. */
  | { readonly kind: 'show-cluster' }
  /** Mycat `SWITCH @@DATASOURCE name:index`; `index` is 0-based into writeHosts (dnindex). */
  | { readonly kind: 'switch-datasource'; readonly name: string; readonly index: number }
  /** `SWITCHOVER [TO] name:index` (ProxySQL/MaxScale users' word): the planned switchover, always. */
  | { readonly kind: 'switchover'; readonly name: string; readonly index: number }
  | { readonly kind: 'reload-config' }
  | { readonly kind: 'show-connection' }
  | { readonly kind: 'kill-connection'; readonly ids: readonly number[] }
  | { readonly kind: 'show-backend' }
  | { readonly kind: 'stats' }
  /** `SHOW @@BLOCKED_HOSTS` / `SELECT * FROM blocked_hosts`: addresses with handshake errors. */
  | { readonly kind: 'show-blocked-hosts' }
  /** `FLUSH HOSTS` (MariaDB's) / `CLEAR @@BLOCKED_HOSTS` (Mycat's CLEAR @@ shape). */
  | { readonly kind: 'flush-hosts' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'unknown' };

export type AdminCommandKind = AdminCommand['kind'];

/** Rows of `SELECT * FROM help`: command shape and description. */
export const ADMIN_HELP: readonly (readonly [string, string])[] = [
  ['SELECT * FROM help', 'shows this help'],
  ['SELECT VERSION', 'display the version of Sluice'],
  [
    'SELECT * FROM backends',
    'lists the backends and their state; backend_ndx is the number SET OFFLINE/ONLINE and REMOVE BACKEND take, switch_datasource the argument SWITCH @@DATASOURCE takes; with cluster.cooperation, lead_lock (who holds the lead lock there: this instance, other instance, free, unreachable) and published_writer (the writeHost the leader publishes there)',
  ],
  ['backend numbers', NUMBERING_HELP],
  ['SET OFFLINE $backend_ndx [FORCE]', 'take a backend out of routing ($backend_ndx from SELECT * FROM backends, 1-based); running statements and transactions finish; FORCE cuts every connection to it'],
  ['SET ONLINE $backend_ndx', 'put an offline backend back ($backend_ndx from SELECT * FROM backends; state unknown until the next heartbeat)'],
  ['ADD MASTER $backend', 'example: "add master 127.0.0.1:3306": adds a standby writeHost (after the others), live'],
  ['ADD SLAVE $backend', 'example: "add slave 127.0.0.1:3306@2": adds a readHost (optional @weight), live; it serves reads once seen replicating'],
  ['REMOVE BACKEND $backend_ndx', 'example: "remove backend 3": removes backend_ndx 3 of SELECT * FROM backends, live (running statements finish)'],
  ['SELECT * FROM clients', 'lists the configured client addresses (empty = all allowed)'],
  ['ADD CLIENT $client', 'example: "add client 192.168.1.2" (IP or CIDR; checked from the next connection)'],
  ['REMOVE CLIENT $client', 'example: "remove client 192.168.1.2" (checked from the next connection)'],
  ['SELECT * FROM pwds', 'lists the front-end users and their password hashes'],
  ['ADD PWD $pwd', 'example: "add pwd user:raw_password" (stored as its *HEX hash; may log in at once)'],
  ['REMOVE PWD $pwd', 'example: "remove pwd user" (new logins refused at once)'],
  ['SAVE CONFIG', 'write the configuration (with the changes above) to the config file, atomically'],
  ['SHOW @@DATASOURCE', 'backends with their pool use; INDEX is the 0-based index within the role (SWITCH @@DATASOURCE NAME:INDEX for a W row), BACKEND_NDX the number of SELECT * FROM backends'],
  ['SHOW @@HEARTBEAT', 'heartbeat and replication state of every backend (with cluster.cooperation also LEAD_LOCK and PUBLISHED_WRITER per backend)'],
  [
    'SHOW @@CLUSTER',
    'cooperation with other Sluice instances (cluster.cooperation), one row per fact: this instance, its role (leading/following/no-majority/starting), who leads, the published writeHost and where it was seen, the majority, reachable servers, whether writes are refused, the lock names; also SELECT * FROM cluster',
  ],
  [
    'SWITCH @@DATASOURCE $dataHost:$index',
    'make writeHost $index the active writeHost ($index is 0-based among writeHosts: INDEX of SHOW @@DATASOURCE, not backend_ndx; e.g. dh1:1 is the second writeHost); with failover.promote and the writeHost up this is a planned switchover (see SWITCHOVER)',
  ],
  [
    'SWITCHOVER [TO] $dataHost:$index',
    'planned switchover to writeHost $index: new writes wait in the proxy, open transactions finish, the old writeHost turns read-only, the new one applies everything and is promoted, the others follow it, writes resume — no client error (needs failover.promote)',
  ],
  ['RELOAD @@CONFIG', 're-read and validate the config file and apply it: backends, accounts, whitelist, limits live; the rest at restart (listed)'],
  ['SHOW @@CONNECTION', 'client sessions'],
  ['KILL @@CONNECTION $id[,$id...]', 'close client sessions'],
  ['SHOW @@BACKEND', 'every backend connection: server thread id, host, state (idle/held/busy), schema, age'],
  ['SELECT * FROM stats', 'per statement digest statistics (also SHOW @@SQL)'],
  [
    'SHOW @@BLOCKED_HOSTS',
    'client addresses with handshake errors in a row (bad packets, aborted or timed-out handshakes; not wrong passwords) and whether they are blocked (limits.maxConnectErrors, error 1129); also SELECT * FROM blocked_hosts',
  ],
  ['FLUSH HOSTS', 'unblock every blocked client address and forget their handshake errors (MariaDB FLUSH HOSTS); also CLEAR @@BLOCKED_HOSTS'],
];

const INT = /^\d{1,9}$/;

function backendIndex(s: string): number | undefined {
  return INT.test(s) ? Number(s) : undefined;
}

/** `host:port[@weight]`; the host may be a bracketed IPv6 address. */
export function parseBackendAddress(s: string, allowWeight: boolean): { host: string; port: number; weight?: number } | string {
  const m = /^(\[[^\]]+\]|[^\s:@]+|[0-9a-fA-F:]+):(\d{1,5})(?:@(\d{1,6}))?$/.exec(s);
  if (!m) return `invalid backend address "${s}": expected host:port${allowWeight ? '[@weight]' : ''}`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `invalid port ${m[2]} in "${s}": must be 1-65535`;
  if (m[3] !== undefined && !allowWeight) return `"${s}": a weight (@n) is only accepted for ADD SLAVE`;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return m[3] === undefined ? { host, port } : { host, port, weight: Number(m[3]) };
}

/** Parses one admin statement. Never throws. */
export function parseAdminCommand(sql: string): AdminCommand {
  // One statement: trailing semicolons and surrounding blanks are ignored, inner blanks collapsed.
  const text = sql.replace(/[\s;]+$/, '').trim().replace(/\s+/g, ' ');
  const lower = text.toLowerCase();
  switch (lower) {
    case 'select * from help':
      return { kind: 'help' };
    case 'select version':
    case 'select version()':
      return { kind: 'version' };
    case 'select @@version_comment limit 1':
      return { kind: 'version-comment' };
    case 'select * from backends':
      return { kind: 'backends' };
    case 'select * from clients':
      return { kind: 'clients' };
    case 'select * from pwds':
      return { kind: 'pwds' };
    case 'save config':
      return { kind: 'save-config' };
    case 'show @@datasource':
      return { kind: 'show-datasource' };
    case 'show @@heartbeat':
      return { kind: 'show-heartbeat' };
    case 'show @@cluster':
    case 'select * from cluster':
      return { kind: 'show-cluster' };
    case 'reload @@config':
    case 'reload @@config_all':
      return { kind: 'reload-config' };
    case 'show @@connection':
      return { kind: 'show-connection' };
    case 'show @@backend':
      return { kind: 'show-backend' };
    case 'select * from stats':
    case 'show @@sql':
      return { kind: 'stats' };
    case 'show @@blocked_hosts':
    case 'select * from blocked_hosts':
      return { kind: 'show-blocked-hosts' };
    case 'flush hosts':
    case 'clear @@blocked_hosts':
      return { kind: 'flush-hosts' };
  }
  let m: RegExpExecArray | null;
  if ((m = /^set (offline|online) (\S+)( force)?$/i.exec(text))) {
    const ndx = backendIndex(m[2]!);
    if (ndx === undefined) return { kind: 'invalid', reason: `backend id must be a number (backend_ndx), got "${m[2]}"` };
    if (m[1]!.toLowerCase() === 'online') {
      return m[3] ? { kind: 'invalid', reason: 'FORCE applies to SET OFFLINE only' } : { kind: 'set-online', ndx };
    }
    return { kind: 'set-offline', ndx, force: m[3] !== undefined };
  }
  if ((m = /^add (master|slave) (\S+)$/i.exec(text))) {
    const write = m[1]!.toLowerCase() === 'master';
    const a = parseBackendAddress(m[2]!, !write);
    if (typeof a === 'string') return { kind: 'invalid', reason: a };
    return { kind: 'add-backend', role: write ? 'write' : 'read', ...a };
  }
  if ((m = /^remove backend (\S+)$/i.exec(text))) {
    const ndx = backendIndex(m[1]!);
    return ndx === undefined ? { kind: 'invalid', reason: `backend id must be a number (backend_ndx), got "${m[1]}"` } : { kind: 'remove-backend', ndx };
  }
  if ((m = /^(add|remove) client (\S+)$/i.exec(text))) {
    return { kind: m[1]!.toLowerCase() === 'add' ? 'add-client' : 'remove-client', client: m[2]! };
  }
  // The password is taken verbatim from the original text (it may contain any character but
  // blanks are collapsed above, so use the raw statement for it).
  if (/^add pwd /i.test(text)) {
    const raw = sql.replace(/[\s;]+$/, '').trim().replace(/^add\s+pwd\s+/i, '');
    const colon = raw.indexOf(':');
    if (colon <= 0) return { kind: 'invalid', reason: 'expected ADD PWD user:password' };
    return { kind: 'add-pwd', user: raw.slice(0, colon), password: raw.slice(colon + 1) };
  }
  if ((m = /^remove pwd (\S+)$/i.exec(text))) return { kind: 'remove-pwd', user: m[1]! };
  if ((m = /^switch @@datasource (\S+)$/i.exec(text))) {
    const sw = /^([^:]+):(\d{1,4})$/.exec(m[1]!);
    if (!sw) return { kind: 'invalid', reason: `expected SWITCH @@DATASOURCE dataHost:index, got "${m[1]}"` };
    return { kind: 'switch-datasource', name: sw[1]!, index: Number(sw[2]) };
  }
  if ((m = /^switchover (?:to )?(\S+)$/i.exec(text))) {
    const sw = /^([^:]+):(\d{1,4})$/.exec(m[1]!);
    if (!sw) return { kind: 'invalid', reason: `expected SWITCHOVER dataHost:index, got "${m[1]}"` };
    return { kind: 'switchover', name: sw[1]!, index: Number(sw[2]) };
  }
  if ((m = /^kill @@connection (.+)$/i.exec(text))) {
    const parts = m[1]!.split(',').map((s) => s.trim());
    if (parts.some((p) => !INT.test(p))) return { kind: 'invalid', reason: `expected KILL @@CONNECTION id[,id...], got "${m[1]}"` };
    return { kind: 'kill-connection', ids: parts.map(Number) };
  }
  return { kind: 'unknown' };
}
