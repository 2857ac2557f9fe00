/** The session section: connection holding, packet size, read-your-writes and consistency. */
import { MAX_MS, type Checker, type Obj } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { Consistency, SessionConfig } from './types.js';

/** MySQL's own upper bound for max_allowed_packet. */
const MAX_PACKET = 1024 * 1024 * 1024;
const CONSISTENCIES: readonly Consistency[] = ['eventual', 'session', 'global'];
const SESSION_KEYS = ['holdConnectionMs', 'maxPacketSize', 'readYourWritesMs', 'consistency', 'consistencyTimeoutMs', 'idleTimeoutMs', 'writeTimeoutMs'] as const;

export function checkSession(c: Checker, root: Obj | undefined): SessionConfig {
  const p = 'session';
  const o = c.section(root, 'session', '', SESSION_KEYS);
  const d = CONFIG_DEFAULTS.session;
  return {
    holdConnectionMs: c.int(o, 'holdConnectionMs', p, 0, MAX_MS, d.holdConnectionMs),
    maxPacketSize: c.int(o, 'maxPacketSize', p, 1024, MAX_PACKET, d.maxPacketSize),
    readYourWritesMs: c.int(o, 'readYourWritesMs', p, 0, MAX_MS, d.readYourWritesMs),
    consistency: c.oneOf(o, 'consistency', p, CONSISTENCIES, d.consistency),
    consistencyTimeoutMs: c.int(o, 'consistencyTimeoutMs', p, 1, MAX_MS, d.consistencyTimeoutMs),
    idleTimeoutMs: c.int(o, 'idleTimeoutMs', p, 0, MAX_MS, d.idleTimeoutMs),
    writeTimeoutMs: c.int(o, 'writeTimeoutMs', p, 0, MAX_MS, d.writeTimeoutMs),
  };
}
