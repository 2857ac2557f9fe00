/**
 * Decoders are total: on arbitrary bytes they return a value or throw ProtocolError, nothing
 * else, and they terminate. Inputs are random bytes and mutations (truncation, byte flips,
 * splices) of real captured packets, so the fuzzing also reaches deep into valid layouts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeCommand } from '../../../src/protocol/commands.js';
import {
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeHandshakeResponse,
  decodeInitialHandshake,
  decodeSslRequest,
  isSslRequest,
} from '../../../src/protocol/handshake.js';
import {
  decodeColumnCount,
  decodeColumnDefinition,
  decodeEof,
  decodeErr,
  decodeOk,
  decodeSessionState,
  decodeTextRow,
  okStatusFlags,
} from '../../../src/protocol/responses.js';
import { decodeExecuteBody, decodeStmtPrepareOk } from '../../../src/protocol/statements.js';
import { PacketDecoder } from '../../../src/protocol/framer.js';
import { ProtocolError } from '../../../src/protocol/errors.js';
import { MARIADB_CLI, MYSQL2, payloadOf } from './fixtures.js';

const RUNS = 3000;

/** Runs `fn`; anything thrown must be a ProtocolError. */
function total(fn: () => unknown): true {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
  return true;
}

const seeds = [...Object.values(MARIADB_CLI), ...Object.values(MYSQL2)].map(payloadOf);

/** Random bytes, or a real packet truncated / with bytes overwritten / spliced with random bytes. */
const packet: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 20 }),
    )
    .map(([seed, flips, cut, tail]) => {
      const b = Buffer.from(seed);
      for (const [pos, val] of flips) if (b.length > 0) b[pos % b.length] = val;
      return Buffer.concat([b.subarray(0, b.length === 0 ? 0 : cut % (b.length + 1)), Buffer.from(tail)]);
    }),
);

/** Capability words that switch the interesting branches on and off. */
const caps = fc.integer({ min: 0, max: 0xffffffff });
const extCaps = fc.integer({ min: 0, max: 63 });

test('command decoding is total', () => {
  fc.assert(fc.property(packet, caps, (p, c) => total(() => decodeCommand(p, c))), { numRuns: RUNS });
  // Force every command byte, not just random ones.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x20 }), fc.uint8Array({ maxLength: 80 }), caps, (code, rest, c) =>
      total(() => decodeCommand(Buffer.concat([Buffer.from([code]), rest]), c)),
    ),
    { numRuns: RUNS },
  );
});

test('connection-phase decoding is total', () => {
  fc.assert(
    fc.property(packet, (p) =>
      total(() => decodeHandshakeResponse(p)) &&
      total(() => decodeInitialHandshake(p)) &&
      total(() => decodeSslRequest(p)) &&
      total(() => isSslRequest(p)) &&
      total(() => decodeAuthSwitchRequest(p)) &&
      total(() => decodeAuthMoreData(p)),
    ),
    { numRuns: RUNS },
  );
  // Handshake responses with arbitrary capability words over a real body.
  const body = payloadOf(MARIADB_CLI.handshakeResponse).subarray(4);
  fc.assert(
    fc.property(caps, fc.nat(), (c, cut) => {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(c);
      return total(() => decodeHandshakeResponse(Buffer.concat([head, body.subarray(0, cut % (body.length + 1))])));
    }),
    { numRuns: RUNS },
  );
});

test('response decoding is total', () => {
  fc.assert(
    fc.property(packet, caps, extCaps, fc.integer({ min: 0, max: 8 }), (p, c, ext, n) =>
      total(() => decodeOk(p, c)) &&
      total(() => okStatusFlags(p, c)) &&
      total(() => decodeErr(p)) &&
      total(() => decodeEof(p)) &&
      total(() => decodeColumnDefinition(p, ext)) &&
      total(() => decodeColumnCount(p, ext)) &&
      total(() => decodeTextRow(p, n)) &&
      total(() => decodeSessionState(p)) &&
      total(() => decodeStmtPrepareOk(p)) &&
      total(() => decodeExecuteBody(p, n)),
    ),
    { numRuns: RUNS },
  );
});

test('the packet decoder is total and terminates on arbitrary chunked input', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
      fc.integer({ min: 0, max: 100 }),
      (chunks, max) => {
        const d = new PacketDecoder(max);
        return total(() => {
          let produced = 0;
          for (const c of chunks) {
            d.push(Buffer.from(c));
            for (let p = d.next(); p; p = d.next()) {
              produced++;
              assert.ok(p.payload.length <= max);
            }
          }
          // Every packet has a 4-byte header, so there can be no more packets than that allows.
          assert.ok(produced <= chunks.reduce((n, c) => n + c.length, 0) / 4);
        });
      },
    ),
    { numRuns: RUNS },
  );
});
