/**
 * The command line as an operator uses it: a bad config refuses to start and lists every
 * problem; `check` validates; `sandbox` brings up primary + replicas + proxy (admin port, HTTP)
 * and Ctrl-C removes everything again; a busy port is one sentence naming what to change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { serializeConfig, validateConfig } from '../../src/config/index.js';
import { sandboxProxyConfig } from '../../src/sandbox/index.js';
import { errnoOf, serverId } from '../helpers/proxy.js';
import { getSandbox, waitFor } from '../helpers/sandbox.js';

const execFileP = promisify(execFile);
const SLUICE = [process.execPath, '--import', 'tsx', 'src/main.ts'] as const;

async function sluice(
  ...argsOrEnv: [Record<string, string>, ...string[]] | string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [first, ...more] = argsOrEnv;
  const env = typeof first === 'object' ? { ...process.env, ...first } : process.env;
  const args = typeof first === 'object' ? (more as string[]) : (argsOrEnv as string[]);
  try {
    const { stdout, stderr } = await execFileP(SLUICE[0], [...SLUICE.slice(1), ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('a config with several mistakes refuses to start and lists all of them', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cli-'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(
    file,
    [
      'listen: { host: 127.0.0.1, port: 99999 }',
      'users: [ { name: app, password: app } ]',
      'dataHost:',
      '  name: dh1',
      '  balance: 7',
      '  user: app',
      '  password: app',
      '  writeHosts: []',
      '  readHosts: [ { host: 127.0.0.1, port: abc } ]',
      '  pool: { min: 10, max: 2 }',
      '  bogus: true',
    ].join('\n'),
  );
  const r = await sluice('start', '--config', file);
  assert.equal(r.code, 1);
  for (const path of ['listen.port', 'dataHost.balance', 'dataHost.writeHosts', 'dataHost.readHosts[0].port', 'dataHost.pool', 'dataHost.bogus']) {
    assert.ok(r.stderr.includes(path), `mentions ${path}:\n${r.stderr}`);
  }
});

test('check accepts the shipped example config', async () => {
  const r = await sluice('check', '--config', 'conf/sluice.yaml');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /OK/);
  assert.match(r.stdout, /What it does:\n {2}- clients connect to 127\.0\.0\.1:8066/);
  assert.match(r.stdout, /Warnings:\n {2}- the admin password is "admin"/);
  assert.ok(!r.stdout.includes('"password": "app"'), 'passwords are not printed');
});

test('sandbox starts primary + replicas + proxy with admin port and HTTP, prints where, and Ctrl-C cleans up', { timeout: 120_000 }, async () => {
  const child = spawn(SLUICE[0], [...SLUICE.slice(1), 'sandbox', '--port', '0', '--base-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let log = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner:\n${out}`)), 90_000);
      child.stdout.on('data', () => {
        if (/^Stop: /m.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`sandbox exited ${code}:\n${out}\n${log}`)));
    });
    const connect = /^Connect: +mysql -h (\S+) -P (\d+) -u (\S+) -p(\S+) (\S+)$/m.exec(out);
    const admin = /^Admin: +mysql -h (\S+) -P (\d+) -u (\S+) -p(\S+)$/m.exec(out);
    const status = /^Status: +(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
    const metrics = /^Metrics: +(http:\/\/127\.0\.0\.1:\d+\/metrics) +\(health check: (\S+)\)$/m.exec(out);
    assert.ok(connect && admin && status && metrics, `banner lines:\n${out}`);
    assert.ok(connect.index < admin.index && admin.index < status.index && status.index < metrics.index, 'in this order');
    assert.match(out, /SELECT \* FROM backends;.*SHOW @@HEARTBEAT;/);
    assert.match(out, /^Stop: +Ctrl-C stops everything/m);

    const [, host, port, user, password, db] = connect;
    const dir = /removes (\S+)/.exec(out)![1]!;
    assert.ok(existsSync(dir));
    const { stdout } = await execFileP('mariadb', ['-h', host!, '-P', port!, '-u', user!, `-p${password}`, db!, '-N', '-B', '-e', 'SELECT @@server_id']);
    assert.ok(['2', '3'].includes(stdout.trim()));

    // The admin port answers with the printed password.
    const a = await mysql.createConnection({ host: admin[1]!, port: Number(admin[2]), user: admin[3]!, password: admin[4]! });
    try {
      const [rows] = await a.query('SELECT * FROM backends');
      assert.equal((rows as unknown[]).length, 3, 'primary and two replicas');
    } finally {
      await a.end();
    }
    // The HTTP endpoint: health check, status page, metrics.
    const health = await fetch(metrics[2]!);
    assert.equal(health.status, 200, await health.text());
    const page = await fetch(status[1]!);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const prom = await fetch(metrics[1]!);
    assert.equal(prom.status, 200);
    assert.match(await prom.text(), /^# HELP /m);

    // Not a terminal: logs are JSON lines, and no record names its component twice
    // (JSON.parse would hide that: it keeps the last duplicate).
    const lines = log.split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 5, log);
    for (const l of lines) {
      const rec = JSON.parse(l) as Record<string, unknown>;
      assert.equal(typeof rec['msg'], 'string', l);
      assert.ok((l.match(/"component":/g)?.length ?? 0) <= 1, `component once: ${l}`);
    }
    assert.ok(lines.some((l) => l.includes('"component":"sandbox"')), 'sandbox records carry their component');

    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.ok(!existsSync(dir), 'the sandbox directory was removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

/** A port on 127.0.0.1 that something else holds, as when another program runs there. */
async function occupy(): Promise<{ port: number; release: () => Promise<void> }> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  return { port, release: () => new Promise<void>((resolve) => srv.close(() => resolve())) };
}

const STACK = /^\s+at .+[:(]\d+/m;

test('sandbox with a busy --base-port: one sentence naming the option, non-zero exit, nothing started', async () => {
  const busy = await occupy();
  try {
    const r = await sluice('sandbox', '--base-port', String(busy.port));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `sluice sandbox: port ${busy.port} is in use; pick another with --base-port\n`);
    assert.equal(r.stdout, '');
  } finally {
    await busy.release();
  }
});

test('start with a busy listen, http or admin port names the setting, without a stack trace', { timeout: 60_000 }, async () => {
  const sb = await getSandbox();
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cli-busy-'));
  const busy = await occupy();
  try {
    const file = path.join(dir, 'sluice.yaml');
    const write = (listen: number, admin: number, http: number): void => {
      const base = sandboxProxyConfig(sb, listen, { admin: { port: admin, password: 'secret' }, http: { port: http } }) as {
        dataHost: Record<string, unknown>;
      };
      const config = validateConfig({
        ...base,
        dataHost: { ...base.dataHost, failover: { enabled: false, dnindexFile: path.join(dir, 'dnindex.properties') } },
      });
      writeFileSync(file, serializeConfig(config, file));
    };
    const p = busy.port;
    for (const [section, ports] of [['listen', [p, 0, 0]], ['http', [0, 0, p]], ['admin', [0, p, 0]]] as const) {
      write(ports[0], ports[1], ports[2]);
      const r = await sluice('start', '--config', file);
      assert.equal(r.code, 1, `${section}: ${r.stderr}`);
      assert.ok(r.stderr.endsWith(`sluice: cannot start:\n  - ${section}.port: 127.0.0.1:${p} is in use\n`), `${section}:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, STACK);
      assert.ok(!r.stderr.includes('"stack"'), `no stack in the logs:\n${r.stderr}`);
      // Not a terminal: every log line before the sentence is JSON.
      const logLines = r.stderr.split('\nsluice: cannot start:')[0]!.split('\n').filter((l) => l !== '');
      assert.ok(logLines.length > 0);
      for (const l of logLines) assert.doesNotThrow(() => JSON.parse(l), l);
    }

    // Forced pretty (as on a terminal): readable lines, no JSON records.
    write(p, 0, 0);
    const r = await sluice({ SLUICE_LOG_FORMAT: 'pretty' }, 'start', '--config', file);
    assert.equal(r.code, 1);
    const logLines = r.stderr.split('\nsluice: cannot start:')[0]!.split('\n').filter((l) => l !== '');
    assert.ok(logLines.length > 0);
    for (const l of logLines) assert.match(l, /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN): \S/, l);
    assert.ok(logLines.some((l) => / INFO: configuration \{/.test(l)), r.stderr);
    assert.doesNotMatch(r.stderr, STACK);
  } finally {
    await busy.release();
  }
});

test('SIGHUP re-reads the config file: a new account logs in at once; a broken file is refused and nothing changes', { timeout: 60_000 }, async () => {
  const sb = await getSandbox();
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-cli-hup-'));
  const file = path.join(dir, 'sluice.yaml');
  const base = sandboxProxyConfig(sb, 0) as Record<string, unknown> & { dataHost: Record<string, unknown>; users: unknown[] };
  const config = (users: unknown[]) =>
    validateConfig({
      ...base,
      listen: { host: '127.0.0.1', port: 0 },
      users,
      dataHost: { ...base.dataHost, failover: { enabled: false, dnindexFile: path.join(dir, 'dnindex.properties') } },
    });
  writeFileSync(file, serializeConfig(config(base.users), file));
  const child = spawn(SLUICE[0], [...SLUICE.slice(1), 'start', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await waitFor(async () => /"msg":"sluice listening"/.test(log), { timeoutMs: 30_000, what: 'sluice listening' });
    const port = Number(/"listen":\{"host":"[^"]+","port":(\d+)\}/.exec(log)![1]);
    const carol = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'carol', password: 'carolpass', database: 'sluice_test' });
    assert.equal(await errnoOf(carol), 1045);

    writeFileSync(file, serializeConfig(config([...base.users, { name: 'carol', password: 'carolpass' }]), file));
    child.kill('SIGHUP');
    await waitFor(async () => /applied now: users/.test(log), { timeoutMs: 10_000, what: 'reload logged' });
    const c = await carol();
    assert.ok((await serverId(c)) > 0);
    await c.end();

    writeFileSync(file, 'listen: { port: nope }\n');
    child.kill('SIGHUP');
    await waitFor(async () => /the config file is not valid; the running configuration is kept/.test(log), { timeoutMs: 10_000, what: 'refusal logged' });
    assert.match(log, /listen\.port/);
    const again = await carol();
    await again.end();

    child.kill('SIGTERM');
    assert.equal(await new Promise<number | null>((resolve) => child.once('exit', resolve)), 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
