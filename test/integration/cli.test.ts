/**
 * The command line as an operator uses it: a bad config refuses to start and lists every
 * problem; `check` validates; `sandbox` brings up primary + replicas + proxy and Ctrl-C removes
 * everything again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
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

async function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(SLUICE[0], [...SLUICE.slice(1), ...args]);
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

test('sandbox starts primary + replicas + proxy, serves clients, and Ctrl-C cleans up', { timeout: 120_000 }, async () => {
  const child = spawn(SLUICE[0], [...SLUICE.slice(1), 'sandbox', '--port', '0', '--base-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', () => undefined);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connect line:\n${out}`)), 90_000);
      child.stdout.on('data', () => {
        const m = /mysql -h (\S+) -P (\d+) -u (\S+) -p(\S+) (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      child.once('exit', (code) => reject(new Error(`sandbox exited ${code}:\n${out}`)));
    });
    const [, host, port, user, password, db] = /mysql -h (\S+) -P (\d+) -u (\S+) -p(\S+) (\S+)/.exec(line)!;
    const dir = /removes (\S+)/.exec(out)![1]!;
    assert.ok(existsSync(dir));
    const { stdout } = await execFileP('mariadb', ['-h', host!, '-P', port!, '-u', user!, `-p${password}`, db!, '-N', '-B', '-e', 'SELECT @@server_id']);
    assert.ok(['2', '3'].includes(stdout.trim()));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0);
    assert.ok(!existsSync(dir), 'the sandbox directory was removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
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
