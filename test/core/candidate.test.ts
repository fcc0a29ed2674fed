import { beforeAll, describe, expect, it } from 'vitest';
import { checkCandidateVersion, isRefusal, readCandidate, type CandidateRefusalReason } from '../../src/core/candidate.js';
import { TransientError } from '../../src/core/errors.js';
import type { KeyVaultSource } from '../../src/core/ports.js';
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
