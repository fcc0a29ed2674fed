// Plan: per app, the bindings due with their candidate, and one row per binding (the plan's and the inventory's).
import type { AppRef, KeyVaultCertificateVersion } from '../ports.js';
import type { CandidateRefusal } from '../refusals.js';
import { sourceUrlOf } from '../tags.js';
import { isBlocked, isDue, type CertificateBinding, type ScannedApp, type ScanResult } from './decide.js';
import type { PolicyDecision } from './policies.js';

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
  bindings: BindingRow[];
  problems: string[];
  /** The earliest time a held-back binding is tried again (BackingOff), when nothing else is due. */
  nextAttemptAt?: string;
}

/** One binding as a plan (and the inventory) shows it: public data only (thumbprints, names, dates, reasons). */
export interface BindingRow {
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
}

export interface Plan {
  generatedAt: string;
  apps: AppPlan[];
  /** Apps with at least one due binding. */
  dueApps: number;
  dueBindings: number;
}

export function planApp(app: ScannedApp): AppPlan {
  const blocked = isBlocked(app);
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
    blocked ||
    app.bindings.some((b) => b.problem || b.evaluation.refusal || b.evaluation.heldBack || b.evaluation.decision.reason === 'RenewalMissing');
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
    bindings: app.bindings.map((b) => bindingRow(app, b)),
    problems: [...app.problems],
  };
  if (plan.action !== 'rotate' && nextAttempts[0]) plan.nextAttemptAt = nextAttempts[0];
  return plan;
}

/** The one row builder: what a plan and the inventory show of a binding. */
export function bindingRow(app: ScannedApp, b: CertificateBinding): BindingRow {
  const row: BindingRow = {
    key: b.key,
    reason: b.evaluation.decision.reason,
    message: b.evaluation.decision.message,
    due: isDue(app, b),
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
}

export function planOf(scan: ScanResult, now: Date): Plan {
  const apps = scan.apps.map(planApp);
  return {
    generatedAt: now.toISOString(),
    apps,
    dueApps: apps.filter((a) => a.action === 'rotate').length,
    dueBindings: apps.reduce((sum, a) => sum + a.due.length, 0),
  };
}
