/**
 * TLS from the proxy to a backend: after the server's greeting the connection sends an
 * SSLRequest, then the socket is wrapped with `tls.connect({ socket })` and the handshake
 * response (and everything after it) travels over TLS.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { BackendTlsConfig } from '../config/types.js';

export interface BackendTlsOptions {
  /** CA bundle (PEM) to verify the backend's certificate against; default: Node's CAs. */
  readonly ca?: Buffer;
  /** Verify the certificate chain and the name (dataHost.tls.verify). */
  readonly rejectUnauthorized: boolean;
  /** Name the certificate must carry (and SNI); default: the configured host. */
  readonly servername?: string;
}

/** Reads the CA file of `dataHost.tls` (start-up); undefined when TLS is off. */
export function loadBackendTls(config: BackendTlsConfig | undefined): BackendTlsOptions | undefined {
  if (!config?.enabled) return undefined;
  const out: { ca?: Buffer; rejectUnauthorized: boolean; servername?: string } = { rejectUnauthorized: config.verify };
  if (config.ca !== undefined) out.ca = readFileSync(config.ca);
  if (config.servername !== undefined) out.servername = config.servername;
  return out;
}

/**
 * The same settings as mysql2 takes them (`ssl`), for the monitor's probes and the failover
 * effects' connections: every connection Sluice opens to a backend uses TLS when data does.
 */
export function mysql2Ssl(opts: BackendTlsOptions | undefined): { ca?: Buffer; rejectUnauthorized: boolean; servername?: string } | undefined {
  if (opts === undefined) return undefined;
  return {
    rejectUnauthorized: opts.rejectUnauthorized,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
  };
}

/**
 * Wraps a connected socket (SSLRequest already written) in TLS. `socket` is usable at once (it
 * replaces the plain one for good); `secure` resolves once the handshake is done and, with
 * `rejectUnauthorized`, the certificate verified against `servername` or `host`. The caller must
 * have removed its listeners from the plain socket.
 */
export function wrapBackendTls(
  socket: net.Socket,
  host: string,
  opts: BackendTlsOptions,
): { socket: tls.TLSSocket; secure: Promise<void> } {
  const name = opts.servername ?? host;
  const secured = tls.connect({
    socket,
    host: name,
    // SNI must be a host name, never an IP address.
    ...(net.isIP(name) === 0 ? { servername: name } : {}),
    rejectUnauthorized: opts.rejectUnauthorized,
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    minVersion: 'TLSv1.2',
  });
  const secure = new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      secured.off('secureConnect', onSecure);
      reject(err);
    };
    const onSecure = (): void => {
      secured.off('error', onError);
      resolve();
    };
    secured.once('secureConnect', onSecure);
    secured.once('error', onError);
  });
  secure.catch(() => undefined); // the connection reports the error through its own listeners too
  return { socket: secured, secure };
}
