/**
 * Prepared-statement packets the proxy must look inside: the COM_STMT_PREPARE OK reply (to swap
 * backend statement ids for its own) and the COM_STMT_EXECUTE body (to keep parameter types for
 * re-executions that do not resend them, DESIGN §7).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_prepare.html
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_execute.html
 */
import { ProtocolError } from './errors.js';
import { PacketReader } from './reader.js';
import { PacketWriter } from './writer.js';

export interface StmtPrepareOk {
  statementId: number;
  numColumns: number;
  numParams: number;
  warnings: number;
  /** Set when the packet carries the optional "metadata follows" byte (MySQL 8 optional metadata). */
  metadataFollows?: number;
}

/** Decodes COM_STMT_PREPARE_OK (header 0x00; an ERR is checked by the caller first). */
export function decodeStmtPrepareOk(payload: Buffer): StmtPrepareOk {
  const r = new PacketReader(payload);
  if (r.u8() !== 0x00) throw new ProtocolError('expected COM_STMT_PREPARE_OK', 'malformed');
  const statementId = r.u32();
  const numColumns = r.u16();
  const numParams = r.u16();
  r.skip(1); // reserved
  const out: StmtPrepareOk = { statementId, numColumns, numParams, warnings: r.remaining >= 2 ? r.u16() : 0 };
  if (r.remaining > 0) out.metadataFollows = r.u8();
  return out;
}

/** Encodes COM_STMT_PREPARE_OK (12 bytes, or 13 with `metadataFollows`). */
export function encodeStmtPrepareOk(ok: StmtPrepareOk): Buffer {
  const w = new PacketWriter(13).u8(0).u32(ok.statementId).u16(ok.numColumns).u16(ok.numParams).u8(0);
  w.u16(ok.warnings);
  if (ok.metadataFollows !== undefined) w.u8(ok.metadataFollows);
  return w.toBuffer();
}

/**
 * Copy of a prepare-OK payload with another statement id, for handing the client the proxy's id
 * in place of the backend's.
 */
export function withStatementId(prepareOkPayload: Buffer, statementId: number): Buffer {
  if (prepareOkPayload.length < 5 || prepareOkPayload[0] !== 0x00) {
    throw new ProtocolError('expected COM_STMT_PREPARE_OK', 'malformed');
  }
  const out = Buffer.from(prepareOkPayload);
  out.writeUInt32LE(statementId >>> 0, 1);
  return out;
}

export interface ExecuteBody {
  /** ceil(numParams / 8) bytes; bit i set = parameter i is NULL. */
  nullBitmap: Buffer;
  /** 2 bytes per parameter (type, unsigned flag) when the client (re)bound types, else undefined. */
  types: Buffer | undefined;
  /** Binary-encoded non-NULL parameter values, undecoded. */
  values: Buffer;
}

/**
 * Splits the body of COM_STMT_EXECUTE (as `decodeCommand` returns it) for a statement with
 * `numParams` parameters. A statement without parameters has an empty body. Does not handle the
 * QUERY_ATTRIBUTES layout (parameter count first), which the proxy does not negotiate.
 */
export function decodeExecuteBody(body: Buffer, numParams: number): ExecuteBody {
  const r = new PacketReader(body);
  if (numParams === 0) return { nullBitmap: Buffer.alloc(0), types: undefined, values: r.rest() };
  const nullBitmap = r.bytes((numParams + 7) >> 3);
  const bound = r.u8();
  const types = bound === 1 ? r.bytes(numParams * 2) : undefined;
  return { nullBitmap, types, values: r.rest() };
}

/** Reassembles an execute body; pass saved `types` to re-bind on a backend that never saw them. */
export function encodeExecuteBody(b: ExecuteBody): Buffer {
  const w = new PacketWriter(b.nullBitmap.length + 1 + (b.types?.length ?? 0) + b.values.length);
  if (b.nullBitmap.length === 0 && b.types === undefined) return w.bytes(b.values).toBuffer();
  w.bytes(b.nullBitmap).u8(b.types ? 1 : 0);
  if (b.types) w.bytes(b.types);
  return w.bytes(b.values).toBuffer();
}

/**
 * MariaDB COM_STMT_BULK_EXECUTE flags (int<2> after the statement id).
 * https://mariadb.com/kb/en/com_stmt_bulk_execute/
 */
export const BulkFlag = {
  /** Answer with a result set of affected rows / insert ids per row (MARIADB_CLIENT_BULK_UNIT_RESULTS). */
  SEND_UNIT_RESULTS: 64,
  /** Parameter types (2 bytes each: type, flags with 128 = unsigned) follow the flags. */
  SEND_TYPES_TO_SERVER: 128,
} as const;

export interface BulkExecuteBody {
  /** 2 bytes per parameter when the request carried SEND_TYPES_TO_SERVER, else undefined. */
  types: Buffer | undefined;
  /**
   * The parameter rows, undecoded: per row and parameter an indicator byte (0 value follows,
   * 1 NULL, 2 DEFAULT, 3 IGNORE) and, for 0, the binary value. They run to the end of the packet
   * and do not depend on the statement id, so they are relayed as they came.
   */
  rows: Buffer;
}

/**
 * Splits the body of COM_STMT_BULK_EXECUTE (after id and flags, as `decodeCommand` returns it)
 * for a statement with `numParams` parameters.
 */
export function decodeBulkExecuteBody(body: Buffer, flags: number, numParams: number): BulkExecuteBody {
  const r = new PacketReader(body);
  const types = flags & BulkFlag.SEND_TYPES_TO_SERVER ? r.bytes(numParams * 2) : undefined;
  return { types, rows: r.rest() };
}

/**
 * Encodes a whole COM_STMT_BULK_EXECUTE payload. With `types` the SEND_TYPES_TO_SERVER flag is
 * set and the types written; without, the flag is cleared (the server then uses the types bound
 * last on that statement).
 */
export function encodeBulkExecute(statementId: number, flags: number, types: Buffer | undefined, rows: Buffer): Buffer {
  const f = types ? flags | BulkFlag.SEND_TYPES_TO_SERVER : flags & ~BulkFlag.SEND_TYPES_TO_SERVER;
  const w = new PacketWriter(7 + (types?.length ?? 0) + rows.length);
  w.u8(0xfa).u32(statementId >>> 0).u16(f);
  if (types) w.bytes(types);
  return w.bytes(rows).toBuffer();
}
