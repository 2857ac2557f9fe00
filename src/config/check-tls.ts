/** TLS sections: the proxy's own certificate (tls) and TLS to the backends (dataHost.tls). */
import { createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { type Checker, type Obj, type ValidateOptions } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { BackendTlsConfig, FrontendTlsConfig, TlsVersion } from './types.js';

const FRONTEND_TLS_KEYS = ['cert', 'key', 'ca', 'require', 'minVersion', 'ciphers'] as const;
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const BACKEND_TLS_KEYS = ['enabled', 'verify', 'ca', 'servername'] as const;

/** Tries a PEM with a parser; a failure becomes a problem at `at`. */
function checkPem(c: Checker, at: string, what: string, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    c.problem(at, `not a usable ${what}: ${(err as Error).message}`);
  }
}

export function checkBackendTls(c: Checker, dh: Obj | undefined, opts: ValidateOptions): { tls?: BackendTlsConfig } {
  if (!c.present(dh, 'tls')) return {};
  const p = 'dataHost.tls';
  const o = c.section(dh, 'tls', 'dataHost', BACKEND_TLS_KEYS);
  const d = CONFIG_DEFAULTS.backendTls;
  const tls: { enabled: boolean; verify: boolean; ca?: string; servername?: string } = {
    enabled: c.bool(o, 'enabled', p, d.enabled),
    verify: c.bool(o, 'verify', p, d.verify),
  };
  const ca = c.file(o, 'ca', p, opts.baseDir, false);
  if (ca !== undefined) {
    tls.ca = ca.path;
    if (ca.data !== undefined) checkPem(c, `${p}.ca`, 'CA certificate (PEM)', () => createSecureContext({ ca: ca.data }));
  }
  if (c.present(o, 'servername')) tls.servername = c.string(o, 'servername', p);
  return { tls };
}

export function checkFrontendTls(c: Checker, root: Obj | undefined, opts: ValidateOptions): FrontendTlsConfig | undefined {
  if (!c.present(root, 'tls')) return undefined;
  const p = 'tls';
  const o = c.section(root, 'tls', '', FRONTEND_TLS_KEYS);
  const cert = c.file(o, 'cert', p, opts.baseDir, true);
  const key = c.file(o, 'key', p, opts.baseDir, true);
  const ca = c.file(o, 'ca', p, opts.baseDir, false);
  if (cert?.data !== undefined) checkPem(c, `${p}.cert`, 'certificate (PEM)', () => createSecureContext({ cert: cert.data }));
  if (key?.data !== undefined) checkPem(c, `${p}.key`, 'private key (PEM)', () => createPrivateKey(key.data!));
  if (ca?.data !== undefined) checkPem(c, `${p}.ca`, 'CA certificate (PEM)', () => createSecureContext({ ca: ca.data }));
  if (cert?.data !== undefined && key?.data !== undefined && c.errors.every((e) => !e.startsWith(`${p}.`))) {
    checkPem(c, p, 'certificate/key pair', () => createSecureContext({ cert: cert.data, key: key.data }));
  }
  const out: { cert: string; key: string; ca?: string; require: boolean; minVersion: TlsVersion; ciphers?: string } = {
    cert: cert?.path ?? '',
    key: key?.path ?? '',
    require: c.bool(o, 'require', p, CONFIG_DEFAULTS.tls.require),
    minVersion: c.oneOf(o, 'minVersion', p, TLS_VERSIONS, CONFIG_DEFAULTS.tls.minVersion),
  };
  if (ca !== undefined) out.ca = ca.path;
  if (c.present(o, 'ciphers')) {
    const ciphers = c.string(o, 'ciphers', p);
    // OpenSSL's verdict: a list that matches no cipher would fail every handshake.
    if (ciphers !== '') checkPem(c, `${p}.ciphers`, 'cipher list', () => createSecureContext({ ciphers }));
    out.ciphers = ciphers;
  }
  return out;
}
