/**
 * Finds where a backend's response to one command ends, without decoding rows.
 *
 * The proxy forwards result sets as the raw bytes the backend sent (DESIGN §2): every chunk read
 * from the backend socket is written to the client unchanged. This scanner only walks the
 * 4-byte packet headers, looks at the first byte of each logical packet and reads the status
 * flags of the few packets that can end a result (OK, EOF, ERR). It keeps no row bytes, so a
 * 1 GB result passes through in bounded memory.
 *
 * Packets of exactly 0xffffff payload bytes are followed by a continuation packet that belongs
 * to the same logical packet; only the first physical packet's first byte means anything.
 *
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response.html
 */
import { createHash, type Hash } from 'node:crypto';
import { Capability, ServerStatus } from '../protocol/constants.js';
import { decodeErr, okStatusFlags } from '../protocol/responses.js';
import { seeTrackedOk } from '../protocol/tracked-ok.js';

const MAX_PAYLOAD = 0xffffff;
/** OK/EOF/ERR packets that end a response are small; anything larger is not one of them. */
const MAX_TERMINATOR = 64 * 1024;

/** Which response grammar to expect. */
export type ResponseShape =
  /** COM_QUERY: OK | ERR | LOCAL INFILE request | result set(s), chained by MORE_RESULTS_EXISTS. */
  | 'query'
  /** COM_FIELD_LIST: column definitions terminated by EOF (or OK-as-EOF), or ERR. */
  | 'field-list'
  /** One OK or ERR packet (COM_INIT_DB, COM_PING, COM_PROCESS_KILL, COM_RESET_CONNECTION …). */
  | 'ok'
  /** One packet of any content (COM_STATISTICS answers with a bare string). */
  | 'single'
  /** COM_STMT_PREPARE: PREPARE_OK then parameter and column definitions (each + EOF), or ERR. */
  | 'prepare'
  /** COM_STMT_FETCH: binary rows of an open cursor until EOF (or OK-as-EOF), or ERR. */
  | 'rows';

export interface ResponseSummary {
  /** Server status flags of the last OK/EOF seen (IN_TRANS, AUTOCOMMIT, …). */
  statusFlags: number;
  /** Set when the response ended with an ERR packet. */
  error: { errno: number; sqlState: string; message: string } | undefined;
  /** First OK packet's affected rows / last insert id (for statements without a result set). */
  affectedRows: number | bigint;
  lastInsertId: number | bigint;
  /** Number of result sets seen (0 for a plain OK). */
  resultSets: number;
  /** The server asked for a LOAD DATA LOCAL file (0xFB). */
  localInfile: boolean;
  /** Rows relayed (all result sets). */
  rows: number;
  /** GTID of the last commit an OK packet reported (session tracking), if any. */
  gtid: string | undefined;
  /**
   * When asked for (transaction replay): a digest of what the answer says, not of how it was
   * framed — column counts, column definitions and rows as sent, each OK's affected rows and
   * insert id, an ERR's error number. Status flags, warnings and session-tracking data are left
   * out: they may differ between two servers (or two runs) that returned the same result.
   */
  checksum: string | undefined;
}

/**
 * How a relayed OK packet must look to the client when the backend connection tracks session
 * state (protocol/tracked-ok.ts): whether the client negotiated CLIENT_SESSION_TRACK and whether
 * it asked to see GTIDs. Without it, OK packets pass unchanged and no GTID is read.
 */
export interface OkView {
  readonly clientTracks: boolean;
  readonly clientSeesGtid: boolean;
}

/** A packet of the stream to be replaced before it reaches the client. */
export interface PacketEdit {
  /** Stream offsets (bytes since the response began) of the original packet, header included. */
  readonly start: number;
  readonly end: number;
  /** The replacement, header included. */
  readonly bytes: Buffer;
}

const enum Phase {
  /** Expecting the first packet of a (next) result. */
  ResultStart,
  /** Column definitions still to come. */
  Columns,
  /** The EOF after the column definitions (only without CLIENT_DEPRECATE_EOF). */
  ColumnsEof,
  /** Rows until the terminating EOF / OK. */
  Rows,
  /** Field list: column definitions until EOF. */
  FieldList,
  /** A single packet. */
  Single,
  /** Definitions after a PREPARE_OK: `packetsLeft` logical packets to pass. */
  PrepareDefinitions,
  Done,
}

export class ResponseScanner {
  private phase: Phase;
  private deprecateEof: boolean;
  private capabilities: number;
  /** Header bytes of the current physical packet gathered so far (headers may straddle chunks). */
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  /** Payload bytes still to pass for the current physical packet. */
  private bodyLeft = 0;
  /** The current physical packet continues the previous one (previous was 0xffffff long). */
  private continuation = false;
  private prevWasMax = false;
  /** When the current packet must be inspected whole (possible terminator), its bytes. */
  private capture: Buffer | undefined;
  private captureFill = 0;
  private columnsLeft = 0;
  private expectedSeq: number;

  summary: ResponseSummary = {
    statusFlags: 0,
    error: undefined,
    affectedRows: 0,
    lastInsertId: 0,
    resultSets: 0,
    localInfile: false,
    rows: 0,
    gtid: undefined,
    checksum: undefined,
  };

  /** Bytes of the response consumed so far. */
  consumed = 0;
  /** Stream offset where the current physical packet's header began. */
  private packetStart = 0;
  /** OK packets to rewrite for the client (see OkView); undefined = pass them unchanged. */
  private okView: OkView | undefined;
  /**
   * Packets to replace before they reach the client, in stream order. The relay applies and
   * clears them; each lies below `decidedEnd` once it is listed.
   */
  readonly edits: PacketEdit[] = [];

  /**
   * @param capabilities the capabilities negotiated on the backend connection
   * @param firstSeq the sequence id the first response packet must carry (command's last seq + 1)
   */
  constructor(shape: ResponseShape, capabilities: number, firstSeq = 1) {
    this.capabilities = capabilities;
    this.deprecateEof = false;
    this.expectedSeq = 0;
    this.phase = Phase.Done;
    this.okOnly = false;
    this.reset(shape, capabilities, firstSeq);
  }

  /** Makes the scanner ready for the next response (one scanner serves a connection's life). */
  reset(shape: ResponseShape, capabilities: number, firstSeq: number, okView?: OkView, checksum = false): void {
    this.capabilities = capabilities;
    this.okView = okView !== undefined && capabilities & Capability.SESSION_TRACK ? okView : undefined;
    this.consumed = 0;
    this.packetStart = 0;
    this.edits.length = 0;
    this.deprecateEof = (capabilities & Capability.DEPRECATE_EOF) !== 0;
    this.expectedSeq = firstSeq & 0xff;
    this.phase =
      shape === 'query' || shape === 'ok' || shape === 'prepare'
        ? Phase.ResultStart
        : shape === 'field-list'
          ? Phase.FieldList
          : shape === 'rows'
            ? Phase.Rows
            : Phase.Single;
    this.okOnly = shape === 'ok';
    this.prepareReply = shape === 'prepare';
    this.packetsLeft = 0;
    this.endAfterBody = false;
    this.headerFill = 0;
    this.bodyLeft = 0;
    this.continuation = false;
    this.prevWasMax = false;
    this.capture = undefined;
    this.captureFill = 0;
    this.columnsLeft = 0;
    this.pendingFirst = false;
    this.summary = { statusFlags: 0, error: undefined, affectedRows: 0, lastInsertId: 0, resultSets: 0, localInfile: false, rows: 0, gtid: undefined, checksum: undefined };
    this.hash = checksum ? createHash('sha1') : undefined;
    this.hashBody = false;
  }

  /**
   * Stream offset up to which the bytes are final: everything but a packet whose header or first
   * byte has not arrived yet, or one being captured (it may still be rewritten). A relay that
   * rewrites packets writes up to here and holds the rest back.
   */
  get decidedEnd(): number {
    return this.headerFill > 0 || this.pendingFirst || this.capture !== undefined ? this.packetStart : this.consumed;
  }

  private okOnly: boolean;
  private prepareReply = false;
  private packetsLeft = 0;
  /** The packet being passed is the response's last one. */
  private endAfterBody = false;

  get done(): boolean {
    return this.phase === Phase.Done;
  }

  /** The summary of a finished response (with its checksum when one was asked for). */
  complete(): ResponseSummary {
    if (this.hash !== undefined) {
      this.summary.checksum = this.hash.digest('hex');
      this.hash = undefined;
    }
    return this.summary;
  }

  /** Digest of the answer (see ResponseSummary.checksum); undefined when not asked for. */
  private hash: Hash | undefined;
  /** The body being passed belongs in the digest (a column definition or row). */
  private hashBody = false;

  /**
   * Feeds the next chunk from the backend. Returns how many bytes of `chunk` belong to this
   * response (all of it unless the response ended inside the chunk). Throws on a protocol
   * violation (wrong sequence id, a terminator that does not parse).
   */
  push(chunk: Buffer): number {
    const base = this.consumed;
    let pos = 0;
    const len = chunk.length;
    while (pos < len && this.phase !== Phase.Done) {
      if (this.bodyLeft === 0 && this.capture === undefined) {
        // Gathering a header.
        if (this.headerFill === 0) this.packetStart = base + pos;
        // Byte by byte: Buffer#copy of part of a chunk allocates a view each time, and this
        // runs for every packet of every result.
        const header = this.header;
        while (this.headerFill < 4 && pos < len) header[this.headerFill++] = chunk[pos++]!;
        if (this.headerFill < 4) break;
        this.headerFill = 0;
        const size = this.header[0]! | (this.header[1]! << 8) | (this.header[2]! << 16);
        const seq = this.header[3]!;
        if (seq !== this.expectedSeq) {
          throw new ScanError(`packet sequence ${seq}, expected ${this.expectedSeq}`);
        }
        this.expectedSeq = (seq + 1) & 0xff;
        this.continuation = this.prevWasMax;
        this.prevWasMax = size === MAX_PAYLOAD;
        if (size === 0) {
          // Only a continuation may be empty (after a packet of exactly 0xffffff).
          if (!this.continuation) this.onPacketStart(undefined, 0);
          continue;
        }
        if (this.continuation) {
          this.bodyLeft = size;
          continue;
        }
        // First byte decides whether the packet must be captured whole; it may be in a later chunk.
        this.bodyLeft = size;
        this.pendingFirst = true;
      }
      if (this.pendingFirst) {
        if (pos >= len) break;
        this.pendingFirst = false;
        const first = chunk[pos]!;
        if (this.mustCapture(first, this.bodyLeft)) {
          if (this.bodyLeft > MAX_TERMINATOR) throw new ScanError('oversized status packet');
          if (len - pos >= this.bodyLeft) {
            // Whole in this chunk (the usual case): looked at in place, nothing copied.
            const end = pos + this.bodyLeft;
            const packet = chunk.subarray(pos, end);
            pos = end;
            this.bodyLeft = 0;
            this.onWholePacket(packet, base + pos);
            continue;
          }
          this.capture = Buffer.allocUnsafe(this.bodyLeft);
          this.captureFill = 0;
        } else {
          this.onPacketStart(first, this.bodyLeft);
        }
      }
      if (this.capture !== undefined) {
        const take = Math.min(this.capture.length - this.captureFill, len - pos);
        chunk.copy(this.capture, this.captureFill, pos, pos + take);
        this.captureFill += take;
        pos += take;
        this.bodyLeft -= take;
        if (this.captureFill === this.capture.length) {
          const packet = this.capture;
          this.capture = undefined;
          this.onWholePacket(packet, base + pos);
        }
        continue;
      }
      const skip = Math.min(this.bodyLeft, len - pos);
      if (this.hashBody) this.hash!.update(chunk.subarray(pos, pos + skip));
      pos += skip;
      this.bodyLeft -= skip;
      // The response's last packet was one we pass rather than capture: done after its body
      // (and after its continuation, if it was a full 0xffffff packet).
      if (this.endAfterBody && this.bodyLeft === 0 && !this.prevWasMax) this.phase = Phase.Done;
    }
    this.consumed = base + pos;
    return pos;
  }

  /**
   * An OK packet (0x00, or 0xfe as the DEPRECATE_EOF terminator) ended a result: read its GTID
   * and, when the client must see it otherwise, list the replacement.
   */
  private seeOk(packet: Buffer, end: number): void {
    const view = this.okView;
    if (view === undefined) return;
    const seen = seeTrackedOk(packet, view.clientTracks, view.clientSeesGtid);
    if (seen.gtid !== undefined) this.summary.gtid = seen.gtid;
    const replacement = seen.replacement;
    if (replacement === undefined) return;
    const bytes = Buffer.allocUnsafe(4 + replacement.length);
    bytes.writeUIntLE(replacement.length, 0, 3);
    bytes[3] = this.header[3]!;
    replacement.copy(bytes, 4);
    this.edits.push({ start: this.packetStart, end, bytes });
  }

  private pendingFirst = false;

  /** Packets whose content (not only the first byte) matters. */
  private mustCapture(first: number, size: number): boolean {
    switch (this.phase) {
      case Phase.ResultStart:
        return true; // OK, ERR, LOCAL INFILE request or a column count: all small
      case Phase.Columns:
        return first === 0xff;
      case Phase.ColumnsEof:
        return true;
      case Phase.Rows:
      case Phase.FieldList:
        return first === 0xff || (first === 0xfe && size < MAX_PAYLOAD && (this.deprecateEof || size < 9));
      default:
        return false;
    }
  }

  /** A packet that did not need capturing: a column count, column definition or row. */
  private onPacketStart(first: number | undefined, size: number): void {
    this.hashBody = this.hash !== undefined;
    switch (this.phase) {
      case Phase.Columns:
        if (--this.columnsLeft === 0) this.phase = this.deprecateEof ? Phase.Rows : Phase.ColumnsEof;
        return;
      case Phase.Rows:
        this.summary.rows++;
        return;
      case Phase.FieldList:
        return; // a column definition
      case Phase.PrepareDefinitions:
        if (--this.packetsLeft === 0) this.endAfterBody = true;
        return;
      case Phase.Single:
        this.endAfterBody = true;
        return;
      default:
        throw new ScanError('unexpected packet');
    }
  }

  /** PREPARE_OK: statement id (4), columns (2), params (2) — then that many definitions. */
  private onPrepareOk(packet: Buffer): void {
    if (packet[0] !== 0x00 || packet.length < 9) throw new ScanError('expected COM_STMT_PREPARE_OK');
    const columns = packet.readUInt16LE(5);
    const params = packet.readUInt16LE(7);
    const eofs = this.deprecateEof ? 0 : (params > 0 ? 1 : 0) + (columns > 0 ? 1 : 0);
    this.packetsLeft = params + columns + eofs;
    this.phase = this.packetsLeft === 0 ? Phase.Done : Phase.PrepareDefinitions;
  }

  private onWholePacket(packet: Buffer, end: number): void {
    const first = packet[0]!;
    if (first === 0xff) {
      this.summary.error = decodeErr(packet);
      this.hash?.update(`E${this.summary.error.errno}`);
      this.phase = Phase.Done;
      return;
    }
    switch (this.phase) {
      case Phase.ResultStart: {
        if (this.prepareReply) {
          this.onPrepareOk(packet);
          return;
        }
        if (first === 0xfb) {
          this.summary.localInfile = true;
          this.phase = Phase.Done;
          return;
        }
        // 0xfe here is an EOF: COM_SET_OPTION answers with one.
        if (first !== 0x00 && first !== 0xfe) {
          if (this.okOnly) throw new ScanError('expected OK or ERR');
          const [count] = readLenenc(packet, 0);
          if (typeof count !== 'number' || count === 0 || count > 4096) throw new ScanError('bad column count');
          this.columnsLeft = count;
          this.hash?.update(packet);
          this.summary.resultSets++;
          this.phase = Phase.Columns;
          return;
        }
        const flags = okStatusFlags(packet, this.capabilities);
        this.summary.statusFlags = flags;
        if (first === 0x00) this.seeOk(packet, end);
        if (first === 0x00 && this.summary.resultSets === 0 && this.summary.affectedRows === 0) {
          const [affected, next] = readLenenc(packet, 1);
          this.summary.affectedRows = affected;
          this.summary.lastInsertId = readLenenc(packet, next)[0];
        }
        if (first === 0x00 && this.hash !== undefined) {
          const [affected, next] = readLenenc(packet, 1);
          this.hash.update(`O${affected}/${readLenenc(packet, next)[0]}`);
        }
        this.phase = flags & ServerStatus.MORE_RESULTS_EXISTS ? Phase.ResultStart : Phase.Done;
        return;
      }
      case Phase.ColumnsEof: {
        if (first !== 0xfe) throw new ScanError('expected EOF after column definitions');
        // COM_STMT_EXECUTE that opened a cursor: no rows follow (COM_STMT_FETCH asks for them).
        // With CLIENT_DEPRECATE_EOF the server sends an OK-as-EOF here instead, which ends the
        // result in the Rows phase below with the same flag.
        const flags = okStatusFlags(packet, this.capabilities);
        if (flags & ServerStatus.CURSOR_EXISTS) {
          this.summary.statusFlags = flags;
          this.phase = Phase.Done;
          return;
        }
        this.phase = Phase.Rows;
        return;
      }
      case Phase.Rows:
      case Phase.FieldList: {
        const flags = okStatusFlags(packet, this.capabilities);
        this.summary.statusFlags = flags;
        if (this.deprecateEof) this.seeOk(packet, end);
        this.phase =
          this.phase === Phase.Rows && flags & ServerStatus.MORE_RESULTS_EXISTS ? Phase.ResultStart : Phase.Done;
        return;
      }
      default:
        throw new ScanError('unexpected packet');
    }
  }
}

/** The backend broke the protocol; the connection cannot be trusted any more. */
export class ScanError extends Error {
  override readonly name = 'ScanError';
}

/** Reads a length-encoded integer at `pos` (OK packet fields); returns [value, next position]. */
function readLenenc(buf: Buffer, pos: number): [number | bigint, number] {
  const first = buf[pos];
  if (first === undefined) return [0, pos];
  if (first < 0xfb) return [first, pos + 1];
  if (first === 0xfc && pos + 3 <= buf.length) return [buf.readUInt16LE(pos + 1), pos + 3];
  if (first === 0xfd && pos + 4 <= buf.length) return [buf.readUIntLE(pos + 1, 3), pos + 4];
  if (first === 0xfe && pos + 9 <= buf.length) {
    const v = buf.readBigUInt64LE(pos + 1);
    return [v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v, pos + 9];
  }
  return [0, buf.length];
}
