/**
 * Password scrambles of the authentication plugins the proxy speaks, client and server side.
 * Pure functions over node:crypto.
 *
 * - mysql_native_password: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods_native_password_authentication.html
 * - caching_sha2_password: https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
import { constants, createHash, publicEncrypt, privateDecrypt, randomBytes, timingSafeEqual } from 'node:crypto';

/** Length of the scramble (nonce) both plugins use. */
export const SCRAMBLE_LENGTH = 20;

const EMPTY = Buffer.alloc(0);

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i % b.length] as number);
  return out;
}

/**
 * Servers send the 20-byte scramble, sometimes followed by a NUL (auth switch, handshake part 2);
 * only the first 20 bytes take part in the hash.
 */
function seed20(seed: Buffer): Buffer {
  return seed.length > SCRAMBLE_LENGTH ? seed.subarray(0, SCRAMBLE_LENGTH) : seed;
}

/** SHA1(SHA1(password)): what `mysql.user.authentication_string` stores (as `*` + hex). */
export function nativePasswordHash(password: string): Buffer {
  return sha1(sha1(Buffer.from(password, 'utf8')));
}

/** Stage 2 of the empty password; clients send an empty token for it instead. */
const EMPTY_PASSWORD_STAGE2 = nativePasswordHash('');

/** Parses the stored form `*` + 40 hex digits (either case); undefined if it is not that form. */
export function parseNativePasswordHash(stored: string): Buffer | undefined {
  if (!/^\*[0-9a-fA-F]{40}$/.test(stored)) return undefined;
  return Buffer.from(stored.slice(1), 'hex');
}

/**
 * The SHA1(SHA1(pw)) to verify against, from either a plaintext password or its `*HEX` stored
 * form. The empty password yields an empty Buffer, as the server stores "no password".
 */
export function storedNativeHash(passwordOrHash: string): Buffer {
  if (passwordOrHash === '') return EMPTY;
  return parseNativePasswordHash(passwordOrHash) ?? nativePasswordHash(passwordOrHash);
}

/**
 * Client side of mysql_native_password: SHA1(pw) XOR SHA1(seed + SHA1(SHA1(pw))).
 * Empty password → empty token.
 */
export function scrambleNativePassword(password: string, seed: Buffer): Buffer {
  if (password === '') return EMPTY;
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xor(stage1, sha1(seed20(seed), sha1(stage1)));
}

/**
 * Server side of mysql_native_password, from the stored SHA1(SHA1(pw)) only: recovers
 * SHA1(pw) = token XOR SHA1(seed + stage2) and checks SHA1 of it against stage2 in constant time.
 * An empty token matches only an empty stage2 (no password) or the stage2 of ''.
 */
export function verifyNativePassword(seed: Buffer, token: Buffer, stage2: Buffer): boolean {
  const noPassword = stage2.length === 0 || stage2.equals(EMPTY_PASSWORD_STAGE2);
  if (token.length === 0) return noPassword;
  if (stage2.length === 0 || token.length !== SCRAMBLE_LENGTH || stage2.length !== SCRAMBLE_LENGTH) return false;
  const stage1 = xor(token, sha1(seed20(seed), stage2));
  return timingSafeEqual(sha1(stage1), stage2);
}

/**
 * Client side of caching_sha2_password's fast path:
 * SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + seed). Empty password → empty token.
 */
export function scrambleCachingSha2(password: string, seed: Buffer): Buffer {
  if (password === '') return EMPTY;
  const h1 = sha256(Buffer.from(password, 'utf8'));
  return xor(h1, sha256(sha256(h1), seed20(seed)));
}

/** SHA256(SHA256(pw)): what a caching_sha2_password server keeps in its cache. */
export function cachingSha2Digest(password: string): Buffer {
  return sha256(sha256(Buffer.from(password, 'utf8')));
}

/**
 * Server side of the caching_sha2_password fast path: recovers SHA256(pw) from the token and
 * compares its SHA256 with the cached SHA256(SHA256(pw)) in constant time. An empty token
 * matches only an empty cached digest (no password).
 */
export function verifyCachingSha2Scramble(seed: Buffer, token: Buffer, sha256sha256: Buffer): boolean {
  if (token.length === 0) return sha256sha256.length === 0;
  if (token.length !== 32 || sha256sha256.length !== 32) return false;
  const h1 = xor(token, sha256(sha256sha256, seed20(seed)));
  return timingSafeEqual(sha256(h1), sha256sha256);
}

/**
 * Full authentication of caching_sha2_password / sha256_password over an insecure channel:
 * RSA-OAEP (SHA-1, the OpenSSL default the server uses) of (password + NUL) XOR seed, with the
 * seed repeated as needed.
 */
export function encryptPasswordWithPublicKey(password: string, seed: Buffer, publicKeyPem: string): Buffer {
  const plain = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]);
  return publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING },
    xor(plain, seed20(seed)),
  );
}

/** Server-side inverse of `encryptPasswordWithPublicKey`: the plaintext password. */
export function decryptPasswordWithPrivateKey(encrypted: Buffer, seed: Buffer, privateKeyPem: string): string {
  const plain = xor(
    privateDecrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING }, encrypted),
    seed20(seed),
  );
  const nul = plain.indexOf(0);
  return plain.toString('utf8', 0, nul < 0 ? plain.length : nul);
}

/**
 * A fresh 20-byte scramble the way MySQL makes one: bytes in 1..127, never NUL (it would cut the
 * NUL-terminated part 2) and never '$' (36, reserved by the sha256 crypt format).
 */
export function createScramble(): Buffer {
  const out = randomBytes(SCRAMBLE_LENGTH);
  for (let i = 0; i < out.length; i++) {
    let b = (out[i] as number) & 0x7f;
    if (b === 0 || b === 36) b += 1;
    out[i] = b;
  }
  return out;
}
