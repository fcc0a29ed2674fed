// The fast path of PKCS#12: password-based encryption and MAC with node's native ciphers and HMAC and our own
// PKCS#12 KDF, over forge's ASN.1 (parsing and DER encoding are cheap; forge's SHA-1 and 3DES were not).
//
// The reader only ever answers "here are the bags" or "the MAC does not verify with this password". Anything
// else (an algorithm node's OpenSSL 3 lacks, such as forge's default RC2-40 cert bags; a structure it does not
// expect; a failed decryption) is `fallback`, and pkcs12.ts then reads the PFX with forge exactly as before,
// so nothing that read before stops reading and errors keep their codes and messages.
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import forge from 'node-forge';
import { IterationBudget, MAX_ITERATIONS, NATIVE_ITERATION_BUDGET, TooManyIterations } from './pkcs12Bounds.js';
import { pkcs12Kdf, type Pkcs12KdfHash } from './pkcs12Kdf.js';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbeWithSHAAnd3KeyTripleDESCBC: '1.2.840.113549.1.12.1.3',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
} as const;

const MAC_DIGESTS: Record<string, Pkcs12KdfHash> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.2.840.113549.2.5': 'md5',
};
const MAC_SIZES: Record<Pkcs12KdfHash, number> = { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

const PBKDF2_PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
const PBES2_CIPHERS: Record<string, { name: string; keyLength: number; ivLength: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16, ivLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24, ivLength: 16 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32, ivLength: 16 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
};

// A PFX names its own iteration counts; the bounds and why they are what they are: pkcs12Bounds.ts.
export { MAX_ITERATIONS } from './pkcs12Bounds.js';

export type PbeAlgorithm = '3des' | 'aes256';

/** Which reader opened each PFX since start: tests assert on it to prove the fast path is taken. */
export const pfxReadPaths = { native: 0, forge: 0 };

export type NativeReadOutcome =
  | { kind: 'bags'; keyDers: Buffer[]; certDers: Buffer[] }
  | { kind: 'wrongPassword' }
  | { kind: 'tooManyIterations'; iterations: number }
  | { kind: 'fallback'; reason: string };

/** Thrown inside the native reader for anything it leaves to forge; never escapes this module. */
class LeaveToForge extends Error {}
// Too many iterations is not left to forge: forge would spend the iterations too.
/** The budget of the read in progress (readPfxNative is synchronous, so one at a time). */
let budget: IterationBudget | undefined;

/**
 * Opens a parsed PFX natively. `candidates` are the passwords to try in order (['', null] for "no password").
 * Keys come back as the decrypted PrivateKeyInfo DER, certificates as their DER, in bag order.
 */
export function readPfxNative(pfx: Asn1, candidates: ReadonlyArray<string | null>): NativeReadOutcome {
  budget = new IterationBudget(NATIVE_ITERATION_BUDGET);
  try {
    const [version, authSafe, macData, ...extra] = children(pfx, asn1.Type.SEQUENCE);
    if (version === undefined || authSafe === undefined || extra.length > 0) throw new LeaveToForge('PFX shape');
    if (integer(version) !== 3) throw new LeaveToForge('PFX version');
    const [contentType, content] = children(authSafe, asn1.Type.SEQUENCE);
    if (contentType === undefined || oid(contentType) !== OID.data || content === undefined) throw new LeaveToForge('authSafe type');
    const authSafeBytes = octets(explicit0(content));

    let passwords = candidates;
    if (macData !== undefined) {
      const macPassword = verifyMac(macData, authSafeBytes, candidates);
      if (macPassword === undefined) return { kind: 'wrongPassword' };
      passwords = [macPassword];
    }
    let lastReason = 'no password candidate';
    for (const password of passwords) {
      try {
        return { kind: 'bags', ...readAuthenticatedSafe(authSafeBytes, password) };
      } catch (err) {
        if (!(err instanceof DecryptionFailed)) throw err;
        lastReason = err.message;
      }
    }
    throw new LeaveToForge(lastReason);
  } catch (err) {
    if (err instanceof LeaveToForge) return { kind: 'fallback', reason: err.message };
    if (err instanceof TooManyIterations) return { kind: 'tooManyIterations', iterations: err.iterations };
    // forge's ASN.1 helpers throw plain Errors on malformed input; forge's own reader words those errors.
    return { kind: 'fallback', reason: 'unexpected structure' };
  } finally {
    budget = undefined;
  }
}

/** The first candidate whose MAC verifies, or undefined when none does. */
function verifyMac(macData: Asn1, authSafeBytes: Buffer, candidates: ReadonlyArray<string | null>): string | null | undefined {
  const [digestInfo, saltNode, iterationsNode, ...extra] = children(macData, asn1.Type.SEQUENCE);
  if (digestInfo === undefined || saltNode === undefined || extra.length > 0) throw new LeaveToForge('macData shape');
  const [algorithmId, digestNode] = children(digestInfo, asn1.Type.SEQUENCE);
  if (algorithmId === undefined || digestNode === undefined) throw new LeaveToForge('mac DigestInfo shape');
  const [digestOid] = children(algorithmId, asn1.Type.SEQUENCE);
  const hash = digestOid === undefined ? undefined : MAC_DIGESTS[oid(digestOid)];
  if (hash === undefined) throw new LeaveToForge('MAC digest');
  const expected = octets(digestNode);
  const salt = octets(saltNode);
  const iterations = iterationsNode === undefined ? 1 : boundedIterations(integer(iterationsNode), 0);
  for (const candidate of candidates) {
    boundedIterations(iterations);
    const macKey = pkcs12Kdf(candidate, salt, 3, iterations, MAC_SIZES[hash], hash);
    const actual = createHmac(hash, macKey).update(authSafeBytes).digest();
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return candidate;
  }
  return undefined;
}

function readAuthenticatedSafe(authSafeBytes: Buffer, password: string | null): { keyDers: Buffer[]; certDers: Buffer[] } {
  const keyDers: Buffer[] = [];
  const certDers: Buffer[] = [];
  const contentInfos = children(asn1.fromDer(binary(authSafeBytes), false), asn1.Type.SEQUENCE);
  for (const contentInfo of contentInfos) {
    const [typeNode, content] = children(contentInfo, asn1.Type.SEQUENCE);
    if (typeNode === undefined || content === undefined) throw new LeaveToForge('ContentInfo shape');
    let safeContents: Buffer;
    switch (oid(typeNode)) {
      case OID.data:
        safeContents = octets(explicit0(content));
        break;
      case OID.encryptedData: {
        const [, encryptedContentInfo] = children(explicit0(content), asn1.Type.SEQUENCE);
        if (encryptedContentInfo === undefined) throw new LeaveToForge('EncryptedData shape');
        const [, algorithm, ciphertext] = children(encryptedContentInfo, asn1.Type.SEQUENCE);
        if (algorithm === undefined || ciphertext === undefined) throw new LeaveToForge('EncryptedContentInfo shape');
        if (ciphertext.tagClass !== asn1.Class.CONTEXT_SPECIFIC || ciphertext.type !== 0) throw new LeaveToForge('encryptedContent tag');
        safeContents = pbeDecrypt(algorithm, primitiveOrChunked(ciphertext), password);
        break;
      }
      default:
        throw new LeaveToForge('ContentInfo type'); // e.g. envelopedData (public-key privacy mode)
    }
    readSafeContents(safeContents, password, keyDers, certDers);
  }
  return { keyDers, certDers };
}

function readSafeContents(bytes: Buffer, password: string | null, keyDers: Buffer[], certDers: Buffer[]): void {
  let bags: Asn1[];
  try {
    bags = children(asn1.fromDer(binary(bytes), false), asn1.Type.SEQUENCE);
  } catch {
    // Without a MAC, a wrong password can decrypt to padding that happens to look valid and to garbage.
    throw new DecryptionFailed('SafeContents not ASN.1');
  }
  for (const bag of bags) {
    const [bagIdNode, bagValue] = children(bag, asn1.Type.SEQUENCE);
    if (bagIdNode === undefined || bagValue === undefined) throw new LeaveToForge('SafeBag shape');
    const value = explicit0(bagValue);
    switch (oid(bagIdNode)) {
      case OID.keyBag:
        keyDers.push(Buffer.from(asn1.toDer(value).getBytes(), 'binary'));
        break;
      case OID.pkcs8ShroudedKeyBag: {
        const [algorithm, ciphertext] = children(value, asn1.Type.SEQUENCE);
        if (algorithm === undefined || ciphertext === undefined) throw new LeaveToForge('EncryptedPrivateKeyInfo shape');
        keyDers.push(pbeDecrypt(algorithm, octets(ciphertext), password));
        break;
      }
      case OID.certBag: {
        const [certId, certValue] = children(value, asn1.Type.SEQUENCE);
        if (certId === undefined || certValue === undefined || oid(certId) !== OID.x509Certificate) throw new LeaveToForge('certBag type');
        certDers.push(octets(explicit0(certValue)));
        break;
      }
      default:
        throw new LeaveToForge('bag type'); // secret, CRL and nested SafeContents bags
    }
  }
}

class DecryptionFailed extends Error {}

/** Decrypts with a PBE AlgorithmIdentifier: PKCS#12 PBE-SHA1-3DES or PBES2 (PBKDF2 + AES/3DES-CBC). */
function pbeDecrypt(algorithm: Asn1, ciphertext: Buffer, password: string | null): Buffer {
  const [algOid, params] = children(algorithm, asn1.Type.SEQUENCE);
  if (algOid === undefined || params === undefined) throw new LeaveToForge('PBE AlgorithmIdentifier shape');
  let cipher: { name: string; key: Buffer; iv: Buffer };
  switch (oid(algOid)) {
    case OID.pbeWithSHAAnd3KeyTripleDESCBC: {
      const [saltNode, iterationsNode] = children(params, asn1.Type.SEQUENCE);
      if (saltNode === undefined || iterationsNode === undefined) throw new LeaveToForge('pkcs-12PbeParams shape');
      const salt = octets(saltNode);
      // Key and IV: two KDF runs.
      const iterations = boundedIterations(integer(iterationsNode), 2);
      cipher = {
        name: 'des-ede3-cbc',
        key: pkcs12Kdf(password, salt, 1, iterations, 24),
        iv: pkcs12Kdf(password, salt, 2, iterations, 8),
      };
      break;
    }
    case OID.pbes2:
      cipher = pbes2Cipher(params, password);
      break;
    default:
      throw new LeaveToForge('PBE algorithm'); // e.g. pbeWithSHAAnd40BitRC2-CBC: not in node's OpenSSL 3
  }
  try {
    const decipher = createDecipheriv(cipher.name, cipher.key, cipher.iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new DecryptionFailed('bad padding');
  } finally {
    cipher.key.fill(0);
  }
}

function pbes2Cipher(params: Asn1, password: string | null): { name: string; key: Buffer; iv: Buffer } {
  const [kdf, scheme] = children(params, asn1.Type.SEQUENCE);
  if (kdf === undefined || scheme === undefined) throw new LeaveToForge('PBES2-params shape');
  const [kdfOid, kdfParams] = children(kdf, asn1.Type.SEQUENCE);
  if (kdfOid === undefined || kdfParams === undefined || oid(kdfOid) !== OID.pbkdf2) throw new LeaveToForge('PBES2 KDF');
  const [schemeOid, ivNode] = children(scheme, asn1.Type.SEQUENCE);
  const spec = schemeOid === undefined ? undefined : PBES2_CIPHERS[oid(schemeOid)];
  if (spec === undefined || ivNode === undefined) throw new LeaveToForge('PBES2 cipher');
  const iv = octets(ivNode);
  if (iv.length !== spec.ivLength) throw new LeaveToForge('PBES2 IV length');

  const [saltNode, iterationsNode, ...optional] = children(kdfParams, asn1.Type.SEQUENCE);
  if (saltNode === undefined || iterationsNode === undefined) throw new LeaveToForge('PBKDF2-params shape');
  if (saltNode.type !== asn1.Type.OCTETSTRING) throw new LeaveToForge('PBKDF2 salt source'); // otherSource
  let prf = 'sha1'; // the default of PBKDF2-params
  for (const node of optional) {
    if (node.type === asn1.Type.INTEGER) {
      if (integer(node) !== spec.keyLength) throw new LeaveToForge('PBKDF2 key length');
    } else {
      const [prfOid] = children(node, asn1.Type.SEQUENCE);
      const named = prfOid === undefined ? undefined : PBKDF2_PRFS[oid(prfOid)];
      if (named === undefined) throw new LeaveToForge('PBKDF2 PRF');
      prf = named;
    }
  }
  // OpenSSL feeds PBKDF2 the password's UTF-8 bytes (the BMPString form is only for the PKCS#12 KDF).
  const passwordBytes = Buffer.from(password ?? '', 'utf8');
  const key = pbkdf2Sync(passwordBytes, octets(saltNode), boundedIterations(integer(iterationsNode)), spec.keyLength, prf);
  passwordBytes.fill(0);
  return { name: spec.name, key, iv };
}

/**
 * Encrypts `plaintext` as PFX writers do and returns the AlgorithmIdentifier that says how, with the
 * ciphertext: PKCS#12 PBE-SHA1-3DES (what App Service's importer needs) or PBES2 with PBKDF2-HMAC-SHA256 and
 * AES-256-CBC (OpenSSL 3's default), in the same ASN.1 form forge's encryptPrivateKeyInfo wrote.
 */
export function pbeEncrypt(plaintext: Uint8Array, password: string, algorithm: PbeAlgorithm, iterations: number): { algorithmIdentifier: Asn1; ciphertext: Buffer } {
  let name: string;
  let key: Buffer;
  let iv: Buffer;
  let algorithmIdentifier: Asn1;
  if (algorithm === '3des') {
    const salt = randomBytes(8);
    name = 'des-ede3-cbc';
    key = pkcs12Kdf(password, salt, 1, iterations, 24);
    iv = pkcs12Kdf(password, salt, 2, iterations, 8);
    algorithmIdentifier = seq([oidNode(OID.pbeWithSHAAnd3KeyTripleDESCBC), seq([octetString(salt), intNode(iterations)])]);
  } else {
    const salt = randomBytes(16);
    const passwordBytes = Buffer.from(password, 'utf8');
    name = 'aes-256-cbc';
    key = pbkdf2Sync(passwordBytes, salt, iterations, 32, 'sha256');
    passwordBytes.fill(0);
    iv = randomBytes(16);
    algorithmIdentifier = seq([
      oidNode(OID.pbes2),
      seq([
        seq([
          oidNode(OID.pbkdf2),
          seq([octetString(salt), intNode(iterations), intNode(32), seq([oidNode('1.2.840.113549.2.9'), nullNode()])]),
        ]),
        seq([oidNode('2.16.840.1.101.3.4.1.42'), octetString(iv)]),
      ]),
    ]);
  }
  const cipher = createCipheriv(name, key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);
  return { algorithmIdentifier, ciphertext };
}

/** The PFX MAC: HMAC over the AuthenticatedSafe bytes, keyed by the PKCS#12 KDF (purpose 3). */
export function pfxMac(authSafeBytes: Uint8Array, password: string, hash: 'sha1' | 'sha256', salt: Uint8Array, iterations: number): Buffer {
  const macKey = pkcs12Kdf(password, salt, 3, iterations, MAC_SIZES[hash], hash);
  const mac = createHmac(hash, macKey).update(authSafeBytes).digest();
  macKey.fill(0);
  return mac;
}

// ---------------------------------------------------------------------------------------------------------
// forge ASN.1 helpers. forge keeps primitive values as binary strings.

function children(node: Asn1, type: number): Asn1[] {
  if (node.tagClass !== asn1.Class.UNIVERSAL || node.type !== type || !Array.isArray(node.value)) {
    throw new LeaveToForge('unexpected ASN.1 type');
  }
  return node.value;
}

function explicit0(node: Asn1): Asn1 {
  if (node.tagClass !== asn1.Class.CONTEXT_SPECIFIC || node.type !== 0 || !Array.isArray(node.value) || node.value.length !== 1) {
    throw new LeaveToForge('expected [0] EXPLICIT');
  }
  return node.value[0]!;
}

/** OCTET STRING contents; BER writers (Windows) may chunk them into a constructed string of pieces. */
function octets(node: Asn1): Buffer {
  if (node.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.OCTETSTRING) throw new LeaveToForge('expected OCTET STRING');
  return primitiveOrChunked(node);
}

function primitiveOrChunked(node: Asn1): Buffer {
  if (typeof node.value === 'string') return Buffer.from(node.value, 'binary');
  return Buffer.concat(node.value.map((piece) => octets(piece)));
}

function oid(node: Asn1): string {
  if (node.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.OID || typeof node.value !== 'string') throw new LeaveToForge('expected OID');
  return asn1.derToOid(node.value);
}

function integer(node: Asn1): number {
  if (node.tagClass !== asn1.Class.UNIVERSAL || node.type !== asn1.Type.INTEGER || typeof node.value !== 'string') throw new LeaveToForge('expected INTEGER');
  if (node.value.length === 0) throw new LeaveToForge('empty INTEGER');
  // Wider than 48 bits cannot be a version or an iteration count anyone means; it reads as "too many".
  if (node.value.length > 6) return Number.POSITIVE_INFINITY;
  return asn1.derToInteger(node.value);
}

/** Checks a count and charges `runs` KDF runs of it to the read's budget, before any of them runs. */
function boundedIterations(count: number, runs = 1): number {
  if (count > MAX_ITERATIONS) throw new TooManyIterations(count);
  if (!Number.isInteger(count) || count < 1) throw new LeaveToForge('iteration count');
  budget?.charge(count, runs);
  return count;
}

function binary(bytes: Buffer): string {
  return bytes.toString('binary');
}

export function seq(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

export function oidNode(value: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
}

export function octetString(bytes: Uint8Array): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, Buffer.from(bytes).toString('binary'));
}

export function intNode(value: number): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
}

function nullNode(): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '');
}
