/**
 * MariaDB COM_STMT_BULK_EXECUTE (0xFA): one command carries many parameter rows for a prepared
 * statement (the mariadb driver's `batch()`, Connector/J `executeBatch`). Without it those
 * drivers fall back to one execution per row, which through a proxy costs a round trip each.
 *
 * The session runs it like an execution of the statement (same lazy prepare per backend
 * connection), with two differences:
 * - it is always a write: it goes to the writeHost, or the connection of the session's
 *   transaction, even for a statement that reads (the server refuses bulk SELECTs itself);
 * - the parameter types are always sent to the backend. The backend statement is shared by the
 *   sessions that use that connection, and may never have been executed by this one, so "types
 *   as bound last time" (SEND_TYPES_TO_SERVER clear) must not be left to the server: the proxy
 *   keeps the types the client bound last (by COM_STMT_EXECUTE or a bulk) and re-sends them.
 *
 * Only the 7-byte header is rewritten (the backend's statement id, the flags, the types); the
 * rows are copied as they came. The response (OK, ERR, or result sets for `RETURNING` or
 * SEND_UNIT_RESULTS) is relayed with the COM_QUERY response grammar.
 * https://mariadb.com/kb/en/com_stmt_bulk_execute/
 */
import { MariaDbCapability } from '../protocol/constants.js';
import { sqlError } from '../protocol/error-codes.js';
import { decodeBulkExecuteBody, encodeBulkExecute } from '../protocol/statements.js';
import type { Classification } from '../routing/types.js';
import type { ClientStatement, SessionStatements } from './prepared-statements.js';

export interface BulkExecuteCommand {
  readonly statementId: number;
  readonly flags: number;
  /** After the flags: types (with SEND_TYPES_TO_SERVER), then the rows. */
  readonly body: Buffer;
}

export interface BulkExecution {
  readonly stmt: ClientStatement;
  /** How to route it and record it: the statement's, as a write. */
  readonly classification: Classification;
  /** The command for the statement prepared as `backendId` on the chosen backend connection. */
  forBackend(backendId: number): Buffer;
}

/**
 * Checks a client's COM_STMT_BULK_EXECUTE against its session and returns what to run. Throws
 * the SqlError the server would answer: unknown command when the client did not negotiate
 * MARIADB_CLIENT_STMT_BULK_OPERATIONS, unknown statement, no parameter types ever bound.
 * Records the types the client sent, as the server does for later executions.
 */
export function planBulkExecute(
  statements: SessionStatements,
  cmd: BulkExecuteCommand,
  clientMariadbCapabilities: number,
): BulkExecution {
  if ((clientMariadbCapabilities & MariaDbCapability.STMT_BULK_OPERATIONS) === 0) throw sqlError('ER_UNKNOWN_COM_ERROR');
  const stmt = statements.get(cmd.statementId);
  if (!stmt) throw sqlError('ER_UNKNOWN_STMT_HANDLER', cmd.statementId, 'mysqld_stmt_bulk_execute');
  const { types, rows } = decodeBulkExecuteBody(cmd.body, cmd.flags, stmt.numParams);
  if (types) stmt.types = types;
  if (stmt.numParams > 0 && !stmt.types) throw sqlError('ER_WRONG_ARGUMENTS', 'mysqld_stmt_bulk_execute');
  const bound = stmt.numParams > 0 ? stmt.types : undefined;
  return {
    stmt,
    classification: asWrite(stmt.classification),
    forBackend: (backendId) => encodeBulkExecute(backendId, cmd.flags, bound, rows),
  };
}

/** Bulk statements change data: never to a readHost, even when the text looks like a read. */
function asWrite(c: Classification): Classification {
  if (c.kind !== 'read' && c.hint !== 'slave') return c;
  return Object.freeze({ ...c, kind: 'write', hint: undefined });
}
