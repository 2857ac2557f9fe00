import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COLLATIONS, collationByName, defaultCollationForCharset } from '../../../src/protocol/collations.js';

test('well-known ids', () => {
  const expect: [number, string, string][] = [
    [8, 'latin1_swedish_ci', 'latin1'], [33, 'utf8mb3_general_ci', 'utf8mb3'], [45, 'utf8mb4_general_ci', 'utf8mb4'],
    [46, 'utf8mb4_bin', 'utf8mb4'], [63, 'binary', 'binary'], [83, 'utf8mb3_bin', 'utf8mb3'],
    [224, 'utf8mb4_unicode_ci', 'utf8mb4'], [246, 'utf8mb4_unicode_520_ci', 'utf8mb4'],
    [255, 'utf8mb4_0900_ai_ci', 'utf8mb4'], [278, 'utf8mb4_0900_as_cs', 'utf8mb4'],
    [305, 'utf8mb4_0900_as_ci', 'utf8mb4'], [309, 'utf8mb4_0900_bin', 'utf8mb4'],
    [2304, 'utf8mb4_uca1400_ai_ci', 'utf8mb4'],
  ];
  for (const [id, name, charset] of expect) {
    assert.equal(COLLATIONS.get(id)?.name, name, `id ${id}`);
    assert.equal(COLLATIONS.get(id)?.charset, charset);
    assert.equal(collationByName(name)?.id, id);
  }
  assert.ok(COLLATIONS.size > 1200);
  assert.equal(COLLATIONS.get(0), undefined);
});

test('lookups by name and defaults per charset', () => {
  assert.equal(collationByName('UTF8MB4_GENERAL_CI')?.id, 45);
  assert.equal(collationByName('utf8_general_ci')?.id, 33, 'utf8 means utf8mb3');
  assert.equal(collationByName('no_such_collation'), undefined);
  assert.equal(defaultCollationForCharset('utf8mb4')?.name, 'utf8mb4_general_ci');
  assert.equal(defaultCollationForCharset('UTF8')?.id, 33);
  assert.equal(defaultCollationForCharset('latin1')?.id, 8);
  assert.equal(defaultCollationForCharset('binary')?.id, 63);
  assert.equal(defaultCollationForCharset('gb18030')?.id, 248);
  assert.equal(defaultCollationForCharset('klingon'), undefined);
});

test('every charset has exactly one default, every name one id', () => {
  const defaults = new Map<string, number>();
  const names = new Set<string>();
  for (const c of COLLATIONS.values()) {
    assert.ok(!names.has(c.name), `duplicate name ${c.name}`);
    names.add(c.name);
    if (c.isDefault) {
      assert.ok(!defaults.has(c.charset), `two defaults for ${c.charset}`);
      defaults.set(c.charset, c.id);
    }
  }
  for (const c of COLLATIONS.values()) assert.ok(defaults.has(c.charset), `no default for ${c.charset}`);
});
