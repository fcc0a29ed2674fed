// The via-app probe: an HTTPS GET of the app's own health path (tag `<p>-health`), which makes the app call its
// partner with the certificate it loaded, judged by the verification contract (docs/operations.md). It proves what the
// app presents, so it runs once the app has restarted on a state: verify, the rollback and the re-verification.
import type { SiteInfo } from '../../ports.js';
import type { RotationRecord, VerificationStrength } from '../../records.js';
import type { AppTagConfig } from '../../tags.js';
import { sameThumbprint } from '../../thumbprints.js';
import { guarded, type ProbeKind, type ProbeOutcome, type ProbeTarget } from './probeKind.js';

export const VIA_APP = 'via-app';

export interface ViaAppTarget extends ProbeTarget {
  url: string;
  expectedThumbprint?: string;
  /** The certificate of the other side (the old one when verifying the new, and back): still seeing it is no verdict. */
  otherThumbprint?: string;
  /** `<p>-health-expect=thumbprint`: a 2xx without a thumbprint report fails. */
  requireReport?: boolean;
}

/** `https://<defaultHostName><health path>`, expecting the new (or, after a rollback, the old) thumbprint when known. */
export function viaAppTargetFor(site: SiteInfo, tags: AppTagConfig, record: RotationRecord, which: 'new' | 'old'): ViaAppTarget | undefined {
  if (!tags.healthPath) return undefined;
  const url = `https://${site.defaultHostName}${tags.healthPath}`;
  const expected = which === 'new' ? record.probeExpectation?.newThumbprint : record.probeExpectation?.oldThumbprint;
  const other = which === 'new' ? record.probeExpectation?.oldThumbprint : record.probeExpectation?.newThumbprint;
  // The rollback's re-verification follows the same contract: an app that answers a bare 2xx passes it too.
  const target: ViaAppTarget = expected ? { key: url, url, expectedThumbprint: expected } : { key: url, url };
  if (expected && other && !sameThumbprint(expected, other)) target.otherThumbprint = other;
  if (tags.healthExpect === 'thumbprint') target.requireReport = true;
  return target;
}

/** The expectation names the certificate of every binding on that side, so a matching report confirms them all. */
export function expectationCoversEveryBinding(record: RotationRecord, which: 'new' | 'old'): boolean {
  const expected = which === 'new' ? record.probeExpectation?.newThumbprint : record.probeExpectation?.oldThumbprint;
  const [only, ...rest] = record.bindings;
  if (!expected || !only || rest.length > 0) return false;
  return sameThumbprint(expected, which === 'new' ? only.newThumbprint : only.oldThumbprint);
}

/**
 * How strongly a passing verification proved the state: the via-app answer's strength, `none` without a via-app
 * result. A thumbprint report confirms one certificate: unless the expectation is the certificate of every binding the
 * rotation changes, the weakest (`status`) is recorded.
 */
export function verificationStrength(outcome: ProbeOutcome, record: RotationRecord, which: 'new' | 'old'): VerificationStrength {
  const passed = [...outcome.results].reverse().find((r) => r.kind === VIA_APP && r.ok);
  if (!passed?.verification) return 'none';
  return passed.verification === 'thumbprint' && expectationCoversEveryBinding(record, which) ? 'thumbprint' : 'status';
}

export const viaAppProbe: ProbeKind<ViaAppTarget> = {
  name: VIA_APP,
  targets(ctx) {
    // Before the switch the app still presents the old certificate: its answer says nothing about the candidate.
    if (ctx.phase === 'preflight') return [];
    const target = viaAppTargetFor(ctx.site, ctx.tags, ctx.record, ctx.phase === 'rollback' ? 'old' : 'new');
    return target ? [target] : [];
  },
  async run(ctx, { url, expectedThumbprint, otherThumbprint, requireReport }) {
    const result = await guarded(ctx, VIA_APP, url, () =>
      requireReport ? ctx.deps.prober.viaApp(url, expectedThumbprint, { requireReport }) : ctx.deps.prober.viaApp(url, expectedThumbprint),
    );
    // The adapter applies the contract too; checking the expectation here keeps the rule in one place that core owns,
    // and the strength is core's to say, whatever an adapter claims.
    delete result.verification;
    if (result.ok && expectedThumbprint && result.observedThumbprint && !sameThumbprint(result.observedThumbprint, expectedThumbprint)) {
      result.ok = false;
      result.transient = false;
      result.detail = `app presented ${result.observedThumbprint}, expected ${expectedThumbprint}`;
    } else if (result.ok && requireReport && !result.observedThumbprint) {
      result.ok = false;
      result.transient = false;
      result.detail = `app answered ${result.status ?? '2xx'} without reporting the certificate it presented (a thumbprint report is required)`;
    }
    // An app still presenting the certificate it was switched away from has not picked the switch up (the restart did
    // not reach every instance, or has not finished): that says nothing against the expected certificate, so it is
    // retried within the window and, if it lasts, counted as transient (a backoff), never as the certificate's refusal.
    if (!result.ok && otherThumbprint && result.observedThumbprint && sameThumbprint(result.observedThumbprint, otherThumbprint)) {
      result.transient = true;
      result.detail = `app still presents ${result.observedThumbprint}, the certificate it was switched away from (expected ${expectedThumbprint}): the restart has not taken effect`;
    }
    if (result.ok) {
      result.verification = expectedThumbprint && result.observedThumbprint && sameThumbprint(result.observedThumbprint, expectedThumbprint) ? 'thumbprint' : 'status';
    }
    return [result];
  },
};
