import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketReader, readLenencInt, skipLenencInt } from '../../../src/protocol/reader.js';
import { PacketWriter } from '../../../src/protocol/writer.js';
import { ProtocolError } from '../../../src/protocol/errors.js';

function protocolError(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

test('lenenc integers round-trip at every size boundary', () => {
  const cases: [number | bigint, number][] = [
    [0, 1], [250, 1], [251, 3], [0xffff, 3], [0x10000, 4], [0xffffff, 4], [0x1000000, 9],
    [Number.MAX_SAFE_INTEGER, 9], [2n ** 53n, 9], [2n ** 64n - 1n, 9],
  ];
  for (const [value, size] of cases) {
    assert.equal(PacketWriter.lenencIntSize(value), size, `size of ${value}`);
    const buf = new PacketWriter().lenencInt(value).toBuffer();
    assert.equal(buf.length, size);
    const r = new PacketReader(buf);
    const back = r.lenencInt();
    // Values up to 2^53-1 come back as numbers, larger ones as bigint.
    assert.equal(typeof back, BigInt(value) > BigInt(Number.MAX_SAFE_INTEGER) ? 'bigint' : 'number');
    assert.equal(BigInt(back as number | bigint), BigInt(value));
    assert.equal(r.remaining, 0);
    assert.equal(skipLenencInt(buf, 0), size);
  }
});

test('lenenc prefixes from the protocol docs', () => {
  assert.deepEqual(new PacketWriter().lenencInt(251).toBuffer(), Buffer.from([0xfc, 0xfb, 0x00]));
  assert.deepEqual(new PacketWriter().lenencInt(0x10000).toBuffer(), Buffer.from([0xfd, 0, 0, 1]));
  assert.equal(new PacketReader(Buffer.from([0xfb])).lenencInt(), null);
  assert.equal(new PacketReader(Buffer.from([0xfb])).lenencBuffer(), null);
  assert.throws(() => new PacketReader(Buffer.from([0xff])).lenencInt(), protocolError('malformed'));
  assert.throws(() => readLenencInt(Buffer.from([0xfe, 1, 2]), 0), protocolError('truncated'));
  assert.throws(() => skipLenencInt(Buffer.from([0xfc, 1]), 0), protocolError('truncated'));
});

test('fixed-width reads are little-endian and bounds-checked', () => {
  const buf = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
  const r = new PacketReader(buf);
  assert.equal(r.u8(), 1);
  assert.equal(r.u16(), 0x0302);
  assert.equal(r.u24(), 0x060504);
  assert.equal(r.u32(), 0x0a090807);
  assert.equal(r.u64(), 0x1211100f0e0d0c0bn);
  assert.equal(r.remaining, 0);
  assert.equal(r.offset, 18);
  for (const read of [() => r.u8(), () => r.u16(), () => r.u24(), () => r.u32(), () => r.u64(), () => r.bytes(1)]) {
    assert.throws(read, protocolError('truncated'));
  }
  assert.deepEqual(r.rest(), Buffer.alloc(0));
});

test('strings: NUL-terminated, length-encoded, fixed and rest', () => {
  const buf = new PacketWriter()
    .nulString('héllo')
    .lenencString('wörld')
    .lenencBuffer(Buffer.from([0, 1, 2]))
    .string('tail')
    .toBuffer();
  const r = new PacketReader(buf);
  assert.equal(r.nulString(), 'héllo');
  assert.equal(r.lenencString(), 'wörld');
  assert.deepEqual(r.lenencBuffer(), Buffer.from([0, 1, 2]));
  assert.equal(r.peek(), 't'.charCodeAt(0));
  assert.equal(r.restString(), 'tail');
  assert.equal(r.peek(), undefined);
});

test('malformed strings throw ProtocolError, never read past the packet', () => {
  assert.throws(() => new PacketReader(Buffer.from('abc')).nulString(), protocolError('missing-nul'));
  assert.throws(() => new PacketReader(Buffer.from([5, 0x61])).lenencString(), protocolError('truncated'));
  assert.throws(() => new PacketReader(Buffer.from([0xfb])).lenencString(), protocolError('malformed'));
  assert.throws(() => new PacketReader(Buffer.from([1])).skip(2), protocolError('truncated'));
  assert.throws(() => new PacketReader(Buffer.from([1])).bytes(-1), protocolError('malformed'));
  assert.throws(() => new PacketReader(Buffer.from([1]), 2), protocolError('truncated'));
  // A lenenc length above 2^53 cannot fit any packet.
  const huge = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x61]);
  assert.throws(() => new PacketReader(huge).lenencBuffer(), protocolError('truncated'));
  // nulStringOrRest tolerates a missing final NUL.
  assert.equal(new PacketReader(Buffer.from('plugin')).nulStringOrRest(), 'plugin');
  const r = new PacketReader(Buffer.from([1, 2]));
  r.skip(1);
  assert.throws(() => r.expectEnd('x'), protocolError('trailing-bytes'));
  r.skip(1);
  r.expectEnd('x');
});

test('writer grows, returns a stable view, and accepts int32 flag words', () => {
  const w = new PacketWriter(16);
  for (let i = 0; i < 10_000; i++) w.u8(i & 0xff);
  const first = w.toBuffer();
  assert.equal(first.length, 10_000);
  w.u32(0x80000000 | 1); // negative in JS after `|`
  assert.deepEqual(first.subarray(0, 3), Buffer.from([0, 1, 2]));
  const all = w.toBuffer();
  assert.equal(all.readUInt32LE(10_000), 0x80000001);
  assert.deepEqual(new PacketWriter().u64(5).u24(0x010203).zeros(2).toBuffer(), Buffer.from([5, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1, 0, 0]));
  assert.throws(() => new PacketWriter().lenencInt(-1), RangeError);
  assert.throws(() => new PacketWriter().u32(2 ** 32), RangeError);
});
