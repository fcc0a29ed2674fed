// The candidate checks that need only Key Vault's metadata (and the refusal reasons of every check). Apart from
// candidate.ts, which reads and opens the secret, so that planning and scanning load no PKCS#12 code (issue 7).
import type { LoadedCertificate } from './policies.js';
import type { KeyVaultCertificateVersion } from './ports.js';

export const CANDIDATE_REFUSALS = [
  'Missing', // Key Vault has no version for the source
  'Disabled',
  'NotYetValid',
  'Expired',
  'ExpiresBeforeLoaded',
  'NoPrivateKey', // exported without its key (non-exportable key policy) or the key is encrypted
  'KeyMismatch', // the private key does not belong to the certificate
  'UnsupportedContentType',
  'Corrupt', // bad base64, broken PFX/PEM
  'Unreadable', // Key Vault refused the secret (403) or it vanished
  'ThumbprintMismatch', // the secret holds another certificate than the version's x5t says
] as const;
export type CandidateRefusalReason = (typeof CANDIDATE_REFUSALS)[number];

export interface CandidateRefusal {
  refusal: CandidateRefusalReason;
  message: string;
}

/** Checks on Key Vault's metadata alone (no secret read): used by planning. */
export function checkCandidateVersion(
  version: KeyVaultCertificateVersion | undefined,
  loaded: LoadedCertificate | undefined,
  now: Date,
): CandidateRefusal | undefined {
  if (!version) return { refusal: 'Missing', message: 'Key Vault has no version of this certificate' };
  return checkValidity(version.version, { enabled: version.enabled, notBefore: version.notBefore, notAfter: version.expiresOn }, loaded, now);
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
