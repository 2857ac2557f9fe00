/**
 * What the front end needs for TLS and the caching_sha2_password plugin, loaded once at start-up
 * from the validated config: the TLS secure context, whether TLS is required, the full-auth mode
 * and the RSA key pair used for full authentication over plain TCP (read from the configured
 * files, or generated on first use when none is configured).
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AuthConfig, SluiceConfig } from '../config/types.js';
import { ConfigError } from '../config/config-error.js';

export interface RsaKeyPair {
  /** SPKI PEM, sent to clients that ask for it (caching_sha2_password full authentication). */
  readonly publicPem: string;
  /** PKCS#8 PEM. */
  readonly privatePem: string;
}

export interface FrontendSecurity {
  /** Absent: the greeting does not offer CLIENT_SSL. */
  readonly tls: { readonly context: tls.SecureContext; readonly require: boolean } | undefined;
  readonly cachingSha2FullAuth: AuthConfig['cachingSha2FullAuth'];
  /** The RSA key pair (configured, or generated once on first call). */
  rsaKeys(): Promise<RsaKeyPair>;
}

/** No TLS, fast-path caching_sha2, generated RSA keys: what a config without `tls`/`auth` gets. */
export function defaultFrontendSecurity(): FrontendSecurity {
  return { tls: undefined, cachingSha2FullAuth: 'never', rsaKeys: lazyGeneratedKeys() };
}

function lazyGeneratedKeys(): () => Promise<RsaKeyPair> {
  let keys: Promise<RsaKeyPair> | undefined;
  return () =>
    (keys ??= new Promise<RsaKeyPair>((resolve, reject) => {
      generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => {
        if (err) reject(err);
        else resolve(pemPair(publicKey, privateKey));
      });
    }));
}

function pemPair(publicKey: KeyObject, privateKey: KeyObject): RsaKeyPair {
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/**
 * Reads the files named by `config.tls` and `config.auth` and builds the secure context.
 * @throws ConfigError listing every file that cannot be used.
 */
export function loadFrontendSecurity(config: SluiceConfig): FrontendSecurity {
  const problems: string[] = [];
  const read = (at: string, file: string): Buffer | undefined => {
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push(`${at}: cannot read ${file}: ${(err as Error).message}`);
      return undefined;
    }
  };
  let tlsPart: FrontendSecurity['tls'];
  if (config.tls) {
    const cert = read('tls.cert', config.tls.cert);
    const key = read('tls.key', config.tls.key);
    const ca = config.tls.ca === undefined ? undefined : read('tls.ca', config.tls.ca);
    if (cert && key && (config.tls.ca === undefined || ca)) {
      try {
        const context = tls.createSecureContext({
          cert,
          key,
          ...(ca ? { ca } : {}),
          minVersion: config.tls.minVersion,
          ...(config.tls.ciphers !== undefined ? { ciphers: config.tls.ciphers } : {}),
        });
        tlsPart = { context, require: config.tls.require };
      } catch (err) {
        problems.push(`tls: cannot use the certificate/key: ${(err as Error).message}`);
      }
    }
  }
  let rsaKeys = lazyGeneratedKeys();
  const auth = config.auth;
  if (auth?.rsaPrivateKey !== undefined) {
    const privPem = read('auth.rsaPrivateKey', auth.rsaPrivateKey);
    const pubPem = auth.rsaPublicKey === undefined ? undefined : read('auth.rsaPublicKey', auth.rsaPublicKey);
    if (privPem && (auth.rsaPublicKey === undefined || pubPem)) {
      try {
        const privateKey = createPrivateKey(privPem);
        const pair = Promise.resolve(pemPair(createPublicKey(pubPem ?? privateKey), privateKey));
        rsaKeys = () => pair;
      } catch (err) {
        problems.push(`auth: cannot use the RSA key pair: ${(err as Error).message}`);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { tls: tlsPart, cachingSha2FullAuth: auth?.cachingSha2FullAuth ?? 'never', rsaKeys };
}
