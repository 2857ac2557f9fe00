/**
 * Mycat `balance` modes, the three selectors, weights, and the fallback to the writeHost when
 * no readHost can serve — each seen through `@@server_id` (primary 1, replicas 2 and 3).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { serverId, startProxy, type ProxyOverrides } from '../helpers/proxy.js';
import { getSandbox, type SandboxInfo } from '../helpers/sandbox.js';

let sb: SandboxInfo;
before(async () => {
  sb = await getSandbox();
});

/** Counts which server answered `n` autocommit reads through a proxy built with `overrides`. */
async function spread(overrides: ProxyOverrides, n: number, sql?: (i: number) => string): Promise<Map<number, number>> {
  const p = await startProxy(overrides);
  const c = await p.connect();
  const counts = new Map<number, number>();
  try {
    for (let i = 0; i < n; i++) {
      let id: number;
      if (sql) {
        const [rows] = await c.query(sql(i));
        id = Number((rows as { id: number }[])[0]!.id);
      } else {
        id = await serverId(c);
      }
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  } finally {
    await c.end();
    await p.close();
  }
}

const keys = (m: Map<number, number>): number[] => [...m.keys()].sort();
const host = (i: number) => ({ host: sb.replicas[i]!.host, port: sb.replicas[i]!.port });
const primary = () => ({ host: sb.primary.host, port: sb.primary.port });

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('balance', () => {
  test('0: no split — every read on the writeHost', async () => {
    assert.deepEqual(keys(await spread({ dataHost: { balance: 0 } }, 20)), [1]);
  });

  test('1: readHosts and standby writeHosts, never the active writeHost', async () => {
    const m = await spread(
      { dataHost: { balance: 1, writeHosts: [primary(), host(0)], readHosts: [host(1)], failover: { enabled: false } } },
      30,
    );
    assert.deepEqual(keys(m), [2, 3]);
  });

  test('2: all hosts, the writeHost included', async () => {
    assert.deepEqual(keys(await spread({ dataHost: { balance: 2 } }, 30)), [1, 2, 3]);
  });

  test('3: readHosts only (a standby writeHost gets no reads)', async () => {
    const m = await spread(
      { dataHost: { balance: 3, writeHosts: [primary(), host(0)], readHosts: [host(1)], failover: { enabled: false } } },
      20,
    );
    assert.deepEqual(keys(m), [3]);
  });
});

describe('selectors', () => {
  test('round-robin honours weights 3:1', async () => {
    const m = await spread({ dataHost: { readHosts: [{ ...host(0), weight: 3 }, { ...host(1), weight: 1 }] } }, 400);
    assert.equal(m.get(2), 300);
    assert.equal(m.get(3), 100);
  });

  test('weight 0 takes a readHost out of rotation', async () => {
    const m = await spread({ dataHost: { readHosts: [{ ...host(0), weight: 0 }, host(1)] } }, 20);
    assert.deepEqual(keys(m), [3]);
  });

  test('least-conn spreads a single client over both readHosts', async () => {
    assert.deepEqual(keys(await spread({ dataHost: { loadBalance: 'least-conn' } }, 40)), [2, 3]);
  });

  test('consistent-hash keeps one statement on one host and spreads different statements', async () => {
    const same = await spread({ dataHost: { loadBalance: 'consistent-hash' } }, 20, () => 'SELECT @@server_id AS id');
    assert.equal(same.size, 1);
    const different = await spread(
      { dataHost: { loadBalance: 'consistent-hash' } },
      60,
      // Different shapes (the digest folds literals and comments, so vary an alias instead).
      (i) => `SELECT @@server_id AS id, 1 AS c${i}`,
    );
    assert.deepEqual(keys(different), [2, 3]);
  });
});

describe('fallback', () => {
  test('with every readHost unreachable, reads go to the writeHost without an error', async () => {
    const dead = [{ host: '127.0.0.1', port: await deadPort() }, { host: '127.0.0.1', port: await deadPort() }];
    assert.deepEqual(keys(await spread({ dataHost: { readHosts: dead } }, 10)), [1]);
  });

  test('with one readHost unreachable, reads go to the other one', async () => {
    const m = await spread({ dataHost: { readHosts: [{ host: '127.0.0.1', port: await deadPort() }, host(1)] } }, 20);
    assert.deepEqual(keys(m), [3]);
  });
});

