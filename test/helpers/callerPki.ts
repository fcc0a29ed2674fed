// Certificates for the API-caller tests, assembled field by field so that each test can get exactly the defect it
// needs (a leaf used as a CA, an intermediate without the CA flag, a pathLen, a copied issuer name with another
// key, names with several RDNs in a chosen order). EC P-256 keys: a fresh key takes a millisecond, so every test can
// have its own PKI. The DER is written here (a few encoders) because the project's issuer (src/crypto/pki.ts) only
// makes well-behaved certificates, which is its job.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface TestCertificate {
  der: Buffer;
  pem: string;
  /** Base64 DER, as App Service puts it in X-ARR-ClientCert. */
  header: string;
  key: KeyObject;
  thumbprint: string;
  /** The subject as [type, value] pairs in certificate order. */
  subject: Array<[string, string]>;
}

export interface CertificateSpec {
  /** [type, value] in certificate order (C/O first, CN last, as most CAs write them); a string is a CN. */
  subject: Array<[string, string]> | string;
  /** Signed by this certificate's key and named after its subject; omitted = self-signed. */
  issuer?: TestCertificate;
  /** Overrides the issuer name written into the certificate (a spoof). */
  issuerName?: Array<[string, string]>;
  /** Overrides the signing key (a spoof: the right names, another key). */
  signingKey?: KeyObject;
  /** basicConstraints: true/false writes the extension; undefined leaves it out. */
  ca?: boolean;
  pathLength?: number;
  /** keyUsage bits; null leaves the extension out. Default: CA → keyCertSign+cRLSign, else digitalSignature. */
  keyUsage?: string[] | null;
  /** Extended key usage OIDs; null leaves it out. Default: clientAuth for a non-CA. */
  extendedKeyUsage?: string[] | null;
  notBefore?: Date;
  notAfter?: Date;
}

const DAY = 86_400_000;
export const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const TYPES: Record<string, string> = { CN: '2.5.4.3', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8', O: '2.5.4.10', OU: '2.5.4.11', DC: '0.9.2342.19200300.100.1.25' };
const KEY_USAGE = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

export function makeCertificate(spec: CertificateSpec): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const subject = typeof spec.subject === 'string' ? ([['CN', spec.subject]] as Array<[string, string]>) : spec.subject;
  const issuerName = spec.issuerName ?? spec.issuer?.subject ?? subject;
  const signingKey = spec.signingKey ?? spec.issuer?.key ?? privateKey;
  const notBefore = spec.notBefore ?? new Date(Date.now() - DAY);
  const isCa = spec.ca === true;
  const notAfter = spec.notAfter ?? new Date(Date.now() + (isCa ? 3650 : 365) * DAY);

  const extensions: Buffer[] = [];
  if (spec.ca !== undefined) {
    const fields = [...(isCa ? [tlv(0x01, Buffer.from([0xff]))] : []), ...(spec.pathLength !== undefined ? [integer(spec.pathLength)] : [])];
    extensions.push(extension('2.5.29.19', true, seq(...fields)));
  }
  const keyUsage = spec.keyUsage === undefined ? (isCa ? ['keyCertSign', 'cRLSign'] : ['digitalSignature']) : spec.keyUsage;
  if (keyUsage !== null) extensions.push(extension('2.5.29.15', true, keyUsageBits(keyUsage)));
  const eku = spec.extendedKeyUsage === undefined ? (isCa ? null : [CLIENT_AUTH]) : spec.extendedKeyUsage;
  if (eku !== null) extensions.push(extension('2.5.29.37', false, seq(...eku.map(oid))));

  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    tlv(0xa0, integer(2)),
    tlv(0x02, Buffer.concat([Buffer.from([0x01]), createHash('sha256').update(spki).update(String(Math.random())).digest().subarray(0, 15)])),
    ecdsaWithSha256,
    name(issuerName),
    seq(time(notBefore), time(notAfter)),
    name(subject),
    spki,
    ...(extensions.length > 0 ? [tlv(0xa3, seq(...extensions))] : []),
  );
  const signature = sign('sha256', tbs, signingKey);
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString('base64');
  return {
    der,
    pem: `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
    header: b64,
    key: privateKey,
    thumbprint: createHash('sha1').update(der).digest('hex').toUpperCase(),
    subject,
  };
}

/** A root CA (CA:TRUE, keyCertSign) and shorthand for what it issues. */
export function makeCa(commonName: string, extra: Partial<CertificateSpec> = {}): TestCertificate {
  return makeCertificate({ subject: [['O', 'Contoso'], ['CN', commonName]], ca: true, ...extra });
}

export function issue(issuer: TestCertificate, subject: CertificateSpec['subject'], extra: Partial<CertificateSpec> = {}): TestCertificate {
  return makeCertificate({ subject, issuer, ...extra });
}

function name(rdns: Array<[string, string]>): Buffer {
  return seq(...rdns.map(([type, value]) => tlv(0x31, seq(oid(TYPES[type] ?? type), tlv(0x0c, Buffer.from(value, 'utf8'))))));
}

function keyUsageBits(names: string[]): Buffer {
  const indexes = names.map((n) => KEY_USAGE.indexOf(n)).filter((i) => i >= 0);
  if (indexes.length === 0) return tlv(0x03, Buffer.from([0]));
  const highest = Math.max(...indexes);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const i of indexes) bytes[i >> 3]! |= 0x80 >> (i & 7);
  return tlv(0x03, Buffer.concat([Buffer.from([7 - (highest & 7)]), bytes]));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

function time(date: Date): Buffer {
  const iso = date.toISOString();
  const compact = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  // RFC 5280: UTCTime through 2049, GeneralizedTime after.
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(compact.slice(2), 'ascii')) : tlv(0x18, Buffer.from(compact, 'ascii'));
}

function integer(value: number): Buffer {
  const hex = value.toString(16).padStart(2, '0');
  let bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
