// The PKCS#12 key-derivation function (RFC 7292 Appendix B.2) with its own SHA-1 and SHA-256.
//
// Why not forge or node's hash: the KDF hashes its own 20- or 32-byte output 2047 more times per derived key,
// and a PFX needs seven such chains to write and about as many to read. forge's SHA-1 allocates strings per
// call (~15 us a PFX-chain step adds up to 20+ ms a PFX); node's createHash costs ~1.3 us of N-API overhead per
// call, which is no better. A hash of a fixed-size digest is exactly one padded block, so the loop below
// compresses that block in place on preallocated Int32 words with no allocation per iteration.
import { createHash } from 'node:crypto';

export type Pkcs12KdfHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'md5';

/** Output (u) and block (v) sizes in bytes, as B.2 uses them. */
const HASH_SIZES: Record<Pkcs12KdfHash, { u: number; v: number }> = {
  md5: { u: 16, v: 64 },
  sha1: { u: 20, v: 64 },
  sha224: { u: 28, v: 64 },
  sha256: { u: 32, v: 64 },
  sha384: { u: 48, v: 128 },
  sha512: { u: 64, v: 128 },
};

/** The purpose byte of B.2: 1 derives a key, 2 an IV, 3 a MAC key. */
export type Pkcs12KdfPurpose = 1 | 2 | 3;

/**
 * Derives `length` bytes from a password as PKCS#12 does. `null` is the absent password (no bytes at all),
 * which is not the same as '' (the BMPString terminator 00 00): readers try both for "no password".
 * Password characters are taken as UTF-16 code units, big-endian, as forge and Windows do.
 */
export function pkcs12Kdf(
  password: string | null,
  salt: Uint8Array,
  purpose: Pkcs12KdfPurpose,
  iterations: number,
  length: number,
  hash: Pkcs12KdfHash = 'sha1',
): Buffer {
  if (!Number.isInteger(iterations) || iterations < 1) {
    // With no iteration the output would not depend on the password at all.
    throw new RangeError(`PKCS#12 key derivation needs a whole iteration count of at least 1, got ${iterations}`);
  }
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`invalid derived key length ${length}`);
  const { u, v } = HASH_SIZES[hash];
  const passwordBytes = password === null ? Buffer.alloc(0) : bmpString(password);
  const sLen = v * Math.ceil(salt.length / v);
  const pLen = v * Math.ceil(passwordBytes.length / v);
  // D || S || P, where I = S || P is updated in place between output blocks.
  const dI = Buffer.alloc(v + sLen + pLen, purpose);
  for (let i = 0; i < sLen; i++) dI[v + i] = salt[i % salt.length]!;
  for (let i = 0; i < pLen; i++) dI[v + sLen + i] = passwordBytes[i % passwordBytes.length]!;
  passwordBytes.fill(0);

  const out = Buffer.alloc(length);
  const b = Buffer.alloc(v);
  for (let offset = 0; offset < length; offset += u) {
    const a = iteratedHash(hash, dI, iterations);
    a.copy(out, offset, 0, Math.min(u, length - offset));
    if (offset + u >= length) break;
    for (let i = 0; i < v; i++) b[i] = a[i % u]!;
    // I_j = (I_j + B + 1) mod 2^(8v), each v-byte block of I as a big-endian integer.
    for (let j = v; j < dI.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = dI[j + k]! + b[k]! + carry;
        dI[j + k] = sum & 0xff;
        carry = sum >>> 8;
      }
    }
  }
  dI.fill(0);
  return out;
}

function bmpString(password: string): Buffer {
  const bytes = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) bytes.writeUInt16BE(password.charCodeAt(i), i * 2);
  return bytes;
}

/** H^r(data): the r-th hash of data. */
function iteratedHash(hash: Pkcs12KdfHash, data: Uint8Array, iterations: number): Buffer {
  if (hash === 'sha1') {
    const state = sha1State(data);
    sha1Repeat(state, iterations - 1);
    return wordsToBytes(state);
  }
  if (hash === 'sha256') {
    const state = sha256State(data);
    sha256Repeat(state, iterations - 1);
    return wordsToBytes(state);
  }
  // The rarer MAC digests (OpenSSL's -macalg) take the native hash per iteration: correct, not fast.
  let digest = createHash(hash).update(data).digest();
  for (let r = 1; r < iterations; r++) digest = createHash(hash).update(digest).digest();
  return digest;
}

// ---------------------------------------------------------------------------------------------------------
// SHA-1 (FIPS 180-4 §6.1) on 32-bit words.

const SHA1_IV = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0] as const;
// Shared message schedule: JS is single-threaded and no function here yields, so one buffer suffices.
const w80 = new Int32Array(80);

function sha1Compress(h: Int32Array, w: Int32Array): void {
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let t = 0;
  for (; t < 20; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w[t]! + 0x5a827999) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  for (; t < 40; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[t]! + 0x6ed9eba1) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  for (; t < 60; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w[t]! + 0x8f1bbcdc) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  for (; t < 80; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[t]! + 0xca62c1d6) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = tmp;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

function sha1State(data: Uint8Array): Int32Array {
  const h = Int32Array.from(SHA1_IV);
  hashBlocks(data, h, w80, sha1Compress);
  return h;
}

/** h := SHA-1(h) `times` times, where h is a 20-byte digest: one padded block each time. */
function sha1Repeat(h: Int32Array, times: number): void {
  const w = w80;
  for (let r = 0; r < times; r++) {
    w[0] = h[0]!;
    w[1] = h[1]!;
    w[2] = h[2]!;
    w[3] = h[3]!;
    w[4] = h[4]!;
    w[5] = 0x80000000 | 0;
    w.fill(0, 6, 15);
    w[15] = 160; // message length in bits
    h[0] = SHA1_IV[0];
    h[1] = SHA1_IV[1];
    h[2] = SHA1_IV[2];
    h[3] = SHA1_IV[3];
    h[4] = SHA1_IV[4];
    sha1Compress(h, w);
  }
}

/** SHA-1 of any input, on the same compression as the KDF (exported for its known-answer tests). */
export function sha1(data: Uint8Array): Buffer {
  return wordsToBytes(sha1State(data));
}

// ---------------------------------------------------------------------------------------------------------
// SHA-256 (FIPS 180-4 §6.2). The constants are the first 32 bits of the fractional parts of the square roots
// (H0) and cube roots (K) of the first primes; the known-answer tests against node's SHA-256 pin them.

const PRIMES = firstPrimes(64);
const SHA256_IV = Int32Array.from(PRIMES.slice(0, 8), (p) => fractionBits(Math.sqrt(p)));
const SHA256_K = Int32Array.from(PRIMES, (p) => fractionBits(Math.cbrt(p)));
const w64 = new Int32Array(64);

function firstPrimes(count: number): number[] {
  const primes: number[] = [];
  for (let n = 2; primes.length < count; n++) if (primes.every((p) => n % p !== 0)) primes.push(n);
  return primes;
}

function fractionBits(x: number): number {
  return ((x - Math.floor(x)) * 0x100000000) | 0;
}

function sha256Compress(h: Int32Array, w: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
  }
  let a = h[0]!;
  let b = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  let f = h[5]!;
  let g = h[6]!;
  let hh = h[7]!;
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + s1 + ((e & f) ^ (~e & g)) + SHA256_K[t]! + w[t]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
  h[5] = (h[5]! + f) | 0;
  h[6] = (h[6]! + g) | 0;
  h[7] = (h[7]! + hh) | 0;
}

function sha256State(data: Uint8Array): Int32Array {
  const h = Int32Array.from(SHA256_IV);
  hashBlocks(data, h, w64, sha256Compress);
  return h;
}

/** h := SHA-256(h) `times` times, where h is a 32-byte digest: one padded block each time. */
function sha256Repeat(h: Int32Array, times: number): void {
  const w = w64;
  for (let r = 0; r < times; r++) {
    w.set(h, 0);
    w[8] = 0x80000000 | 0;
    w.fill(0, 9, 15);
    w[15] = 256; // message length in bits
    h.set(SHA256_IV);
    sha256Compress(h, w);
  }
}

/** SHA-256 of any input, on the same compression as the KDF (exported for its known-answer tests). */
export function sha256(data: Uint8Array): Buffer {
  return wordsToBytes(sha256State(data));
}

// ---------------------------------------------------------------------------------------------------------

/** Merkle–Damgård over 64-byte blocks with the 0x80 / zeros / 64-bit bit-length padding both hashes share. */
function hashBlocks(data: Uint8Array, h: Int32Array, w: Int32Array, compress: (h: Int32Array, w: Int32Array) => void): void {
  const fullBlocks = Math.floor(data.length / 64);
  for (let blk = 0; blk < fullBlocks; blk++) {
    loadWords(data, blk * 64, w);
    compress(h, w);
  }
  const rest = data.length - fullBlocks * 64;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(data.subarray(fullBlocks * 64));
  tail[rest] = 0x80;
  const bits = data.length * 8;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(tail.length - 4, bits >>> 0);
  for (let off = 0; off < tail.length; off += 64) {
    loadWords(tail, off, w);
    compress(h, w);
  }
}

function loadWords(bytes: Uint8Array, offset: number, w: Int32Array): void {
  for (let i = 0; i < 16; i++) {
    const o = offset + i * 4;
    w[i] = (bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
  }
}

function wordsToBytes(words: Int32Array): Buffer {
  const out = Buffer.alloc(words.length * 4);
  for (let i = 0; i < words.length; i++) out.writeInt32BE(words[i]!, i * 4);
  return out;
}
