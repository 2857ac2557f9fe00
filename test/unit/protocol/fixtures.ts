/**
 * Packets captured from a real MariaDB 10.11.19 (Debian 12) over its unix socket, through a
 * byte-logging tap, with two real clients logging in as app/app (mysql_native_password, stored
 * hash *5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3) to database `sluice` and running:
 *   select @@version_comment limit 1; select * from t order by id; select 1 from nosuchtable
 * where t = (id int primary key auto_increment, name varchar(20) utf8mb4, b blob, d decimal(10,2))
 * holding (1,'alice',NULL,1.50), (2,'bob','xy',NULL).
 * `MARIADB_CLI`: the `mariadb` 10.11 command-line client (libmariadb 3.3).
 * `MYSQL2`: node-mysql2 3.24.
 * Each entry is a payload (header stripped) as hex, with the sequence id it was sent with.
 */

export interface CapturedPacket {
  readonly seq: number;
  /** c2s: client to server; s2c: server to client. */
  readonly dir: 'c2s' | 's2c';
  readonly hex: string;
}

export const MARIADB_CLI = {
  handshake: {
    seq: 0,
    dir: 's2c',
    hex:
      '0a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100080000003d3d' +
      '5a2e7275736500fef7080200ff81150000000000001d000000227445392f7e51574121217e006d79' +
      '73716c5f6e61746976655f70617373776f726400',
  },
  handshakeResponse: {
    seq: 1,
    dir: 'c2s',
    hex:
      '8ca2bf000000100021000000000000000000000000000000000000001d00000061707000148546fd' +
      '9da03bdee52badf6ec286d7d19b1660c69736c75696365006d7973716c5f6e61746976655f706173' +
      '73776f72640067035f6f73054c696e75780c5f636c69656e745f6e616d650a6c69626d6172696164' +
      '62045f70696404343435330f5f636c69656e745f76657273696f6e06332e332e3230095f706c6174' +
      '666f726d067838365f36340c70726f6772616d5f6e616d65056d7973716c',
  },
  authOk: {
    seq: 2,
    dir: 's2c',
    hex:
      '000000024000000009010706736c75696365',
  },
  queryVersionComment: {
    seq: 0,
    dir: 'c2s',
    hex:
      '0373656c65637420404076657273696f6e5f636f6d6d656e74206c696d69742031',
  },
  vcColumnCount: {
    seq: 1,
    dir: 's2c',
    hex:
      '0101',
  },
  vcColumn: {
    seq: 2,
    dir: 's2c',
    hex:
      '0364656600000011404076657273696f6e5f636f6d6d656e7400000c21001b000000fd0000270000',
  },
  vcEof1: {
    seq: 3,
    dir: 's2c',
    hex:
      'fe00000200',
  },
  vcRow: {
    seq: 4,
    dir: 's2c',
    hex:
      '0944656269616e203132',
  },
  vcEof2: {
    seq: 5,
    dir: 's2c',
    hex:
      'fe00000200',
  },
  querySelectT: {
    seq: 0,
    dir: 'c2s',
    hex:
      '0373656c656374202a2066726f6d2074206f72646572206279206964',
  },
  tColumnCount: {
    seq: 1,
    dir: 's2c',
    hex:
      '0401',
  },
  tColId: {
    seq: 2,
    dir: 's2c',
    hex:
      '0364656606736c7569636501740174026964026964000c3f000b000000030342000000',
  },
  tColName: {
    seq: 3,
    dir: 's2c',
    hex:
      '0364656606736c7569636501740174046e616d65046e616d65000c21003c000000fd0000000000',
  },
  tColB: {
    seq: 4,
    dir: 's2c',
    hex:
      '0364656606736c756963650174017401620162000c3f00ffff0000fc9000000000',
  },
  tColD: {
    seq: 5,
    dir: 's2c',
    hex:
      '0364656606736c756963650174017401640164000c3f000c000000f60000020000',
  },
  tEof1: {
    seq: 6,
    dir: 's2c',
    hex:
      'fe00002200',
  },
  tRow1: {
    seq: 7,
    dir: 's2c',
    hex:
      '013105616c696365fb04312e3530',
  },
  tRow2: {
    seq: 8,
    dir: 's2c',
    hex:
      '013203626f62027879fb',
  },
  tEof2: {
    seq: 9,
    dir: 's2c',
    hex:
      'fe00002200',
  },
  queryBadTable: {
    seq: 0,
    dir: 'c2s',
    hex:
      '0373656c65637420312066726f6d206e6f737563687461626c65',
  },
  errNoSuchTable: {
    seq: 1,
    dir: 's2c',
    hex:
      'ff7a042334325330325461626c652027736c756963652e6e6f737563687461626c652720646f6573' +
      '6e2774206578697374',
  },
  quit: {
    seq: 0,
    dir: 'c2s',
    hex:
      '01',
  },
} as const satisfies Record<string, CapturedPacket>;

export const MYSQL2 = {
  handshake: {
    seq: 0,
    dir: 's2c',
    hex:
      '0a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100090000004429' +
      '3f426d21577500fef7080200ff81150000000000001d000000667e686f747a2852474d2d39006d79' +
      '73716c5f6e61746976655f70617373776f726400',
  },
  handshakeResponse: {
    seq: 1,
    dir: 'c2s',
    hex:
      'cef3ba0800000000e000000000000000000000000000000000000000080000006170700014f49ae4' +
      '96e7eaf6582a5167da6ab4a9019ed9c393736c75696365006d7973716c5f6e61746976655f706173' +
      '73776f726400310c5f636c69656e745f6e616d650c4e6f64652d4d7953514c2d320f5f636c69656e' +
      '745f76657273696f6e06332e32342e36',
  },
  authOk: {
    seq: 2,
    dir: 's2c',
    hex:
      '000000024000000009010706736c75696365',
  },
  queryVersionComment: {
    seq: 0,
    dir: 'c2s',
    hex:
      '0373656c65637420404076657273696f6e5f636f6d6d656e74206c696d69742031',
  },
  vcColumnCount: {
    seq: 1,
    dir: 's2c',
    hex:
      '01',
  },
  vcColumn: {
    seq: 2,
    dir: 's2c',
    hex:
      '0364656600000011404076657273696f6e5f636f6d6d656e7400000ce00024000000fd0000270000',
  },
  vcEof1: {
    seq: 3,
    dir: 's2c',
    hex:
      'fe00000200',
  },
  vcRow: {
    seq: 4,
    dir: 's2c',
    hex:
      '0944656269616e203132',
  },
  vcEof2: {
    seq: 5,
    dir: 's2c',
    hex:
      'fe00000200',
  },
  querySelectT: {
    seq: 0,
    dir: 'c2s',
    hex:
      '0373656c656374202a2066726f6d2074206f72646572206279206964',
  },
  tColumnCount: {
    seq: 1,
    dir: 's2c',
    hex:
      '04',
  },
  tColId: {
    seq: 2,
    dir: 's2c',
    hex:
      '0364656606736c7569636501740174026964026964000c3f000b000000030342000000',
  },
  tColName: {
    seq: 3,
    dir: 's2c',
    hex:
      '0364656606736c7569636501740174046e616d65046e616d65000ce00050000000fd0000000000',
  },
  tColB: {
    seq: 4,
    dir: 's2c',
    hex:
      '0364656606736c756963650174017401620162000c3f00ffff0000fc9000000000',
  },
  tColD: {
    seq: 5,
    dir: 's2c',
    hex:
      '0364656606736c756963650174017401640164000c3f000c000000f60000020000',
  },
  tEof1: {
    seq: 6,
    dir: 's2c',
    hex:
      'fe00002200',
  },
  tRow1: {
    seq: 7,
    dir: 's2c',
    hex:
      '013105616c696365fb04312e3530',
  },
  tRow2: {
    seq: 8,
    dir: 's2c',
    hex:
      '013203626f62027879fb',
  },
  tEof2: {
    seq: 9,
    dir: 's2c',
    hex:
      'fe00002200',
  },
  queryBadTable: {
    seq: 0,
    dir: 'c2s',
    hex:
      '0373656c65637420312066726f6d206e6f737563687461626c65',
  },
  errNoSuchTable: {
    seq: 1,
    dir: 's2c',
    hex:
      'ff7a042334325330325461626c652027736c756963652e6e6f737563687461626c652720646f6573' +
      '6e2774206578697374',
  },
  quit: {
    seq: 0,
    dir: 'c2s',
    hex:
      '01',
  },
} as const satisfies Record<string, CapturedPacket>;

/** The server-to-client bytes of the MARIADB_CLI session as the tap received them (headers included). */
export const MARIADB_CLI_SERVER_STREAM: readonly string[] = [
  '640000000a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531000800' +
  '00003d3d5a2e7275736500fef7080200ff81150000000000001d000000227445392f7e5157412121' +
  '7e006d7973716c5f6e61746976655f70617373776f726400',
  '12000002000000024000000009010706736c75696365',
  '020000010101280000020364656600000011404076657273696f6e5f636f6d6d656e7400000c2100' +
  '1b000000fd000027000005000003fe000002000a0000040944656269616e20313205000005fe0000' +
  '0200',
  '020000010401230000020364656606736c7569636501740174026964026964000c3f000b00000003' +
  '0342000000270000030364656606736c7569636501740174046e616d65046e616d65000c21003c00' +
  '0000fd0000000000210000040364656606736c756963650174017401620162000c3f00ffff0000fc' +
  '9000000000210000050364656606736c756963650174017401640164000c3f000c000000f6000002' +
  '000005000006fe000022000e000007013105616c696365fb04312e35300a000008013203626f6202' +
  '7879fb05000009fe00002200',
  '31000001ff7a042334325330325461626c652027736c756963652e6e6f737563687461626c652720' +
  '646f65736e2774206578697374',
];
/** The payload bytes of a captured packet. */
export function payloadOf(p: CapturedPacket): Buffer {
  return Buffer.from(p.hex, 'hex');
}

/** Capabilities both sides agreed on in the MARIADB_CLI session (client's & server's). */
export const MARIADB_CLI_CAPS = (0x00bfa28c & 0x81fff7fe) >>> 0;
/** MariaDB extended capabilities agreed on in the MARIADB_CLI session. */
export const MARIADB_CLI_EXT_CAPS = 0x1d;
/** Capabilities agreed on in the MYSQL2 session. */
export const MYSQL2_CAPS = (0x08baf3ce & 0x81fff7fe) >>> 0;
/** MariaDB extended capabilities agreed on in the MYSQL2 session (EXTENDED_METADATA only). */
export const MYSQL2_EXT_CAPS = 0x08;
