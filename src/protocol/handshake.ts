/**
 * Connection phase packets: the server's initial handshake (v10), the client's SSL request and
 * handshake response (protocol 4.1), auth switch requests and auth "more data" packets.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * https://mariadb.com/kb/en/connection/
 */
import { Capability, CLIENT_MYSQL, hasCapability } from './constants.js';
import { ProtocolError } from './errors.js';
import { PacketReader } from './reader.js';
import { PacketWriter } from './writer.js';

export interface InitialHandshake {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The full scramble (20 bytes from MySQL/MariaDB), without the trailing NUL. */
  authPluginData: Buffer;
  /** Lower and upper 16 bits combined, unsigned. */
  capabilities: number;
  charset: number;
  statusFlags: number;
  authPluginName: string;
  /** MariaDB extended capabilities; present when the CLIENT_MYSQL bit (1) is clear. */
  mariadbCapabilities?: number;
}

export interface HandshakeResponse {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  user: string;
  authResponse: Buffer;
  database: string | undefined;
  authPluginName: string | undefined;
  connectAttrs: Map<string, string> | undefined;
  /** MariaDB extended capabilities; present when the CLIENT_MYSQL bit (1) is clear. */
  mariadbCapabilities?: number;
}

export interface SslRequest {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  mariadbCapabilities?: number;
}

/** Protocol::HandshakeV10 fixed reserved bytes: 10, the last 4 of which MariaDB uses. */
const HANDSHAKE_RESERVED = 6;
/** Protocol::HandshakeResponse41 filler: 23 bytes, the last 4 of which MariaDB uses. */
const RESPONSE_FILLER = 19;
/** Length of an SSLRequest payload (the first 32 bytes of a HandshakeResponse41). */
const SSL_REQUEST_LENGTH = 32;

/**
 * Decodes Protocol::HandshakeV10, the first packet a server sends.
 *
 * A server that refuses the connection (too many connections, host blocked) sends an ERR packet
 * instead: callers check `payload[0] === 0xff` and use `decodeErr` before calling this.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
 */
export function decodeInitialHandshake(payload: Buffer): InitialHandshake {
  const r = new PacketReader(payload);
  const protocolVersion = r.u8();
  if (protocolVersion !== 10) {
    throw new ProtocolError(`unsupported handshake protocol version ${protocolVersion}`, 'unsupported');
  }
  const serverVersion = r.nulString();
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.skip(1); // filler
  let capabilities = r.u16();
  let charset = 0;
  let statusFlags = 0;
  let authPluginName = '';
  let mariadbCapabilities: number | undefined;
  let authPluginData: Buffer = Buffer.from(part1);
  // Everything after the lower capability word is optional in the original v10 format.
  if (r.remaining > 0) {
    charset = r.u8();
    statusFlags = r.u16();
    capabilities = (capabilities | (r.u16() << 16)) >>> 0;
    const authDataLength = r.u8();
    r.skip(HANDSHAKE_RESERVED);
    const extended = r.u32();
    if (!hasCapability(capabilities, CLIENT_MYSQL)) mariadbCapabilities = extended;
    if (hasCapability(capabilities, Capability.SECURE_CONNECTION)) {
      // Part 2 is at least 13 bytes: the rest of the scramble plus a NUL.
      const part2 = r.bytes(Math.min(r.remaining, Math.max(13, authDataLength - 8)));
      const end = part2.length > 0 && part2[part2.length - 1] === 0 ? part2.length - 1 : part2.length;
      authPluginData = Buffer.concat([part1, part2.subarray(0, end)]);
    }
    if (hasCapability(capabilities, Capability.PLUGIN_AUTH) && r.remaining > 0) {
      authPluginName = r.nulStringOrRest();
    }
  }
  const out: InitialHandshake = {
    protocolVersion,
    serverVersion,
    connectionId,
    authPluginData,
    capabilities,
    charset,
    statusFlags,
    authPluginName,
  };
  if (mariadbCapabilities !== undefined) out.mariadbCapabilities = mariadbCapabilities;
  return out;
}

/**
 * Encodes Protocol::HandshakeV10. `authPluginData` (normally 20 bytes) is split into an 8-byte
 * part 1 and a NUL-terminated part 2 of at least 13 bytes; the length byte is data length + 1.
 * `mariadbCapabilities` is written only when `capabilities` has the CLIENT_MYSQL bit clear.
 */
export function encodeInitialHandshake(h: InitialHandshake): Buffer {
  if (h.authPluginData.length < 8) throw new RangeError('authPluginData must be at least 8 bytes');
  const caps = h.capabilities >>> 0;
  const w = new PacketWriter(128);
  w.u8(h.protocolVersion).nulString(h.serverVersion).u32(h.connectionId);
  w.bytes(h.authPluginData.subarray(0, 8)).u8(0);
  w.u16(caps & 0xffff).u8(h.charset).u16(h.statusFlags).u16(caps >>> 16);
  w.u8(hasCapability(caps, Capability.PLUGIN_AUTH) ? h.authPluginData.length + 1 : 0);
  w.zeros(HANDSHAKE_RESERVED);
  w.u32(!hasCapability(caps, CLIENT_MYSQL) ? (h.mariadbCapabilities ?? 0) : 0);
  if (hasCapability(caps, Capability.SECURE_CONNECTION)) {
    const part2 = h.authPluginData.subarray(8);
    w.bytes(part2).zeros(Math.max(13 - part2.length, 1));
  }
  if (hasCapability(caps, Capability.PLUGIN_AUTH)) w.nulString(h.authPluginName);
  return w.toBuffer();
}

/** True for a Protocol::SSLRequest: exactly 32 bytes with CLIENT_SSL set. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === SSL_REQUEST_LENGTH && hasCapability(payload.readUInt32LE(0), Capability.SSL);
}

/**
 * Decodes Protocol::SSLRequest (also the first 32 bytes of any HandshakeResponse41).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_ssl_request.html
 */
export function decodeSslRequest(payload: Buffer): SslRequest {
  const r = new PacketReader(payload);
  const capabilities = r.u32() >>> 0;
  const maxPacketSize = r.u32();
  const charset = r.u8();
  r.skip(RESPONSE_FILLER);
  const extended = r.u32();
  const out: SslRequest = { capabilities, maxPacketSize, charset };
  if (!hasCapability(capabilities, CLIENT_MYSQL)) out.mariadbCapabilities = extended;
  return out;
}

/** Encodes Protocol::SSLRequest (a client asking to switch to TLS). */
export function encodeSslRequest(req: SslRequest): Buffer {
  const w = new PacketWriter(SSL_REQUEST_LENGTH);
  w.u32(req.capabilities | Capability.SSL).u32(req.maxPacketSize).u8(req.charset).zeros(RESPONSE_FILLER);
  w.u32(!hasCapability(req.capabilities, CLIENT_MYSQL) ? (req.mariadbCapabilities ?? 0) : 0);
  return w.toBuffer();
}

/**
 * Decodes Protocol::HandshakeResponse41. Pre-4.1 clients are refused (ProtocolError
 * `unsupported`). Optional trailing fields that a client leaves out (database, plugin name,
 * attributes) come back undefined even when their capability bit is set, as servers tolerate.
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_response.html
 */
export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse {
  const ssl = decodeSslRequest(payload);
  const caps = ssl.capabilities;
  if (!hasCapability(caps, Capability.PROTOCOL_41)) {
    throw new ProtocolError('pre-4.1 handshake response is not supported', 'unsupported');
  }
  const r = new PacketReader(payload, SSL_REQUEST_LENGTH);
  const user = r.nulString();
  let authResponse: Buffer;
  if (hasCapability(caps, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    authResponse = r.bytes(r.lenencLength());
  } else if (hasCapability(caps, Capability.SECURE_CONNECTION)) {
    authResponse = r.bytes(r.u8());
  } else {
    authResponse = r.nulBuffer();
  }
  let database: string | undefined;
  let authPluginName: string | undefined;
  let connectAttrs: Map<string, string> | undefined;
  if (hasCapability(caps, Capability.CONNECT_WITH_DB) && r.remaining > 0) database = r.nulStringOrRest();
  if (hasCapability(caps, Capability.PLUGIN_AUTH) && r.remaining > 0) authPluginName = r.nulStringOrRest();
  if (hasCapability(caps, Capability.CONNECT_ATTRS) && r.remaining > 0) connectAttrs = readConnectAttrs(r);
  const out: HandshakeResponse = {
    capabilities: caps,
    maxPacketSize: ssl.maxPacketSize,
    charset: ssl.charset,
    user,
    authResponse,
    database,
    authPluginName,
    connectAttrs,
  };
  if (ssl.mariadbCapabilities !== undefined) out.mariadbCapabilities = ssl.mariadbCapabilities;
  return out;
}

/**
 * Encodes Protocol::HandshakeResponse41 as the fields of `r.capabilities` dictate: the auth
 * response is lenenc with PLUGIN_AUTH_LENENC_CLIENT_DATA, else length-prefixed (<= 255 bytes).
 */
export function encodeHandshakeResponse(r: HandshakeResponse): Buffer {
  const caps = r.capabilities >>> 0;
  const w = new PacketWriter(128 + r.authResponse.length);
  w.u32(caps).u32(r.maxPacketSize).u8(r.charset).zeros(RESPONSE_FILLER);
  w.u32(!hasCapability(caps, CLIENT_MYSQL) ? (r.mariadbCapabilities ?? 0) : 0);
  w.nulString(r.user);
  if (hasCapability(caps, Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
    w.lenencBuffer(r.authResponse);
  } else if (hasCapability(caps, Capability.SECURE_CONNECTION)) {
    if (r.authResponse.length > 255) throw new RangeError('auth response longer than 255 bytes');
    w.u8(r.authResponse.length).bytes(r.authResponse);
  } else {
    w.bytes(r.authResponse).u8(0);
  }
  if (hasCapability(caps, Capability.CONNECT_WITH_DB)) w.nulString(r.database ?? '');
  if (hasCapability(caps, Capability.PLUGIN_AUTH)) w.nulString(r.authPluginName ?? '');
  if (hasCapability(caps, Capability.CONNECT_ATTRS)) writeConnectAttrs(w, r.connectAttrs ?? new Map());
  return w.toBuffer();
}

/** Reads the lenenc-prefixed block of lenenc key/value pairs (CLIENT_CONNECT_ATTRS). */
export function readConnectAttrs(r: PacketReader): Map<string, string> {
  const block = new PacketReader(r.bytes(r.lenencLength()));
  const attrs = new Map<string, string>();
  while (block.remaining > 0) {
    const key = block.lenencString();
    attrs.set(key, block.lenencString());
  }
  return attrs;
}

/** Writes connection attributes as a lenenc-prefixed block of lenenc key/value pairs. */
export function writeConnectAttrs(w: PacketWriter, attrs: ReadonlyMap<string, string>): void {
  const inner = new PacketWriter(64);
  for (const [k, v] of attrs) inner.lenencString(k).lenencString(v);
  w.lenencBuffer(inner.toBuffer());
}

/**
 * Encodes Protocol::AuthSwitchRequest: 0xfe, plugin name, plugin data. Like MySQL servers it
 * appends a NUL after the data (clients use the first 20 bytes as the scramble).
 */
export function encodeAuthSwitchRequest(pluginName: string, pluginData: Buffer): Buffer {
  const w = new PacketWriter(pluginName.length + pluginData.length + 3);
  return w.u8(0xfe).nulString(pluginName).bytes(pluginData).u8(0).toBuffer();
}

/**
 * Decodes Protocol::AuthSwitchRequest, dropping the trailing NUL servers put after the data.
 * A bare 0xfe is the pre-4.1 "switch to old password" request (`mysql_old_password`).
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_switch_request.html
 */
export function decodeAuthSwitchRequest(payload: Buffer): { pluginName: string; pluginData: Buffer } {
  const r = new PacketReader(payload);
  if (r.u8() !== 0xfe) throw new ProtocolError('not an auth switch request', 'malformed');
  if (r.remaining === 0) return { pluginName: 'mysql_old_password', pluginData: Buffer.alloc(0) };
  const pluginName = r.nulStringOrRest();
  let pluginData = r.rest();
  if (pluginData.length > 0 && pluginData[pluginData.length - 1] === 0) {
    pluginData = pluginData.subarray(0, pluginData.length - 1);
  }
  return { pluginName, pluginData };
}

/** Encodes Protocol::AuthMoreData: 0x01 then the plugin's data. */
export function encodeAuthMoreData(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length + 1);
  out[0] = 0x01;
  data.copy(out, 1);
  return out;
}

/** Decodes Protocol::AuthMoreData, returning the data after the 0x01 header (a view). */
export function decodeAuthMoreData(payload: Buffer): Buffer {
  if (payload.length === 0 || payload[0] !== 0x01) {
    throw new ProtocolError('not an auth more-data packet', 'malformed');
  }
  return payload.subarray(1);
}
