/**
 * Warnings of `sluice check` about how exposed a configuration leaves logins and passwords:
 * client TLS weaker than today's baseline, and passwords kept as plain text in a file that
 * configures a proxy reachable over the network without TLS. Pure; describeConfig adds them to
 * its warnings.
 */
import { isIP } from 'node:net';
import type { SluiceConfig, TlsVersion } from './types.js';

/** Versions RFC 8996 deprecated (known attacks, SHA-1/MD5 handshakes). */
const WEAK_TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1'];

/**
 * Words of an OpenSSL cipher string that name suites with broken or no protection: RC4, (3)DES,
 * no encryption (NULL), export-grade keys, MD5 MACs, no authentication (anonymous DH).
 */
const WEAK_CIPHER_WORDS = new Set(['RC4', '3DES', 'DES', 'CBC3', 'NULL', 'ENULL', 'ANULL', 'EXPORT', 'EXPORT40', 'EXPORT56', 'EXP', 'MD5', 'ADH', 'AECDH', 'RC2']);

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Stored as a hash the proxy checks logins against, not the password itself. */
function isHashed(password: string): boolean {
  return /^\*[0-9a-fA-F]{40}$/.test(password) || /^sha2:[0-9a-fA-F]{64}$/.test(password);
}

/**
 * The parts of an OpenSSL cipher string that turn weak suites on: entries not removed by `!`/`-`
 * whose words (split at `+`, `-`, `_`) name a weak algorithm, and `@SECLEVEL=0` (which lets
 * OpenSSL use anything).
 */
export function weakCipherEntries(ciphers: string): string[] {
  const weak: string[] = [];
  for (const entry of ciphers.split(/[:,\s]+/)) {
    if (entry === '' || entry.startsWith('!') || entry.startsWith('-')) continue;
    if (/^@SECLEVEL=0$/i.test(entry)) {
      weak.push(entry);
      continue;
    }
    const words = entry.replace(/^\+/, '').split(/[+\-_]/);
    if (words.some((w) => WEAK_CIPHER_WORDS.has(w.toUpperCase()))) weak.push(entry);
  }
  return weak;
}

export function securityWarnings(c: SluiceConfig): string[] {
  const warnings: string[] = [];
  const tls = c.tls;
  if (tls && WEAK_TLS_VERSIONS.includes(tls.minVersion)) {
    warnings.push(`tls.minVersion is ${tls.minVersion}: TLS 1.0 and 1.1 are deprecated (RFC 8996) and have known attacks; use TLSv1.2 (the default) or TLSv1.3`);
  }
  const weak = tls?.ciphers !== undefined ? weakCipherEntries(tls.ciphers) : [];
  if (weak.length > 0) {
    warnings.push(`tls.ciphers allows weak suites (${weak.join(', ')}): RC4, 3DES/DES, NULL, EXPORT, MD5 and anonymous suites are broken; remove them or leave ciphers out (Node's defaults)`);
  }
  if (!tls && !isLoopback(c.listen.host)) {
    const plain = [
      ...c.users.filter((u) => !isHashed(u.password)).map((u) => `users[${u.name}].password`),
      'dataHost.password',
      ...(c.dataHost.failover.password !== undefined ? ['dataHost.failover.password'] : []),
      ...(c.dataHost.failover.replicationPassword !== undefined ? ['dataHost.failover.replicationPassword'] : []),
      ...(c.admin && !isHashed(c.admin.password) ? ['admin.password'] : []),
    ];
    warnings.push(
      `clients connect to ${c.listen.host} (not loopback) without TLS (no tls section): logins and results cross the network in clear, ` +
        `and the config holds plain-text passwords (${plain.join(', ')}); configure tls (with require: true), store users' passwords as hashes ` +
        '(*<40 hex>, sha2:<64 hex>) and keep this file readable by the proxy only',
    );
  }
  return warnings;
}
