/**
 * A minimal MySQL client built on the project's codec, for commands mysql2 cannot send
 * (COM_FIELD_LIST, COM_STATISTICS, COM_SET_OPTION, unknown command bytes, malformed packets).
 * It reads whole responses by waiting for the terminating packet, so keep responses small.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Capability } from '../../src/protocol/constants.js';
import { PacketDecoder, encodePacket } from '../../src/protocol/framer.js';
import {
  decodeAuthSwitchRequest,
  decodeInitialHandshake,
  encodeHandshakeResponse,
  encodeSslRequest,
} from '../../src/protocol/handshake.js';
import { encryptPasswordWithPublicKey, scrambleCachingSha2, scrambleNativePassword } from '../../src/protocol/auth.js';
import { ResponseScanner, type ResponseShape } from '../../src/backend/response-scanner.js';

export const RAW_CLIENT_CAPS =
  Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH |
  Capability.TRANSACTIONS | Capability.MULTI_RESULTS | Capability.CONNECT_WITH_DB;

/** Extra login options of `RawClient.connect`. */
export interface RawConnectOptions {
  /** Send an SSLRequest and continue over TLS with these options (e.g. `{ ca, servername }`). */
  readonly tls?: tls.ConnectionOptions;
  /**
   * Over plain TCP, caching_sha2 full authentication normally asks the server for its public
   * key (0x02); with a key given here the client encrypts with it at once.
   */
  readonly serverPublicKey?: string;
  /** Full authentication over plain TCP sends the password in clear (a misbehaving client). */
  readonly clearPasswordWithoutTls?: boolean;
}

export class RawClient {
  private readonly decoder = new PacketDecoder(64 * 1024 * 1024);
  private readonly packets: { seq: number; payload: Buffer }[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  connectionId = 0;
  capabilities = 0;
  /** The plugin the server switched the login to, if it did. */
  switchedTo: string | undefined;
  /** What the login went through: `switch:<plugin>`, `fast-auth`, `full-auth`, `public-key`. */
  readonly authSteps: string[] = [];
  /** The greeting's capability flags. */
  serverCapabilities = 0;
  /** Sequence id of the last packet `next()` returned. */
  lastSeq = 0;
  socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.decoder.push(chunk);
    for (let p = this.decoder.next(); p; p = this.decoder.next()) this.packets.push({ seq: p.lastSeq, payload: Buffer.from(p.payload) });
    this.waiter?.();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    this.waiter?.();
  };

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
    socket.on('error', () => undefined);
  }

  /** After an SSLRequest: wrap the socket in TLS and resolve once the handshake is done. */
  private async startTls(options: tls.ConnectionOptions): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.onData);
    plain.off('close', this.onClose);
    const secured = tls.connect({ ...options, socket: plain });
    this.socket = secured;
    this.attach(secured);
    await new Promise<void>((resolve, reject) => {
      secured.once('secureConnect', () => resolve());
      secured.once('error', reject);
    });
  }

  /** The TLS cipher in use, or undefined over plain TCP. */
  get cipher(): string | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket.getCipher().name : undefined;
  }

  /**
   * Logs in. `plugin` is what the client claims to start with: with 'caching_sha2_password' (as
   * MySQL 8 clients do) the server is expected to switch it to mysql_native_password.
   */
  static async connect(
    port: number,
    user: string,
    password: string,
    database?: string,
    extraCaps = 0,
    plugin: 'mysql_native_password' | 'caching_sha2_password' = 'mysql_native_password',
    opts: RawConnectOptions = {},
  ): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    const c = new RawClient(socket);
    const greeting = decodeInitialHandshake(await c.next());
    c.connectionId = greeting.connectionId;
    c.serverCapabilities = greeting.capabilities;
    c.capabilities = (RAW_CLIENT_CAPS | extraCaps | (opts.tls ? Capability.SSL : 0)) >>> 0;
    let seq = 1;
    if (opts.tls) {
      c.socket.write(encodePacket(encodeSslRequest({ capabilities: c.capabilities, maxPacketSize: 1 << 24, charset: 45 }), seq++));
      await c.startTls(opts.tls);
    }
    let seed = greeting.authPluginData.subarray(0, 20);
    let current: string = plugin;
    c.socket.write(
      encodePacket(
        encodeHandshakeResponse({
          capabilities: c.capabilities,
          maxPacketSize: 1 << 24,
          charset: 45,
          user,
          authResponse:
            plugin === 'mysql_native_password'
              ? scrambleNativePassword(password, greeting.authPluginData.subarray(0, 20))
              : scrambleCachingSha2(password, greeting.authPluginData.subarray(0, 20)),
          database,
          authPluginName: plugin,
          connectAttrs: undefined,
        }),
        seq,
      ),
    );
    const reply = (payload: Buffer): void => {
      c.socket.write(encodePacket(payload, (c.lastSeq + 1) & 0xff));
    };
    for (;;) {
      const p = await c.next();
      if (p[0] === 0x00) break;
      if (p[0] === 0xff) {
        const errno = p.readUInt16LE(1);
        throw Object.assign(new Error(`login failed: ${errno} ${p.subarray(9).toString()}`), { errno });
      }
      if (p[0] === 0xfe) {
        const sw = decodeAuthSwitchRequest(p);
        c.switchedTo = sw.pluginName;
        c.authSteps.push(`switch:${sw.pluginName}`);
        seed = sw.pluginData.subarray(0, 20);
        current = sw.pluginName;
        if (current === 'mysql_native_password') reply(scrambleNativePassword(password, seed));
        else if (current === 'caching_sha2_password') reply(scrambleCachingSha2(password, seed));
        else throw new Error(`unexpected switch to ${sw.pluginName}`);
        continue;
      }
      if (p[0] === 0x01 && current === 'caching_sha2_password') {
        const data = p.subarray(1);
        if (data.length === 1 && data[0] === 0x03) {
          c.authSteps.push('fast-auth');
          continue;
        }
        if (data.length === 1 && data[0] === 0x04) {
          c.authSteps.push('full-auth');
          const clear = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]);
          if (opts.tls || opts.clearPasswordWithoutTls) reply(clear);
          else if (opts.serverPublicKey) reply(encryptPasswordWithPublicKey(password, seed, opts.serverPublicKey));
          else reply(Buffer.from([0x02]));
          continue;
        }
        if (data.toString('latin1').includes('BEGIN PUBLIC KEY')) {
          c.authSteps.push('public-key');
          reply(encryptPasswordWithPublicKey(password, seed, data.toString('latin1')));
          continue;
        }
      }
      throw new Error(`unexpected packet during login: ${p.toString('hex').slice(0, 40)}`);
    }
    return c;
  }

  /** The next packet payload; rejects if the server closed the connection first. */
  async next(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('timed out waiting for a packet');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
      this.waiter = undefined;
    }
    const p = this.packets.shift()!;
    this.lastSeq = p.seq;
    return p.payload;
  }

  /** Writes one packet (e.g. the next step of an exchange the test drives itself). */
  send(payload: Buffer, seq: number): void {
    this.socket.write(encodePacket(payload, seq));
  }

  /** Sends one command payload (seq 0) and collects the packets of its response. */
  async command(payload: Buffer, shape: ResponseShape = 'query'): Promise<Buffer[]> {
    this.socket.write(encodePacket(payload, 0));
    const scanner = new ResponseScanner(shape, this.capabilities, 1);
    const out: Buffer[] = [];
    while (!scanner.done) {
      const p = await this.next();
      out.push(p);
      scanner.push(encodePacket(p, (out.length) & 0xff));
    }
    return out;
  }

  /** Writes raw bytes (for malformed-input tests). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves true once the server has closed the connection (within the timeout). */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** errno of an ERR payload, or undefined. */
export function errnoOfPacket(p: Buffer | undefined): number | undefined {
  return p && p[0] === 0xff ? p.readUInt16LE(1) : undefined;
}
