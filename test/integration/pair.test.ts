/**
 * conf/pair/ (two Sluice instances behind one virtual IP) and conf/haproxy/, statically: the two
 * Sluice configs pass `sluice check` and differ in one line, cluster.instanceName; keepalived,
 * HAProxy and LVS files agree with them (the MySQL and HTTP ports, the Sluice hosts' addresses)
 * and with each other (mirrored unicast peers, one VIP, equal priorities, no nopreempt — with
 * nopreempt a BACKUP accepts any MASTER and the checks' weights would never move the VIP); and
 * `keepalived -t` / `haproxy -c` accept them. Without those two tools that last test is skipped
 * with the reason — except under CI=true, where it fails (.ci/install-deps installs both).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfigFile, type SluiceConfig } from '../../src/config/index.js';

const execFileP = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const conf = (f: string): string => path.join(root, 'conf', f);
const read = (f: string): string => readFileSync(conf(f), 'utf8');

const SLUICE_CONFIGS = ['pair/sluice-a.yaml', 'pair/sluice-b.yaml'] as const;
const KEEPALIVED_PAIR = ['pair/keepalived-a.conf', 'pair/keepalived-b.conf'] as const;
const KEEPALIVED_LVS = ['pair/lvs/keepalived-1.conf', 'pair/lvs/keepalived-2.conf'] as const;

/** keepalived / HAProxy text without comments (`#` or `!` to the end of the line, outside quotes). */
function uncommented(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let quoted = false;
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '"') quoted = !quoted;
        else if (!quoted && (line[i] === '#' || line[i] === '!')) return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}

/** The inside of every `<head> {` … `}` block (braces counted), in order. */
function blocks(text: string, head: RegExp): string[] {
  const out: string[] = [];
  const re = new RegExp(`^\\s*${head.source}\\s*\\{`, 'gm');
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    let depth = 1;
    let i = m.index + m[0].length;
    const from = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    out.push(text.slice(from, i - 1));
  }
  return out;
}

/** The values of `key value…` lines (first word after the key). */
function values(text: string, key: string): string[] {
  return [...text.matchAll(new RegExp(`^\\s*${key}\\s+(\\S+)`, 'gm'))].map((m) => m[1]!);
}

function one(text: string, key: string, what: string): string {
  const v = values(text, key);
  assert.equal(v.length, 1, `${what}: one ${key}, got ${JSON.stringify(v)}`);
  return v[0]!;
}

/** Bare IPv4 addresses listed one per line in a block. */
const addresses = (text: string): string[] => [...text.matchAll(/^\s*(\d+\.\d+\.\d+\.\d+)(?:\/\d+)?/gm)].map((m) => m[1]!);

interface Vrrp {
  routerId: string;
  vrid: string;
  priority: number;
  nopreempt: boolean;
  src: string;
  peers: string[];
  vips: string[];
  scripts: Map<string, { script: string; weight: number }>;
  tracked: string[];
}

function vrrp(file: string): Vrrp {
  const text = uncommented(read(file));
  const [instance, ...more] = blocks(text, /vrrp_instance\s+\S+/);
  assert.ok(instance !== undefined && more.length === 0, `${file}: one vrrp_instance`);
  const scripts = new Map<string, { script: string; weight: number }>();
  for (const m of text.matchAll(/^\s*vrrp_script\s+(\S+)\s*\{/gm)) {
    const body = blocks(text.slice(m.index), /vrrp_script\s+\S+/)[0]!;
    scripts.set(m[1]!, { script: /script\s+"([^"]+)"/.exec(body)?.[1] ?? '', weight: Number(values(body, 'weight')[0] ?? 0) });
  }
  return {
    routerId: one(blocks(text, /global_defs/)[0] ?? '', 'router_id', file),
    vrid: one(instance, 'virtual_router_id', file),
    priority: Number(one(instance, 'priority', file)),
    nopreempt: /^\s*nopreempt\b/m.test(instance),
    src: one(instance, 'unicast_src_ip', file),
    peers: addresses(blocks(instance, /unicast_peer/)[0] ?? ''),
    vips: addresses(blocks(instance, /virtual_ipaddress/)[0] ?? ''),
    scripts,
    tracked: (blocks(instance, /track_script/)[0] ?? '').split(/\s+/).filter((w) => w !== ''),
  };
}

/** The two keepalived files of a pair: mirrored unicast peers, one VIP, equal priority, no nopreempt. */
function assertMirrored(files: readonly [string, string]): [Vrrp, Vrrp] {
  const [a, b] = files.map(vrrp) as [Vrrp, Vrrp];
  assert.deepEqual(a.peers, [b.src], `${files[0]} peers with ${files[1]}`);
  assert.deepEqual(b.peers, [a.src], `${files[1]} peers with ${files[0]}`);
  assert.notEqual(a.routerId, b.routerId, 'router_id differs');
  assert.equal(a.vrid, b.vrid, 'same virtual_router_id');
  assert.deepEqual(a.vips, b.vips, 'same VIP');
  assert.equal(a.vips.length, 1);
  assert.equal(a.priority, b.priority, 'same priority: a recovered host does not take the VIP back');
  assert.ok(!a.nopreempt && !b.nopreempt, 'no nopreempt: it would keep the VIP on a host that failed its checks');
  return [a, b];
}

function sluiceConfigs(): [SluiceConfig, SluiceConfig] {
  return SLUICE_CONFIGS.map((f) => loadConfigFile(conf(f))) as [SluiceConfig, SluiceConfig];
}

test('the two Sluice configs pass sluice check and differ in one line, cluster.instanceName', async () => {
  const [ta, tb] = SLUICE_CONFIGS.map((f) => read(f).split('\n'));
  assert.equal(ta!.length, tb!.length);
  const differing = ta!.flatMap((line, i) => (line === tb![i] ? [] : [[line, tb![i]]]));
  assert.equal(differing.length, 1, `one differing line: ${JSON.stringify(differing)}`);
  for (const line of differing[0]!) assert.match(line!, /^\s+instanceName: /);

  const [a, b] = sluiceConfigs();
  for (const c of [a, b]) {
    assert.equal(c.cluster.cooperation, 'backend-locks');
    assert.equal(c.listen.host, '0.0.0.0', 'listens on the VIP too');
    assert.equal(c.http?.host, '0.0.0.0', 'the balancers of the variants reach /health');
    assert.ok(c.dataHost.failover.promote, 'the leading instance promotes');
  }
  assert.deepEqual([a.cluster.instanceName, b.cluster.instanceName], ['sluice-a', 'sluice-b']);

  for (const f of SLUICE_CONFIGS) {
    const r = await execFileP(process.execPath, ['--import', 'tsx', 'src/main.ts', 'check', '--config', conf(f)], { cwd: root, timeout: 60_000 }).catch(
      (err: { code?: number; stdout?: string; stderr?: string }) => assert.fail(`sluice check ${f} (exit ${err.code}): ${err.stderr ?? ''}${err.stdout ?? ''}`),
    );
    assert.match(r.stdout, /: OK\n/, f);
    // The one warning: clients reach it off loopback without TLS (an example on a private network).
    assert.match(r.stdout, /\nWarnings:\n  - clients connect to 0\.0\.0\.0 \(not loopback\) without TLS[^\n]*\n\n/, `${f}: only the no-TLS warning`);
  }
});

test('keepalived on the Sluice hosts: mirrored, and weighted checks of /health order healthy > 503 > dead', () => {
  const [cfg] = sluiceConfigs();
  const [a, b] = assertMirrored(KEEPALIVED_PAIR);
  const url = `http://127.0.0.1:${cfg.http!.port}/health`;
  for (const [file, v] of [[KEEPALIVED_PAIR[0], a], [KEEPALIVED_PAIR[1], b]] as const) {
    assert.deepEqual([...v.scripts.keys()].sort(), [...v.tracked].sort(), `${file}: every check is tracked`);
    const scripts = [...v.scripts.values()];
    const running = scripts.find((s) => !/\s-f/.test(s.script));
    const writable = scripts.find((s) => /\s-f/.test(s.script));
    assert.ok(running && writable && scripts.length === 2, `${file}: one check of any answer, one of 200 (curl -f)`);
    for (const s of scripts) {
      assert.ok(s.script.includes(url), `${file}: ${s.script} asks ${url}`);
      assert.match(s.script, /--max-time \d/, `${file}: a hung Sluice fails the check`);
      assert.ok(s.weight < 0, `${file}: a failed check lowers the priority`);
    }
    // 200 > 503 (Sluice runs, cannot take writes) > no answer (both checks fail) > 0.
    const healthy = v.priority;
    const unavailable = healthy + writable!.weight;
    const dead = unavailable + running!.weight;
    assert.ok(healthy > unavailable && unavailable > dead && dead > 0, `${file}: ${healthy} > ${unavailable} > ${dead} > 0`);
  }
  // The two files differ only in what names the host.
  const [ta, tb] = KEEPALIVED_PAIR.map((f) => uncommented(read(f)).replace(/[ \t]+$/gm, ''));
  assert.equal(ta!.replaceAll(a.src, 'SELF').replaceAll(b.src, 'PEER').replace(a.routerId, 'ID'), tb!.replaceAll(b.src, 'SELF').replaceAll(a.src, 'PEER').replace(b.routerId, 'ID'));
});

test('HAProxy checks each Sluice host on its MySQL port and GET /health; its keepalived has no nopreempt', () => {
  const [cfg] = sluiceConfigs();
  const [a, b] = [vrrp(KEEPALIVED_PAIR[0]), vrrp(KEEPALIVED_PAIR[1])];
  const text = uncommented(read('haproxy/haproxy.cfg'));
  const backend = /^backend sluice_nodes\n([\s\S]*?)(?=^\S)/m.exec(text)?.[1] ?? '';
  assert.match(backend, /^\s*option tcp-check/m);
  assert.deepEqual(
    [...backend.matchAll(/tcp-check connect port (\d+)/g)].map((m) => Number(m[1])),
    [cfg.listen.port, cfg.http!.port],
    'first the MySQL port, then the HTTP port',
  );
  assert.match(backend, /tcp-check send "GET \/health /);
  assert.match(backend, /tcp-check expect rstring "\^HTTP\/1\\\.\[01\] 200"/);
  assert.match(backend, /on-marked-down shutdown-sessions/);
  assert.deepEqual(
    [...backend.matchAll(/^\s*server \S+ (\S+)/gm)].map((m) => m[1]),
    [a.src, b.src].map((ip) => `${ip}:${cfg.listen.port}`),
    'the Sluice hosts of conf/pair',
  );
  const k = vrrp('haproxy/keepalived.conf');
  assert.ok(!k.nopreempt, 'conf/haproxy/keepalived.conf: no nopreempt');
  assert.ok([...k.scripts.values()].every((s) => s.weight < 0 && k.priority + s.weight > 0));
});

test('LVS directors: mirrored, and every Sluice host is checked on its MySQL port and GET /health', () => {
  const [cfg] = sluiceConfigs();
  const [a, b] = [vrrp(KEEPALIVED_PAIR[0]), vrrp(KEEPALIVED_PAIR[1])];
  const [d1] = assertMirrored(KEEPALIVED_LVS);
  for (const file of KEEPALIVED_LVS) {
    const text = uncommented(read(file));
    const [vs, ...more] = blocks(text, /virtual_server\s+\S+\s+\d+/);
    assert.ok(vs !== undefined && more.length === 0, `${file}: one virtual_server`);
    assert.match(text, new RegExp(`^\\s*virtual_server ${d1.vips[0]!.replaceAll('.', '\\.')} ${cfg.listen.port}\\s*\\{`, 'm'), `${file}: VIP:listen.port`);
    assert.equal(one(vs, 'lb_kind', file), 'DR');
    const real = [...vs.matchAll(/^\s*real_server\s+(\S+)\s+(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(real, [a.src, b.src].map((ip) => `${ip}:${cfg.listen.port}`), `${file}: the Sluice hosts of conf/pair`);
    for (const rs of blocks(vs, /real_server\s+\S+\s+\d+/)) {
      assert.equal(one(blocks(rs, /TCP_CHECK/)[0] ?? '', 'connect_port', file), String(cfg.listen.port));
      const http = blocks(rs, /HTTP_GET/)[0] ?? '';
      assert.equal(one(http, 'connect_port', file), String(cfg.http!.port));
      assert.equal(one(http, 'path', file), '/health');
      assert.equal(one(http, 'status_code', file), '200');
    }
  }
});

/** The tool, or why there is none. */
async function tool(cmd: string, args: string[]): Promise<string | undefined> {
  for (const c of [cmd, `/usr/sbin/${cmd}`]) {
    try {
      await execFileP(c, args, { timeout: 30_000 });
      return c;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') return c; // there, whatever it answered
    }
  }
  return undefined;
}

test('keepalived -t and haproxy -c accept the files', async (t) => {
  const keepalived = await tool('keepalived', ['--version']);
  const haproxy = await tool('haproxy', ['-v']);
  const missing = [keepalived ? '' : 'keepalived', haproxy ? '' : 'haproxy'].filter((m) => m !== '');
  if (missing.length > 0) {
    const reason = `no ${missing.join(' and no ')} on PATH; install Debian's packages (bash .ci/install-deps)`;
    if (process.env['CI'] === 'true') assert.fail(reason);
    process.stdout.write(`# skipped: ${reason}\n`);
    t.skip(reason);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-pair-'));
  for (const f of [...KEEPALIVED_PAIR, ...KEEPALIVED_LVS, 'haproxy/keepalived.conf']) {
    // keepalived 2.2's config test (-t) kills itself once it has checked a script that runs as
    // another user than its own (fixed upstream later): test a copy whose scripts run as root.
    const copy = path.join(dir, f.replaceAll('/', '-'));
    writeFileSync(copy, read(f).replace(/^(\s*script_user)\s+\S+/m, '$1 root'));
    const r = await execFileP(keepalived!, ['-t', '-f', copy], { timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code?: number; signal?: string; stderr?: string }) => ({ code: err.code ?? err.signal, stderr: err.stderr ?? '' }),
    );
    assert.equal(r.code, 0, `keepalived -t -f ${f}: ${r.stderr}`);
    assert.equal(r.stderr.trim(), '', `keepalived -t -f ${f} complains`);
  }
  const r = await execFileP(haproxy!, ['-c', '-f', conf('haproxy/haproxy.cfg')], { timeout: 30_000 }).catch(
    (err: { code?: number; stdout?: string; stderr?: string }) => assert.fail(`haproxy -c (exit ${err.code}): ${err.stderr ?? ''}${err.stdout ?? ''}`),
  );
  assert.doesNotMatch(`${r.stdout}${r.stderr}`, /WARNING|ALERT/, 'haproxy -c: no warnings');
});
