/**
 * A minimal MySQL client built on the project's codec, for commands mysql2 cannot send
 * (COM_FIELD_LIST, COM_STATISTICS, COM_SET_OPTION, unknown command bytes, malformed packets).
 * It reads whole responses by waiting for the terminating packet, so keep responses small.
 */
import net from 'node:net';
import { Capability } from '../../src/protocol/constants.js';
import { PacketDecoder, encodePacket } from '../../src/protocol/framer.js';
import { decodeAuthSwitchRequest, decodeInitialHandshake, encodeHandshakeResponse } from '../../src/protocol/handshake.js';
import { scrambleCachingSha2, scrambleNativePassword } from '../../src/protocol/auth.js';
import { ResponseScanner, type ResponseShape } from '../../src/backend/response-scanner.js';

export const RAW_CLIENT_CAPS =
  Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH |
  Capability.TRANSACTIONS | Capability.MULTI_RESULTS | Capability.CONNECT_WITH_DB;

export class RawClient {
  private readonly decoder = new PacketDecoder(64 * 1024 * 1024);
  private readonly packets: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  connectionId = 0;
  capabilities = 0;
  /** The plugin the server switched the login to, if it did. */
  switchedTo: string | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let p = this.decoder.next(); p; p = this.decoder.next()) this.packets.push(Buffer.from(p.payload));
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
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
  ): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    const c = new RawClient(socket);
    const greeting = decodeInitialHandshake(await c.next());
    c.connectionId = greeting.connectionId;
    c.capabilities = (RAW_CLIENT_CAPS | extraCaps) >>> 0;
    socket.write(
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
        1,
      ),
    );
    let reply = await c.next();
    if (reply[0] === 0xfe) {
      const sw = decodeAuthSwitchRequest(reply);
      c.switchedTo = sw.pluginName;
      if (sw.pluginName !== 'mysql_native_password') throw new Error(`unexpected switch to ${sw.pluginName}`);
      socket.write(encodePacket(scrambleNativePassword(password, sw.pluginData.subarray(0, 20)), 3));
      reply = await c.next();
    }
    if (reply[0] !== 0x00) throw new Error(`login failed: 0x${reply[0]?.toString(16)} ${reply.subarray(9).toString()}`);
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
    return this.packets.shift()!;
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
