/**
 * TLS through the proxy with real clients: client → proxy (mysql2 with `ssl`, the mariadb CLI
 * with --ssl-verify-server-cert), `tls.require` refusing plain logins with 3159 as a server
 * with require_secure_transport does, and proxy → backend (`dataHost.tls`), checked on the
 * backend session itself (Ssl_cipher of the connection the proxy opened).
 *
 * The certificates are the sandbox's (CN localhost, SAN DNS:localhost + IP:127.0.0.1).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type tls from 'node:tls';
import type mysql from 'mysql2/promise';
import { errnoOf, serverId, startProxy, type TestProxy } from '../helpers/proxy.js';
import { connectAdmin, getSandbox, waitFor, type SandboxInfo } from '../helpers/sandbox.js';

const execFileP = promisify(execFile);

let sb: SandboxInfo;
let noTls: string | false = false;

before(async () => {
  sb = await getSandbox();
  if (!sb.tls) noTls = 'the sandbox has no TLS certificates (openssl CLI missing?)';
});

/** Closes a proxy once its sessions have ended (a TLS client's session ends a little after the client). */
async function closeWhenIdle(proxy: TestProxy | undefined): Promise<void> {
  if (!proxy) return;
  await waitFor(() => proxy.sluice.frontend.sessionCount === 0, { what: 'client sessions to end' }).catch(() => undefined);
  await proxy.close();
}

function frontTls(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cert: sb.tls!.cert, key: sb.tls!.key, ...extra };
}

/** The TLS socket under a mysql2 connection, if the connection uses TLS. */
function tlsSocketOf(conn: mysql.Connection): tls.TLSSocket | undefined {
  const stream = (conn as unknown as { connection: { stream: { getCipher?: () => unknown } } }).connection.stream;
  return typeof stream.getCipher === 'function' ? (stream as unknown as tls.TLSSocket) : undefined;
}

/** Runs the mariadb CLI; resolves with its output whether it succeeded or not. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileP('mariadb', ['--no-defaults', ...args], { timeout: 20_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

async function sessionSsl(conn: mysql.Connection, hint = ''): Promise<string> {
  const [rows] = await conn.query(
    `${hint}SELECT VARIABLE_VALUE AS v FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher'`,
  );
  return String((rows as { v: unknown }[])[0]?.v ?? '');
}

describe('client → proxy TLS', () => {
  let proxy: TestProxy;
  before(async () => {
    if (!noTls) proxy = await startProxy({ tls: frontTls() });
  });
  after(() => closeWhenIdle(proxy));

  test('mysql2 with ssl: { ca } connects over TLS and runs queries (also a 4 MB result)', async (t) => {
    if (noTls) return t.skip(noTls);
    const conn = await proxy.connect({ ssl: { ca: readFileSync(sb.tls!.ca) } });
    try {
      const socket = tlsSocketOf(conn);
      assert.ok(socket, 'the mysql2 stream is a TLS socket');
      assert.ok(socket.getCipher()?.name, 'a cipher is negotiated');
      assert.ok(socket.authorized, 'the proxy certificate verified against the sandbox CA');
      const [rows] = await conn.query("SELECT 1 + 1 AS two, REPEAT('x', 4 * 1024 * 1024) AS big");
      const row = (rows as { two: number; big: string }[])[0]!;
      assert.equal(row.two, 2);
      assert.equal(row.big.length, 4 * 1024 * 1024);
      // Transactions and prepared reads work the same way.
      await conn.query('BEGIN');
      assert.equal(await serverId(conn), sb.primary.serverId);
      await conn.query('COMMIT');
    } finally {
      await conn.end();
    }
  });

  test('TLS is optional without require: a plain mysql2 login still works', async (t) => {
    if (noTls) return t.skip(noTls);
    const conn = await proxy.connect();
    try {
      assert.equal(tlsSocketOf(conn), undefined);
      const [rows] = await conn.query('SELECT 1 AS one');
      assert.equal((rows as { one: number }[])[0]!.one, 1);
    } finally {
      await conn.end();
    }
  });

  test('mariadb CLI --ssl-verify-server-cert: status shows the cipher in use', async (t) => {
    if (noTls) return t.skip(noTls);
    const r = await cli([
      '-h', '127.0.0.1', '-P', String(proxy.port), '-u', sb.user, `-p${sb.password}`,
      '--ssl', `--ssl-ca=${sb.tls!.ca}`, '--ssl-verify-server-cert', '-e', 'status', sb.database,
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SSL:\s+Cipher in use is \S+/, r.out);
  });
});

describe('tls.require', () => {
  let proxy: TestProxy;
  before(async () => {
    if (!noTls) proxy = await startProxy({ tls: frontTls({ require: true }) });
  });
  after(() => closeWhenIdle(proxy));

  test('a plain login is refused with 3159, as with require_secure_transport', async (t) => {
    if (noTls) return t.skip(noTls);
    assert.equal(await errnoOf(() => proxy.connect()), 3159);
    const r = await cli(['-h', '127.0.0.1', '-P', String(proxy.port), '-u', sb.user, `-p${sb.password}`, '--skip-ssl', '-e', 'SELECT 1']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /ERROR 3159 \(08004\).*insecure transport are prohibited while --require_secure_transport=ON/, r.out);
  });

  test('a TLS login is accepted (mysql2 and the CLI)', async (t) => {
    if (noTls) return t.skip(noTls);
    const conn = await proxy.connect({ ssl: { ca: readFileSync(sb.tls!.ca) } });
    try {
      assert.ok(tlsSocketOf(conn)?.getCipher()?.name);
      await conn.query('SELECT 1');
    } finally {
      await conn.end();
    }
    const r = await cli([
      '-h', '127.0.0.1', '-P', String(proxy.port), '-u', sb.user, `-p${sb.password}`,
      `--ssl-ca=${sb.tls!.ca}`, '--ssl-verify-server-cert', '-N', '-e', 'SELECT 40 + 2',
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^42$/m);
  });
});

describe('proxy → backend TLS (dataHost.tls)', () => {
  test('with the CA: every backend connection runs over TLS (readers and the writer)', async (t) => {
    if (noTls) return t.skip(noTls);
    const proxy = await startProxy({ dataHost: { tls: { enabled: true, ca: sb.tls!.ca } } });
    try {
      const conn = await proxy.connect();
      try {
        assert.notEqual(await sessionSsl(conn), '', 'read on a readHost');
        assert.notEqual(await sessionSsl(conn, '/*master*/ '), '', 'on the writeHost');
        const [rows] = await conn.query("SELECT REPEAT('y', 4 * 1024 * 1024) AS big");
        assert.equal((rows as { big: string }[])[0]!.big.length, 4 * 1024 * 1024, 'a large result relayed from a TLS backend');
        await conn.query('CREATE TABLE IF NOT EXISTS tls_probe (id INT PRIMARY KEY)');
        await conn.query('REPLACE INTO tls_probe VALUES (1)');
        await conn.query('DROP TABLE tls_probe');
      } finally {
        await conn.end();
      }
    } finally {
      await closeWhenIdle(proxy);
    }
  });

  test('a backend that requires TLS (require_secure_transport) stays UP: heartbeats and replication probes use TLS too', async (t) => {
    if (noTls) return t.skip(noTls);
    const replica = sb.replicas[1]!;
    const admin = await connectAdmin(replica);
    await admin.query('SET GLOBAL require_secure_transport = ON');
    const proxy = await startProxy({ dataHost: { tls: { enabled: true, ca: sb.tls!.ca } } });
    try {
      // A few heartbeat and replication rounds.
      await new Promise((r) => setTimeout(r, 1500));
      const h = proxy.sluice.cluster.view.hosts.find((x) => x.port === replica.port)!;
      assert.equal(h.status, 'up', `status ${h.status}: ${h.lastError ?? ''}`);
      assert.equal(h.replication?.probeError, undefined, 'the replication probe works');
      const conn = await proxy.connect();
      try {
        await waitFor(async () => (await serverId(conn)) === replica.serverId, { timeoutMs: 10_000, what: 'reads on the TLS-only replica' });
      } finally {
        await conn.end();
      }
    } finally {
      await admin.query('SET GLOBAL require_secure_transport = OFF');
      await admin.end();
      await closeWhenIdle(proxy);
    }
  });

  test('without TLS the backend sessions are plain (the check above means something)', async () => {
    const proxy = await startProxy();
    try {
      const conn = await proxy.connect();
      try {
        assert.equal(await sessionSsl(conn, '/*master*/ '), '');
      } finally {
        await conn.end();
      }
    } finally {
      await closeWhenIdle(proxy);
    }
  });

  test('verify: a certificate that does not name the host fails; verify: false accepts it', async (t) => {
    if (noTls) return t.skip(noTls);
    const wrongName = await startProxy({
      dataHost: { tls: { enabled: true, ca: sb.tls!.ca, servername: 'db.example.com' }, pool: { min: 0, max: 4, acquireTimeoutMs: 3000 } },
      monitor: false,
    });
    try {
      const errno = await errnoOf(async () => {
        const conn = await wrongName.connect();
        try {
          await conn.query('/*master*/ SELECT 1');
        } finally {
          await conn.end();
        }
      });
      assert.equal(errno, 2003, 'backend unreachable (TLS verification failed)');
    } finally {
      await closeWhenIdle(wrongName);
    }
    const unverified = await startProxy({ dataHost: { tls: { enabled: true, verify: false } } });
    try {
      const conn = await unverified.connect();
      try {
        assert.notEqual(await sessionSsl(conn, '/*master*/ '), '');
      } finally {
        await conn.end();
      }
    } finally {
      await closeWhenIdle(unverified);
    }
  });

  test('both sides at once: TLS client, TLS backends', async (t) => {
    if (noTls) return t.skip(noTls);
    const proxy = await startProxy({ tls: frontTls({ require: true }), dataHost: { tls: { enabled: true, ca: sb.tls!.ca } } });
    try {
      const conn = await proxy.connect({ ssl: { ca: readFileSync(sb.tls!.ca) } });
      try {
        assert.ok(tlsSocketOf(conn)?.getCipher()?.name);
        assert.notEqual(await sessionSsl(conn), '');
      } finally {
        await conn.end();
      }
    } finally {
      await closeWhenIdle(proxy);
    }
  });
});
