// The decision: one place that turns an inventory binding into its verdict. The policy chain (policies.ts) says why a
// binding would rotate; decide() owns everything around it: `force`, refusals (the trust boundaries and the
// candidate's metadata), hold-back by the app's rotation records, blocking by the app's problems, and which scan
// events each verdict raises.
import type { InventoryApp, InventoryBinding, InventoryResult } from '../inventory/types.js';
import type { RotationRecord } from '../records.js';
import { TRUST_REFUSALS, type CandidateRefusal } from '../refusals.js';
import { heldBackBy, type HeldBack } from '../retryPolicy.js';
import { sameThumbprint } from '../thumbprints.js';
import { checkCandidateVersion, type CandidatePolicy } from './candidateChecks.js';
import { daysRemaining, evaluateRenewal, ROTATION_REASONS, type PolicyDecision, type RenewalPolicy, type RenewalReason } from './policies.js';

export interface BindingEvaluation {
  decision: PolicyDecision;
  /** Set when the decision calls for a rotation but the source's latest may not be rolled out. */
  refusal?: CandidateRefusal;
  /** A rotation of this binding to `latest` is due (or forced). */
  due: boolean;
  /** Rotated although up to date, because the caller forced it. */
  forced?: boolean;
  daysRemaining?: number;
  /** The app's rotation records hold the rotation back (CandidateRejected, BackingOff): `decision` says so. */
  heldBack?: HeldBack;
  /** With heldBack: what the chain decided (NewerVersionAvailable, NearingExpiry, ...). */
  wanted?: PolicyDecision;
  /** With heldBack: the loaded certificate is expired or inside its renewal window, so the expiry alerts go on. */
  expiring?: boolean;
}

/** A binding of the inventory with the decision's verdict on it. */
export interface CertificateBinding extends InventoryBinding {
  evaluation: BindingEvaluation;
}
export type ScannedApp = InventoryApp<CertificateBinding>;
export type ScanResult = InventoryResult<ScannedApp>;

export interface DecideOptions {
  /** The operator's word: roll out a different latest version even if it does not outlive the loaded one, and skip hold-back. */
  force?: boolean;
  candidatePolicy?: CandidatePolicy;
  /** The app's recent rotation records; without them nothing is held back (they are read only for due apps). */
  history?: readonly RotationRecord[];
}

/**
 * Due when the chain answers a rotating reason (or `force` is set), a source is known and the source's latest passes
 * the metadata checks (the secret itself is checked when staging). `force` rolls out a latest version that differs
 * from the loaded one even if it does not outlive it (a re-issue after a key compromise); disabled, not-yet-valid and
 * expired versions are still refused. A due version that already failed on the app (`history`) is held back.
 */
export function decide(binding: InventoryBinding, policies: readonly RenewalPolicy[], now: Date, options: DecideOptions = {}): BindingEvaluation {
  let decision = evaluateRenewal(
    { ...(binding.loaded ? { loaded: binding.loaded } : {}), dangling: binding.dangling, ...(binding.latest ? { latest: binding.latest } : {}) },
    policies,
  );
  if (decision.reason === 'RenewalMissing' && binding.problem && !binding.latest) {
    // The source was not read (no source known, 403, ...): "has no newer version" would send the operator to renew a
    // certificate that may well be renewed already. Say why no renewal could be looked up.
    decision = { reason: 'RenewalMissing', message: `${expiryOf(binding, now)}, and no renewal can be looked up: ${binding.problem}` };
  }
  const evaluation: BindingEvaluation = { decision, due: false };
  if (binding.loaded?.notAfter) evaluation.daysRemaining = daysRemaining(binding.loaded.notAfter, now);
  // A source the app may not use is a refusal with its reason, whatever the renewal decision.
  if (binding.refused) evaluation.refusal = binding.refused;
  if (binding.problem || !binding.source) return evaluation;
  const wanted = ROTATION_REASONS.includes(decision.reason);
  const forced = !wanted && !!options.force && !!binding.latest && !sameThumbprint(binding.latest.thumbprint, binding.loaded?.thumbprint);
  if (!wanted && !forced) return evaluation;
  // A dangling thumbprint has no resource, so its dates are unknown: any valid version repairs it.
  // Forcing is for a re-issue (say, a compromised key) that need not outlive the loaded certificate.
  const loadedForCheck = binding.dangling || forced ? undefined : binding.loaded;
  const refusal = checkCandidateVersion(binding.latest, loadedForCheck, now, options.candidatePolicy);
  if (refusal) {
    evaluation.refusal = refusal;
    return evaluation;
  }
  evaluation.due = true;
  if (forced) evaluation.forced = true;
  if (options.force || !options.history || !binding.latest) return evaluation;
  const held = heldBackBy(options.history, binding.latest.id, now);
  if (!held) return evaluation;
  // The chain without the held-back version: RenewalMissing means the loaded certificate is expired or near expiry.
  const withoutIt = evaluateRenewal({ ...(binding.loaded ? { loaded: binding.loaded } : {}), dangling: false }, policies);
  return holdBack(evaluation, held, withoutIt.reason === 'RenewalMissing' && !!binding.loaded?.notAfter);
}

/** A due binding that its app's records hold back: not due, its own reason, the chain's decision kept as `wanted`. */
function holdBack(evaluation: BindingEvaluation, held: HeldBack, expiring: boolean): BindingEvaluation {
  const { forced: _forced, ...rest } = evaluation;
  const out: BindingEvaluation = { ...rest, due: false, decision: { reason: held.reason, message: held.message }, heldBack: held, wanted: evaluation.decision };
  if (expiring) out.expiring = true;
  return out;
}

/** An app with problems (bad tags, unreadable settings or records) is never changed, even if some binding looks due. */
export function isBlocked(app: InventoryApp): boolean {
  return app.problems.length > 0;
}

/** Due and not blocked: the binding a rotation of the app would change. */
export function isDue(app: InventoryApp, binding: CertificateBinding): boolean {
  return binding.evaluation.due && !isBlocked(app);
}

/** The events a scan raises for a binding (the alert rules in infra/ key on these names). */
export type ScanEventName = 'DanglingThumbprint' | 'CertificateExpiring' | 'CandidateRejected' | 'RenewalMissing' | 'TrustRefused';

/** The reason → event table: the reasons that raise an event of their own. */
const REASON_EVENTS: Partial<Record<RenewalReason, ScanEventName>> = {
  Expired: 'CertificateExpiring',
  NearingExpiry: 'CertificateExpiring',
  CandidateRejected: 'CandidateRejected',
  // With a problem (no source known, the source refused the read), the renewal could not be looked up at all.
  RenewalMissing: 'RenewalMissing',
};

/** The events of one binding, in the order they are sent. */
export function scanEventsOf(binding: CertificateBinding): ScanEventName[] {
  const { decision, refusal, expiring } = binding.evaluation;
  const events: ScanEventName[] = [];
  if (binding.dangling) events.push('DanglingThumbprint');
  const own = REASON_EVENTS[decision.reason];
  // A held-back version (CandidateRejected, BackingOff) does not silence the expiry alerts.
  if (own === 'CertificateExpiring' || expiring) events.push('CertificateExpiring');
  if (own && own !== 'CertificateExpiring') events.push(own);
  // Someone tried (or a grant is missing) to use a source or a candidate the trust boundaries refuse: alert.
  if (refusal && TRUST_REFUSALS.includes(refusal.refusal)) events.push('TrustRefused');
  return events;
}

function expiryOf(binding: InventoryBinding, now: Date): string {
  const notAfter = binding.loaded?.notAfter;
  const certificate = `certificate ${binding.loaded?.thumbprint ?? binding.key}`;
  if (!notAfter) return `${certificate} (expiry unknown)`;
  return `${certificate} ${notAfter.getTime() <= now.getTime() ? 'expired' : 'expires'} on ${notAfter.toISOString()}`;
}
