/** What the transaction journal keeps, when it starts over, and what makes a transaction not replayable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../../../src/routing/classify.js';
import { ServerStatus } from '../../../src/protocol/constants.js';
import type { ResponseSummary } from '../../../src/backend/response-scanner.js';
import { newSessionState, recordStatement, type SessionState } from '../../../src/frontend/session-state.js';
import { mayCommit, TransactionJournal } from '../../../src/frontend/transaction-journal.js';

const IN_TRANS = ServerStatus.IN_TRANS | ServerStatus.AUTOCOMMIT;
const IDLE = ServerStatus.AUTOCOMMIT;

function summary(statusFlags: number, extra: Partial<ResponseSummary> = {}): ResponseSummary {
  return { statusFlags, error: undefined, affectedRows: 0, lastInsertId: 0, resultSets: 0, localInfile: false, rows: 0, gtid: undefined, checksum: 'c0ffee', ...extra };
}

/** Runs `sql` through the journal as the runner does: record if asked, session state, then after(). */
function run(j: TransactionJournal, s: SessionState, sql: string, flags: number, host = 'w1', extra: Partial<ResponseSummary> = {}): void {
  const c = classify(sql);
  const payload = Buffer.from(sql);
  const recording = j.records(c, s) ? { c, shape: 'query' as const, command: payload, bytes: payload.length } : undefined;
  const out = summary(flags, extra);
  recordStatement(s, c, { statusFlags: flags, lastInsertId: out.lastInsertId, at: 0 });
  j.after(host, recording, recording === undefined ? { ...out, checksum: undefined } : out, s);
}

const journal = (maxBytes = 1024, enabled = true): TransactionJournal => new TransactionJournal(() => ({ enabled, maxBytes }));

test('keeps a transaction from BEGIN to COMMIT, then starts over', () => {
  const j = journal();
  const s = newSessionState(1, 45, false);
  run(j, s, 'SELECT 1', IDLE);
  assert.equal(j.commands.length, 0, 'autocommit statements are not kept');
  run(j, s, 'BEGIN', IN_TRANS);
  run(j, s, 'SELECT v FROM t WHERE id = 1', IN_TRANS);
  run(j, s, 'UPDATE t SET v = 2 WHERE id = 1', IN_TRANS);
  assert.deepEqual(j.commands.map((e) => e.command.toString()), ['BEGIN', 'SELECT v FROM t WHERE id = 1', 'UPDATE t SET v = 2 WHERE id = 1']);
  assert.equal(j.whyNot(s), undefined);
  assert.equal(j.recordedOn, 'w1');
  run(j, s, 'COMMIT', IDLE);
  assert.equal(j.commands.length, 0);
  assert.equal(j.startsWithAutocommitOff, false);
});

test('autocommit off: each transaction starts at its first statement, and a replay turns autocommit off first', () => {
  const j = journal();
  const s = newSessionState(1, 45, false);
  run(j, s, 'SET autocommit = 0', 0);
  assert.equal(j.startsWithAutocommitOff, true);
  run(j, s, 'INSERT INTO t VALUES (1)', ServerStatus.IN_TRANS);
  assert.equal(j.commands.length, 1);
  run(j, s, 'COMMIT', 0);
  assert.equal(j.commands.length, 0);
  run(j, s, 'INSERT INTO t VALUES (2)', ServerStatus.IN_TRANS);
  assert.deepEqual(j.commands.map((e) => e.command.toString()), ['INSERT INTO t VALUES (2)']);
  assert.equal(j.startsWithAutocommitOff, true);
});

test('not replayable: over the size limit, SET / USE inside, LOAD DATA LOCAL, a host change, an unrecorded command, a pinned session', () => {
  const cases: [string, (j: TransactionJournal, s: SessionState) => void, RegExp][] = [
    ['too large', (j, s) => run(j, s, `SELECT '${'x'.repeat(100)}'`, IN_TRANS), /transactionReplayMaxBytes \(64 bytes\)/],
    ['SET', (j, s) => run(j, s, "SET @x = 'a'", IN_TRANS), /SET inside the transaction/],
    ['USE', (j, s) => run(j, s, 'USE other', IN_TRANS), /USE inside the transaction/],
    ['LOAD DATA LOCAL', (j, s) => run(j, s, "LOAD DATA LOCAL INFILE 'f' INTO TABLE t", IN_TRANS, 'w1', { localInfile: true }), /LOAD DATA LOCAL/],
    ['another host', (j, s) => run(j, s, 'SELECT 1', IN_TRANS, 'w2'), /moved between servers/],
    ['COM_INIT_DB', (j) => j.command('init-db'), /init-db/],
    ['a named lock', (j, s) => run(j, s, "SELECT GET_LOCK('l', 0)", IN_TRANS), /pinned to its connection \(named-lock\)/],
  ];
  for (const [label, act, why] of cases) {
    const j = journal(64);
    const s = newSessionState(1, 45, false);
    run(j, s, 'BEGIN', IN_TRANS);
    act(j, s);
    assert.match(j.whyNot(s) ?? '', why, label);
    // A pin is the session's, asked at replay time (it may be gone by then); the rest are final.
    if (label === 'a named lock') continue;
    assert.equal(j.commands.length, 0, `${label}: nothing kept once refused`);
    run(j, s, 'ROLLBACK', IDLE);
    assert.equal(j.whyNot(s), undefined, `${label}: the next transaction starts afresh`);
  }
  assert.match(journal(1024, false).whyNot(newSessionState(1, 45, false)) ?? '', /transactionReplay is off/);
});

test('SET autocommit inside the transaction is kept; the commands a replay may meet are allowed', () => {
  const j = journal();
  const s = newSessionState(1, 45, false);
  run(j, s, 'BEGIN', IN_TRANS);
  for (const type of ['query', 'ping', 'stmt-prepare', 'stmt-execute', 'stmt-close'] as const) j.command(type);
  run(j, s, 'SET autocommit = 0', ServerStatus.IN_TRANS);
  assert.equal(j.whyNot(s), undefined);
  assert.equal(j.commands.length, 2);
});

test('mayCommit: what in flight leaves the outcome unknown', () => {
  const table: [string, boolean][] = [
    ['SELECT 1', false],
    ['UPDATE t SET v = 1', false],
    ['INSERT INTO t VALUES (1)', false],
    ['SAVEPOINT a', false],
    ['ROLLBACK', false],
    ['ROLLBACK AND CHAIN', true],
    ['COMMIT', true],
    ['BEGIN', true],
    ['CREATE TABLE x (a INT)', true],
    ['SET autocommit = 1', true],
    ['CALL p()', true],
    ['LOCK TABLES t WRITE', true],
  ];
  for (const [sql, want] of table) assert.equal(mayCommit(classify(sql)), want, sql);
});
