// X.509 helpers on node's own X509Certificate (OpenSSL): thumbprints the way App Service and Key Vault write them,
// PEM/DER, describing and checking certificates. Apart from pki.ts (certificate issuance, which needs forge to
// assemble the structure), so that what only reads certificates (the Key Vault adapter, a scan) loads no forge.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { CertificateFormatError } from './errors.js';

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

/** Public facts of a certificate that the candidate policy judges. */
export interface CertificateFacts {
  /** 'rsa', 'ec', 'ed25519', ... (node's asymmetricKeyType). */
  keyType: string;
  /** RSA modulus length. */
  keyBits?: number;
  /** EC named curve (OpenSSL name, e.g. prime256v1). */
  curve?: string;
  /** basicConstraints CA:TRUE. */
  ca: boolean;
  /** Extended key usage OIDs; undefined when the certificate has no EKU extension (any use). */
  extendedKeyUsages?: string[];
  notBefore: Date;
  notAfter: Date;
}

/** What the candidate policy judges (key strength, CA flag, EKU, validity), read by OpenSSL from the certificate. */
export function certificateFacts(certPem: string): CertificateFacts {
  const x509 = parseX509(pemToDer(certPem));
  const key = x509.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  // node reports the EKU extension as `keyUsage` (OIDs); undefined when the certificate has none.
  const ekus = (x509 as X509Certificate & { keyUsage?: string[] }).keyUsage;
  return {
    keyType: key.asymmetricKeyType ?? 'unknown',
    ...(details.modulusLength !== undefined ? { keyBits: details.modulusLength } : {}),
    ...(details.namedCurve !== undefined ? { curve: details.namedCurve } : {}),
    ca: x509.ca,
    ...(ekus !== undefined ? { extendedKeyUsages: [...ekus] } : {}),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}
