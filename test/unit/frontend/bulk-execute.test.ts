/**
 * COM_STMT_BULK_EXECUTE (MariaDB) as the proxy decodes and re-encodes it: the client's statement
 * id becomes the backend's, the rows are relayed byte for byte, and the parameter types are
 * always sent to the backend (kept from the client's last binding when the request omits them).
 * Layout: https://mariadb.com/kb/en/com_stmt_bulk_execute/
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCommand } from '../../../src/protocol/commands.js';
import { Capability, ColumnType, MariaDbCapability, ServerStatus } from '../../../src/protocol/constants.js';
import { BulkFlag, decodeBulkExecuteBody, encodeBulkExecute } from '../../../src/protocol/statements.js';
import { SqlError } from '../../../src/protocol/error-codes.js';
import { classify } from '../../../src/routing/classify.js';
import { SessionStatements } from '../../../src/frontend/prepared-statements.js';
import { planBulkExecute } from '../../../src/frontend/bulk-execute.js';
import { ResponseScanner } from '../../../src/backend/response-scanner.js';
import { encodePacket } from '../../../src/protocol/framer.js';
import { encodeOk } from '../../../src/protocol/responses.js';

const BULK = MariaDbCapability.STMT_BULK_OPERATIONS;
/** Two parameters: INT, VARCHAR. */
const TYPES = Buffer.from([ColumnType.LONG, 0, ColumnType.VAR_STRING, 0]);
/** Rows: (1, 'ab'), (NULL, 'c'). Indicator 0 = value follows, 1 = NULL. */
const ROWS = Buffer.from([0, 1, 0, 0, 0, 0, 2, 0x61, 0x62, 1, 0, 1, 0x63]);

function clientBulk(id: number, flags: number, types: Buffer | undefined): Buffer {
  const head = Buffer.alloc(7);
  head[0] = 0xfa;
  head.writeUInt32LE(id, 1);
  head.writeUInt16LE(flags, 5);
  return Buffer.concat([head, types ?? Buffer.alloc(0), ROWS]);
}

function session(sql = 'INSERT INTO t (a, b) VALUES (?, ?)'): SessionStatements {
  const s = new SessionStatements();
  s.add(sql, classify(sql), 2, 0, 0);
  return s;
}

test('decodeCommand: 0xFA is COM_STMT_BULK_EXECUTE (id, flags, undecoded body)', () => {
  const cmd = decodeCommand(clientBulk(7, BulkFlag.SEND_TYPES_TO_SERVER, TYPES), Capability.PROTOCOL_41);
  assert.ok(cmd.type === 'stmt-bulk-execute');
  assert.equal(cmd.statementId, 7);
  assert.equal(cmd.flags, 128);
  assert.deepEqual(cmd.body, Buffer.concat([TYPES, ROWS]));
  assert.deepEqual(decodeBulkExecuteBody(cmd.body, cmd.flags, 2), { types: TYPES, rows: ROWS });
  assert.deepEqual(decodeBulkExecuteBody(ROWS, 0, 2), { types: undefined, rows: ROWS });
});

test('encodeBulkExecute: header, flag 128 with types, rows unchanged', () => {
  const out = encodeBulkExecute(0x01020304, BulkFlag.SEND_UNIT_RESULTS, TYPES, ROWS);
  assert.equal(out.toString('hex'), `fa04030201c000${TYPES.toString('hex')}${ROWS.toString('hex')}`);
  // Without types the flag is cleared, whatever the client said.
  assert.equal(encodeBulkExecute(5, 128, undefined, ROWS).toString('hex'), `fa050000000000${ROWS.toString('hex')}`);
});

test('plan: the backend gets its own statement id; types and rows as the client sent them', () => {
  const statements = session();
  const cmd = decodeCommand(clientBulk(1, 128, TYPES), 0);
  assert.ok(cmd.type === 'stmt-bulk-execute');
  const plan = planBulkExecute(statements, cmd, BULK | MariaDbCapability.EXTENDED_METADATA);
  const forBackend = plan.forBackend(42);
  assert.deepEqual(forBackend, clientBulk(42, 128, TYPES));
  assert.deepEqual(statements.get(1)!.types, TYPES); // kept for later executions without types
  assert.equal(plan.classification.kind, 'write');
  // LAST_PREPARED (pipelined prepare + bulk) names the statement prepared last.
  const last = decodeCommand(clientBulk(0xffffffff, 128, TYPES), 0);
  assert.ok(last.type === 'stmt-bulk-execute');
  assert.equal(planBulkExecute(statements, last, BULK).stmt.id, 1);
});

test('plan: a bulk without types re-sends the types bound last (the backend statement may be shared)', () => {
  const statements = session();
  statements.get(1)!.types = TYPES; // from an earlier COM_STMT_EXECUTE or bulk
  const cmd = decodeCommand(clientBulk(1, 0, undefined), 0);
  assert.ok(cmd.type === 'stmt-bulk-execute');
  assert.deepEqual(planBulkExecute(statements, cmd, BULK).forBackend(9), clientBulk(9, 128, TYPES));
});

test('plan: the errors the server would give', () => {
  const errno = (f: () => unknown): number => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof SqlError);
      return err.errno;
    }
    return 0;
  };
  const statements = session();
  const cmd = decodeCommand(clientBulk(1, 0, undefined), 0);
  assert.ok(cmd.type === 'stmt-bulk-execute');
  assert.equal(errno(() => planBulkExecute(statements, cmd, 0)), 1047); // not negotiated: unknown command
  assert.equal(errno(() => planBulkExecute(statements, cmd, BULK)), 1210); // no types ever bound
  const other = decodeCommand(clientBulk(99, 128, TYPES), 0);
  assert.ok(other.type === 'stmt-bulk-execute');
  assert.equal(errno(() => planBulkExecute(statements, other, BULK)), 1243); // unknown statement
});

test('plan: bulk is a write even for a statement that reads (never a readHost)', () => {
  const statements = session('SELECT * FROM t WHERE a = ? AND b = ?');
  const cmd = decodeCommand(clientBulk(1, 128, TYPES), 0);
  assert.ok(cmd.type === 'stmt-bulk-execute');
  assert.equal(planBulkExecute(statements, cmd, BULK).classification.kind, 'write');
  assert.equal(statements.get(1)!.classification.kind, 'read'); // the statement itself is unchanged
});

test('the response scanner takes what the server may answer a bulk: OK, ERR, result sets (RETURNING, unit results)', () => {
  const caps = (Capability.PROTOCOL_41 | Capability.DEPRECATE_EOF) >>> 0;
  const ok = encodePacket(encodeOk({ affectedRows: 1000, lastInsertId: 1, statusFlags: ServerStatus.AUTOCOMMIT }, caps), 1);
  const s = new ResponseScanner('query', caps, 1);
  assert.equal(s.push(ok), ok.length);
  assert.ok(s.done);
  assert.equal(s.summary.affectedRows, 1000);
  assert.equal(s.summary.lastInsertId, 1);
  // A result set: count 2, two column definitions (opaque to the scanner), 2 binary rows, OK-as-EOF.
  const def = Buffer.from('03646566000000016100000c3f000b000000030000000000', 'hex');
  const rs = Buffer.concat([
    encodePacket(Buffer.from([2]), 1),
    encodePacket(def, 2),
    encodePacket(def, 3),
    encodePacket(Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), 4),
    encodePacket(Buffer.from([0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]), 5),
    encodePacket(encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, caps, 0xfe), 6),
  ]);
  s.reset('query', caps, 1);
  assert.equal(s.push(rs), rs.length);
  assert.ok(s.done);
  assert.equal(s.summary.rows, 2);
  const err = encodePacket(Buffer.concat([Buffer.from([0xff, 0x26, 0x04, 0x23]), Buffer.from("23000Duplicate entry '1' for key 'PRIMARY'")]), 1);
  s.reset('query', caps, 1);
  s.push(err);
  assert.ok(s.done);
  assert.equal(s.summary.error?.errno, 1062);
});
