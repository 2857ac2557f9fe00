/**
 * The network edge (limits section): silent connections closed at the handshake timeout, caps on
 * connections still in the handshake (while a real client logs in), failed-login delays per
 * (user, address), and addresses blocked after handshake errors until FLUSH HOSTS. Sources other
 * than 127.0.0.1 are other loopback addresses (127.0.0.2 …, `localAddress`), which Linux routes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import mysql from 'mysql2/promise';
import { errnoOf, startProxy, type TestProxy } from '../helpers/proxy.js';
import { startBuiltProxy } from '../helpers/built-proxy.js';
import { getSandbox } from '../helpers/sandbox.js';
import { SANDBOX_PROXY_ADMIN_USER } from '../../src/sandbox/index.js';

const ADMIN = { host: '127.0.0.1', port: 0, user: 'admin', password: 'admin-secret' };

/** A raw TCP client: what the proxy sent, and when it closed the connection. */
interface RawPeer {
  readonly socket: net.Socket;
  received(): Buffer;
  readonly closed: Promise<number>;
  /** Errno of the first packet when it is an ERR packet (refused before the greeting). */
  firstErrno(): number | undefined;
}

function rawPeer(port: number, localAddress = '127.0.0.1'): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let data = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
    socket.on('error', () => undefined);
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        closed,
        firstErrno: () => (data.length >= 7 && data[4] === 0xff ? data.readUInt16LE(5) : undefined),
      }),
    );
    socket.once('error', reject);
  });
}

/** Waits until the peer has its first packet (greeting or ERR). */
async function firstPacket(p: RawPeer): Promise<void> {
  for (let i = 0; i < 200 && p.received().length < 5; i++) await new Promise((r) => setTimeout(r, 10));
}

function capture(): { stream: PassThrough; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, lines: () => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** mysql2 options for a client connecting from `localAddress` (mysql2 itself ignores that option). */
function from(proxy: TestProxy, localAddress: string): mysql.ConnectionOptions {
  return { stream: () => net.connect({ host: '127.0.0.1', port: proxy.port, localAddress }) } as mysql.ConnectionOptions;
}

async function login(proxy: TestProxy, opts: mysql.ConnectionOptions = {}): Promise<void> {
  const c = await proxy.connect(opts);
  const [rows] = await c.query('SELECT 1 AS one');
  assert.deepEqual(rows, [{ one: 1 }]);
  await c.end();
}

test('silent connections are closed by the proxy at limits.handshakeTimeoutMs, without a word, counted and logged once per address', async () => {
  const out = capture();
  const p = await startProxy({ top: { limits: { handshakeTimeoutMs: 500 } }, logStream: out.stream, log: { level: 'warn' } });
  try {
    const started = Date.now();
    const peers = await Promise.all(Array.from({ length: 20 }, () => rawPeer(p.port)));
    const closedAt = await Promise.all(peers.map((x) => x.closed));
    for (const [i, at] of closedAt.entries()) {
      const after = at - started;
      assert.ok(after >= 450 && after < 3_000, `connection ${i} closed after ${after} ms`);
      const got = peers[i]!.received();
      // The greeting (protocol 10) and nothing after it: MariaDB sends nothing at connect_timeout either.
      assert.equal(got[4], 0x0a);
      assert.equal(got.length, 4 + got.readUIntLE(0, 3), 'nothing but the greeting was sent');
      // closed by the proxy: the client side never ended it
      assert.equal(peers[i]!.socket.destroyed, true);
    }
    assert.equal(p.sluice.stats.edge.handshakeTimeouts, 20);
    assert.equal(p.sluice.frontend.admission.handshakes, 0, 'every handshake place was given back');
    const logged = out.lines().filter((l) => String(l['msg']).startsWith('handshake not completed'));
    assert.equal(logged.length, 1, 'one line for 20 timeouts from one address');
    // A real client is not affected by the timeout.
    await login(p);
  } finally {
    await p.close();
  }
});

test('handshake caps: the excess is refused at once with 1040 (per address, then in all), while a real client logs in', async () => {
  const p = await startProxy({ top: { limits: { maxUnauthenticated: 60, maxUnauthenticatedPerAddress: 32 } } });
  const peers: RawPeer[] = [];
  try {
    // 500 silent connections from 127.0.0.2: 32 wait in the handshake, 468 are refused at once.
    for (let i = 0; i < 500; i++) peers.push(await rawPeer(p.port, '127.0.0.2'));
    await Promise.all(peers.map(firstPacket));
    const refused = peers.filter((x) => x.firstErrno() === 1040);
    assert.equal(refused.length, 468);
    await Promise.all(refused.map((x) => x.closed)); // closed by the proxy, not left open
    assert.equal(peers.filter((x) => x.received()[4] === 0x0a).length, 32);
    assert.equal(p.sluice.stats.edge.refused['handshake-limit-per-address'], 468);
    // Meanwhile a real client from another address logs in and runs a statement.
    const t0 = Date.now();
    await login(p);
    assert.ok(Date.now() - t0 < 2_000);
    // 28 more from 127.0.0.3 fill the 60 places: the next connection, from anywhere, gets 1040.
    for (let i = 0; i < 28; i++) peers.push(await rawPeer(p.port, '127.0.0.3'));
    await Promise.all(peers.slice(-28).map(firstPacket));
    assert.equal(p.sluice.frontend.admission.handshakes, 60);
    assert.equal(await errnoOf(() => p.connect()), 1040);
    assert.equal(p.sluice.stats.edge.refused['handshake-limit'], 1);
    // Once they leave, logins go through again.
    for (const x of peers) x.socket.destroy();
    for (let i = 0; i < 100 && p.sluice.frontend.admission.handshakes > 0; i++) await new Promise((r) => setTimeout(r, 20));
    await login(p);
    // Sockets that closed without sending a byte are TCP checks, not handshake errors.
    assert.equal(p.sluice.stats.edge.handshakeErrors, 0);
  } finally {
    for (const x of peers) x.socket.destroy();
    await p.close();
  }
});

test('failed logins: the 6th wrong password of (user, address) is answered 1 s late, a right one from 127.0.0.2 meanwhile is not; a success clears it', async () => {
  const p = await startProxy({ top: { limits: { failedLoginThreshold: 5, failedLoginMaxDelayMs: 10_000 } } });
  try {
    const wrong = async (): Promise<number> => {
      const t0 = Date.now();
      assert.equal(await errnoOf(() => p.connect({ password: 'wrong-password' })), 1045);
      return Date.now() - t0;
    };
    for (let i = 1; i <= 5; i++) assert.ok((await wrong()) < 500, `wrong password ${i} is answered at once`);
    const sixth = wrong();
    const t0 = Date.now();
    await login(p, from(p, '127.0.0.2'));
    const other = Date.now() - t0;
    const sixthMs = await sixth;
    assert.ok(sixthMs >= 950 && sixthMs < 2_500, `6th wrong password answered after ${sixthMs} ms`);
    assert.ok(other < 500, `the right password from 127.0.0.2 took ${other} ms while the 6th waited`);
    // The right password from the throttled address waits too (2 s now), then clears the record.
    const t1 = Date.now();
    await login(p);
    const rightMs = Date.now() - t1;
    assert.ok(rightMs >= 1_900, `the right password from the throttled address took ${rightMs} ms`);
    assert.ok((await wrong()) < 500, 'after a success a wrong password is answered at once again');
    assert.equal(p.sluice.stats.edge.loginDelays, 2);
  } finally {
    await p.close();
  }
});

test('an address with limits.maxConnectErrors bad handshakes gets 1129 until FLUSH HOSTS on the admin port; others are not affected', async () => {
  const p = await startProxy({
    top: { limits: { maxConnectErrors: 3 } },
    admin: ADMIN,
    http: { host: '127.0.0.1', port: 0 },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const x = await rawPeer(p.port, '127.0.0.3');
      await firstPacket(x);
      // A handshake response that is not one: 3 bytes of payload.
      x.socket.write(Buffer.from([3, 0, 0, 1, 1, 2, 3]));
      await x.closed;
      const got = x.received();
      const err = got.subarray(4 + got.readUIntLE(0, 3));
      assert.equal(err.readUInt16LE(5), 1043, 'Bad handshake');
    }
    assert.equal(await errnoOf(() => p.connect(from(p, '127.0.0.3'))), 1129);
    // Refused before the greeting: the raw client's first packet is the ERR.
    const refused = await rawPeer(p.port, '127.0.0.3');
    await refused.closed;
    assert.equal(refused.firstErrno(), 1129);
    await login(p); // 127.0.0.1 is not blocked
    assert.equal(p.sluice.stats.edge.refused['host-blocked'], 2);

    const metrics = await (await fetch(`http://127.0.0.1:${p.sluice.httpAddress!.port}/metrics`)).text();
    assert.match(metrics, /^sluice_blocked_hosts 1$/m);
    assert.match(metrics, /^sluice_connections_refused_total\{reason="host-blocked"\} 2$/m);
    assert.match(metrics, /^sluice_handshake_errors_total 3$/m);

    const admin = await mysql.createConnection({ host: '127.0.0.1', port: p.sluice.adminAddress!.port, user: ADMIN.user, password: ADMIN.password });
    try {
      const [rows] = await admin.query('SHOW @@BLOCKED_HOSTS');
      assert.deepEqual(
        (rows as Record<string, unknown>[]).map((r) => [r['ADDRESS'], r['ERRORS'], r['BLOCKED']]),
        [['127.0.0.3', 3, 'yes']],
      );
      const [res] = await admin.query('FLUSH HOSTS');
      assert.equal((res as mysql.ResultSetHeader).affectedRows, 1);
      const [after] = await admin.query('SELECT * FROM blocked_hosts');
      assert.deepEqual(after, []);
    } finally {
      await admin.end();
    }
    await login(p, from(p, '127.0.0.3'));
  } finally {
    await p.close();
  }
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test('worker processes: handshake errors spread over the workers block the address for the whole group; FLUSH HOSTS in the primary unblocks it', async () => {
  const sb = await getSandbox();
  const adminPort = await freePort();
  const proxy = await startBuiltProxy(sb, { workers: 2, limits: { maxConnectErrors: 4 } }, { admin: { port: adminPort, password: 'edge-admin' } });
  const p = { port: proxy.port } as TestProxy;
  try {
    // 4 bad handshakes from 127.0.0.3: the primary hands connections to the workers in turn.
    for (let i = 0; i < 4; i++) {
      const x = await rawPeer(proxy.port, '127.0.0.3');
      await firstPacket(x);
      x.socket.write(Buffer.from([3, 0, 0, 1, 1, 2, 3]));
      await x.closed;
    }
    // Every worker refuses it now (the blocked set reaches them by message: wait for it).
    let refusedAll = false;
    for (let i = 0; i < 50 && !refusedAll; i++) {
      const errnos: (number | undefined)[] = [];
      for (let k = 0; k < 4; k++) {
        const x = await rawPeer(proxy.port, '127.0.0.3');
        await x.closed.catch(() => undefined);
        await firstPacket(x);
        errnos.push(x.firstErrno());
        x.socket.destroy();
      }
      refusedAll = errnos.every((e) => e === 1129);
      if (!refusedAll) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(refusedAll, 'both workers refuse 127.0.0.3 with 1129');
    const conn = (localAddress: string): Promise<mysql.Connection> =>
      mysql.createConnection({ user: sb.user, password: sb.password, ...from(p, localAddress) });
    assert.equal(await errnoOf(() => conn('127.0.0.3')), 1129);
    const admin = await mysql.createConnection({ host: '127.0.0.1', port: adminPort, user: SANDBOX_PROXY_ADMIN_USER, password: 'edge-admin' });
    try {
      const [rows] = await admin.query('SHOW @@BLOCKED_HOSTS');
      assert.deepEqual((rows as Record<string, unknown>[]).map((r) => [r['ADDRESS'], r['BLOCKED']]), [['127.0.0.3', 'yes']]);
      await admin.query('FLUSH HOSTS');
    } finally {
      await admin.end();
    }
    // The unblocked set reaches the workers by message too.
    for (let i = 0; i < 4; i++) {
      let c: mysql.Connection | undefined;
      for (let k = 0; k < 50 && !c; k++) c = await conn('127.0.0.3').catch(async () => (await new Promise((r) => setTimeout(r, 20)), undefined));
      assert.ok(c, 'logs in after FLUSH HOSTS');
      await c.end();
    }
  } finally {
    await proxy.stop();
  }
});
