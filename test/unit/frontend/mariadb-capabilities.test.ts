/**
 * MariaDB extended capabilities end to end at the byte level, without a server: the proxy's
 * greeting (CLIENT_MYSQL cleared, extended bits in the last 4 of the 10 reserved bytes) and what
 * it accepts back (the last 4 of the 23 reserved bytes of the response); the backend side asking
 * a scripted server for exactly the pool key's bits; and the unchanged bytes for MySQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pino } from 'pino';
import { BackendConnection, BackendLacksCapabilities } from '../../../src/backend/backend-connection.js';
import { HostPools } from '../../../src/backend/host-pools.js';
import { ClientChannel } from '../../../src/frontend/client-channel.js';
import { FRONTEND_MARIADB_CAPABILITIES, authenticate, type AuthenticatedClient } from '../../../src/frontend/authenticate.js';
import { CLIENT_MYSQL, Capability, MariaDbCapability as M, ServerStatus } from '../../../src/protocol/constants.js';
import { PacketDecoder, encodePacket } from '../../../src/protocol/framer.js';
import {
  decodeHandshakeResponse,
  decodeInitialHandshake,
  encodeHandshakeResponse,
  encodeInitialHandshake,
} from '../../../src/protocol/handshake.js';
import { createScramble, scrambleNativePassword } from '../../../src/protocol/auth.js';
import { encodeOk } from '../../../src/protocol/responses.js';

const silent = pino({ level: 'silent' });
/** What MariaDB 10.11 offers: PROGRESS, STMT_BULK_OPERATIONS, EXTENDED_METADATA, CACHE_METADATA. */
const MARIADB_1011 = M.PROGRESS | M.STMT_BULK_OPERATIONS | M.EXTENDED_METADATA | M.CACHE_METADATA;
const CLIENT_CAPS = (Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH) >>> 0;

/** Reads packets from a socket. */
function reader(socket: net.Socket): () => Promise<{ seq: number; payload: Buffer }> {
  const decoder = new PacketDecoder(1 << 24);
  const queue: { seq: number; payload: Buffer }[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (d: Buffer) => {
    decoder.push(d);
    for (let p = decoder.next(); p; p = decoder.next()) queue.push({ seq: p.seq, payload: Buffer.from(p.payload) });
    wake?.();
  });
  return async () => {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    return queue.shift()!;
  };
}

/**
 * Runs authenticate() on one connection with `offer` as what the backends offer, logs in as a
 * client that clears CLIENT_MYSQL or not and asks for `clientExt`; returns the greeting and what
 * the proxy negotiated.
 */
async function login(offer: number | undefined, clientClearsMysql: boolean, clientExt: number): Promise<{ greeting: Buffer; client: AuthenticatedClient }> {
  let result!: Promise<AuthenticatedClient | undefined>;
  const server = net.createServer((socket) => {
    const ch = new ClientChannel(socket, 1 << 24);
    result = authenticate(ch, {
      connectionId: 1,
      serverVersion: '10.11.9-MariaDB',
      users: [{ name: 'u', password: 'pw' }],
      remoteAddress: '127.0.0.1',
      ...(offer !== undefined ? { mariadbCapabilities: offer } : {}),
    });
    void result.then((c) => c && ch.send(encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, c.capabilities), (c.lastSeq + 1) & 0xff));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  try {
    const next = reader(socket);
    const greeting = (await next()).payload;
    const hs = decodeInitialHandshake(greeting);
    const caps = clientClearsMysql ? CLIENT_CAPS : (CLIENT_CAPS | CLIENT_MYSQL) >>> 0;
    const response = encodeHandshakeResponse({
      capabilities: caps,
      maxPacketSize: 1 << 24,
      charset: 45,
      user: 'u',
      authResponse: scrambleNativePassword('pw', hs.authPluginData),
      database: undefined,
      authPluginName: 'mysql_native_password',
      connectAttrs: undefined,
      mariadbCapabilities: clientExt,
    });
    // A MySQL client's reserved bytes are zero whatever it means: write the bits raw so the test
    // also shows the proxy ignores them when CLIENT_MYSQL is set.
    response.writeUInt32LE(clientExt >>> 0, 28);
    socket.write(encodePacket(response, 1));
    assert.equal((await next()).payload[0], 0x00);
    const client = await result;
    assert.ok(client);
    return { greeting, client };
  } finally {
    socket.destroy();
    server.close();
  }
}

/** Offset of the 4 MariaDB bytes in a greeting: after version, id, scramble 1, caps, charset, status, caps, length, 6 zeros. */
function greetingExtOffset(greeting: Buffer): number {
  return greeting.indexOf(0, 1) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 6;
}

test('greeting: backends with extended capabilities → CLIENT_MYSQL clear, the honoured bits in the reserved bytes', async () => {
  const { greeting, client } = await login(MARIADB_1011, true, MARIADB_1011 | M.BULK_UNIT_RESULTS);
  const caps = greeting.readUInt16LE(greeting.indexOf(0, 1) + 1 + 4 + 9) | (greeting.readUInt16LE(greeting.indexOf(0, 1) + 1 + 4 + 9 + 5) << 16);
  assert.equal(caps & CLIENT_MYSQL, 0);
  const at = greetingExtOffset(greeting);
  assert.deepEqual([...greeting.subarray(at - 6, at)], [0, 0, 0, 0, 0, 0]);
  assert.equal(greeting.readUInt32LE(at), M.STMT_BULK_OPERATIONS | M.EXTENDED_METADATA);
  assert.equal(decodeInitialHandshake(greeting).mariadbCapabilities, M.STMT_BULK_OPERATIONS | M.EXTENDED_METADATA);
  // Never CACHE_METADATA or PROGRESS, whatever the backends and the client offer.
  assert.equal(FRONTEND_MARIADB_CAPABILITIES & (M.CACHE_METADATA | M.PROGRESS | M.BULK_UNIT_RESULTS | M.COM_MULTI), 0);
  // The client gets what it asked for of what was offered.
  assert.equal(client.mariadbCapabilities, M.STMT_BULK_OPERATIONS | M.EXTENDED_METADATA);
});

test('greeting: only what every backend offers (intersection passed in), and what the client asks', async () => {
  const { greeting, client } = await login(M.EXTENDED_METADATA, true, M.EXTENDED_METADATA | M.STMT_BULK_OPERATIONS);
  assert.equal(decodeInitialHandshake(greeting).mariadbCapabilities, M.EXTENDED_METADATA);
  assert.equal(client.mariadbCapabilities, M.EXTENDED_METADATA);
  const mysql2Like = await login(MARIADB_1011, true, M.EXTENDED_METADATA);
  assert.equal(mysql2Like.client.mariadbCapabilities, M.EXTENDED_METADATA);
});

test('greeting for MySQL backends (nothing offered): CLIENT_MYSQL set, reserved bytes zero, bits sent anyway are ignored', async () => {
  for (const offer of [undefined, 0]) {
    const { greeting, client } = await login(offer, false, 0xffff);
    const hs = decodeInitialHandshake(greeting);
    assert.equal(hs.capabilities & CLIENT_MYSQL, CLIENT_MYSQL);
    assert.equal(hs.mariadbCapabilities, undefined);
    const at = greetingExtOffset(greeting);
    assert.deepEqual([...greeting.subarray(at - 6, at + 4)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(client.mariadbCapabilities, 0);
  }
  // A client that clears CLIENT_MYSQL although nothing was offered still gets nothing.
  const { client } = await login(0, true, MARIADB_1011);
  assert.equal(client.mariadbCapabilities, 0);
});

test('handshake response: the extended bits are the last 4 of the 23 reserved bytes, only with CLIENT_MYSQL clear', () => {
  const base = {
    maxPacketSize: 1 << 24,
    charset: 45,
    user: 'u',
    authResponse: Buffer.alloc(20, 1),
    database: undefined,
    authPluginName: undefined,
    connectAttrs: undefined,
    mariadbCapabilities: M.EXTENDED_METADATA | M.STMT_BULK_OPERATIONS,
  };
  const mariadb = encodeHandshakeResponse({ ...base, capabilities: CLIENT_CAPS });
  assert.deepEqual([...mariadb.subarray(9, 28)], new Array(19).fill(0));
  assert.equal(mariadb.readUInt32LE(28), 0x0c);
  assert.equal(decodeHandshakeResponse(mariadb).mariadbCapabilities, 0x0c);
  const mysql = encodeHandshakeResponse({ ...base, capabilities: (CLIENT_CAPS | CLIENT_MYSQL) >>> 0 });
  assert.equal(mysql.readUInt32LE(28), 0);
  assert.equal(decodeHandshakeResponse(mysql).mariadbCapabilities, undefined);
});

/**
 * A scripted server: greets with `ext` (undefined = MySQL), records the response, answers OK, and
 * answers OK to every command after that (the proxy turns on GTID tracking on a new connection).
 */
async function scriptedBackend(ext: number | undefined): Promise<{ port: number; responses: Buffer[]; close(): void }> {
  const responses: Buffer[] = [];
  const server = net.createServer((socket) => {
    const next = reader(socket);
    const seed = createScramble();
    const caps = (0xffffffff & ~Capability.SSL & ~Capability.COMPRESS & ~(ext !== undefined ? CLIENT_MYSQL : 0)) >>> 0;
    socket.write(
      encodePacket(
        encodeInitialHandshake({
          protocolVersion: 10,
          serverVersion: ext !== undefined ? '10.11.9-MariaDB' : '8.4.3',
          connectionId: 9,
          authPluginData: seed,
          capabilities: caps,
          charset: 45,
          statusFlags: ServerStatus.AUTOCOMMIT,
          authPluginName: 'mysql_native_password',
          ...(ext !== undefined ? { mariadbCapabilities: ext } : {}),
        }),
        0,
      ),
    );
    void (async () => {
      const hr = await next();
      responses.push(hr.payload);
      const clientCaps = decodeHandshakeResponse(hr.payload).capabilities;
      socket.write(encodePacket(encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, clientCaps), hr.seq + 1));
      for (;;) {
        const cmd = await next();
        socket.write(encodePacket(encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, clientCaps), cmd.seq + 1));
      }
    })().catch(() => undefined);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, responses, close: () => server.close() };
}

function backend(port: number, mariadbCapabilities: number): Promise<BackendConnection> {
  return BackendConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'app',
    password: 'pw',
    wireCapabilities: Capability.DEPRECATE_EOF,
    charset: 45,
    mariadbCapabilities,
    connectTimeoutMs: 2000,
    logger: silent,
  });
}

test('backend connection asks for exactly the pool key’s extended bits (CLIENT_MYSQL cleared for them)', async () => {
  const s = await scriptedBackend(MARIADB_1011);
  try {
    const conn = await backend(s.port, M.EXTENDED_METADATA);
    assert.equal(conn.serverMariadbCapabilities, MARIADB_1011);
    const r = decodeHandshakeResponse(s.responses[0]!);
    assert.equal(r.capabilities & CLIENT_MYSQL, 0);
    assert.equal(r.mariadbCapabilities, M.EXTENDED_METADATA);
    conn.destroy();
    // Key without extended bits: the reserved bytes stay zero (MariaDB reads "none").
    const plain = await backend(s.port, 0);
    assert.equal(s.responses[1]!.readUInt32LE(28), 0);
    plain.destroy();
  } finally {
    s.close();
  }
});

test('MySQL backend: bytes unchanged for a key without extended bits; a key with them is refused', async () => {
  const s = await scriptedBackend(undefined);
  try {
    const conn = await backend(s.port, 0);
    const r = s.responses[0]!;
    assert.equal(r.readUInt32LE(0) & CLIENT_MYSQL, CLIENT_MYSQL);
    assert.deepEqual([...r.subarray(9, 32)], new Array(23).fill(0));
    assert.equal(conn.serverMariadbCapabilities, 0);
    conn.destroy();
    await assert.rejects(backend(s.port, M.EXTENDED_METADATA), (err: unknown) => err instanceof BackendLacksCapabilities && err.serverMariadbCapabilities === 0);
  } finally {
    s.close();
  }
});

test('HostPools learns a host’s extended capabilities from its greeting and refuses keys it cannot serve', async () => {
  const s = await scriptedBackend(M.EXTENDED_METADATA);
  const pools = new HostPools(
    { host: '127.0.0.1', port: s.port, user: 'app', password: 'pw' },
    { min: 0, max: 2, acquireTimeoutMs: 2000, idleTimeoutMs: 60_000, connectTimeoutMs: 2000 },
    silent,
  );
  try {
    assert.equal(pools.mariadbCapabilities, undefined);
    await pools.learnCapabilities();
    assert.equal(pools.mariadbCapabilities, M.EXTENDED_METADATA);
    await assert.rejects(pools.acquire({ wireCapabilities: 0, charset: 45, mariadbCapabilities: M.STMT_BULK_OPERATIONS }), /lacks MariaDB capabilities/);
    const conn = await pools.acquire({ wireCapabilities: 0, charset: 45, mariadbCapabilities: M.EXTENDED_METADATA });
    assert.equal(conn.mariadbCapabilities, M.EXTENDED_METADATA);
    pools.release(conn);
  } finally {
    await pools.close();
    s.close();
  }
});
