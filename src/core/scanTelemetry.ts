// What a scan reports to Application Insights: one ScanCompleted, one metric per binding, and an
// event per binding that needs attention (the alert rules in infra/ key on these names).
import type { Telemetry } from './events.js';
import { RotatorError } from './errors.js';
import type { Plan } from './plan.js';
import type { ScanResult } from './scan.js';
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
      if (binding.dangling) {
        dangling += 1;
        telemetry.event('DanglingThumbprint', { ...dimensions, reason: 'DanglingThumbprint', problem: binding.problem });
      }
      // A held-back version (CandidateRejected, BackingOff) does not silence the expiry alerts.
      if (decision.reason === 'Expired' || decision.reason === 'NearingExpiry' || binding.evaluation.expiring) {
        telemetry.event('CertificateExpiring', { ...dimensions, daysRemaining });
      }
      if (decision.reason === 'CandidateRejected') {
        telemetry.event('CandidateRejected', {
          ...dimensions,
          daysRemaining,
          rotationId: binding.evaluation.heldBack?.rotationId,
          wanted: binding.evaluation.wanted?.reason,
        });
      }
      // With a problem (no source known, Key Vault refused the read), the renewal could not be looked up at all.
      if (decision.reason === 'RenewalMissing') telemetry.event('RenewalMissing', { ...dimensions, daysRemaining, problem: binding.problem });
    }
  }
  for (const subscription of scan.subscriptions.filter((s) => !s.ok)) {
    telemetry.exception(new RotatorError(subscription.error ?? 'subscription scan failed'), { subscription: subscription.subscriptionId });
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
