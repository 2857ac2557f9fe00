import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeCommand,
  encodeChangeUser,
  encodeFieldList,
  encodeInitDb,
  encodeProcessKill,
  encodeQuery,
  encodeSetOption,
  encodeSimpleCommand,
  encodeStmtClose,
  encodeStmtExecute,
  encodeStmtFetch,
  encodeStmtPrepare,
  encodeStmtReset,
  encodeStmtSendLongData,
  type ClientCommand,
} from '../../../src/protocol/commands.js';
import {
  decodeExecuteBody,
  decodeStmtPrepareOk,
  encodeExecuteBody,
  encodeStmtPrepareOk,
  withStatementId,
} from '../../../src/protocol/statements.js';
import { Capability, Command, SetOption } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { MARIADB_CLI, MARIADB_CLI_CAPS, payloadOf } from './fixtures.js';

const C = Capability;
const CAPS = MARIADB_CLI_CAPS;
const hex = (s: string) => Buffer.from(s, 'hex');
const isProtocolError = (code: string) => (e: unknown) => e instanceof ProtocolError && e.code === code;

test('COM_QUERY and COM_QUIT as a real client sent them', () => {
  const q = decodeCommand(payloadOf(MARIADB_CLI.queryVersionComment), CAPS);
  assert.equal(q.type, 'query');
  assert.ok(q.type === 'query');
  assert.equal(q.sql, 'select @@version_comment limit 1');
  assert.deepEqual(encodeQuery(q.raw), payloadOf(MARIADB_CLI.queryVersionComment));
  assert.deepEqual(encodeQuery(q.sql), payloadOf(MARIADB_CLI.queryVersionComment));
  assert.deepEqual(decodeCommand(payloadOf(MARIADB_CLI.quit), CAPS), { type: 'quit' });
  assert.deepEqual(decodeCommand(encodeQuery('SELECT \'ünï\''), CAPS), { type: 'query', sql: "SELECT 'ünï'", raw: Buffer.from("SELECT 'ünï'") });
});

test('every encoder round-trips through decodeCommand', () => {
  const cases: [Buffer, ClientCommand][] = [
    [encodeInitDb('sluice'), { type: 'init-db', schema: 'sluice' }],
    [encodeFieldList('t', 'i%'), { type: 'field-list', table: 't', wildcard: 'i%' }],
    [encodeSimpleCommand(Command.STATISTICS), { type: 'statistics' }],
    [encodeSimpleCommand(Command.PING), { type: 'ping' }],
    [encodeSimpleCommand(Command.QUIT), { type: 'quit' }],
    [encodeSimpleCommand(Command.RESET_CONNECTION), { type: 'reset-connection' }],
    [encodeProcessKill(0xfffffffe), { type: 'process-kill', connectionId: 0xfffffffe }],
    [encodeSetOption(SetOption.MULTI_STATEMENTS_OFF), { type: 'set-option', option: 1 }],
    [encodeStmtPrepare('SELECT ?'), { type: 'stmt-prepare', sql: 'SELECT ?' }],
    [encodeStmtExecute(7, 0, 1, hex('000108')), { type: 'stmt-execute', statementId: 7, flags: 0, iterationCount: 1, body: hex('000108') }],
    [encodeStmtSendLongData(7, 2, hex('abcd')), { type: 'stmt-send-long-data', statementId: 7, paramId: 2, data: hex('abcd') }],
    [encodeStmtClose(7), { type: 'stmt-close', statementId: 7 }],
    [encodeStmtReset(7), { type: 'stmt-reset', statementId: 7 }],
    [encodeStmtFetch(7, 100), { type: 'stmt-fetch', statementId: 7, numRows: 100 }],
  ];
  for (const [payload, expected] of cases) assert.deepEqual(decodeCommand(payload, CAPS), expected);
  // Byte layouts hand-checked against the command pages.
  assert.deepEqual(encodeProcessKill(5), hex('0c05000000'));
  assert.deepEqual(encodeFieldList('t', ''), hex('047400'));
  assert.deepEqual(encodeStmtExecute(1, 0, 1, Buffer.alloc(0)), hex('17010000000001000000'));
  assert.deepEqual(encodeSetOption(0), hex('1b0000'));
});

test('COM_CHANGE_USER with the connection\'s capabilities', () => {
  const full = {
    user: 'app',
    authResponse: Buffer.alloc(20, 3),
    database: 'sluice',
    charset: 45,
    authPluginName: 'mysql_native_password',
    connectAttrs: new Map([['_client_name', 'sluice']]),
  };
  assert.deepEqual(decodeCommand(encodeChangeUser(full, CAPS), CAPS), { type: 'change-user', ...full });
  // Without PLUGIN_AUTH / CONNECT_ATTRS those fields are not on the wire.
  const narrow = (C.PROTOCOL_41 | C.SECURE_CONNECTION) >>> 0;
  assert.deepEqual(decodeCommand(encodeChangeUser(full, narrow), narrow), {
    type: 'change-user', ...full, authPluginName: undefined, connectAttrs: undefined,
  });
  // No charset: the packet ends after the database.
  const bare = encodeChangeUser({ ...full, charset: undefined }, CAPS);
  assert.deepEqual(bare, Buffer.concat([hex('11'), Buffer.from('app\0'), hex('14'), full.authResponse, Buffer.from('sluice\0')]));
  assert.deepEqual(decodeCommand(bare, CAPS), {
    type: 'change-user', ...full, charset: undefined, authPluginName: undefined, connectAttrs: undefined,
  });
  // Pre-SECURE_CONNECTION: NUL-terminated auth data.
  const old = C.PROTOCOL_41;
  const oldCmd = decodeCommand(encodeChangeUser({ ...full, authResponse: Buffer.from('xy') }, old), old);
  assert.ok(oldCmd.type === 'change-user');
  assert.deepEqual(oldCmd.authResponse, Buffer.from('xy'));
  // Truncated auth data.
  assert.throws(() => decodeCommand(hex('1161700014aabb'), CAPS), isProtocolError('truncated'));
});

test('unknown and malformed commands', () => {
  assert.throws(() => decodeCommand(Buffer.alloc(0), CAPS), isProtocolError('empty-command'));
  for (const code of [Command.SLEEP, Command.CREATE_DB, Command.BINLOG_DUMP, Command.DAEMON, 0x20, 0xfe, 0xff]) {
    assert.deepEqual(decodeCommand(Buffer.from([code, 1, 2]), CAPS), { type: 'unknown', code });
  }
  for (const code of [Command.PROCESS_KILL, Command.STMT_EXECUTE, Command.STMT_CLOSE, Command.STMT_RESET,
    Command.SET_OPTION, Command.STMT_FETCH, Command.STMT_SEND_LONG_DATA, Command.CHANGE_USER, 0xfa]) {
    assert.throws(() => decodeCommand(Buffer.from([code, 1]), CAPS), ProtocolError, `truncated 0x${code.toString(16)}`);
  }
  // COM_FIELD_LIST without the NUL: the table is the rest.
  assert.deepEqual(decodeCommand(hex('0474'), CAPS), { type: 'field-list', table: 't', wildcard: '' });
});

test('COM_QUERY under QUERY_ATTRIBUTES: attribute-free queries only', () => {
  const caps = CAPS | C.QUERY_ATTRIBUTES;
  const cmd = decodeCommand(Buffer.concat([hex('030001'), Buffer.from('SELECT 1')]), caps);
  assert.deepEqual(cmd, { type: 'query', sql: 'SELECT 1', raw: Buffer.from('SELECT 1') });
  assert.throws(() => decodeCommand(hex('030101'), caps), isProtocolError('unsupported'));
});

test('prepared statements: prepare OK, statement id swap, execute body', () => {
  const ok = { statementId: 12, numColumns: 2, numParams: 3, warnings: 0 };
  const buf = encodeStmtPrepareOk(ok);
  assert.deepEqual(buf, hex('000c00000002000300000000'));
  assert.deepEqual(decodeStmtPrepareOk(buf), ok);
  assert.deepEqual(decodeStmtPrepareOk(withStatementId(buf, 0x80000001)), { ...ok, statementId: 0x80000001 });
  assert.deepEqual(decodeStmtPrepareOk(encodeStmtPrepareOk({ ...ok, metadataFollows: 1 })).metadataFollows, 1);
  assert.throws(() => decodeStmtPrepareOk(hex('ff')), ProtocolError);
  assert.throws(() => withStatementId(hex('0001'), 1), ProtocolError);

  // 3 params: NULL bitmap (1 byte, param 1 NULL), new-params-bound 1, types, then values.
  const body = hex('02' + '01' + '0300' + '0600' + 'fd00' + '05000000' + '0161');
  const parts = decodeExecuteBody(body, 3);
  assert.deepEqual(parts, { nullBitmap: hex('02'), types: hex('03000600fd00'), values: hex('050000000161') });
  assert.deepEqual(encodeExecuteBody(parts), body);
  // Re-execution without types, then re-bound with saved types for another backend.
  const rerun = decodeExecuteBody(hex('0000' + '0500000001610162'), 3);
  assert.equal(rerun.types, undefined);
  assert.deepEqual(encodeExecuteBody({ ...rerun, types: parts.types }), hex('0001' + '03000600fd00' + '0500000001610162'));
  assert.deepEqual(decodeExecuteBody(Buffer.alloc(0), 0), { nullBitmap: Buffer.alloc(0), types: undefined, values: Buffer.alloc(0) });
  assert.deepEqual(encodeExecuteBody(decodeExecuteBody(Buffer.alloc(0), 0)), Buffer.alloc(0));
  assert.throws(() => decodeExecuteBody(hex('0001'), 3), ProtocolError);
});
