/**
 * The HTTP operations endpoint (`http:` in the config): /health for HAProxy httpchk (write and
 * read roles), /metrics in Prometheus text, /status.json (with the admin port's numbers), the
 * status page's HTML, bad requests. With cluster.cooperation: a proxy alone in front of the
 * sandbox leads (the servers really hold its locks) and every surface says so; one that reaches
 * only one server of three refuses writes, and /health sends write traffic elsewhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import mysql from 'mysql2/promise';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { adminQuery, waitFor } from '../helpers/sandbox.js';

let proxy: TestProxy;
let base: string;

const ADMIN = { host: '127.0.0.1', port: 0, user: 'admin', password: 'http-test' };

before(async () => {
  proxy = await startProxy({ http: { host: '127.0.0.1', port: 0 }, admin: ADMIN });
  const a = proxy.sluice.httpAddress;
  assert.ok(a, 'httpAddress is set when config.http is');
  base = `http://127.0.0.1:${a.port}`;
});

after(async () => {
  await proxy?.close();
});

async function get(url: string, init?: RequestInit): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(url, init);
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}

/** A TCP port nobody listens on (bound then released). */
async function unusedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('GET /health', () => {
  test('200 with a writable writeHost', async () => {
    const r = await get(`${base}/health`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.type, /application\/json/);
    const body = JSON.parse(r.text) as { status: string; writer: string };
    assert.equal(body.status, 'ok');
    assert.equal(body.writer, `${proxy.sandbox.primary.host}:${proxy.sandbox.primary.port}`);
  });

  test('role=read: 200 once a readHost is readable', async () => {
    const body = await waitFor(
      async () => {
        const r = await get(`${base}/health?role=read`);
        return r.status === 200 && (JSON.parse(r.text) as { readable: string[] });
      },
      { what: '/health?role=read to be 200' },
    );
    assert.ok(body.readable.length >= 1);
  });

  test('unknown role is a 400, HEAD works, POST is 405', async () => {
    assert.equal((await get(`${base}/health?role=bogus`)).status, 400);
    const head = await fetch(`${base}/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await get(`${base}/health`, { method: 'POST', body: 'x' })).status, 405);
  });

  test('503 with a reason when the writeHost does not answer', async () => {
    const port = await unusedPort();
    const dead = await startProxy({
      http: { host: '127.0.0.1', port: 0 },
      dataHost: { writeHosts: [{ host: '127.0.0.1', port }] },
    });
    try {
      const url = `http://127.0.0.1:${dead.sluice.httpAddress!.port}/health`;
      const body = await waitFor(
        async () => {
          const r = await get(url);
          return r.status === 503 && (JSON.parse(r.text) as { status: string; reason: string });
        },
        { what: '/health to answer 503', timeoutMs: 15_000 },
      );
      assert.equal(body.status, 'unavailable');
      assert.match(body.reason, new RegExp(`no writeHost: .*127\\.0\\.0\\.1:${port}`));
      // The status page data says the same.
      const s = JSON.parse((await get(url.replace('/health', '/status.json'))).text) as { writer: unknown; writerBlocked: string };
      assert.equal(s.writer, null);
      assert.match(s.writerBlocked, new RegExp(`${port}`));
    } finally {
      await dead.close();
    }
  });
});

describe('GET /metrics', () => {
  test('Prometheus text with every sluice metric and one backend_up line per host', async () => {
    // Some traffic first, so the statement counters move.
    const conn = await proxy.connect();
    try {
      await conn.query('SELECT 1');
      await conn.query('SELECT 2');
    } finally {
      await conn.end();
    }
    const r = await get(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.type, /text\/plain/);
    for (const name of [
      'sluice_client_connections',
      'sluice_statements_total',
      'sluice_errors_total',
      'sluice_retries_total',
      'sluice_session_pins_total',
      'sluice_backend_up',
      'sluice_backend_readable',
      'sluice_backend_connections',
      'sluice_backend_statements_total',
      'sluice_writer_index',
      'sluice_failovers_total',
      'sluice_statement_duration_seconds',
      'process_cpu_user_seconds_total',
    ]) {
      assert.match(r.text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} missing`);
    }
    // Every line is a comment or `name{labels} value`.
    for (const line of r.text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfNa]+$/, `bad line: ${line}`);
    }
    const sb = proxy.sandbox;
    const hosts = [sb.primary, ...sb.replicas].map((h) => `${h.host}:${h.port}`);
    for (const id of hosts) {
      assert.match(r.text, new RegExp(`^sluice_backend_up\\{host="${id.replace(/\./g, '\\.')}",role="(write|read)"\\} [01]$`, 'm'), id);
    }
    assert.match(r.text, new RegExp(`^sluice_backend_up\\{host="${hosts[0]!.replace(/\./g, '\\.')}",role="write"\\} 1$`, 'm'));
    const reader = Number(/^sluice_statements_total\{route="reader"\} (\d+)$/m.exec(r.text)?.[1]);
    const writer = Number(/^sluice_statements_total\{route="writer"\} (\d+)$/m.exec(r.text)?.[1]);
    assert.ok(reader + writer >= 2, `statements counted: writer ${writer} reader ${reader}`);
    let perHost = 0;
    for (const id of hosts) {
      const m = new RegExp(`^sluice_backend_statements_total\\{host="${id.replace(/\./g, '\\.')}",role="(?:write|read)"\\} (\\d+)$`, 'm').exec(r.text);
      assert.ok(m, `sluice_backend_statements_total for ${id}`);
      perHost += Number(m[1]);
    }
    assert.equal(perHost, reader + writer, 'per-host counts add up to the per-route ones');
    assert.match(r.text, /^sluice_writer_index 0$/m);
    assert.match(r.text, /^sluice_failovers_total 0$/m);
    // Cooperation is off: no cluster gauges that could read as "no majority".
    assert.doesNotMatch(r.text, /^# TYPE sluice_cluster_/m);
  });
});

describe('GET /status.json and /', () => {
  test('status.json lists every backend', async () => {
    const r = await get(`${base}/status.json`);
    assert.equal(r.status, 200);
    const s = JSON.parse(r.text) as {
      writer: string;
      backends: { id: string; role: string; state: string; active: boolean }[];
      transitions: unknown[];
      statements: { total: number };
    };
    const sb = proxy.sandbox;
    assert.deepEqual(
      s.backends.map((b) => b.id),
      [sb.primary, ...sb.replicas].map((h) => `${h.host}:${h.port}`),
    );
    assert.equal(s.backends[0]!.role, 'writeHost');
    assert.equal(s.backends[0]!.active, true);
    assert.ok(s.backends.slice(1).every((b) => b.role === 'readHost'));
    assert.equal(s.writer, s.backends[0]!.id);
    assert.ok(Array.isArray(s.transitions));
  });

  test('status.json numbers backends like the admin port, and counts statements per backend', async () => {
    const conn = await proxy.connect();
    try {
      for (let i = 0; i < 5; i++) await conn.query('SELECT 1');
    } finally {
      await conn.end();
    }
    const admin = await mysql.createConnection({ host: '127.0.0.1', port: proxy.sluice.adminAddress!.port, user: ADMIN.user, password: ADMIN.password });
    let backends: Record<string, unknown>[];
    let datasource: Record<string, unknown>[];
    try {
      backends = (await admin.query('SELECT * FROM backends'))[0] as Record<string, unknown>[];
      datasource = (await admin.query('SHOW @@DATASOURCE'))[0] as Record<string, unknown>[];
    } finally {
      await admin.end();
    }
    const s = JSON.parse((await get(`${base}/status.json`)).text) as {
      startedAt: string;
      uptimeSeconds: number;
      statements: { total: number; writer: number; reader: number; perSecondSinceStart: number };
      consistency: { none: number; waited: number; fallback: number };
      backends: { backendNdx: number; id: string; role: string; index: number; switchDatasource: string | null; statements: number | null }[];
    };
    // backend_ndx, address, role[index] and the SWITCH argument: the same as SELECT * FROM backends.
    assert.deepEqual(
      s.backends.map((b) => [b.backendNdx, b.id, `${b.role}[${b.index}]`, b.switchDatasource]),
      backends.map((r) => [r.backend_ndx, r.address, r.role, r.switch_datasource]),
    );
    // And SHOW @@DATASOURCE's INDEX / BACKEND_NDX pair.
    assert.deepEqual(
      s.backends.map((b) => [b.backendNdx, b.index]),
      datasource.map((r) => [r.BACKEND_NDX, r.INDEX]),
    );
    assert.equal(s.backends[0]!.switchDatasource, 'dh1:0');
    assert.ok(s.backends.filter((b) => b.role === 'readHost').every((b) => b.switchDatasource === null));
    // The per-backend counts are sluice_backend_statements_total: with nothing retried they add
    // up to the statements routed.
    const perBackend = s.backends.reduce((n, b) => n + (b.statements ?? 0), 0);
    assert.ok(s.backends.every((b) => typeof b.statements === 'number'), JSON.stringify(s.backends));
    assert.equal(perBackend, s.statements.writer + s.statements.reader);
    const metrics = (await get(`${base}/metrics`)).text;
    for (const b of s.backends) {
      const m = new RegExp(`^sluice_backend_statements_total\\{host="${b.id.replace(/\./g, '\\.')}",role="(?:write|read)"\\} (\\d+)$`, 'm').exec(metrics);
      assert.ok(m, b.id);
      assert.ok(Number(m[1]) >= b.statements!, `${b.id}: metrics ${m[1]} vs status ${b.statements}`);
    }
    // A rate from the first sample: total over uptime.
    assert.ok(s.statements.total >= 5);
    assert.ok(s.uptimeSeconds > 0);
    assert.ok(s.statements.perSecondSinceStart > 0);
    assert.ok(Math.abs(s.statements.perSecondSinceStart - s.statements.total / s.uptimeSeconds) < 0.01 + s.statements.perSecondSinceStart * 0.01);
    assert.ok(Date.parse(s.startedAt) <= Date.now());
    assert.deepEqual(Object.keys(s.consistency), ['none', 'waited', 'fallback']);
    assert.ok(Object.values(s.consistency).every((n) => Number.isInteger(n) && n >= 0));
  });

  test('/ is the HTML status page; unknown paths are 404; bad requests do not crash it', async () => {
    const page = await get(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.text, /status\.json/);
    assert.equal((await get(`${base}/nope`)).status, 404);
    // A malformed request line: the server answers 400 and stays up.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(new URL(base).port), '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.end('GARBAGE\r\n\r\n');
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    assert.equal((await get(`${base}/health`)).status, 200);
  });
});

async function adminRowsOf(p: TestProxy, sql: string): Promise<Record<string, unknown>[]> {
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: p.sluice.adminAddress!.port, user: ADMIN.user, password: ADMIN.password });
  try {
    return (await admin.query(sql))[0] as Record<string, unknown>[];
  } finally {
    await admin.end();
  }
}
const factsOf = (rows: Record<string, unknown>[]): Record<string, unknown> => Object.fromEntries(rows.map((r) => [r.FACT, r.VALUE]));

interface ClusterJson {
  instanceName: string;
  role: string;
  leader: string | null;
  held: string[];
  unreachable: string[];
  published: string | null;
  publishedOn: string[];
  writesRefused: string | null;
  servers: { id: string; leadLock: string | null; publishedWriter: string | null }[];
  locks: { lead: string; writers: Record<string, string> };
}

describe('without cooperation', () => {
  test('SHOW @@CLUSTER answers cooperation none; status.json cluster is null', async () => {
    assert.deepEqual(await adminRowsOf(proxy, 'SHOW @@CLUSTER'), [{ FACT: 'cooperation', VALUE: 'none' }]);
    const s = JSON.parse((await get(`${base}/status.json`)).text) as { cluster: unknown };
    assert.equal(s.cluster, null);
  });
});

describe('cluster.cooperation: an instance alone leads', () => {
  let solo: TestProxy;
  let soloBase: string;
  let servers: { host: string; port: number }[];
  let closed = false;

  before(async () => {
    solo = await startProxy({
      http: { host: '127.0.0.1', port: 0 },
      admin: ADMIN,
      top: { cluster: { cooperation: 'backend-locks', instanceName: 'solo' } },
    });
    soloBase = `http://127.0.0.1:${solo.sluice.httpAddress!.port}`;
    servers = [solo.sandbox.primary, ...solo.sandbox.replicas];
  });

  after(async () => {
    if (!closed) await solo?.close();
  });

  test('SHOW @@CLUSTER, backends and SHOW @@HEARTBEAT: leading, the lead lock held here on all three servers', async () => {
    const ids = servers.map((h) => `${h.host}:${h.port}`);
    // The first round of lock queries runs before the proxy listens; one more heartbeat at most.
    const f = await waitFor(async () => {
      const x = factsOf(await adminRowsOf(solo, 'SHOW @@CLUSTER'));
      return x.role === 'leading' && x.published_writer !== null && x;
    }, { what: 'SHOW @@CLUSTER to say leading with a published writer', timeoutMs: 10_000 });
    assert.deepEqual(
      [f.cooperation, f.instance_name, f.leader, f.sees_majority, f.majority, f.majority_needed, f.unreachable, f.writes_refused],
      ['backend-locks', 'solo', 'this instance (solo)', 'yes', 'all', '2 of 3', 'none', null],
    );
    assert.equal(f.lead_lock_held_here, ids.join(', '));
    assert.deepEqual([f.published_writer, f.published_on, f.active_writer], [ids[0], ids.join(', '), ids[0]]);
    assert.equal(f.lead_lock, 'sluice:dh1:lead');
    assert.equal(f['writer_lock[0]'], `sluice:dh1:writer:${ids[0]}`);
    assert.deepEqual(factsOf(await adminRowsOf(solo, 'SELECT * FROM cluster')), f);

    const backends = await adminRowsOf(solo, 'SELECT * FROM backends');
    assert.deepEqual(Object.keys(backends[0]!).slice(-3), ['switch_datasource', 'lead_lock', 'published_writer']);
    assert.deepEqual(
      backends.map((r) => [r.address, r.lead_lock, r.published_writer]),
      ids.map((id) => [id, 'this instance', ids[0]]),
    );
    const hb = await adminRowsOf(solo, 'SHOW @@HEARTBEAT');
    assert.deepEqual(hb.map((r) => r.LEAD_LOCK), ['this instance', 'this instance', 'this instance']);

    // The servers themselves: the lead lock and the writer lock are held, by one connection
    // each, and that connection is not the one asking.
    for (const server of servers) {
      const locks: { lead: number | null; writer: number | null; me: number }[] = await adminQuery(
        server,
        'SELECT IS_USED_LOCK(?) AS lead, IS_USED_LOCK(?) AS writer, CONNECTION_ID() AS me',
        [String(f.lead_lock), String(f['writer_lock[0]'])],
      );
      const row = locks[0];
      assert.notEqual(row!.lead, null, `lead lock on ${server.port}`);
      assert.equal(row!.writer, row!.lead, `writer lock held by the lead holder on ${server.port}`);
      assert.notEqual(row!.lead, row!.me);
    }
  });

  test('/status.json cluster, /health and the sluice_cluster_* gauges say the same', async () => {
    const ids = servers.map((h) => `${h.host}:${h.port}`);
    const s = JSON.parse((await get(`${soloBase}/status.json`)).text) as { cluster: ClusterJson };
    assert.equal(s.cluster.role, 'leading');
    assert.equal(s.cluster.instanceName, 'solo');
    assert.deepEqual(s.cluster.held, ids);
    assert.deepEqual(s.cluster.servers.map((x) => [x.id, x.leadLock, x.publishedWriter]), ids.map((id) => [id, 'this instance', ids[0]]));
    assert.equal(s.cluster.writesRefused, null);
    assert.equal(s.cluster.locks.lead, 'sluice:dh1:lead');
    assert.equal((await get(`${soloBase}/health`)).status, 200);
    const m = (await get(`${soloBase}/metrics`)).text;
    assert.match(m, /^sluice_cluster_leading 1$/m);
    assert.match(m, /^sluice_cluster_sees_majority 1$/m);
    assert.match(m, /^sluice_cluster_lead_locks_held 3$/m);
    assert.match(m, /^sluice_cluster_writes_refused 0$/m);
    assert.match(m, /^# HELP sluice_cluster_leading .*Only with cluster\.cooperation/m);
  });

  test('a second instance follows it: another instance holds the lead lock everywhere, the published writer is seen', async () => {
    const ids = servers.map((h) => `${h.host}:${h.port}`);
    const second = await startProxy({
      http: { host: '127.0.0.1', port: 0 },
      admin: ADMIN,
      top: { cluster: { cooperation: 'backend-locks', instanceName: 'second' } },
    });
    try {
      const f = await waitFor(async () => {
        const x = factsOf(await adminRowsOf(second, 'SHOW @@CLUSTER'));
        return x.role === 'following' && x.published_writer !== null && x;
      }, { what: 'the second instance to follow', timeoutMs: 10_000 });
      // The leader named by its lock connection: the one that holds the lock on the first server.
      const [held] = await adminQuery<{ id: number }>(servers[0]!, "SELECT IS_USED_LOCK('sluice:dh1:lead') AS id");
      assert.match(String(f.leader), new RegExp(`^another instance \\(lock connection ${held!.id} on ${ids[0]!.replace(/\./g, '\\.')}`));
      assert.deepEqual([f.leading, f.sees_majority, f.lead_lock_held_here, f.lead_lock_held_elsewhere], ['no', 'yes', 'none', ids.join(', ')]);
      assert.deepEqual([f.published_writer, f.published_on, f.writes_refused], [ids[0], ids.join(', '), null]);
      const backends = await adminRowsOf(second, 'SELECT * FROM backends');
      assert.deepEqual(backends.map((r) => [r.lead_lock, r.published_writer]), ids.map(() => ['other instance', ids[0]]));
      // A follower reaches the majority: it takes writes, and says it does not lead.
      assert.equal((await get(`http://127.0.0.1:${second.sluice.httpAddress!.port}/health`)).status, 200);
      const m = (await get(`http://127.0.0.1:${second.sluice.httpAddress!.port}/metrics`)).text;
      assert.match(m, /^sluice_cluster_leading 0$/m);
      assert.match(m, /^sluice_cluster_lead_locks_held 0$/m);
      assert.match(m, /^sluice_cluster_sees_majority 1$/m);
      // The first instance still leads.
      assert.equal(factsOf(await adminRowsOf(solo, 'SHOW @@CLUSTER')).role, 'leading');
    } finally {
      await second.close();
    }
  });

  test('closing the instance frees its locks on the servers', async () => {
    closed = true;
    await solo.close();
    for (const server of servers) {
      const [row] = await adminQuery<{ lead: number | null }>(server, "SELECT IS_USED_LOCK('sluice:dh1:lead') AS lead");
      assert.equal(row!.lead, null, `lead lock on ${server.port} after close`);
    }
  });
});

describe('cluster.cooperation: an instance that reaches one server of three', () => {
  let cut: TestProxy;
  let cutBase: string;

  before(async () => {
    // The sandbox's primary plus two readHosts nobody listens on: a majority of all three
    // servers takes two, this instance reaches one.
    cut = await startProxy({
      http: { host: '127.0.0.1', port: 0 },
      admin: ADMIN,
      top: { cluster: { cooperation: 'backend-locks', instanceName: 'cut-off' } },
      dataHost: { readHosts: [{ host: '127.0.0.1', port: await unusedPort() }, { host: '127.0.0.1', port: await unusedPort() }] },
    });
    cutBase = `http://127.0.0.1:${cut.sluice.httpAddress!.port}`;
  });

  after(async () => {
    await cut?.close();
  });

  test('refuses writes: /health 503 for writes with the reason, 200 for reads; every surface names the unreachable servers', async () => {
    const body = await waitFor(async () => {
      const r = await get(`${cutBase}/health`);
      return r.status === 503 && (JSON.parse(r.text) as { reason: string });
    }, { what: '/health to answer 503', timeoutMs: 10_000 });
    assert.match(body.reason, /^writes refused: this Sluice instance \(cut-off\) cannot reach a majority .*\(1 of 3; unreachable: /);
    assert.equal((await get(`${cutBase}/health?role=read`)).status, 200);

    const s = JSON.parse((await get(`${cutBase}/status.json`)).text) as { writer: string | null; cluster: ClusterJson };
    assert.equal(s.cluster.role, 'no-majority');
    assert.equal(s.cluster.unreachable.length, 2);
    assert.match(s.cluster.writesRefused ?? '', /cannot reach a majority/);
    assert.deepEqual(s.cluster.servers.map((x) => x.leadLock).slice(1), ['unreachable', 'unreachable']);
    const f = factsOf(await adminRowsOf(cut, 'SHOW @@CLUSTER'));
    assert.deepEqual([f.role, f.sees_majority, f.unreachable], ['no-majority', 'no', s.cluster.unreachable.join(', ')]);
    assert.equal(f.writes_refused, s.cluster.writesRefused);
    const m = (await get(`${cutBase}/metrics`)).text;
    assert.match(m, /^sluice_cluster_writes_refused 1$/m);
    assert.match(m, /^sluice_cluster_sees_majority 0$/m);
    assert.match(m, /^sluice_cluster_leading 0$/m);

    // And the proxy does refuse the write (1290), while it still reads.
    const app = await cut.connect();
    try {
      await assert.rejects(app.query('CREATE TABLE IF NOT EXISTS never_created (id INT)'), (err: { errno?: number }) => err.errno === 1290);
      const [rows] = await app.query('SELECT 1 AS one');
      assert.equal((rows as { one: number }[])[0]!.one, 1);
    } finally {
      await app.end();
    }
  });
});
