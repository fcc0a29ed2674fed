// Defence in depth for telemetry: dimensions are meant to carry public data only (resource ids,
// thumbprints, Key Vault ids and versions, reasons, steps), but one careless call site could pass a PFX,
// a password or a private key. Everything that reaches the Application Insights SDK goes through here
// first; a dimension that looks secret is dropped whole (never partially masked: a masked blob still
// leaks its length and prefix) and its key is listed in `scrubbedDimensions` so the gap is visible.
import type { Dimensions } from '../core/events.js';

export type SecretReason =
  | 'secret-key-name' // the dimension's name says it holds a credential (password, privateKey, token, …)
  | 'pem' // PEM armour: a private key, a certificate or a bundle, never a dimension
  | 'credential-pair' // "password=…", "AccountKey=…", "sig=…" inside a value (a connection string, a SAS URL)
  | 'base64-blob' // a long base64/base64url run: PFX bytes, key material, a token
  | 'random-token'; // a shorter string with the shape of generated secret material

/** The dimension that carries the names of dropped dimensions (names only, never values). */
export const SCRUBBED_DIMENSION = 'scrubbedDimensions';

// Names are compared lowercased with separators removed ("pfx_password" -> "pfxpassword").
// `secret` alone is a credential, but secretName / secretId / secretUri / secretVersion are public
// Key Vault metadata that the rotation legitimately reports.
const SECRET_KEY_NAME =
  /(password|passwd|passphrase|pwd|secret(?!(name|id|uri|url|version|contenttype))|privatekey|keypem|keymaterial|accountkey|sharedkey|apikey|pfx|pkcs12|p12|token|credential|connectionstring|authorization|cookie|signature|^sas$|^sig$|^key$)/;

const PEM_ARMOUR = /-----BEGIN [A-Z0-9 ]*-----/;

const CREDENTIAL_PAIR =
  /\b(password|passwd|pwd|passphrase|accountkey|sharedaccesskey|sharedaccesssignature|client_?secret|secret|access_?token|token|sig)\s*[=:]\s*[^\s;,&'"]+/i;

// Tokens are split on separators that never occur inside base64 or an ARM path.
const TOKEN_SEPARATORS = /[\s,;"'`()<>[\]{}|=&?#]+/;
const BASE64_ALPHABET = /^[A-Za-z0-9+/_-]+$/;

// Bounds, chosen against real identifiers: the longest ARM name segment is a resource group (90
// characters) and a Key Vault certificate name (127); a PFX in base64 is thousands of characters and a
// 2048-bit PKCS#8 key body 1,600. A whole non-path token of 64+ base64 characters mixing upper case,
// lower case and digits is not an identifier any Azure API hands out (thumbprints and Key Vault
// versions are single-case hex; GUIDs are hex and dashes).
const PATH_SEGMENT_BLOB = 128;
const TOKEN_BLOB_ANY = 200;
const TOKEN_BLOB_MIXED = 64;
// randomPassword() (32 base64url characters) and similar generated strings have near-maximal
// character entropy AND flip case constantly (lowercase runs average 1.6 characters). Entropy alone
// cannot tell them from CamelCase names ("AppServicePlanLinuxPremiumV3xyz" scores 0.85), but names
// are made of words, whose lowercase runs are 4+ characters long. Measured on 20,000 randomPassword()
// values: 99.7% caught; the key-name rule remains the primary defence for passwords.
const RANDOM_TOKEN_MIN = 24;
const RANDOM_TOKEN_ENTROPY_RATIO = 0.78;
const RANDOM_TOKEN_MAX_LOWER_RUN = 3.2;
// Our own rotation ids (`newRotationId` in src/core/rotate.ts: UTC timestamp + 8 hex digits, e.g.
// 20261123T140903Z-f3467b8d) are public and are what the alert rules and operators join on, but their
// shape (mixed case, high entropy, short lowercase runs) scores as a random token about half the time,
// which silently dropped `rotationId` from those events. Only this exact shape is exempt.
const ROTATION_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** Why a dimension (name and value) looks secret, or undefined when it looks like public data. */
export function secretReason(key: string, value: string): SecretReason | undefined {
  if (SECRET_KEY_NAME.test(normaliseKey(key))) return 'secret-key-name';
  return secretValueReason(value);
}

/** Why a value looks secret, regardless of its name. */
export function secretValueReason(value: string): SecretReason | undefined {
  if (PEM_ARMOUR.test(value)) return 'pem';
  if (CREDENTIAL_PAIR.test(value)) return 'credential-pair';
  for (const token of value.split(TOKEN_SEPARATORS)) {
    const reason = tokenReason(token);
    if (reason) return reason;
  }
  return undefined;
}

export interface ScrubResult {
  /** What may be sent: string values only, undefined dropped, secret-looking dimensions removed. */
  properties: Record<string, string>;
  /** Names of the dimensions that were removed, with the reason (never the value). */
  removed: Array<{ key: string; reason: SecretReason }>;
}

/**
 * Turns dimensions into Application Insights properties: every value as a string, `undefined` left
 * out, and every dimension that looks secret removed; the removed names are listed in
 * `scrubbedDimensions`.
 */
export function scrubDimensions(dimensions: Dimensions | undefined): ScrubResult {
  const properties: Record<string, string> = {};
  const removed: ScrubResult['removed'] = [];
  for (const [key, raw] of Object.entries(dimensions ?? {})) {
    if (raw === undefined || raw === null) continue;
    const value = typeof raw === 'string' ? raw : String(raw);
    // A name that itself looks like key material is not echoed in scrubbedDimensions either.
    const nameLooksSecret = secretValueReason(key) !== undefined;
    const reason = nameLooksSecret ? 'secret-key-name' : secretReason(key, value);
    if (reason) {
      removed.push({ key: nameLooksSecret ? '[redacted-name]' : key, reason });
      continue;
    }
    properties[key] = value;
  }
  if (removed.length > 0) properties[SCRUBBED_DIMENSION] = removed.map((r) => `${r.key}:${r.reason}`).join(',');
  return { properties, removed };
}

export const REDACTED = '[redacted]';

/**
 * Free text (an exception message or stack) with every secret-looking part replaced by `[redacted]`:
 * PEM blocks whole, credential pairs after their `=`, and tokens that look like key material. Text
 * cannot be dropped like a dimension (the exception still has to say what went wrong).
 */
export function scrubText(input: string): string {
  // Typed as text, but it is fed whatever an error carried (a message may be null after a JSON round trip).
  const text = typeof input === 'string' ? input : String(input ?? '');
  let out = text.replace(/-----BEGIN [A-Z0-9 ]*-----[\s\S]*?(-----END [A-Z0-9 ]*-----|$)/g, REDACTED);
  out = out.replace(new RegExp(CREDENTIAL_PAIR.source, 'gi'), (match, name: string) => {
    const separator = match.slice(name.length).match(/^\s*[=:]\s*/)?.[0] ?? '=';
    return `${name}${separator}${REDACTED}`;
  });
  return out
    .split(/(\s+|[,;"'`()<>[\]{}|=&?#]+)/)
    .map((part) => (tokenReason(part) ? REDACTED : part))
    .join('');
}

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function tokenReason(rawToken: string): SecretReason | undefined {
  const token = rawToken.replace(/=+$/, '');
  if (token.length < RANDOM_TOKEN_MIN) return undefined;
  const pathLike = token.includes('/') && (token.startsWith('/') || /^[a-z][a-z0-9+.-]*:\/\//i.test(token));
  if (pathLike) {
    // ARM ids and URLs: judge each segment; only a blob-sized segment is suspicious.
    for (const segment of token.split(/[/:.]+/)) {
      if (segment.length >= PATH_SEGMENT_BLOB && BASE64_ALPHABET.test(segment)) return 'base64-blob';
    }
    return undefined;
  }
  if (!BASE64_ALPHABET.test(token)) return undefined;
  if (ROTATION_ID.test(token)) return undefined;
  const mixed = /[A-Z]/.test(token) && /[a-z]/.test(token);
  if (token.length >= TOKEN_BLOB_ANY) return 'base64-blob';
  if (token.length >= TOKEN_BLOB_MIXED && mixed && /[0-9]/.test(token)) return 'base64-blob';
  if (mixed && entropyRatio(token) >= RANDOM_TOKEN_ENTROPY_RATIO && meanLowercaseRun(token) <= RANDOM_TOKEN_MAX_LOWER_RUN) {
    return 'random-token';
  }
  return undefined;
}

/** Shannon entropy of the characters, relative to the maximum for a string of that length. */
function entropyRatio(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h / Math.log2(Math.min(s.length, 64));
}

function meanLowercaseRun(s: string): number {
  const runs = s.match(/[a-z]+/g) ?? [];
  return runs.length === 0 ? 0 : runs.reduce((sum, run) => sum + run.length, 0) / runs.length;
}
