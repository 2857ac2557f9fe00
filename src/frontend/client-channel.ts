/**
 * The client socket as a stream of logical packets, read one at a time by the session loop.
 *
 * Reading is serialised: the session asks for the next packet only when it has answered the
 * previous one, so a pipelining client's commands run in order and never overlap. While a
 * command runs, further input is kept (bounded); past the bound the socket is paused.
 *
 * TLS: `watchForSslRequest()` (before the greeting) makes the channel look at the client's first
 * packet on its own; if it is an SSLRequest the channel stops reading there — the TLS
 * ClientHello may already follow in the same chunk — and `upgradeToTls()` wraps the socket,
 * handing it the bytes read past the SSLRequest. From then on `socket` is the TLS socket.
 *
 * Compression: after the OK that ends authentication, `startCompression()` (when the client
 * negotiated CLIENT_COMPRESS) makes input go through a CompressedDecoder before the packet
 * decoder, and `output` a CompressingWriter; everything sent to the client, replies and relayed
 * results alike, goes through `output`. Without compression `output` is the socket itself.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { PacketDecoder, encodePacket, encodePackets, type DecodedPacket } from '../protocol/framer.js';
import { isSslRequest } from '../protocol/handshake.js';
import { CompressedDecoder } from '../protocol/compressed.js';
import { ProtocolError } from '../protocol/errors.js';
import type { ClientSink } from '../backend/backend-connection.js';
import { CompressingWriter } from './compressing-writer.js';

/** Pause reading from a client that has this many packets queued unanswered. */
const MAX_QUEUED_PACKETS = 64;

/** A client that sends an SSLRequest and then no TLS handshake is dropped after this. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Header + SSLRequest payload. */
const SSL_REQUEST_FRAME = 4 + 32;

/** A packet that arrived compressed, with the compressed sequence id of the frame that ended it. */
type FramedPacket = DecodedPacket & { compressedSeq?: number };

export class ClientChannel {
  /** The client's socket: the TLS socket once `upgradeToTls` has run. */
  socket: net.Socket;
  private readonly decoder: PacketDecoder;
  /** Looking at the first packet for an SSLRequest (see watchForSslRequest). */
  private sslWatch = false;
  /** Bytes of the first packet gathered while watching. */
  private firstBytes: Buffer | undefined;
  /** An SSLRequest arrived: input is held (not decoded) until the TLS upgrade. */
  private tlsPending = false;
  /** Bytes that followed the SSLRequest (start of the TLS handshake). */
  private afterSslRequest: Buffer | undefined;
  private secure = false;
  private readonly queue: FramedPacket[] = [];
  /** Set by startCompression: input is inflated before framing, output compressed. */
  private inflater: CompressedDecoder | undefined;
  private compressor: CompressingWriter | undefined;
  private waiter: ((p: DecodedPacket | undefined) => void) | undefined;
  private ended = false;
  /** Set when the peer sent something the codec rejects; the session closes the connection. */
  protocolError: Error | undefined;

  constructor(socket: net.Socket, maxPacketSize: number) {
    this.socket = socket;
    this.decoder = new PacketDecoder(maxPacketSize);
    socket.setNoDelay(true);
    this.attach(socket);
  }

  private readonly onDataBound = (chunk: Buffer): void => this.onData(chunk);
  private readonly finishBound = (): void => this.finish();

  private attach(socket: net.Socket): void {
    socket.on('data', this.onDataBound);
    socket.on('end', this.finishBound);
    socket.on('close', this.finishBound);
    socket.on('error', this.finishBound);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onDataBound);
    socket.off('end', this.finishBound);
    socket.off('close', this.finishBound);
    socket.off('error', this.finishBound);
  }

  /** True once the connection runs over TLS. */
  get isSecure(): boolean {
    return this.secure;
  }

  /**
   * Call before sending the greeting when TLS is offered: the client's first packet is then
   * checked for an SSLRequest, and reading stops right after one (see upgradeToTls).
   */
  watchForSslRequest(): void {
    this.sslWatch = true;
  }

  private onData(chunk: Buffer): void {
    if (this.inflater) {
      this.onCompressedData(this.inflater, chunk);
      return;
    }
    if (this.tlsPending) {
      // Should not happen (the socket is paused), but never lose TLS handshake bytes.
      this.afterSslRequest = this.afterSslRequest ? Buffer.concat([this.afterSslRequest, chunk]) : chunk;
      return;
    }
    if (this.sslWatch) {
      const bytes = this.firstBytes ? Buffer.concat([this.firstBytes, chunk]) : chunk;
      const length = bytes.length >= 3 ? bytes.readUIntLE(0, 3) : -1;
      if (bytes.length < 4 || (length === 32 && bytes.length < SSL_REQUEST_FRAME)) {
        this.firstBytes = bytes;
        return;
      }
      this.sslWatch = false;
      this.firstBytes = undefined;
      const payload = length === 32 ? bytes.subarray(4, SSL_REQUEST_FRAME) : undefined;
      if (payload !== undefined && isSslRequest(payload)) {
        // Stop here: what follows is the TLS ClientHello, for the TLS socket to read.
        this.tlsPending = true;
        this.socket.pause();
        this.afterSslRequest = bytes.subarray(SSL_REQUEST_FRAME);
        const seq = bytes[3] as number;
        this.deliver({ seq, lastSeq: seq, payload: Buffer.from(payload), frame: undefined });
        return;
      }
      chunk = bytes; // an ordinary handshake response: decode as usual
    }
    try {
      this.decoder.push(chunk);
      for (let p = this.decoder.next(); p; p = this.decoder.next()) this.deliver(p);
    } catch (err) {
      this.protocolError = err as Error;
      this.finish();
      return;
    }
    if (this.queue.length >= MAX_QUEUED_PACKETS) this.socket.pause();
  }

  private onCompressedData(inflater: CompressedDecoder, chunk: Buffer): void {
    try {
      inflater.push(chunk);
      for (let f = inflater.next(); f; f = inflater.next()) {
        this.decoder.push(f.payload);
        for (let p: FramedPacket | undefined = this.decoder.next(); p; p = this.decoder.next()) {
          p.compressedSeq = f.seq;
          this.deliver(p);
        }
      }
    } catch (err) {
      this.protocolError = err as Error;
      this.finish();
      return;
    }
    if (this.queue.length >= MAX_QUEUED_PACKETS) this.socket.pause();
  }

  private deliver(p: FramedPacket): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.handOut(p);
      w(p);
    } else {
      this.queue.push(p);
    }
  }

  /**
   * Switches the connection to TLS after an SSLRequest (server side) and resolves once the TLS
   * handshake is done; `socket` is the TLS socket afterwards. Rejects (and the connection is
   * finished) when the handshake fails or takes longer than 10 s.
   */
  upgradeToTls(context: tls.SecureContext): Promise<void> {
    if (!this.tlsPending) return Promise.reject(new Error('no SSLRequest to answer'));
    const raw = this.socket;
    this.detach(raw);
    raw.on('error', () => undefined); // errors surface on the TLS socket
    // Bytes already read past the SSLRequest go back in front of the socket's buffer; the TLS
    // socket consumes a wrapped socket's buffered data before reading from the handle.
    if (this.afterSslRequest && this.afterSslRequest.length > 0) raw.unshift(this.afterSslRequest);
    this.afterSslRequest = undefined;
    const secured = new tls.TLSSocket(raw, { isServer: true, secureContext: context, requestCert: false });
    // The TLS socket owns the handle now; the plain socket must still be destroyed when it
    // closes, or the listener keeps counting the connection (server.close() would never end).
    secured.once('close', () => raw.destroy());
    this.socket = secured;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => onError(new Error(`TLS handshake not done after ${TLS_HANDSHAKE_TIMEOUT_MS} ms`)), TLS_HANDSHAKE_TIMEOUT_MS);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        secured.off('secure', onSecure);
        secured.on('error', () => undefined);
        secured.destroy();
        this.finish();
        reject(err);
      };
      const onSecure = (): void => {
        clearTimeout(timer);
        secured.off('error', onError);
        this.tlsPending = false;
        this.secure = true;
        secured.setNoDelay(true);
        this.attach(secured);
        if (secured.destroyed) this.finish();
        resolve();
      };
      secured.once('secure', onSecure);
      secured.once('error', onError);
    });
  }
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }

  /** The session takes `p`: what it sends next answers it. */
  private handOut(p: FramedPacket): void {
    if (p.compressedSeq !== undefined) this.compressor?.continueAfter(p.compressedSeq);
  }

  /**
   * Switches both directions to the compressed protocol; call right after sending the OK that
   * ends authentication (that OK is not compressed). A client sends nothing between its last
   * authentication packet and that OK, so no plain input is pending; if some is, the client is
   * out of step and the connection is closed.
   */
  startCompression(): void {
    if (this.inflater) return;
    this.inflater = new CompressedDecoder();
    this.compressor = new CompressingWriter(this.socket);
    if (this.decoder.buffered > 0 || this.queue.length > 0) {
      this.queue.length = 0;
      this.protocolError = new ProtocolError('client sent data before compression started', 'compression-out-of-step');
      this.finish();
    }
  }

  /**
   * Where everything for the client goes (results relayed from a backend included): the socket,
   * or the compressing writer once compression started.
   */
  get output(): ClientSink {
    return this.compressor ?? this.socket;
  }

  /** The next packet, or undefined once the client is gone (or sent garbage). */
  next(): Promise<DecodedPacket | undefined> {
    const p = this.queue.shift();
    if (p) {
      this.handOut(p);
      if (!this.tlsPending && this.socket.isPaused() && this.queue.length < MAX_QUEUED_PACKETS / 2) this.socket.resume();
      return Promise.resolve(p);
    }
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  get closed(): boolean {
    return this.ended || this.socket.destroyed;
  }

  send(payload: Buffer, seq: number): void {
    if (!this.socket.destroyed) this.output.write(encodePacket(payload, seq));
  }

  /** A reply of several packets in one write (and so in one compressed frame). */
  sendAll(payloads: readonly Buffer[], firstSeq: number): void {
    if (!this.socket.destroyed) this.output.write(encodePackets(payloads, firstSeq));
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
