// Candidate checks: may this Key Vault version be rolled out? A refusal is an expected outcome with a
// reason, not an exception; only a transient Key Vault failure is thrown (retry later).
import { CertificateFormatError, describeCertificate, readKeyVaultSecret, type CertificateBundle } from '../crypto/index.js';
import { toRotatorError, TransientError } from './errors.js';
import type { LoadedCertificate } from './policies.js';
import type { CertificateSource, ClientCredential, KeyVaultCertificateVersion } from './ports.js';
import { sameThumbprint } from './thumbprints.js';

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

/** A candidate whose secret was read and checked. Holds key material: keep it in memory only. */
export interface ReadCandidate {
  version: KeyVaultCertificateVersion;
  bundle: CertificateBundle;
  notBefore: Date;
  notAfter: Date;
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

function checkValidity(
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

const FORMAT_REFUSALS: Record<string, CandidateRefusalReason> = {
  NoPrivateKey: 'NoPrivateKey',
  KeyMismatch: 'KeyMismatch',
  UnsupportedContentType: 'UnsupportedContentType',
  Corrupt: 'Corrupt',
  WrongPassword: 'Corrupt', // Key Vault secrets open with an empty password; anything else is not one of its
  NoCertificate: 'Corrupt',
};

/**
 * Reads the version's secret (PFX or PEM) and checks it: a key that matches the leaf, the leaf is the
 * certificate the version describes, and the leaf's own dates pass the validity checks.
 */
export async function readCandidate(
  keyVault: CertificateSource,
  version: KeyVaultCertificateVersion,
  loaded: LoadedCertificate | undefined,
  now: Date,
): Promise<ReadCandidate | CandidateRefusal> {
  const metadata = checkCandidateVersion(version, loaded, now);
  if (metadata) return metadata;
  let secret;
  try {
    secret = await keyVault.getSecret(version.source, version.version);
  } catch (error) {
    const normalised = toRotatorError(error, `reading the secret of ${version.id}`);
    if (normalised instanceof TransientError) throw normalised;
    return { refusal: 'Unreadable', message: `the secret of version ${version.version} cannot be read: ${normalised.message}` };
  }
  let bundle: CertificateBundle;
  try {
    bundle = readKeyVaultSecret(secret.contentType, secret.value);
  } catch (error) {
    if (error instanceof CertificateFormatError) {
      return { refusal: FORMAT_REFUSALS[error.code] ?? 'Corrupt', message: `version ${version.version}: ${error.message}` };
    }
    return { refusal: 'Corrupt', message: `version ${version.version} cannot be read as a certificate` };
  }
  if (!sameThumbprint(bundle.thumbprint, version.thumbprint)) {
    return {
      refusal: 'ThumbprintMismatch',
      message: `the secret of version ${version.version} holds certificate ${bundle.thumbprint}, not ${version.thumbprint}`,
    };
  }
  const described = describeCertificate(bundle.certPem);
  const validity = checkValidity(version.version, { enabled: true, notBefore: described.notBefore, notAfter: described.notAfter }, loaded, now);
  if (validity) return validity;
  return { version, bundle, notBefore: described.notBefore, notAfter: described.notAfter };
}

export function isRefusal(value: ReadCandidate | CandidateRefusal): value is CandidateRefusal {
  return 'refusal' in value;
}

export function credentialOf(candidate: ReadCandidate): ClientCredential {
  return { certPem: candidate.bundle.certPem, keyPem: candidate.bundle.keyPem, thumbprint: candidate.bundle.thumbprint };
}
