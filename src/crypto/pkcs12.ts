// PKCS#12 and PEM bundles: read what Key Vault hands out, write what App Service accepts.
//
// forge's own PKCS#12 writer leaves certificate bags unencrypted and always MACs with SHA-1, so the PFX is
// assembled here from forge's ASN.1: both the key bag and the certificate bags are encrypted, with
// PBE-SHA1-3DES and a SHA-1 MAC (what App Service's importer requires) or, for 'aes256',
// PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC with a SHA-256 MAC (OpenSSL 3's default form).
// Encryption, MAC and (for what node's OpenSSL 3 can decrypt) reading run natively (pfxNative.ts): forge's
// JS SHA-1 and 3DES made each PFX cost 20-35 ms of CPU, which bounded the fan-out.
import { createHash, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { CertificateFormatError } from './errors.js';
import { MAX_ITERATIONS, chargeVisibleIterations, FORGE_ITERATION_BUDGET, IterationBudget, TooManyIterations, withForgeBudget } from './pkcs12Bounds.js';
import { octetString, pbeEncrypt, pfxMac, pfxReadPaths, readPfxNative, type PbeAlgorithm } from './pfxNative.js';
import { derToPem, pemToDer, thumbprintOfDer } from './pki.js';

export { CertificateFormatError } from './errors.js';
export type { CertificateFormatErrorCode } from './errors.js';

export interface CertificateBundle {
  /** The leaf: the certificate whose public key matches the private key. */
  certPem: string;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  keyPem: string;
  /** The other certificates, in the order they came. */
  chainPems: string[];
  /** Of the leaf; uppercase hex SHA-1. */
  thumbprint: string;
}

const { asn1 } = forge;
const oids = forge.pki.oids;
// Iterations as OpenSSL and Windows write them; App Service's importer is fine with 2048.
const PBE_ITERATIONS = 2048;
const MAC_ITERATIONS = 2048;

export function writePfx(
  bundle: { certPem: string; keyPem: string; chainPems?: string[] },
  password: string,
  opts?: { algorithm?: '3des' | 'aes256'; /** Of every derivation (PBEs and MAC); tests write other producers' counts. */ iterations?: number },
): Buffer {
  const algorithm = opts?.algorithm ?? '3des';
  const iterations = opts?.iterations ?? PBE_ITERATIONS;
  const leafDer = pemToDer(bundle.certPem);
  const keyDer = toPkcs8Der(bundle.keyPem);
  const leaf = new X509Certificate(leafDer);
  if (!leaf.checkPrivateKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }))) {
    throw new CertificateFormatError('KeyMismatch', 'the private key does not belong to the certificate');
  }
  // localKeyId ties the key bag to the leaf's certificate bag (Windows and App Service pair them by it).
  const localKeyId = createHash('sha1').update(leafDer).digest('binary');

  const certBags = [leafDer, ...(bundle.chainPems ?? []).map((p) => pemToDer(p))].map((der, i) =>
    safeBag(
      oids.certBag!,
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
        oidNode(oids.x509Certificate!),
        explicit0(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, binary(der))),
      ]),
      i === 0 ? localKeyId : undefined,
    ),
  );
  const shroudedKey = pbeEncrypt(keyDer, password, algorithm, iterations);
  const keyBag = safeBag(
    oids.pkcs8ShroudedKeyBag!,
    sequence([shroudedKey.algorithmIdentifier, octetString(shroudedKey.ciphertext)]),
    localKeyId,
  );

  const authenticatedSafe = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    encryptedContentInfo(sequence(certBags), password, algorithm, iterations),
    dataContentInfo(sequence([keyBag])),
  ]);
  const authSafeDer = Buffer.from(asn1.toDer(authenticatedSafe).getBytes(), 'binary');

  const macHash = algorithm === '3des' ? 'sha1' : 'sha256';
  const macOid = algorithm === '3des' ? oids.sha1! : oids.sha256!;
  const macSalt = randomBytes(algorithm === '3des' ? 8 : 16);
  const macData = sequence([
    sequence([
      sequence([oidNode(macOid), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]),
      octetString(pfxMac(authSafeDer, password, macHash, macSalt, opts?.iterations ?? MAC_ITERATIONS)),
    ]),
    octetString(macSalt),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(opts?.iterations ?? MAC_ITERATIONS).getBytes()),
  ]);

  const pfx = sequence([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(3).getBytes()),
    sequence([oidNode(oids.data!), explicit0(octetString(authSafeDer))]),
    macData,
  ]);
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}

/**
 * Opens a PFX. With an empty password both PKCS#12 readings of "no password" are tried (the BMPString of ""
 * and an absent password), as OpenSSL does: Key Vault and Windows each write one of them.
 */
export function readPfx(pfx: Uint8Array, password: string): CertificateBundle {
  let parsed: forge.asn1.Asn1;
  try {
    // strict: a length running past the end of the input is corruption (a truncated upload), not a wrong
    // password, which is what the missing MAC and failed decryption would otherwise look like.
    parsed = asn1.fromDer(forge.util.createBuffer(binary(pfx)), { strict: true, parseAllBytes: false } as never);
  } catch (err) {
    throw new CertificateFormatError('Corrupt', 'the PFX is not a DER/BER PKCS#12 structure', { cause: err });
  }
  const candidates: Array<string | null> = password === '' ? ['', null] : [password];
  const native = readPfxNative(parsed, candidates);
  if (native.kind === 'wrongPassword') throw wrongPassword(password);
  if (native.kind === 'tooManyIterations') throw tooManyIterations(native.iterations);
  if (native.kind === 'bags') {
    const keyDers = pkcs8OrUndefined(native.keyDers);
    if (keyDers !== undefined) {
      pfxReadPaths.native++;
      return assembleBundle(keyDers, native.certDers);
    }
    // A key that decrypted without a MAC to check the password may be garbage: forge's reader decides.
  }
  pfxReadPaths.forge++;
  return readPfxWithForge(parsed, candidates, password);
}

/** The reader before the native path, kept for what node's OpenSSL 3 cannot decrypt (RC2-40) and odd shapes. */
function readPfxWithForge(parsed: forge.asn1.Asn1, candidates: Array<string | null>, password: string): CertificateBundle {
  // forge's JS KDF is three times slower than the native one and it is where RC2-40 files land: what the file shows
  // is charged before forge starts, what it hides in encrypted SafeContents as forge reaches it.
  // Two budgets: the estimate from what the file shows refuses before forge starts; the guard counts the real work.
  try {
    chargeVisibleIterations(parsed, candidates.length, new IterationBudget(FORGE_ITERATION_BUDGET));
  } catch (err) {
    if (err instanceof TooManyIterations) throw tooManyIterations(err.iterations);
    throw err;
  }
  const budget = new IterationBudget(FORGE_ITERATION_BUDGET);
  let lastPasswordError: unknown;
  for (const candidate of candidates) {
    let p12: forge.pkcs12.Pkcs12Pfx;
    try {
      p12 = withForgeBudget(budget, () => forge.pkcs12.pkcs12FromAsn1(parsed, false, candidate as string));
    } catch (err) {
      if (err instanceof TooManyIterations) throw tooManyIterations(err.iterations);
      if (looksLikeWrongPassword(err)) {
        lastPasswordError = err;
        continue;
      }
      if (err instanceof CertificateFormatError) throw err;
      throw new CertificateFormatError('Corrupt', `the PFX cannot be read: ${describeForgeFailure(err)}`, { cause: err });
    }
    return bundleFromPkcs12(p12);
  }
  throw wrongPassword(password, lastPasswordError);
}

function tooManyIterations(iterations: number): CertificateFormatError {
  return new CertificateFormatError(
    'TooManyIterations',
    `the PFX asks for more key-derivation work than any real producer writes (${Number.isFinite(iterations) ? iterations : 'over 2^48'} iterations; at most ${MAX_ITERATIONS} per derivation), refused before deriving`,
  );
}

function wrongPassword(password: string, cause?: unknown): CertificateFormatError {
  return new CertificateFormatError(
    'WrongPassword',
    password === '' ? 'the PFX does not open with an empty password' : 'the PFX does not open with the given password',
    cause === undefined ? undefined : { cause },
  );
}

function pkcs8OrUndefined(keyDers: Buffer[]): Buffer[] | undefined {
  try {
    return keyDers.map((der) => toPkcs8Der(der));
  } catch {
    return undefined;
  }
}

/** A PEM text with one private key and its certificate chain, in either order (Key Vault puts the key first). */
export function readPemBundle(pem: string): CertificateBundle {
  const blocks = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  if (blocks.length === 0) {
    throw new CertificateFormatError('Corrupt', 'no PEM blocks found (expected "-----BEGIN ...-----" sections)');
  }
  const certDers: Buffer[] = [];
  const keyDers: Buffer[] = [];
  for (const block of blocks) {
    const label = block[1]!;
    const body = block[2]!;
    if (label === 'CERTIFICATE') {
      certDers.push(decodePemBody(body, label));
    } else if (label === 'ENCRYPTED PRIVATE KEY' || (/PRIVATE KEY$/.test(label) && /Proc-Type:\s*4,ENCRYPTED/.test(body))) {
      throw new CertificateFormatError(
        'NoPrivateKey',
        'the private key is encrypted; a certificate bundle needs an unencrypted key (as Key Vault exports it)',
      );
    } else if (label === 'PRIVATE KEY' || label === 'RSA PRIVATE KEY' || label === 'EC PRIVATE KEY') {
      keyDers.push(toPkcs8Der(`-----BEGIN ${label}-----${body}-----END ${label}-----`));
    }
    // Other blocks (e.g. "PUBLIC KEY", "X509 CRL") are not part of a certificate bundle and are ignored.
  }
  return assembleBundle(keyDers, certDers);
}

/** A Key Vault certificate secret (PFX base64 with empty password, or PEM) -> bundle; checks key matches leaf. */
export function readKeyVaultSecret(contentType: string, value: string): CertificateBundle {
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/x-pkcs12') {
    const compact = value.replace(/\s+/g, '');
    if (compact.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
      throw new CertificateFormatError('Corrupt', 'the application/x-pkcs12 secret value is not base64 text');
    }
    return readPfx(Buffer.from(compact, 'base64'), '');
  }
  if (mediaType === 'application/x-pem-file') return readPemBundle(value);
  throw new CertificateFormatError(
    'UnsupportedContentType',
    `unsupported secret content type '${contentType.slice(0, 100)}' (expected application/x-pkcs12 or application/x-pem-file)`,
  );
}

/** 32 url-safe characters from 24 random bytes (192 bits). Never log it. */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

function bundleFromPkcs12(p12: forge.pkcs12.Pkcs12Pfx): CertificateBundle {
  const keyDers: Buffer[] = [];
  const certDers: Buffer[] = [];
  for (const safeContents of p12.safeContents) {
    for (const bag of safeContents.safeBags) {
      const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
      if (bag.type === oids.keyBag || bag.type === oids.pkcs8ShroudedKeyBag) {
        // forge decodes RSA keys only; other keys (EC) stay as PrivateKeyInfo ASN.1 in `asn1`.
        const info = bag.key
          ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
          : raw.asn1;
        if (info === undefined) continue;
        keyDers.push(toPkcs8Der(Buffer.from(asn1.toDer(info).getBytes(), 'binary')));
      } else if (bag.type === oids.certBag) {
        const certAsn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : raw.asn1;
        if (certAsn1 === undefined) continue;
        certDers.push(Buffer.from(asn1.toDer(certAsn1).getBytes(), 'binary'));
      }
    }
  }
  return assembleBundle(keyDers, certDers);
}

function assembleBundle(keyDers: Buffer[], certDers: Buffer[]): CertificateBundle {
  if (keyDers.length === 0) throw new CertificateFormatError('NoPrivateKey', 'no private key found in the bundle');
  if (certDers.length === 0) throw new CertificateFormatError('NoCertificate', 'no certificate found in the bundle');
  const certs = certDers.map((der) => {
    try {
      return { der, x509: new X509Certificate(der) };
    } catch (err) {
      throw new CertificateFormatError('Corrupt', 'a certificate in the bundle is not readable X.509', { cause: err });
    }
  });
  for (const keyDer of keyDers) {
    const key = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' });
    const leafIndex = certs.findIndex((c) => c.x509.checkPrivateKey(key));
    if (leafIndex < 0) continue;
    const leaf = certs[leafIndex]!;
    return {
      certPem: derToPem(leaf.der),
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      chainPems: certs.filter((_, i) => i !== leafIndex).map((c) => derToPem(c.der)),
      thumbprint: thumbprintOfDer(leaf.der),
    };
  }
  throw new CertificateFormatError('KeyMismatch', 'the private key does not match any certificate in the bundle');
}

/** Any unencrypted private key PEM or PKCS#8 DER -> PKCS#8 DER, through OpenSSL (reads RSA and EC alike). */
function toPkcs8Der(key: string | Buffer): Buffer {
  try {
    const keyObject =
      typeof key === 'string' ? createPrivateKey(key) : createPrivateKey({ key, format: 'der', type: 'pkcs8' });
    return keyObject.export({ type: 'pkcs8', format: 'der' });
  } catch (err) {
    throw new CertificateFormatError('Corrupt', 'the private key is not readable', { cause: err });
  }
}

function decodePemBody(body: string, label: string): Buffer {
  const compact = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new CertificateFormatError('Corrupt', `a PEM "${label}" block is not base64`);
  }
  return Buffer.from(compact, 'base64');
}

function looksLikeWrongPassword(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  // With a MAC, forge says so; without one, a wrong password shows up as a failed decryption or padding.
  return /MAC could not be verified|wrong password|Failed to decrypt|Unable to decrypt/i.test(message);
}

function describeForgeFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/unsupported|Unknown|not supported/i.test(message)) return 'it uses an unsupported algorithm or structure';
  return 'its structure is invalid';
}

function safeBag(bagOid: string, value: forge.asn1.Asn1, localKeyId?: string): forge.asn1.Asn1 {
  const children = [oidNode(bagOid), explicit0(value)];
  if (localKeyId !== undefined) {
    children.push(
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
        sequence([
          oidNode(oids.localKeyId!),
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [
            asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, localKeyId),
          ]),
        ]),
      ]),
    );
  }
  return sequence(children);
}

function dataContentInfo(content: forge.asn1.Asn1): forge.asn1.Asn1 {
  return sequence([
    oidNode(oids.data!),
    explicit0(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(content).getBytes())),
  ]);
}

// PKCS#7 EncryptedData holding a SafeContents, encrypted like the key bag.
function encryptedContentInfo(content: forge.asn1.Asn1, password: string, algorithm: PbeAlgorithm, iterations: number): forge.asn1.Asn1 {
  const plaintext = Buffer.from(asn1.toDer(content).getBytes(), 'binary');
  const { algorithmIdentifier, ciphertext } = pbeEncrypt(plaintext, password, algorithm, iterations);
  const encryptedData = sequence([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(0).getBytes()),
    sequence([
      oidNode(oids.data!),
      algorithmIdentifier,
      // [0] IMPLICIT OCTET STRING
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, binary(ciphertext)),
    ]),
  ]);
  return sequence([oidNode(oids.encryptedData!), explicit0(encryptedData)]);
}

function sequence(children: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, children);
}

function oidNode(oid: string): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes());
}

function explicit0(value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [value]);
}

function binary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('binary');
}


