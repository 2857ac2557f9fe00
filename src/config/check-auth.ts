/** The auth section: caching_sha2_password full authentication and its RSA key pair. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { type Checker, type Obj, type ValidateOptions } from './checker.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { AuthConfig } from './types.js';

const FULL_AUTH_MODES: readonly AuthConfig['cachingSha2FullAuth'][] = ['never', 'always'];
const AUTH_KEYS = ['cachingSha2FullAuth', 'rsaPrivateKey', 'rsaPublicKey'] as const;

export function checkAuth(c: Checker, root: Obj | undefined, opts: ValidateOptions): AuthConfig | undefined {
  if (!c.present(root, 'auth')) return undefined;
  const p = 'auth';
  const o = c.section(root, 'auth', '', AUTH_KEYS);
  const out: { cachingSha2FullAuth: AuthConfig['cachingSha2FullAuth']; rsaPrivateKey?: string; rsaPublicKey?: string } = {
    cachingSha2FullAuth: c.oneOf(o, 'cachingSha2FullAuth', p, FULL_AUTH_MODES, CONFIG_DEFAULTS.auth.cachingSha2FullAuth),
  };
  const priv = c.file(o, 'rsaPrivateKey', p, opts.baseDir, false);
  const pub = c.file(o, 'rsaPublicKey', p, opts.baseDir, false);
  if (pub !== undefined && priv === undefined) c.problem(`${p}.rsaPublicKey`, 'needs auth.rsaPrivateKey as well');
  let privKey: ReturnType<typeof createPrivateKey> | undefined;
  if (priv?.data !== undefined) {
    try {
      privKey = createPrivateKey(priv.data);
      if (privKey.asymmetricKeyType !== 'rsa') {
        c.problem(`${p}.rsaPrivateKey`, `must be an RSA key, got ${privKey.asymmetricKeyType ?? 'unknown'}`);
        privKey = undefined;
      }
    } catch (err) {
      c.problem(`${p}.rsaPrivateKey`, `not a usable private key (PEM): ${(err as Error).message}`);
    }
  }
  if (pub?.data !== undefined) {
    try {
      const pubKey = createPublicKey(pub.data);
      if (privKey !== undefined) {
        const derived = createPublicKey(privKey).export({ type: 'spki', format: 'der' });
        if (!derived.equals(pubKey.export({ type: 'spki', format: 'der' }))) {
          c.problem(`${p}.rsaPublicKey`, 'does not belong to auth.rsaPrivateKey');
        }
      }
    } catch (err) {
      c.problem(`${p}.rsaPublicKey`, `not a usable public key (PEM): ${(err as Error).message}`);
    }
  }
  if (priv !== undefined) out.rsaPrivateKey = priv.path;
  if (pub !== undefined) out.rsaPublicKey = pub.path;
  return out;
}
