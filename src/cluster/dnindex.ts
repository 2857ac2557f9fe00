/**
 * The dnindex file: which writeHost is active, per dataHost, in Mycat's
 * `conf/dnindex.properties` format (java.util.Properties as `Properties.store(out, "update")`
 * writes it), so operators' tooling keeps working:
 *
 *     #update
 *     #Sat Nov 21 23:10:02 UTC 2026
 *     dh1=1
 *
 * Unlike Mycat (truncate in place, no fsync — a crash leaves an empty file that reads as
 * "index 0", i.e. the OLD master: split brain), writes are atomic: a temp file in the same
 * directory, written and fsynced, renamed over the file, then the directory fsynced. Other
 * dataHosts' keys in the file are preserved.
 *
 * Reading at start-up is strict: a missing file or a missing key means "never switched" (index 0,
 * warned by the caller); anything else that is not a clean file (unparsable line, non-integer
 * value, index out of range, an empty file — Mycat's torn write) refuses the start, because
 * guessing here is exactly how the old master gets written to again.
 *
 * Beyond Mycat: next to `dh1=1` Sluice records the address the index stood for
 * (`dh1.writeHost=10.0.0.2:3306`; Mycat ignores keys that are not dataHost names). An index is
 * only a position in `writeHosts`, so after the list was edited (a host removed before it,
 * reordered) it would silently name another server — with `failover.promote`, one Sluice would
 * then promote while fencing the real master. With the address recorded, `resolveDnIndex`
 * follows the host to its new position, or refuses to start when it is no longer a writeHost.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { parseEndpoint, sameEndpoint } from '../config/endpoint.js';

/** The dnindex file cannot be used; the message names the file and the problem. */
export class DnIndexError extends ConfigError {
  readonly file: string;

  constructor(file: string, problem: string) {
    super([`dnindex file ${file}: ${problem}`], file);
    this.name = 'DnIndexError';
    this.file = file;
    this.message = `dnindex file ${file} is not usable: ${problem} (fix it, or remove it to start on writeHost 0)`;
    Error.captureStackTrace(this, DnIndexError);
  }
}

/** key → value in file order (values as written; only the caller's key is checked strictly). */
export type DnIndexEntries = Map<string, string>;

export interface ParsedDnIndex {
  readonly entries: DnIndexEntries;
  /** Problems with lines; empty = clean. */
  readonly problems: readonly string[];
}

/**
 * Parses the properties subset Mycat writes: `#`/`!` comment lines, blank lines, `key=value`
 * (also `key:value`, surrounding spaces ignored). Later duplicates win (java.util.Properties).
 */
export function parseDnIndex(text: string): ParsedDnIndex {
  const entries: DnIndexEntries = new Map();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m === null) {
      problems.push(`line ${i + 1}: expected "<dataHost>=<index>", got ${JSON.stringify(raw.slice(0, 80))}`);
      return;
    }
    entries.set(m[1]!, m[2]!.trim());
  });
  return { entries, problems };
}

/** The key holding the address the dataHost's index stood for when it was written. */
export function writerAddressKey(dataHost: string): string {
  return `${dataHost}.writeHost`;
}

/** The file's entries; undefined when it does not exist. @throws DnIndexError */
function readEntries(file: string): DnIndexEntries | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') return undefined;
    throw new DnIndexError(file, `cannot read it: ${(err as Error).message}`);
  }
  if (text.length === 0) {
    throw new DnIndexError(file, 'the file is empty (a torn write?); it should hold at least "#update" and a "<dataHost>=<index>" line');
  }
  const { entries, problems } = parseDnIndex(text);
  if (problems.length > 0) throw new DnIndexError(file, `cannot parse it: ${problems.join('; ')}`);
  return entries;
}

function indexValue(file: string, dataHost: string, value: string): number {
  if (!/^\d+$/.test(value)) {
    throw new DnIndexError(file, `${dataHost}=${JSON.stringify(value)} is not a non-negative integer`);
  }
  return Number(value);
}

export interface ResolvedDnIndex {
  /** The active writeHost's index in the current writeHosts. */
  readonly index: number;
  /** The index as written in the file (differs from `index` when the writeHost moved). */
  readonly recordedIndex: number;
  /** The address recorded with it; undefined for a file written by Mycat or an older Sluice. */
  readonly recordedAddress: string | undefined;
}

/**
 * The active writeHost of `dataHost` at start-up, checked against the current writeHosts.
 * Returns undefined when the file does not exist or has no key for this dataHost.
 * @throws DnIndexError when the file is unusable (see readDnIndex), or the recorded writeHost
 *   address is no longer among the writeHosts.
 */
export function resolveDnIndex(
  file: string,
  dataHost: string,
  writeHosts: readonly { readonly host: string; readonly port: number }[],
): ResolvedDnIndex | undefined {
  const entries = readEntries(file);
  const value = entries?.get(dataHost);
  if (entries === undefined || value === undefined) return undefined;
  const recordedIndex = indexValue(file, dataHost, value);
  const recordedAddress = entries.get(writerAddressKey(dataHost));
  if (recordedAddress === undefined) {
    return { index: checkRange(file, dataHost, value, recordedIndex, writeHosts.length), recordedIndex, recordedAddress };
  }
  const ep = parseEndpoint(recordedAddress);
  if (ep === undefined) {
    throw new DnIndexError(file, `${writerAddressKey(dataHost)}=${JSON.stringify(recordedAddress)} is not host:port`);
  }
  const index = writeHosts.findIndex((h) => sameEndpoint(h.host, h.port, ep.host, ep.port));
  if (index === -1) {
    const list = writeHosts.map((h, i) => `${i}: ${h.host}:${h.port}`).join(', ');
    throw new DnIndexError(
      file,
      `${dataHost}=${recordedIndex} was written for writeHost ${recordedAddress}, which is no longer among dataHost ${dataHost}'s writeHosts (${list}); ` +
        'Sluice will not guess which server is the master: put it back in writeHosts, or set the line to the index of the current master and delete the ' +
        `${writerAddressKey(dataHost)} line`,
    );
  }
  return { index, recordedIndex, recordedAddress };
}

/**
 * Reads the active writeHost index of `dataHost` (the index only; start-up uses resolveDnIndex).
 * Returns undefined when the file does not exist or has no key for this dataHost.
 * @throws DnIndexError when the file is unreadable, empty, has an unparsable line, or the value
 *   is not an integer in 0..writeHostCount-1.
 */
export function readDnIndex(file: string, dataHost: string, writeHostCount: number): number | undefined {
  const entries = readEntries(file);
  const value = entries?.get(dataHost);
  if (value === undefined) return undefined;
  return checkRange(file, dataHost, value, indexValue(file, dataHost, value), writeHostCount);
}

function checkRange(file: string, dataHost: string, value: string, index: number, writeHostCount: number): number {
  if (!Number.isSafeInteger(index) || index >= writeHostCount) {
    throw new DnIndexError(
      file,
      `${dataHost}=${value} is out of range: dataHost ${dataHost} has ${writeHostCount} writeHost${writeHostCount === 1 ? '' : 's'} (valid: 0-${writeHostCount - 1})`,
    );
  }
  return index;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `java.util.Date#toString()` shape, in UTC: `Sat Nov 21 23:10:02 UTC 2026`. */
export function javaDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`
  );
}

export function formatDnIndex(entries: DnIndexEntries, now = new Date()): string {
  let out = `#update\n#${javaDate(now)}\n`;
  for (const [k, v] of entries) out += `${k}=${v}\n`;
  return out;
}

export interface WriteResult {
  /** The previous value of this dataHost's key (undefined: none / no file). */
  readonly previous: string | undefined;
  /** Lines of the existing file that could not be parsed and were dropped. */
  readonly dropped: readonly string[];
}

/**
 * Sets `dataHost=index` (and `dataHost.writeHost=address` when given) in the file atomically,
 * keeping every other key. An existing file with unparsable lines is rewritten without them
 * (reported in `dropped`): the new index must land.
 */
export async function writeDnIndex(file: string, dataHost: string, index: number, address?: string): Promise<WriteResult> {
  let entries: DnIndexEntries = new Map();
  let dropped: readonly string[] = [];
  try {
    const parsed = parseDnIndex(await readFile(file, 'utf8'));
    entries = parsed.entries;
    dropped = parsed.problems;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  const previous = entries.get(dataHost);
  entries.set(dataHost, String(index));
  if (address !== undefined) entries.set(writerAddressKey(dataHost), address);
  await writeFileAtomic(file, formatDnIndex(entries));
  return { previous, dropped };
}

/** temp file (same directory) + write + fsync + rename + fsync(directory). */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    renamed = true;
    // The rename itself must survive a crash: fsync the directory entry.
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}
