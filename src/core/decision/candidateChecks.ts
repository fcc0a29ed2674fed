// The candidate checks that need only the source's metadata, and the validity rule every check shares (the renewal
// policies ask it too). Apart from candidate.ts, which reads and opens the secret, so that planning and scanning load
// no PKCS#12 code.
import type { LoadedCertificate } from '../inventory/types.js';
import type { CertificateFacts, KeyVaultCertificateVersion } from '../ports.js';
import type { CandidateRefusal } from '../refusals.js';

export { CANDIDATE_REFUSALS, TRUST_REFUSALS } from '../refusals.js';
export type { CandidateRefusal, CandidateRefusalReason } from '../refusals.js';

/** What a candidate certificate must be to be rolled out (besides valid now): CANDIDATE_MAX_LIFETIME_DAYS. */
export interface CandidatePolicy {
  maxLifetimeDays: number;
}

// 825 days was the CA/Browser Forum's limit for TLS certificates until 2020: room for the two-year client
// certificates private CAs commonly issue, and no room for a "forever" certificate whose key is never rotated.
export const DEFAULT_CANDIDATE_POLICY: CandidatePolicy = { maxLifetimeDays: 825 };

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const MIN_RSA_BITS = 2048;
// NIST P-256 and stronger (OpenSSL names); P-192, P-224 and secp256k1 are not what TLS peers accept or should.
const STRONG_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const DAY_MS = 86_400_000;

/** Checks on Key Vault's metadata alone (no secret read): used by planning. */
export function checkCandidateVersion(
  version: KeyVaultCertificateVersion | undefined,
  loaded: LoadedCertificate | undefined,
  now: Date,
  policy: CandidatePolicy = DEFAULT_CANDIDATE_POLICY,
): CandidateRefusal | undefined {
  if (!version) return { refusal: 'Missing', message: 'Key Vault has no version of this certificate' };
  const validity = checkValidity(version.version, { enabled: version.enabled, notBefore: version.notBefore, notAfter: version.expiresOn }, loaded, now);
  if (validity) return validity;
  return version.facts ? checkCandidatePolicy(version.version, version.facts, policy) : undefined;
}

/**
 * The candidate policy, in order: a strong key (RSA >= 2048, EC >= P-256), not a CA, usable for client
 * authentication when the certificate restricts its use, and a sane lifetime. The key matching the certificate
 * is checked where the secret is read (KeyMismatch).
 */
export function checkCandidatePolicy(label: string, facts: CertificateFacts, policy: CandidatePolicy): CandidateRefusal | undefined {
  if (facts.keyType === 'rsa') {
    if ((facts.keyBits ?? 0) < MIN_RSA_BITS) {
      return { refusal: 'WeakKey', message: `version ${label} has an RSA key of ${facts.keyBits ?? '?'} bits; at least ${MIN_RSA_BITS} are required` };
    }
  } else if (facts.keyType === 'ec') {
    if (facts.curve === undefined || STRONG_CURVES[facts.curve] === undefined) {
      return { refusal: 'WeakKey', message: `version ${label} has an EC key on curve ${facts.curve ?? '?'}; P-256, P-384 or P-521 is required` };
    }
  } else {
    return { refusal: 'WeakKey', message: `version ${label} has a ${facts.keyType} key; an RSA or EC key is required` };
  }
  if (facts.ca) {
    return { refusal: 'CertificateAuthority', message: `version ${label} is a CA certificate (basicConstraints CA:TRUE), not a client certificate` };
  }
  if (facts.extendedKeyUsages !== undefined && !facts.extendedKeyUsages.includes(CLIENT_AUTH_EKU)) {
    return {
      refusal: 'NoClientAuth',
      message: `version ${label} restricts its use (extended key usage ${facts.extendedKeyUsages.join(', ') || 'empty'}) without clientAuth (${CLIENT_AUTH_EKU})`,
    };
  }
  const lifetimeDays = (facts.notAfter.getTime() - facts.notBefore.getTime()) / DAY_MS;
  if (lifetimeDays > policy.maxLifetimeDays) {
    return {
      refusal: 'LifetimeTooLong',
      message: `version ${label} is valid for ${Math.round(lifetimeDays)} days, more than CANDIDATE_MAX_LIFETIME_DAYS (${policy.maxLifetimeDays})`,
    };
  }
  return undefined;
}

export function checkValidity(
  label: string,
  candidate: { enabled: boolean; notBefore?: Date; notAfter?: Date },
  loaded: LoadedCertificate | undefined,
  now: Date,
): CandidateRefusal | undefined {
  if (!candidate.enabled) return { refusal: 'Disabled', message: `version ${label} is disabled in Key Vault` };
  if (candidate.notBefore && candidate.notBefore.getTime() > now.getTime()) {
    return { refusal: 'NotYetValid', message: `version ${label} is not valid before ${candidate.notBefore.toISOString()}` };
  }
  if (candidate.notAfter && candidate.notAfter.getTime() <= now.getTime()) {
    return { refusal: 'Expired', message: `version ${label} expired on ${candidate.notAfter.toISOString()}` };
  }
  if (candidate.notAfter && loaded?.notAfter && candidate.notAfter.getTime() <= loaded.notAfter.getTime()) {
    return {
      refusal: 'ExpiresBeforeLoaded',
      message: `version ${label} expires on ${candidate.notAfter.toISOString()}, not after the loaded certificate (${loaded.notAfter.toISOString()})`,
    };
  }
  return undefined;
}
