import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeHandshakeResponse,
  decodeInitialHandshake,
  decodeSslRequest,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeHandshakeResponse,
  encodeInitialHandshake,
  encodeSslRequest,
  isSslRequest,
  type HandshakeResponse,
  type InitialHandshake,
} from '../../../src/protocol/handshake.js';
import { Capability } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { MARIADB_CLI, MYSQL2, payloadOf } from './fixtures.js';

const C = Capability;

test('decodes the initial handshake a real MariaDB 10.11 sent, and re-encodes it byte for byte', () => {
  const payload = payloadOf(MARIADB_CLI.handshake);
  const h = decodeInitialHandshake(payload);
  assert.equal(h.protocolVersion, 10);
  assert.equal(h.serverVersion, '5.5.5-10.11.19-MariaDB-0+deb12u1');
  assert.equal(h.connectionId, 8);
  assert.equal(h.authPluginData.toString('latin1'), '==Z.ruse"tE9/~QWA!!~');
  assert.equal(h.capabilities, 0x81fff7fe);
  assert.equal(h.charset, 8);
  assert.equal(h.statusFlags, 2);
  assert.equal(h.authPluginName, 'mysql_native_password');
  // MariaDB clears CLIENT_MYSQL and puts PROGRESS|STMT_BULK|EXTENDED_METADATA|CACHE_METADATA here.
  assert.equal(h.mariadbCapabilities, 0x1d);
  assert.deepEqual(encodeInitialHandshake(h), payload);
  assert.deepEqual(encodeInitialHandshake(decodeInitialHandshake(payloadOf(MYSQL2.handshake))), payloadOf(MYSQL2.handshake));
});

test('a MySQL-style handshake (CLIENT_MYSQL set) has no MariaDB capabilities (hand-checked layout)', () => {
  const h: InitialHandshake = {
    protocolVersion: 10,
    serverVersion: '8.0.36',
    connectionId: 0x01020304,
    authPluginData: Buffer.from('abcdefghijklmnopqrst'),
    capabilities: 0xdfffffff,
    charset: 255,
    statusFlags: 2,
    authPluginName: 'caching_sha2_password',
    mariadbCapabilities: 7, // ignored: CLIENT_MYSQL is set
  };
  const buf = encodeInitialHandshake(h);
  const expected = Buffer.concat([
    Buffer.from([10]), Buffer.from('8.0.36\0'), Buffer.from([4, 3, 2, 1]),
    Buffer.from('abcdefgh'), Buffer.from([0]), // part 1 + filler
    Buffer.from([0xff, 0xff, 255, 2, 0, 0xff, 0xdf, 21]), // caps lo, charset, status, caps hi, length
    Buffer.alloc(10), // reserved
    Buffer.from('ijklmnopqrst\0'), Buffer.from('caching_sha2_password\0'),
  ]);
  assert.deepEqual(buf, expected);
  const { mariadbCapabilities: _ignored, ...rest } = h;
  assert.deepEqual(decodeInitialHandshake(buf), rest);
});

test('an ERR instead of a handshake is rejected with ProtocolError (callers check 0xff first)', () => {
  const err = Buffer.concat([Buffer.from([0xff, 0x10, 0x04]), Buffer.from('Too many connections')]);
  assert.throws(() => decodeInitialHandshake(err), ProtocolError);
});

test('decodes real handshake responses (libmariadb and mysql2) and re-encodes them byte for byte', () => {
  const cli = decodeHandshakeResponse(payloadOf(MARIADB_CLI.handshakeResponse));
  assert.equal(cli.capabilities, 0x00bfa28c);
  assert.equal(cli.charset, 33);
  assert.equal(cli.user, 'app');
  assert.equal(cli.authResponse.length, 20);
  assert.equal(cli.database, 'sluice');
  assert.equal(cli.authPluginName, 'mysql_native_password');
  assert.equal(cli.connectAttrs?.get('_client_name'), 'libmariadb');
  assert.equal(cli.connectAttrs?.get('program_name'), 'mysql');
  assert.equal(cli.mariadbCapabilities, 0x1d);
  assert.deepEqual(encodeHandshakeResponse(cli), payloadOf(MARIADB_CLI.handshakeResponse));

  const m2 = decodeHandshakeResponse(payloadOf(MYSQL2.handshakeResponse));
  assert.equal(m2.user, 'app');
  assert.equal(m2.charset, 224);
  assert.equal(m2.database, 'sluice');
  assert.equal(m2.connectAttrs?.get('_client_name'), 'Node-MySQL-2');
  assert.equal(m2.mariadbCapabilities, 0x08);
  assert.ok(!(m2.capabilities & C.DEPRECATE_EOF));
  assert.deepEqual(encodeHandshakeResponse(m2), payloadOf(MYSQL2.handshakeResponse));
});

test('handshake response variants: 1-byte auth length, no db/plugin/attrs, CLIENT_MYSQL set', () => {
  const base: HandshakeResponse = {
    capabilities: (C.LONG_PASSWORD | C.PROTOCOL_41 | C.SECURE_CONNECTION) >>> 0,
    maxPacketSize: 16 * 1024 * 1024,
    charset: 45,
    user: 'u',
    authResponse: Buffer.from([1, 2, 3]),
    database: undefined,
    authPluginName: undefined,
    connectAttrs: undefined,
  };
  const buf = encodeHandshakeResponse(base);
  assert.equal(buf.length, 32 + 2 + 1 + 3);
  assert.deepEqual(buf.subarray(32), Buffer.from([0x75, 0, 3, 1, 2, 3]));
  assert.deepEqual(decodeHandshakeResponse(buf), base);

  const withAll: HandshakeResponse = {
    ...base,
    capabilities: (base.capabilities | C.CONNECT_WITH_DB | C.PLUGIN_AUTH | C.CONNECT_ATTRS |
      C.PLUGIN_AUTH_LENENC_CLIENT_DATA) >>> 0,
    authResponse: Buffer.alloc(300, 7), // needs lenenc
    database: 'db',
    authPluginName: 'caching_sha2_password',
    connectAttrs: new Map([['a', 'b'], ['ключ', 'значение']]),
  };
  assert.deepEqual(decodeHandshakeResponse(encodeHandshakeResponse(withAll)), withAll);
  assert.throws(() => encodeHandshakeResponse({ ...base, authResponse: Buffer.alloc(256) }), RangeError);

  // A client that sets CONNECT_WITH_DB but ends the packet early is tolerated.
  const early = encodeHandshakeResponse({ ...base, capabilities: base.capabilities | C.CONNECT_WITH_DB, database: 'x' });
  const trimmed = decodeHandshakeResponse(early.subarray(0, early.length - 2));
  assert.equal(trimmed.database, undefined);
});

test('pre-4.1 and truncated handshake responses are protocol errors', () => {
  const old = Buffer.alloc(40);
  assert.throws(() => decodeHandshakeResponse(old), (e: unknown) => e instanceof ProtocolError && e.code === 'unsupported');
  const real = payloadOf(MYSQL2.handshakeResponse);
  for (const cut of [0, 10, 31, 33, 40, 50]) {
    assert.throws(() => decodeHandshakeResponse(real.subarray(0, cut)), ProtocolError, `cut at ${cut}`);
  }
});

test('SSL request: 32 bytes with CLIENT_SSL', () => {
  const req = { capabilities: (C.PROTOCOL_41 | C.SECURE_CONNECTION) >>> 0, maxPacketSize: 1 << 24, charset: 45, mariadbCapabilities: 8 };
  const buf = encodeSslRequest(req);
  assert.equal(buf.length, 32);
  assert.ok(isSslRequest(buf));
  assert.deepEqual(decodeSslRequest(buf), { ...req, capabilities: req.capabilities | C.SSL });
  assert.ok(!isSslRequest(payloadOf(MYSQL2.handshakeResponse)));
  assert.ok(!isSslRequest(Buffer.alloc(32)));
});

test('auth switch request: NUL after the data, stripped on decode', () => {
  const seed = Buffer.from('abcdefghijklmnopqrst');
  const buf = encodeAuthSwitchRequest('mysql_native_password', seed);
  assert.deepEqual(buf, Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_native_password\0'), seed, Buffer.from([0])]));
  assert.deepEqual(decodeAuthSwitchRequest(buf), { pluginName: 'mysql_native_password', pluginData: seed });
  assert.deepEqual(decodeAuthSwitchRequest(Buffer.from([0xfe])), { pluginName: 'mysql_old_password', pluginData: Buffer.alloc(0) });
  assert.throws(() => decodeAuthSwitchRequest(Buffer.from([0x00])), ProtocolError);
  assert.throws(() => decodeAuthSwitchRequest(Buffer.alloc(0)), ProtocolError);
});

test('auth more data: 0x01 header', () => {
  const buf = encodeAuthMoreData(Buffer.from([0x04]));
  assert.deepEqual(buf, Buffer.from([0x01, 0x04]));
  assert.deepEqual(decodeAuthMoreData(buf), Buffer.from([0x04]));
  assert.throws(() => decodeAuthMoreData(Buffer.from([0x02])), ProtocolError);
  assert.throws(() => decodeAuthMoreData(Buffer.alloc(0)), ProtocolError);
});
