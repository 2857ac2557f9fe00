import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ER, SqlError, sqlError } from '../../../src/protocol/error-codes.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { decodeErr, encodeErr } from '../../../src/protocol/responses.js';

test('sqlError fills templates and carries errno and SQLSTATE', () => {
  const e = sqlError('ER_ACCESS_DENIED_ERROR', 'app', '10.0.0.1', 'YES');
  assert.ok(e instanceof SqlError && e instanceof Error);
  assert.equal(e.name, 'SqlError');
  assert.equal(e.errno, 1045);
  assert.equal(e.sqlState, '28000');
  assert.equal(e.code, 'ER_ACCESS_DENIED_ERROR');
  assert.equal(e.message, "Access denied for user 'app'@'10.0.0.1' (using password: YES)");
  assert.equal(sqlError('ER_NO_SUCH_THREAD', 42).message, 'Unknown thread id: 42');
  assert.equal(sqlError('CR_CONN_HOST_ERROR', 'db1:3306', 'ECONNREFUSED').message, "Can't connect to MySQL server on 'db1:3306' (ECONNREFUSED)");
  assert.equal(sqlError('ER_BAD_DB_ERROR').message, "Unknown database ''", 'missing args become empty');
  assert.equal(sqlError('ER_HOST_NOT_PRIVILEGED', 'h').message, "Host 'h' is not allowed to connect to this server");
  assert.deepEqual(decodeErr(encodeErr(sqlError('ER_UNKNOWN_COM_ERROR'))), { errno: 1047, sqlState: '08S01', message: 'Unknown command' });
  const direct = new SqlError('custom', 1105, 'HY000');
  assert.deepEqual([direct.message, direct.errno, direct.sqlState, direct.code], ['custom', 1105, 'HY000', undefined]);
});

test('the table: the codes the brief lists, well-formed SQLSTATEs', () => {
  const expected: Record<string, [number, string]> = {
    ER_CON_COUNT_ERROR: [1040, '08004'], ER_HANDSHAKE_ERROR: [1043, '08S01'], ER_ACCESS_DENIED_ERROR: [1045, '28000'],
    ER_NO_DB_ERROR: [1046, '3D000'], ER_UNKNOWN_COM_ERROR: [1047, '08S01'], ER_BAD_DB_ERROR: [1049, '42000'],
    ER_SERVER_SHUTDOWN: [1053, '08S01'], ER_NO_SUCH_THREAD: [1094, 'HY000'], ER_KILL_DENIED_ERROR: [1095, 'HY000'],
    ER_UNKNOWN_ERROR: [1105, 'HY000'], ER_HOST_NOT_PRIVILEGED: [1130, 'HY000'], ER_NET_PACKET_TOO_LARGE: [1153, '08S01'],
    ER_NET_READ_ERROR: [1158, '08S01'], ER_NOT_SUPPORTED_YET: [1235, '42000'], ER_UNKNOWN_STMT_HANDLER: [1243, 'HY000'],
    ER_OPTION_PREVENTS_STATEMENT: [1290, 'HY000'], ER_QUERY_INTERRUPTED: [1317, '70100'], ER_LOCK_WAIT_TIMEOUT: [1205, 'HY000'],
    ER_CONNECTION_KILLED: [1927, '70100'], CR_CONN_HOST_ERROR: [2003, 'HY000'], CR_SERVER_LOST: [2013, 'HY000'],
  };
  for (const [name, [errno, sqlState]] of Object.entries(expected)) {
    const spec = ER[name as keyof typeof ER];
    assert.deepEqual([spec.errno, spec.sqlState], [errno, sqlState], name);
  }
  const errnos = new Set<number>();
  for (const [name, spec] of Object.entries(ER)) {
    assert.match(spec.sqlState, /^[0-9A-Z]{5}$/, name);
    assert.ok(!errnos.has(spec.errno), `duplicate errno ${spec.errno}`);
    errnos.add(spec.errno);
    assert.doesNotMatch(spec.template, /MariaDB/, 'neutral wording');
  }
});

test('ProtocolError carries a code', () => {
  const e = new ProtocolError('bad', 'truncated');
  assert.equal(e.name, 'ProtocolError');
  assert.equal(e.code, 'truncated');
  assert.ok(e instanceof Error);
  assert.equal(new ProtocolError('x').code, undefined);
});
