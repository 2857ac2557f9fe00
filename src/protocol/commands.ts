/**
 * Client commands (the command phase): decoding what clients send to the proxy, and encoding
 * what the proxy sends to backends as a client.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 */
import { Capability, Command, MariaDbCommand, hasCapability } from './constants.js';
import { ProtocolError } from './errors.js';
import { readConnectAttrs, writeConnectAttrs } from './handshake.js';
import { PacketReader } from './reader.js';
import { PacketWriter } from './writer.js';

export interface ChangeUserCommand {
  type: 'change-user';
  user: string;
  authResponse: Buffer;
  database: string | undefined;
  charset: number | undefined;
  authPluginName: string | undefined;
  connectAttrs: Map<string, string> | undefined;
}

export type ClientCommand =
  | { type: 'quit' }
  | { type: 'init-db'; schema: string }
  /** `raw` is the statement's bytes (the payload after the command byte). */
  | { type: 'query'; sql: string; raw: Buffer }
  | { type: 'field-list'; table: string; wildcard: string }
  | { type: 'statistics' }
  | { type: 'process-kill'; connectionId: number }
  | { type: 'ping' }
  | ChangeUserCommand
  | { type: 'stmt-prepare'; sql: string }
  /** `body` starts at the NULL bitmap and is left undecoded (its layout needs the param count). */
  | { type: 'stmt-execute'; statementId: number; flags: number; iterationCount: number; body: Buffer }
  | { type: 'stmt-send-long-data'; statementId: number; paramId: number; data: Buffer }
  | { type: 'stmt-close'; statementId: number }
  | { type: 'stmt-reset'; statementId: number }
  | { type: 'set-option'; option: number }
  | { type: 'stmt-fetch'; statementId: number; numRows: number }
  /**
   * MariaDB COM_STMT_BULK_EXECUTE. `body` starts after the flags (parameter types when
   * SEND_TYPES_TO_SERVER, then rows) and is left undecoded, like COM_STMT_EXECUTE's.
   */
  | { type: 'stmt-bulk-execute'; statementId: number; flags: number; body: Buffer }
  | { type: 'reset-connection' }
  | { type: 'unknown'; code: number };

export type ClientCommandType = ClientCommand['type'];

/**
 * Decodes one command payload. `capabilities` are the connection's negotiated flags (they shape
 * COM_CHANGE_USER and, with QUERY_ATTRIBUTES, COM_QUERY). Commands the proxy does not handle
 * come back as `unknown` with their code, to be answered with ER_UNKNOWN_COM_ERROR; trailing
 * bytes after fixed-size commands are ignored, as servers do. Buffers are views of `payload`.
 */
export function decodeCommand(payload: Buffer, capabilities: number): ClientCommand {
  if (payload.length === 0) throw new ProtocolError('empty command packet', 'empty-command');
  const r = new PacketReader(payload, 1);
  const code = payload[0] as number;
  switch (code) {
    case Command.QUIT:
      return { type: 'quit' };
    case Command.INIT_DB:
      return { type: 'init-db', schema: r.restString() };
    case Command.QUERY:
      return decodeQuery(r, capabilities);
    case Command.FIELD_LIST: {
      const table = r.nulStringOrRest();
      return { type: 'field-list', table, wildcard: r.restString() };
    }
    case Command.STATISTICS:
      return { type: 'statistics' };
    case Command.PROCESS_KILL:
      return { type: 'process-kill', connectionId: r.u32() };
    case Command.PING:
      return { type: 'ping' };
    case Command.CHANGE_USER:
      return decodeChangeUser(r, capabilities);
    case Command.STMT_PREPARE:
      return { type: 'stmt-prepare', sql: r.restString() };
    case Command.STMT_EXECUTE: {
      const statementId = r.u32();
      const flags = r.u8();
      const iterationCount = r.u32();
      return { type: 'stmt-execute', statementId, flags, iterationCount, body: r.rest() };
    }
    case Command.STMT_SEND_LONG_DATA: {
      const statementId = r.u32();
      const paramId = r.u16();
      return { type: 'stmt-send-long-data', statementId, paramId, data: r.rest() };
    }
    case Command.STMT_CLOSE:
      return { type: 'stmt-close', statementId: r.u32() };
    case Command.STMT_RESET:
      return { type: 'stmt-reset', statementId: r.u32() };
    case Command.SET_OPTION:
      return { type: 'set-option', option: r.u16() };
    case Command.STMT_FETCH: {
      const statementId = r.u32();
      return { type: 'stmt-fetch', statementId, numRows: r.u32() };
    }
    case Command.RESET_CONNECTION:
      return { type: 'reset-connection' };
    case MariaDbCommand.STMT_BULK_EXECUTE: {
      const statementId = r.u32();
      const flags = r.u16();
      return { type: 'stmt-bulk-execute', statementId, flags, body: r.rest() };
    }
    default:
      return { type: 'unknown', code };
  }
}

/**
 * COM_QUERY. With CLIENT_QUERY_ATTRIBUTES the text is preceded by a parameter count and set
 * count; attribute-free queries (count 0) are accepted, queries that carry attributes are not
 * (the proxy should not advertise the capability).
 */
function decodeQuery(r: PacketReader, capabilities: number): ClientCommand {
  if (hasCapability(capabilities, Capability.QUERY_ATTRIBUTES)) {
    const count = r.lenencInt();
    r.lenencInt(); // parameter set count, always 1
    if (count !== 0) throw new ProtocolError('query attributes are not supported', 'unsupported');
  }
  const raw = r.rest();
  return { type: 'query', sql: raw.toString('utf8'), raw };
}

/**
 * COM_CHANGE_USER: the auth response has a 1-byte length under SECURE_CONNECTION (even when
 * lenenc client data was negotiated for the handshake); charset, plugin and attributes are
 * optional at the end of the packet.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
 */
function decodeChangeUser(r: PacketReader, capabilities: number): ChangeUserCommand {
  const user = r.nulString();
  const authResponse = hasCapability(capabilities, Capability.SECURE_CONNECTION) ? r.bytes(r.u8()) : r.nulBuffer();
  const cmd: ChangeUserCommand = {
    type: 'change-user',
    user,
    authResponse,
    database: undefined,
    charset: undefined,
    authPluginName: undefined,
    connectAttrs: undefined,
  };
  if (r.remaining === 0) return cmd;
  cmd.database = r.nulStringOrRest();
  if (r.remaining < 2) return cmd;
  cmd.charset = r.u16();
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH) && r.remaining > 0) {
    cmd.authPluginName = r.nulStringOrRest();
  }
  if (hasCapability(capabilities, Capability.CONNECT_ATTRS) && r.remaining > 0) {
    cmd.connectAttrs = readConnectAttrs(r);
  }
  return cmd;
}

/** A command byte followed by `body` (a string is written as UTF-8), in one allocation. */
function withCode(code: number, body: string | Buffer): Buffer {
  if (typeof body === 'string') {
    const out = Buffer.allocUnsafe(1 + Buffer.byteLength(body, 'utf8'));
    out[0] = code;
    out.write(body, 1, 'utf8');
    return out;
  }
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = code;
  body.copy(out, 1);
  return out;
}

/** COM_QUERY with the statement text (a string is sent as UTF-8). */
export function encodeQuery(sql: string | Buffer): Buffer {
  return withCode(Command.QUERY, sql);
}

/** COM_INIT_DB (what `USE db` does at protocol level). */
export function encodeInitDb(schema: string): Buffer {
  return withCode(Command.INIT_DB, schema);
}

/** A command that is just its code: COM_PING, COM_QUIT, COM_STATISTICS, COM_RESET_CONNECTION, … */
export function encodeSimpleCommand(code: number): Buffer {
  return Buffer.from([code]);
}

/** COM_PROCESS_KILL (deprecated by servers in favour of `KILL n`, still accepted). */
export function encodeProcessKill(connectionId: number): Buffer {
  return new PacketWriter(5).u8(Command.PROCESS_KILL).u32(connectionId).toBuffer();
}

/** COM_FIELD_LIST: NUL-terminated table, then the column wildcard. */
export function encodeFieldList(table: string, wildcard: string): Buffer {
  return new PacketWriter(16).u8(Command.FIELD_LIST).nulString(table).string(wildcard).toBuffer();
}

/** COM_SET_OPTION (`SetOption.MULTI_STATEMENTS_ON` / `_OFF`). */
export function encodeSetOption(option: number): Buffer {
  return new PacketWriter(3).u8(Command.SET_OPTION).u16(option).toBuffer();
}

/**
 * COM_CHANGE_USER for a connection with `capabilities`. The charset is written when given;
 * plugin name and attributes follow only after a charset (their position depends on it).
 */
export function encodeChangeUser(
  cmd: Omit<ChangeUserCommand, 'type'>,
  capabilities: number,
): Buffer {
  const w = new PacketWriter(64 + cmd.authResponse.length);
  w.u8(Command.CHANGE_USER).nulString(cmd.user);
  if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
    if (cmd.authResponse.length > 255) throw new RangeError('auth response longer than 255 bytes');
    w.u8(cmd.authResponse.length).bytes(cmd.authResponse);
  } else {
    w.bytes(cmd.authResponse).u8(0);
  }
  w.nulString(cmd.database ?? '');
  if (cmd.charset === undefined) return w.toBuffer();
  w.u16(cmd.charset);
  if (hasCapability(capabilities, Capability.PLUGIN_AUTH)) w.nulString(cmd.authPluginName ?? '');
  if (hasCapability(capabilities, Capability.CONNECT_ATTRS)) writeConnectAttrs(w, cmd.connectAttrs ?? new Map());
  return w.toBuffer();
}

/** COM_STMT_PREPARE. */
export function encodeStmtPrepare(sql: string | Buffer): Buffer {
  return withCode(Command.STMT_PREPARE, sql);
}

/** COM_STMT_EXECUTE with an already-encoded body (NULL bitmap onwards), e.g. a client's. */
export function encodeStmtExecute(statementId: number, flags: number, iterationCount: number, body: Buffer): Buffer {
  return new PacketWriter(10 + body.length)
    .u8(Command.STMT_EXECUTE)
    .u32(statementId)
    .u8(flags)
    .u32(iterationCount)
    .bytes(body)
    .toBuffer();
}

/** COM_STMT_SEND_LONG_DATA. */
export function encodeStmtSendLongData(statementId: number, paramId: number, data: Buffer): Buffer {
  return new PacketWriter(7 + data.length)
    .u8(Command.STMT_SEND_LONG_DATA)
    .u32(statementId)
    .u16(paramId)
    .bytes(data)
    .toBuffer();
}

/** COM_STMT_CLOSE (the server sends no reply). */
export function encodeStmtClose(statementId: number): Buffer {
  return new PacketWriter(5).u8(Command.STMT_CLOSE).u32(statementId).toBuffer();
}

/** COM_STMT_RESET. */
export function encodeStmtReset(statementId: number): Buffer {
  return new PacketWriter(5).u8(Command.STMT_RESET).u32(statementId).toBuffer();
}

/** COM_STMT_FETCH. */
export function encodeStmtFetch(statementId: number, numRows: number): Buffer {
  return new PacketWriter(9).u8(Command.STMT_FETCH).u32(statementId).u32(numRows).toBuffer();
}
