import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateFormatError,
  createCertificateAuthority,
  derToPem,
  describeCertificate,
  issueCertificate,
  keyMatchesCertificate,
  pemToDer,
  splitPemCertificates,
  thumbprintOfDer,
  thumbprintOfPem,
  thumbprintToX5t,
  verifyIssuedBy,
  x5tToThumbprint,
  type IssuedCertificate,
} from '../../src/crypto/index.js';

const EXAMPLES = '/work/shared/azure-examples';
const crosscheck = JSON.parse(readFileSync(`${EXAMPLES}/derived/thumbprint-crosscheck.json`, 'utf8')) as {
  kv_x5t_recorded: string;
  sha1_hex_upper_as_app_service_thumbprint_style: string;
};

/** The GET certificate response of the recorded Key Vault session: its `cer` (DER, base64) and `x5t`. */
function recordedCertificate(): { cer: string; x5t: string } {
  const recording = JSON.parse(readFileSync(`${EXAMPLES}/recordings/kv-certificates_get-secret-pkcs12.excerpt.json`, 'utf8')) as {
    Entries: Array<{ ResponseBody: unknown }>;
  };
  for (const entry of recording.Entries) {
    const body = entry.ResponseBody as { cer?: string; x5t?: string } | null;
    if (body !== null && typeof body.cer === 'string' && typeof body.x5t === 'string') return { cer: body.cer, x5t: body.x5t };
  }
  throw new Error('the recording has no certificate body');
}

let ca: IssuedCertificate;
let otherCa: IssuedCertificate;
let client: IssuedCertificate;
let server: IssuedCertificate;

beforeAll(() => {
  ca = createCertificateAuthority({ commonName: 'Contoso Partner CA' });
  otherCa = createCertificateAuthority({ commonName: 'Some Other CA' });
  client = issueCertificate(ca, {
    commonName: 'app-client',
    usage: 'client',
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2026-01-01T00:00:00Z'),
    serialNumber: '0A1B2C',
  });
  server = issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1', 'localhost'] });
});

describe('thumbprints and Key Vault x5t', () => {
  it('the recorded Key Vault x5t converts to the SHA-1 of the recorded DER certificate', () => {
    const { cer, x5t } = recordedCertificate();
    const fromDer = thumbprintOfDer(Buffer.from(cer, 'base64'));
    expect(fromDer).toBe(crosscheck.sha1_hex_upper_as_app_service_thumbprint_style);
    expect(x5tToThumbprint(x5t)).toBe(fromDer);
    expect(thumbprintToX5t(fromDer)).toBe(crosscheck.kv_x5t_recorded);
  });

  it.each([
    ['an uppercase thumbprint', (t: string) => t],
    ['a lowercase thumbprint', (t: string) => t.toLowerCase()],
    ['a thumbprint with surrounding spaces', (t: string) => `  ${t} `],
  ])('%s round-trips through x5t to the uppercase form', (_name, shape) => {
    const x5t = thumbprintToX5t(shape(client.thumbprint));
    expect(x5t).not.toContain('=');
    expect(x5tToThumbprint(x5t)).toBe(client.thumbprint);
  });

  it('thumbprintOfPem agrees with OpenSSL\'s SHA-1 fingerprint and with the issued thumbprint', () => {
    const fingerprint = new X509Certificate(client.certPem).fingerprint.replace(/:/g, '');
    expect(thumbprintOfPem(client.certPem)).toBe(fingerprint);
    expect(client.thumbprint).toBe(fingerprint);
    expect(client.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it.each([
    ['an x5t that is not base64url', () => x5tToThumbprint('not base64!')],
    ['an x5t of the wrong length', () => x5tToThumbprint('AAAA')],
    ['a thumbprint that is not 40 hex characters', () => thumbprintToX5t('ABC')],
    ['a PEM with no certificate', () => pemToDer('hello')],
  ])('%s is refused with a CertificateFormatError', (_name, act) => {
    expect(act).toThrow(CertificateFormatError);
  });

  it('pemToDer and derToPem are inverse', () => {
    const der = pemToDer(client.certPem);
    expect(pemToDer(derToPem(der)).equals(der)).toBe(true);
    expect(derToPem(der)).toBe(client.certPem);
  });
});

describe('issue and describe', () => {
  it('describes an issued client certificate with the requested names, dates and serial', () => {
    const d = describeCertificate(client.certPem);
    expect(d).toMatchObject({
      subject: 'CN=app-client',
      issuer: 'CN=Contoso Partner CA',
      subjectCommonName: 'app-client',
      issuerCommonName: 'Contoso Partner CA',
      thumbprint: client.thumbprint,
      serialNumber: '0A1B2C',
    });
    expect(d.notBefore.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(d.notAfter.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it.each([
    ['a client certificate', () => client, '1.3.6.1.5.5.7.3.2', false],
    ['a server certificate', () => server, '1.3.6.1.5.5.7.3.1', false],
    ['a certificate authority', () => ca, undefined, true],
  ])('%s carries the right key usage and CA flag', (_name, get, eku, isCa) => {
    const x509 = new X509Certificate(get().certPem);
    expect(x509.ca).toBe(isCa);
    if (eku !== undefined) expect(x509.keyUsage).toContain(eku);
    expect(x509.checkPrivateKey(createPrivateKey(get().keyPem))).toBe(true);
    expect(get().keyPem).toContain('-----BEGIN PRIVATE KEY-----');
  });

  it('a server certificate names 127.0.0.1 and localhost so TLS clients accept it', () => {
    const x509 = new X509Certificate(server.certPem);
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkHost('localhost')).toBe('localhost');
  });

  it('refuses a validity period that ends before it starts', () => {
    expect(() => issueCertificate(ca, { commonName: 'x', usage: 'client', notBefore: new Date('2025-02-01'), notAfter: new Date('2025-01-01') })).toThrow(RangeError);
  });

  it('keyMatchesCertificate tells the owner key from another key', () => {
    expect(keyMatchesCertificate(client.certPem, client.keyPem)).toBe(true);
    expect(keyMatchesCertificate(client.certPem, server.keyPem)).toBe(false);
    expect(keyMatchesCertificate(client.certPem, 'not a key')).toBe(false);
  });

  it('splitPemCertificates returns every certificate of a concatenated PEM', () => {
    expect(splitPemCertificates(`${ca.certPem}\n${otherCa.certPem}`).map(thumbprintOfPem)).toEqual([ca.thumbprint, otherCa.thumbprint]);
  });
});

describe('verifyIssuedBy', () => {
  /** A certificate whose issuer NAME is the CA's but whose signature is made with an unrelated key. */
  function forgeCertificateNamingCa(): string {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(createPublicKey(keys.privateKey).export({ type: 'spki', format: 'pem' }).toString());
    cert.serialNumber = '01';
    cert.validity.notBefore = new Date(Date.now() - 3_600_000);
    cert.validity.notAfter = new Date(Date.now() + 86_400_000);
    cert.setSubject([{ shortName: 'CN', value: 'intruder' }]);
    cert.setIssuer(forge.pki.certificateFromPem(ca.certPem).subject.attributes);
    cert.sign(forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }

  it.each([
    ['a certificate issued by the trusted CA', 'accepted', () => client.certPem, () => [ca.certPem]],
    ['a certificate issued by the second of two trusted CAs', 'accepted', () => client.certPem, () => [otherCa.certPem, ca.certPem]],
    ['a certificate issued by a CA that is not trusted', 'refused', () => client.certPem, () => [otherCa.certPem]],
    ['a forged certificate that copies the trusted CA name', 'refused', forgeCertificateNamingCa, () => [ca.certPem]],
    ['no trusted CA at all', 'refused', () => client.certPem, () => []],
    ['a garbage certificate', 'refused', () => 'garbage', () => [ca.certPem]],
  ])('%s is %s', (_name, verdict, cert, cas) => {
    expect(verifyIssuedBy(cert(), cas())).toBe(verdict === 'accepted');
  });

  it('the forged certificate really names the CA as issuer (so only the signature check rejects it)', () => {
    expect(describeCertificate(forgeCertificateNamingCa()).issuer).toBe('CN=Contoso Partner CA');
  });
});
