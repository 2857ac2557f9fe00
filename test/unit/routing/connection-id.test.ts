import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../../../src/routing/classify.js';
import { rewriteConnectionId, rewritesConnectionId } from '../../../src/routing/connection-id.js';

const V = 'CAST(42 AS UNSIGNED)';

test('CONNECTION_ID() calls become the id; unaliased select items keep their name', () => {
  const cases: [string, string][] = [
    ['SELECT CONNECTION_ID()', `SELECT ${V} AS \`CONNECTION_ID()\``],
    ['select connection_id( ) , 1', `select ${V} AS \`connection_id( )\` , 1`],
    ['SELECT CONNECTION_ID() AS id', `SELECT ${V} AS id`],
    ['SELECT CONNECTION_ID() id FROM t', `SELECT ${V} id FROM t`],
    ['SELECT 1 + CONNECTION_ID() FROM t', `SELECT 1 + ${V} AS \`1 + CONNECTION_ID()\` FROM t`],
    ['SELECT DISTINCT CONNECTION_ID()', `SELECT DISTINCT ${V} AS \`CONNECTION_ID()\``],
    ['SELECT CASE WHEN CONNECTION_ID() > 0 THEN 1 END', `SELECT CASE WHEN ${V} > 0 THEN 1 END AS \`CASE WHEN CONNECTION_ID() > 0 THEN 1 END\``],
    ['SELECT * FROM p WHERE id = CONNECTION_ID()', `SELECT * FROM p WHERE id = ${V}`],
    ['SELECT a FROM (SELECT CONNECTION_ID() a) x', `SELECT a FROM (SELECT ${V} a) x`],
  ];
  for (const [sql, want] of cases) assert.equal(rewriteConnectionId(sql, 42), want, sql);
});

test('strings, comments and qualified UDFs are left alone', () => {
  for (const sql of ["SELECT 'CONNECTION_ID()'", 'SELECT /* CONNECTION_ID() */ 1', 'SELECT db.connection_id()']) {
    assert.equal(rewriteConnectionId(sql, 42), sql);
    assert.equal(rewritesConnectionId(classify(sql)), false, sql);
  }
});

test('DDL keeps the call (a view or procedure must not capture one session’s id)', () => {
  assert.equal(rewritesConnectionId(classify('CREATE VIEW v AS SELECT CONNECTION_ID()')), false);
  assert.equal(rewritesConnectionId(classify('SELECT CONNECTION_ID()')), true);
  assert.equal(rewritesConnectionId(classify('SET @c = CONNECTION_ID()')), true);
  assert.equal(rewritesConnectionId(classify('KILL QUERY CONNECTION_ID()')), false, 'the session answers it');
});
