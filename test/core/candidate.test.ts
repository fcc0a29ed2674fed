import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkCandidatePolicy,
  checkCandidateVersion,
  DEFAULT_CANDIDATE_POLICY,
  isRefusal,
  readCandidate,
  type CandidateRefusalReason,
} from '../../src/core/candidate.js';
import { MAX_SECRET_CHARS, SecretTooLargeError } from '../../src/core/trust.js';
import { createCertificateAuthority } from '../../src/crypto/index.js';
import { hostileCertificate, tripleDesPfxWithKeyIterations } from '../security/hostile.js';
import { TransientError } from '../../src/core/errors.js';
import type { CertificateFacts, KeyVaultSource } from '../../src/core/ports.js';
import { CertificateFactory, DAY, FakeClock, FakeKeyVault, START } from '../helpers/memory-ports.js';

const source: KeyVaultSource = { vaultUrl: 'https://kv1.vault.azure.net', name: 'client' };
const certs = new CertificateFactory();
let good: ReturnType<CertificateFactory['client']>;
let other: ReturnType<CertificateFactory['client']>;
let expired: ReturnType<CertificateFactory['client']>;
let future: ReturnType<CertificateFactory['client']>;

beforeAll(() => {
  good = certs.client('client', -1, 365);
  other = certs.client('other', -1, 365);
  expired = certs.client('old', -400, -5);
  future = certs.client('future', 10, 400);
});

const loaded = { thumbprint: 'A'.repeat(40), notBefore: new Date(START.getTime() - 300 * DAY), notAfter: new Date(START.getTime() + 20 * DAY) };

describe('candidate checks', () => {
  type Arrange = (kv: FakeKeyVault) => ReturnType<FakeKeyVault['add']>;
  it.each<[string, Arrange, CandidateRefusalReason | 'accepted']>([
    ['a valid PFX version is accepted', (kv) => kv.add(source, good), 'accepted'],
    ['a valid PEM version with its chain is accepted', (kv) => kv.add(source, good, { format: 'pem', chainPems: [certs.ca('Partner CA').certPem] }), 'accepted'],
    ['a disabled version is refused', (kv) => kv.add(source, good, { enabled: false }), 'Disabled'],
    ['a version not valid yet is refused', (kv) => kv.add(source, future), 'NotYetValid'],
    ['an expired version is refused', (kv) => kv.add(source, expired), 'Expired'],
    ['a version expiring before the loaded one is refused', (kv) => kv.add(source, certs.client('short', -1, 10)), 'ExpiresBeforeLoaded'],
    ['a PEM without its private key is refused', (kv) => kv.add(source, good, { secret: { contentType: 'application/x-pem-file', value: good.certPem } }), 'NoPrivateKey'],
    ['a PEM whose key belongs to another certificate is refused',
      (kv) => kv.add(source, good, { secret: { contentType: 'application/x-pem-file', value: `${other.keyPem}\n${good.certPem}` } }), 'KeyMismatch'],
    ['an unknown content type is refused', (kv) => kv.add(source, good, { secret: { contentType: 'application/json', value: '{}' } }), 'UnsupportedContentType'],
    ['a corrupt PFX is refused', (kv) => kv.add(source, good, { secret: { contentType: 'application/x-pkcs12', value: 'TUlJQ29y' } }), 'Corrupt'],
    ['a secret Key Vault forbids (403) is refused as unreadable',
      (kv) => kv.add(source, good, { secretError: Object.assign(new Error('Forbidden by policy'), { statusCode: 403 }) }), 'Unreadable'],
    ['a secret holding another certificate than the version says is refused',
      (kv) => kv.add(source, good, { secret: { contentType: 'application/x-pem-file', value: `${other.keyPem}\n${other.certPem}` } }), 'ThumbprintMismatch'],
  ])(
    '%s',
    async (_sentence, arrange, expected) => {
      const clock = new FakeClock();
      const kv = new FakeKeyVault(clock);
      const version = arrange(kv);
      const result = await readCandidate(kv, version, loaded, clock.now());
      if (expected === 'accepted') {
        expect(isRefusal(result)).toBe(false);
        if (!isRefusal(result)) expect(result.bundle.thumbprint).toBe(version.thumbprint);
      } else {
        expect(isRefusal(result) && result.refusal).toBe(expected);
        if (isRefusal(result)) {
          expect(result.message).toContain(version.version);
          expect(result.message).not.toMatch(/PRIVATE KEY|BEGIN/);
        }
      }
    },
  );

  it('a throttled Key Vault is a transient fault, not a refusal', async () => {
    const clock = new FakeClock();
    const kv = new FakeKeyVault(clock);
    const version = kv.add(source, good, { secretError: Object.assign(new Error('Too many requests'), { statusCode: 429 }) });
    await expect(readCandidate(kv, version, loaded, clock.now())).rejects.toBeInstanceOf(TransientError);
  });

  it('metadata alone refuses a missing version', () => {
    expect(checkCandidateVersion(undefined, loaded, START)?.refusal).toBe('Missing');
  });
});

describe('the candidate policy', () => {
  const facts = (over: Partial<CertificateFacts> = {}): CertificateFacts => ({
    keyType: 'rsa',
    keyBits: 2048,
    ca: false,
    extendedKeyUsages: ['1.3.6.1.5.5.7.3.2'],
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    ...over,
  });
  it.each<[string, Partial<CertificateFacts>, CandidateRefusalReason | 'accepted']>([
    ['RSA-2048 with clientAuth for a year is accepted', {}, 'accepted'],
    ['RSA-4096 is accepted', { keyBits: 4096 }, 'accepted'],
    ['EC P-256 is accepted', { keyType: 'ec', keyBits: undefined, curve: 'prime256v1' }, 'accepted'],
    ['EC P-384 is accepted', { keyType: 'ec', keyBits: undefined, curve: 'secp384r1' }, 'accepted'],
    ['no EKU extension (any use) is accepted', { extendedKeyUsages: undefined }, 'accepted'],
    ['clientAuth beside serverAuth is accepted', { extendedKeyUsages: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] }, 'accepted'],
    ['exactly CANDIDATE_MAX_LIFETIME_DAYS (825) is accepted', { notAfter: new Date('2028-04-05T00:00:00Z') }, 'accepted'],
    ['RSA-2047 is refused', { keyBits: 2047 }, 'WeakKey'],
    ['RSA-1024 is refused', { keyBits: 1024 }, 'WeakKey'],
    ['EC P-224 is refused', { keyType: 'ec', keyBits: undefined, curve: 'secp224r1' }, 'WeakKey'],
    ['EC secp256k1 (not a NIST curve TLS peers take) is refused', { keyType: 'ec', keyBits: undefined, curve: 'secp256k1' }, 'WeakKey'],
    ['an Ed25519 key is refused', { keyType: 'ed25519', keyBits: undefined }, 'WeakKey'],
    ['a CA certificate is refused', { ca: true }, 'CertificateAuthority'],
    ['serverAuth only is refused', { extendedKeyUsages: ['1.3.6.1.5.5.7.3.1'] }, 'NoClientAuth'],
    ['an empty EKU list is refused', { extendedKeyUsages: [] }, 'NoClientAuth'],
    ['826 days is refused', { notAfter: new Date('2028-04-06T00:00:00Z') }, 'LifetimeTooLong'],
    ['20 years is refused', { notAfter: new Date('2046-01-01T00:00:00Z') }, 'LifetimeTooLong'],
  ])('%s', (_sentence, over, expected) => {
    const refusal = checkCandidatePolicy('v1', facts(over), DEFAULT_CANDIDATE_POLICY);
    if (expected === 'accepted') expect(refusal).toBeUndefined();
    else {
      expect(refusal?.refusal).toBe(expected);
      expect(refusal?.message).toMatch(/^version v1 /);
    }
  });

  it('the lifetime bound is the setting, not a constant', () => {
    expect(checkCandidatePolicy('v1', facts(), { maxLifetimeDays: 30 })?.refusal).toBe('LifetimeTooLong');
  });

  it("planning refuses on Key Vault's metadata when it carries the certificate's facts", () => {
    const version = { source, version: 'v9', id: 'x', thumbprint: 'B'.repeat(40), enabled: true, facts: facts({ keyBits: 1024 }) };
    expect(checkCandidateVersion(version, undefined, new Date('2026-06-01T00:00:00Z'))?.refusal).toBe('WeakKey');
  });
});

describe('the candidate policy judges the certificate the secret really holds', () => {
  const hostileCa = createCertificateAuthority({ commonName: 'hostile test CA' });
  type Build = () => ReturnType<typeof hostileCertificate>;
  it.each<[string, Build, CandidateRefusalReason]>([
    ['an RSA-1024 leaf', () => hostileCertificate(hostileCa, { commonName: 'weak', key: { type: 'rsa', bits: 1024 }, notAfterDays: 365 }), 'WeakKey'],
    ['an EC P-192 leaf', () => hostileCertificate(hostileCa, { commonName: 'weak ec', key: { type: 'ec', curve: 'prime192v1' }, notAfterDays: 365 }), 'WeakKey'],
    ['a CA leaf', () => hostileCertificate(hostileCa, { commonName: 'ca', ca: true, eku: 'none', notAfterDays: 365 }), 'CertificateAuthority'],
    ['a serverAuth-only leaf', () => hostileCertificate(hostileCa, { commonName: 'server', eku: 'server', notAfterDays: 365 }), 'NoClientAuth'],
    ['a 20-year leaf', () => hostileCertificate(hostileCa, { commonName: 'forever', notAfterDays: 7300 }), 'LifetimeTooLong'],
  ])('%s is refused on reading the secret, though the metadata carried no facts', async (_sentence, build, expected) => {
    const clock = new FakeClock();
    const kv = new FakeKeyVault(clock);
    const version = kv.add(source, { ...build(), thumbprint: '' });
    expect(version.facts).toBeUndefined();
    const result = await readCandidate(kv, version, undefined, new Date());
    expect(isRefusal(result) && result.refusal).toBe(expected);
  });

  it.each<[string, (kv: FakeKeyVault) => ReturnType<FakeKeyVault['add']>, CandidateRefusalReason]>([
    ['a secret value over 256 Ki characters is refused before it is decoded',
      (kv) => kv.add(source, good, { secret: { contentType: 'application/x-pkcs12', value: 'A'.repeat(MAX_SECRET_CHARS + 1) } }), 'SecretTooLarge'],
    ['a secret the source refused for its size is refused as such, not as unreadable',
      (kv) => kv.add(source, good, { secretError: new SecretTooLargeError('the response body declares 52428800 bytes') }), 'SecretTooLarge'],
    ['a PFX asking for 10,000,000 iterations is refused before deriving',
      (kv) => kv.add(source, good, { secret: { contentType: 'application/x-pkcs12', value: tripleDesPfxWithKeyIterations(good, 10_000_000).toString('base64') } }),
      'TooManyIterations'],
  ])('%s', async (_sentence, arrange, expected) => {
    const clock = new FakeClock();
    const kv = new FakeKeyVault(clock);
    const result = await readCandidate(kv, arrange(kv), loaded, clock.now());
    expect(isRefusal(result) && result.refusal).toBe(expected);
  });
});
