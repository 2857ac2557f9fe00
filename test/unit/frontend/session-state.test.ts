/** sql_mode values and whether the lexer still models the session's quoting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quotingUnmodelled } from '../../../src/frontend/session-state.js';

const cases: [string, boolean | undefined][] = [
  ["'NO_BACKSLASH_ESCAPES'", true],
  ["'STRICT_TRANS_TABLES,no_backslash_escapes'", true],
  ['"ANSI_QUOTES"', true],
  ["'ANSI'", true],
  ["'TRADITIONAL'", false],
  ["'PIPES_AS_CONCAT,STRICT_ALL_TABLES'", false],
  ["''", false],
  ['DEFAULT', false],
  ["CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')", true],
  ["REPLACE(@@sql_mode, 'ONLY_FULL_GROUP_BY', '')", undefined],
  ["(SELECT REPLACE(@@sql_mode,'ONLY_FULL_GROUP_BY',''))", undefined],
];

test('quotingUnmodelled: literals decide, DEFAULT is modelled, expressions keep the state unless they name a quoting mode', () => {
  for (const [value, want] of cases) assert.equal(quotingUnmodelled(value), want, value);
});
