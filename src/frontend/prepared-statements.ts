/**
 * A session's server-side prepared statements, as the client sees them.
 *
 * The proxy hands out its own statement ids. A statement is prepared lazily on whichever backend
 * connection an execution is routed to (backend/backend-connection `prepared()`), so a read-only
 * statement is spread over the readHosts like a text query. What the proxy must remember to do
 * that — the SQL, the parameter types the client last bound (re-executions may omit them,
 * DESIGN §7) and long data sent ahead of an execution — lives here.
 */
import { encodeStmtExecute } from '../protocol/commands.js';
import { encodeExecuteBody, type ExecuteBody } from '../protocol/statements.js';
import type { Classification } from '../routing/types.js';

/** MariaDB/MySQL: "the statement prepared last" in COM_STMT_EXECUTE (pipelined prepare+execute). */
const LAST_PREPARED = 0xffffffff;

export interface ClientStatement {
  /** The id the client uses (the proxy's, never a backend's). */
  readonly id: number;
  readonly sql: string;
  readonly classification: Classification;
  readonly numParams: number;
  readonly numColumns: number;
  /** Serial of the backend prepare whose metadata the client got (see BackendConnection.prepared). */
  readonly backendSerial: number;
  /** Parameter types (2 bytes each) the client bound last; re-sent on every execution. */
  types: Buffer | undefined;
  /** COM_STMT_SEND_LONG_DATA chunks per parameter, replayed to the backend before the execution. */
  readonly longData: Map<number, Buffer[]>;
  longDataBytes: number;
}

export class SessionStatements {
  private readonly byId = new Map<number, ClientStatement>();
  private nextId = 1;
  private lastId = 0;

  add(sql: string, classification: Classification, numParams: number, numColumns: number, backendSerial: number): ClientStatement {
    const id = this.nextId++;
    if (this.nextId > 0xfffffffe) this.nextId = 1; // LAST_PREPARED is reserved
    const stmt: ClientStatement = {
      id,
      sql,
      classification,
      numParams,
      numColumns,
      backendSerial,
      types: undefined,
      longData: new Map(),
      longDataBytes: 0,
    };
    this.byId.set(id, stmt);
    this.lastId = id;
    return stmt;
  }

  get(id: number): ClientStatement | undefined {
    return this.byId.get(id === LAST_PREPARED ? this.lastId : id);
  }

  close(id: number): void {
    this.byId.delete(id);
  }

  /** COM_RESET_CONNECTION / COM_CHANGE_USER deallocate every statement, as the server does. */
  clear(): void {
    this.byId.clear();
    this.lastId = 0;
  }

  get size(): number {
    return this.byId.size;
  }
}

/**
 * COM_STMT_EXECUTE for a backend statement. Parameter types are always bound: a backend statement
 * may be shared by sessions (or was never executed by this one), so "types as last time" must
 * not be left to the server.
 */
export function executeOnBackend(
  stmt: ClientStatement,
  backendId: number,
  flags: number,
  iterationCount: number,
  body: ExecuteBody,
): Buffer {
  const params = stmt.numParams === 0 ? body.values : encodeExecuteBody({ ...body, types: stmt.types });
  return encodeStmtExecute(backendId, flags, iterationCount, params);
}
