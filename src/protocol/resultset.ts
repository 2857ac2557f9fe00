/**
 * Text-protocol resultsets: column count, column definitions, rows, and whole resultsets for the
 * replies the proxy answers itself. Relayed results are never decoded this way (DESIGN §2).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset.html
 * https://mariadb.com/kb/en/result-set-packets/
 */
import { Capability, hasCapability, MariaDbCapability } from './constants.js';
import { ProtocolError } from './errors.js';
import { PacketReader } from './reader.js';
import { encodeEof, encodeOk } from './status-packets.js';
import { PacketWriter } from './writer.js';

export interface ColumnDefinition {
  /** Always "def"; defaulted when encoding. */
  catalog?: string;
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  /** Collation id of the column (see collations.ts); 63 = binary. */
  charset: number;
  columnLength: number;
  /** A `ColumnType` value. */
  type: number;
  /** `ColumnFlag` bits. */
  flags: number;
  decimals: number;
  /** Raw MariaDB extended type info (MARIADB_CLIENT_EXTENDED_METADATA), without its length. */
  extendedMetadata?: Buffer;
}

export type TextValue = string | Buffer | null;

/** Length of the fixed-size tail of a column definition (always 0x0c). */
const FIXED_FIELDS_LENGTH = 0x0c;
const EMPTY = Buffer.alloc(0);

/**
 * Encodes the column-count packet. A client that negotiated MariaDB's CACHE_METADATA expects a
 * "metadata follows" byte after the count; this always sends the metadata (1).
 */
export function encodeColumnCount(count: number, mariadbCapabilities = 0): Buffer {
  const w = new PacketWriter(10).lenencInt(count);
  if (mariadbCapabilities & MariaDbCapability.CACHE_METADATA) w.u8(1);
  return w.toBuffer();
}

/** Decodes the column-count packet; `metadataFollows` is false only when a MariaDB server skips it. */
export function decodeColumnCount(
  payload: Buffer,
  mariadbCapabilities = 0,
): { count: number; metadataFollows: boolean } {
  const r = new PacketReader(payload);
  const count = r.lenencInt();
  if (typeof count !== 'number' || count === 0) {
    throw new ProtocolError(`invalid column count ${String(count)}`, 'malformed');
  }
  let metadataFollows = true;
  if (mariadbCapabilities & MariaDbCapability.CACHE_METADATA && r.remaining > 0) metadataFollows = r.u8() !== 0;
  return { count, metadataFollows };
}

/**
 * Encodes Protocol::ColumnDefinition41. With MariaDB EXTENDED_METADATA negotiated, an extended
 * type-info block (empty unless `c.extendedMetadata` is set) follows the original column name.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset_column_definition.html
 */
export function encodeColumnDefinition(c: ColumnDefinition, mariadbCapabilities = 0): Buffer {
  const w = new PacketWriter(64);
  w.lenencString(c.catalog ?? 'def')
    .lenencString(c.schema)
    .lenencString(c.table)
    .lenencString(c.orgTable)
    .lenencString(c.name)
    .lenencString(c.orgName);
  if (mariadbCapabilities & MariaDbCapability.EXTENDED_METADATA) w.lenencBuffer(c.extendedMetadata ?? EMPTY);
  w.lenencInt(FIXED_FIELDS_LENGTH)
    .u16(c.charset)
    .u32(c.columnLength)
    .u8(c.type)
    .u16(c.flags)
    .u8(c.decimals)
    .zeros(2);
  return w.toBuffer();
}

/**
 * Decodes Protocol::ColumnDefinition41. Pass the MariaDB extended capabilities negotiated on the
 * connection: with EXTENDED_METADATA the packet has an extra block the decoder must step over.
 * Trailing data (COM_FIELD_LIST default values) is ignored.
 */
export function decodeColumnDefinition(payload: Buffer, mariadbCapabilities = 0): ColumnDefinition {
  const r = new PacketReader(payload);
  const catalog = r.lenencString();
  const schema = r.lenencString();
  const table = r.lenencString();
  const orgTable = r.lenencString();
  const name = r.lenencString();
  const orgName = r.lenencString();
  let extendedMetadata: Buffer | undefined;
  if (mariadbCapabilities & MariaDbCapability.EXTENDED_METADATA) extendedMetadata = r.bytes(r.lenencLength());
  const fixed = r.lenencLength();
  if (fixed < 10) throw new ProtocolError(`column definition fixed fields of ${fixed} bytes`, 'malformed');
  const c: ColumnDefinition = {
    catalog,
    schema,
    table,
    orgTable,
    name,
    orgName,
    charset: r.u16(),
    columnLength: r.u32(),
    type: r.u8(),
    flags: r.u16(),
    decimals: r.u8(),
  };
  if (extendedMetadata !== undefined) c.extendedMetadata = extendedMetadata;
  return c;
}

/** Encodes a text-protocol row: each value lenenc, NULL as 0xfb. Strings are UTF-8. */
export function encodeTextRow(values: readonly TextValue[]): Buffer {
  const w = new PacketWriter(16 * values.length + 16);
  for (const v of values) {
    if (v === null) w.nullMarker();
    else if (typeof v === 'string') w.lenencString(v);
    else w.lenencBuffer(v);
  }
  return w.toBuffer();
}

/**
 * Decodes a text-protocol row of `columnCount` values as raw bytes (the column's charset decides
 * how to read them) or null. Extra bytes after the last value are an error.
 */
export function decodeTextRow(payload: Buffer, columnCount: number): (Buffer | null)[] {
  const r = new PacketReader(payload);
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < columnCount; i++) out.push(r.lenencBuffer());
  r.expectEnd('text row');
  return out;
}

/**
 * The payloads of a complete text resultset, in order: column count, column definitions, EOF
 * (unless DEPRECATE_EOF), rows, then the terminator, which is an EOF, or under DEPRECATE_EOF an
 * OK with the 0xfe header. Frame them with `encodePackets(payloads, 1)` in reply to a command.
 * `mariadbCapabilities` are the client's negotiated MariaDB extensions (metadata byte, extended
 * column info).
 */
export function encodeTextResultset(
  columns: readonly ColumnDefinition[],
  rows: readonly (readonly TextValue[])[],
  capabilities: number,
  statusFlags: number,
  mariadbCapabilities = 0,
): Buffer[] {
  const deprecateEof = hasCapability(capabilities, Capability.DEPRECATE_EOF);
  const out: Buffer[] = [encodeColumnCount(columns.length, mariadbCapabilities)];
  for (const c of columns) out.push(encodeColumnDefinition(c, mariadbCapabilities));
  if (!deprecateEof) out.push(encodeEof(0, statusFlags));
  for (const row of rows) {
    if (row.length !== columns.length) {
      throw new RangeError(`row has ${row.length} values for ${columns.length} columns`);
    }
    out.push(encodeTextRow(row));
  }
  out.push(deprecateEof ? encodeOk({ statusFlags }, capabilities, 0xfe) : encodeEof(0, statusFlags));
  return out;
}
