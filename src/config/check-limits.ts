/** The limits section: handshake timeout and caps, failed-login delays, blocked hosts. */
import { MAX_MS, type Checker, type Obj } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { LimitsConfig } from './types.js';

const LIMITS_KEYS = [
  'handshakeTimeoutMs',
  'maxUnauthenticated',
  'maxUnauthenticatedPerAddress',
  'failedLoginThreshold',
  'failedLoginMaxDelayMs',
  'maxConnectErrors',
] as const;

export function checkLimits(c: Checker, root: Obj | undefined): LimitsConfig {
  const p = 'limits';
  const o = c.section(root, 'limits', '', LIMITS_KEYS);
  const d = CONFIG_DEFAULTS.limits;
  const limits = {
    handshakeTimeoutMs: c.int(o, 'handshakeTimeoutMs', p, 0, MAX_MS, d.handshakeTimeoutMs),
    maxUnauthenticated: c.int(o, 'maxUnauthenticated', p, 0, 1_000_000, d.maxUnauthenticated),
    maxUnauthenticatedPerAddress: c.int(o, 'maxUnauthenticatedPerAddress', p, 0, 1_000_000, d.maxUnauthenticatedPerAddress),
    failedLoginThreshold: c.int(o, 'failedLoginThreshold', p, 0, 1_000_000, d.failedLoginThreshold),
    // At least the first step (1 s): a smaller cap would make every delay the same.
    failedLoginMaxDelayMs: c.int(o, 'failedLoginMaxDelayMs', p, 1_000, MAX_MS, d.failedLoginMaxDelayMs),
    maxConnectErrors: c.int(o, 'maxConnectErrors', p, 0, 1_000_000_000, d.maxConnectErrors),
  };
  if (limits.maxUnauthenticated > 0 && limits.maxUnauthenticatedPerAddress > limits.maxUnauthenticated) {
    c.problem(`${p}.maxUnauthenticatedPerAddress`, `is larger than limits.maxUnauthenticated (${limits.maxUnauthenticated})`);
  }
  return limits;
}
