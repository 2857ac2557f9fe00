/** Whether two `host:port` spellings name the same server (no DNS resolution). */

/**
 * Host names that are the same machine: loopback spellings, case-insensitive, IPv6 brackets
 * dropped. No DNS resolution: a DNS name and its address do not match.
 */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1' || h === '127.0.0.1' ? '127.0.0.1' : h;
}

export function sameEndpoint(aHost: string, aPort: number, bHost: string, bPort: number): boolean {
  return aPort === bPort && normalizeHost(aHost) === normalizeHost(bHost);
}

/** `host:port` (IPv6 hosts in brackets) → parts; undefined when it is not that shape. */
export function parseEndpoint(s: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^\s:]+|[0-9a-fA-F:]+):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port } : undefined;
}
