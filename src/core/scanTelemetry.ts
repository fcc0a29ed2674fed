// What a scan reports to Application Insights: one ScanCompleted, one metric per binding, an event per binding
// that needs attention, and ScanIncomplete when a subscription could not be read (the alert rules in infra/ key on
// these names).
import type { Dimensions, Telemetry } from './events.js';
import { RotatorError, ScanFailedError } from './errors.js';
import type { Plan } from './decision/plan.js';
import { scanEventsOf, type CertificateBinding, type ScanEventName, type ScanResult } from './decision/decide.js';
import { sourceUrlOf } from './tags.js';

export function emitScanTelemetry(telemetry: Telemetry, scan: ScanResult, plan: Plan): void {
  let bindings = 0;
  let dangling = 0;
  for (const app of scan.apps) {
    for (const binding of app.bindings) {
      bindings += 1;
      const { decision, refusal, daysRemaining, due } = binding.evaluation;
      const dimensions = {
        appId: app.appId,
        slot: app.ref.slot,
        subscription: app.ref.subscriptionId,
        thumbprint: binding.loaded?.thumbprint,
        certificate: binding.certificate?.id,
        keyVaultCertificateId: binding.latest?.id,
        keyVaultVersion: binding.latest?.version,
        source: binding.source ? sourceUrlOf(binding.source) : undefined,
        reason: decision.reason,
        due,
        refusal: refusal?.refusal,
      };
      if (daysRemaining !== undefined) telemetry.metric('CertificateDaysRemaining', daysRemaining, dimensions);
      if (binding.dangling) dangling += 1;
      for (const name of scanEventsOf(binding)) telemetry.event(name, eventDimensions(name, binding, dimensions));
    }
  }
  const failed = scan.subscriptions.filter((s) => !s.ok);
  for (const subscription of failed) {
    telemetry.exception(new RotatorError(subscription.error ?? 'subscription scan failed'), { subscription: subscription.subscriptionId });
  }
  if (failed.length > 0) {
    // Apps in these subscriptions were not looked at tonight; the scan-incomplete alert names them.
    telemetry.event(
      'ScanIncomplete',
      {
        failedSubscriptions: failed.map((s) => s.subscriptionId).join(','),
        errors: failed.map((s) => `${s.subscriptionId}: ${s.error ?? 'failed'}`).join('; ').slice(0, 1000),
        reachedNone: failed.length === scan.subscriptions.length,
      },
      { subscriptions: scan.subscriptions.length, failedSubscriptions: failed.length },
    );
  }
  telemetry.event(
    'ScanCompleted',
    {
      subscriptions: scan.subscriptions.length,
      failedSubscriptions: scan.subscriptions.filter((s) => !s.ok).length,
    },
    {
      subscriptions: scan.subscriptions.length,
      appsScanned: scan.apps.length,
      bindings,
      due: plan.dueBindings,
      dueApps: plan.dueApps,
      dangling,
      problems: scan.problems.length,
      durationMs: scan.durationMs,
    },
  );
}

/**
 * A scan that reached none of its subscriptions is a failure of the run, not an empty inventory: the caller throws
 * this so the Functions host counts the invocation as failed. Undefined when at least one subscription was read.
 */
export function scanFailure(scan: Pick<ScanResult, 'subscriptions'>): ScanFailedError | undefined {
  if (scan.subscriptions.length === 0 || scan.subscriptions.some((s) => s.ok)) return undefined;
  return new ScanFailedError(scan.subscriptions.map((s) => ({ subscriptionId: s.subscriptionId, ...(s.error !== undefined ? { error: s.error } : {}) })));
}

/** Each event's own dimensions beside the binding's (decide.ts says which events a binding raises). */
function eventDimensions(name: ScanEventName, binding: CertificateBinding, dimensions: Dimensions): Dimensions {
  const { daysRemaining, refusal, heldBack, wanted } = binding.evaluation;
  switch (name) {
    case 'DanglingThumbprint':
      return { ...dimensions, reason: 'DanglingThumbprint', problem: binding.problem };
    case 'CertificateExpiring':
      return { ...dimensions, daysRemaining };
    case 'CandidateRejected':
      return { ...dimensions, daysRemaining, rotationId: heldBack?.rotationId, wanted: wanted?.reason };
    case 'RenewalMissing':
      return { ...dimensions, daysRemaining, problem: binding.problem };
    case 'TrustRefused':
      return { ...dimensions, refusal: refusal?.refusal, problem: refusal?.message };
  }
}
