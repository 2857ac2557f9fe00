import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeColumnCount,
  decodeColumnDefinition,
  decodeEof,
  decodeErr,
  decodeOk,
  decodeSessionState,
  decodeTextRow,
  encodeColumnCount,
  encodeColumnDefinition,
  encodeEof,
  encodeErr,
  encodeOk,
  encodeTextResultset,
  encodeTextRow,
  isEofPacket,
  isErrPacket,
  isOkPacket,
  okStatusFlags,
  type ColumnDefinition,
} from '../../../src/protocol/responses.js';
import { Capability, ColumnFlag, ColumnType, ServerStatus } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { PacketWriter } from '../../../src/protocol/writer.js';
import {
  MARIADB_CLI,
  MARIADB_CLI_CAPS,
  MARIADB_CLI_EXT_CAPS,
  MYSQL2,
  MYSQL2_CAPS,
  MYSQL2_EXT_CAPS,
  payloadOf,
} from './fixtures.js';

const C = Capability;
const hex = (s: string) => Buffer.from(s, 'hex');

test('OK after login (real MariaDB): session-state info reporting the schema', () => {
  const payload = payloadOf(MARIADB_CLI.authOk);
  const ok = decodeOk(payload, MARIADB_CLI_CAPS);
  assert.equal(ok.affectedRows, 0);
  assert.equal(ok.lastInsertId, 0);
  assert.equal(ok.statusFlags, ServerStatus.AUTOCOMMIT | ServerStatus.SESSION_STATE_CHANGED);
  assert.equal(ok.warnings, 0);
  assert.equal(ok.info, '');
  assert.ok(ok.sessionState);
  assert.deepEqual(decodeSessionState(ok.sessionState), [{ type: 'schema', schema: 'sluice' }]);
  assert.deepEqual(encodeOk(ok, MARIADB_CLI_CAPS), payload);
  assert.equal(okStatusFlags(payload, MARIADB_CLI_CAPS), 0x4002);
  // Without SESSION_TRACK the same bytes read as info text; decoding stays total.
  assert.equal(decodeOk(payload, C.PROTOCOL_41).statusFlags, 0x4002);
});

test('OK encoding per capabilities (hand-checked against the OK packet docs)', () => {
  const ok = { affectedRows: 300, lastInsertId: 7, statusFlags: 2, warnings: 1, info: 'Rows matched: 1' };
  const p41 = encodeOk(ok, C.PROTOCOL_41);
  assert.deepEqual(p41, Buffer.concat([hex('00fc2c010702000100'), Buffer.from('Rows matched: 1')]));
  assert.deepEqual(decodeOk(p41, C.PROTOCOL_41), ok);
  const tracked = encodeOk(ok, C.PROTOCOL_41 | C.SESSION_TRACK);
  assert.deepEqual(tracked, Buffer.concat([hex('00fc2c0107020001000f'), Buffer.from('Rows matched: 1')]));
  assert.deepEqual(decodeOk(tracked, C.PROTOCOL_41 | C.SESSION_TRACK), ok);
  // Empty info under SESSION_TRACK is omitted entirely, as the server does.
  assert.deepEqual(encodeOk({ statusFlags: 2 }, C.PROTOCOL_41 | C.SESSION_TRACK), hex('00000002000000'));
  assert.deepEqual(encodeOk({ statusFlags: 2 }, C.TRANSACTIONS), hex('0000000200'));
  assert.deepEqual(encodeOk({ statusFlags: 2 }, 0), hex('000000'));
  const big = encodeOk({ statusFlags: 3, affectedRows: 2n ** 60n, lastInsertId: 2 ** 40 }, C.PROTOCOL_41);
  assert.deepEqual(decodeOk(big, C.PROTOCOL_41).affectedRows, 2n ** 60n);
  assert.equal(okStatusFlags(big, C.PROTOCOL_41), 3);
  // Session state passed in sets SERVER_SESSION_STATE_CHANGED.
  const withState = encodeOk({ statusFlags: 2, sessionState: hex('0107066162636465') }, C.PROTOCOL_41 | C.SESSION_TRACK);
  assert.equal(okStatusFlags(withState, C.PROTOCOL_41), 2 | ServerStatus.SESSION_STATE_CHANGED);
});

test('ERR (real MariaDB): Table doesn\'t exist', () => {
  const payload = payloadOf(MARIADB_CLI.errNoSuchTable);
  const err = decodeErr(payload);
  assert.deepEqual(err, { errno: 1146, sqlState: '42S02', message: "Table 'sluice.nosuchtable' doesn't exist" });
  assert.deepEqual(encodeErr(err), payload);
  assert.ok(isErrPacket(payload));
  // Pre-4.1 style without the '#' marker.
  assert.deepEqual(decodeErr(hex('ff1004546f6f')), { errno: 1040, sqlState: 'HY000', message: 'Too' });
  // A malformed SQLSTATE is replaced rather than corrupting the layout.
  assert.deepEqual(decodeErr(encodeErr({ errno: 1, sqlState: 'bad', message: 'm' })).sqlState, 'HY000');
  assert.throws(() => decodeErr(hex('ff01')), ProtocolError);
});

test('EOF (real MariaDB) and status flags from EOF / OK terminators', () => {
  const eof = payloadOf(MARIADB_CLI.tEof2);
  assert.deepEqual(decodeEof(eof), { warnings: 0, statusFlags: 0x22 });
  assert.deepEqual(encodeEof(0, 0x22), eof);
  assert.ok(isEofPacket(eof));
  assert.equal(okStatusFlags(eof, MARIADB_CLI_CAPS), 0x22);
  assert.equal(okStatusFlags(eof, MARIADB_CLI_CAPS | C.DEPRECATE_EOF), 0x22, 'a 5-byte 0xfe packet is an EOF');
  const okEof = encodeOk({ statusFlags: ServerStatus.IN_TRANS | ServerStatus.MORE_RESULTS_EXISTS }, C.PROTOCOL_41 | C.DEPRECATE_EOF, 0xfe);
  assert.deepEqual(okEof, hex('fe000009000000'));
  assert.ok(isEofPacket(okEof));
  assert.equal(okStatusFlags(okEof, C.PROTOCOL_41 | C.DEPRECATE_EOF), 9);
  assert.throws(() => okStatusFlags(hex('fe0000'), C.PROTOCOL_41), ProtocolError);
  assert.throws(() => okStatusFlags(hex('00fe01'), C.PROTOCOL_41), ProtocolError);
  assert.throws(() => okStatusFlags(hex('0000'), C.PROTOCOL_41), ProtocolError);
  assert.throws(() => okStatusFlags(payloadOf(MARIADB_CLI.tRow1), C.PROTOCOL_41), ProtocolError);
  assert.throws(() => decodeEof(hex('fe0000')), ProtocolError);
  assert.ok(isOkPacket(payloadOf(MARIADB_CLI.authOk)));
  assert.ok(!isOkPacket(eof) && !isErrPacket(eof) && !isEofPacket(payloadOf(MARIADB_CLI.authOk)));
});

test('column definitions (real MariaDB) decode and re-encode byte for byte', () => {
  const id = decodeColumnDefinition(payloadOf(MARIADB_CLI.tColId), MARIADB_CLI_EXT_CAPS);
  assert.deepEqual(id, {
    catalog: 'def', schema: 'sluice', table: 't', orgTable: 't', name: 'id', orgName: 'id',
    charset: 63, columnLength: 11, type: ColumnType.LONG,
    flags: ColumnFlag.NOT_NULL | ColumnFlag.PRI_KEY | ColumnFlag.AUTO_INCREMENT | ColumnFlag.PART_KEY,
    decimals: 0, extendedMetadata: Buffer.alloc(0),
  });
  const d = decodeColumnDefinition(payloadOf(MARIADB_CLI.tColD), MARIADB_CLI_EXT_CAPS);
  assert.deepEqual([d.type, d.decimals, d.columnLength], [ColumnType.NEWDECIMAL, 2, 12]);
  const b = decodeColumnDefinition(payloadOf(MYSQL2.tColB), MYSQL2_EXT_CAPS);
  assert.deepEqual([b.type, b.flags & ColumnFlag.BLOB, b.charset], [ColumnType.BLOB, ColumnFlag.BLOB, 63]);
  for (const [session, ext] of [[MARIADB_CLI, MARIADB_CLI_EXT_CAPS], [MYSQL2, MYSQL2_EXT_CAPS]] as const) {
    for (const p of [session.vcColumn, session.tColId, session.tColName, session.tColB, session.tColD]) {
      assert.deepEqual(encodeColumnDefinition(decodeColumnDefinition(payloadOf(p), ext), ext), payloadOf(p));
    }
  }
  // Without extended metadata the layout has no extra block (hand-checked against the docs).
  const plain: ColumnDefinition = { schema: '', table: '', orgTable: '', name: 'a', orgName: '', charset: 33, columnLength: 3, type: ColumnType.VAR_STRING, flags: 0, decimals: 31 };
  const buf = encodeColumnDefinition(plain);
  assert.deepEqual(buf, hex('036465660000000161000c210003000000fd00001f0000'));
  assert.deepEqual(decodeColumnDefinition(buf), { ...plain, catalog: 'def' });
});

test('column count with and without MariaDB CACHE_METADATA', () => {
  assert.deepEqual(decodeColumnCount(payloadOf(MARIADB_CLI.tColumnCount), MARIADB_CLI_EXT_CAPS), { count: 4, metadataFollows: true });
  assert.deepEqual(decodeColumnCount(payloadOf(MYSQL2.tColumnCount), MYSQL2_EXT_CAPS), { count: 4, metadataFollows: true });
  assert.deepEqual(encodeColumnCount(4, MARIADB_CLI_EXT_CAPS), payloadOf(MARIADB_CLI.tColumnCount));
  assert.deepEqual(encodeColumnCount(4, MYSQL2_EXT_CAPS), payloadOf(MYSQL2.tColumnCount));
  assert.throws(() => decodeColumnCount(hex('00')), ProtocolError);
  assert.throws(() => decodeColumnCount(hex('fb')), ProtocolError);
});

test('text rows (real MariaDB), NULLs included', () => {
  const row1 = payloadOf(MARIADB_CLI.tRow1);
  const values = decodeTextRow(row1, 4);
  assert.deepEqual(values.map((v) => v?.toString() ?? null), ['1', 'alice', null, '1.50']);
  assert.deepEqual(encodeTextRow(['1', 'alice', null, Buffer.from('1.50')]), row1);
  assert.deepEqual(encodeTextRow(decodeTextRow(payloadOf(MARIADB_CLI.tRow2), 4)), payloadOf(MARIADB_CLI.tRow2));
  assert.throws(() => decodeTextRow(row1, 3), ProtocolError, 'trailing value');
  assert.throws(() => decodeTextRow(row1, 5), ProtocolError, 'missing value');
  const long = 'x'.repeat(70_000);
  assert.equal(decodeTextRow(encodeTextRow([long, '']), 2)[0]?.toString(), long);
});

test('whole text resultsets match what MariaDB sent to each client', () => {
  for (const [session, caps, ext] of [[MARIADB_CLI, MARIADB_CLI_CAPS, MARIADB_CLI_EXT_CAPS], [MYSQL2, MYSQL2_CAPS, MYSQL2_EXT_CAPS]] as const) {
    const column = decodeColumnDefinition(payloadOf(session.vcColumn), ext);
    const payloads = encodeTextResultset([column], [['Debian 12']], caps, ServerStatus.AUTOCOMMIT, ext);
    assert.deepEqual(payloads, [session.vcColumnCount, session.vcColumn, session.vcEof1, session.vcRow, session.vcEof2].map(payloadOf));

    const cols = [session.tColId, session.tColName, session.tColB, session.tColD].map((p) => decodeColumnDefinition(payloadOf(p), ext));
    const rows = [['1', 'alice', null, '1.50'], ['2', 'bob', 'xy', null]];
    const status = ServerStatus.AUTOCOMMIT | ServerStatus.NO_INDEX_USED;
    assert.deepEqual(
      encodeTextResultset(cols, rows, caps, status, ext),
      [session.tColumnCount, session.tColId, session.tColName, session.tColB, session.tColD, session.tEof1, session.tRow1, session.tRow2, session.tEof2].map(payloadOf),
    );
  }
});

test('text resultset under DEPRECATE_EOF: no middle EOF, OK with 0xfe header at the end', () => {
  const caps = C.PROTOCOL_41 | C.DEPRECATE_EOF;
  const col: ColumnDefinition = { schema: '', table: '', orgTable: '', name: 'n', orgName: '', charset: 45, columnLength: 4, type: ColumnType.VAR_STRING, flags: 0, decimals: 0 };
  const payloads = encodeTextResultset([col], [['a'], [null]], caps, ServerStatus.AUTOCOMMIT);
  assert.deepEqual(payloads, [hex('01'), encodeColumnDefinition(col), hex('0161'), hex('fb'), hex('fe000002000000')]);
  assert.throws(() => encodeTextResultset([col], [['a', 'b']], caps, 2), RangeError);
  assert.deepEqual(encodeTextResultset([], [], caps, 2)[0], hex('00'));
});

test('session-state info: variables, state change, GTIDs, transaction state, unknown types', () => {
  const w = new PacketWriter();
  const entry = (type: number, body: Buffer) => w.u8(type).lenencBuffer(body);
  entry(0, new PacketWriter().lenencString('autocommit').lenencString('OFF').toBuffer());
  entry(2, new PacketWriter().lenencString('1').toBuffer());
  entry(3, new PacketWriter().u8(0).lenencString('0-1-5').toBuffer());
  entry(4, new PacketWriter().lenencString('START TRANSACTION;').toBuffer());
  entry(5, new PacketWriter().lenencString('T_______').toBuffer());
  entry(42, Buffer.from([9]));
  assert.deepEqual(decodeSessionState(w.toBuffer()), [
    { type: 'system-variable', name: 'autocommit', value: 'OFF' },
    { type: 'state-change', changed: true },
    { type: 'gtids', gtids: '0-1-5' },
    { type: 'transaction-characteristics', characteristics: 'START TRANSACTION;' },
    { type: 'transaction-state', state: 'T_______' },
    { type: 'unknown', code: 42, data: Buffer.from([9]) },
  ]);
  assert.throws(() => decodeSessionState(hex('0105')), ProtocolError);
});
