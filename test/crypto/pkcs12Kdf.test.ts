import { createHash } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { pkcs12Kdf, sha1, sha256, type Pkcs12KdfHash, type Pkcs12KdfPurpose } from '../../src/crypto/pkcs12Kdf.js';

/** Deterministic bytes that differ per position and length, so a misplaced word or block shows. */
function patterned(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + length * 7 + 3) & 0xff;
  return bytes;
}

// Every length through three blocks (all padding cases: 55/56/63/64 bytes), then a few multi-block sizes.
const LENGTHS = [...Array.from({ length: 200 }, (_, i) => i), 447, 448, 1000, 4096, 65_537];

describe('the KDF\'s own hashes agree with node\'s', () => {
  it.each([
    ['SHA-1', sha1, 'sha1'],
    ['SHA-256', sha256, 'sha256'],
  ] as const)('%s on inputs of 0..199 bytes and larger', (_name, ours, nodeName) => {
    for (const length of LENGTHS) {
      const input = patterned(length);
      expect(ours(input).toString('hex'), `length ${length}`).toBe(createHash(nodeName).update(input).digest('hex'));
    }
  });
});

const FORGE_MD: Record<'sha1' | 'sha256' | 'sha512' | 'md5', () => forge.md.MessageDigest> = {
  sha1: () => forge.md.sha1.create(),
  sha256: () => forge.md.sha256.create(),
  sha512: () => forge.md.sha512.create(),
  md5: () => forge.md.md5.create(),
};

function forgeKey(password: string | null, salt: Buffer, id: number, iterations: number, length: number, hash: keyof typeof FORGE_MD): string {
  const key = forge.pkcs12.generateKey(password as string, forge.util.createBuffer(salt.toString('binary')), id, iterations, length, FORGE_MD[hash]());
  return Buffer.from(key.getBytes(), 'binary').toString('hex');
}

describe('pkcs12Kdf agrees with forge.pkcs12.generateKey', () => {
  const salt8 = Buffer.from('0a58cf64530d823f', 'hex');
  it.each<[string, string | null, Buffer, Pkcs12KdfPurpose, number, number, keyof typeof FORGE_MD]>([
    ['a 3DES key (24 bytes: two hash chains) with a password', 'S3cret-Pfx-Passw0rd', salt8, 1, 2048, 24, 'sha1'],
    ['a 3DES IV (8 bytes)', 'S3cret-Pfx-Passw0rd', salt8, 2, 2048, 8, 'sha1'],
    ['a SHA-1 MAC key', 'S3cret-Pfx-Passw0rd', salt8, 3, 2048, 20, 'sha1'],
    ['the empty password (BMPString 00 00)', '', salt8, 1, 2048, 24, 'sha1'],
    ['the absent password (no bytes at all)', null, salt8, 3, 2048, 20, 'sha1'],
    ['a password longer than one 64-byte block', 'x'.repeat(40), salt8, 1, 100, 24, 'sha1'],
    ['non-ASCII characters (UTF-16 code units)', 'pässwörd-€-密码', salt8, 1, 50, 24, 'sha1'],
    ['a 20-byte salt as Windows writes', 'pw', patterned(20), 3, 2000, 20, 'sha1'],
    ['a salt longer than a block', 'pw', patterned(70), 1, 10, 24, 'sha1'],
    ['one iteration', 'pw', salt8, 1, 1, 24, 'sha1'],
    ['many output blocks', 'pw', salt8, 1, 3, 100, 'sha1'],
    ['a SHA-256 MAC key (OpenSSL 3)', 'S3cret-Pfx-Passw0rd', patterned(16), 3, 2048, 32, 'sha256'],
    ['a SHA-256 MAC key with the absent password', null, patterned(16), 3, 2048, 32, 'sha256'],
    ['SHA-256 with output longer than one digest', 'pw', salt8, 1, 5, 70, 'sha256'],
    ['a SHA-512 MAC key (128-byte blocks, native hash per iteration)', 'pw', salt8, 3, 20, 64, 'sha512'],
    ['an MD5 MAC key', 'pw', salt8, 3, 20, 16, 'md5'],
  ])('%s', (_name, password, salt, id, iterations, length, hash) => {
    const ours = pkcs12Kdf(password, salt, id, iterations, length, hash as Pkcs12KdfHash);
    expect(ours).toHaveLength(length);
    expect(ours.toString('hex')).toBe(forgeKey(password, salt, id, iterations, length, hash));
  });

  it('the empty and the absent password derive different keys', () => {
    expect(pkcs12Kdf('', Buffer.alloc(8), 3, 1, 20).equals(pkcs12Kdf(null, Buffer.alloc(8), 3, 1, 20))).toBe(false);
  });

  it.each([
    ['zero iterations', 0],
    ['a fractional count', 1.5],
  ])('refuses %s', (_name, iterations) => {
    expect(() => pkcs12Kdf('pw', Buffer.alloc(8), 1, iterations, 24)).toThrow(RangeError);
  });
});
