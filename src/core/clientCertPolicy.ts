// Who may call the HTTP API with a client certificate: the settings (read once, by loadConfig, with every problem
// naming its setting) and the decision on one certificate (a verified chain to a configured anchor, then the
// allow-lists). The one parser and the one verifier; the HTTP layer (src/functions/auth/clientCert.ts) only reads
// the header and maps the verdict to a status.
//
// Trust anchors and intermediates must be CA certificates allowed to sign certificates (basicConstraints CA:TRUE
// and keyUsage keyCertSign): a leaf configured as an anchor would let whoever holds its key mint callers.
// Chain building uses only configured certificates; the caller sends exactly one (its own).
import { X509Certificate } from 'node:crypto';
import { readCertificateFields, type CertificateFields, type RelativeDistinguishedName } from '../crypto/x509Fields.js';
import { normaliseThumbprint } from './thumbprints.js';

export const CLIENT_CERT_SETTINGS = {
  mode: 'CLIENT_CERT_AUTH',
  anchors: 'CLIENT_CERT_TRUSTED_CA',
  intermediates: 'CLIENT_CERT_INTERMEDIATES',
  thumbprints: 'CLIENT_CERT_ALLOWED_THUMBPRINTS',
  subjects: 'CLIENT_CERT_ALLOWED_SUBJECTS',
} as const;

/** One entry of CLIENT_CERT_ALLOWED_SUBJECTS: the exact subject and issuer names of an allowed caller. */
export interface AllowedCallerName {
  /** RDNs in certificate order, attribute types as dotted OIDs. */
  subject: RelativeDistinguishedName[];
  issuer: RelativeDistinguishedName[];
  /** The entry as normalised text (`<subject> | <issuer>`), for messages. */
  text: string;
}

export type ClientCertSettings =
  | { mode: 'off' }
  | {
      mode: 'required';
      /** One PEM per anchor, each checked to be a CA allowed to sign certificates. */
      trustedCaPems: string[];
      /** One PEM per intermediate CA available for chain building (not trusted on its own). */
      intermediatePems: string[];
      /** Uppercase thumbprints; undefined when not set. */
      allowedThumbprints?: string[];
      /** Undefined when not set. */
      allowedNames?: AllowedCallerName[];
    };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the client-certificate settings. With CLIENT_CERT_AUTH off (or unset) nothing else is read, so a stale or
 * broken CA setting cannot take the API down while the check is off. Problems name their setting and never echo
 * certificate text.
 */
export function readClientCertSettings(env: Env): { settings: ClientCertSettings; problems: string[] } {
  const rawMode = (env[CLIENT_CERT_SETTINGS.mode] ?? '').trim().toLowerCase();
  if (rawMode === '' || rawMode === 'off') return { settings: { mode: 'off' }, problems: [] };
  if (rawMode !== 'required') {
    return { settings: { mode: 'off' }, problems: [`${CLIENT_CERT_SETTINGS.mode} must be one of off, required, got '${truncate(env[CLIENT_CERT_SETTINGS.mode] ?? '')}'`] };
  }
  const problems: string[] = [];
  const anchorsValue = env[CLIENT_CERT_SETTINGS.anchors];
  let trustedCaPems: string[] = [];
  if (anchorsValue === undefined || anchorsValue.trim() === '') {
    problems.push(`${CLIENT_CERT_SETTINGS.anchors} is required when ${CLIENT_CERT_SETTINGS.mode} is 'required' (PEM of the CA(s) that issue API client certificates, or base64 of that PEM)`);
  } else {
    trustedCaPems = readCaCertificates(CLIENT_CERT_SETTINGS.anchors, anchorsValue, problems);
  }
  const intermediatesValue = env[CLIENT_CERT_SETTINGS.intermediates];
  const intermediatePems =
    intermediatesValue === undefined || intermediatesValue.trim() === '' ? [] : readCaCertificates(CLIENT_CERT_SETTINGS.intermediates, intermediatesValue, problems);
  const allowedThumbprints = readThumbprints(env[CLIENT_CERT_SETTINGS.thumbprints], problems);
  const allowedNames = readAllowedNames(env[CLIENT_CERT_SETTINGS.subjects], problems);
  const settings: ClientCertSettings = { mode: 'required', trustedCaPems, intermediatePems };
  if (allowedThumbprints !== undefined) settings.allowedThumbprints = allowedThumbprints;
  if (allowedNames !== undefined) settings.allowedNames = allowedNames;
  return { settings, problems };
}

// ---------------------------------------------------------------------------------------------------------
// CA certificates

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

function readCaCertificates(setting: string, value: string, problems: string[]): string[] {
  // The portal and many pipelines store multi-line values with literal "\n" sequences.
  let text = value.trim().replace(/\\r\\n|\\n/g, '\n');
  if (!text.includes('-----BEGIN')) {
    const compact = text.replace(/\s+/g, '');
    const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(compact) ? Buffer.from(compact, 'base64').toString('utf8') : '';
    if (!decoded.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push(`${setting} must be PEM certificates ("-----BEGIN CERTIFICATE-----") or base64 of that PEM text`);
      return [];
    }
    text = decoded;
  }
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    problems.push(`${setting} contains no complete "-----BEGIN CERTIFICATE-----" … "-----END CERTIFICATE-----" block`);
    return [];
  }
  const pems: string[] = [];
  const seen = new Set<string>();
  blocks.forEach((block, index) => {
    const label = blocks.length > 1 ? `${setting} certificate ${index + 1} of ${blocks.length}` : setting;
    const body = block[1]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
      problems.push(`${label} is not valid base64 inside its PEM block`);
      return;
    }
    const der = Buffer.from(body, 'base64');
    let parsed: ParsedCertificate;
    try {
      parsed = parseCertificate(der);
    } catch {
      problems.push(`${label} is not a readable X.509 certificate`);
      return;
    }
    const problem = caProblem(parsed.fields);
    if (problem !== undefined) {
      problems.push(`${label} (${parsed.subjectText}) ${problem}; configure the issuing CA, not a client certificate`);
      return;
    }
    if (seen.has(parsed.thumbprint)) return;
    seen.add(parsed.thumbprint);
    pems.push(parsed.pem);
  });
  return pems;
}

/** Why a certificate may not sign other certificates, or undefined when it may. */
function caProblem(fields: CertificateFields): string | undefined {
  if (fields.basicConstraints === undefined) return 'is not a CA certificate (it has no basicConstraints CA:TRUE)';
  if (!fields.basicConstraints.ca) return 'is not a CA certificate (basicConstraints CA:FALSE)';
  if (fields.keyUsage === undefined) return 'has no keyUsage extension, so it does not declare keyCertSign';
  if (!fields.keyUsage.includes('keyCertSign')) return 'may not sign certificates (keyUsage lacks keyCertSign)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Thumbprint allow-list

function readThumbprints(value: string | undefined, problems: string[]): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const out: string[] = [];
  for (const entry of value.split(/[,;\n]/).map((e) => e.trim()).filter((e) => e !== '')) {
    // Copied from the Windows certificate dialog a thumbprint starts with an invisible U+200E and has spaces between
    // bytes; from OpenSSL (`-fingerprint`) it has colons.
    const thumbprint = normaliseThumbprint(entry.replace(/[\u200e\u200f\u202a-\u202e\ufeff\s:]/g, ''));
    if (thumbprint === undefined) {
      problems.push(`${CLIENT_CERT_SETTINGS.thumbprints} entry '${truncate(entry)}' is not a SHA-1 thumbprint (40 hexadecimal characters; spaces and colons are allowed)`);
    } else if (!out.includes(thumbprint)) {
      out.push(thumbprint);
    }
  }
  return out.length > 0 ? out : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Subject and issuer allow-list
//
// Syntax: entries separated by ";" or new lines; each entry is `<subject> | <issuer>`, both distinguished names
// written as RFC 4514 strings (most specific RDN first, as `openssl x509 -noout -subject -nameopt RFC2253`, Windows
// and Key Vault show them): `CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso`. Attribute types are
// case-insensitive short names (CN, O, OU, C, L, ST, DC, …) or dotted OIDs; "+" joins a multi-valued RDN; "\"
// escapes , + ; | = \ " < > # and spaces, or writes a byte as two hex digits. Values compare exactly (case and
// spaces count), RDNs in order: a name is an identity, not a pattern.

const ATTRIBUTE_TYPES: Record<string, string> = {
  CN: '2.5.4.3', COMMONNAME: '2.5.4.3',
  SN: '2.5.4.4', SURNAME: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6', COUNTRYNAME: '2.5.4.6',
  L: '2.5.4.7', LOCALITYNAME: '2.5.4.7',
  ST: '2.5.4.8', S: '2.5.4.8', STATEORPROVINCENAME: '2.5.4.8',
  STREET: '2.5.4.9', STREETADDRESS: '2.5.4.9',
  O: '2.5.4.10', ORGANIZATIONNAME: '2.5.4.10',
  OU: '2.5.4.11', ORGANIZATIONALUNITNAME: '2.5.4.11',
  T: '2.5.4.12', TITLE: '2.5.4.12',
  G: '2.5.4.42', GN: '2.5.4.42', GIVENNAME: '2.5.4.42',
  INITIALS: '2.5.4.43',
  DNQUALIFIER: '2.5.4.46',
  PSEUDONYM: '2.5.4.65',
  ORGANIZATIONIDENTIFIER: '2.5.4.97',
  DC: '0.9.2342.19200300.100.1.25', DOMAINCOMPONENT: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1', USERID: '0.9.2342.19200300.100.1.1',
  E: '1.2.840.113549.1.9.1', EMAIL: '1.2.840.113549.1.9.1', EMAILADDRESS: '1.2.840.113549.1.9.1',
};

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.4': 'SN', '2.5.4.5': 'SERIALNUMBER', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.12': 'T', '2.5.4.42': 'G', '2.5.4.43': 'INITIALS',
  '2.5.4.46': 'DNQUALIFIER', '2.5.4.65': 'PSEUDONYM', '2.5.4.97': 'ORGANIZATIONIDENTIFIER',
  '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID', '1.2.840.113549.1.9.1': 'E',
};

/** Bounds what an operator can paste: a list, not a directory. */
const MAX_ALLOWED_NAMES = 100;

function readAllowedNames(value: string | undefined, problems: string[]): AllowedCallerName[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const setting = CLIENT_CERT_SETTINGS.subjects;
  const entries = splitUnescaped(value.replace(/\\r\\n|\\n/g, '\n'), /[;\n]/).map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length > MAX_ALLOWED_NAMES) {
    problems.push(`${setting} lists ${entries.length} entries; at most ${MAX_ALLOWED_NAMES} are allowed`);
    return undefined;
  }
  const out: AllowedCallerName[] = [];
  for (const entry of entries) {
    const halves = splitUnescaped(entry, /\|/);
    if (halves.length !== 2 || halves[0]!.trim() === '' || halves[1]!.trim() === '') {
      problems.push(`${setting} entry '${truncate(entry)}' must be '<subject> | <issuer>', e.g. 'CN=ops-cli,O=Contoso | CN=Contoso Issuing CA'`);
      continue;
    }
    try {
      const subject = parseDistinguishedName(halves[0]!);
      const issuer = parseDistinguishedName(halves[1]!);
      out.push({ subject, issuer, text: `${formatDistinguishedName(subject)} | ${formatDistinguishedName(issuer)}` });
    } catch (error) {
      problems.push(`${setting} entry '${truncate(entry)}': ${(error as Error).message}`);
    }
  }
  return out.length > 0 ? out : undefined;
}

/** An RFC 4514 string → RDNs in certificate order (the string lists them most specific first). */
export function parseDistinguishedName(text: string): RelativeDistinguishedName[] {
  const rdns = splitUnescaped(text.trim(), /,/).map((rdn) =>
    splitUnescaped(rdn, /\+/).map((attribute) => {
      const [rawType, ...rest] = splitUnescaped(attribute, /=/);
      if (rest.length === 0) throw new Error(`'${truncate(attribute.trim())}' is not TYPE=value`);
      const type = attributeTypeOid(rawType!.trim());
      return { type, value: unescapeValue(rest.join('=')) };
    }),
  );
  if (rdns.length === 0) throw new Error('an empty name');
  return rdns.reverse();
}

function attributeTypeOid(name: string): string {
  const dotted = name.replace(/^OID\./i, '');
  if (/^\d+(\.\d+)+$/.test(dotted)) return dotted;
  const oid = ATTRIBUTE_TYPES[name.toUpperCase()];
  if (oid === undefined) throw new Error(`unknown attribute type '${truncate(name)}' (use CN, O, OU, C, L, ST, DC, UID, E, … or a dotted OID)`);
  return oid;
}

function unescapeValue(raw: string): string {
  // Unescaped spaces around a value are layout, escaped ones are part of it.
  let text = raw.replace(/^\s+/, '');
  text = text.replace(/(?<!\\)\s+$/, '');
  if (text === '') throw new Error('an attribute without a value');
  const bytes: number[] = [];
  const out: string[] = [];
  const flush = () => {
    if (bytes.length > 0) out.push(Buffer.from(bytes).toString('utf8'));
    bytes.length = 0;
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (ch !== '\\') {
      flush();
      out.push(ch);
      continue;
    }
    const next = text.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(next)) {
      bytes.push(parseInt(next, 16));
      i += 2;
    } else if (i + 1 < text.length) {
      flush();
      out.push(text[i + 1]!);
      i += 1;
    } else {
      throw new Error('a value ends with a lone "\\"');
    }
  }
  flush();
  return out.join('');
}

/** Splits on separators that are not escaped with "\". */
function splitUnescaped(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[i + 1]!;
      i += 1;
    } else if (separator.test(ch)) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** RDNs (certificate order) → the RFC 4514 string, most specific first, with short attribute names. */
export function formatDistinguishedName(rdns: readonly RelativeDistinguishedName[]): string {
  return [...rdns]
    .reverse()
    .map((rdn) => rdn.map((a) => `${SHORT_NAMES[a.type] ?? a.type}=${escapeValue(a.value)}`).join('+'))
    .join(',');
}

function escapeValue(value: string): string {
  if (value.startsWith('#') && /^#[0-9a-f]+$/.test(value)) return value; // a non-string value, already hex
  return value
    .replace(/[\\,+;|"=<>]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Same RDNs in the same order, each with the same attributes (a set) and byte-for-byte the same values. */
export function sameDistinguishedName(a: readonly RelativeDistinguishedName[], b: readonly RelativeDistinguishedName[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((rdn, i) => {
    const other = b[i]!;
    if (rdn.length !== other.length) return false;
    const key = (x: { type: string; value: string }) => `${x.type}\u0000${x.value}`;
    const mine = rdn.map(key).sort();
    const theirs = other.map(key).sort();
    return mine.every((k, j) => k === theirs[j]);
  });
}

// ---------------------------------------------------------------------------------------------------------
// The decision on one certificate

export type ClientCertRejection =
  | 'ClientCertificateUnreadable'
  | 'ClientCertificateIsCa'
  | 'ClientCertificateWrongUsage'
  | 'ClientCertificateUntrusted'
  | 'ClientCertificateIssuerNotCa'
  | 'ClientCertificateIssuerNotValid'
  | 'ClientCertificatePathTooLong'
  | 'ClientCertificateNotYetValid'
  | 'ClientCertificateExpired'
  | 'ClientCertificateNotAllowed';

/** The authenticated caller, as records and telemetry name it. */
export interface CertificateCaller {
  thumbprint: string;
  /** RFC 4514, most specific first. */
  subject: string;
  issuer: string;
  notAfter: Date;
}

export type ClientCertVerdict =
  | { ok: true; caller: CertificateCaller }
  | { ok: false; code: ClientCertRejection; reason: string; thumbprint?: string };

interface ParsedCertificate {
  x509: X509Certificate;
  fields: CertificateFields;
  pem: string;
  thumbprint: string;
  subjectText: string;
  notBefore: Date;
  notAfter: Date;
}

function parseCertificate(der: Buffer): ParsedCertificate {
  const fields = readCertificateFields(der); // first: it refuses trailing bytes, which OpenSSL would ignore
  const x509 = new X509Certificate(der);
  return {
    x509,
    fields,
    pem: x509.toString(),
    thumbprint: x509.fingerprint.replace(/:/g, '').toUpperCase(),
    subjectText: formatDistinguishedName(fields.subject),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
/** Issuers between the caller and an anchor; real PKIs use one or two. Bounds the search over configured CAs. */
const MAX_INTERMEDIATES = 5;

type Link = { ok: true } | { ok: false; code: ClientCertRejection; reason: string; rank: number };

/** Verifies client certificates against settings read by readClientCertSettings (parsed once, here). */
export class ClientCertVerifier {
  readonly #anchors: ParsedCertificate[];
  readonly #intermediates: ParsedCertificate[];
  readonly #allowedThumbprints: readonly string[] | undefined;
  readonly #allowedNames: readonly AllowedCallerName[] | undefined;

  constructor(settings: Extract<ClientCertSettings, { mode: 'required' }>) {
    const parse = (pem: string) => parseCertificate(Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ''), 'base64'));
    this.#anchors = settings.trustedCaPems.map(parse);
    this.#intermediates = settings.intermediatePems.map(parse);
    this.#allowedThumbprints = settings.allowedThumbprints;
    this.#allowedNames = settings.allowedNames;
  }

  /** The verdict on one DER certificate at `now`. Never throws. */
  verify(der: Buffer, now: Date): ClientCertVerdict {
    let leaf: ParsedCertificate;
    try {
      leaf = parseCertificate(der);
    } catch {
      return { ok: false, code: 'ClientCertificateUnreadable', reason: 'the client certificate is not one readable X.509 DER certificate' };
    }
    const who = `certificate ${leaf.thumbprint} (${leaf.subjectText})`;
    const reject = (code: ClientCertRejection, reason: string): ClientCertVerdict => ({ ok: false, code, reason: `${who} ${reason}`, thumbprint: leaf.thumbprint });

    if (leaf.fields.basicConstraints?.ca === true) return reject('ClientCertificateIsCa', 'is a CA certificate, not a client certificate');
    const eku = leaf.fields.extendedKeyUsage;
    if (eku !== undefined && !eku.includes(CLIENT_AUTH_EKU) && !eku.includes(ANY_EKU)) {
      return reject('ClientCertificateWrongUsage', 'is not valid for client authentication (extended key usage lacks clientAuth)');
    }
    if (leaf.fields.keyUsage !== undefined && !leaf.fields.keyUsage.includes('digitalSignature')) {
      return reject('ClientCertificateWrongUsage', 'may not sign a TLS handshake (keyUsage lacks digitalSignature)');
    }
    let chain: Link;
    try {
      chain = this.#chain(leaf, 0, new Set([leaf.thumbprint]), now);
    } catch {
      chain = { ok: false, code: 'ClientCertificateUntrusted', reason: 'could not be verified', rank: 0 };
    }
    if (!chain.ok) return reject(chain.code, chain.reason);
    if (now < leaf.notBefore) return reject('ClientCertificateNotYetValid', `is not valid before ${leaf.notBefore.toISOString()}`);
    if (now > leaf.notAfter) return reject('ClientCertificateExpired', `expired at ${leaf.notAfter.toISOString()}`);

    const issuerText = formatDistinguishedName(leaf.fields.issuer);
    if (this.#allowedThumbprints !== undefined || this.#allowedNames !== undefined) {
      const byThumbprint = this.#allowedThumbprints?.includes(leaf.thumbprint) ?? false;
      const byName =
        this.#allowedNames?.some((n) => sameDistinguishedName(n.subject, leaf.fields.subject) && sameDistinguishedName(n.issuer, leaf.fields.issuer)) ?? false;
      if (!byThumbprint && !byName) {
        return reject(
          'ClientCertificateNotAllowed',
          `(issuer ${issuerText}) is trusted but neither its thumbprint (${CLIENT_CERT_SETTINGS.thumbprints}) nor its subject and issuer (${CLIENT_CERT_SETTINGS.subjects}) are allowed`,
        );
      }
    }
    return { ok: true, caller: { thumbprint: leaf.thumbprint, subject: leaf.subjectText, issuer: issuerText, notAfter: leaf.notAfter } };
  }

  /**
   * Finds a path from `cert` up to an anchor through configured certificates only. `below` counts the CA
   * certificates between the issuer looked for and the caller (for pathLen). The most specific failure wins.
   */
  #chain(cert: ParsedCertificate, below: number, visited: Set<string>, now: Date): Link {
    const issuerText = formatDistinguishedName(cert.fields.issuer);
    const candidates = [
      ...this.#anchors.map((c) => ({ c, anchor: true })),
      ...this.#intermediates.map((c) => ({ c, anchor: false })),
    ].filter(({ c }) => !visited.has(c.thumbprint) && sameDistinguishedName(c.fields.subject, cert.fields.issuer));
    let best: Link = {
      ok: false,
      code: 'ClientCertificateUntrusted',
      reason: `is not issued by a trusted CA: its issuer ${issuerText} is none of ${CLIENT_CERT_SETTINGS.anchors}${this.#intermediates.length > 0 ? ` or ${CLIENT_CERT_SETTINGS.intermediates}` : ''}`,
      rank: 0,
    };
    const consider = (link: Link) => {
      if (!link.ok && !best.ok && link.rank > best.rank) best = link;
    };
    for (const { c: issuer, anchor } of candidates) {
      if (!cert.x509.verify(issuer.x509.publicKey)) {
        consider({ ok: false, code: 'ClientCertificateUntrusted', reason: `names ${issuerText} as its issuer, but the signature does not verify with that CA's key`, rank: 1 });
        continue;
      }
      const problem = caProblem(issuer.fields);
      if (problem !== undefined) {
        consider({ ok: false, code: 'ClientCertificateIssuerNotCa', reason: `was issued by ${issuer.subjectText}, which ${problem}`, rank: 2 });
        continue;
      }
      const pathLength = issuer.fields.basicConstraints?.pathLength;
      if (pathLength !== undefined && below > pathLength) {
        consider({
          ok: false,
          code: 'ClientCertificatePathTooLong',
          reason: `chains through ${issuer.subjectText}, whose pathLen ${pathLength} allows ${pathLength} CA certificate(s) below it, not ${below}`,
          rank: 2,
        });
        continue;
      }
      if (now < issuer.notBefore || now > issuer.notAfter) {
        consider({
          ok: false,
          code: 'ClientCertificateIssuerNotValid',
          reason: `was issued by ${issuer.subjectText}, which is outside its validity period (${issuer.notBefore.toISOString()} to ${issuer.notAfter.toISOString()})`,
          rank: 2,
        });
        continue;
      }
      if (anchor) return { ok: true };
      if (below + 1 > MAX_INTERMEDIATES) {
        consider({ ok: false, code: 'ClientCertificatePathTooLong', reason: `needs more than ${MAX_INTERMEDIATES} intermediate CAs`, rank: 2 });
        continue;
      }
      const next = this.#chain(issuer, below + 1, new Set([...visited, issuer.thumbprint]), now);
      if (next.ok) return next;
      consider({ ...next, reason: `was issued by ${issuer.subjectText}, which ${next.reason}` });
    }
    return best;
  }
}

function truncate(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
