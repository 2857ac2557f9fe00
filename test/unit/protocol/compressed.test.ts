import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import {
  COMPRESSED_HEADER_LENGTH,
  CompressedDecoder,
  MAX_FRAME_INPUT,
  MIN_COMPRESS_LENGTH,
  encodeCompressed,
  type DecodedFrame,
} from '../../../src/protocol/compressed.js';
import { PacketDecoder, encodePacket, encodePackets } from '../../../src/protocol/framer.js';
import { ProtocolError } from '../../../src/protocol/errors.js';

interface Header {
  length: number;
  seq: number;
  plainLength: number;
}

function headers(stream: Buffer): Header[] {
  const out: Header[] = [];
  for (let off = 0; off < stream.length; ) {
    const length = stream.readUIntLE(off, 3);
    out.push({ length, seq: stream[off + 3] as number, plainLength: stream.readUIntLE(off + 4, 3) });
    off += COMPRESSED_HEADER_LENGTH + length;
  }
  return out;
}

function drain(d: CompressedDecoder): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (let f = d.next(); f; f = d.next()) out.push(f);
  return out;
}

/** Feeds `chunks` to a fresh decoder; returns the plain stream and the frames' sequence ids. */
function decodeAll(chunks: readonly Buffer[]): { plain: Buffer; seqs: number[] } {
  const d = new CompressedDecoder();
  const parts: Buffer[] = [];
  const seqs: number[] = [];
  for (const c of chunks) {
    d.push(c);
    for (const f of drain(d)) {
      parts.push(f.payload);
      seqs.push(f.seq);
    }
  }
  assert.equal(d.buffered, 0, 'nothing left over');
  return { plain: Buffer.concat(parts), seqs };
}

/** Row-like text: compresses well, and a misplaced byte shows. */
function rows(n: number): Buffer {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `row ${i} name-${i % 97} value ${(i * 7919) % 10007};`;
  return Buffer.from(s.slice(0, n), 'latin1');
}

test('the example from the MySQL documentation: one uncompressed COM_QUERY frame', () => {
  const query = Buffer.concat([Buffer.from([0x03]), Buffer.from('select "012345678901234567890123456789012345"')]);
  const packet = encodePacket(query, 0);
  assert.equal(packet.length, 50);
  const frame = Buffer.concat([Buffer.from([0x32, 0, 0, 0, 0, 0, 0]), packet]);
  const { plain, seqs } = decodeAll([frame]);
  assert.deepEqual(plain, packet);
  assert.deepEqual(seqs, [0]);
});

test('a payload under MIN_COMPRESS_LENGTH is sent uncompressed (length before compression 0)', () => {
  const data = encodePacket(Buffer.from([0x0e]), 0); // COM_PING
  const { bytes, count } = encodeCompressed(data, 0);
  assert.equal(count, 1);
  assert.deepEqual(bytes, Buffer.from([5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x0e]));
  assert.ok(MIN_COMPRESS_LENGTH > data.length);
});

test('a compressible payload is deflated (zlib format) and declares its length before compression', () => {
  const data = rows(5000);
  const { bytes, count } = encodeCompressed(data, 3);
  assert.equal(count, 1);
  const [h] = headers(bytes);
  assert.equal(h!.seq, 3);
  assert.equal(h!.plainLength, data.length);
  assert.ok(h!.length < data.length / 2, `compressed to ${h!.length}`);
  assert.deepEqual(zlib.inflateSync(bytes.subarray(COMPRESSED_HEADER_LENGTH)), data);
});

test('a payload that does not shrink goes uncompressed', () => {
  const data = randomBytes(1000);
  const { bytes } = encodeCompressed(data, 0);
  assert.deepEqual(headers(bytes), [{ length: 1000, seq: 0, plainLength: 0 }]);
  assert.deepEqual(bytes.subarray(COMPRESSED_HEADER_LENGTH), data);
});

test('large input is cut into frames of at most MAX_FRAME_INPUT with consecutive sequence ids mod 256', () => {
  const data = Buffer.concat([rows(MAX_FRAME_INPUT * 2), randomBytes(MAX_FRAME_INPUT), rows(100)]);
  const { bytes, count } = encodeCompressed(data, 254);
  const hs = headers(bytes);
  assert.equal(count, 4);
  assert.deepEqual(
    hs.map((h) => h.seq),
    [254, 255, 0, 1],
  );
  assert.deepEqual(
    hs.map((h) => h.plainLength),
    [MAX_FRAME_INPUT, MAX_FRAME_INPUT, 0, 100],
  );
  for (const h of hs) assert.ok(h.length < 0xffffff);
  const { plain, seqs } = decodeAll([bytes]);
  assert.deepEqual(plain, data);
  assert.deepEqual(seqs, [254, 255, 0, 1]);
});

test('round trips: empty, tiny, threshold, compressible, random', () => {
  for (const data of [
    Buffer.alloc(0),
    Buffer.from('x'),
    rows(MIN_COMPRESS_LENGTH - 1),
    rows(MIN_COMPRESS_LENGTH),
    rows(MIN_COMPRESS_LENGTH + 1),
    rows(70_000),
    randomBytes(70_000),
  ]) {
    const { bytes } = encodeCompressed(data, 0);
    assert.deepEqual(decodeAll([bytes]).plain, data, `length ${data.length}`);
  }
});

test('frames split at every byte boundary decode the same', () => {
  // A compressed frame, an uncompressed one and another compressed one back to back.
  const stream = Buffer.concat([
    encodeCompressed(rows(300), 0).bytes,
    encodeCompressed(Buffer.from('short'), 1).bytes,
    encodeCompressed(rows(120), 2).bytes,
  ]);
  const expected = Buffer.concat([rows(300), Buffer.from('short'), rows(120)]);
  for (let i = 0; i <= stream.length; i++) {
    const { plain, seqs } = decodeAll([stream.subarray(0, i), stream.subarray(i)]);
    assert.deepEqual(plain, expected, `split at ${i}`);
    assert.deepEqual(seqs, [0, 1, 2]);
  }
  const bytewise = [...stream].map((b) => Buffer.from([b]));
  assert.deepEqual(decodeAll(bytewise).plain, expected);
});

test('an ordinary packet spanning frames is reassembled by the packet decoder', () => {
  const payload = rows(10_000);
  const packet = encodePacket(payload, 0);
  // Cut the packet stream mid-header and mid-payload, one frame per piece.
  const cuts = [0, 2, 5000, packet.length];
  const frames: Buffer[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) frames.push(encodeCompressed(packet.subarray(cuts[i], cuts[i + 1]), i).bytes);
  const d = new CompressedDecoder();
  const packets = new PacketDecoder(1 << 20);
  d.push(Buffer.concat(frames));
  for (const f of drain(d)) packets.push(f.payload);
  const p = packets.next();
  assert.ok(p);
  assert.deepEqual(p.payload, payload);
  assert.equal(packets.next(), undefined);
});

test('several ordinary packets in one frame come out one by one', () => {
  const payloads = [Buffer.from([0x03, ...Buffer.from('SELECT 1')]), rows(200), Buffer.from([0x0e])];
  const { bytes, count } = encodeCompressed(encodePackets(payloads, 0), 0);
  assert.equal(count, 1);
  const d = new CompressedDecoder();
  d.push(bytes);
  const packets = new PacketDecoder(1 << 20);
  for (const f of drain(d)) packets.push(f.payload);
  const out: Buffer[] = [];
  for (let p = packets.next(); p; p = packets.next()) out.push(p.payload);
  assert.deepEqual(out, payloads);
});

test('property: any data, any starting sequence id, any chunking round trips', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
        fc.nat({ max: 150_000 }).map(rows),
      ),
      fc.integer({ min: 0, max: 255 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (data, seq, cutPoints) => {
        const { bytes, count } = encodeCompressed(data, seq);
        const cuts = [...new Set(cutPoints.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const c of [...cuts, bytes.length]) {
          chunks.push(bytes.subarray(prev, c));
          prev = c;
        }
        const { plain, seqs } = decodeAll(chunks);
        assert.deepEqual(plain, data);
        assert.deepEqual(
          seqs,
          Array.from({ length: count }, (_, i) => (seq + i) & 0xff),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('an incomplete frame waits for more input', () => {
  const { bytes } = encodeCompressed(rows(500), 0);
  const d = new CompressedDecoder();
  d.push(bytes.subarray(0, bytes.length - 1));
  assert.equal(d.next(), undefined);
  assert.equal(d.buffered, bytes.length - 1);
  d.push(bytes.subarray(bytes.length - 1));
  assert.deepEqual(d.next()?.payload, rows(500));
});

function frame(payload: Buffer, seq: number, plainLength: number): Buffer {
  const h = Buffer.alloc(COMPRESSED_HEADER_LENGTH);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  h.writeUIntLE(plainLength, 4, 3);
  return Buffer.concat([h, payload]);
}

function rejects(input: Buffer, code: string): void {
  const d = new CompressedDecoder();
  d.push(input);
  assert.throws(
    () => d.next(),
    (err: unknown) => err instanceof ProtocolError && err.code === code,
  );
  // The stream is out of sync for good: the decoder stays failed.
  assert.throws(() => d.next(), ProtocolError);
  assert.throws(() => d.push(Buffer.from([0])), ProtocolError);
}

test('bad input: data that does not inflate', () => {
  rejects(frame(Buffer.from('this is not a zlib stream at all, not even close'), 0, 100), 'inflate-failed');
  const deflated = zlib.deflateSync(rows(400));
  rejects(frame(deflated.subarray(0, deflated.length - 10), 0, 400), 'inflate-failed'); // truncated stream
});

test('bad input: inflated size differs from the declared one', () => {
  const deflated = zlib.deflateSync(rows(400));
  rejects(frame(deflated, 0, 399), 'compressed-length-mismatch'); // would inflate past the claim
  rejects(frame(deflated, 0, 401), 'compressed-length-mismatch');
  // A small frame claiming 16 MiB inflates only to what it holds: rejected, nothing allocated for the claim.
  rejects(frame(deflated, 0, 0xffffff), 'compressed-length-mismatch');
});

test('bad input: an inflation bomb stops at the declared length', () => {
  const bomb = zlib.deflateSync(Buffer.alloc(8 * 1024 * 1024));
  assert.ok(bomb.length < 10_000);
  rejects(frame(bomb, 0, 1000), 'compressed-length-mismatch');
});

test('bad input: an empty payload that claims a length', () => {
  rejects(frame(Buffer.alloc(0), 0, 10), 'bad-compressed-frame');
});

test('an empty uncompressed frame is legal and carries nothing', () => {
  const { plain, seqs } = decodeAll([frame(Buffer.alloc(0), 7, 0)]);
  assert.equal(plain.length, 0);
  assert.deepEqual(seqs, [7]);
});
