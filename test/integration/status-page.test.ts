/**
 * The status page (`GET /`) in a real browser: Debian's chromium (/usr/bin/chromium, installed
 * by .ci/install-deps) driven by playwright-core. The page's script fetches /status.json and
 * renders one row per backend; a screenshot goes to a temp file (path printed).
 *
 * Without a working Chromium the test is skipped with the reason, except under CI=true where it
 * fails (install-deps should have installed it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const CHROMIUM = '/usr/bin/chromium';

let proxy: TestProxy;
let browser: BrowserContext | undefined;
let unavailable: string | false = false;
const profileDir = mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));

before(async () => {
  proxy = await startProxy({ http: { host: '127.0.0.1', port: 0 } });
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

test('the status page renders one row per backend with its address', async (t) => {
  if (unavailable || !browser) {
    t.skip(unavailable || 'no browser');
    return;
  }
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${proxy.sluice.httpAddress!.port}/`);
  const sb = proxy.sandbox;
  const expected = [sb.primary, ...sb.replicas].map((h) => `${h.host}:${h.port}`);
  // String predicates: the test tsconfig has no DOM types.
  await page.waitForFunction(`document.querySelectorAll('#backends tbody tr').length === ${expected.length}`, undefined, { timeout: 10_000 });
  const rows = await page.locator('#backends tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-host')));
  assert.deepEqual(rows, expected);
  const writer = await page.textContent('#writer');
  assert.equal(writer, expected[0]);
  const firstRole = await page.textContent('#backends tbody tr:first-child td:nth-child(2)');
  assert.match(firstRole ?? '', /^writeHost/);
  // QPS appears after the second poll (2 s later).
  await page.waitForFunction(`document.getElementById('qps').textContent !== '–'`, undefined, { timeout: 10_000 });
  const shot = path.join(os.tmpdir(), `sluice-status-page-${process.pid}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 1000);
  process.stdout.write(`# status page screenshot: ${shot}\n`);
  assert.deepEqual(errors, []);
  await page.close();
});
