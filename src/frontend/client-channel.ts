/**
 * The client socket as a stream of logical packets, read one at a time by the session loop.
 *
 * Reading is serialised: the session asks for the next packet only when it has answered the
 * previous one, so a pipelining client's commands run in order and never overlap. While a
 * command runs, further input is kept (bounded); past the bound the socket is paused.
 */
import type net from 'node:net';
import { PacketDecoder, encodePacket, encodePackets, type DecodedPacket } from '../protocol/framer.js';

/** Pause reading from a client that has this many packets queued unanswered. */
const MAX_QUEUED_PACKETS = 64;

export class ClientChannel {
  readonly socket: net.Socket;
  private readonly decoder: PacketDecoder;
  private readonly queue: DecodedPacket[] = [];
  private waiter: ((p: DecodedPacket | undefined) => void) | undefined;
  private ended = false;
  /** Set when the peer sent something the codec rejects; the session closes the connection. */
  protocolError: Error | undefined;

  constructor(socket: net.Socket, maxPacketSize: number) {
    this.socket = socket;
    this.decoder = new PacketDecoder(maxPacketSize);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.finish());
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
      for (let p = this.decoder.next(); p; p = this.decoder.next()) {
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w(p);
        } else {
          this.queue.push(p);
        }
      }
    } catch (err) {
      this.protocolError = err as Error;
      this.finish();
      return;
    }
    if (this.queue.length >= MAX_QUEUED_PACKETS) this.socket.pause();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  /** The next packet, or undefined once the client is gone (or sent garbage). */
  next(): Promise<DecodedPacket | undefined> {
    const p = this.queue.shift();
    if (p) {
      if (this.socket.isPaused() && this.queue.length < MAX_QUEUED_PACKETS / 2) this.socket.resume();
      return Promise.resolve(p);
    }
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  get closed(): boolean {
    return this.ended || this.socket.destroyed;
  }

  send(payload: Buffer, seq: number): void {
    if (!this.socket.destroyed) this.socket.write(encodePacket(payload, seq));
  }

  sendAll(payloads: readonly Buffer[], firstSeq: number): void {
    if (!this.socket.destroyed) this.socket.write(encodePackets(payloads, firstSeq));
  }

  close(): void {
    this.finish();
    this.socket.end();
    this.socket.destroySoon();
  }

  destroy(): void {
    this.finish();
    this.socket.destroy();
  }
}
