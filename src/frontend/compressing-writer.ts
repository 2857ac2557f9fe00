/**
 * The client side of the compressed protocol on the way out: every write (a reply the proxy
 * builds, a chunk of a relayed result) becomes compressed frames in one socket write.
 *
 * It holds no buffer of its own, so backpressure is the socket's: `write` returns what the
 * socket's write returned and 'drain' is the socket's event. A relayed result therefore still
 * pauses the backend while the client is slow, with bounded memory.
 *
 * Deflating is synchronous (zlib.deflateSync) on input of at most 64 KiB per frame: the
 * thread-pool variant would need a queue to keep frames in order and its own backpressure
 * accounting, for a cost per chunk of about a millisecond at level 1. Worker processes, not
 * zlib threads, are how the proxy uses more cores.
 */
import type net from 'node:net';
import { encodeCompressed } from '../protocol/compressed.js';
import type { ClientSink } from '../backend/backend-connection.js';

export class CompressingWriter implements ClientSink {
  private readonly socket: net.Socket;
  /** Compressed sequence id of the next frame. */
  private seq = 0;

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /**
   * The reply to what the client sent in frame `clientSeq` continues its compressed sequence
   * (it restarts at 0 with each command, like the ordinary one).
   */
  continueAfter(clientSeq: number): void {
    this.seq = (clientSeq + 1) & 0xff;
  }

  write(chunk: Buffer): boolean {
    if (this.socket.destroyed) return false;
    let frames;
    try {
      frames = encodeCompressed(chunk, this.seq);
    } catch (err) {
      // Out of memory in zlib, say: this one client cannot be served. True, so that a relay
      // keeps reading and notices the destroyed socket rather than wait for a 'drain'.
      this.socket.destroy(err as Error);
      return true;
    }
    this.seq = (this.seq + frames.count) & 0xff;
    return this.socket.write(frames.bytes);
  }

  once(event: 'drain' | 'close', listener: () => void): this {
    this.socket.once(event, listener);
    return this;
  }

  off(event: 'drain' | 'close', listener: () => void): this {
    this.socket.off(event, listener);
    return this;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }
}
