/**
 * Commands besides COM_QUERY, sent with a raw client: COM_FIELD_LIST, COM_STATISTICS,
 * COM_SET_OPTION, COM_RESET_CONNECTION, COM_INIT_DB, COM_PROCESS_KILL, unknown commands, and
 * malformed input (closes that one connection; the proxy keeps serving others).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from '../../src/protocol/constants.js';
import { encodeFieldList, encodeInitDb, encodeProcessKill, encodeQuery, encodeSetOption, encodeSimpleCommand } from '../../src/protocol/commands.js';
import { decodeTextRow } from '../../src/protocol/responses.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { RawClient, errnoOfPacket } from '../helpers/raw-client.js';

let proxy: TestProxy;
let client: RawClient;

before(async () => {
  proxy = await startProxy();
  const c = await proxy.connect();
  await c.query('CREATE TABLE IF NOT EXISTS cmd_t (id INT PRIMARY KEY, name VARCHAR(20))');
  await c.end();
  client = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password, 'sluice_test');
});

after(async () => {
  client?.close();
  await proxy?.close();
});

/** The text value of the first column of the first row of a result. */
function firstValue(packets: Buffer[]): string | null {
  const columns = packets[0]![0]!;
  const row = packets[1 + columns + 1]!; // count, column defs, EOF, first row
  const v = decodeTextRow(row, columns)[0];
  return v === null || v === undefined ? null : v.toString();
}

test('COM_FIELD_LIST returns the table’s column definitions', async () => {
  const packets = await client.command(encodeFieldList('cmd_t', ''), 'field-list');
  assert.equal(packets.length, 3, 'two column definitions and EOF');
  assert.ok(packets[0]!.includes(Buffer.from('id')));
  assert.ok(packets[1]!.includes(Buffer.from('name')));
});

test('COM_STATISTICS answers with the server’s status line', async () => {
  const [line] = await client.command(encodeSimpleCommand(Command.STATISTICS), 'single');
  assert.match(line!.toString(), /Uptime: \d+/);
});

test('COM_SET_OPTION toggles multi-statements for the session', async () => {
  const off = await client.command(encodeSetOption(1));
  assert.equal(off[0]![0], 0xfe, 'EOF');
  const refused = await client.command(encodeQuery('SELECT 1; SELECT 2'));
  assert.equal(errnoOfPacket(refused.at(-1)), 1064);
  await client.command(encodeSetOption(0));
  const both = await client.command(encodeQuery('SELECT 1; SELECT 2'));
  assert.ok(both.length > 6, 'two result sets');
});

test('COM_INIT_DB to an unknown schema → 1049; to a known one → OK', async () => {
  const [bad] = await client.command(encodeInitDb('no_such_schema'));
  assert.equal(errnoOfPacket(bad), 1049);
  const [ok] = await client.command(encodeInitDb('sluice_test'));
  assert.equal(ok![0], 0x00);
});

test('COM_RESET_CONNECTION clears user variables', async () => {
  await client.command(encodeQuery("SET @r = 'x'"));
  assert.equal(firstValue(await client.command(encodeQuery('SELECT @r'))), 'x');
  const [ok] = await client.command(encodeSimpleCommand(Command.RESET_CONNECTION));
  assert.equal(ok![0], 0x00);
  assert.equal(firstValue(await client.command(encodeQuery('SELECT @r'))), null);
});

test('COM_PROCESS_KILL closes the target client connection', async () => {
  const victim = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password);
  const [ok] = await client.command(encodeProcessKill(victim.connectionId));
  assert.equal(ok![0], 0x00);
  assert.ok(await victim.waitClosed());
});

test('an unknown command byte → ER_UNKNOWN_COM_ERROR (1047), connection stays usable', async () => {
  const [err] = await client.command(Buffer.from([0x1d]));
  assert.equal(errnoOfPacket(err), 1047);
  assert.equal(firstValue(await client.command(encodeQuery('SELECT 41 + 1'))), '42');
});

test('a malformed packet closes only that connection', async () => {
  const bad = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password);
  // A COM_CHANGE_USER with a truncated body.
  bad.writeRaw(Buffer.from([0x02, 0x00, 0x00, 0x00, 0x11, 0x61]));
  assert.ok(await bad.waitClosed(), 'the bad connection was closed');
  assert.equal(firstValue(await client.command(encodeQuery('SELECT 7'))), '7');
});

test('a client announcing a packet over maxPacketSize is cut off', async () => {
  const p = await startProxy({ session: { maxPacketSize: 1024 * 1024 } });
  try {
    const c = await RawClient.connect(p.port, p.sandbox.user, p.sandbox.password);
    const header = Buffer.from([0xff, 0xff, 0x3f, 0x00]); // 4 MiB announced
    c.writeRaw(Buffer.concat([header, Buffer.from([Command.QUERY])]));
    assert.equal(errnoOfPacket(await c.next()), 1153);
    assert.ok(await c.waitClosed());
  } finally {
    await p.close();
  }
});

test('a client that starts with caching_sha2_password is switched to mysql_native_password', async () => {
  const c = await RawClient.connect(proxy.port, proxy.sandbox.user, proxy.sandbox.password, 'sluice_test', 0, 'caching_sha2_password');
  try {
    assert.equal(c.switchedTo, 'mysql_native_password');
    assert.equal(firstValue(await c.command(encodeQuery('SELECT 1'))), '1');
  } finally {
    c.close();
  }
});

test('a password hash (*HEX) in the config authenticates the plain password', async () => {
  const { nativePasswordHash } = await import('../../src/protocol/auth.js');
  const hash = '*' + nativePasswordHash('s3cret').toString('hex').toUpperCase();
  const p = await startProxy({ users: [{ name: proxy.sandbox.user, password: hash }] });
  try {
    const c = await RawClient.connect(p.port, proxy.sandbox.user, 's3cret');
    c.close();
    await assert.rejects(RawClient.connect(p.port, proxy.sandbox.user, hash), /login failed/);
  } finally {
    await p.close();
  }
});
