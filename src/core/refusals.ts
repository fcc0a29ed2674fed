// Why a candidate version may not be rolled out: the words the inventory (a source the app may not use), the decision
// (a version's metadata) and staging (the secret itself) all answer with, so none of them imports another for them.
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
  // The trust boundaries (src/core/trust.ts): what the app owner controls may only select among granted sources.
  'SourceNotAuthorized', // no operator policy entry and no vault-owner tag grants this source to the app, or not a vault host
  'WeakKey', // RSA under 2048 bits, an EC curve weaker than P-256, or another key type
  'CertificateAuthority', // basicConstraints CA:TRUE: a CA key has no business in an app
  'NoClientAuth', // an EKU extension without clientAuth: servers refuse it as a client certificate
  'LifetimeTooLong', // valid for longer than CANDIDATE_MAX_LIFETIME_DAYS
  'SecretTooLarge', // the secret is larger than any Key Vault secret can be; refused before it is parsed
  'TooManyIterations', // the PFX asks for more key-derivation work than any real producer writes
] as const;
export type CandidateRefusalReason = (typeof CANDIDATE_REFUSALS)[number];

/** Refusals at a trust boundary: each raises the TrustRefused event and its alert. */
export const TRUST_REFUSALS: readonly CandidateRefusalReason[] = [
  'SourceNotAuthorized',
  'WeakKey',
  'CertificateAuthority',
  'NoClientAuth',
  'LifetimeTooLong',
  'SecretTooLarge',
  'TooManyIterations',
];

export interface CandidateRefusal {
  refusal: CandidateRefusalReason;
  message: string;
}
