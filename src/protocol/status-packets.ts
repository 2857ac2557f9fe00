/**
 * OK, ERR and EOF packets, plus the allocation-free status-flag reader the proxy uses on every
 * relayed result.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_eof_packet.html
 */
import { Capability, hasCapability, ServerStatus, SessionTrack } from './constants.js';
import { ProtocolError } from './errors.js';
import { PacketReader, skipLenencInt } from './reader.js';
import { PacketWriter } from './writer.js';

export interface OkPacket {
  affectedRows: number | bigint;
  lastInsertId: number | bigint;
  statusFlags: number;
  warnings: number;
  info: string;
  /** Raw session-state info (CLIENT_SESSION_TRACK + SERVER_SESSION_STATE_CHANGED); see `decodeSessionState`. */
  sessionState?: Buffer;
}

export interface ErrPacket {
  errno: number;
  sqlState: string;
  message: string;
}

export interface EofPacket {
  warnings: number;
  statusFlags: number;
}

/** True for a classic EOF packet: header 0xfe and shorter than 9 bytes (a row cannot be). */
export function isEofPacket(payload: Buffer): boolean {
  return payload.length < 9 && payload[0] === 0xfe;
}

/**
 * True for an OK packet with the 0x00 header (protocol 4.1: at least 7 bytes). Only meaningful
 * where an OK may appear: inside a resultset a row can start with 0x00 too. The 0xfe-headed OK
 * that ends a resultset under DEPRECATE_EOF answers to `isEofPacket` instead.
 */
export function isOkPacket(payload: Buffer): boolean {
  return payload.length >= 7 && payload[0] === 0x00;
}

/** True for an ERR packet (0xff never starts a row: it is not a valid lenenc prefix). */
export function isErrPacket(payload: Buffer): boolean {
  return payload[0] === 0xff;
}

/**
 * Status flags of an OK (0x00 or 0xfe header) or EOF packet, reading nothing else and allocating
 * nothing on success. A 0xfe packet is an EOF unless DEPRECATE_EOF was negotiated, and is always
 * one when shorter than the 7 bytes of the smallest OK. Returns 0 if neither PROTOCOL_41 nor
 * TRANSACTIONS was negotiated (no status field exists then).
 */
export function okStatusFlags(payload: Buffer, capabilities: number): number {
  const header = payload[0];
  const len = payload.length;
  if (header === 0xfe && (len < 7 || !hasCapability(capabilities, Capability.DEPRECATE_EOF))) {
    if (len < 5) throw new ProtocolError(`EOF packet of ${len} bytes has no status flags`, 'truncated');
    return payload.readUInt16LE(3);
  }
  if (header !== 0x00 && header !== 0xfe) {
    throw new ProtocolError(`expected an OK or EOF packet, got header 0x${(header ?? 0).toString(16)}`, 'malformed');
  }
  if (!hasCapability(capabilities, Capability.PROTOCOL_41 | Capability.TRANSACTIONS)) return 0;
  let off = skipLenencInt(payload, 1); // affected rows
  off = skipLenencInt(payload, off); // last insert id
  if (off + 2 > len) throw new ProtocolError('OK packet truncated before status flags', 'truncated');
  return payload.readUInt16LE(off);
}

/**
 * Decodes an OK packet (header 0x00, or 0xfe when it ends a resultset under DEPRECATE_EOF).
 * With CLIENT_SESSION_TRACK the info is lenenc (and may be absent), followed by session-state
 * info when SERVER_SESSION_STATE_CHANGED is set; without it the info is the rest of the packet.
 */
export function decodeOk(payload: Buffer, capabilities: number): OkPacket {
  const r = new PacketReader(payload);
  const header = r.u8();
  if (header !== 0x00 && header !== 0xfe) {
    throw new ProtocolError(`expected an OK packet, got header 0x${header.toString(16)}`, 'malformed');
  }
  const affectedRows = r.lenencInt();
  const lastInsertId = r.lenencInt();
  if (affectedRows === null || lastInsertId === null) {
    throw new ProtocolError('NULL in OK packet counters', 'malformed');
  }
  let statusFlags = 0;
  let warnings = 0;
  if (hasCapability(capabilities, Capability.PROTOCOL_41)) {
    statusFlags = r.u16();
    warnings = r.u16();
  } else if (hasCapability(capabilities, Capability.TRANSACTIONS)) {
    statusFlags = r.u16();
  }
  const ok: OkPacket = { affectedRows, lastInsertId, statusFlags, warnings, info: '' };
  if (hasCapability(capabilities, Capability.SESSION_TRACK)) {
    if (r.remaining > 0) ok.info = r.lenencString();
    if (statusFlags & ServerStatus.SESSION_STATE_CHANGED && r.remaining > 0) {
      ok.sessionState = r.bytes(r.lenencLength());
    }
  } else {
    ok.info = r.restString();
  }
  return ok;
}

/**
 * Encodes an OK packet for a peer with `capabilities` (header 0xfe for the DEPRECATE_EOF
 * resultset terminator). Like the server, it writes the lenenc info only when there is info or
 * session state. Session state is written only under CLIENT_SESSION_TRACK, and then sets
 * SERVER_SESSION_STATE_CHANGED.
 */
export function encodeOk(
  ok: Partial<OkPacket> & { statusFlags: number },
  capabilities: number,
  header = 0x00,
): Buffer {
  const info = ok.info ?? '';
  const tracking = hasCapability(capabilities, Capability.SESSION_TRACK);
  const state = tracking && ok.sessionState && ok.sessionState.length > 0 ? ok.sessionState : undefined;
  const status = state ? ok.statusFlags | ServerStatus.SESSION_STATE_CHANGED : ok.statusFlags;
  const w = new PacketWriter(16 + info.length + (state?.length ?? 0));
  w.u8(header).lenencInt(ok.affectedRows ?? 0).lenencInt(ok.lastInsertId ?? 0);
  if (hasCapability(capabilities, Capability.PROTOCOL_41)) {
    w.u16(status).u16(ok.warnings ?? 0);
  } else if (hasCapability(capabilities, Capability.TRANSACTIONS)) {
    w.u16(status);
  }
  if (tracking) {
    if (info !== '' || state) w.lenencString(info);
    if (state) w.lenencBuffer(state);
  } else {
    w.string(info);
  }
  return w.toBuffer();
}

/**
 * Encodes a protocol 4.1 ERR packet, always with the '#' SQLSTATE marker. A SQLSTATE that is not
 * 5 characters is replaced by HY000 (general error) rather than corrupting the layout.
 */
export function encodeErr(err: ErrPacket): Buffer {
  const sqlState = err.sqlState.length === 5 && /^[\x20-\x7e]{5}$/.test(err.sqlState) ? err.sqlState : 'HY000';
  const w = new PacketWriter(9 + err.message.length * 3);
  return w.u8(0xff).u16(err.errno).u8(0x23).string(sqlState).string(err.message).toBuffer();
}

/** Decodes an ERR packet; without the '#' marker (pre-4.1 style) the SQLSTATE is HY000. */
export function decodeErr(payload: Buffer): ErrPacket {
  const r = new PacketReader(payload);
  if (r.u8() !== 0xff) throw new ProtocolError('expected an ERR packet', 'malformed');
  const errno = r.u16();
  let sqlState = 'HY000';
  if (r.peek() === 0x23 && r.remaining >= 6) {
    r.skip(1);
    sqlState = r.string(5);
  }
  return { errno, sqlState, message: r.restString() };
}

/** Encodes a protocol 4.1 EOF packet. */
export function encodeEof(warnings: number, statusFlags: number): Buffer {
  const out = Buffer.allocUnsafe(5);
  out[0] = 0xfe;
  out.writeUInt16LE(warnings, 1);
  out.writeUInt16LE(statusFlags, 3);
  return out;
}

/** Decodes a protocol 4.1 EOF packet. */
export function decodeEof(payload: Buffer): EofPacket {
  if (payload.length < 5 || payload.length >= 9 || payload[0] !== 0xfe) {
    throw new ProtocolError(`not an EOF packet (${payload.length} bytes)`, 'malformed');
  }
  return { warnings: payload.readUInt16LE(1), statusFlags: payload.readUInt16LE(3) };
}

/** One entry of the session-state info in an OK packet. */
export type SessionStateChange =
  | { type: 'system-variable'; name: string; value: string }
  | { type: 'schema'; schema: string }
  | { type: 'state-change'; changed: boolean }
  | { type: 'gtids'; gtids: string }
  | { type: 'transaction-characteristics'; characteristics: string }
  | { type: 'transaction-state'; state: string }
  | { type: 'unknown'; code: number; data: Buffer };

/**
 * Decodes the session-state info of an OK packet (`OkPacket.sessionState`): a list of
 * (type byte, lenenc data) entries. Unknown types are returned raw rather than rejected.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_ok_packet.html#sect_protocol_basic_ok_packet_sessinfo
 */
export function decodeSessionState(sessionState: Buffer): SessionStateChange[] {
  const r = new PacketReader(sessionState);
  const out: SessionStateChange[] = [];
  while (r.remaining > 0) {
    const code = r.u8();
    const data = new PacketReader(r.bytes(r.lenencLength()));
    switch (code) {
      case SessionTrack.SYSTEM_VARIABLES:
        while (data.remaining > 0) {
          const name = data.lenencString();
          out.push({ type: 'system-variable', name, value: data.lenencString() });
        }
        break;
      case SessionTrack.SCHEMA:
        out.push({ type: 'schema', schema: data.lenencString() });
        break;
      case SessionTrack.STATE_CHANGE:
        out.push({ type: 'state-change', changed: data.lenencString() === '1' });
        break;
      case SessionTrack.GTIDS:
        data.skip(1); // encoding specification, always 0
        out.push({ type: 'gtids', gtids: data.lenencString() });
        break;
      case SessionTrack.TRANSACTION_CHARACTERISTICS:
        out.push({ type: 'transaction-characteristics', characteristics: data.lenencString() });
        break;
      case SessionTrack.TRANSACTION_STATE:
        out.push({ type: 'transaction-state', state: data.lenencString() });
        break;
      default:
        out.push({ type: 'unknown', code, data: data.rest() });
    }
  }
  return out;
}

/** Session-state info saying the default schema changed (SESSION_TRACK_SCHEMA), for an OK packet. */
export function encodeSchemaChange(schema: string): Buffer {
  const data = new PacketWriter(schema.length * 3 + 9).lenencString(schema).toBuffer();
  return new PacketWriter(data.length + 10).u8(SessionTrack.SCHEMA).lenencBuffer(data).toBuffer();
}
