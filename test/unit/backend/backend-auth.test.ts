/**
 * The backend connection's authentication exchanges that MariaDB 10.11 cannot show us:
 * caching_sha2_password (MySQL 8's default) on its fast path and with full authentication via
 * the server's RSA public key, and an auth switch. The peer is a scripted server built from the
 * project's codec, playing the server side of each exchange byte for byte as MySQL 8 does
 * (https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { BackendConnection, BackendSqlError } from '../../../src/backend/backend-connection.js';
import { Capability, ServerStatus } from '../../../src/protocol/constants.js';
import { PacketDecoder, encodePacket } from '../../../src/protocol/framer.js';
import {
  decodeHandshakeResponse,
  encodeAuthSwitchRequest,
  encodeInitialHandshake,
} from '../../../src/protocol/handshake.js';
import {
  createScramble,
  decryptPasswordWithPrivateKey,
  nativePasswordHash,
  verifyCachingSha2Scramble,
  verifyNativePassword,
} from '../../../src/protocol/auth.js';
import { encodeErr, encodeOk } from '../../../src/protocol/responses.js';

const PASSWORD = 'p@ss-w0rd';
/** A MySQL server is asked to report each commit's GTID in its OK packets (causal reads). */
const MYSQL_TRACKING = 'track:SET session_track_gtids = OWN_GTID';
const SERVER_CAPS = (0xffffffff & ~Capability.SSL & ~Capability.COMPRESS) >>> 0;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

type Mode = 'fast' | 'full' | 'switch-native' | 'wrong';

/** One connection of a scripted MySQL 8 server; resolves with what happened. */
function scriptedServer(mode: Mode): Promise<{ port: number; done: Promise<string[]> }> {
  return new Promise((resolveServer) => {
    const events: string[] = [];
    let finish!: (e: string[]) => void;
    const done = new Promise<string[]>((r) => (finish = r));
    const server = net.createServer((socket) => {
      const decoder = new PacketDecoder(1 << 24);
      const queue: { seq: number; payload: Buffer }[] = [];
      let wake: (() => void) | undefined;
      socket.on('data', (d: Buffer) => {
        decoder.push(d);
        for (let p = decoder.next(); p; p = decoder.next()) queue.push({ seq: p.seq, payload: Buffer.from(p.payload) });
        wake?.();
      });
      const next = async () => {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        return queue.shift()!;
      };
      const seed = createScramble();
      void (async () => {
        socket.write(
          encodePacket(
            encodeInitialHandshake({
              protocolVersion: 10,
              serverVersion: '8.4.3',
              connectionId: 42,
              authPluginData: seed,
              capabilities: SERVER_CAPS,
              charset: 255,
              statusFlags: ServerStatus.AUTOCOMMIT,
              authPluginName: 'caching_sha2_password',
            }),
            0,
          ),
        );
        const hr = await next();
        const resp = decodeHandshakeResponse(hr.payload);
        events.push(`plugin:${resp.authPluginName}`);
        let seq = hr.seq + 1;
        const ok = () => socket.write(encodePacket(encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, resp.capabilities), seq++));
        if (mode === 'switch-native') {
          const seed2 = createScramble();
          socket.write(encodePacket(encodeAuthSwitchRequest('mysql_native_password', Buffer.concat([seed2, Buffer.from([0])])), seq++));
          const token = await next();
          seq = token.seq + 1;
          events.push(`native:${verifyNativePassword(seed2, token.payload, nativePasswordHash(PASSWORD))}`);
          ok();
        } else {
          const valid = verifyCachingSha2Scramble(seed, resp.authResponse, sha256(sha256(PASSWORD)));
          events.push(`scramble:${valid}`);
          if (mode === 'wrong' || !valid) {
            socket.write(encodePacket(encodeErr({ errno: 1045, sqlState: '28000', message: "Access denied for user 'app'" }), seq++));
          } else if (mode === 'fast') {
            socket.write(encodePacket(Buffer.from([0x01, 0x03]), seq++));
            ok();
          } else {
            socket.write(encodePacket(Buffer.from([0x01, 0x04]), seq++));
            const req = await next();
            events.push(`request:${req.payload.toString('hex')}`);
            seq = req.seq + 1;
            socket.write(encodePacket(Buffer.concat([Buffer.from([0x01]), Buffer.from(publicKey)]), seq++));
            const enc = await next();
            seq = enc.seq + 1;
            events.push(`password:${decryptPasswordWithPrivateKey(enc.payload, seed, privateKey) === PASSWORD}`);
            ok();
          }
        }
        if (resp.capabilities & Capability.SESSION_TRACK) {
          // The proxy's first statement on a new connection turns on GTID tracking.
          const track = await next();
          events.push(`track:${track.payload.subarray(1).toString('utf8')}`);
          socket.write(encodePacket(encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, resp.capabilities), track.seq + 1));
        }
        finish(events);
        setTimeout(() => socket.destroy(), 50);
        server.close();
      })();
    });
    server.listen(0, '127.0.0.1', () => resolveServer({ port: (server.address() as net.AddressInfo).port, done }));
  });
}

async function connect(port: number, password = PASSWORD): Promise<BackendConnection> {
  return BackendConnection.connect({
    host: '127.0.0.1',
    port,
    user: 'app',
    password,
    wireCapabilities: Capability.DEPRECATE_EOF,
    charset: 45,
    connectTimeoutMs: 2000,
    logger: pino({ level: 'silent' }),
  });
}

test('caching_sha2_password fast path', async () => {
  const s = await scriptedServer('fast');
  const conn = await connect(s.port);
  assert.deepEqual(await s.done, ['plugin:caching_sha2_password', 'scramble:true', MYSQL_TRACKING]);
  assert.equal(conn.serverVersion, '8.4.3');
  assert.equal(conn.threadId, 42);
  conn.destroy();
});

test('caching_sha2_password full authentication with the server’s RSA public key', async () => {
  const s = await scriptedServer('full');
  const conn = await connect(s.port);
  assert.deepEqual(await s.done, ['plugin:caching_sha2_password', 'scramble:true', 'request:02', 'password:true', MYSQL_TRACKING]);
  conn.destroy();
});

test('auth switch to mysql_native_password', async () => {
  const s = await scriptedServer('switch-native');
  const conn = await connect(s.port);
  assert.deepEqual(await s.done, ['plugin:caching_sha2_password', 'native:true', MYSQL_TRACKING]);
  conn.destroy();
});

test('a refused login surfaces the server’s error (1045)', async () => {
  const s = await scriptedServer('wrong');
  await assert.rejects(connect(s.port), (err: unknown) => err instanceof BackendSqlError && err.errno === 1045);
});
