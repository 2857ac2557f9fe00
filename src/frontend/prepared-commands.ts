/**
 * The COM_STMT_* commands of one session: prepare, execute, fetch from a cursor, send long
 * data, reset and close. The statements themselves (the proxy's ids, SQL, bound types, long
 * data) are kept by prepared-statements.ts; running them goes through the statement runner.
 */
import { ServerStatus } from '../protocol/constants.js';
import { encodeStmtFetch, encodeStmtReset, encodeStmtSendLongData } from '../protocol/commands.js';
import { decodeExecuteBody, withStatementId } from '../protocol/statements.js';
import { encodePacket } from '../protocol/framer.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { classify } from '../routing/classify.js';
import { toWriter } from '../routing/router.js';
import type { ClientCommand } from '../protocol/commands.js';
import { planBulkExecute } from './bulk-execute.js';
import { rewriteConnectionId, rewritesConnectionId } from '../routing/connection-id.js';
import { BackendGoneError, type BackendConnection } from '../backend/backend-connection.js';
import type { ResponseSummary } from '../backend/response-scanner.js';
import type { HeldConnection } from './session-connections.js';
import { executeOnBackend } from './prepared-statements.js';
import type { SessionScope } from './session-scope.js';
import type { StatementRunner } from './statement-runner.js';

/** COM_STMT_EXECUTE flag: open a read-only cursor (COM_STMT_FETCH). */
const CURSOR_TYPE_READ_ONLY = 1;

/** ER_STMT_HAS_NO_OPEN_CURSOR: COM_STMT_FETCH on a statement without an open cursor. */
const ER_STMT_HAS_NO_OPEN_CURSOR = 1421;

export class PreparedCommands {
  /** Open server-side cursors: client statement id → the connection holding it, its id there. */
  private readonly cursors = new Map<number, { readonly held: HeldConnection; readonly backendId: number }>();

  constructor(
    private readonly scope: SessionScope,
    private readonly runner: StatementRunner,
  ) {}

  /**
   * COM_STMT_PREPARE: prepared on the backend the statement would run on (so a bad statement is
   * reported at prepare time, as by the server); the client gets the proxy's statement id.
   */
  async prepare(clientSql: string): Promise<void> {
    const scope = this.scope;
    const c = classify(clientSql);
    // The statement's text as the backends get it: CONNECTION_ID() is this session's id.
    const sql = rewritesConnectionId(c) ? rewriteConnectionId(clientSql, scope.id) : clientSql;
    let decision = await this.runner.decide(c);
    if (decision.target === 'error') throw new SqlError(decision.message, decision.errno, decision.sqlState);
    this.runner.checkAnchorAlive();
    // A replica must have the session's writes before it prepares (a table it just created).
    let need = decision.target === 'reader' ? scope.requiredPosition() : undefined;
    for (;;) {
      const done = await this.runner.withBackend(
        decision,
        c.digest,
        async (held) => {
          if (need !== undefined && !(await this.runner.causal.caughtUp(held.conn, need))) {
            scope.backends.finishStatement(held, scope.inScope());
            return false;
          }
          await this.runner.sync(held.conn, { userVars: false, lastInsertId: false });
          // Never from the cache: the metadata must be the server's as of now.
          const prepared = await held.conn.prepareFresh(scope.s.schema, sql);
          const stmt = scope.statements.add(sql, c, prepared.numParams, prepared.numColumns, prepared.serial);
          const [ok, ...definitions] = prepared.response;
          scope.ch.sendAll([withStatementId(ok!, stmt.id), ...definitions], 1);
          scope.backends.finishStatement(held, scope.inScope());
          return true;
        },
        (_err, _held, attempt) => attempt === 0 && !scope.inScope(),
      );
      if (done) return;
      scope.ctx.stats.consistency.fallback++;
      decision = toWriter(c, scope.ctx.cluster(), 'consistency');
      if (decision.target === 'error') throw new SqlError(decision.message, decision.errno, decision.sqlState);
      need = undefined;
    }
  }

  /**
   * COM_STMT_EXECUTE: routed like the statement's text would be (reads to readHosts, writes and
   * anything in a transaction to the writeHost), prepared on that connection if it is not yet,
   * long data replayed there, then the result relayed as raw bytes.
   */
  async execute(id: number, flags: number, iterationCount: number, rawBody: Buffer): Promise<void> {
    const scope = this.scope;
    const stmt = scope.statements.get(id);
    if (!stmt) throw sqlError('ER_UNKNOWN_STMT_HANDLER', id, 'mysqld_stmt_execute');
    // Executing again closes the statement's cursor, as on the server (it may run elsewhere now).
    await this.closeCursor(id);
    // A transaction's execution may be sent again on another server (transaction replay): its
    // parameters must outlive the client's packet.
    const body = decodeExecuteBody(scope.inScope() && this.runner.journal.enabled ? Buffer.from(rawBody) : rawBody, stmt.numParams);
    if (body.types) stmt.types = body.types;
    if (stmt.numParams > 0 && !stmt.types) throw sqlError('ER_WRONG_ARGUMENTS', 'mysqld_stmt_execute');
    const c = stmt.classification;
    if (scope.inScope()) {
      // What a replay could not send again: the long data is not kept, a cursor's rows are fetched later.
      if (stmt.longData.size > 0) this.runner.journal.refuse('a prepared statement with long data (COM_STMT_SEND_LONG_DATA)');
      if (flags & CURSOR_TYPE_READ_ONLY) this.runner.journal.refuse('a cursor (COM_STMT_FETCH)');
    }
    const decision = await this.runner.decide(c);
    scope.currentSql = stmt.sql;
    let backendId = 0;
    // A cursor lives on the connection that opened it: the session keeps that connection until
    // the cursor is exhausted, reset or closed (COM_STMT_FETCH goes there).
    const keepCursor =
      flags & CURSOR_TYPE_READ_ONLY
        ? (held: HeldConnection, summary: ResponseSummary): void => {
            if (summary.error !== undefined || !(summary.statusFlags & ServerStatus.CURSOR_EXISTS)) return;
            this.cursors.set(id, { held, backendId });
            scope.backends.holdForCursor(held);
          }
        : undefined;
    try {
      const told = { numColumns: stmt.numColumns, serial: stmt.backendSerial };
      const build = async (conn: BackendConnection): Promise<Buffer> => {
        const prepared = await conn.prepared(scope.s.schema, stmt.sql, told);
        backendId = prepared.id;
        for (const [param, chunks] of stmt.longData) {
          for (const chunk of chunks) conn.send(encodeStmtSendLongData(prepared.id, param, chunk));
        }
        return executeOnBackend(stmt, prepared.id, flags, iterationCount, body);
      };
      const ready = (conn: BackendConnection): boolean => conn.cachedPrepared(scope.s.schema, stmt.sql, told) !== undefined;
      await this.runner.run(decision, c, 'query', Object.assign(build, { ready, bytes: rawBody.length }), keepCursor);
    } finally {
      scope.currentSql = undefined;
      stmt.longData.clear();
      stmt.longDataBytes = 0;
    }
  }

  /** MariaDB COM_STMT_BULK_EXECUTE: runs like an execution of the statement, as a write (bulk-execute.ts). */
  async bulkExecute(cmd: Extract<ClientCommand, { type: 'stmt-bulk-execute' }>): Promise<void> {
    const scope = this.scope;
    const bulk = planBulkExecute(scope.statements, cmd, scope.authed.mariadbCapabilities);
    await this.closeCursor(bulk.stmt.id);
    const decision = await this.runner.decide(bulk.classification);
    scope.currentSql = bulk.stmt.sql;
    try {
      await this.runner.run(decision, bulk.classification, 'query', async (conn) =>
        bulk.forBackend((await conn.prepared(scope.s.schema, bulk.stmt.sql)).id),
      );
    } finally {
      scope.currentSql = undefined;
    }
  }

  /**
   * COM_STMT_FETCH: the next rows of the statement's open cursor, from the connection that holds
   * it (rows relayed as the server sends them). An exhausted cursor is closed by the server.
   */
  async fetch(id: number, numRows: number): Promise<void> {
    const scope = this.scope;
    if (!scope.statements.get(id)) throw sqlError('ER_UNKNOWN_STMT_HANDLER', id, 'mysqld_stmt_fetch');
    const cursor = this.cursors.get(id);
    if (!cursor) throw new SqlError(`The statement (${id}) has no open cursor.`, ER_STMT_HAS_NO_OPEN_CURSOR, 'HY000');
    const { held } = cursor;
    if (!held.conn.alive) {
      this.dropCursor(id);
      throw sqlError('CR_SERVER_LOST', held.conn.hostId);
    }
    scope.active = held.conn;
    try {
      const summary = await held.conn.relay(encodePacket(encodeStmtFetch(cursor.backendId, numRows), 0), 'rows', scope.ch.output, 1, scope.okView());
      if (summary.error !== undefined || !(summary.statusFlags & ServerStatus.CURSOR_EXISTS)) this.dropCursor(id);
    } catch (err) {
      this.dropCursor(id);
      scope.backends.forget(held);
      held.pools.discard(held.conn);
      if (err instanceof BackendGoneError && err.bytesForwarded > 0) {
        scope.closeForInterruptedResult(err, held.conn.hostId);
        return;
      }
      throw err instanceof BackendGoneError ? sqlError('CR_SERVER_LOST', held.conn.hostId) : err;
    } finally {
      scope.active = undefined;
    }
  }

  /** COM_STMT_RESET: long data dropped, cursor closed. */
  async reset(id: number): Promise<void> {
    const stmt = this.scope.statements.get(id);
    if (!stmt) throw sqlError('ER_UNKNOWN_STMT_HANDLER', id, 'mysqld_stmt_reset');
    stmt.longData.clear();
    stmt.longDataBytes = 0;
    await this.closeCursor(id);
    this.scope.ch.send(this.scope.okPayload(), 1);
  }

  /** COM_STMT_CLOSE (no response). */
  async close(id: number): Promise<void> {
    await this.closeCursor(id);
    this.scope.statements.close(id);
  }

  /**
   * COM_RESET_CONNECTION / COM_CHANGE_USER: every statement goes, as on the server; the cursors'
   * connections are reset by the caller when they go back.
   */
  clear(): void {
    this.cursors.clear();
    this.scope.statements.clear();
  }

  /** COM_STMT_SEND_LONG_DATA: kept until the execution picks its backend (no response). */
  longData(id: number, param: number, data: Buffer): void {
    const scope = this.scope;
    const stmt = scope.statements.get(id);
    if (!stmt) return; // the server, too, can only complain at execute time
    // The chunk may be a view of the socket's read buffer: keep a copy.
    const chunks = stmt.longData.get(param) ?? [];
    chunks.push(Buffer.from(data));
    stmt.longData.set(param, chunks);
    stmt.longDataBytes += data.length;
    if (stmt.longDataBytes > scope.ctx.config().session.maxPacketSize) {
      // Bounded like max_allowed_packet on the server; the execution then fails cleanly.
      scope.log.warn({ statement: id, bytes: stmt.longDataBytes }, 'long data over maxPacketSize; dropping it');
      stmt.longData.clear();
      stmt.longDataBytes = 0;
    }
  }

  /** Forgets a cursor the server already closed (exhausted, failed, connection gone). */
  private dropCursor(id: number): void {
    const cursor = this.cursors.get(id);
    if (!cursor) return;
    this.cursors.delete(id);
    this.scope.backends.releaseCursorHold(cursor.held);
  }

  /** Closes a statement's open cursor on its backend (COM_STMT_RESET there), if it has one. */
  private async closeCursor(id: number): Promise<void> {
    const cursor = this.cursors.get(id);
    if (!cursor) return;
    this.dropCursor(id);
    const { held } = cursor;
    if (!held.conn.alive) return;
    try {
      await held.conn.command(encodeStmtReset(cursor.backendId), 'ok');
    } catch (err) {
      this.scope.log.info({ backend: held.conn.hostId, err: (err as Error).message }, 'closing a cursor failed; discarding the connection');
      this.scope.backends.forget(held);
      held.pools.discard(held.conn);
    }
  }
}
