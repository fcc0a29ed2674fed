import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateFormatError,
  createCertificateAuthority,
  issueCertificate,
  randomPassword,
  readKeyVaultSecret,
  readPemBundle,
  readPfx,
  thumbprintOfPem,
  writePfx,
  x5tToThumbprint,
  type IssuedCertificate,
} from '../../src/crypto/index.js';
import { codeOf } from '../helpers/certificateErrors.js';

const RECORDINGS = '/work/shared/azure-examples/recordings';
const PASSWORD = 'S3cret-Pfx-Passw0rd';

let ca: IssuedCertificate;
let leaf: IssuedCertificate;
let other: IssuedCertificate;

beforeAll(() => {
  ca = createCertificateAuthority({ commonName: 'Bundle CA' });
  leaf = issueCertificate(ca, { commonName: 'bundle-leaf', usage: 'client' });
  other = issueCertificate(ca, { commonName: 'other-leaf', usage: 'client' });
});

/** The GET secret response (value + contentType) and the GET certificate x5t of a recorded Key Vault session. */
function recordedSecret(file: string): { value: string; contentType: string; x5t?: string } {
  const recording = JSON.parse(readFileSync(`${RECORDINGS}/${file}`, 'utf8')) as { _note: string; Entries: Array<{ ResponseBody: unknown }> };
  let x5t = /x5t '([A-Za-z0-9_-]+)'/.exec(recording._note)?.[1];
  let secret: { value: string; contentType: string } | undefined;
  for (const entry of recording.Entries) {
    const body = entry.ResponseBody as Record<string, unknown> | null;
    if (body === null || typeof body !== 'object') continue;
    if (typeof body.x5t === 'string') x5t = body.x5t;
    if (typeof body.value === 'string' && typeof body.contentType === 'string') secret = { value: body.value, contentType: body.contentType };
  }
  if (secret === undefined) throw new Error(`${file} has no secret body`);
  return { ...secret, x5t };
}

function errorOf(act: () => unknown): CertificateFormatError {
  try {
    act();
  } catch (err) {
    if (err instanceof CertificateFormatError) return err;
    throw err;
  }
  throw new Error('expected a CertificateFormatError');
}

/** A PFX as forge writes it with no password: unencrypted bags and no MAC. */
function forgePlainPfx(key: string, certs: string[]): Buffer {
  const p12 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(key),
    certs.map((c) => forge.pki.certificateFromPem(c)),
    null as unknown as string,
    { useMac: false } as never,
  );
  return Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
}

function pemOf(key: string, ...certs: string[]): string {
  return [key, ...certs].join('\n');
}

describe('writePfx then readPfx', () => {
  it.each([
    ['3DES with a password', PASSWORD, '3des' as const],
    ['3DES with an empty password (how Key Vault exports)', '', '3des' as const],
    ['AES-256 with a password', PASSWORD, 'aes256' as const],
  ])('%s returns the leaf, its key and the chain', (_name, password, algorithm) => {
    const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem, chainPems: [ca.certPem] }, password, { algorithm });
    const bundle = readPfx(pfx, password);
    expect(bundle.thumbprint).toBe(leaf.thumbprint);
    expect(thumbprintOfPem(bundle.certPem)).toBe(leaf.thumbprint);
    expect(bundle.chainPems.map(thumbprintOfPem)).toEqual([ca.thumbprint]);
    expect(createPrivateKey(bundle.keyPem).equals(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it.each([
    ['3DES', '3des' as const, PASSWORD],
    ['3DES with an empty password', '3des' as const, ''],
    ['AES-256', 'aes256' as const, PASSWORD],
  ])('OpenSSL (tls.createSecureContext) accepts the %s PFX', (_name, algorithm, password) => {
    const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem, chainPems: [ca.certPem] }, password, { algorithm });
    expect(() => tls.createSecureContext({ pfx, passphrase: password })).not.toThrow();
    expect(() => tls.createSecureContext({ pfx, passphrase: 'wrong' })).toThrow();
  });

  it('the default PFX encrypts both the key and the certificates with PBE-SHA1-3DES and MACs with SHA-1', () => {
    const pfx = writePfx(leaf, PASSWORD);
    const der = pfx.toString('binary');
    const oidBytes = (oid: string) => forge.asn1.oidToDer(oid).getBytes();
    const occurrences = (needle: string) => der.split(needle).length - 1;
    // one for the certificate SafeContents, one for the shrouded key bag
    expect(occurrences(oidBytes('1.2.840.113549.1.12.1.3'))).toBe(2);
    expect(occurrences(oidBytes('1.2.840.113549.1.7.6'))).toBe(1); // encryptedData content
    expect(occurrences(oidBytes('1.3.14.3.2.26'))).toBe(1); // SHA-1 MAC
    expect(der).not.toContain(leaf.certPem.slice(30, 60));
  });

  it('opens a PFX that has no MAC and unencrypted bags, with an empty password', () => {
    const bundle = readPfx(forgePlainPfx(leaf.keyPem, [ca.certPem, leaf.certPem]), '');
    expect(bundle.thumbprint).toBe(leaf.thumbprint);
    expect(bundle.chainPems.map(thumbprintOfPem)).toEqual([ca.thumbprint]);
  });

  it('writePfx refuses a key that does not belong to the certificate', () => {
    expect(codeOf(() => writePfx({ certPem: leaf.certPem, keyPem: other.keyPem }, PASSWORD))).toBe('KeyMismatch');
  });

  it('randomPassword gives 32 url-safe characters, different each time', () => {
    const a = randomPassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(randomPassword()).not.toBe(a);
  });
});

describe('readPfx errors', () => {
  it.each([
    ['a wrong password', 'WrongPassword', () => readPfx(writePfx(leaf, PASSWORD), 'not-the-password')],
    ['an empty password for a protected PFX', 'WrongPassword', () => readPfx(writePfx(leaf, PASSWORD), '')],
    ['a password for a PFX protected by the empty one', 'WrongPassword', () => readPfx(writePfx(leaf, ''), PASSWORD)],
    ['garbage bytes', 'Corrupt', () => readPfx(Buffer.from('definitely not a pfx'), PASSWORD)],
    ['an empty buffer', 'Corrupt', () => readPfx(new Uint8Array(0), PASSWORD)],
    ['a truncated PFX', 'Corrupt', () => readPfx(writePfx(leaf, PASSWORD).subarray(0, 200), PASSWORD)],
    ['a PFX without a key bag', 'NoPrivateKey', () => readPfx(forgeCertOnlyPfx(), '')],
    ['a PFX whose key matches no certificate', 'KeyMismatch', () => readPfx(forgePlainPfx(other.keyPem, [leaf.certPem, ca.certPem]), '')],
  ])('%s -> %s', (_name, code, act) => {
    expect(codeOf(act)).toBe(code);
  });

  function forgeCertOnlyPfx(): Buffer {
    const p12 = forge.pkcs12.toPkcs12Asn1(null, [forge.pki.certificateFromPem(leaf.certPem)], null as unknown as string, {
      useMac: false,
    } as never);
    return Buffer.from(forge.asn1.toDer(p12).getBytes(), 'binary');
  }
});

describe('readPemBundle', () => {
  it.each([
    ['key first, then leaf and chain (Key Vault order)', () => pemOf(leaf.keyPem, leaf.certPem, ca.certPem)],
    ['certificates first, key last', () => pemOf(ca.certPem, leaf.certPem, leaf.keyPem)],
    ['a PKCS#1 "RSA PRIVATE KEY"', () => pemOf(createPrivateKey(leaf.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString(), leaf.certPem, ca.certPem)],
    ['CRLF line endings', () => pemOf(leaf.keyPem, leaf.certPem, ca.certPem).replace(/\n/g, '\r\n')],
  ])('reads %s', (_name, pem) => {
    const bundle = readPemBundle(pem());
    expect(bundle.thumbprint).toBe(leaf.thumbprint);
    expect(bundle.chainPems.map(thumbprintOfPem)).toEqual([ca.thumbprint]);
    expect(bundle.keyPem).toContain('-----BEGIN PRIVATE KEY-----');
  });

  const encryptedKey = () =>
    createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pem-pass' }).toString();

  it.each([
    ['an encrypted key', 'NoPrivateKey', () => pemOf(encryptedKey(), leaf.certPem)],
    ['certificates without a key', 'NoPrivateKey', () => pemOf(leaf.certPem, ca.certPem)],
    ['a key without certificates', 'NoCertificate', () => leaf.keyPem],
    ['a key that matches none of the certificates', 'KeyMismatch', () => pemOf(other.keyPem, leaf.certPem, ca.certPem)],
    ['text with no PEM blocks', 'Corrupt', () => 'hello world'],
    ['a certificate block with broken base64', 'Corrupt', () => pemOf(leaf.keyPem, '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----')],
  ])('refuses %s with %s', (_name, code, pem) => {
    expect(codeOf(() => readPemBundle(pem()))).toBe(code);
  });
});

describe('readKeyVaultSecret', () => {
  it.each([
    ['the recorded application/x-pkcs12 secret (opens with the empty password)', 'kv-certificates_get-secret-pkcs12.excerpt.json'],
    ['the recorded application/x-pem-file secret (key first)', 'kv-certificates_get-secret-pem.excerpt.json'],
  ])('reads %s and its leaf matches the recorded x5t', (_name, file) => {
    const secret = recordedSecret(file);
    expect(secret.x5t).toBeDefined();
    const bundle = readKeyVaultSecret(secret.contentType, secret.value);
    expect(bundle.thumbprint).toBe(x5tToThumbprint(secret.x5t!));
  });

  it.each([
    ['a PFX written with the empty password', 'application/x-pkcs12', () => writePfx(leaf, '').toString('base64')],
    ['a PFX with a content type parameter and line breaks', 'application/x-pkcs12; charset=binary', () => writePfx(leaf, '').toString('base64').replace(/(.{76})/g, '$1\n')],
    ['a PEM bundle', 'application/x-pem-file', () => pemOf(leaf.keyPem, leaf.certPem)],
  ])('reads %s', (_name, contentType, value) => {
    expect(readKeyVaultSecret(contentType, value()).thumbprint).toBe(leaf.thumbprint);
  });

  it.each([
    ['an unknown content type', 'UnsupportedContentType', 'text/plain', () => 'x'],
    ['a pkcs12 value that is not base64', 'Corrupt', 'application/x-pkcs12', () => '%%% not base64 %%%'],
    ['a pkcs12 value protected by a real password', 'WrongPassword', 'application/x-pkcs12', () => writePfx(leaf, PASSWORD).toString('base64')],
  ])('refuses %s with %s', (_name, code, contentType, value) => {
    expect(codeOf(() => readKeyVaultSecret(contentType, value()))).toBe(code);
  });

  it('names the unsupported content type', () => {
    expect(errorOf(() => readKeyVaultSecret('application/json', '{}')).message).toContain("'application/json'");
  });
});

describe('error messages keep secrets out', () => {
  const secretBits = () => [
    PASSWORD,
    'not-the-password',
    leaf.keyPem.split('\n')[1]!,
    leaf.certPem.split('\n')[1]!,
    other.keyPem.split('\n')[1]!,
  ];
  it.each([
    ['wrong password', () => readPfx(writePfx(leaf, PASSWORD), 'not-the-password')],
    ['password given for an empty-password PFX', () => readPfx(writePfx(leaf, ''), PASSWORD)],
    ['key mismatch in a PEM', () => readPemBundle(pemOf(other.keyPem, leaf.certPem))],
    ['key mismatch on write', () => writePfx({ certPem: leaf.certPem, keyPem: other.keyPem }, PASSWORD)],
    ['encrypted PEM key', () => readPemBundle(pemOf(createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }).toString(), leaf.certPem))],
    ['corrupt PFX', () => readPfx(Buffer.from(leaf.keyPem), PASSWORD)],
    ['unreadable key', () => readPemBundle(`-----BEGIN PRIVATE KEY-----\n${leaf.certPem.split('\n')[1]}\n-----END PRIVATE KEY-----\n${leaf.certPem}`)],
  ])('%s: neither the message nor the cause quotes the password or PEM text', (_name, act) => {
    const err = errorOf(act);
    const texts = [err.message, String(err.stack), err.cause instanceof Error ? `${err.cause.message} ${String(err.cause.stack)}` : String(err.cause ?? '')];
    for (const text of texts) {
      for (const bit of secretBits()) expect(text).not.toContain(bit);
    }
  });
});
