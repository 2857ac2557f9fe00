/**
 * Numeric constants of the MySQL/MariaDB client/server protocol.
 *
 * Plain `as const` objects (not TS enums) so values stay ordinary numbers on the wire and in
 * logs, with a derived union type per table.
 *
 * References:
 * - https://dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html
 * - https://dev.mysql.com/doc/dev/mysql-server/latest/mysql__com_8h.html
 * - https://mariadb.com/kb/en/connection/#capabilities
 */

/** Largest payload one physical packet can carry (2^24 - 1); longer payloads continue. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

/** Length of a packet header: 3-byte payload length + 1-byte sequence id. */
export const PACKET_HEADER_LENGTH = 4;

/**
 * CLIENT_* capability flags (the lower and upper 16 bits of the 32-bit capability word).
 * Bit 31 does not fit a signed int32, so always normalise with `>>> 0` after bit operations.
 */
export const Capability = {
  /** Also `CLIENT_MYSQL`: MariaDB clears this bit to announce its extended capabilities. */
  LONG_PASSWORD: 1,
  FOUND_ROWS: 2,
  LONG_FLAG: 4,
  CONNECT_WITH_DB: 8,
  NO_SCHEMA: 16,
  COMPRESS: 32,
  ODBC: 64,
  LOCAL_FILES: 128,
  IGNORE_SPACE: 256,
  PROTOCOL_41: 512,
  INTERACTIVE: 1024,
  SSL: 2048,
  IGNORE_SIGPIPE: 4096,
  TRANSACTIONS: 8192,
  RESERVED: 16384,
  SECURE_CONNECTION: 32768,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
  OPTIONAL_RESULTSET_METADATA: 1 << 25,
  ZSTD_COMPRESSION_ALGORITHM: 1 << 26,
  QUERY_ATTRIBUTES: 1 << 27,
  MULTI_FACTOR_AUTHENTICATION: 1 << 28,
  SSL_VERIFY_SERVER_CERT: 1 << 30,
  REMEMBER_OPTIONS: 2 ** 31,
} as const;
export type CapabilityFlag = (typeof Capability)[keyof typeof Capability];

/** The MariaDB name for bit 0: when it is clear, the peer is MariaDB-aware (see below). */
export const CLIENT_MYSQL = Capability.LONG_PASSWORD;

/**
 * MariaDB extended capabilities: bits 32..63, carried in the last 4 of the reserved bytes of the
 * initial handshake and handshake response when `CLIENT_MYSQL` (bit 0) is clear.
 * Several of them change the wire format of results, so a proxy must only pass on what it honours.
 * https://mariadb.com/kb/en/connection/#capabilities
 */
export const MariaDbCapability = {
  PROGRESS: 1,
  COM_MULTI: 2,
  STMT_BULK_OPERATIONS: 4,
  /** Column definitions carry an extra lenenc block of extended type info. */
  EXTENDED_METADATA: 8,
  /** Column-count packets carry a "metadata follows" byte; metadata may be skipped. */
  CACHE_METADATA: 16,
  BULK_UNIT_RESULTS: 32,
} as const;
export type MariaDbCapabilityFlag = (typeof MariaDbCapability)[keyof typeof MariaDbCapability];

/**
 * True when `flag` is set in `caps`. Works for bit 31 too: `&` yields a negative int32 there,
 * which is still non-zero. Combine flags with `(a | b) >>> 0` to keep the result unsigned.
 */
export function hasCapability(caps: number, flag: number): boolean {
  return (caps & flag) !== 0;
}

/** SERVER_STATUS_* bits in OK and EOF packets. */
export const ServerStatus = {
  IN_TRANS: 1,
  AUTOCOMMIT: 2,
  MORE_RESULTS_EXISTS: 8,
  NO_GOOD_INDEX_USED: 16,
  NO_INDEX_USED: 32,
  CURSOR_EXISTS: 64,
  LAST_ROW_SENT: 128,
  DB_DROPPED: 256,
  NO_BACKSLASH_ESCAPES: 512,
  METADATA_CHANGED: 1024,
  QUERY_WAS_SLOW: 2048,
  PS_OUT_PARAMS: 4096,
  IN_TRANS_READONLY: 8192,
  SESSION_STATE_CHANGED: 16384,
} as const;
export type ServerStatusFlag = (typeof ServerStatus)[keyof typeof ServerStatus];

/** COM_* command bytes (the first payload byte of every client command). */
export const Command = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  CREATE_DB: 0x05,
  DROP_DB: 0x06,
  REFRESH: 0x07,
  SHUTDOWN: 0x08,
  STATISTICS: 0x09,
  PROCESS_INFO: 0x0a,
  CONNECT: 0x0b,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  TIME: 0x0f,
  DELAYED_INSERT: 0x10,
  CHANGE_USER: 0x11,
  BINLOG_DUMP: 0x12,
  TABLE_DUMP: 0x13,
  CONNECT_OUT: 0x14,
  REGISTER_SLAVE: 0x15,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  DAEMON: 0x1d,
  BINLOG_DUMP_GTID: 0x1e,
  RESET_CONNECTION: 0x1f,
} as const;
export type CommandCode = (typeof Command)[keyof typeof Command];

/** MariaDB-only command bytes (decoded as `unknown` by `decodeCommand`). */
export const MariaDbCommand = {
  STMT_BULK_EXECUTE: 0xfa,
  MULTI: 0xfe,
} as const;

/** MYSQL_TYPE_* column types (`type` byte of a column definition). */
export const ColumnType = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  NEWDATE: 0x0e,
  VARCHAR: 0x0f,
  BIT: 0x10,
  TIMESTAMP2: 0x11,
  DATETIME2: 0x12,
  TIME2: 0x13,
  /** MySQL 9 VECTOR. */
  VECTOR: 0xf2,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const;
export type ColumnTypeCode = (typeof ColumnType)[keyof typeof ColumnType];

/** Column definition `flags` bits. */
export const ColumnFlag = {
  NOT_NULL: 1,
  PRI_KEY: 2,
  UNIQUE_KEY: 4,
  MULTIPLE_KEY: 8,
  BLOB: 16,
  UNSIGNED: 32,
  ZEROFILL: 64,
  BINARY: 128,
  ENUM: 256,
  AUTO_INCREMENT: 512,
  TIMESTAMP: 1024,
  SET: 2048,
  NO_DEFAULT_VALUE: 4096,
  ON_UPDATE_NOW: 8192,
  PART_KEY: 16384,
  NUM: 32768,
} as const;
export type ColumnFlagBit = (typeof ColumnFlag)[keyof typeof ColumnFlag];

/** Entry types inside the session-state info of an OK packet (CLIENT_SESSION_TRACK). */
export const SessionTrack = {
  SYSTEM_VARIABLES: 0,
  SCHEMA: 1,
  STATE_CHANGE: 2,
  GTIDS: 3,
  TRANSACTION_CHARACTERISTICS: 4,
  TRANSACTION_STATE: 5,
} as const;
export type SessionTrackType = (typeof SessionTrack)[keyof typeof SessionTrack];

/** COM_SET_OPTION values. */
export const SetOption = {
  MULTI_STATEMENTS_ON: 0,
  MULTI_STATEMENTS_OFF: 1,
} as const;

/** COM_STMT_EXECUTE `flags` (cursor type). */
export const CursorType = {
  NO_CURSOR: 0,
  READ_ONLY: 1,
  FOR_UPDATE: 2,
  SCROLLABLE: 4,
} as const;

/** First byte of the status packets caching_sha2_password exchanges inside AuthMoreData. */
export const CachingSha2 = {
  REQUEST_PUBLIC_KEY: 0x02,
  FAST_AUTH_SUCCESS: 0x03,
  PERFORM_FULL_AUTHENTICATION: 0x04,
} as const;

/** Leading bytes that identify a response packet. */
export const PacketHeader = {
  OK: 0x00,
  AUTH_MORE_DATA: 0x01,
  LOCAL_INFILE: 0xfb,
  /** EOF, auth switch request, or (with DEPRECATE_EOF) an OK that ends a resultset. */
  EOF: 0xfe,
  ERR: 0xff,
} as const;
