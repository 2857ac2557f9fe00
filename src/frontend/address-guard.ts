/**
 * Per-address state that must hold for the whole proxy, not per process: blocked hosts
 * (max_connect_errors, host-errors.ts) and failed-login delays (login-throttle.ts). An attacker's
 * connections are spread over the worker processes, so with workers the primary process keeps
 * the tables (AddressTables) and the workers reach them through the group's messages
 * (group/worker.ts): the blocked addresses are pushed to every worker (checked without a round
 * trip at each connection), handshake errors are told without waiting, and a login asks for its
 * delay. One process (`workers: 1`) uses AddressTables directly.
 */
import type { LimitsConfig } from '../config/types.js';
import { HostErrors, type HostErrorRow } from './host-errors.js';
import { LoginThrottle } from './login-throttle.js';

export interface AddressGuard {
  /** Refused before the handshake (ER_HOST_IS_BLOCKED). */
  isBlocked(address: string): boolean;
  /** A handshake from `address` ended in a protocol-level error (bad packet, aborted, timed out). */
  connectError(address: string): void;
  /**
   * A password was checked: returns how long (ms) to wait before answering. A granted login
   * also clears the address's handshake errors.
   */
  loginAttempt(user: string, address: string, granted: boolean): number | Promise<number>;
}

/** The tables themselves: in the only process, or in a group's primary. */
export class AddressTables implements AddressGuard {
  readonly hosts = new HostErrors();
  readonly logins = new LoginThrottle();
  /** Called when the set of blocked addresses changed (the primary pushes it to its workers). */
  onBlockedChange: (() => void) | undefined;

  constructor(private readonly limits: () => LimitsConfig) {}

  isBlocked(address: string): boolean {
    return this.hosts.isBlocked(address, this.limits().maxConnectErrors);
  }

  connectError(address: string): void {
    if (this.hosts.add(address, this.limits().maxConnectErrors, Date.now())) this.onBlockedChange?.();
  }

  loginAttempt(user: string, address: string, granted: boolean): number {
    const l = this.limits();
    if (granted) {
      const wasBlocked = this.hosts.isBlocked(address, l.maxConnectErrors);
      if (this.hosts.reset(address) && wasBlocked) this.onBlockedChange?.();
    }
    return this.logins.attempt(user, address, granted, { threshold: l.failedLoginThreshold, maxDelayMs: l.failedLoginMaxDelayMs }, Date.now());
  }

  /** Addresses refused now. */
  blockedAddresses(): string[] {
    return this.hosts.blockedAddresses(this.limits().maxConnectErrors);
  }

  /** Every address with handshake errors (admin SHOW @@BLOCKED_HOSTS). */
  hostRows(): HostErrorRow[] {
    return this.hosts.rows(this.limits().maxConnectErrors);
  }

  /** FLUSH HOSTS: every address starts again; returns how many were blocked. */
  flushHosts(): number {
    const n = this.hosts.flush(this.limits().maxConnectErrors);
    this.onBlockedChange?.();
    return n;
  }
}
