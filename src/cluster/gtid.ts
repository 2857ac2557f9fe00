/**
 * GTID positions, as far as causal reads need them: "has host H applied the write the session
 * made?". A position maps a replication stream to the highest sequence number known in it:
 *
 *  - MariaDB: the stream is a replication domain; a GTID is `domain-server-seq` and positions
 *    are comma-separated lists of them (`@@gtid_slave_pos`, `last_gtid`). Within a domain,
 *    transactions are applied in sequence order, so `seq >= n` means "applied n".
 *  - MySQL: the stream is a source UUID; a GTID is `uuid:n` and sets are `uuid:1-5:7,uuid2:1-3`.
 *    A replica applying in commit order (replica_preserve_commit_order, the default since 8.0.27)
 *    has no gaps below its highest number, so the highest interval end stands for the stream.
 *
 * Pure values: parsed once when a write's OK or a probe arrives, compared on the read path.
 */

/** One stream's highest sequence number and the text that names it (for MASTER_GTID_WAIT). */
export interface GtidMark {
  readonly seq: bigint;
  /** `domain-server-seq` (MariaDB) or `uuid:seq` (MySQL). */
  readonly text: string;
}

/** Stream (MariaDB domain id, or MySQL source UUID) → highest sequence number. */
export type GtidPosition = ReadonlyMap<string, GtidMark>;

export type GtidFlavor = 'mariadb' | 'mysql';

export const EMPTY_POSITION: GtidPosition = new Map();

/**
 * Parses a MariaDB GTID list (`0-1-5,1-2-7`) or a MySQL GTID set (`uuid:1-5:7, uuid2:3`).
 * Whitespace and newlines (MySQL prints sets over several lines) are ignored; anything that is
 * not a GTID is skipped rather than guessed at.
 */
export function parseGtids(text: string | null | undefined): GtidPosition {
  const out = new Map<string, GtidMark>();
  if (!text) return out;
  for (const raw of text.split(',')) {
    const part = raw.replace(/\s+/g, '');
    if (part === '') continue;
    const maria = /^(\d+)-(\d+)-(\d+)$/.exec(part);
    if (maria) {
      const seq = BigInt(maria[3]!);
      const prev = out.get(maria[1]!);
      if (!prev || prev.seq < seq) out.set(maria[1]!, { seq, text: part });
      continue;
    }
    const colon = part.indexOf(':');
    if (colon <= 0) continue;
    const uuid = part.slice(0, colon).toLowerCase();
    if (!/^[0-9a-f-]{36}$/.test(uuid)) continue;
    let max = -1n;
    for (const interval of part.slice(colon + 1).split(':')) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(interval);
      if (!m) continue;
      const end = BigInt(m[2] ?? m[1]!);
      if (end > max) max = end;
    }
    if (max < 0n) continue;
    const prev = out.get(uuid);
    if (!prev || prev.seq < max) out.set(uuid, { seq: max, text: `${uuid}:${max}` });
  }
  return out;
}

/** Whether `have` has reached every stream of `need`. */
export function covers(have: GtidPosition | undefined, need: GtidPosition): boolean {
  for (const [stream, mark] of need) {
    const h = have?.get(stream);
    if (h === undefined || h.seq < mark.seq) return false;
  }
  return true;
}

/** The later of two positions, stream by stream (returns `a` itself when `b` adds nothing). */
export function mergePositions(a: GtidPosition, b: GtidPosition): GtidPosition {
  let out: Map<string, GtidMark> | undefined;
  for (const [stream, mark] of b) {
    const prev = a.get(stream);
    if (prev !== undefined && prev.seq >= mark.seq) continue;
    out ??= new Map(a);
    out.set(stream, mark);
  }
  return out ?? a;
}

/** `0-1-5,1-2-7` / `uuid:5,uuid2:7` */
export function formatPosition(p: GtidPosition): string {
  return [...p.values()].map((m) => m.text).join(',');
}

/**
 * The statement that waits (bounded) until the server has applied `need`; it returns 0 when it
 * has, -1 (MariaDB) or 1 (MySQL) on timeout, NULL when replication is not running.
 */
export function waitSql(flavor: GtidFlavor, need: GtidPosition, timeoutMs: number): string {
  const seconds = (Math.max(timeoutMs, 1) / 1000).toFixed(3);
  const gtids = formatPosition(need).replace(/'/g, '');
  return flavor === 'mariadb'
    ? `SELECT MASTER_GTID_WAIT('${gtids}', ${seconds})`
    : `SELECT WAIT_FOR_EXECUTED_GTID_SET('${gtids}', ${seconds})`;
}

/**
 * The session variable that makes every OK after a commit carry that commit's GTID. MariaDB
 * tracks it as one of session_track_system_variables: the list keeps what the server tracks by
 * default (`keepSessionList`: what the client set on this session instead), so a client that
 * asked for session tracking sees the changes it would see without the proxy.
 */
export function trackingSql(flavor: GtidFlavor, keepSessionList = false): string {
  const base = keepSessionList ? '@@session.session_track_system_variables' : '@@global.session_track_system_variables';
  return flavor === 'mariadb'
    ? `SET session_track_system_variables = CONCAT_WS(',', NULLIF(${base}, ''), 'last_gtid')`
    : 'SET session_track_gtids = OWN_GTID';
}

/** Session variables whose change by a client stops the proxy's GTID tracking on that connection. */
export const TRACKING_VARIABLES: ReadonlySet<string> = new Set(['session_track_system_variables', 'session_track_gtids']);

/** Whether a client's own tracking settings (the values it SET) ask to see GTIDs in OK packets. */
export function clientTracksGtids(vars: ReadonlyMap<string, string>): boolean {
  const list = vars.get('session_track_system_variables');
  if (list !== undefined && /last_gtid|\*/i.test(list)) return true;
  const gtids = vars.get('session_track_gtids');
  return gtids !== undefined && !/off|default/i.test(gtids);
}

export function flavorOf(serverVersion: string): GtidFlavor {
  return /mariadb/i.test(serverVersion) ? 'mariadb' : 'mysql';
}
