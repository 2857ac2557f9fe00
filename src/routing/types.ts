/**
 * What the classifier learns about one statement, and what the router decides from it.
 * Both are plain values: the frontend consumes them, nothing here touches sockets or clocks.
 */
import type { HostView } from '../cluster/view.js';

export type StatementKind =
  | 'read' // SELECT / SHOW / DESC / EXPLAIN / WITH … SELECT / (SELECT …) / VALUES / TABLE / DO? (no, DO is 'other')
  | 'write' // INSERT / UPDATE / DELETE / REPLACE / … DML
  | 'ddl' // CREATE / ALTER / DROP / TRUNCATE / RENAME / GRANT … (implicit commit)
  | 'begin' // BEGIN / START TRANSACTION (readOnlyTransaction tells READ ONLY)
  | 'commit' // COMMIT (also COMMIT AND CHAIN, which immediately opens a new transaction: see `chain`)
  | 'rollback' // ROLLBACK (whole transaction; ROLLBACK TO SAVEPOINT is 'savepoint'; AND CHAIN: see `chain`)
  | 'savepoint' // SAVEPOINT / ROLLBACK TO / RELEASE SAVEPOINT
  | 'set' // SET … (see `assignments`)
  | 'use' // USE db (see `schema`)
  | 'lock-tables' // LOCK TABLE(S) …
  | 'unlock-tables' // UNLOCK TABLE(S)
  | 'other'; // CALL, LOAD DATA, HANDLER, XA, FLUSH, KILL, PREPARE, EXECUTE, anything unknown → writeHost

export type RouteHint = 'master' | 'slave';

/** One assignment of a SET statement. */
export type SetAssignment =
  /** SET [SESSION|LOCAL|@@session.|@@] name = value — a session system variable. */
  | { readonly type: 'session'; readonly name: string; readonly valueSql: string }
  /** SET GLOBAL / PERSIST … — runs on the writeHost, never replayed. */
  | { readonly type: 'global'; readonly name: string; readonly valueSql: string }
  /** SET @name = value; `literal` when valueSql is a constant (number, string, NULL, TRUE/FALSE). */
  | { readonly type: 'user'; readonly name: string; readonly valueSql: string; readonly literal: boolean }
  /** SET NAMES charset [COLLATE collation] | SET NAMES DEFAULT */
  | { readonly type: 'names'; readonly charset: string; readonly collation: string | undefined }
  /** SET CHARACTER SET charset | SET CHARSET charset */
  | { readonly type: 'character-set'; readonly charset: string }
  /** SET [SESSION] TRANSACTION … (session scope) */
  | { readonly type: 'transaction'; readonly scope: 'next' | 'session' | 'global'; readonly sql: string };

export interface Classification {
  readonly kind: StatementKind;
  /** Upper-case first keyword (`SELECT`, `INSERT`, …) for statistics. */
  readonly verb: string;
  /** The statement with literals replaced by `?`, comments and hints dropped, whitespace folded. */
  readonly digest: string;
  /** Hint found in a comment (Atlas `/*master*​/`, Mycat `/*!mycat:db_type=master*​/`). */
  readonly hint: RouteHint | undefined;
  /**
   * The text to send to the backend when it differs from what the client sent (Mycat hints are
   * stripped); undefined means forward the client's bytes unchanged.
   */
  readonly forwardSql: string | undefined;
  /**
   * With `forwardSql`: the stripped Mycat hint comments' [start, end) offsets in the statement
   * text, flattened pairs — so the client's own bytes can be cut instead of re-encoding the text
   * (`stripMycatBytes`).
   */
  readonly strippedRanges?: readonly number[] | undefined;
  /** START TRANSACTION READ ONLY. */
  readonly readOnlyTransaction: boolean;
  /**
   * COMMIT AND CHAIN / ROLLBACK AND CHAIN: the transaction ends and a new one (same access mode)
   * opens at once. The kind stays 'commit' / 'rollback'; the server status flags tell the truth.
   * Always set by classify(); optional only so hand-built Classifications stay valid.
   */
  readonly chain?: boolean;
  /**
   * A read that must still run on the writeHost: locking reads (FOR UPDATE / FOR SHARE /
   * LOCK IN SHARE MODE), INTO OUTFILE / DUMPFILE / @var, side-effect functions (GET_LOCK & co,
   * SLEEP is fine), LAST_INSERT_ID(), @@identity, sequences (NEXTVAL, NEXT VALUE FOR, SETVAL,
   * LASTVAL), SQL_CALC_FOUND_ROWS.
   */
  readonly needsWriter: boolean;
  /**
   * Reads state left by the session's previous statement on its connection: SHOW WARNINGS /
   * SHOW ERRORS / SHOW COUNT(*) …, @@warning_count, @@error_count, FOUND_ROWS(), ROW_COUNT(),
   * GET DIAGNOSTICS.
   */
  readonly needsLastConnection: boolean;
  /** References LAST_INSERT_ID() / @@identity / @@last_insert_id. */
  readonly readsLastInsertId: boolean;
  /** References a user variable (`@name`, not `@@name`). */
  readonly readsUserVariables: boolean;
  /** Assigns a user variable other than by `SET @x = <literal>` (`:=`, `INTO @x`, `SET @x = expr`). */
  readonly assignsUserVariables: boolean;
  /** GET_LOCK() appears. */
  readonly acquiresNamedLock: boolean;
  /** RELEASE_LOCK() / RELEASE_ALL_LOCKS() appear. */
  readonly releasesNamedLock: boolean;
  /** CREATE TEMPORARY TABLE. */
  readonly createsTemporaryTable: boolean;
  /** DROP TEMPORARY TABLE. */
  readonly dropsTemporaryTable: boolean;
  /** More than one statement in the text (a `;` followed by more than whitespace/comments). */
  readonly multiStatement: boolean;
  /**
   * The text has `?` placeholders (a prepared statement's): what they stand for is only known at
   * each execution. Optional only so hand-built Classifications stay valid.
   */
  readonly placeholders?: boolean;
  /**
   * Calls CONNECTION_ID(): the backend would answer with its own thread id, not the id the client
   * got in the handshake (see connection-id.ts). Optional like `placeholders`.
   */
  readonly mentionsConnectionId?: boolean;
  /** SET statements: the assignments, in order. Empty for other kinds. */
  readonly assignments: readonly SetAssignment[];
  /** USE statements: the schema (unquoted). */
  readonly schema: string | undefined;
  /** Where the verdict came from: the lexer alone, or the node-sql-parser fallback. */
  readonly source: 'lexer' | 'parser';
  /**
   * Multi-statement text: one classification per statement, in order (their `digest` is that
   * statement's part of the digest, `forwardSql` is undefined, `statements` is empty). For a
   * multi-statement the top-level kind/verb/assignments/schema/readOnlyTransaction/chain describe
   * the FIRST statement, while the boolean flags are OR'd over all of them. Empty for a single
   * statement. Always set by classify(); optional only so hand-built Classifications stay valid.
   */
  readonly statements?: readonly Classification[];
}

/** What the router needs to know about the session (a projection of the session state). */
export interface SessionRouteState {
  /** A transaction is open (BEGIN seen, or autocommit=0, or the server said IN_TRANS). */
  readonly inTransaction: boolean;
  /** The open transaction is READ ONLY and may run on a readHost. */
  readonly readOnlyTransaction: boolean;
  /**
   * The session is tied to its writeHost connection (temporary tables, named locks, LOCK TABLES,
   * user variables that cannot be replayed, …); everything goes to the writer until it unpins.
   */
  readonly pinnedToWriter: boolean;
  /** The session holds the connection its previous statement ran on (for needsLastConnection). */
  readonly holdsLastConnection: boolean;
  /**
   * The session wrote within its read-your-writes window (session.readYourWritesMs): its plain
   * reads go to the writer, so it never reads a replica that has not applied its write yet.
   */
  readonly readYourWrites: boolean;
  /**
   * Host of the connection holding the session's open transaction or pinned state (its anchor),
   * when there is one.
   */
  readonly anchorHostId?: string | undefined;
}

export type RouteReason =
  | 'hint'
  | 'write'
  | 'in-transaction'
  | 'pinned'
  | 'needs-writer'
  | 'last-connection'
  | 'read'
  | 'read-only-transaction'
  | 'read-your-writes'
  | 'no-split' // balance 0
  | 'no-readable-host' // fell back to the writer
  | 'multi-statement'
  | 'draining' // the active writeHost is offline (SET OFFLINE): started work finishes there
  | 'consistency' // no readHost applied the session's writes within consistencyTimeoutMs
  | 'authority' // the proxy's own check, on the writeHost first (a login's schema)
  | 'unknown';

export type RouteDecision =
  /** Run on the active writeHost. */
  | { readonly target: 'writer'; readonly reason: RouteReason }
  /** Run on one of these hosts; the backend's selector picks by weight / connections / digest. */
  | { readonly target: 'reader'; readonly candidates: readonly HostView[]; readonly reason: RouteReason }
  /** Run on the connection that served the previous statement. */
  | { readonly target: 'last'; readonly reason: RouteReason }
  /**
   * Run on the first of these hosts that can serve, in this order, with no selector involved:
   * the proxy's own checks (the schema of a login), which must not move the read rotation.
   */
  | { readonly target: 'in-order'; readonly hosts: readonly HostView[]; readonly reason: RouteReason }
  /** Run on the connection holding the session's transaction / pinned state. */
  | { readonly target: 'anchor'; readonly reason: RouteReason }
  /** Refuse with a MySQL error (e.g. no writeHost is available). */
  | { readonly target: 'error'; readonly errno: number; readonly sqlState: string; readonly message: string };
