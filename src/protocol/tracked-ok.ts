/**
 * OK packets from a backend connection that negotiated CLIENT_SESSION_TRACK, seen through to a
 * client. The proxy always asks backends for session tracking (it reads each commit's GTID from
 * the OK packet), while the client may not have asked for it, or may not have asked to see GTIDs:
 *
 *  - a client without CLIENT_SESSION_TRACK reads the info as the rest of the packet, so the
 *    lenenc info and the session-state block are re-encoded the old way (info as plain text,
 *    SERVER_SESSION_STATE_CHANGED cleared);
 *  - a client with it sees the state changes its own statements caused, minus the GTID entries
 *    the proxy added for itself, unless it asked for them.
 *
 * Most OK packets carry neither info nor state: they are recognised by their length and left
 * alone without allocating.
 */
import { ServerStatus, SessionTrack } from './constants.js';
import { readLenencInt, skipLenencInt } from './reader.js';
import { PacketWriter } from './writer.js';

export interface TrackedOk {
  /** The packet the client must receive instead, or undefined when the original will do. */
  readonly replacement: Buffer | undefined;
  /** The GTID the OK reported (`last_gtid` on MariaDB, the GTID set on MySQL), if any. */
  readonly gtid: string | undefined;
}

const UNCHANGED: TrackedOk = Object.freeze({ replacement: undefined, gtid: undefined });

/**
 * @param payload OK packet (header 0x00, or 0xfe as the DEPRECATE_EOF result-set terminator) as
 *   sent by a backend connection with CLIENT_SESSION_TRACK and PROTOCOL_41
 * @param clientTracks the client negotiated CLIENT_SESSION_TRACK
 * @param clientSeesGtid the client asked to track GTIDs itself (keep those entries)
 */
export function seeTrackedOk(payload: Buffer, clientTracks: boolean, clientSeesGtid: boolean): TrackedOk {
  try {
    return see(payload, clientTracks, clientSeesGtid);
  } catch {
    // Not the layout this reads (the scanner judges the packet itself): pass it on as it came.
    return UNCHANGED;
  }
}

function see(payload: Buffer, clientTracks: boolean, clientSeesGtid: boolean): TrackedOk {
  let pos = skipLenencInt(payload, skipLenencInt(payload, 1));
  const statusAt = pos;
  pos += 4; // status flags, warnings
  if (pos >= payload.length) return UNCHANGED; // no info, no state: the same bytes in both formats
  const status = payload.readUInt16LE(statusAt);
  const infoLen = readLenencInt(payload, pos);
  const infoStart = pos + infoLen.size;
  const infoEnd = infoStart + Number(infoLen.value ?? 0);
  if (infoEnd > payload.length) return UNCHANGED; // not the tracked layout: leave it to the client
  let entries: Entry[] = [];
  if (status & ServerStatus.SESSION_STATE_CHANGED && infoEnd < payload.length) {
    const stateLen = readLenencInt(payload, infoEnd);
    const stateStart = infoEnd + stateLen.size;
    entries = parseEntries(payload.subarray(stateStart, Math.min(payload.length, stateStart + Number(stateLen.value ?? 0))));
  }
  let gtid: string | undefined;
  let ownEntries = false;
  for (const e of entries) {
    if (e.gtid !== undefined) {
      gtid = e.gtid;
      ownEntries = true;
    }
  }
  if (clientTracks && (!ownEntries || clientSeesGtid)) return gtid === undefined ? UNCHANGED : { replacement: undefined, gtid };

  const kept = clientTracks ? entries.filter((e) => e.gtid === undefined || clientSeesGtid).map((e) => e.bytes) : [];
  const state = kept.length > 0 ? Buffer.concat(kept) : undefined;
  const info = payload.subarray(infoStart, infoEnd);
  const w = new PacketWriter(payload.length);
  w.bytes(payload.subarray(0, statusAt));
  w.u16(state ? status : status & ~ServerStatus.SESSION_STATE_CHANGED);
  w.bytes(payload.subarray(statusAt + 2, statusAt + 4));
  if (!clientTracks) {
    w.bytes(info);
  } else if (info.length > 0 || state) {
    w.lenencBuffer(info);
    if (state) w.lenencBuffer(state);
  }
  return { replacement: w.toBuffer(), gtid };
}

interface Entry {
  /** The whole entry (type, lenenc data), re-emitted as is when kept. */
  readonly bytes: Buffer;
  /** Set on entries that only report a GTID (the proxy's own tracking). */
  readonly gtid: string | undefined;
}

/**
 * Splits session-state info into entries. A system-variables entry that holds `last_gtid` among
 * other variables is split so the others can be kept.
 */
function parseEntries(state: Buffer): Entry[] {
  const out: Entry[] = [];
  let pos = 0;
  while (pos < state.length) {
    const type = state[pos]!;
    const len = readLenencInt(state, pos + 1);
    const dataStart = pos + 1 + len.size;
    const dataEnd = Math.min(state.length, dataStart + Number(len.value ?? 0));
    const data = state.subarray(dataStart, dataEnd);
    if (type === SessionTrack.SYSTEM_VARIABLES) {
      out.push(...variableEntries(data, state.subarray(pos, dataEnd)));
    } else if (type === SessionTrack.GTIDS && data.length > 1) {
      const text = readLenencString(data, 1);
      out.push({ bytes: state.subarray(pos, dataEnd), gtid: text ?? '' });
    } else {
      out.push({ bytes: state.subarray(pos, dataEnd), gtid: undefined });
    }
    pos = dataEnd;
  }
  return out;
}

function variableEntries(data: Buffer, whole: Buffer): Entry[] {
  const pairs: { name: string; value: string; bytes: Buffer }[] = [];
  let pos = 0;
  while (pos < data.length) {
    const start = pos;
    const name = readLenencString(data, pos);
    pos = skipLenencString(data, pos);
    const value = readLenencString(data, pos);
    pos = skipLenencString(data, pos);
    if (name === undefined || value === undefined) return [{ bytes: whole, gtid: undefined }];
    pairs.push({ name, value, bytes: data.subarray(start, pos) });
  }
  if (!pairs.some((p) => p.name === 'last_gtid')) return [{ bytes: whole, gtid: undefined }];
  return pairs.map((p) => {
    const w = new PacketWriter(p.bytes.length + 4);
    w.u8(SessionTrack.SYSTEM_VARIABLES).lenencBuffer(p.bytes);
    return { bytes: w.toBuffer(), gtid: p.name === 'last_gtid' ? p.value : undefined };
  });
}

function readLenencString(buf: Buffer, pos: number): string | undefined {
  if (pos >= buf.length) return undefined;
  const len = readLenencInt(buf, pos);
  const start = pos + len.size;
  const end = start + Number(len.value ?? 0);
  if (end > buf.length) return undefined;
  return buf.toString('utf8', start, end);
}

function skipLenencString(buf: Buffer, pos: number): number {
  if (pos >= buf.length) return buf.length;
  const len = readLenencInt(buf, pos);
  return pos + len.size + Number(len.value ?? 0);
}
