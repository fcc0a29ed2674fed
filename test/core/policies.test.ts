import { describe, expect, it } from 'vitest';
import { evaluateRenewal, renewalPolicies, renewalTime, RENEWAL_REASONS, type LoadedCertificate, type PolicyInput } from '../../src/core/decision/policies.js';
import type { KeyVaultCertificateVersion } from '../../src/core/ports.js';
import { DAY, FakeClock, START } from '../helpers/memory-ports.js';

const at = (days: number) => new Date(START.getTime() + days * DAY);
const A = 'A'.repeat(40);
const B = 'B'.repeat(40);

const loaded = (fromDays: number, toDays: number, thumbprint = A): LoadedCertificate => ({ thumbprint, notBefore: at(fromDays), notAfter: at(toDays) });
const version = (fromDays: number, toDays: number, thumbprint = B, enabled = true): KeyVaultCertificateVersion => ({
  source: { vaultUrl: 'https://kv', name: 'client' },
  version: 'v2',
  id: 'https://kv/certificates/client/v2',
  thumbprint,
  enabled,
  notBefore: at(fromDays),
  expiresOn: at(toDays),
});

describe('renewal policy chain (first match wins)', () => {
  const clock = new FakeClock();
  const chain = renewalPolicies(clock, { renewBeforeDays: 30 });

  it.each<[string, PolicyInput, (typeof RENEWAL_REASONS)[number]]>([
    ['a pinned thumbprint without a resource is dangling, whatever else is true', { dangling: true, loaded: { thumbprint: A }, latest: version(-1, 365) }, 'DanglingThumbprint'],
    ['a dangling thumbprint with nothing in Key Vault is still dangling', { dangling: true, loaded: { thumbprint: A } }, 'DanglingThumbprint'],
    ['an expired certificate with a newer version is Expired', { dangling: false, loaded: loaded(-365, -1), latest: version(-2, 365) }, 'Expired'],
    ['an expired certificate with Key Vault still on it is RenewalMissing', { dangling: false, loaded: loaded(-365, -1), latest: version(-365, -1, A) }, 'RenewalMissing'],
    ['near expiry with Key Vault still on the same version is RenewalMissing', { dangling: false, loaded: loaded(-300, 10), latest: version(-300, 10, A) }, 'RenewalMissing'],
    ['near expiry and the certificate is gone from Key Vault is RenewalMissing', { dangling: false, loaded: loaded(-300, 10) }, 'RenewalMissing'],
    ['a newer valid version outliving the loaded one is NewerVersionAvailable', { dangling: false, loaded: loaded(-10, 300), latest: version(-1, 400) }, 'NewerVersionAvailable'],
    ['near expiry with a newer valid version is NewerVersionAvailable', { dangling: false, loaded: loaded(-300, 10), latest: version(-1, 400) }, 'NewerVersionAvailable'],
    ['near expiry with a newer version not valid yet is NearingExpiry', { dangling: false, loaded: loaded(-300, 10), latest: version(5, 400) }, 'NearingExpiry'],
    ['near expiry with a disabled newer version is NearingExpiry', { dangling: false, loaded: loaded(-300, 10), latest: version(-1, 400, B, false) }, 'NearingExpiry'],
    ['a newer version that expires first does not replace a healthy one', { dangling: false, loaded: loaded(-10, 300), latest: version(-1, 200) }, 'UpToDate'],
    ['a healthy certificate that Key Vault still has is UpToDate', { dangling: false, loaded: loaded(-10, 300), latest: version(-10, 300, A) }, 'UpToDate'],
    ['exactly at the renewal window is NearingExpiry', { dangling: false, loaded: loaded(-300, 30), latest: version(1, 400) }, 'NearingExpiry'],
    ['one day before the window is UpToDate', { dangling: false, loaded: loaded(-300, 31), latest: version(-300, 31, A) }, 'UpToDate'],
    ['a * binding with nothing of its source loaded takes the latest', { dangling: false, latest: version(-1, 400) }, 'NewerVersionAvailable'],
    ['a * binding whose source has no version is RenewalMissing', { dangling: false }, 'RenewalMissing'],
  ])('%s', (_sentence, input, reason) => {
    const decision = evaluateRenewal(input, chain);
    expect(decision.reason).toBe(reason);
    expect(decision.message.length).toBeGreaterThan(10);
  });

  it('uses the injected clock: the same certificate becomes due as time passes', () => {
    const c = new FakeClock();
    const policies = renewalPolicies(c, { renewBeforeDays: 30 });
    const input: PolicyInput = { dangling: false, loaded: loaded(-300, 60), latest: version(-300, 60, A) };
    expect(evaluateRenewal(input, policies).reason).toBe('UpToDate');
    c.advance(31 * DAY);
    expect(evaluateRenewal(input, policies).reason).toBe('RenewalMissing');
    c.advance(30 * DAY);
    expect(evaluateRenewal(input, policies).reason).toBe('RenewalMissing');
  });

  it('RENEW_BEFORE_PERCENT renews short-lived certificates earlier than RENEW_BEFORE_DAYS', () => {
    const shortLived = loaded(-50, 40); // 90-day lifetime, 40 days left
    expect(renewalTime(shortLived, { renewBeforeDays: 30 })).toEqual(at(10));
    expect(renewalTime(shortLived, { renewBeforeDays: 30, renewBeforePercent: 50 })).toEqual(at(-5));
    const policies = renewalPolicies(new FakeClock(), { renewBeforeDays: 30, renewBeforePercent: 50 });
    expect(evaluateRenewal({ dangling: false, loaded: shortLived, latest: version(5, 400) }, policies).reason).toBe('NearingExpiry');
  });

  it('documents every reason it can answer', () => {
    // CandidateRejected and BackingOff come from the app's rotation records (retryPolicy), after the chain.
    expect(RENEWAL_REASONS).toEqual([
      'DanglingThumbprint',
      'Expired',
      'NewerVersionAvailable',
      'NearingExpiry',
      'RenewalMissing',
      'UpToDate',
      'CandidateRejected',
      'BackingOff',
    ]);
  });
});
