import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodePacket,
  encodePackets,
  PacketDecoder,
  physicalPacketCount,
  type DecodedPacket,
} from '../../../src/protocol/framer.js';
import { MAX_PACKET_PAYLOAD } from '../../../src/protocol/constants.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { MARIADB_CLI, MARIADB_CLI_SERVER_STREAM, payloadOf } from './fixtures.js';

const MAX = MAX_PACKET_PAYLOAD;
const NO_LIMIT = 1 << 30;

function drain(d: PacketDecoder): DecodedPacket[] {
  const out: DecodedPacket[] = [];
  for (let p = d.next(); p; p = d.next()) out.push(p);
  return out;
}

function decodeAll(chunks: readonly Buffer[], max = NO_LIMIT): DecodedPacket[] {
  const d = new PacketDecoder(max);
  const out: DecodedPacket[] = [];
  for (const c of chunks) {
    d.push(c);
    out.push(...drain(d).map(checkedFrame));
  }
  assert.equal(d.buffered, 0, 'nothing left over');
  return out;
}

/** A packet's `frame`, when present, is exactly its header + payload; returns it without one. */
function checkedFrame(p: DecodedPacket): DecodedPacket {
  if (p.frame !== undefined) assert.deepEqual(p.frame, encodePacket(p.payload, p.seq));
  return { seq: p.seq, lastSeq: p.lastSeq, payload: p.payload };
}

/** Headers of the physical packets in an encoded stream: [length, seq][]. */
function headers(stream: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let off = 0; off < stream.length; ) {
    const len = stream.readUIntLE(off, 3);
    out.push([len, stream[off + 3] as number]);
    off += 4 + len;
  }
  return out;
}

/** A payload whose bytes depend on their position, so misplaced chunks are detected. */
function patterned(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i += 4096) b.writeUInt32LE(i, i);
  for (let i = 0; i < n; i++) if (i % 4096 >= 4) b[i] = (i * 7) & 0xff;
  return b;
}

test('encodePacket writes a 3-byte length and the sequence id (hand-checked)', () => {
  assert.deepEqual(encodePacket(Buffer.from([0x0e]), 0), Buffer.from([1, 0, 0, 0, 0x0e]));
  assert.deepEqual(encodePacket(Buffer.alloc(0), 3), Buffer.from([0, 0, 0, 3]));
  assert.deepEqual(encodePacket(Buffer.from('ab'), 256 + 7), Buffer.from([2, 0, 0, 7, 0x61, 0x62]));
});

test('the captured server stream decodes at every possible split point', () => {
  const stream = Buffer.concat(MARIADB_CLI_SERVER_STREAM.map((h) => Buffer.from(h, 'hex')));
  const expected = Object.values(MARIADB_CLI)
    .filter((p) => p.dir === 's2c')
    .map((p) => ({ seq: p.seq, lastSeq: p.seq, payload: payloadOf(p) }));
  assert.deepEqual(decodeAll([stream]), expected);
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(decodeAll([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
  }
  for (let i = 0; i < stream.length; i += 37) {
    // three-way splits, including ones inside a header
    const j = Math.min(stream.length, i + 3);
    assert.deepEqual(decodeAll([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]), expected);
  }
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.deepEqual(decodeAll(bytes), expected, 'one byte at a time');
  // Re-encoding the decoded payloads with their seqs gives the stream back.
  assert.deepEqual(Buffer.concat(expected.map((p) => encodePacket(p.payload, p.seq))), stream);
});

test('16 MiB boundaries, encode and decode', () => {
  const cases: [number, [number, number][]][] = [
    [MAX - 1, [[MAX - 1, 0]]],
    [MAX, [[MAX, 0], [0, 1]]],
    [MAX + 1000, [[MAX, 0], [1000, 1]]],
    [2 * MAX, [[MAX, 0], [MAX, 1], [0, 2]]],
  ];
  for (const [size, expectedHeaders] of cases) {
    const payload = patterned(size);
    const stream = encodePacket(payload, 0);
    assert.deepEqual(headers(stream), expectedHeaders, `headers for ${size}`);
    assert.equal(physicalPacketCount(size), expectedHeaders.length);
    const lastSeq = expectedHeaders.length - 1;
    for (const chunkSize of [stream.length, 65536, 1_000_003]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += chunkSize) chunks.push(stream.subarray(i, i + chunkSize));
      const got = decodeAll(chunks);
      assert.equal(got.length, 1);
      const [p] = got;
      assert.ok(p);
      assert.equal(p.seq, 0);
      assert.equal(p.lastSeq, lastSeq);
      assert.equal(p.payload.length, size);
      assert.ok(p.payload.equals(payload), `payload of ${size} in chunks of ${chunkSize}`);
    }
  }
});

test('a packet after a multi-part one keeps its own sequence id; limit exactly met is fine', () => {
  const big = patterned(MAX);
  const stream = encodePackets([big, Buffer.from('x')], 9);
  assert.deepEqual(headers(stream), [[MAX, 9], [0, 10], [1, 11]]);
  const got = decodeAll([stream], MAX);
  assert.equal(got.length, 2);
  assert.deepEqual([got[0]?.seq, got[0]?.lastSeq, got[1]?.seq, got[1]?.lastSeq], [9, 10, 11, 11]);
});

test('sequence ids wrap at 255', () => {
  const payload = patterned(2 * MAX);
  const stream = encodePacket(payload, 255);
  assert.deepEqual(headers(stream), [[MAX, 255], [MAX, 0], [0, 1]]);
  const [p] = decodeAll([stream]);
  assert.deepEqual([p?.seq, p?.lastSeq], [255, 1]);
  const several = encodePackets([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')], 254);
  assert.deepEqual(headers(several), [[1, 254], [1, 255], [1, 0]]);
  assert.deepEqual(decodeAll([several]).map((q) => q.seq), [254, 255, 0]);
});

test('encodePackets frames several payloads into one buffer', () => {
  const payloads = [Buffer.from([1]), Buffer.alloc(0), Buffer.from('hello')];
  const out = encodePackets(payloads, 1);
  assert.deepEqual(out, Buffer.concat(payloads.map((p, i) => encodePacket(p, i + 1))));
  assert.deepEqual(encodePackets([], 0), Buffer.alloc(0));
});

test('oversize packets fail from the header, before their bytes are buffered', () => {
  const d = new PacketDecoder(1000);
  d.push(Buffer.from([0xd1, 0x07, 0x00, 0x00])); // header of a 2001-byte packet, no body yet
  assert.throws(() => d.next(), (e: unknown) => e instanceof ProtocolError && e.code === 'packet-too-large');
  assert.equal(d.buffered, 4);
  // The decoder stays failed: the stream is out of sync.
  assert.throws(() => d.push(Buffer.from([1])), ProtocolError);
  assert.throws(() => d.next(), ProtocolError);

  const exact = new PacketDecoder(1000);
  exact.push(encodePacket(Buffer.alloc(1000), 0));
  assert.equal(exact.next()?.payload.length, 1000);
});

test('oversize continuation fails at the continuation header', () => {
  const d = new PacketDecoder(MAX + 10);
  const stream = encodePacket(patterned(MAX + 500), 0);
  d.push(stream.subarray(0, 4 + MAX + 4)); // first packet plus the second header only
  assert.throws(() => d.next(), (e: unknown) => e instanceof ProtocolError && e.code === 'packet-too-large');
  assert.equal(d.buffered, MAX + 4, 'the 500-byte body was never waited for');
});

test('a continuation with the wrong sequence id is a protocol error', () => {
  const stream = Buffer.from(encodePacket(patterned(MAX + 1), 0));
  stream[4 + MAX + 3] = 5;
  const d = new PacketDecoder(NO_LIMIT);
  d.push(stream);
  assert.throws(() => d.next(), (e: unknown) => e instanceof ProtocolError && e.code === 'bad-sequence');
});

test('buffered counts unconsumed input and partial reassembly', () => {
  const d = new PacketDecoder(NO_LIMIT);
  assert.equal(d.buffered, 0);
  d.push(Buffer.from([3, 0, 0, 0, 1]));
  assert.equal(d.next(), undefined);
  assert.equal(d.buffered, 5);
  d.push(Buffer.alloc(0));
  d.push(Buffer.from([2, 3, 0, 0]));
  assert.deepEqual(checkedFrame(d.next()!), { seq: 0, lastSeq: 0, payload: Buffer.from([1, 2, 3]) });
  assert.equal(d.buffered, 2);
  assert.equal(d.next(), undefined);
  const big = encodePacket(patterned(MAX + 5), 0);
  const e = new PacketDecoder(NO_LIMIT);
  e.push(big.subarray(0, 4 + MAX + 2));
  assert.equal(e.next(), undefined);
  assert.equal(e.buffered, 4 + MAX + 2 - 4, 'first part reassembled, header consumed');
});

test('frame: a packet whole in one chunk comes with a view of its bytes; a split one without', () => {
  const bytes = encodePacket(Buffer.from('SELECT 1'), 0);
  const whole = new PacketDecoder(NO_LIMIT);
  whole.push(Buffer.concat([bytes, Buffer.from([1, 0])]));
  const p = whole.next()!;
  assert.deepEqual(p.frame, bytes);
  const split = new PacketDecoder(NO_LIMIT);
  split.push(bytes.subarray(0, 6));
  split.push(bytes.subarray(6));
  assert.equal(split.next()!.frame, undefined);
});
