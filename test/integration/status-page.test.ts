/**
 * The status page (`GET /`) in a real browser: Debian's chromium (/usr/bin/chromium, installed
 * by .ci/install-deps) driven by playwright-core. The page's script fetches /status.json and
 * renders one row per backend, numbered as the admin port numbers them; a screenshot goes to a
 * temp file (path printed), or to $SLUICE_STATUS_SCREENSHOT when set (how test/integration/status-page.png
 * is made). With cluster.cooperation the page has a Cluster section (leading, following, without
 * a majority: real instances in front of the sandbox) and the banner says when writes are refused.
 *
 * Without a working Chromium the test is skipped with the reason, except under CI=true where it
 * fails (install-deps should have installed it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { host: '127.0.0.1', port: 0, user: 'admin', password: 'status-page' };

let proxy: TestProxy;
let browser: BrowserContext | undefined;
let unavailable: string | false = false;
const profileDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));

before(async () => {
  proxy = await startProxy({ http: { host: '127.0.0.1', port: 0 }, admin: ADMIN });
  if (!existsSync(CHROMIUM)) {
    unavailable = `${CHROMIUM} not found (Debian package chromium)`;
  } else {
    try {
      // A fresh profile: playwright passes it as --user-data-dir.
      browser = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        timeout: 30_000,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    } catch (err) {
      unavailable = `chromium does not start: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  if (unavailable && process.env['CI'] === 'true') throw new Error(`${unavailable} (CI=true: .ci/install-deps should have installed it)`);
  if (unavailable) process.stdout.write(`# skipping the status page test: ${unavailable}\n`);
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  rmSync(profileDir, { recursive: true, force: true });
});

async function adminRows(sql: string): Promise<Record<string, unknown>[]> {
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: proxy.sluice.adminAddress!.port, user: ADMIN.user, password: ADMIN.password });
  try {
    return (await admin.query(sql))[0] as Record<string, unknown>[];
  } finally {
    await admin.end();
  }
}

/** Cell texts of a table's body rows. String expressions: the test tsconfig has no DOM types. */
function tableText(page: Page, id: string): Promise<string[][]> {
  return page.evaluate(`[...document.querySelectorAll('#${id} tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent))`) as Promise<string[][]>;
}

async function openPage(p: TestProxy = proxy): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${p.sluice.httpAddress!.port}/`);
  await page.waitForFunction(`document.querySelectorAll('#backends tbody tr').length === ${p.sandbox.replicas.length + 1}`, undefined, { timeout: 10_000 });
  return { page, errors };
}

test('first load: statements per second at once, admin numbers, read split, no transitions yet', async (t) => {
  if (unavailable || !browser) {
    t.skip(unavailable || 'no browser');
    return;
  }
  // Traffic before the page opens: the first load has something to average.
  const app = await proxy.connect();
  try {
    for (let i = 0; i < 10; i++) await app.query('SELECT 1');
  } finally {
    await app.end();
  }
  const status = (await (await fetch(`http://127.0.0.1:${proxy.sluice.httpAddress!.port}/status.json`)).json()) as { transitions: unknown[] };
  const { page, errors } = await openPage();
  const sb = proxy.sandbox;
  const expected = [sb.primary, ...sb.replicas].map((h) => `${h.host}:${h.port}`);
  const rows = await page.locator('#backends tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-host')));
  assert.deepEqual(rows, expected);
  assert.equal(await page.textContent('#writer'), expected[0]);
  assert.equal(await page.textContent('#writer-ndx'), 'backend_ndx 1 · writeHost[0]');

  // Statements per second from the first sample (the average since start), not a placeholder.
  const qps = (await page.textContent('#qps')) ?? '';
  assert.match(qps, /^\d+(\.\d)?$/, `qps on first load: ${qps}`);
  assert.ok(Number(qps) > 0, qps);
  assert.equal(await page.textContent('#qps-basis'), 'average since start');

  // The backends table numbers hosts as SELECT * FROM backends does.
  const backends = await adminRows('SELECT * FROM backends');
  const table = await tableText(page, 'backends');
  assert.deepEqual(
    table.map((r) => [Number(r[0]), r[1]!.replace(' ★', ''), r[2], r[3]]),
    backends.map((b) => [b.backend_ndx, b.address, b.role, b.switch_datasource ?? '–']),
  );
  const legend = await page.textContent('#backends + .legend');
  assert.match(legend ?? '', /SET OFFLINE n.*SET ONLINE n.*REMOVE BACKEND n/s);
  assert.match(legend ?? '', /SWITCH @@DATASOURCE dh:i/);

  // One read-split row per backend with its statements and share; they add up.
  const split = await tableText(page, 'split');
  assert.deepEqual(
    split.map((r) => [Number(r[0]), r[1], r[2]]),
    backends.map((b) => [b.backend_ndx, b.address, b.role]),
  );
  const counts = split.map((r) => Number(r[3]));
  assert.ok(counts.every((n) => Number.isInteger(n) && n >= 0), JSON.stringify(split));
  assert.ok(counts.reduce((a, b) => a + b, 0) >= 10, JSON.stringify(split));
  const shares = split.map((r) => Number(/^([\d.]+) %$/.exec(r[4]!)?.[1]));
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 100) < 0.5, JSON.stringify(split));

  assert.match((await page.textContent('#consistency')) ?? '', /^\d+ \/ \d+ \/ \d+$/);

  // Nothing happened to the backends since start: a sentence, no numbered "none" item.
  if (status.transitions.length > 0) {
    // A slow heartbeat already moved something: check the empty state on the same data without it.
    t.diagnostic(`${status.transitions.length} transition(s) before the page opened; checking the empty state with them left out`);
    await page.route('**/status.json', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...((await response.json()) as object), transitions: [] } });
    });
    await page.waitForFunction(`!document.getElementById('no-transitions').hidden`, undefined, { timeout: 10_000 });
  }
  assert.equal(await page.isVisible('#no-transitions'), true);
  assert.equal(await page.textContent('#no-transitions'), 'no transitions yet');
  assert.equal(await page.locator('#transitions li').count(), 0);
  assert.equal(await page.isVisible('#transitions'), false);
  // Cooperation is off: no Cluster section, no banner.
  assert.equal(await page.isVisible('#cluster-section'), false);
  assert.equal(await page.isVisible('#banner'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('after load and a backend change: the read split moves, transitions replace "no transitions yet"', async (t) => {
  if (unavailable || !browser) {
    t.skip(unavailable || 'no browser');
    return;
  }
  const { page, errors } = await openPage();
  const before = (await tableText(page, 'split')).map((r) => Number(r[3]));
  // Writes and reads (the reads after a write are causal: the consistency counters move).
  const app = await proxy.connect();
  try {
    await app.query('CREATE TABLE IF NOT EXISTS status_page_load (id INT AUTO_INCREMENT PRIMARY KEY, v INT)');
    for (let i = 0; i < 20; i++) {
      await app.query('INSERT INTO status_page_load (v) VALUES (?)', [i]);
      await app.query('SELECT COUNT(*) FROM status_page_load');
    }
    const reader = await proxy.connect();
    try {
      for (let i = 0; i < 60; i++) await reader.query('SELECT ?', [i]);
    } finally {
      await reader.end();
    }
  } finally {
    await app.end();
  }
  const [off] = await adminRows('SET OFFLINE 3');
  assert.equal(off!.state, 'offline');
  await adminRows('SET ONLINE 3');
  // The next polls: the change is listed, the split grew, and the rate comes from two samples.
  await page.waitForFunction(`document.querySelectorAll('#transitions li').length > 0`, undefined, { timeout: 10_000 });
  assert.equal(await page.isVisible('#no-transitions'), false);
  assert.match((await page.textContent('#transitions')) ?? '', /offline/);
  await page.waitForFunction(`/^last \\d+ s$/.test(document.getElementById('qps-basis').textContent)`, undefined, { timeout: 10_000 });
  assert.match((await page.textContent('#qps')) ?? '', /^\d+(\.\d)?$/);
  const after = (await tableText(page, 'split')).map((r) => Number(r[3]));
  assert.ok(after.reduce((a, b) => a + b, 0) >= before.reduce((a, b) => a + b, 0) + 100, `${before} → ${after}`);
  const consistency = ((await page.textContent('#consistency')) ?? '').split(' / ').map(Number);
  assert.ok(consistency.reduce((a, b) => a + b, 0) >= 1, `consistent reads counted: ${consistency.join(' / ')}`);

  const shot = process.env['SLUICE_STATUS_SCREENSHOT'] ?? path.join(os.tmpdir(), `sluice-status-page-${process.pid}.png`);
  await page.setViewportSize({ width: 1100, height: 800 });
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 1000);
  process.stdout.write(`# status page screenshot: ${shot}\n`);
  assert.deepEqual(errors, []);
  await page.close();
});

/** A proxy with cluster.cooperation and the HTTP endpoint in front of the sandbox (or other servers). */
function cooperating(instanceName: string, dataHost?: Record<string, unknown>): Promise<TestProxy> {
  return startProxy({
    http: { host: '127.0.0.1', port: 0 },
    top: { cluster: { cooperation: 'backend-locks', instanceName } },
    ...(dataHost ? { dataHost } : {}),
  });
}

test('with cluster.cooperation: the Cluster section says who leads and who follows, the banner when writes are refused', async (t) => {
  if (unavailable || !browser) {
    t.skip(unavailable || 'no browser');
    return;
  }
  const sb = proxy.sandbox;
  const ids = [sb.primary, ...sb.replicas].map((h) => `${h.host}:${h.port}`);
  const line = (page: Page): Promise<string> => page.textContent('#cluster-line').then((x) => x ?? '');
  const leader = await cooperating('sluice-a');
  const follower = await cooperating('sluice-b');
  // Two readHosts nobody listens on: this one reaches one server of three.
  const cutOff = await cooperating('sluice-c', { readHosts: [{ host: '127.0.0.1', port: 1 }, { host: '127.0.0.1', port: 2 }] });
  try {
    const a = await openPage(leader);
    await a.page.waitForFunction(`!document.getElementById('cluster-section').hidden`, undefined, { timeout: 10_000 });
    assert.equal(
      await line(a.page),
      `this instance sluice-a: leading (holds the lead lock on ${ids.join(', ')}; a majority is 2 of 3) · writeHost ${ids[0]} published on ${ids.join(', ')}`,
    );
    assert.equal(await a.page.getAttribute('#cluster-line', 'class'), 'leading');
    assert.deepEqual(await tableText(a.page, 'cluster'), ids.map((id) => [id, 'this instance', ids[0]]));
    assert.match((await a.page.textContent('#cluster-legend')) ?? '', /majority: all · lock timeout 5 s · lead lock sluice:dh1:lead/);
    assert.equal(await a.page.isVisible('#banner'), false);
    assert.deepEqual(a.errors, []);

    const b = await openPage(follower);
    await b.page.waitForFunction(`!document.getElementById('cluster-section').hidden`, undefined, { timeout: 10_000 });
    assert.match(await line(b.page), new RegExp(`^this instance sluice-b: following another instance \\(lock connection \\d+ on ${ids[0]!.replace(/\./g, '\\.')}.*\\) · writeHost ${ids[0]!.replace(/\./g, '\\.')} published on `));
    assert.deepEqual(await tableText(b.page, 'cluster'), ids.map((id) => [id, 'other instance', ids[0]]));
    assert.equal(await b.page.isVisible('#banner'), false);
    assert.deepEqual(b.errors, []);

    const c = await openPage(cutOff);
    await c.page.waitForFunction(`document.getElementById('banner').className === 'bad'`, undefined, { timeout: 10_000 });
    assert.equal(await c.page.textContent('#banner'), 'Without a majority: writes refused (unreachable: 127.0.0.1:1, 127.0.0.1:2)');
    assert.match(await line(c.page), /^this instance sluice-c: without a majority \(reaches 1 of 3; a majority is 2 of 3; unreachable: 127\.0\.0\.1:1, 127\.0\.0\.1:2\)$/);
    assert.equal(await c.page.getAttribute('#cluster-line', 'class'), 'no-majority');
    assert.deepEqual((await tableText(c.page, 'cluster')).map((r) => r[1]), ['other instance', 'unreachable', 'unreachable']);
    assert.deepEqual(c.errors, []);
    await Promise.all([a.page.close(), b.page.close(), c.page.close()]);
  } finally {
    await cutOff.close();
    await follower.close();
    await leader.close();
  }
});
