/**
 * Shared by the JavaScript client scripts (mysql2.mjs, mariadb-node.mjs, mariadb-cli.mjs).
 *
 * Every client script in test/clients/ follows one contract, whatever its language:
 *
 *   <script> HOST PORT USER PASSWORD DATABASE [--direct] [--compress]
 *
 * `--compress`, for the clients that take it (mysql2, the mariadb CLI): every connection asks
 * for the compressed protocol.
 *
 * It prints one JSON line per check on stdout:
 *   {"check": "name", "ok": true|false, "detail": ..., "ms": N}
 * and, for a routing assertion that makes no sense against a single server (`--direct`: the
 * script talks to the primary itself, not to Sluice), `"skip": "reason"` next to `"ok": true`
 * (the statements still ran and succeeded, only the where-did-it-go assertion is left out).
 * A check that throws is reported as `ok: false` with the error (errno, code, message) and the
 * script goes on with the next check; every check opens its own connection so that one broken
 * connection cannot fail the checks after it. Exit code: 0 when every check passed, 1 otherwise.
 *
 * Tables and procedures are named `cc_<client>_…` so clients never share objects.
 */
import { createHash } from 'node:crypto';

export const REPLICA_IDS = [2, 3];
export const PRIMARY_ID = 1;

/** The row every client writes through prepared statements and must read back exactly. */
export const ROW = {
  i: -2147483648,
  b: '9007199254740993', // 2^53 + 1: not representable as a double
  d: '12345678901234.123456',
  f: 3.141592653589793,
  s: 'héllo wörld 🐬 ✓', // utf8mb4 (4-byte emoji)
  dt: '2024-02-29',
  ts: '2024-02-29 23:59:58.123456',
  bl: Buffer.from(Array.from({ length: 256 }, (_, k) => k)), // every byte value
  nn: null,
};

export function parseArgs(argv = process.argv.slice(2)) {
  const direct = argv.includes('--direct');
  const compress = argv.includes('--compress');
  const pos = argv.filter((a) => a !== '--direct' && a !== '--compress');
  const env = process.env;
  const [host = env.SLUICE_HOST ?? '127.0.0.1', port = env.SLUICE_PORT ?? '8066', user = env.SLUICE_USER ?? 'app',
    password = env.SLUICE_PASSWORD ?? 'app', database = env.SLUICE_DATABASE ?? 'sluice_test'] = pos;
  return { host, port: Number(port), user, password, database, direct, compress };
}

export function tableDdl(prefix) {
  return [
    `DROP TABLE IF EXISTS ${prefix}_types`,
    `CREATE TABLE ${prefix}_types (id INT PRIMARY KEY, i INT, b BIGINT, d DECIMAL(20,6), f DOUBLE, ` +
      `s VARCHAR(64), dt DATE, ts DATETIME(6), bl BLOB, nn INT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `DROP TABLE IF EXISTS ${prefix}_big`,
    `CREATE TABLE ${prefix}_big (id INT PRIMARY KEY, data LONGBLOB) ENGINE=InnoDB`,
    `DROP TABLE IF EXISTS ${prefix}_batch`,
    `CREATE TABLE ${prefix}_batch (id INT PRIMARY KEY, v VARCHAR(32), n BIGINT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    `DROP PROCEDURE IF EXISTS ${prefix}_two`,
    `CREATE PROCEDURE ${prefix}_two(IN x INT) BEGIN SELECT x AS a; SELECT CONCAT('two-', x) AS b; END`,
    `INSERT INTO ${prefix}_types (id, i) VALUES (1000, 0)`,
  ];
}

/** 5 MiB of deterministic, non-repeating-looking bytes. */
export function bigBlob() {
  const out = Buffer.alloc(5 * 1024 * 1024);
  let x = 0x12345678;
  for (let k = 0; k < out.length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[k] = x & 0xff;
  }
  return out;
}

export const sha1 = (b) => createHash('sha1').update(b).digest('hex');

export class Reporter {
  constructor() {
    this.failed = 0;
  }
  /**
   * Runs one check. `fn` returns either a detail (ok), or `{ ok, detail, skip }`, or throws
   * (ok: false with the error). Never throws itself.
   */
  async check(name, fn) {
    const t = Date.now();
    try {
      const r = await fn();
      const res = r !== null && typeof r === 'object' && 'ok' in r ? r : { ok: true, detail: r };
      this.emitTimed(name, res.ok, res.detail, res.skip, Date.now() - t);
    } catch (err) {
      this.emitTimed(name, false, errorDetail(err), undefined, Date.now() - t);
    }
  }
  emitTimed(check, ok, detail, skip, ms) {
    if (!ok) this.failed++;
    const line = { check, ok, detail, ms };
    if (skip !== undefined) line.skip = skip;
    process.stdout.write(`${JSON.stringify(line, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  }
  exit() {
    process.exit(this.failed === 0 ? 0 : 1);
  }
}

export function errorDetail(err) {
  if (err === null || typeof err !== 'object') return { error: String(err) };
  const e = err;
  return {
    error: e.sqlMessage ?? e.text ?? e.message ?? String(e),
    errno: e.errno,
    code: e.code,
    sqlState: e.sqlState,
  };
}

/** JSON.stringify that also prints BigInt values (as strings). */
export const json = (v) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

/** Throws with `what` when `cond` is false. */
export function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Compares a read-back row (already normalised to strings/hex) with ROW; returns the mismatches. */
export function rowMismatches(got) {
  const want = {
    i: String(ROW.i),
    b: ROW.b,
    d: ROW.d,
    f: String(ROW.f),
    s: ROW.s,
    dt: ROW.dt,
    ts: ROW.ts,
    bl: ROW.bl.toString('hex'),
    nn: null,
  };
  const bad = {};
  for (const k of Object.keys(want)) if (got[k] !== want[k]) bad[k] = { want: want[k], got: got[k] };
  return bad;
}

/**
 * The outcome of N `SELECT @@server_id` executions: through Sluice they must have been answered
 * by both replicas and never by the primary; with `--direct` only that they all ran.
 */
export function spreadResult(counts, total, direct) {
  const ids = Object.keys(counts).map(Number).sort();
  const detail = { executions: total, byServerId: counts };
  if (direct) return { ok: total > 0, detail, skip: 'direct to the primary: routing not asserted' };
  const ok = ids.length === REPLICA_IDS.length && REPLICA_IDS.every((id) => ids.includes(id));
  return { ok, detail };
}

/** Autocommit read: a replica through Sluice; with `--direct` not asserted. */
export function replicaResult(id, direct) {
  if (direct) return { ok: Number.isInteger(id), detail: { serverId: id }, skip: 'direct to the primary: routing not asserted' };
  return { ok: REPLICA_IDS.includes(id), detail: { serverId: id } };
}

/** Inside a transaction: the primary, both through Sluice and direct. */
export function primaryResult(id) {
  return { ok: id === PRIMARY_ID, detail: { serverId: id } };
}
