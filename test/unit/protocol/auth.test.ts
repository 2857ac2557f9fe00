import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import {
  cachingSha2Digest,
  createScramble,
  decryptPasswordWithPrivateKey,
  encryptPasswordWithPublicKey,
  nativePasswordHash,
  parseNativePasswordHash,
  scrambleCachingSha2,
  scrambleNativePassword,
  storedNativeHash,
  verifyCachingSha2Scramble,
  verifyNativePassword,
} from '../../../src/protocol/auth.js';
import { decodeHandshakeResponse, decodeInitialHandshake } from '../../../src/protocol/handshake.js';
import { MARIADB_CLI, MYSQL2, payloadOf } from './fixtures.js';

/** What MariaDB stored for `CREATE USER app IDENTIFIED BY 'app'` (mysql.user.authentication_string). */
const APP_STORED = '*5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3';

test('native password: the stored hash MariaDB computed for "app"', () => {
  assert.deepEqual(nativePasswordHash('app'), parseNativePasswordHash(APP_STORED));
  assert.deepEqual(storedNativeHash('app'), parseNativePasswordHash(APP_STORED));
  assert.deepEqual(storedNativeHash(APP_STORED.toLowerCase()), parseNativePasswordHash(APP_STORED));
  assert.equal(parseNativePasswordHash('app'), undefined);
  assert.equal(parseNativePasswordHash('*XYZ'), undefined);
  assert.equal(storedNativeHash('').length, 0);
});

test('native password: tokens real clients sent to a real server that accepted them', () => {
  for (const session of [MARIADB_CLI, MYSQL2]) {
    const seed = decodeInitialHandshake(payloadOf(session.handshake)).authPluginData;
    const token = decodeHandshakeResponse(payloadOf(session.handshakeResponse)).authResponse;
    assert.deepEqual(scrambleNativePassword('app', seed), token);
    assert.ok(verifyNativePassword(seed, token, storedNativeHash(APP_STORED)));
    assert.ok(!verifyNativePassword(seed, token, storedNativeHash('other')));
    // A seed with the trailing NUL some servers send hashes the same.
    assert.deepEqual(scrambleNativePassword('app', Buffer.concat([seed, Buffer.from([0])])), token);
  }
});

test('native password: round trip, wrong password, empty password', () => {
  for (let i = 0; i < 50; i++) {
    const seed = createScramble();
    const pw = `pw-${i}-ünï`;
    const token = scrambleNativePassword(pw, seed);
    assert.equal(token.length, 20);
    assert.ok(verifyNativePassword(seed, token, storedNativeHash(pw)));
    assert.ok(!verifyNativePassword(seed, scrambleNativePassword(pw + 'x', seed), storedNativeHash(pw)));
    assert.ok(!verifyNativePassword(createScramble(), token, storedNativeHash(pw)), 'other seed');
  }
  const seed = createScramble();
  assert.equal(scrambleNativePassword('', seed).length, 0);
  assert.ok(verifyNativePassword(seed, Buffer.alloc(0), storedNativeHash('')));
  assert.ok(verifyNativePassword(seed, Buffer.alloc(0), nativePasswordHash('')));
  assert.ok(!verifyNativePassword(seed, Buffer.alloc(0), storedNativeHash('app')));
  assert.ok(!verifyNativePassword(seed, scrambleNativePassword('app', seed), storedNativeHash('')));
  assert.ok(!verifyNativePassword(seed, Buffer.alloc(19), storedNativeHash('app')));
});

test('caching_sha2_password scramble: fixed vectors (go-sql-driver/mysql auth_test.go)', () => {
  const seed = Buffer.from([10, 47, 74, 111, 75, 73, 34, 48, 88, 76, 114, 74, 37, 13, 3, 80, 82, 2, 23, 21]);
  assert.equal(scrambleCachingSha2('secret', seed).toString('hex'), 'f490e76f66d9d86665ce54d98c78d0acfe2fb0b08b423da807144873d30b312c');
  assert.equal(scrambleCachingSha2('secret2', seed).toString('hex'), 'abc3934a012cf342e876071c8ee202de51785b430258a7a0138bc79c4d800bc6');
  assert.equal(scrambleCachingSha2('', seed).length, 0);
});

test('caching_sha2_password: server-side fast-path verification', () => {
  const seed = createScramble();
  const digest = cachingSha2Digest('s3cret');
  assert.ok(verifyCachingSha2Scramble(seed, scrambleCachingSha2('s3cret', seed), digest));
  assert.ok(!verifyCachingSha2Scramble(seed, scrambleCachingSha2('s3cret!', seed), digest));
  assert.ok(!verifyCachingSha2Scramble(seed, Buffer.alloc(0), digest));
  assert.ok(verifyCachingSha2Scramble(seed, Buffer.alloc(0), Buffer.alloc(0)));
  assert.ok(!verifyCachingSha2Scramble(seed, Buffer.alloc(31), digest));
});

test('RSA full authentication: OAEP(SHA-1) of (password + NUL) XOR seed', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const seed = createScramble();
  const password = 'a password longer than the twenty-byte seed, ünïcode';
  const encrypted = encryptPasswordWithPublicKey(password, seed, publicKey);
  assert.equal(encrypted.length, 256);
  // Decrypt independently and undo the XOR by hand.
  const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, encrypted);
  const unxored = Buffer.from(plain.map((b, i) => b ^ (seed[i % seed.length] as number)));
  assert.deepEqual(unxored, Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]));
  assert.equal(decryptPasswordWithPrivateKey(encrypted, seed, privateKey), password);
});

test('createScramble: 20 bytes in 1..127, never NUL or "$"', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const s = createScramble();
    assert.equal(s.length, 20);
    for (const b of s) {
      assert.ok(b >= 1 && b <= 127 && b !== 36, `byte ${b}`);
      seen.add(b);
    }
  }
  assert.ok(seen.size > 100, 'uses most of the range');
});
