#!/usr/bin/env node
/**
 * The `mariadb` command-line client (Debian's mariadb-client; `mysql` when that is the only
 * one), driven as a user would: `-e "…"` and SQL piped on stdin, batch mode (`-B -N`). The client
 * splits its input at the delimiter and sends one COM_QUERY per statement, except when the
 * delimiter is changed (`DELIMITER //`), in which case `SELECT 1; SELECT 2//` goes to the
 * server as ONE multi-statement packet. `--comments` keeps the master hint comment (the client strips
 * comments by default). It has no binary protocol; SQL-level PREPARE / EXECUTE is checked
 * instead.
 *
 *   node test/clients/mariadb-cli.mjs HOST PORT USER PASSWORD DATABASE [--direct] [--compress]
 *
 * Output contract: see common.mjs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { expect, parseArgs, primaryResult, replicaResult, Reporter, ROW, rowMismatches, spreadResult, tableDdl } from './common.mjs';

const args = parseArgs();
const P = 'cc_cli';
const rep = new Reporter();
const SPREAD_N = 200;

const binary = ['mariadb', 'mysql'].find((b) => spawnSync(b, ['--version'], { stdio: 'ignore' }).status === 0);

/** Runs the client; resolves { code, stdout, stderr } (never rejects on a SQL error). */
function cli(sqlOnStdin, extraArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      binary,
      [
        '--no-defaults',
        '--protocol=TCP',
        `--host=${args.host}`,
        `--port=${args.port}`,
        `--user=${args.user}`,
        `--password=${args.password}`,
        '--default-character-set=utf8mb4',
        '--comments',
        '--batch',
        '--skip-column-names',
        '--connect-timeout=10',
        ...(args.compress ? ['--compress'] : []),
        ...extraArgs,
        args.database,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out = [];
    const err = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8').trim() });
    });
    // A CLI that exits at once (a connect error) closes its stdin: report its stderr, not EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(sqlOnStdin ?? '');
  });
}

/** Runs and requires exit code 0; returns the output lines. */
async function ok(sqlOnStdin, extraArgs) {
  const r = await cli(sqlOnStdin, extraArgs);
  if (r.code !== 0) {
    const m = /^ERROR (\d+)/m.exec(r.stderr);
    const e = new Error(r.stderr || `exit code ${r.code}`);
    if (m) e.errno = Number(m[1]);
    throw e;
  }
  return r.stdout.split('\n').filter((l) => l !== '');
}

await rep.check('connect', async () => {
  expect(binary !== undefined, 'neither mariadb nor mysql client on PATH');
  const lines = await ok(undefined, ['-e', 'SELECT 1; SELECT VERSION()']);
  expect(lines[0] === '1', `SELECT 1 printed ${JSON.stringify(lines)}`);
  return { client: binary, serverVersion: lines[1] };
});

await rep.check('setup', async () => {
  const ddl = tableDdl(P);
  await ok(`DELIMITER //\n${ddl.join('//\n')}//\n`);
  return 'tables and procedure created';
});

await rep.check('autocommit_read_on_replica', async () => {
  const lines = await ok(undefined, ['-e', 'SELECT @@server_id']);
  return replicaResult(Number(lines[0]), args.direct);
});

await rep.check('transaction_on_primary', async () => {
  const lines = await ok('BEGIN;\nSELECT @@server_id;\nCOMMIT;\n');
  return primaryResult(Number(lines[0]));
});

await rep.check(`select_${SPREAD_N}x_spread_over_replicas`, async () => {
  const lines = await ok('SELECT @@server_id;\n'.repeat(SPREAD_N));
  expect(lines.length === SPREAD_N, `got ${lines.length} result lines`);
  const counts = {};
  for (const l of lines) counts[l] = (counts[l] ?? 0) + 1;
  return spreadResult(counts, SPREAD_N, args.direct);
});

await rep.check('types_roundtrip', async () => {
  const lit = `(1, ${ROW.i}, ${ROW.b}, '${ROW.d}', ${ROW.f}, '${ROW.s}', '${ROW.dt}', '${ROW.ts}', X'${ROW.bl.toString('hex')}', NULL)`;
  await ok(`INSERT INTO ${P}_types (id, i, b, d, f, s, dt, ts, bl, nn) VALUES ${lit};\n`);
  const lines = await ok(`/*master*/ SELECT i, b, d, f, s, dt, ts, LOWER(HEX(bl)), nn FROM ${P}_types WHERE id = 1;\n`);
  expect(lines.length === 1, `read back ${JSON.stringify(lines)}`);
  const [i, b, d, f, s, dt, ts, bl, nn] = lines[0].split('\t');
  const bad = rowMismatches({ i, b, d, f, s, dt, ts, bl, nn: nn === 'NULL' ? null : nn });
  return { ok: Object.keys(bad).length === 0, detail: Object.keys(bad).length === 0 ? 'all 9 values equal' : bad };
});

await rep.check('multi_statement_e', async () => {
  // The client splits this itself: two COM_QUERY packets, two result sets.
  const lines = await ok(undefined, ['-e', 'SELECT 1; SELECT 2']);
  expect(lines.join(',') === '1,2', `printed ${JSON.stringify(lines)}`);
  return lines;
});

await rep.check('multi_statement_one_packet_on_primary', async () => {
  // With another delimiter the client sends `SELECT …; SELECT …` as ONE packet (multi-statement):
  // Sluice runs that on the writeHost as a unit.
  const lines = await ok('DELIMITER //\nSELECT @@server_id; SELECT @@server_id + 100//\n');
  expect(lines.length === 2, `printed ${JSON.stringify(lines)}`);
  expect(Number(lines[1]) === Number(lines[0]) + 100, `printed ${JSON.stringify(lines)}`);
  return primaryResult(Number(lines[0]));
});

await rep.check('call_two_result_sets', async () => {
  const lines = await ok(`CALL ${P}_two(7);\n`);
  expect(lines.join(',') === '7,two-7', `printed ${JSON.stringify(lines)}`);
  return lines;
});

await rep.check('duplicate_key_1062', async () => {
  const r = await cli(`INSERT INTO ${P}_types (id, i) VALUES (1000, 1);\n`);
  return { ok: r.code === 1 && /^ERROR 1062 \(23000\)/m.test(r.stderr), detail: { exitCode: r.code, stderr: r.stderr } };
});

await rep.check('sql_prepare_execute', async () => {
  // Text-protocol PREPARE / EXECUTE: the statement lives in the backend session, so every
  // EXECUTE must reach the connection that ran the PREPARE.
  const n = 20;
  let sql = "PREPARE s FROM 'SELECT @@server_id, ? + 1';\n";
  for (let k = 0; k < n; k++) sql += `SET @a = ${k};\nEXECUTE s USING @a;\n`;
  sql += 'DEALLOCATE PREPARE s;\n';
  const lines = await ok(sql);
  expect(lines.length === n, `printed ${lines.length} lines: ${JSON.stringify(lines.slice(0, 5))}`);
  const counts = {};
  lines.forEach((l, k) => {
    const [id, v] = l.split('\t');
    expect(Number(v) === k + 1, `EXECUTE ${k} returned ${l}`);
    counts[id] = (counts[id] ?? 0) + 1;
  });
  return { executions: n, byServerId: counts };
});

rep.exit();
