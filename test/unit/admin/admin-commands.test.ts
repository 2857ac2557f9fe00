import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAdminCommand, type AdminCommand } from '../../../src/admin/admin-commands.js';

const cases: readonly (readonly [string, AdminCommand])[] = [
  ['SELECT * FROM help', { kind: 'help' }],
  ['select  *  from   HELP ;', { kind: 'help' }],
  ['SELECT VERSION', { kind: 'version' }],
  ['select @@version_comment limit 1', { kind: 'version-comment' }],
  ['SELECT * FROM backends', { kind: 'backends' }],
  ['SET OFFLINE 2', { kind: 'set-offline', ndx: 2, force: false }],
  ['set offline 3 force', { kind: 'set-offline', ndx: 3, force: true }],
  ['SET ONLINE 2', { kind: 'set-online', ndx: 2 }],
  ['SET ONLINE x', { kind: 'invalid', reason: 'backend id must be a number (backend_ndx), got "x"' }],
  ['SET ONLINE 2 FORCE', { kind: 'invalid', reason: 'FORCE applies to SET OFFLINE only' }],
  ['ADD MASTER 127.0.0.1:3306', { kind: 'add-backend', role: 'write', host: '127.0.0.1', port: 3306 }],
  ['add slave db2:3307', { kind: 'add-backend', role: 'read', host: 'db2', port: 3307 }],
  ['ADD SLAVE 10.0.0.5:3306@3', { kind: 'add-backend', role: 'read', host: '10.0.0.5', port: 3306, weight: 3 }],
  ['ADD SLAVE [::1]:3306', { kind: 'add-backend', role: 'read', host: '::1', port: 3306 }],
  ['REMOVE BACKEND 3', { kind: 'remove-backend', ndx: 3 }],
  ['SELECT * FROM clients', { kind: 'clients' }],
  ['ADD CLIENT 192.168.1.2', { kind: 'add-client', client: '192.168.1.2' }],
  ['remove client 10.0.0.0/8', { kind: 'remove-client', client: '10.0.0.0/8' }],
  ['SELECT * FROM pwds', { kind: 'pwds' }],
  ['ADD PWD bob:bob:pass', { kind: 'add-pwd', user: 'bob', password: 'bob:pass' }],
  ['REMOVE PWD bob', { kind: 'remove-pwd', user: 'bob' }],
  ['SAVE CONFIG', { kind: 'save-config' }],
  ['show @@datasource', { kind: 'show-datasource' }],
  ['SHOW @@HEARTBEAT', { kind: 'show-heartbeat' }],
  ['SWITCH @@DATASOURCE dh1:1', { kind: 'switch-datasource', name: 'dh1', index: 1 }],
  ['SWITCHOVER dh1:1', { kind: 'switchover', name: 'dh1', index: 1 }],
  ['switchover to dh1:0;', { kind: 'switchover', name: 'dh1', index: 0 }],
  ['RELOAD @@CONFIG', { kind: 'reload-config' }],
  ['SHOW @@CONNECTION', { kind: 'show-connection' }],
  ['KILL @@CONNECTION 5', { kind: 'kill-connection', ids: [5] }],
  ['kill @@connection 5, 7', { kind: 'kill-connection', ids: [5, 7] }],
  ['SHOW @@BACKEND', { kind: 'show-backend' }],
  ['SELECT * FROM stats', { kind: 'stats' }],
  ['SHOW @@SQL', { kind: 'stats' }],
  ['SELECT 1', { kind: 'unknown' }],
  ['SELECT * FROM nothing', { kind: 'unknown' }],
  ['', { kind: 'unknown' }],
];

describe('parseAdminCommand', () => {
  for (const [sql, expected] of cases) {
    test(JSON.stringify(sql), () => assert.deepEqual(parseAdminCommand(sql), expected));
  }
  test('malformed arguments are invalid with a reason', () => {
    for (const sql of ['ADD SLAVE nohost', 'ADD SLAVE h:70000', 'ADD MASTER h:3306@2', 'ADD PWD nocolon', 'SWITCH @@DATASOURCE dh1', 'KILL @@CONNECTION a', 'REMOVE BACKEND -1']) {
      const c = parseAdminCommand(sql);
      assert.equal(c.kind, 'invalid', sql);
    }
  });
});
