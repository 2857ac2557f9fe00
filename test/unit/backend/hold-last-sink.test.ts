/** HoldLastSink: everything but the latest chunk goes through at once; release sends the rest. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HoldLastSink } from '../../../src/backend/hold-last-sink.js';

function out(full = false) {
  const written: string[] = [];
  return {
    written,
    sink: { write: (b: Buffer) => (written.push(b.toString()), !full), once: () => undefined, off: () => undefined, destroyed: false },
  };
}

test('the last chunk waits for release; earlier chunks pass with their backpressure', () => {
  const o = out(true);
  const h = new HoldLastSink(o.sink);
  assert.equal(h.write(Buffer.from('a')), true, 'nothing written yet');
  assert.deepEqual(o.written, []);
  assert.equal(h.write(Buffer.from('b')), false, 'the client buffer is full');
  assert.deepEqual(o.written, ['a']);
  h.release();
  assert.deepEqual(o.written, ['a', 'b']);
  h.release();
  assert.deepEqual(o.written, ['a', 'b'], 'released once');
});
