/**
 * Reading the answers to the proxy's own commands on a backend connection (state replay, USE,
 * waits, KILL): small results, read whole and decoded as text.
 */
import { Capability } from '../protocol/constants.js';
import { decodeErr, decodeTextRow } from '../protocol/responses.js';
import { BackendSqlError } from './backend-types.js';

/** An ERR packet as the error the proxy's callers catch. */
export function errFrom(payload: Buffer): BackendSqlError {
  const e = decodeErr(payload);
  return new BackendSqlError(e.errno, e.sqlState, e.message);
}

/**
 * The rows of the last result set of a finished internal command ([] for statements without
 * one); an ERR becomes a BackendSqlError.
 */
export function rowsFrom(packets: readonly Buffer[], capabilities: number): (string | null)[][] {
  const first = packets[0];
  if (first === undefined) throw new Error('empty response');
  const last = packets[packets.length - 1]!;
  if (last[0] === 0xff) throw errFrom(last);
  if (first[0] === 0x00 || first[0] === 0xfe) return [];
  // Result set: count, column definitions, [EOF], rows, EOF/OK. Multi-results: keep the last set.
  const rows: (string | null)[][] = [];
  let i = 0;
  const deprecateEof = (capabilities & Capability.DEPRECATE_EOF) !== 0;
  while (i < packets.length) {
    const head = packets[i]!;
    if (head[0] === 0x00 || head[0] === 0xfe) {
      i++;
      continue;
    }
    const columns = head[0]!;
    rows.length = 0;
    i += 1 + columns + (deprecateEof ? 0 : 1);
    while (i < packets.length) {
      const p = packets[i]!;
      if (p[0] === 0xfe && p.length < 0xffffff && (deprecateEof || p.length < 9)) {
        i++;
        break;
      }
      rows.push(decodeTextRow(p, columns).map((v) => (v === null ? null : v.toString('utf8'))));
      i++;
    }
  }
  return rows;
}
