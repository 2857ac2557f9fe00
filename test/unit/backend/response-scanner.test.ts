import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseScanner, ScanError, type ResponseShape } from '../../../src/backend/response-scanner.js';
import { StreamEditor } from '../../../src/backend/stream-editor.js';
import { PacketWriter } from '../../../src/protocol/writer.js';
import { Capability, ColumnType, ServerStatus, SessionTrack } from '../../../src/protocol/constants.js';
import { encodePacket, encodePackets } from '../../../src/protocol/framer.js';
import { encodeEof, encodeErr, encodeOk, encodeTextResultset } from '../../../src/protocol/responses.js';
import { encodeColumnDefinition } from '../../../src/protocol/resultset.js';

const BASE = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION;
const DEPRECATE = BASE | Capability.DEPRECATE_EOF;
const col = (name: string) => ({
  schema: 'db', table: 't', orgTable: 't', name, orgName: name, charset: 45, columnLength: 80, type: ColumnType.VAR_STRING, flags: 0, decimals: 0,
});

/** Feeds `bytes` to a fresh scanner split at `cut`; returns the scanner and bytes consumed. */
function scanSplit(shape: ResponseShape, caps: number, bytes: Buffer, cut: number): { s: ResponseScanner; used: number } {
  const s = new ResponseScanner(shape, caps, 1);
  let used = s.push(bytes.subarray(0, cut));
  if (!s.done) used += s.push(bytes.subarray(cut));
  return { s, used };
}

function resultset(caps: number, rows: string[][], status: number = ServerStatus.AUTOCOMMIT): Buffer {
  return encodePackets(encodeTextResultset([col('a'), col('b')], rows, caps, status), 1);
}

for (const [label, caps] of [['EOF', BASE], ['DEPRECATE_EOF', DEPRECATE]] as const) {
  test(`result set (${label}) ends exactly at its last byte at every chunk split`, () => {
    const bytes = resultset(caps, [['1', 'x'], ['2', 'y'], ['3', '\u00fe']], ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { s, used } = scanSplit('query', caps, bytes, cut);
      assert.ok(s.done, `done at cut ${cut}`);
      assert.equal(used, bytes.length);
      assert.equal(s.summary.resultSets, 1);
      assert.equal(s.summary.statusFlags, ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS);
    }
  });

  test(`one byte short is not done (${label})`, () => {
    const bytes = resultset(caps, [['1', 'x']]);
    const s = new ResponseScanner('query', caps, 1);
    s.push(bytes.subarray(0, bytes.length - 1));
    assert.equal(s.done, false);
  });
}

test('OK packet: affected rows, insert id and status', () => {
  const bytes = encodePacket(encodeOk({ affectedRows: 3, lastInsertId: 77, statusFlags: ServerStatus.AUTOCOMMIT }, DEPRECATE), 1);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { s } = scanSplit('query', DEPRECATE, bytes, cut);
    assert.ok(s.done);
    assert.equal(s.summary.affectedRows, 3);
    assert.equal(s.summary.lastInsertId, 77);
    assert.equal(s.summary.resultSets, 0);
  }
});

test('ERR packet ends the response with the error', () => {
  const bytes = encodePacket(encodeErr({ errno: 1146, sqlState: '42S02', message: "Table 'x' doesn't exist" }), 1);
  const s = new ResponseScanner('query', DEPRECATE, 1);
  s.push(bytes);
  assert.ok(s.done);
  assert.equal(s.summary.error?.errno, 1146);
});

test('multiple result sets chained by MORE_RESULTS_EXISTS, then an OK', () => {
  const more = ServerStatus.AUTOCOMMIT | ServerStatus.MORE_RESULTS_EXISTS;
  for (const caps of [BASE, DEPRECATE]) {
    const first = encodeTextResultset([col('a')], [['1']], caps, more);
    const second = encodeTextResultset([col('a')], [['2']], caps, more);
    const bytes = encodePackets([...first, ...second, encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, caps)], 1);
    for (let cut = 0; cut <= bytes.length; cut += 3) {
      const { s, used } = scanSplit('query', caps, bytes, cut);
      assert.ok(s.done);
      assert.equal(used, bytes.length);
      assert.equal(s.summary.resultSets, 2);
    }
  }
});

test('a row over 16 MiB (continuation packets) is not mistaken for a terminator', () => {
  // A row whose first value's length prefix is 0xfe (8-byte length) — looks like EOF by its first byte.
  const value = Buffer.alloc(0xffffff + 10, 0x61);
  const row = Buffer.concat([Buffer.from([0xfe]), Buffer.from([value.length & 0xff, (value.length >> 8) & 0xff, (value.length >> 16) & 0xff, 0, 0, 0, 0, 0]), value]);
  const head = encodeTextResultset([col('a')], [], DEPRECATE, ServerStatus.AUTOCOMMIT);
  const terminator = head.pop()!;
  const bytes = encodePackets([...head, row, terminator], 1);
  const s = new ResponseScanner('query', DEPRECATE, 1);
  for (let pos = 0; pos < bytes.length; pos += 65536) s.push(bytes.subarray(pos, Math.min(bytes.length, pos + 65536)));
  assert.ok(s.done);
  assert.equal(s.summary.resultSets, 1);
});

test('field list ends at its EOF; COM_SET_OPTION answers with an EOF', () => {
  const fl = encodePackets([encodeTextResultset([col('a')], [], BASE, 2)[1]!, encodeEof(0, ServerStatus.AUTOCOMMIT)], 1);
  const s = new ResponseScanner('field-list', BASE, 1);
  s.push(fl);
  assert.ok(s.done);
  const eof = new ResponseScanner('query', BASE, 1);
  eof.push(encodePacket(encodeEof(0, ServerStatus.AUTOCOMMIT), 1));
  assert.ok(eof.done);
});

test('a wrong sequence id is a protocol error', () => {
  const bytes = encodePacket(encodeOk({ statusFlags: 2 }, DEPRECATE), 5);
  assert.throws(() => new ResponseScanner('query', DEPRECATE, 1).push(bytes), ScanError);
});

test('LOCAL INFILE request is reported', () => {
  const s = new ResponseScanner('query', DEPRECATE, 1);
  s.push(encodePacket(Buffer.concat([Buffer.from([0xfb]), Buffer.from('/tmp/x.csv')]), 1));
  assert.ok(s.done);
  assert.ok(s.summary.localInfile);
});

test('COM_STMT_PREPARE reply: PREPARE_OK then parameter and column definitions, with or without EOFs', () => {
  for (const caps of [BASE, DEPRECATE]) {
    const ok = Buffer.from([0x00, 7, 0, 0, 0, 2, 0, 3, 0, 0x00, 0, 0]); // id 7, 2 columns, 3 params
    const defs = encodeTextResultset([col('a'), col('b')], [], caps, 2).slice(1, 3); // two definitions
    const eof = caps === BASE ? [encodeEof(0, 2)] : [];
    const payloads = [ok, ...defs, defs[0]!, ...eof, ...defs, ...eof]; // 3 params, 2 columns
    const bytes = encodePackets(payloads, 1);
    for (let cut = 0; cut <= bytes.length; cut += 5) {
      const { s, used } = scanSplit('prepare', caps, bytes, cut);
      assert.ok(s.done, `done at cut ${cut}`);
      assert.equal(used, bytes.length);
    }
  }
  const noDefs = new ResponseScanner('prepare', DEPRECATE, 1);
  noDefs.push(encodePacket(Buffer.from([0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0x00, 0, 0]), 1));
  assert.ok(noDefs.done, 'a statement without parameters or columns is one packet');
});

test('a single-packet response (COM_STATISTICS) is consumed to its last byte', () => {
  const bytes = encodePacket(Buffer.from('Uptime: 42  Threads: 1  Questions: 7'), 1);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { s, used } = scanSplit('single', BASE, bytes, cut);
    assert.ok(s.done);
    assert.equal(used, bytes.length);
  }
});

// The shapes MariaDB 10.11 answers with (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then
// COM_STMT_FETCH), as seen on the wire: status 0x62 after the definitions, 0x42 / 0x82 after rows.
const CURSOR_STATUS = ServerStatus.AUTOCOMMIT | ServerStatus.CURSOR_EXISTS | 0x20;
for (const [label, caps] of [['EOF', BASE], ['DEPRECATE_EOF', DEPRECATE]] as const) {
  test(`cursor opened (${label}): the response ends after the column definitions, with CURSOR_EXISTS`, () => {
    const terminator = caps & Capability.DEPRECATE_EOF ? encodeOk({ statusFlags: CURSOR_STATUS }, caps, 0xfe) : encodeEof(0, CURSOR_STATUS);
    const bytes = encodePackets([Buffer.from([1]), encodeColumnDefinition(col('seq')), terminator], 1);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { s, used } = scanSplit('query', caps, bytes, cut);
      assert.ok(s.done, `done at cut ${cut}`);
      assert.equal(used, bytes.length);
      assert.ok(s.summary.statusFlags & ServerStatus.CURSOR_EXISTS);
      assert.equal(s.summary.rows, 0);
    }
  });

  test(`COM_STMT_FETCH reply (${label}): rows until the terminator; LAST_ROW_SENT at the end`, () => {
    const row = (n: number) => Buffer.from([0x00, 0x00, n, 0, 0, 0, 0, 0, 0, 0]); // binary row, one BIGINT
    const end = (flags: number) => (caps & Capability.DEPRECATE_EOF ? encodeOk({ statusFlags: flags }, caps, 0xfe) : encodeEof(0, flags));
    const more = encodePackets([row(1), row(2), end(ServerStatus.AUTOCOMMIT | ServerStatus.CURSOR_EXISTS)], 1);
    const last = encodePackets([row(5), end(ServerStatus.AUTOCOMMIT | ServerStatus.LAST_ROW_SENT)], 1);
    for (const [bytes, rows, flag] of [[more, 2, ServerStatus.CURSOR_EXISTS], [last, 1, ServerStatus.LAST_ROW_SENT]] as const) {
      for (let cut = 0; cut <= bytes.length; cut++) {
        const { s, used } = scanSplit('rows', caps, bytes, cut);
        assert.ok(s.done);
        assert.equal(used, bytes.length);
        assert.equal(s.summary.rows, rows);
        assert.ok(s.summary.statusFlags & flag);
      }
    }
    const err = encodePacket(encodeErr({ errno: 1421, sqlState: 'HY000', message: 'The statement (1) has no open cursor.' }), 1);
    const s = new ResponseScanner('rows', caps, 1);
    s.push(err);
    assert.ok(s.done);
    assert.equal(s.summary.error?.errno, 1421);
  });
}

// ---------------------------------------------------------------------------------------------
// OK packets rewritten for the client (session tracking), at every chunk split


const TRACKING = DEPRECATE | Capability.SESSION_TRACK;

function gtidState(gtid: string): Buffer {
  const data = new PacketWriter().lenencString('last_gtid').lenencString(gtid).toBuffer();
  return new PacketWriter().u8(SessionTrack.SYSTEM_VARIABLES).lenencBuffer(data).toBuffer();
}

/** Relays `bytes` in two chunks through scanner + editor, as the backend connection does. */
function relaySplit(bytes: Buffer, cut: number, clientTracks: boolean): { out: Buffer; s: ResponseScanner } {
  const s = new ResponseScanner('query', TRACKING, 1);
  s.reset('query', TRACKING, 1, { clientTracks, clientSeesGtid: false });
  const editor = new StreamEditor();
  const out: Buffer[] = [];
  for (const chunk of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
    if (chunk.length === 0 || s.done) continue;
    const base = s.consumed;
    s.push(chunk);
    if (editor.idle && s.edits.length === 0 && s.decidedEnd === base + chunk.length) out.push(chunk);
    else out.push(editor.take(chunk, base, s));
  }
  assert.ok(editor.idle, 'nothing left held back at the end');
  return { out: Buffer.concat(out), s };
}

test('a result set whose terminator carries the proxy’s GTID reaches the client without it, at every split', () => {
  const rows = encodeTextResultset([col('a'), col('b')], [['1', 'x'], ['2', 'y']], TRACKING, ServerStatus.AUTOCOMMIT);
  const last = rows.length - 1;
  const backend = [...rows];
  backend[last] = encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT, sessionState: gtidState('0-1-77') }, TRACKING, 0xfe);
  const bytes = encodePackets(backend, 1);
  const expected = encodePackets([...rows.slice(0, last), encodeOk({ statusFlags: ServerStatus.AUTOCOMMIT }, TRACKING, 0xfe)], 1);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { out, s } = relaySplit(bytes, cut, true);
    assert.ok(s.done);
    assert.equal(s.summary.gtid, '0-1-77');
    assert.deepEqual(out, expected, `cut ${cut}`);
  }
});

test('an UPDATE’s OK with info reaches a client without session tracking in the plain layout, at every split', () => {
  const ok = encodeOk({ affectedRows: 3, statusFlags: ServerStatus.AUTOCOMMIT, info: 'Rows matched: 3  Changed: 3  Warnings: 0', sessionState: gtidState('0-1-5') }, TRACKING);
  const bytes = encodePacket(ok, 1);
  const expected = encodePacket(encodeOk({ affectedRows: 3, statusFlags: ServerStatus.AUTOCOMMIT, info: 'Rows matched: 3  Changed: 3  Warnings: 0' }, DEPRECATE), 1);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { out, s } = relaySplit(bytes, cut, false);
    assert.equal(s.summary.gtid, '0-1-5');
    assert.equal(s.summary.affectedRows, 3);
    assert.deepEqual(out, expected, `cut ${cut}`);
  }
});

test('without an OK view nothing is held back or rewritten', () => {
  const ok = encodeOk({ affectedRows: 1, statusFlags: ServerStatus.AUTOCOMMIT, sessionState: gtidState('0-1-5') }, TRACKING);
  const s = new ResponseScanner('query', TRACKING, 1);
  s.push(encodePacket(ok, 1));
  assert.ok(s.done);
  assert.equal(s.edits.length, 0);
  assert.equal(s.summary.gtid, undefined);
});

/** The checksum (transaction replay) of `bytes` scanned whole, or split at `cut`. */
function checksumOf(shape: ResponseShape, caps: number, bytes: Buffer, cut = bytes.length): string | undefined {
  const s = new ResponseScanner(shape, caps, 1);
  s.reset(shape, caps, 1, undefined, true);
  s.push(bytes.subarray(0, cut));
  if (!s.done) s.push(bytes.subarray(cut));
  assert.ok(s.done);
  return s.complete().checksum;
}

test('checksum: the same rows give the same digest at every chunk split, whatever the status flags; other rows another', () => {
  for (const caps of [BASE, DEPRECATE]) {
    const bytes = resultset(caps, [['1', 'x'], ['2', 'y']], ServerStatus.AUTOCOMMIT | ServerStatus.IN_TRANS);
    const whole = checksumOf('query', caps, bytes);
    assert.match(whole ?? '', /^[0-9a-f]{40}$/);
    for (let cut = 0; cut <= bytes.length; cut++) assert.equal(checksumOf('query', caps, bytes, cut), whole, `cut ${cut}`);
    // A slow-query or no-index flag on the terminator is not part of the answer.
    const flagged = resultset(caps, [['1', 'x'], ['2', 'y']], ServerStatus.IN_TRANS | 0x10 | 0x800);
    assert.equal(checksumOf('query', caps, flagged), whole);
    assert.notEqual(checksumOf('query', caps, resultset(caps, [['1', 'x'], ['2', 'z']])), whole);
    assert.notEqual(checksumOf('query', caps, resultset(caps, [['1', 'x']])), whole);
  }
});

test('checksum: an OK counts by its affected rows and insert id, an ERR by its error number', () => {
  const ok = (affectedRows: number, lastInsertId: number, statusFlags: number, info = ''): Buffer =>
    encodePacket(encodeOk({ affectedRows, lastInsertId, statusFlags, warnings: statusFlags === 0 ? 1 : 0, info }, BASE), 1);
  const one = checksumOf('query', BASE, ok(1, 0, ServerStatus.IN_TRANS));
  assert.equal(checksumOf('query', BASE, ok(1, 0, ServerStatus.IN_TRANS | ServerStatus.AUTOCOMMIT, 'Rows matched: 1')), one);
  assert.notEqual(checksumOf('query', BASE, ok(0, 0, ServerStatus.IN_TRANS)), one);
  assert.notEqual(checksumOf('query', BASE, ok(1, 7, ServerStatus.IN_TRANS)), one);
  const err = (errno: number): Buffer => encodePacket(encodeErr({ errno, sqlState: '23000', message: 'dup' }), 1);
  assert.equal(checksumOf('query', BASE, err(1062)), checksumOf('query', BASE, err(1062)));
  assert.notEqual(checksumOf('query', BASE, err(1062)), checksumOf('query', BASE, err(1213)));
  assert.notEqual(checksumOf('query', BASE, err(1062)), one);
});

test('checksum: none unless asked for', () => {
  const s = new ResponseScanner('query', BASE, 1);
  s.push(resultset(BASE, [['1', 'x']]));
  assert.equal(s.complete().checksum, undefined);
});
