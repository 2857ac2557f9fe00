/**
 * A client that stops reading a large result and then disconnects: the relay had paused the
 * backend socket waiting for the client to drain, which never happens once the client is gone.
 * The backend connection must be closed (its result is half read) and never stay borrowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy } from '../helpers/proxy.js';
import { RawClient } from '../helpers/raw-client.js';
import { encodeQuery } from '../../src/protocol/commands.js';
import { encodePacket } from '../../src/protocol/framer.js';

test('a client that disconnects while the relay waits for it to drain gives its backend connection back', { timeout: 60_000 }, async () => {
  const p = await startProxy({ dataHost: { balance: 0 } });
  try {
    const writer = p.sandbox.primary;
    const writerId = `${writer.host}:${writer.port}`;
    const c = await RawClient.connect(p.port, p.sandbox.user, p.sandbox.password, p.sandbox.database);
    c.socket.pause(); // stop reading: the proxy's writes back up
    c.socket.write(encodePacket(encodeQuery("SELECT REPEAT('x', 100000) AS big FROM seq_1_to_2000"), 0));
    // Wait until the proxy is blocked on this client (a backend connection borrowed, result unread).
    const deadline = Date.now() + 10_000;
    while (p.sluice.pools(writerId)!.stats().borrowed === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.sluice.pools(writerId)!.stats().borrowed, 1, 'the statement holds a backend connection');
    c.socket.destroy();
    const released = Date.now() + 5_000;
    while (p.sluice.pools(writerId)!.stats().borrowed > 0 && Date.now() < released) await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.sluice.pools(writerId)!.stats().borrowed, 0, 'the backend connection was given back (closed)');
    assert.equal(p.sluice.frontend.sessionCount, 0, 'the session ended');
  } finally {
    const closing = p.close();
    const outcome = await Promise.race([closing.then(() => 'closed'), new Promise((r) => setTimeout(() => r('hung'), 10_000))]);
    assert.equal(outcome, 'closed', 'the proxy shuts down');
  }
});
