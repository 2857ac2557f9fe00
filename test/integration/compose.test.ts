/**
 * docker-compose.yml, statically: `docker-compose config` (Debian's docker-compose package, or
 * Compose v2 as `docker compose`) must accept it; every service has a health check; each of the
 * two Sluice services (`sluice`, `sluice-b`) waits for healthy databases, mounts its own config
 * (conf/docker/sluice.yaml, sluice-b.yaml) where its command reads it, publishes its ports at
 * host ports nobody else uses (`sluice` at 8066/9066/9067) and keeps its dnindex file on a volume
 * of its own; both configs pass `sluice check`, name the compose services, cooperate through
 * backend locks and differ only in the instance name. No Docker engine is needed (none runs on CI).
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
import { loadConfigFile, type SluiceConfig } from '../../src/config/index.js';

const execFileP = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const composeFile = path.join(root, 'docker-compose.yml');
/** The Sluice services and the config file each one mounts. */
const sluiceServices: ReadonlyArray<[string, string]> = [
  ['sluice', path.join(root, 'conf/docker/sluice.yaml')],
  ['sluice-b', path.join(root, 'conf/docker/sluice-b.yaml')],
];

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

test('docker-compose.yml validates and deploys two cooperating Sluice instances in front of a primary and 2 replicas', async (t) => {
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

  const names = ['mysql-primary', 'mysql-replica1', 'mysql-replica2', 'sluice', 'sluice-b'];
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

  // The two Sluice services: same image, same command, each its own config file, state volume
  // and host ports; the configs validate, agree on everything but the instance name, and
  // cooperate through locks on the same three servers.
  const hostIds = (hs: readonly { host: string; port: number }[]): string[] => hs.map((h) => `${h.host}:${h.port}`);
  const configs: SluiceConfig[] = [];
  const stateVolumes: string[] = [];
  for (const [n, configFile] of sluiceServices) {
    const sluice = doc.services[n]!;
    assert.ok(sluice.build !== undefined, `${n} is built from the Dockerfile`);
    assert.equal(sluice.image, 'sluice:local', `${n} image`);
    assert.match(JSON.stringify(sluice.healthcheck?.test), /127\.0\.0\.1:9067\/health/, `${n} health check`);
    const deps = sluice.depends_on as Record<string, { condition?: string }>;
    for (const m of names.slice(0, 3)) assert.equal(deps[m]?.condition, 'service_healthy', `${n} waits for ${m}`);

    // The config the container reads is its own file, read-only, at the path in `command`.
    const cmd = ([] as string[]).concat(sluice.command ?? []);
    const configPath = cmd[cmd.indexOf('--config') + 1];
    const confMount = mounts(sluice).find((m) => m.target === configPath);
    assert.ok(confMount !== undefined, `${n}: a mount at ${configPath}`);
    assert.equal(path.resolve(root, confMount.source), configFile, `${n} reads ${path.relative(root, configFile)}`);
    assert.ok(confMount.readOnly, `${n}: config mounted read-only`);

    // `sluice check` accepts it (dnindexFile is absolute, no TLS files); it names the services.
    const check = await execFileP(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check', '--config', configFile], {
      cwd: root,
      timeout: 60_000,
    }).catch((err: { code?: number; stdout?: string; stderr?: string }) => {
      assert.fail(`sluice check --config ${path.relative(root, configFile)} failed (exit ${err.code}): ${err.stderr ?? ''}${err.stdout ?? ''}`);
    });
    assert.match(check.stdout, /: OK\n/, n);
    // The one warning: clients reach it off loopback without TLS (an example on a private network).
    assert.match(check.stdout, /\nWarnings:\n  - clients connect to 0\.0\.0\.0 \(not loopback\) without TLS[^\n]*\n\n/, `${n}: only the no-TLS warning`);
    const cfg = loadConfigFile(configFile);
    configs.push(cfg);
    assert.deepEqual(hostIds(cfg.dataHost.writeHosts), ['mysql-primary:3306', 'mysql-replica1:3306'], n);
    assert.deepEqual(hostIds(cfg.dataHost.readHosts), ['mysql-replica2:3306'], n);
    assert.deepEqual({ host: cfg.listen.host, port: cfg.listen.port }, { host: '0.0.0.0', port: 8066 }, n);
    assert.deepEqual({ host: cfg.admin?.host, port: cfg.admin?.port }, { host: '0.0.0.0', port: 9066 }, n);
    assert.deepEqual({ host: cfg.http?.host, port: cfg.http?.port }, { host: '0.0.0.0', port: 9067 }, n);
    assert.equal(cfg.dataHost.failover.user, 'sluice_admin', `${n}: promotion uses its own account`);
    assert.notEqual(cfg.dataHost.user, cfg.dataHost.failover.user);
    assert.equal(cfg.cluster.cooperation, 'backend-locks', `${n} cooperates with the other instance`);

    // Its container ports are published, each at a host port of its own (checked across all below).
    const ports = (sluice.ports ?? []).map(normalizePort);
    for (const p of [cfg.listen.port, cfg.admin!.port, cfg.http!.port]) {
      assert.ok(ports.some((x) => x.target === p), `${n}: container port ${p} published: ${JSON.stringify(ports)}`);
    }
    assert.ok(
      ports.filter((x) => x.target === cfg.admin!.port).every((x) => x.hostIp === '127.0.0.1'),
      `${n}: the admin port only on the host's loopback`,
    );

    // The dnindex file lives on a named volume of its own, not in the read-only config mount.
    const dnindexDir = path.posix.dirname(cfg.dataHost.failover.dnindexFile);
    const stateMount = mounts(sluice).find((m) => m.target === dnindexDir);
    assert.ok(stateMount !== undefined && !stateMount.readOnly, `${n}: a writable volume at ${dnindexDir}`);
    assert.ok(doc.volumes !== undefined && stateMount.source in doc.volumes, `${stateMount.source} is a named volume`);
    stateVolumes.push(stateMount.source);
  }
  // The first keeps the ports and volume it always had (existing deployments, the README).
  const first = (doc.services['sluice']!.ports ?? []).map(normalizePort);
  for (const p of [8066, 9066, 9067]) {
    assert.ok(first.some((x) => x.target === p && x.published === p), `sluice publishes ${p} as ${p}: ${JSON.stringify(first)}`);
  }
  assert.equal(stateVolumes[0], 'sluice-state');
  assert.equal(new Set(stateVolumes).size, stateVolumes.length, `each Sluice its own dnindex volume: ${stateVolumes.join(', ')}`);

  // No host port is published twice (an address of 0.0.0.0 or none covers every other one).
  const published = Object.entries(doc.services).flatMap(([n, s]) => (s.ports ?? []).map((p) => ({ n, ...normalizePort(p) })));
  for (const [i, a] of published.entries()) {
    for (const b of published.slice(i + 1)) {
      const overlap = a.hostIp === undefined || b.hostIp === undefined || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0' || a.hostIp === b.hostIp;
      assert.ok(!(overlap && a.published === b.published), `host port ${a.published} published by ${a.n} and ${b.n}`);
    }
  }

  // The same settings but for the instance name, which differs.
  const [a, b] = configs as [SluiceConfig, SluiceConfig];
  assert.notEqual(a.cluster.instanceName, b.cluster.instanceName, 'instance names differ');
  const withoutName = (c: SluiceConfig): unknown => ({ ...c, cluster: { ...c.cluster, instanceName: '' } });
  assert.deepEqual(withoutName(b), withoutName(a), 'the two configs differ only in cluster.instanceName');
});
