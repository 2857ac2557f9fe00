import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killsInMultiStatement } from '../../../src/routing/multi-kill.js';

test('KILLs with a literal id are taken out of a multi-statement, DO 0 in their place', () => {
  assert.deepEqual(killsInMultiStatement('kill 12; select sleep(0.05)'), {
    kills: [{ id: 12, queryOnly: false }],
    forwardSql: 'DO 0; select sleep(0.05)',
  });
  assert.deepEqual(killsInMultiStatement('SELECT 1; KILL QUERY 7;KILL CONNECTION 8'), {
    kills: [
      { id: 7, queryOnly: true },
      { id: 8, queryOnly: false },
    ],
    forwardSql: 'SELECT 1; DO 0;DO 0',
  });
});

test('anything else is left alone', () => {
  assert.equal(killsInMultiStatement("SELECT 'kill 5'; SELECT 1"), undefined);
  assert.equal(killsInMultiStatement('SELECT 1; /* KILL 5 */ SELECT 2'), undefined);
  assert.equal(killsInMultiStatement('KILL @id; SELECT 1'), undefined);
  assert.equal(killsInMultiStatement('KILL 5 + 1; SELECT 1'), undefined);
});
