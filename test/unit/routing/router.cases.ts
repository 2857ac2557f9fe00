/**
 * Route cases: balance 0–3 × host states × session states × hints.
 * `expect.candidates` lists host ids in the order the router returns them.
 */
import type { ClusterView, HostView } from '../../../src/cluster/view.js';
import type { RouteReason, SessionRouteState } from '../../../src/routing/types.js';

export interface HostSpec {
  readonly id: string;
  readonly role: 'write' | 'read';
  readonly index: number;
  readonly weight?: number;
  readonly status?: HostView['status'];
  readonly readable?: boolean;
  readonly readOnly?: boolean;
}

export function makeHost(s: HostSpec): HostView {
  const [host, port] = s.id.split(':');
  return {
    id: s.id,
    host: host ?? s.id,
    port: Number(port ?? 3306),
    role: s.role,
    index: s.index,
    weight: s.weight ?? 1,
    status: s.status ?? 'up',
    readOnly: s.readOnly ?? (s.role === 'read' ? true : false),
    readable: s.readable ?? (s.status === undefined || s.status === 'up' || s.status === 'unknown'),
  };
}

/** A view; the writer is the write host at writerIndex unless it is down/offline. */
export function makeView(balance: 0 | 1 | 2 | 3, specs: readonly HostSpec[], writerIndex = 0): ClusterView {
  const hosts = specs.map(makeHost);
  const writer = hosts.find(
    (h) => h.role === 'write' && h.index === writerIndex && h.status !== 'down' && h.status !== 'offline',
  );
  return { dataHost: 'dh1', balance, writerIndex, writer, hosts, version: 1 };
}

const W1: HostSpec = { id: 'w1:3306', role: 'write', index: 0 };
const W2: HostSpec = { id: 'w2:3306', role: 'write', index: 1 };
const R1: HostSpec = { id: 'r1:3306', role: 'read', index: 0 };
const R2: HostSpec = { id: 'r2:3306', role: 'read', index: 1 };

/** Named host states (each a full host list). */
export const TOPOLOGIES = {
  allUp: [W1, W2, R1, R2],
  r1Down: [W1, W2, { ...R1, status: 'down' }, R2],
  readsDown: [W1, W2, { ...R1, status: 'down' }, { ...R2, status: 'offline' }],
  readsAndStandbyDown: [W1, { ...W2, status: 'down' }, { ...R1, status: 'down' }, { ...R2, status: 'down' }],
  r2Lagging: [W1, W2, R1, { ...R2, readable: false }],
  r2Weight0: [W1, W2, R1, { ...R2, weight: 0 }],
  r1Unknown: [W1, W2, { ...R1, status: 'unknown' }, R2],
  writerDown: [{ ...W1, status: 'down' }, W2, R1, R2],
  /** The operator set the active writeHost offline (SET OFFLINE: drain). */
  writerOffline: [{ ...W1, status: 'offline' }, W2, R1, R2],
  writerDownReadsDown: [{ ...W1, status: 'down' }, W2, { ...R1, status: 'down' }, { ...R2, status: 'down' }],
  writerReadOnly: [{ ...W1, readOnly: true }, W2, R1, R2],
  writerNotReadable: [{ ...W1, readable: false }, W2, R1, R2],
  noReadHosts: [W1, W2],
  singleWriter: [W1],
} satisfies Record<string, readonly HostSpec[]>;

export type Topology = keyof typeof TOPOLOGIES;

export const SESSIONS = {
  idle: { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: false, readYourWrites: false },
  holdsLast: { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: true, readYourWrites: false },
  inTx: { inTransaction: true, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: true, readYourWrites: false },
  roTx: { inTransaction: true, readOnlyTransaction: true, pinnedToWriter: false, holdsLastConnection: true, readYourWrites: false },
  pinned: { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: true, holdsLastConnection: false, readYourWrites: false },
  pinnedHoldsLast: { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: true, holdsLastConnection: true, readYourWrites: false },
  wroteRecently: { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: true, readYourWrites: true },
  /** In a transaction whose connection is on w1 (the active writeHost of these topologies). */
  inTxOnW1: { inTransaction: true, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: true, readYourWrites: false, anchorHostId: 'w1:3306' },
  pinnedOnW1: { inTransaction: false, readOnlyTransaction: false, pinnedToWriter: true, holdsLastConnection: true, readYourWrites: false, anchorHostId: 'w1:3306' },
  /** A transaction anchored elsewhere (the writer moved meanwhile). */
  inTxOnW2: { inTransaction: true, readOnlyTransaction: false, pinnedToWriter: false, holdsLastConnection: true, readYourWrites: false, anchorHostId: 'w2:3306' },
} satisfies Record<string, SessionRouteState>;

export type SessionName = keyof typeof SESSIONS;

export interface RouteCase {
  readonly sql: string;
  readonly balance: 0 | 1 | 2 | 3;
  readonly hosts: Topology;
  readonly session: SessionName;
  readonly expect:
    | { readonly target: 'writer'; readonly reason: RouteReason }
    | { readonly target: 'last'; readonly reason: RouteReason }
    | { readonly target: 'anchor'; readonly reason: RouteReason }
    | { readonly target: 'reader'; readonly reason: RouteReason; readonly candidates: readonly string[] }
    | { readonly target: 'error'; readonly errno: number };
}

const ALL = ['w1:3306', 'w2:3306', 'r1:3306', 'r2:3306'];
const READS = ['r1:3306', 'r2:3306'];
const B1 = ['r1:3306', 'r2:3306', 'w2:3306'];
const POINT = 'SELECT c FROM sbtest1 WHERE id=1';

export const routeCases: readonly RouteCase[] = [
  // ---------------------------------------------------------------- balance × plain reads
  { sql: POINT, balance: 0, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'no-split' } },
  // ---------------------------------------------------------------- read-your-writes window
  { sql: POINT, balance: 1, hosts: 'allUp', session: 'wroteRecently', expect: { target: 'writer', reason: 'read-your-writes' } },
  { sql: POINT, balance: 3, hosts: 'allUp', session: 'wroteRecently', expect: { target: 'writer', reason: 'read-your-writes' } },
  { sql: '/*slave*/ ' + POINT, balance: 1, hosts: 'allUp', session: 'wroteRecently', expect: { target: 'reader', reason: 'hint', candidates: B1 } },
  { sql: 'SHOW WARNINGS', balance: 1, hosts: 'allUp', session: 'wroteRecently', expect: { target: 'last', reason: 'last-connection' } },
  { sql: POINT, balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: B1 } },
  { sql: POINT, balance: 2, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ALL } },
  { sql: POINT, balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: READS } },
  { sql: POINT, balance: 1, hosts: 'r1Down', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['r2:3306', 'w2:3306'] } },
  { sql: POINT, balance: 2, hosts: 'r1Down', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w1:3306', 'w2:3306', 'r2:3306'] } },
  { sql: POINT, balance: 3, hosts: 'r1Down', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['r2:3306'] } },
  { sql: POINT, balance: 1, hosts: 'readsDown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w2:3306'] } },
  { sql: POINT, balance: 2, hosts: 'readsDown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w1:3306', 'w2:3306'] } },
  { sql: POINT, balance: 3, hosts: 'readsDown', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: POINT, balance: 1, hosts: 'readsAndStandbyDown', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: POINT, balance: 2, hosts: 'readsAndStandbyDown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w1:3306'] } },
  { sql: POINT, balance: 3, hosts: 'r2Lagging', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['r1:3306'] } },
  { sql: POINT, balance: 1, hosts: 'r2Weight0', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['r1:3306', 'w2:3306'] } },
  { sql: POINT, balance: 3, hosts: 'r1Unknown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: READS } },
  { sql: POINT, balance: 1, hosts: 'noReadHosts', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w2:3306'] } },
  { sql: POINT, balance: 3, hosts: 'noReadHosts', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: POINT, balance: 1, hosts: 'singleWriter', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: POINT, balance: 2, hosts: 'singleWriter', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w1:3306'] } },
  { sql: POINT, balance: 2, hosts: 'writerNotReadable', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w2:3306', 'r1:3306', 'r2:3306'] } },
  { sql: 'SHOW TABLES', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: READS } },
  { sql: 'WITH a AS (SELECT 1) SELECT * FROM a', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: READS } },

  // ---------------------------------------------------------------- writer down: reads survive, writes fail
  { sql: POINT, balance: 1, hosts: 'writerDown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: B1 } },
  { sql: POINT, balance: 3, hosts: 'writerDown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: READS } },
  { sql: POINT, balance: 2, hosts: 'writerDown', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: ['w2:3306', 'r1:3306', 'r2:3306'] } },
  { sql: POINT, balance: 0, hosts: 'writerDown', session: 'idle', expect: { target: 'error', errno: 2003 } },
  { sql: POINT, balance: 3, hosts: 'writerDownReadsDown', session: 'idle', expect: { target: 'error', errno: 2003 } },
  { sql: 'UPDATE t SET a = 1', balance: 1, hosts: 'writerDown', session: 'idle', expect: { target: 'error', errno: 2003 } },
  { sql: 'BEGIN', balance: 1, hosts: 'writerDown', session: 'idle', expect: { target: 'error', errno: 2003 } },
  { sql: POINT, balance: 1, hosts: 'writerDown', session: 'inTx', expect: { target: 'error', errno: 2003 } },
  { sql: '/*master*/ SELECT 1', balance: 1, hosts: 'writerDown', session: 'idle', expect: { target: 'error', errno: 2003 } },

  // ---------------------------------------------------------------- writes and other kinds
  { sql: 'UPDATE t SET a = 1', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'INSERT INTO t VALUES (1)', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'CREATE TABLE t (a INT)', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'LOCK TABLES t WRITE', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'SET autocommit=0', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'USE db', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'BEGIN', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'COMMIT', balance: 1, hosts: 'allUp', session: 'inTx', expect: { target: 'writer', reason: 'in-transaction' } },
  { sql: 'CALL p()', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'unknown' } },
  { sql: "LOAD DATA INFILE 'x' INTO TABLE t", balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'unknown' } },
  { sql: 'garbage', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'unknown' } },
  { sql: '(DELETE FROM t)', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'unknown' } },

  // ---------------------------------------------------------------- reads that need the writer
  { sql: 'SELECT * FROM t FOR UPDATE', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'needs-writer' } },
  { sql: "SELECT GET_LOCK('a', 1)", balance: 2, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'needs-writer' } },
  { sql: 'SELECT LAST_INSERT_ID()', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'needs-writer' } },
  { sql: 'SELECT a INTO @x FROM t', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'needs-writer' } },
  { sql: 'SELECT NEXT VALUE FOR s', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'needs-writer' } },

  // ---------------------------------------------------------------- last connection
  { sql: 'SHOW WARNINGS', balance: 3, hosts: 'allUp', session: 'holdsLast', expect: { target: 'last', reason: 'last-connection' } },
  { sql: 'SHOW WARNINGS', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'last-connection' } },
  { sql: 'SELECT FOUND_ROWS()', balance: 1, hosts: 'allUp', session: 'holdsLast', expect: { target: 'last', reason: 'last-connection' } },
  { sql: 'SELECT @@warning_count', balance: 1, hosts: 'allUp', session: 'pinnedHoldsLast', expect: { target: 'last', reason: 'last-connection' } },
  { sql: 'SELECT ROW_COUNT()', balance: 1, hosts: 'allUp', session: 'inTx', expect: { target: 'last', reason: 'last-connection' } },
  { sql: 'SHOW ERRORS', balance: 1, hosts: 'writerDown', session: 'holdsLast', expect: { target: 'last', reason: 'last-connection' } },
  { sql: 'SHOW ERRORS', balance: 1, hosts: 'writerDown', session: 'idle', expect: { target: 'error', errno: 2003 } },

  // ---------------------------------------------------------------- session states
  { sql: POINT, balance: 1, hosts: 'allUp', session: 'pinned', expect: { target: 'writer', reason: 'pinned' } },
  { sql: POINT, balance: 1, hosts: 'allUp', session: 'inTx', expect: { target: 'writer', reason: 'in-transaction' } },
  { sql: 'UPDATE t SET a = 1', balance: 1, hosts: 'allUp', session: 'inTx', expect: { target: 'writer', reason: 'in-transaction' } },
  { sql: POINT, balance: 1, hosts: 'allUp', session: 'roTx', expect: { target: 'last', reason: 'read-only-transaction' } },
  { sql: 'COMMIT', balance: 1, hosts: 'allUp', session: 'roTx', expect: { target: 'last', reason: 'read-only-transaction' } },
  { sql: 'UPDATE t SET a = 1', balance: 1, hosts: 'allUp', session: 'roTx', expect: { target: 'last', reason: 'read-only-transaction' } },
  { sql: POINT, balance: 1, hosts: 'allUp', session: 'holdsLast', expect: { target: 'reader', reason: 'read', candidates: B1 } },

  // ---------------------------------------------------------------- START TRANSACTION READ ONLY
  { sql: 'START TRANSACTION READ ONLY', balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read-only-transaction', candidates: B1 } },
  { sql: 'START TRANSACTION READ ONLY', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read-only-transaction', candidates: READS } },
  { sql: 'START TRANSACTION READ ONLY', balance: 0, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'no-split' } },
  { sql: 'START TRANSACTION READ ONLY', balance: 3, hosts: 'readsDown', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: 'START TRANSACTION READ ONLY', balance: 3, hosts: 'allUp', session: 'pinned', expect: { target: 'writer', reason: 'pinned' } },
  { sql: 'START TRANSACTION READ WRITE', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },

  // ---------------------------------------------------------------- hints
  { sql: '/*master*/ ' + POINT, balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'hint' } },
  { sql: '/*!mycat:db_type=master*/ ' + POINT, balance: 2, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'hint' } },
  { sql: '/*slave*/ ' + POINT, balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'hint', candidates: READS } },
  { sql: '/*slave*/ ' + POINT, balance: 1, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'hint', candidates: B1 } },
  { sql: '/*slave*/ ' + POINT, balance: 0, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'hint', candidates: READS } },
  { sql: '/*#mycat:db_type=slave*/ ' + POINT, balance: 0, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'hint', candidates: READS } },
  { sql: '/*slave*/ ' + POINT, balance: 3, hosts: 'allUp', session: 'inTx', expect: { target: 'reader', reason: 'hint', candidates: READS } },
  { sql: '/*slave*/ ' + POINT, balance: 3, hosts: 'allUp', session: 'pinned', expect: { target: 'reader', reason: 'hint', candidates: READS } },
  { sql: '/*slave*/ SELECT * FROM t FOR UPDATE', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'hint', candidates: READS } },
  { sql: '/*slave*/ ' + POINT, balance: 3, hosts: 'readsDown', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: '/*slave*/ ' + POINT, balance: 0, hosts: 'noReadHosts', session: 'idle', expect: { target: 'writer', reason: 'no-readable-host' } },
  { sql: '/*slave*/ UPDATE t SET a = 1', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: '/*slave*/ SELECT 1; DELETE FROM t', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'multi-statement' } },
  { sql: '/*master*/ UPDATE t SET a = 1', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'hint' } },
  { sql: '/*master*/ SHOW WARNINGS', balance: 3, hosts: 'allUp', session: 'holdsLast', expect: { target: 'writer', reason: 'hint' } },

  // ---------------------------------------------------------------- multi-statements
  { sql: 'SELECT 1; SELECT 2', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'writer', reason: 'multi-statement' } },
  { sql: 'SELECT 1; SHOW WARNINGS', balance: 3, hosts: 'allUp', session: 'holdsLast', expect: { target: 'writer', reason: 'multi-statement' } },
  { sql: 'SELECT 1;', balance: 3, hosts: 'allUp', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: READS } },

  // ---------------------------------------------------------------- read-only writer (fencing)
  { sql: 'UPDATE t SET a = 1', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'error', errno: 1290 } },
  { sql: 'CREATE TABLE t (a INT)', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'error', errno: 1290 } },
  { sql: 'CALL p()', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'error', errno: 1290 } },
  { sql: 'LOCK TABLES t WRITE', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'error', errno: 1290 } },
  { sql: 'INSERT INTO t VALUES (1)', balance: 1, hosts: 'writerReadOnly', session: 'inTx', expect: { target: 'error', errno: 1290 } },
  { sql: '/*master*/ DELETE FROM t', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'error', errno: 1290 } },
  { sql: 'CREATE TEMPORARY TABLE tmp (a INT)', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'DROP TEMPORARY TABLE tmp', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'UNLOCK TABLES', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'SET NAMES utf8mb4', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'USE db', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'BEGIN', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'COMMIT', balance: 1, hosts: 'writerReadOnly', session: 'inTx', expect: { target: 'writer', reason: 'in-transaction' } },
  { sql: 'ROLLBACK', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'write' } },
  { sql: 'SAVEPOINT a', balance: 1, hosts: 'writerReadOnly', session: 'inTx', expect: { target: 'writer', reason: 'in-transaction' } },
  { sql: 'SELECT * FROM t FOR UPDATE', balance: 1, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'needs-writer' } },
  { sql: POINT, balance: 0, hosts: 'writerReadOnly', session: 'idle', expect: { target: 'writer', reason: 'no-split' } },
  { sql: POINT, balance: 1, hosts: 'writerReadOnly', session: 'pinned', expect: { target: 'writer', reason: 'pinned' } },
  // ---------------------------------------------------------------- writer offline (drain): started work finishes
  { sql: 'INSERT INTO t VALUES (1)', balance: 1, hosts: 'writerOffline', session: 'inTxOnW1', expect: { target: 'anchor', reason: 'draining' } },
  { sql: 'COMMIT', balance: 1, hosts: 'writerOffline', session: 'inTxOnW1', expect: { target: 'anchor', reason: 'draining' } },
  { sql: POINT, balance: 1, hosts: 'writerOffline', session: 'inTxOnW1', expect: { target: 'anchor', reason: 'draining' } },
  { sql: 'DROP TEMPORARY TABLE tmp', balance: 1, hosts: 'writerOffline', session: 'pinnedOnW1', expect: { target: 'anchor', reason: 'draining' } },
  { sql: 'INSERT INTO t VALUES (1)', balance: 1, hosts: 'writerOffline', session: 'idle', expect: { target: 'error', errno: 2003 } },
  { sql: 'BEGIN', balance: 1, hosts: 'writerOffline', session: 'idle', expect: { target: 'error', errno: 2003 } },
  { sql: POINT, balance: 1, hosts: 'writerOffline', session: 'idle', expect: { target: 'reader', reason: 'read', candidates: B1 } },
  { sql: 'INSERT INTO t VALUES (1)', balance: 1, hosts: 'writerOffline', session: 'inTx', expect: { target: 'error', errno: 2003 } },
  { sql: 'INSERT INTO t VALUES (1)', balance: 1, hosts: 'writerOffline', session: 'inTxOnW2', expect: { target: 'error', errno: 2003 } },
  // a DOWN writer is not drained: its connections are dead
  { sql: 'INSERT INTO t VALUES (1)', balance: 1, hosts: 'writerDown', session: 'inTxOnW1', expect: { target: 'error', errno: 2003 } },
];
