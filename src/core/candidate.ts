// Candidate checks: may this Key Vault version be rolled out? A refusal is an expected outcome with a
// reason, not an exception; only a transient Key Vault failure is thrown (retry later).
import { certificateFacts, CertificateFormatError, describeCertificate, readKeyVaultSecret, type CertificateBundle } from '../crypto/index.js';
import { toRotatorError, TransientError } from './errors.js';
import type { LoadedCertificate } from './inventory/types.js';
import type { CertificateSource, ClientCredential, KeyVaultCertificateVersion } from './ports.js';
import { sameThumbprint } from './thumbprints.js';
import {
  checkCandidatePolicy,
  checkCandidateVersion,
  checkValidity,
  DEFAULT_CANDIDATE_POLICY,
  type CandidatePolicy,
  type CandidateRefusal,
  type CandidateRefusalReason,
} from './decision/candidateChecks.js';
import { MAX_SECRET_CHARS, SecretTooLargeError } from './trust.js';

export { CANDIDATE_REFUSALS, checkCandidatePolicy, checkCandidateVersion, DEFAULT_CANDIDATE_POLICY } from './decision/candidateChecks.js';
export type { CandidatePolicy, CandidateRefusal, CandidateRefusalReason } from './decision/candidateChecks.js';

/** A candidate whose secret was read and checked. Holds key material: keep it in memory only. */
export interface ReadCandidate {
  version: KeyVaultCertificateVersion;
  bundle: CertificateBundle;
  notBefore: Date;
  notAfter: Date;
}

const FORMAT_REFUSALS: Record<string, CandidateRefusalReason> = {
  NoPrivateKey: 'NoPrivateKey',
  KeyMismatch: 'KeyMismatch',
  UnsupportedContentType: 'UnsupportedContentType',
  Corrupt: 'Corrupt',
  WrongPassword: 'Corrupt', // Key Vault secrets open with an empty password; anything else is not one of its
  NoCertificate: 'Corrupt',
  TooManyIterations: 'TooManyIterations',
};

/**
 * Reads the version's secret (PFX or PEM) and checks it: a key that matches the leaf, the leaf is the
 * certificate the version describes, and the leaf's own dates pass the validity checks.
 */
export async function readCandidate(
  sources: CertificateSource,
  version: KeyVaultCertificateVersion,
  loaded: LoadedCertificate | undefined,
  now: Date,
  policy: CandidatePolicy = DEFAULT_CANDIDATE_POLICY,
): Promise<ReadCandidate | CandidateRefusal> {
  const metadata = checkCandidateVersion(version, loaded, now, policy);
  if (metadata) return metadata;
  let secret;
  try {
    secret = await sources.getSecret(version.source, version.version);
  } catch (error) {
    if (error instanceof SecretTooLargeError) {
      return { refusal: 'SecretTooLarge', message: `the secret of version ${version.version} was refused unread: ${error.message}` };
    }
    const normalised = toRotatorError(error, `reading the secret of ${version.id}`);
    if (normalised instanceof TransientError) throw normalised;
    return { refusal: 'Unreadable', message: `the secret of version ${version.version} cannot be read: ${normalised.message}` };
  }
  // Whatever the adapter bounded, a value this long is no Key Vault secret: refused before base64 or PKCS#12 parsing.
  if (secret.value.length > MAX_SECRET_CHARS) {
    return { refusal: 'SecretTooLarge', message: `the secret of version ${version.version} is ${secret.value.length} characters, more than ${MAX_SECRET_CHARS}` };
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
  // Judged on the leaf the secret really holds, not only on what Key Vault's metadata said.
  const judged = checkCandidatePolicy(version.version, certificateFacts(bundle.certPem), policy);
  if (judged) return judged;
  return { version, bundle, notBefore: described.notBefore, notAfter: described.notAfter };
}

export function isRefusal(value: ReadCandidate | CandidateRefusal): value is CandidateRefusal {
  return 'refusal' in value;
}

export function credentialOf(candidate: ReadCandidate): ClientCredential {
  return { certPem: candidate.bundle.certPem, keyPem: candidate.bundle.keyPem, thumbprint: candidate.bundle.thumbprint };
}
