// Plan: the policy chain applied to every binding, and per app the bindings due with their candidate.
import { checkCandidateVersion, type CandidatePolicy, type CandidateRefusal } from './candidateChecks.js';
import { daysRemaining, evaluateRenewal, ROTATION_REASONS, type PolicyDecision, type RenewalPolicy } from './policies.js';
import type { AppRef, KeyVaultCertificateVersion } from './ports.js';
import type { HeldBack } from './retryPolicy.js';
import type { CertificateBinding, ScannedApp, ScanResult } from './scan.js';
import { sourceUrlOf } from './tags.js';
import { sameThumbprint } from './thumbprints.js';
import type { SubscriptionDiscovery } from './subscriptions.js';

export interface BindingEvaluation {
  decision: PolicyDecision;
  /** Set when the decision calls for a rotation but Key Vault's latest may not be rolled out. */
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

/** A due binding that its app's records hold back: not due, its own reason, the chain's decision kept as `wanted`. */
export function holdBack(evaluation: BindingEvaluation, held: HeldBack, expiring: boolean): BindingEvaluation {
  const { forced: _forced, ...rest } = evaluation;
  const out: BindingEvaluation = { ...rest, due: false, decision: { reason: held.reason, message: held.message }, heldBack: held, wanted: evaluation.decision };
  if (expiring) out.expiring = true;
  return out;
}

/**
 * Due when the chain answers a rotating reason (or `force` is set), a source is known and Key Vault's
 * latest passes the metadata checks (the secret itself is checked when staging). `force` rolls out a
 * latest version that differs from the loaded one even if it does not outlive it (a re-issue after a
 * key compromise); disabled, not-yet-valid and expired versions are still refused.
 */
export function evaluateBinding(
  binding: CertificateBinding,
  policies: readonly RenewalPolicy[],
  now: Date,
  options: { force?: boolean; candidatePolicy?: CandidatePolicy } = {},
): BindingEvaluation {
  let decision = evaluateRenewal(
    { ...(binding.loaded ? { loaded: binding.loaded } : {}), dangling: binding.dangling, ...(binding.latest ? { latest: binding.latest } : {}) },
    policies,
  );
  if (decision.reason === 'RenewalMissing' && binding.problem && !binding.latest) {
    // Key Vault was not read (no source known, 403, ...): "has no newer version" would send the operator to renew a
    // certificate that may well be renewed already. Say why no renewal could be looked up.
    decision = { reason: 'RenewalMissing', message: `${expiryOf(binding, now)}, and no renewal can be looked up: ${binding.problem}` };
  }
  const evaluation: BindingEvaluation = { decision, due: false };
  if (binding.loaded?.notAfter) evaluation.daysRemaining = daysRemaining(binding.loaded.notAfter, now);
  // A source the app may not use (issue 11) is a refusal with its reason, whatever the renewal decision.
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
  return evaluation;
}

function expiryOf(binding: CertificateBinding, now: Date): string {
  const notAfter = binding.loaded?.notAfter;
  const certificate = `certificate ${binding.loaded?.thumbprint ?? binding.key}`;
  if (!notAfter) return `${certificate} (expiry unknown)`;
  return `${certificate} ${notAfter.getTime() <= now.getTime() ? 'expired' : 'expires'} on ${notAfter.toISOString()}`;
}

export interface DueBinding {
  key: string;
  reason: PolicyDecision['reason'];
  message: string;
  oldThumbprint?: string;
  oldCertificateName?: string;
  candidate: KeyVaultCertificateVersion;
  sourceUrl: string;
  forced?: boolean;
}

export interface AppPlan {
  appId: string;
  name: string;
  ref: AppRef;
  mode: 'explicit' | 'wildcard';
  /**
   * rotate = at least one binding is due; alert = something needs a person (problems, refused
   * candidates, RenewalMissing, dangling without a source, a version held back by CandidateRejected or
   * BackingOff); none = up to date.
   */
  action: 'rotate' | 'alert' | 'none';
  due: DueBinding[];
  bindings: Array<{
    key: string;
    thumbprint?: string;
    certificateName?: string;
    source?: string;
    latestVersion?: string;
    latestThumbprint?: string;
    notAfter?: string;
    daysRemaining?: number;
    reason: PolicyDecision['reason'];
    message: string;
    due: boolean;
    refusal?: CandidateRefusal;
    problem?: string;
    /** CandidateRejected / BackingOff: the rotation that proved the version bad, or failed last. */
    heldBackBy?: string;
    /** BackingOff: when the version is tried again. */
    nextAttemptAt?: string;
  }>;
  problems: string[];
  /** The earliest time a held-back binding is tried again (BackingOff), when nothing else is due. */
  nextAttemptAt?: string;
}

export interface Plan {
  generatedAt: string;
  apps: AppPlan[];
  /** Apps with at least one due binding. */
  dueApps: number;
  dueBindings: number;
  /** With subscription discovery: the subscriptions found (scanned) and skipped (Disabled, Deleted), with states. */
  subscriptions?: SubscriptionDiscovery;
}

export function planApp(app: ScannedApp): AppPlan {
  const due: DueBinding[] = [];
  for (const binding of app.bindings) {
    if (!binding.evaluation.due || !binding.latest || !binding.source) continue;
    const entry: DueBinding = {
      key: binding.key,
      reason: binding.evaluation.decision.reason,
      message: binding.evaluation.decision.message,
      candidate: binding.latest,
      sourceUrl: sourceUrlOf(binding.source),
    };
    if (binding.loaded?.thumbprint) entry.oldThumbprint = binding.loaded.thumbprint;
    if (binding.certificate) entry.oldCertificateName = binding.certificate.name;
    if (binding.evaluation.forced) entry.forced = true;
    due.push(entry);
  }
  const needsAlert =
    app.problems.length > 0 ||
    app.bindings.some((b) => b.problem || b.evaluation.refusal || b.evaluation.heldBack || b.evaluation.decision.reason === 'RenewalMissing');
  // An app with problems is never changed, even if some binding looks due.
  const blocked = app.problems.length > 0;
  const nextAttempts = app.bindings
    .map((b) => b.evaluation.heldBack?.nextAttemptAt)
    .filter((t): t is string => !!t)
    .sort();
  const plan: AppPlan = {
    appId: app.appId,
    name: app.name,
    ref: app.ref,
    mode: app.mode,
    action: !blocked && due.length > 0 ? 'rotate' : needsAlert ? 'alert' : 'none',
    due: blocked ? [] : due,
    bindings: app.bindings.map((b) => {
      const row: AppPlan['bindings'][number] = {
        key: b.key,
        reason: b.evaluation.decision.reason,
        message: b.evaluation.decision.message,
        due: !blocked && b.evaluation.due,
      };
      if (b.loaded?.thumbprint) row.thumbprint = b.loaded.thumbprint;
      if (b.certificate) row.certificateName = b.certificate.name;
      if (b.source) row.source = sourceUrlOf(b.source);
      if (b.latest) {
        row.latestVersion = b.latest.version;
        row.latestThumbprint = b.latest.thumbprint;
      }
      if (b.loaded?.notAfter) row.notAfter = b.loaded.notAfter.toISOString();
      if (b.evaluation.daysRemaining !== undefined) row.daysRemaining = b.evaluation.daysRemaining;
      if (b.evaluation.refusal) row.refusal = b.evaluation.refusal;
      if (b.problem) row.problem = b.problem;
      if (b.evaluation.heldBack) {
        row.heldBackBy = b.evaluation.heldBack.rotationId;
        if (b.evaluation.heldBack.nextAttemptAt) row.nextAttemptAt = b.evaluation.heldBack.nextAttemptAt;
      }
      return row;
    }),
    problems: [...app.problems],
  };
  if (plan.action !== 'rotate' && nextAttempts[0]) plan.nextAttemptAt = nextAttempts[0];
  return plan;
}

export function planOf(scan: ScanResult, now: Date): Plan {
  const apps = scan.apps.map(planApp);
  return {
    generatedAt: now.toISOString(),
    apps,
    dueApps: apps.filter((a) => a.action === 'rotate').length,
    dueBindings: apps.reduce((sum, a) => sum + a.due.length, 0),
    ...(scan.discovery !== undefined ? { subscriptions: scan.discovery } : {}),
  };
}
