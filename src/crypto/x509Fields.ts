// The certificate fields a trust decision needs and node's X509Certificate does not expose: the subject and issuer
// as RDN sequences (not a display string, so two names compare exactly), basicConstraints with its pathLen, the
// keyUsage bits and the extended key usages. A small strict DER reader: one certificate, nothing after it (OpenSSL
// reads a certificate and ignores trailing bytes, so "valid DER + anything" would otherwise pass as the DER alone).
import { CertificateFormatError } from './errors.js';

export interface NameAttribute {
  /** Dotted OID of the attribute type (2.5.4.3 for CN). */
  type: string;
  /** The value as text (string types decoded; any other type as `#` + hex of its DER, as RFC 4514 writes it). */
  value: string;
}

/** One RDN: a set of attributes (almost always exactly one). */
export type RelativeDistinguishedName = NameAttribute[];

export type KeyUsageBit =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign'
  | 'encipherOnly'
  | 'decipherOnly';

const KEY_USAGE_BITS: readonly KeyUsageBit[] = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export interface CertificateFields {
  /** RDNs in certificate order (the first is the most significant, usually C or DC). */
  subject: RelativeDistinguishedName[];
  issuer: RelativeDistinguishedName[];
  /** Absent when the certificate has no basicConstraints extension (then it is not a CA). */
  basicConstraints?: { ca: boolean; pathLength?: number };
  /** Absent when the certificate has no keyUsage extension. */
  keyUsage?: KeyUsageBit[];
  /** Dotted OIDs; absent when the certificate has no extendedKeyUsage extension. */
  extendedKeyUsage?: string[];
}

interface Element {
  tag: number;
  /** Offset of the tag byte. */
  offset: number;
  /** Offset of the content. */
  start: number;
  /** Offset just after the content. */
  end: number;
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';

/**
 * Reads one DER certificate. Throws CertificateFormatError (`Corrupt`) when the bytes are not exactly one
 * well-formed certificate: bad lengths, bytes after the certificate, a repeated extension.
 */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const certificate = element(bytes, 0, bytes.length);
  if (certificate.end !== bytes.length) {
    throw corrupt(`${bytes.length - certificate.end} byte(s) follow the certificate`);
  }
  expectTag(certificate, 0x30, 'certificate');
  const [tbs, algorithm, signature, ...extra] = children(bytes, certificate);
  if (tbs === undefined || algorithm === undefined || signature === undefined || extra.length > 0) {
    throw corrupt('a certificate has three parts (to-be-signed, algorithm, signature)');
  }
  expectTag(tbs, 0x30, 'tbsCertificate');
  const parts = children(bytes, tbs);
  let i = 0;
  if (parts[i]?.tag === 0xa0) i += 1; // version
  const [, , issuer, , subject] = parts.slice(i, i + 5); // serial, signature, issuer, validity, subject
  if (issuer === undefined || subject === undefined) throw corrupt('the to-be-signed certificate is incomplete');
  const fields: CertificateFields = { issuer: readName(bytes, issuer), subject: readName(bytes, subject) };

  const extensionsWrapper = parts.slice(i + 6).find((p) => p.tag === 0xa3);
  if (extensionsWrapper === undefined) return fields;
  const [extensions] = children(bytes, extensionsWrapper);
  if (extensions === undefined) throw corrupt('empty extensions');
  expectTag(extensions, 0x30, 'extensions');
  const seen = new Set<string>();
  for (const extension of children(bytes, extensions)) {
    expectTag(extension, 0x30, 'extension');
    const items = children(bytes, extension);
    const oid = readOid(bytes, items[0]);
    if (seen.has(oid)) throw corrupt(`extension ${oid} appears more than once`);
    seen.add(oid);
    const value = items.at(-1);
    if (value === undefined || value.tag !== 0x04) throw corrupt(`extension ${oid} has no value`);
    const [inner] = children(bytes, value);
    if (inner === undefined || inner.end !== value.end) throw corrupt(`extension ${oid} is not one DER value`);
    if (oid === OID_BASIC_CONSTRAINTS) fields.basicConstraints = readBasicConstraints(bytes, inner);
    else if (oid === OID_KEY_USAGE) fields.keyUsage = readKeyUsage(bytes, inner);
    else if (oid === OID_EXT_KEY_USAGE) fields.extendedKeyUsage = children(bytes, inner).map((e) => readOid(bytes, e));
  }
  return fields;
}

/**
 * The length of the DER element at the start of `bytes` (tag, length and content), or undefined when the bytes do
 * not start with a well-formed definite-length element.
 */
export function derElementLength(bytes: Uint8Array): number | undefined {
  try {
    return element(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, bytes.length).end;
  } catch {
    return undefined;
  }
}

function readBasicConstraints(bytes: Buffer, value: Element): { ca: boolean; pathLength?: number } {
  expectTag(value, 0x30, 'basicConstraints');
  const result: { ca: boolean; pathLength?: number } = { ca: false };
  for (const item of children(bytes, value)) {
    if (item.tag === 0x01) result.ca = item.end - item.start === 1 && bytes[item.start] !== 0;
    else if (item.tag === 0x02) {
      const length = item.end - item.start;
      if (length < 1 || length > 4 || (bytes[item.start]! & 0x80) !== 0) throw corrupt('basicConstraints pathLenConstraint is out of range');
      result.pathLength = bytes.readUIntBE(item.start, length);
    } else throw corrupt('basicConstraints has an unexpected field');
  }
  return result;
}

function readKeyUsage(bytes: Buffer, value: Element): KeyUsageBit[] {
  expectTag(value, 0x03, 'keyUsage');
  const content = bytes.subarray(value.start + 1, value.end);
  const bits: KeyUsageBit[] = [];
  KEY_USAGE_BITS.forEach((name, index) => {
    const byte = content[index >> 3];
    if (byte !== undefined && (byte & (0x80 >> (index & 7))) !== 0) bits.push(name);
  });
  return bits;
}

function readName(bytes: Buffer, name: Element): RelativeDistinguishedName[] {
  expectTag(name, 0x30, 'name');
  return children(bytes, name).map((rdn) => {
    expectTag(rdn, 0x31, 'relative distinguished name');
    const attributes = children(bytes, rdn).map((attribute) => {
      expectTag(attribute, 0x30, 'name attribute');
      const [type, value, ...rest] = children(bytes, attribute);
      if (value === undefined || rest.length > 0) throw corrupt('a name attribute is a type and one value');
      return { type: readOid(bytes, type), value: readString(bytes, value) };
    });
    if (attributes.length === 0) throw corrupt('an empty relative distinguished name');
    return attributes;
  });
}

function readString(bytes: Buffer, value: Element): string {
  const content = bytes.subarray(value.start, value.end);
  switch (value.tag) {
    case 0x0c: // UTF8String
      return content.toString('utf8');
    case 0x12: // NumericString
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return content.toString('ascii');
    case 0x14: // TeletexString: in practice Latin-1
      return content.toString('latin1');
    case 0x1e: // BMPString: UTF-16BE
      return Buffer.from(content).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString: UTF-32BE
      let text = '';
      for (let i = 0; i + 3 < content.length; i += 4) text += String.fromCodePoint(content.readUInt32BE(i));
      return text;
    }
    default:
      return `#${bytes.subarray(value.offset, value.end).toString('hex')}`;
  }
}

function readOid(bytes: Buffer, oid: Element | undefined): string {
  if (oid === undefined || oid.tag !== 0x06 || oid.end === oid.start) throw corrupt('expected an object identifier');
  const parts: number[] = [];
  let value = 0;
  for (let i = oid.start; i < oid.end; i += 1) {
    const byte = bytes[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw corrupt('an object identifier arc is too large');
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  if ((bytes[oid.end - 1]! & 0x80) !== 0) throw corrupt('an object identifier ends mid-arc');
  return parts.join('.');
}

function element(bytes: Buffer, offset: number, limit: number): Element {
  if (offset + 2 > limit) throw corrupt('truncated');
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw corrupt('high tag numbers are not used in certificates');
  const first = bytes[offset + 1]!;
  let length: number;
  let start: number;
  if (first < 0x80) {
    length = first;
    start = offset + 2;
  } else {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length, never valid DER; four length bytes cover any certificate.
    if (count === 0 || count > 4 || offset + 2 + count > limit) throw corrupt('bad length');
    length = bytes.readUIntBE(offset + 2, count);
    if (length < 0x80 || (count > 1 && bytes[offset + 2] === 0)) throw corrupt('non-minimal length (not DER)');
    start = offset + 2 + count;
  }
  const end = start + length;
  if (end > limit) throw corrupt('a length runs past its container');
  return { tag, offset, start, end };
}

function children(bytes: Buffer, parent: Element): Element[] {
  const out: Element[] = [];
  let offset = parent.start;
  while (offset < parent.end) {
    const child = element(bytes, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

function expectTag(value: Element, tag: number, what: string): void {
  if (value.tag !== tag) throw corrupt(`${what}: unexpected DER tag 0x${value.tag.toString(16)}`);
}

function corrupt(detail: string): CertificateFormatError {
  return new CertificateFormatError('Corrupt', `not one well-formed DER certificate: ${detail}`);
}
