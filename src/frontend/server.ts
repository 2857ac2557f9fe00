/**
 * The client-facing listener: accepts sockets, gives each a proxy connection id and a Session,
 * and keeps the registry KILL and the admin views read.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { ClientChannel } from './client-channel.js';
import { Session, type SessionContext } from './session.js';

export class FrontendServer {
  private readonly server: net.Server;
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;
  private readonly log: Logger;

  constructor(
    private readonly ctx: Omit<SessionContext, 'session'>,
    log: Logger,
  ) {
    this.log = log;
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
    // One timer for all sessions (not one per statement): gives back the connections of
    // sessions that have been idle for holdConnectionMs.
    const holdMs = ctx.config.session.holdConnectionMs;
    if (holdMs > 0) {
      this.sweeper = setInterval(() => {
        const now = Date.now();
        for (const s of this.sessions.values()) s.sweep(now);
      }, Math.max(5, Math.floor(holdMs / 2)));
      this.sweeper.unref();
    }
  }

  private sweeper: NodeJS.Timeout | undefined;
  /** Sessions still running (their cleanup gives connections back to the pools). */
  private readonly running = new Set<Promise<void>>();

  private accept(socket: net.Socket): void {
    const id = this.nextId++;
    const ch = new ClientChannel(socket, this.ctx.config.session.maxPacketSize);
    const session = new Session(id, ch, { ...this.ctx, session: (n) => this.sessions.get(n) }, this.log);
    this.sessions.set(id, session);
    const running = session.run().finally(() => {
      this.sessions.delete(id);
      this.running.delete(running);
    });
    this.running.add(running);
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const addr = this.server.address() as net.AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  allSessions(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Stops accepting, then closes every client connection. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.values()) s.terminate();
    // Wait for every session to give its backend connections back before the pools close.
    await Promise.all([closed, ...this.running]);
  }
}
