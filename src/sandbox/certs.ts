/**
 * Throwaway TLS material for the sandbox: a CA and a server certificate it signed, valid for
 * `localhost`, `127.0.0.1` and any extra addresses (a placed sandbox's), made with the `openssl`
 * CLI (Node cannot create X.509 certificates). Every sandbox server uses the pair, so clients (and Sluice's backend
 * connections) can use TLS and verify the servers against the CA.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runTool } from './flavor.js';

export interface SandboxTls {
  /** CA certificate (PEM): what clients verify the servers with. */
  readonly ca: string;
  /** Server certificate (PEM), CN localhost, SAN DNS:localhost, IP:127.0.0.1 (+ the extra addresses). */
  readonly cert: string;
  /** Its private key (PEM, unencrypted). */
  readonly key: string;
}

/**
 * Creates `ca.pem`, `server-cert.pem`, `server-key.pem` (and the CA's key) in `dir`; `ips`:
 * further IP addresses the certificate names (so clients can verify servers bound there).
 */
export async function generateSandboxTls(
  dir: string,
  logFile: string,
  openssl = 'openssl',
  ips: readonly string[] = [],
): Promise<SandboxTls> {
  await mkdir(dir, { recursive: true });
  const f = (name: string): string => path.join(dir, name);
  const ext = f('server-ext.cnf');
  const addresses = [...new Set(['127.0.0.1', ...ips])];
  await writeFile(
    ext,
    [
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth, clientAuth',
      `subjectAltName = ${['DNS:localhost', ...addresses.map((ip) => `IP:${ip}`)].join(', ')}`,
      '',
    ].join('\n'),
  );
  const run = (args: string[]): Promise<void> => runTool(openssl, args, logFile, 60_000);
  await run([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
    '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-subj', '/CN=Sluice sandbox CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run([
    'req', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', f('server-key.pem'), '-out', f('server.csr'), '-subj', '/CN=localhost',
  ]);
  await run([
    'x509', '-req', '-sha256', '-days', '3650', '-in', f('server.csr'),
    '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-set_serial', String(Date.now()),
    '-extfile', ext, '-out', f('server-cert.pem'),
  ]);
  return { ca: f('ca.pem'), cert: f('server-cert.pem'), key: f('server-key.pem') };
}
