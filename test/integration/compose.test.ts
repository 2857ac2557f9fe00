/**
 * docker-compose.yml, statically: `docker-compose config` (Debian's docker-compose package, or
 * Compose v2 as `docker compose`) must accept it; every service has a health check; Sluice
 * publishes 8066/9066/9067, waits for healthy databases, mounts conf/docker/sluice.yaml where its
 * command reads it and keeps the dnindex file on a volume; that config validates and names the
 * compose services. No Docker engine is needed (none runs on CI).
 *
 * Without a compose tool the test is skipped with the reason — except under CI=true, where that
 * is a failure (.ci/install-deps installs the docker-compose package).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config/index.js';

const execFileP = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const composeFile = path.join(root, 'docker-compose.yml');
const sluiceConfig = path.join(root, 'conf/docker/sluice.yaml');

/** `docker-compose` (v1 or the v2 standalone binary), else the `docker compose` plugin. */
async function findCompose(): Promise<{ cmd: string; args: string[]; version: string } | string> {
  const candidates: Array<{ cmd: string; args: string[] }> = [
    { cmd: 'docker-compose', args: [] },
    { cmd: 'docker', args: ['compose'] },
  ];
  const reasons: string[] = [];
  for (const c of candidates) {
    try {
      const { stdout } = await execFileP(c.cmd, [...c.args, 'version'], { timeout: 30_000 });
      return { ...c, version: stdout.split('\n')[0]?.trim() ?? '' };
    } catch (err) {
      reasons.push(`${[c.cmd, ...c.args].join(' ')}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return `no compose tool (${reasons.join('; ')})`;
}

interface Port {
  hostIp?: string;
  published: number;
  target: number;
}

/** Short ("[ip:]published:target[/proto]") or long ({ published, target, host_ip }) syntax. */
function normalizePort(p: unknown): Port {
  if (typeof p === 'string' || typeof p === 'number') {
    const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':');
    const target = Number(parts.pop());
    const published = Number(parts.pop() ?? target);
    const hostIp = parts.length > 0 ? parts.join(':') : undefined;
    return hostIp === undefined ? { published, target } : { hostIp, published, target };
  }
  const o = p as { published?: unknown; target?: unknown; host_ip?: unknown };
  const port: Port = { published: Number(o.published), target: Number(o.target) };
  if (typeof o.host_ip === 'string') port.hostIp = o.host_ip;
  return port;
}

type Service = {
  healthcheck?: { test?: unknown; disable?: boolean };
  ports?: unknown[];
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: Array<string | { source?: string; target?: string; read_only?: boolean; type?: string }>;
  command?: string[] | string;
  image?: string;
  build?: unknown;
};

/** Volumes as { source, target, readOnly } whatever the syntax the tool printed. */
function mounts(s: Service): Array<{ source: string; target: string; readOnly: boolean }> {
  return (s.volumes ?? []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      return { source, target, readOnly: mode.split(',').includes('ro') };
    }
    return { source: v.source ?? '', target: v.target ?? '', readOnly: v.read_only === true };
  });
}

test('docker-compose.yml validates and deploys Sluice in front of a primary and 2 replicas', async (t) => {
  const compose = await findCompose();
  if (typeof compose === 'string') {
    const reason = `${compose}; install Debian's docker-compose package (bash .ci/install-deps)`;
    if (process.env['CI'] === 'true') assert.fail(reason);
    process.stdout.write(`# skipped: ${reason}\n`);
    t.skip(reason);
    return;
  }
  process.stdout.write(`# using ${[compose.cmd, ...compose.args].join(' ')}: ${compose.version}\n`);

  const { stdout } = await execFileP(compose.cmd, [...compose.args, '-f', composeFile, 'config'], {
    cwd: root,
    timeout: 60_000,
    // Defaults from the file, not from whoever runs the tests.
    env: { ...process.env, MYSQL_ROOT_PASSWORD: '' },
  }).catch((err: { code?: number; stderr?: string; message: string }) => {
    assert.fail(`${compose.cmd} config failed (exit ${err.code}): ${err.stderr ?? err.message}`);
  });
  const doc = parse(stdout) as { services: Record<string, Service>; volumes?: Record<string, unknown> };

  const names = ['mysql-primary', 'mysql-replica1', 'mysql-replica2', 'sluice'];
  assert.deepEqual(Object.keys(doc.services).sort(), names);
  for (const n of names) {
    const hc = doc.services[n]?.healthcheck;
    assert.ok(hc !== undefined && hc.disable !== true && hc.test !== undefined, `${n} has a health check`);
  }
  for (const n of names.slice(0, 3)) {
    const s = doc.services[n]!;
    assert.equal(s.image, 'mysql:8.4', n);
    assert.match(JSON.stringify(s.healthcheck?.test), /mysqladmin ping/, `${n}: mysqladmin ping`);
    const cmd = ([] as string[]).concat(s.command ?? []).join(' ');
    assert.match(cmd, new RegExp(`--server-id=${names.indexOf(n) + 1}\\b`), `${n} server-id`);
    assert.match(cmd, /--gtid-mode=ON/, `${n} gtid_mode`);
    assert.match(cmd, /--enforce-gtid-consistency=ON/, `${n} enforce_gtid_consistency`);
    assert.match(cmd, /--log-bin/, `${n} log-bin`);
    if (n !== 'mysql-primary') {
      assert.match(cmd, /--read-only=ON/, `${n} read_only`);
      assert.doesNotMatch(cmd, /super-read-only/, `${n}: super_read_only on the command line blocks the init scripts`);
      assert.equal((s.depends_on as Record<string, { condition?: string }>)['mysql-primary']?.condition, 'service_healthy');
    }
    const init = mounts(s).find((m) => m.target === '/docker-entrypoint-initdb.d');
    assert.ok(init !== undefined && init.readOnly && existsSync(init.source), `${n} mounts its init scripts`);
  }

  const sluice = doc.services['sluice']!;
  assert.ok(sluice.build !== undefined, 'sluice is built from the Dockerfile');
  assert.ok(existsSync(path.join(root, 'Dockerfile')));
  assert.match(JSON.stringify(sluice.healthcheck?.test), /127\.0\.0\.1:9067\/health/);
  const ports = (sluice.ports ?? []).map(normalizePort);
  for (const p of [8066, 9066, 9067]) {
    assert.ok(ports.some((x) => x.target === p && x.published === p), `port ${p} published: ${JSON.stringify(ports)}`);
  }
  const deps = sluice.depends_on as Record<string, { condition?: string }>;
  for (const n of names.slice(0, 3)) assert.equal(deps[n]?.condition, 'service_healthy', `sluice waits for ${n}`);

  // The config the container reads is conf/docker/sluice.yaml, read-only, at the path in `command`.
  const cmd = ([] as string[]).concat(sluice.command ?? []);
  const configPath = cmd[cmd.indexOf('--config') + 1];
  const confMount = mounts(sluice).find((m) => m.target === configPath);
  assert.ok(confMount !== undefined, `a mount at ${configPath}`);
  assert.equal(path.resolve(root, confMount.source), sluiceConfig);
  assert.ok(confMount.readOnly, 'config mounted read-only');

  // conf/docker/sluice.yaml: validates (dnindexFile is absolute, no TLS files) and names the services.
  const cfg = loadConfigFile(sluiceConfig);
  const hostIds = (hs: readonly { host: string; port: number }[]): string[] => hs.map((h) => `${h.host}:${h.port}`);
  assert.deepEqual(hostIds(cfg.dataHost.writeHosts), ['mysql-primary:3306', 'mysql-replica1:3306']);
  assert.deepEqual(hostIds(cfg.dataHost.readHosts), ['mysql-replica2:3306']);
  assert.deepEqual({ host: cfg.listen.host, port: cfg.listen.port }, { host: '0.0.0.0', port: 8066 });
  assert.deepEqual({ host: cfg.admin?.host, port: cfg.admin?.port }, { host: '0.0.0.0', port: 9066 });
  assert.deepEqual({ host: cfg.http?.host, port: cfg.http?.port }, { host: '0.0.0.0', port: 9067 });
  assert.equal(cfg.dataHost.failover.user, 'sluice_admin', 'promotion uses its own account');
  assert.notEqual(cfg.dataHost.user, cfg.dataHost.failover.user);

  // The dnindex file lives on a named volume, not in the read-only config mount.
  const dnindexDir = path.posix.dirname(cfg.dataHost.failover.dnindexFile);
  const stateMount = mounts(sluice).find((m) => m.target === dnindexDir);
  assert.ok(stateMount !== undefined && !stateMount.readOnly, `a writable volume at ${dnindexDir}`);
  assert.ok(doc.volumes !== undefined && stateMount.source in doc.volumes, `${stateMount.source} is a named volume`);
});
