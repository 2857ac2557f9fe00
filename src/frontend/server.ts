/**
 * The client-facing listener: accepts sockets, gives each a proxy connection id and a Session,
 * and keeps the registry KILL and the admin views read.
 *
 * Connection ids: a worker process numbers its connections within its own block of ids
 * (`firstConnectionId`, CONNECTION_ID_BLOCK ids), so ids are unique across the group and the
 * block says which worker holds a session (KILL from another worker, the admin port).
 */
import net, { isIP } from 'node:net';
import { encodePacket } from '../protocol/framer.js';
import { SqlError, sqlError } from '../protocol/error-codes.js';
import { encodeErrFor } from './authenticate.js';
import type { Logger } from 'pino';
import { ClientChannel } from './client-channel.js';
import { listenOn } from './listen.js';
import { Session, type SessionContext } from './session.js';
import { ConnectionCounts, type ConnectionLimits } from './connection-limits.js';
import { IdleSweeper } from './idle-sweeper.js';
import { AddressTables, type AddressGuard } from './address-guard.js';
import { EdgeAdmission, type PendingHandshake } from './edge-admission.js';
import type { RefusalReason } from './session-context.js';

/** Connection ids one worker numbers its sessions with (then it starts its block again). */
export const CONNECTION_ID_BLOCK = 1 << 24;

export interface FrontendOptions {
  /** First connection id of this process's block (default 1). */
  readonly firstConnectionId?: number;
  /** Where client connections are counted against the limits (default: in this process). */
  readonly limits?: ConnectionLimits;
  /** Blocked hosts and failed-login records (default: tables of this process). */
  readonly guard?: AddressGuard;
}

export class FrontendServer {
  private readonly server: net.Server;
  private readonly sessions = new Map<number, Session>();
  private readonly firstId: number;
  private nextId: number;
  private readonly limits: ConnectionLimits;
  /** Blocked hosts, handshake caps and timeout (limits section). */
  readonly admission: EdgeAdmission;
  private readonly log: Logger;

  constructor(
    private readonly ctx: Omit<SessionContext, 'session' | 'limits' | 'idleSweeper'>,
    log: Logger,
    opts: FrontendOptions = {},
  ) {
    this.log = log;
    this.firstId = opts.firstConnectionId ?? 1;
    this.nextId = this.firstId;
    this.limits = opts.limits ?? new ConnectionCounts();
    this.admission = new EdgeAdmission(() => ctx.config().limits, opts.guard ?? new AddressTables(() => ctx.config().limits), ctx.stats.edge, log);
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
    // One timer for all sessions (not one per statement): gives back the connections of
    // sessions that have been idle for holdConnectionMs.
    const holdMs = ctx.config().session.holdConnectionMs;
    if (holdMs > 0) this.sweeper = new IdleSweeper(Math.max(5, Math.floor(holdMs / 2)), () => ctx.config().session.holdConnectionMs);
  }

  /** Gives back what idle sessions keep (idle-sweeper.ts); exposed for tests. */
  readonly sweeper: IdleSweeper | undefined;
  private closing = false;
  /** The `clients` whitelist built from `allowedFrom`; undefined = everybody may connect. */
  private allowed: net.BlockList | undefined;
  private allowedFrom: readonly string[] | undefined;

  /** The whitelist of the running config (rebuilt when ADD/REMOVE CLIENT or a reload changed it). */
  private whitelist(clients: readonly string[]): net.BlockList | undefined {
    if (clients !== this.allowedFrom) {
      this.allowed = whitelist(clients);
      this.allowedFrom = clients;
    }
    return this.allowed;
  }

  private refuse(socket: net.Socket, address: string, reason: RefusalReason, err: SqlError, why: string): void {
    this.ctx.stats.edge.refused[reason]++;
    // A flood is refused by the thousand: one line per address and reason per minute.
    this.admission.logThrottle.hit(`${reason} ${address}`, ({ suppressed, windowMs }) =>
      this.log.warn(
        { client: address, errno: err.errno, reason, ...(suppressed > 0 ? { more: suppressed, withinMs: windowMs } : {}) },
        `connection refused: ${why}`,
      ),
    );
    socket.end(encodePacket(encodeErrFor(err), 0));
    socket.on('error', () => undefined);
    socket.destroySoon();
  }

  /** Sessions still running (their cleanup gives connections back to the pools). */
  private readonly running = new Set<Promise<void>>();

  private accept(socket: net.Socket): void {
    // Admission before the handshake, as a MySQL server does: the client reads one ERR packet.
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const cfg = this.ctx.config();
    const allowed = this.whitelist(cfg.clients);
    if (allowed && !allowed.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')) {
      this.refuse(socket, address, 'not-allowed', sqlError('ER_HOST_NOT_PRIVILEGED', address), 'client address not in the clients whitelist');
      return;
    }
    const refusal = this.admission.refusal(address);
    if (refusal !== undefined) {
      const l = cfg.limits;
      if (refusal === 'host-blocked') this.refuse(socket, address, refusal, sqlError('ER_HOST_IS_BLOCKED', address), `blocked after limits.maxConnectErrors (${l.maxConnectErrors}) handshake errors`);
      // "Too many connections": what a client caught in a flood can understand and retry on.
      else if (refusal === 'handshake-limit') this.refuse(socket, address, refusal, sqlError('ER_CON_COUNT_ERROR'), `limits.maxUnauthenticated (${l.maxUnauthenticated}) connections in the handshake`);
      else this.refuse(socket, address, refusal, sqlError('ER_CON_COUNT_ERROR'), `limits.maxUnauthenticatedPerAddress (${l.maxUnauthenticatedPerAddress}) connections in the handshake from this address`);
      return;
    }
    // The handshake clock starts at accept: a wait for the group's connection count is part of it.
    const handshake = this.admission.enter(socket, address);
    const place = this.limits.open(cfg.maxConnections);
    if (place === true) this.start(socket, handshake);
    else if (place === false) this.refuseFull(socket, address, cfg.maxConnections, handshake);
    else {
      // The group counts connections in its primary process: the socket waits for the answer.
      socket.pause();
      place.then(
        (ok) => {
          if (!ok) return this.refuseFull(socket, address, cfg.maxConnections, handshake);
          if (socket.destroyed || this.closing) {
            handshake.end();
            this.limits.close(undefined);
            socket.destroy();
            return;
          }
          this.start(socket, handshake);
          socket.resume();
        },
        (err: unknown) => {
          handshake.end();
          this.log.warn({ err: (err as Error).message }, 'connection refused: the connection count is not available');
          socket.destroy();
        },
      );
    }
  }

  private refuseFull(socket: net.Socket, address: string, max: number, handshake: PendingHandshake): void {
    handshake.end();
    this.refuse(socket, address, 'max-connections', sqlError('ER_CON_COUNT_ERROR'), `maxConnections (${max}) reached`);
  }

  private start(socket: net.Socket, handshake: PendingHandshake): void {
    const id = this.allocateId();
    const ch = new ClientChannel(socket, this.ctx.config().session.maxPacketSize);
    const session = new Session(id, ch, { ...this.ctx, session: (n) => this.sessions.get(n), limits: this.limits, idleSweeper: this.sweeper }, this.log, handshake);
    this.sessions.set(id, session);
    const running = session.run().finally(() => {
      this.sessions.delete(id);
      this.running.delete(running);
      this.limits.close(session.countedUser);
    });
    this.running.add(running);
  }

  /** The next id of this process's block that no open session has (ids wrap within the block). */
  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      const blockEnd = (Math.floor(this.firstId / CONNECTION_ID_BLOCK) + 1) * CONNECTION_ID_BLOCK;
      this.nextId = id + 1 >= blockEnd ? this.firstId : id + 1;
      if (!this.sessions.has(id)) return id;
    }
  }

  /** The session with this connection id, when this process holds it. */
  session(id: number): Session | undefined {
    return this.sessions.get(id);
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return listenOn(this.server, host, port);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  allSessions(): IterableIterator<Session> {
    return this.sessions.values();
  }

  /** Stops accepting, then closes every client connection. */
  async close(): Promise<void> {
    this.closing = true;
    this.sweeper?.close();
    this.admission.logThrottle.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.values()) s.terminate();
    // Wait for every session to give its backend connections back before the pools close.
    await Promise.all([closed, ...this.running]);
  }
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** The `clients` list as a BlockList (used as an allow list); undefined when the list is empty. */
function whitelist(clients: readonly string[]): net.BlockList | undefined {
  if (clients.length === 0) return undefined;
  const list = new net.BlockList();
  for (const entry of clients) {
    const [addr, bits] = entry.split('/');
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(bits), family);
  }
  return list;
}
