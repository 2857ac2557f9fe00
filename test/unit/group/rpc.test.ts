/** Request/answer over a channel: answers by id, errors, a timeout, and failing all at once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rpc, serve } from '../../../src/group/rpc.js';

test('an answer resolves its own request; an error answer rejects it', async () => {
  const sent: { id: number; q: string }[] = [];
  const rpc = new Rpc<string>((m) => sent.push(m));
  const a = rpc.request<number>('a');
  const b = rpc.request<number>('b');
  assert.deepEqual(sent.map((m) => m.q), ['a', 'b']);
  rpc.answer({ id: sent[1]!.id, value: 2 });
  rpc.answer({ id: sent[0]!.id, error: 'no' });
  assert.equal(await b, 2);
  await assert.rejects(a, /no/);
  rpc.answer({ id: 999, value: 1 }); // unknown ids are ignored
});

test('no answer in time fails the request; failAll fails every open one', async () => {
  // The request's own timer does not keep a process alive (the IPC channel does): this one does.
  const alive = setTimeout(() => undefined, 5_000);
  const rpc = new Rpc<string>(() => undefined, 20);
  await assert.rejects(rpc.request('late'), /no answer within 20 ms/);
  clearTimeout(alive);
  const rpc2 = new Rpc<string>(() => undefined);
  const open = [rpc2.request('x'), rpc2.request('y')];
  rpc2.failAll('the worker exited');
  for (const p of open) await assert.rejects(p, /the worker exited/);
});

test('serve answers with the handler result or its error', async () => {
  const replies: unknown[] = [];
  await serve({ id: 1, q: 2 }, (q: number) => q * 2, (r) => replies.push(r));
  await serve({ id: 2, q: 0 }, () => Promise.reject(new Error('bad')), (r) => replies.push(r));
  assert.deepEqual(replies, [
    { t: 'res', id: 1, value: 4 },
    { t: 'res', id: 2, error: 'bad' },
  ]);
});
