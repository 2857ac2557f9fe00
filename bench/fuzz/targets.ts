/**
 * Fuzz targets for bench/fuzz.ts: each takes one input (bytes) and checks the contract of the
 * code under test, throwing a ContractViolation (or letting a foreign error escape) when it is
 * broken. Decoders must return a value or throw the project's typed errors (ProtocolError,
 * ScanError); the classifier must never throw and always return a whole Classification.
 *
 * The first bytes of an input often choose a parameter (capabilities, a limit, a response shape,
 * how the rest is cut into socket chunks), so the corpus explores those along with the payload.
 */
import { ProtocolError } from '../../src/protocol/errors.js';
import { PacketDecoder, encodePacket, encodePackets } from '../../src/protocol/framer.js';
import { CompressedDecoder, encodeCompressed } from '../../src/protocol/compressed.js';
import { decodeCommand, encodeStmtExecute, encodeQuery } from '../../src/protocol/commands.js';
import {
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeHandshakeResponse,
  decodeInitialHandshake,
  decodeSslRequest,
  isSslRequest,
} from '../../src/protocol/handshake.js';
import {
  decodeColumnCount,
  decodeColumnDefinition,
  decodeEof,
  decodeErr,
  decodeOk,
  decodeSessionState,
  decodeTextRow,
  encodeOk,
  okStatusFlags,
} from '../../src/protocol/responses.js';
import { encodeTextResultset } from '../../src/protocol/resultset.js';
import { seeTrackedOk } from '../../src/protocol/tracked-ok.js';
import { decodeBulkExecuteBody, decodeExecuteBody, decodeStmtPrepareOk, encodeStmtPrepareOk } from '../../src/protocol/statements.js';
import { Capability, ColumnType, ServerStatus } from '../../src/protocol/constants.js';
import { ResponseScanner, ScanError, type ResponseShape } from '../../src/backend/response-scanner.js';
import { StreamEditor } from '../../src/backend/stream-editor.js';
import { classify } from '../../src/routing/classify.js';
import { stripMycatBytes } from '../../src/routing/hints.js';
import type { StatementKind } from '../../src/routing/types.js';
import { MARIADB_CLI, MARIADB_CLI_CAPS, MARIADB_CLI_SERVER_STREAM, MYSQL2, MYSQL2_CAPS, payloadOf } from '../../test/unit/protocol/fixtures.js';
import { classifyCases } from '../../test/unit/routing/classify.cases.js';

/** The code under test broke its contract (as opposed to a foreign error escaping from it). */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

export interface FuzzTarget {
  readonly name: string;
  /** Source files (relative to the repository root) whose coverage is measured and guides the run. */
  readonly files: readonly string[];
  /** Inputs taken from the tests: real packets, streams and statements. */
  seeds(): Buffer[];
  /** Runs one input; throws if the contract is broken. */
  run(input: Buffer): void;
  /** Words the mutator may splice in (statement keywords for the classifier). */
  readonly dictionary?: readonly string[];
}

/** Runs `fn`; anything thrown must be one of `allowed`. */
function typed(fn: () => unknown, allowed: readonly (abstract new (...a: never[]) => Error)[] = [ProtocolError]): void {
  try {
    fn();
  } catch (e) {
    if (!allowed.some((cls) => e instanceof cls)) throw e;
  }
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new ContractViolation(what);
}

/** Cuts `data` into chunks whose sizes cycle through `sizes` (each 1..32), as a socket might. */
function chunks(data: Buffer, sizes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  let k = 0;
  while (pos < data.length) {
    const n = sizes.length === 0 ? data.length : (sizes[k++ % sizes.length]! % 32) + 1;
    out.push(data.subarray(pos, pos + n));
    pos += n;
  }
  return out;
}

const u32 = (b: Buffer, at: number): number => (b.length >= at + 4 ? b.readUInt32LE(at) : 0);
const be32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

const ALL_PACKETS = [...Object.values(MARIADB_CLI), ...Object.values(MYSQL2)];
const C2S = ALL_PACKETS.filter((p) => p.dir === 'c2s').map(payloadOf);
const S2C = ALL_PACKETS.filter((p) => p.dir === 's2c').map(payloadOf);
const SERVER_STREAM = MARIADB_CLI_SERVER_STREAM.map((h) => Buffer.from(h, 'hex'));
const MAX_PACKET_CHOICES = [0, 1, 4, 16, 64, 255, 1024, 0xffffff, 0x1000000];

const framer: FuzzTarget = {
  name: 'framer',
  files: ['src/protocol/framer.ts', 'src/protocol/chunk-queue.ts'],
  seeds: () => [
    ...SERVER_STREAM.map((s) => Buffer.concat([Buffer.from([7, 3]), s])),
    Buffer.concat([Buffer.from([7, 0]), encodePackets(C2S.slice(0, 4), 0)]),
    Buffer.concat([Buffer.from([2, 1]), encodePacket(Buffer.alloc(3), 0)]),
  ],
  run(input) {
    if (input.length < 2) return;
    const max = MAX_PACKET_CHOICES[input[0]! % MAX_PACKET_CHOICES.length]!;
    const stream = input.subarray(2);
    const d = new PacketDecoder(max);
    let produced = 0;
    typed(() => {
      for (const c of chunks(stream, input.subarray(1, 2 + (input[1]! % 4)))) {
        d.push(c);
        for (let p = d.next(); p; p = d.next()) {
          produced++;
          check(p.payload.length <= max, `payload of ${p.payload.length} bytes over the limit ${max}`);
          check(p.frame === undefined || p.frame.length === p.payload.length + 4, 'frame is not header + payload');
          check(produced <= stream.length / 4, 'more packets than headers');
        }
        check(d.buffered <= stream.length, `buffers ${d.buffered} bytes of a ${stream.length}-byte stream`);
      }
    });
  },
};

const compressed: FuzzTarget = {
  name: 'compressed',
  files: ['src/protocol/compressed.ts', 'src/protocol/chunk-queue.ts'],
  seeds: () => [
    ...SERVER_STREAM.map((s) => Buffer.concat([Buffer.from([5]), encodeCompressed(Buffer.concat([s, s, s]), 0).bytes])),
    Buffer.concat([Buffer.from([0]), encodeCompressed(encodePackets(C2S, 0), 3).bytes]),
    Buffer.concat([Buffer.from([1]), encodeCompressed(Buffer.from('short'), 0).bytes]),
  ],
  run(input) {
    if (input.length < 1) return;
    const stream = input.subarray(1);
    const d = new CompressedDecoder();
    const packets = new PacketDecoder(0x1000000);
    let plain = 0;
    typed(() => {
      for (const c of chunks(stream, input.subarray(0, 1))) {
        d.push(c);
        for (let f = d.next(); f; f = d.next()) {
          plain += f.payload.length;
          // A frame claims at most 2^24-1 plain bytes: that is the bound on what one can allocate.
          check(f.payload.length < 0x1000000, `frame inflated to ${f.payload.length} bytes`);
          packets.push(f.payload);
          while (packets.next());
        }
      }
      check(plain < 0x1000000 * Math.max(1, stream.length / 7), 'more plain bytes than frames can claim');
    });
  },
};

const CAP_SEEDS = [MARIADB_CLI_CAPS, MYSQL2_CAPS, 0, 0xffffffff];

const commands: FuzzTarget = {
  name: 'commands',
  files: ['src/protocol/commands.ts', 'src/protocol/reader.ts'],
  seeds: () => [
    ...C2S.flatMap((p) => CAP_SEEDS.slice(0, 2).map((c) => Buffer.concat([be32(c), p]))),
    Buffer.concat([be32(MYSQL2_CAPS), encodeStmtExecute(1, 0, 1, Buffer.from([0, 1, 3, 0, 42, 0, 0, 0]))]),
    Buffer.concat([be32(MYSQL2_CAPS), encodeQuery('SELECT 1')]),
    ...[0x01, 0x04, 0x0e, 0x11, 0x12, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0xfa].map((c) => Buffer.from([0xff, 0xff, 0xff, 0xff, c, 1, 0, 0, 0, 2, 0])),
  ],
  run(input) {
    typed(() => decodeCommand(input.subarray(4), u32(input, 0)));
  },
};

const handshake: FuzzTarget = {
  name: 'handshake',
  files: ['src/protocol/handshake.ts', 'src/protocol/reader.ts'],
  seeds: () => ALL_PACKETS.filter((p) => p.seq <= 3).map(payloadOf),
  run(input) {
    typed(() => decodeHandshakeResponse(input));
    typed(() => decodeInitialHandshake(input));
    typed(() => isSslRequest(input));
    typed(() => decodeSslRequest(input));
    typed(() => decodeAuthSwitchRequest(input));
    typed(() => decodeAuthMoreData(input));
  },
};

const responses: FuzzTarget = {
  name: 'responses',
  files: ['src/protocol/responses.ts', 'src/protocol/resultset.ts', 'src/protocol/statements.ts', 'src/protocol/tracked-ok.ts', 'src/protocol/reader.ts'],
  seeds: () => [
    ...S2C.map((p) => Buffer.concat([be32(MARIADB_CLI_CAPS), Buffer.from([2, 0x1d]), p])),
    Buffer.concat([be32(MYSQL2_CAPS | Capability.SESSION_TRACK), Buffer.from([1, 0]), encodeOk({ affectedRows: 1, lastInsertId: 2, statusFlags: ServerStatus.AUTOCOMMIT }, MYSQL2_CAPS)]),
    Buffer.concat([be32(MYSQL2_CAPS), Buffer.from([2, 0]), encodeStmtPrepareOk({ statementId: 1, numColumns: 2, numParams: 2, warnings: 0 } as Parameters<typeof encodeStmtPrepareOk>[0])]),
    Buffer.concat([be32(MYSQL2_CAPS), Buffer.from([2, 0x80]), Buffer.from([0, 1, 3, 0, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0])]),
  ],
  run(input) {
    const caps = u32(input, 0);
    const n = input[4] ?? 0;
    const ext = input[5] ?? 0;
    const p = input.subarray(6);
    typed(() => decodeOk(p, caps));
    typed(() => okStatusFlags(p, caps));
    typed(() => seeTrackedOk(p, (ext & 1) !== 0, (ext & 2) !== 0));
    typed(() => decodeErr(p));
    typed(() => decodeEof(p));
    typed(() => decodeColumnDefinition(p, ext));
    typed(() => decodeColumnCount(p, ext));
    typed(() => decodeTextRow(p, n % 64));
    typed(() => decodeSessionState(p));
    typed(() => decodeStmtPrepareOk(p));
    typed(() => decodeExecuteBody(p, n));
    typed(() => decodeBulkExecuteBody(p, ext, n));
  },
};

const SHAPES: readonly ResponseShape[] = ['query', 'field-list', 'ok', 'single', 'prepare', 'rows'];
const SCAN_CAPS = [
  Capability.PROTOCOL_41,
  Capability.PROTOCOL_41 | Capability.DEPRECATE_EOF,
  Capability.PROTOCOL_41 | Capability.SESSION_TRACK,
  Capability.PROTOCOL_41 | Capability.DEPRECATE_EOF | Capability.SESSION_TRACK,
];

const col = (name: string) => ({
  schema: 'db', table: 't', orgTable: 't', name, orgName: name, charset: 45, columnLength: 80, type: ColumnType.VAR_STRING, flags: 0, decimals: 0,
});

const scanner: FuzzTarget = {
  name: 'scanner',
  files: ['src/backend/response-scanner.ts', 'src/backend/stream-editor.ts', 'src/protocol/tracked-ok.ts', 'src/protocol/responses.ts'],
  seeds: () => {
    const head = (shape: number, caps: number, flags: number) => Buffer.from([shape, caps, flags, 1, 3]);
    const rs = (caps: number, status: number) => encodePackets(encodeTextResultset([col('a'), col('b')], [['1', 'x'], ['2', null]], caps, status), 1);
    return [
      // The captured server stream's answers (handshake and auth OK left out): query shape, EOF.
      ...SERVER_STREAM.slice(2).map((s) => Buffer.concat([head(0, 0, 0), s])),
      Buffer.concat([head(0, 1, 4), rs(SCAN_CAPS[1]!, ServerStatus.AUTOCOMMIT | ServerStatus.MORE_RESULTS_EXISTS), encodePacket(encodeOk({ statusFlags: 2 }, SCAN_CAPS[1]!), 10)]),
      Buffer.concat([head(2, 3, 3), encodePacket(encodeOk({ affectedRows: 1, statusFlags: 2 }, SCAN_CAPS[3]!), 1)]),
      Buffer.concat([head(4, 1, 4), encodePacket(encodeStmtPrepareOk({ statementId: 1, numColumns: 1, numParams: 1, warnings: 0 } as Parameters<typeof encodeStmtPrepareOk>[0]), 1)]),
      Buffer.concat([head(3, 0, 0), encodePacket(Buffer.from('Uptime: 1'), 1)]),
    ];
  },
  run(input) {
    if (input.length < 5) return;
    const shape = SHAPES[input[0]! % SHAPES.length]!;
    const caps = SCAN_CAPS[input[1]! % SCAN_CAPS.length]!;
    const flags = input[2]!;
    const okView = flags & 4 ? { clientTracks: (flags & 1) !== 0, clientSeesGtid: (flags & 2) !== 0 } : undefined;
    const stream = input.subarray(5);
    const s = new ResponseScanner(shape, caps, 1);
    s.reset(shape, caps, input[3]!, okView, (flags & 8) !== 0);
    const editor = new StreamEditor();
    let used = 0;
    let out = 0;
    typed(() => {
      for (const c of chunks(stream, input.subarray(4, 5))) {
        const base = s.consumed;
        const n = s.push(c);
        check(n >= 0 && n <= c.length, `push consumed ${n} of ${c.length} bytes`);
        used += n;
        check(s.consumed === used, `consumed ${s.consumed}, pushes returned ${used}`);
        out += editor.take(c.subarray(0, n), base, s).length;
        if (s.done) {
          s.complete();
          break;
        }
      }
      // Edits only ever rewrite OK packets into tracked/untracked form: the output stays close in size.
      check(out <= used + 64 * 1024, `editor gave ${out} bytes for ${used} in`);
    }, [ScanError, ProtocolError]);
  },
};

const KINDS: readonly StatementKind[] = [
  'read', 'write', 'ddl', 'begin', 'commit', 'rollback', 'savepoint', 'set', 'use', 'lock-tables', 'unlock-tables', 'other',
];

const SQL_WORDS = [
  'SELECT ', 'INSERT ', 'UPDATE ', 'DELETE ', 'REPLACE ', 'WITH ', 'FROM ', 'WHERE ', ' FOR UPDATE', ' LOCK IN SHARE MODE', ' FOR SHARE',
  'BEGIN', 'START TRANSACTION READ ONLY', 'COMMIT AND CHAIN', 'ROLLBACK TO SAVEPOINT a', 'SAVEPOINT a', 'SET ', 'SET NAMES utf8mb4 COLLATE x',
  'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', '@@session.', '@a', ':=', '=', 'USE `db`', 'LOCK TABLES t WRITE', 'UNLOCK TABLES',
  'CALL p()', 'LAST_INSERT_ID()', 'GET_LOCK(', 'NEXTVAL(', 'FOUND_ROWS()', 'SHOW WARNINGS', 'INTO OUTFILE ', 'KILL QUERY ', 'EXPLAIN ',
  '/*master*/', '/*slave*/', '/*!mycat:db_type=master*/', '/*#mycat:db_type=slave*/', '/*!50000 ', '/*+ ', '*/', '/*', '-- ', '#', '\n',
  ';', "'", '"', '`', '\\', "X'", "_utf8mb4'", 'N\'', '0x', '1e', '.', '(', ')', ',', 'CREATE TABLE ', 'DROP ', 'ALTER ', 'HANDLER ', 'XA ',
  'PREPARE s FROM ', 'EXECUTE s', 'DEALLOCATE PREPARE s', 'VALUES ', 'TABLE t', 'DO ', 'SET CHARACTER SET ', 'SET GLOBAL ', 'SET PERSIST ',
  '\u00e9', '\u{1f600}', '\0',
];

const classifier: FuzzTarget = {
  name: 'classify',
  files: [
    'src/routing/classify.ts', 'src/routing/lexer.ts', 'src/routing/set-statement.ts', 'src/routing/hints.ts',
    'src/routing/digest.ts', 'src/routing/statement-flags.ts', 'src/routing/token-view.ts', 'src/routing/chars.ts',
    'src/routing/keywords.ts', 'src/routing/parser-fallback.ts',
  ],
  dictionary: SQL_WORDS,
  seeds: () => classifyCases.map((c) => Buffer.from(c.sql, 'utf8')),
  run(input) {
    const sql = input.toString('utf8');
    let r;
    try {
      r = classify(sql);
    } catch (e) {
      throw new ContractViolation(`classify threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
    check(r !== undefined && KINDS.includes(r.kind), `kind ${String(r?.kind)}`);
    check(typeof r.verb === 'string' && typeof r.digest === 'string', 'verb/digest not strings');
    check(Array.isArray(r.statements) && Array.isArray(r.assignments), 'statements/assignments not arrays');
    if (r.forwardSql !== undefined && r.strippedRanges !== undefined) {
      const ranges = r.strippedRanges;
      check(ranges.length % 2 === 0 && ranges.every((v, i) => v >= 0 && v <= sql.length && (i === 0 || v >= ranges[i - 1]!)), 'stripped ranges out of order');
      stripMycatBytes(Buffer.from(sql, 'utf8'), sql, ranges);
    }
  },
};

export const TARGETS: readonly FuzzTarget[] = [framer, compressed, commands, handshake, responses, scanner, classifier];
