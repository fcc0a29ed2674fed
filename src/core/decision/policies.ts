// The renewal decision, cert-manager style: an ordered chain of small pure policies, the first one
// that answers wins. Time comes from the injected clock only.
import type { LoadedCertificate } from '../inventory/types.js';
import type { Clock, KeyVaultCertificateVersion } from '../ports.js';
import { sameThumbprint } from '../thumbprints.js';
import { checkValidity } from './candidateChecks.js';

export type { LoadedCertificate } from '../inventory/types.js';

/**
 * Why a binding does (or does not) need a rotation. Also a telemetry dimension, so the names are stable.
 * - DanglingThumbprint: the app pins a thumbprint with no certificate resource in its webspace; it breaks
 *   at its next restart (typically a Key Vault-linked resource re-synced to a new version underneath it).
 * - RenewalMissing: the loaded certificate is expired or nearing expiry, but Key Vault has nothing newer.
 *   Alert; nothing can be changed.
 * - Expired: the loaded certificate is past its notAfter and Key Vault has another version.
 * - NewerVersionAvailable: Key Vault's latest version differs, is valid now and outlives the loaded one.
 * - NearingExpiry: within RENEW_BEFORE_DAYS (or RENEW_BEFORE_PERCENT of its lifetime) of expiry.
 * - UpToDate: nothing to do.
 * Decided after the chain, from the app's rotation records (src/core/retryPolicy.ts), for a binding that is due:
 * - CandidateRejected: Key Vault's latest version already failed on this app (the message names the rotation);
 *   alert, and it is not rolled out again until a newer version exists or an operator forces it.
 * - BackingOff: the version failed only transiently on this app; it is tried again after the backoff.
 */
export const RENEWAL_REASONS = [
  'DanglingThumbprint',
  'Expired',
  'NewerVersionAvailable',
  'NearingExpiry',
  'RenewalMissing',
  'UpToDate',
  'CandidateRejected',
  'BackingOff',
] as const;
export type RenewalReason = (typeof RENEWAL_REASONS)[number];

/** Reasons that call for a rotation (when the candidate passes its checks). */
export const ROTATION_REASONS: readonly RenewalReason[] = [
  'DanglingThumbprint',
  'Expired',
  'NewerVersionAvailable',
  'NearingExpiry',
];

export interface PolicyDecision {
  reason: RenewalReason;
  message: string;
}

export interface PolicyInput {
  /** What the app loads now; undefined for a `*` app with nothing of its source in the webspace. */
  loaded?: LoadedCertificate;
  /** The pinned thumbprint has no certificate resource in the app's webspace. */
  dangling: boolean;
  /** Key Vault's newest version of the binding's source; undefined when unknown or absent. */
  latest?: KeyVaultCertificateVersion;
}

export type RenewalPolicy = (input: PolicyInput) => PolicyDecision | undefined;

export interface PolicyOptions {
  renewBeforeDays: number;
  renewBeforePercent?: number;
}

const DAY_MS = 86_400_000;

/** Days from `now` to `notAfter`, rounded down (negative once expired). */
export function daysRemaining(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

/**
 * The moment renewal becomes due: RENEW_BEFORE_DAYS before notAfter, or earlier when
 * RENEW_BEFORE_PERCENT of the lifetime is the larger margin (short-lived certificates renew early
 * enough, long-lived ones are not renewed months ahead).
 */
export function renewalTime(loaded: LoadedCertificate, options: PolicyOptions): Date | undefined {
  if (!loaded.notAfter) return undefined;
  let margin = options.renewBeforeDays * DAY_MS;
  if (options.renewBeforePercent !== undefined && loaded.notBefore) {
    const lifetime = loaded.notAfter.getTime() - loaded.notBefore.getTime();
    margin = Math.max(margin, (lifetime * options.renewBeforePercent) / 100);
  }
  return new Date(loaded.notAfter.getTime() - margin);
}

/** The source's latest can replace the loaded one: the candidate validity rule (candidateChecks.ts) finds nothing. */
export function isUsableNow(latest: KeyVaultCertificateVersion, loaded: LoadedCertificate | undefined, now: Date): boolean {
  return checkValidity(latest.version, { enabled: latest.enabled, notBefore: latest.notBefore, notAfter: latest.expiresOn }, loaded, now) === undefined;
}

/**
 * The renewal policies, in order; the first that answers wins. One named policy per line, each a small pure function
 * of the binding's facts (time from the injected clock): a new rule is a new function and one line here.
 */
export function renewalPolicies(clock: Clock, options: PolicyOptions): RenewalPolicy[] {
  const window = renewalWindow(clock, options);
  return [
    danglingThumbprint, // a pinned thumbprint without a resource breaks the app at its next restart: repair first
    renewalMissing(window), // expired or near expiry with nothing newer at the source: alert, nothing to roll out
    expired(window),
    newerVersionAvailable(clock),
    nearingExpiry(window),
    upToDate, // always last: the chain always answers
  ];
}

interface RenewalWindow {
  isExpired(loaded?: LoadedCertificate): boolean;
  isNearing(loaded?: LoadedCertificate): boolean;
}

function renewalWindow(clock: Clock, options: PolicyOptions): RenewalWindow {
  return {
    isExpired: (loaded) => !!loaded?.notAfter && loaded.notAfter.getTime() <= clock.now().getTime(),
    isNearing: (loaded) => {
      const due = loaded && renewalTime(loaded, options);
      return !!due && due.getTime() <= clock.now().getTime();
    },
  };
}

const expiry = (loaded?: LoadedCertificate) => loaded?.notAfter?.toISOString() ?? 'an unknown date';

function hasNothingNewer(input: PolicyInput): boolean {
  return input.latest === undefined || sameThumbprint(input.latest.thumbprint, input.loaded?.thumbprint);
}

export const danglingThumbprint: RenewalPolicy = ({ dangling, loaded }) =>
  dangling
    ? { reason: 'DanglingThumbprint', message: `thumbprint ${loaded?.thumbprint ?? '?'} is pinned but no certificate resource in the webspace has it` }
    : undefined;

export const renewalMissing =
  (window: RenewalWindow): RenewalPolicy =>
  (input) => {
    if (!input.loaded && !input.latest) return { reason: 'RenewalMissing', message: 'Key Vault has no version of the source' };
    if (!(window.isExpired(input.loaded) || window.isNearing(input.loaded)) || !hasNothingNewer(input)) return undefined;
    return {
      reason: 'RenewalMissing',
      message: `certificate ${input.loaded?.thumbprint} ${window.isExpired(input.loaded) ? 'expired' : 'expires'} on ${expiry(input.loaded)} and Key Vault has no newer version`,
    };
  };

export const expired =
  (window: RenewalWindow): RenewalPolicy =>
  ({ loaded }) =>
    window.isExpired(loaded) ? { reason: 'Expired', message: `certificate ${loaded?.thumbprint} expired on ${expiry(loaded)}` } : undefined;

export const newerVersionAvailable =
  (clock: Clock): RenewalPolicy =>
  ({ loaded, latest }) =>
    latest && !sameThumbprint(latest.thumbprint, loaded?.thumbprint) && isUsableNow(latest, loaded, clock.now())
      ? {
          reason: 'NewerVersionAvailable',
          message: `Key Vault version ${latest.version} (${latest.thumbprint}, expires ${latest.expiresOn?.toISOString() ?? '?'}) replaces ${loaded?.thumbprint ?? 'nothing loaded'}`,
        }
      : undefined;

export const nearingExpiry =
  (window: RenewalWindow): RenewalPolicy =>
  ({ loaded }) =>
    window.isNearing(loaded)
      ? { reason: 'NearingExpiry', message: `certificate ${loaded?.thumbprint} expires on ${expiry(loaded)}, within the renewal window` }
      : undefined;

export const upToDate: RenewalPolicy = ({ loaded }) => ({
  reason: 'UpToDate',
  message: `certificate ${loaded?.thumbprint ?? '?'} is current (expires ${expiry(loaded)})`,
});

/** Runs the chain; the first policy that answers wins. */
export function evaluateRenewal(input: PolicyInput, policies: readonly RenewalPolicy[]): PolicyDecision {
  for (const policy of policies) {
    const decision = policy(input);
    if (decision) return decision;
  }
  return { reason: 'UpToDate', message: 'no policy matched' };
}
