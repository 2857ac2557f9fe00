/**
 * What a connection must get through before it is trusted, per process: the blocked-host check,
 * the caps on connections still in the handshake (all of them, and per address), the handshake
 * timeout, and the failed-login delay. Sessions that authenticated are never counted here.
 *
 * The caps count this process's handshakes only: with worker processes each worker has
 * `limits.maxUnauthenticated` places (a connection is handed to one worker and stays there, so a
 * flood is spread and capped in each), which bounds every process's file descriptors without a
 * round trip to the primary at each accept. The blocked hosts and the failed-login records are
 * the group's (address-guard.ts).
 *
 * What counts as a handshake error (limits.maxConnectErrors): a bad packet, a failed TLS
 * handshake, a handshake that timed out, a client that sent part of it and left. A client that
 * closes without sending a byte is not one: that is a load balancer's TCP check (HAProxy
 * `tcp-check` reads the greeting and closes), which MariaDB counts and so blocks the balancer
 * after max_connect_errors checks. A wrong password is not one either (it is throttled instead).
 *
 * On the handshake timeout the connection is closed without a word, as MariaDB does at
 * connect_timeout: the read of the handshake response fails and the server closes the socket;
 * a client still waiting sees the connection lost (2013 "Lost connection … at 'reading
 * authorization packet'").
 */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import { LogThrottle } from '../backend/log-throttle.js';
import type { AddressGuard } from './address-guard.js';
import { AuthFailed } from './authenticate.js';
import type { ClientChannel } from './client-channel.js';
import type { EdgeCounts, RefusalReason } from './session-context.js';

/** One log line per address (and reason) per minute; the rest are counted in its summary. */
const EDGE_LOG_WINDOW_MS = 60_000;

export class EdgeAdmission {
  private inHandshake = 0;
  private readonly byAddress = new Map<string, number>();
  /** Refusals and timeouts under attack come by the thousand: logged per address per minute. */
  readonly logThrottle = new LogThrottle(EDGE_LOG_WINDOW_MS);

  constructor(
    private readonly limits: () => LimitsConfig,
    private readonly guard: AddressGuard,
    private readonly counts: EdgeCounts,
    private readonly log: Logger,
  ) {}

  /** Connections now in the handshake (this process). */
  get handshakes(): number {
    return this.inHandshake;
  }

  /** Why a new connection from `address` is refused before the greeting; undefined: it may go on. */
  refusal(address: string): RefusalReason | undefined {
    if (this.guard.isBlocked(address)) return 'host-blocked';
    const l = this.limits();
    if (l.maxUnauthenticated > 0 && this.inHandshake >= l.maxUnauthenticated) return 'handshake-limit';
    if (l.maxUnauthenticatedPerAddress > 0 && (this.byAddress.get(address) ?? 0) >= l.maxUnauthenticatedPerAddress) return 'handshake-limit-per-address';
    return undefined;
  }

  /** The connection takes a handshake place; its clock starts now. */
  enter(socket: net.Socket, address: string): PendingHandshake {
    this.inHandshake++;
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
    return new PendingHandshake(this, socket, address, this.limits().handshakeTimeoutMs);
  }

  /** @internal PendingHandshake gives its place back. */
  leave(address: string): void {
    this.inHandshake--;
    const n = (this.byAddress.get(address) ?? 0) - 1;
    if (n > 0) this.byAddress.set(address, n);
    else this.byAddress.delete(address);
  }

  /** @internal */
  timedOut(address: string, timeoutMs: number): void {
    this.counts.handshakeTimeouts++;
    this.connectError(address);
    this.logThrottle.hit(`timeout ${address}`, ({ suppressed, windowMs }) =>
      this.log.warn(
        { client: address, timeoutMs, ...(suppressed > 0 ? { more: suppressed, withinMs: windowMs } : {}) },
        suppressed > 0 ? 'handshake timeouts from this address (summary)' : 'handshake not completed in limits.handshakeTimeoutMs; connection closed',
      ),
    );
  }

  /** @internal */
  connectError(address: string): void {
    this.counts.handshakeErrors++;
    this.guard.connectError(address);
  }

  /** @internal */
  async loginAttempt(user: string, address: string, granted: boolean): Promise<number> {
    let delay: number;
    try {
      delay = await this.guard.loginAttempt(user, address, granted);
    } catch (err) {
      // The primary did not answer (a worker whose primary is going away): no delay rather than
      // no login.
      this.log.warn({ err: (err as Error).message }, 'failed-login record not available');
      return 0;
    }
    if (delay > 0) this.counts.loginDelays++;
    return delay;
  }
}

/** One connection's way through the handshake (server.ts creates it, the session ends it). */
export class PendingHandshake {
  private timer: NodeJS.Timeout | undefined;
  private expired = false;
  private ended = false;
  /** The password was checked: true right, false wrong. */
  private verdict: boolean | undefined;
  private channel: ClientChannel | undefined;
  /** Closes the connection on timeout (the session's terminate once there is one). */
  private close: () => void;

  constructor(
    private readonly admission: EdgeAdmission,
    private readonly socket: net.Socket,
    readonly address: string,
    private readonly timeoutMs: number,
  ) {
    this.close = () => socket.destroy();
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => this.expire(), timeoutMs);
      this.timer.unref();
    }
  }

  /** The session that runs the handshake: its channel, and how to close it. */
  attach(ch: ClientChannel, close: () => void): void {
    this.channel = ch;
    this.close = close;
  }

  get timedOut(): boolean {
    return this.expired;
  }

  private expire(): void {
    if (this.ended || this.verdict !== undefined) return;
    this.expired = true;
    this.admission.timedOut(this.address, this.timeoutMs);
    this.close();
  }

  /**
   * The password of `user` was checked: the clock stops (the client did its part) and the answer
   * waits as long as the failed-login record says. The wait is a timer (other clients go on) and
   * ends early when the client leaves.
   */
  async settle(user: string, granted: boolean): Promise<void> {
    clearTimeout(this.timer);
    this.verdict = granted;
    const delay = await this.admission.loginAttempt(user, this.address, granted);
    if (delay <= 0) return;
    const socket = this.channel?.socket ?? this.socket;
    if (socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        socket.off('close', done);
        resolve();
      };
      const t = setTimeout(done, delay);
      socket.once('close', done);
    });
  }

  /**
   * The handshake is over (authenticated, refused, or the connection ended): the place is given
   * back, and a protocol-level failure counts against the address. `err`: what authenticate threw.
   */
  end(err?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.admission.leave(this.address);
    if (this.expired || this.verdict !== undefined) return;
    const badHandshake = err instanceof AuthFailed && err.handshakeError;
    const badPacket = this.channel?.protocolError !== undefined;
    // Left after sending part of a handshake (a client that sent nothing is a TCP check).
    const aborted = err === undefined && this.socket.bytesRead > 0;
    if (badHandshake || badPacket || aborted) this.admission.connectError(this.address);
  }
}
