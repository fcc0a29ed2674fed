// X.509 helpers: issue certificates for the sandbox and tests, compute thumbprints the way App Service and Key
// Vault write them, describe and check certificates. forge only assembles the certificate structure; key
// generation and signing are native (node:crypto), far faster than forge's pure-JS RSA. RSA-2048 key
// generation still dominates (~150 ms on a busy core), so callers that need many certificates cache them.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { CertificateFormatError } from './errors.js';

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** Uppercase hex SHA-1 of the DER certificate (App Service form). */
  thumbprint: string;
}

export interface CertificateDescription {
  /** e.g. "CN=client, O=Contoso" (RDNs in certificate order). */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  thumbprint: string;
  /** Uppercase hex. */
  serialNumber: string;
  subjectCommonName?: string;
  issuerCommonName?: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
// Backdated so a certificate issued "now" is already valid on a peer whose clock runs a little behind.
const DEFAULT_BACKDATE_MS = HOUR_MS;
const DEFAULT_CA_LIFETIME_MS = 10 * 365 * DAY_MS;
// Key Vault's default validity for self-issued certificates is 12 months.
const DEFAULT_LEAF_LIFETIME_MS = 365 * DAY_MS;

export function createCertificateAuthority(opts: { commonName: string; notBefore?: Date; notAfter?: Date }): IssuedCertificate {
  const keys = generateRsaKeys();
  const notBefore = opts.notBefore ?? new Date(Date.now() - DEFAULT_BACKDATE_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + DEFAULT_CA_LIFETIME_MS);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = [{ shortName: 'CN', value: opts.commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signNatively(cert, keys.keyPem);
  return finish(cert, keys.keyPem);
}

export function issueCertificate(
  issuer: IssuedCertificate,
  opts: {
    commonName: string;
    notBefore?: Date;
    notAfter?: Date;
    usage: 'client' | 'server' | 'both';
    altNames?: string[];
    serialNumber?: string;
  },
): IssuedCertificate {
  const issuerCert = forge.pki.certificateFromPem(issuer.certPem);
  const keys = generateRsaKeys();
  const notBefore = opts.notBefore ?? new Date(Date.now() - DEFAULT_BACKDATE_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + DEFAULT_LEAF_LIFETIME_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new RangeError(`issueCertificate: notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);
  }
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = opts.serialNumber !== undefined ? normalizeSerial(opts.serialNumber) : randomSerial();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ shortName: 'CN', value: opts.commonName }]);
  cert.setIssuer(issuerCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      serverAuth: opts.usage === 'server' || opts.usage === 'both',
      clientAuth: opts.usage === 'client' || opts.usage === 'both',
    },
    { name: 'subjectKeyIdentifier' },
    // forge's `keyIdentifier: true` would use the subject's own key; the AKI must name the issuer's.
    { name: 'authorityKeyIdentifier', keyIdentifier: issuerCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (opts.altNames !== undefined && opts.altNames.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: opts.altNames.map((n) => (isIP(n) !== 0 ? { type: 7, ip: n } : { type: 2, value: n })),
    });
  }
  cert.setExtensions(extensions);
  signNatively(cert, issuer.keyPem);
  return finish(cert, keys.keyPem);
}

export function thumbprintOfPem(certPem: string): string {
  return thumbprintOfDer(pemToDer(certPem));
}

export function thumbprintOfDer(der: Uint8Array): string {
  return createHash('sha1').update(der).digest('hex').toUpperCase();
}

/** Key Vault's `x5t` is base64url(SHA-1 of the DER certificate) without padding. */
export function x5tToThumbprint(x5t: string): string {
  const trimmed = x5t.trim();
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(trimmed)) {
    throw new CertificateFormatError('Corrupt', 'x5t is not base64url text');
  }
  const bytes = Buffer.from(trimmed.replace(/=+$/, ''), 'base64url');
  if (bytes.length !== 20) {
    throw new CertificateFormatError('Corrupt', `x5t must encode a 20-byte SHA-1 digest, got ${bytes.length} bytes`);
  }
  return bytes.toString('hex').toUpperCase();
}

export function thumbprintToX5t(thumbprint: string): string {
  const hex = thumbprint.trim();
  if (!/^[0-9A-Fa-f]{40}$/.test(hex)) {
    throw new CertificateFormatError('Corrupt', 'a thumbprint must be 40 hexadecimal characters');
  }
  return Buffer.from(hex, 'hex').toString('base64url');
}

export function describeCertificate(certPem: string): CertificateDescription {
  // node's X509Certificate (OpenSSL) rather than forge: it also reads EC certificates, which Key Vault issues.
  const x509 = parseX509(pemToDer(certPem));
  const subject = formatDistinguishedName(x509.subject);
  const issuer = formatDistinguishedName(x509.issuer);
  const description: CertificateDescription = {
    subject,
    issuer,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    thumbprint: x509.fingerprint.replace(/:/g, '').toUpperCase(),
    serialNumber: x509.serialNumber.toUpperCase(),
  };
  const subjectCommonName = commonNameOf(x509.subject);
  const issuerCommonName = commonNameOf(x509.issuer);
  if (subjectCommonName !== undefined) description.subjectCommonName = subjectCommonName;
  if (issuerCommonName !== undefined) description.issuerCommonName = issuerCommonName;
  return description;
}

/** DER of the first CERTIFICATE block of `certPem`. */
export function pemToDer(certPem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/.exec(certPem);
  if (match === null) {
    throw new CertificateFormatError('NoCertificate', 'no PEM "CERTIFICATE" block found');
  }
  const der = Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
  if (der.length === 0) throw new CertificateFormatError('Corrupt', 'the PEM "CERTIFICATE" block is empty');
  return der;
}

export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    return parseX509(pemToDer(certPem)).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/**
 * True when `certPem` was signed by one of `caPems`: the issuer DN equals the CA's subject AND the signature
 * verifies with the CA's public key. A certificate that only copies a CA's name fails the second check. This
 * is one link (no path building, no validity-period or revocation check: callers check dates themselves).
 */
export function verifyIssuedBy(certPem: string, caPems: string[]): boolean {
  let cert: X509Certificate;
  try {
    cert = parseX509(pemToDer(certPem));
  } catch {
    return false;
  }
  for (const caPem of caPems) {
    let ca: X509Certificate;
    try {
      ca = parseX509(pemToDer(caPem));
    } catch {
      continue;
    }
    if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return true;
  }
  return false;
}

/** Every CERTIFICATE block of a PEM text, in order (several CAs are often pasted into one setting). */
export function splitPemCertificates(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => derToPem(pemToDer(b)));
}

function parseX509(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new CertificateFormatError('Corrupt', 'the certificate is not a readable X.509 DER structure', { cause: err });
  }
}

// node formats names one RDN per line ("CN=a\nO=b"); App Service and Key Vault show "CN=a, O=b".
function formatDistinguishedName(name: string): string {
  return name.split('\n').filter((l) => l.length > 0).join(', ');
}

function commonNameOf(name: string): string | undefined {
  const line = name.split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3);
}

function generateRsaKeys(): { publicKey: forge.pki.rsa.PublicKey; keyPem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // PKCS#8 ("BEGIN PRIVATE KEY"), the form Key Vault's PEM secrets use.
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return { publicKey: forge.pki.publicKeyFromPem(publicPem) as forge.pki.rsa.PublicKey, keyPem };
}

// What forge's cert.sign(key, sha256) does, with the RSA operation done by OpenSSL.
function signNatively(cert: forge.pki.Certificate, signerKeyPem: string): void {
  const algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  const mutable = cert as forge.pki.Certificate & { tbsCertificate?: forge.asn1.Asn1; signatureOid: string | null };
  mutable.signatureOid = algorithmOid;
  cert.siginfo.algorithmOid = algorithmOid;
  // getTBSCertificate is public in forge but missing from @types/node-forge.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  mutable.tbsCertificate = tbs;
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', tbsDer, createPrivateKey(signerKeyPem)).toString('binary');
}

// 16 random bytes with the top bit cleared: DER INTEGERs are signed and serials must be positive (RFC 5280).
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  if (bytes[0] === 0) bytes[0] = 0x01;
  return bytes.toString('hex');
}

function normalizeSerial(serial: string): string {
  let hex = serial.trim().replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,40}$/.test(hex)) {
    throw new RangeError('issueCertificate: serialNumber must be 1 to 40 hexadecimal characters');
  }
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return hex;
}

function finish(cert: forge.pki.Certificate, keyPem: string): IssuedCertificate {
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return { certPem: derToPem(der), keyPem, thumbprint: thumbprintOfDer(der) };
}
