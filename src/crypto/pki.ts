// Certificate issuance for the sandbox and tests (the reading helpers live in x509.ts and are re-exported here).
// forge only assembles the certificate structure; key
// generation and signing are native (node:crypto), far faster than forge's pure-JS RSA. RSA-2048 key
// generation still dominates (~150 ms on a busy core), so callers that need many certificates cache them.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { derToPem, pemToDer, thumbprintOfDer } from './x509.js';

export * from './x509.js';

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  /** Uppercase hex SHA-1 of the DER certificate (App Service form). */
  thumbprint: string;
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
