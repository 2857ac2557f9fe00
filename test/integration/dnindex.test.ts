/**
 * The dnindex at start-up against the shared sandbox: the recorded writeHost address keeps the
 * writer role on the right server after the writeHosts list was edited, and a recorded writer
 * that is gone from the list refuses the start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DnIndexError } from '../../src/cluster/dnindex.js';
import { serverId, startProxy } from '../helpers/proxy.js';
import { getSandbox } from '../helpers/sandbox.js';

test('writeHosts edited since the dnindex was written: the recorded master keeps the role at its new index', async () => {
  const sb = await getSandbox();
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dnindex-'));
  const file = path.join(dir, 'dnindex.properties');
  const primary = `${sb.primary.host}:${sb.primary.port}`;
  // Written when the list was [replica1, primary]: the primary was writeHost 1. The list is now
  // [primary, replica1]; index 1 alone would name replica1, a read-only replica.
  writeFileSync(file, `#update\ndh1=1\ndh1.writeHost=${primary}\n`);
  const proxy = await startProxy({
    dataHost: {
      writeHosts: [{ host: sb.primary.host, port: sb.primary.port }, { host: sb.replicas[0]!.host, port: sb.replicas[0]!.port }],
      readHosts: [{ host: sb.replicas[1]!.host, port: sb.replicas[1]!.port }],
      failover: { enabled: true, promote: false, dnindexFile: file },
    },
  });
  try {
    assert.equal(proxy.sluice.cluster.view.writerIndex, 0);
    const c = await proxy.connect();
    try {
      assert.equal(await serverId(c, '/*master*/ '), sb.primary.serverId);
      await c.query('CREATE TABLE IF NOT EXISTS dnindex_t (id INT PRIMARY KEY)');
      await c.query('REPLACE INTO dnindex_t VALUES (1)');
    } finally {
      await c.end();
    }
    // The file follows: index 0, same address.
    const deadline = Date.now() + 5000;
    while (!/\ndh1=0\n/.test(readFileSync(file, 'utf8')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(readFileSync(file, 'utf8'), new RegExp(`\\ndh1=0\\ndh1\\.writeHost=${primary.replace(/\./g, '\\.')}\\n`));
  } finally {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a recorded master that is no longer a writeHost refuses the start', async () => {
  const sb = await getSandbox();
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dnindex-'));
  const file = path.join(dir, 'dnindex.properties');
  writeFileSync(file, '#update\ndh1=0\ndh1.writeHost=10.99.99.99:3306\n');
  try {
    await assert.rejects(
      startProxy({
        dataHost: {
          writeHosts: [{ host: sb.primary.host, port: sb.primary.port }],
          failover: { enabled: true, dnindexFile: file },
        },
      }),
      (err: unknown) => err instanceof DnIndexError && /10\.99\.99\.99:3306, which is no longer among/.test(err.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
