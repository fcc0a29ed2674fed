// Verify: after a warm-up, the app's own health path (proves it loads and presents the new
// certificate) and the direct probes with the new certificate. Retried with backoff; only a failure
// that persists past PROBE_ATTEMPTS starts the rollback.
import { addStep, crash, credentials, dimensionsOf, loadCandidates, recordProbes, renew, save, type RotationContext } from './context.js';
import type { SiteInfo } from '../ports.js';
import type { RotationRecord } from '../records.js';
import type { AppTagConfig } from '../tags.js';
import { sameThumbprint } from '../thumbprints.js';
import { failureKindOf, hasTargets, probeWithRetries, strengthOf, summarise, type ProbeTargets } from './probing.js';

/** `https://<defaultHostName><health path>`, expecting the new (or, after a rollback, the old) thumbprint when known. */
export function viaAppTargetFor(
  site: SiteInfo,
  tags: AppTagConfig,
  record: RotationRecord,
  which: 'new' | 'old',
): ProbeTargets['viaApp'] {
  if (!tags.healthPath) return undefined;
  const url = `https://${site.defaultHostName}${tags.healthPath}`;
  const expected = which === 'new' ? record.probeExpectation?.newThumbprint : record.probeExpectation?.oldThumbprint;
  // The rollback's re-verification follows the same contract: an app that answers a bare 2xx passes it too.
  const target: NonNullable<ProbeTargets['viaApp']> = expected ? { url, expectedThumbprint: expected } : { url };
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

export function viaAppTarget(ctx: RotationContext, which: 'new' | 'old'): ProbeTargets['viaApp'] {
  return viaAppTargetFor(ctx.site, ctx.tags, ctx.record, which);
}

export async function verifyRotation(ctx: RotationContext): Promise<void> {
  const targets: ProbeTargets = {};
  const viaApp = viaAppTarget(ctx, 'new');
  if (viaApp) targets.viaApp = viaApp;
  const notes: string[] = [];
  if (ctx.tags.probeUrls.length > 0) {
    const refusal = await loadCandidates(ctx);
    if (refusal) notes.push(`direct probes skipped: ${refusal.message}`);
    else targets.direct = { urls: ctx.tags.probeUrls, credentials: credentials(ctx) };
  }
  if (!hasTargets(targets)) {
    ctx.record.verification = 'none';
    addStep(ctx, 'verified', [`no probes configured (tags ${ctx.names.health}, ${ctx.names.probe}): restart completed`, ...notes].join('; '));
    await save(ctx);
    await crash(ctx, 'beforeCommit');
    return;
  }
  if (ctx.config.probeWarmupSeconds > 0) await ctx.deps.clock.sleep(ctx.config.probeWarmupSeconds * 1000);
  // Warm-up plus backoff can outlast LEASE_SECONDS with large settings: keep the lease fresh.
  await renew(ctx);
  const outcome = await probeWithRetries(ctx.deps, ctx.config, targets, {
    stopOnRefusal: false,
    midBoundary: true,
    between: () => renew(ctx),
  });
  recordProbes(ctx, outcome.results);
  if (outcome.ok) {
    ctx.record.verification = strengthOf(outcome, targets, expectationCoversEveryBinding(ctx.record, 'new'));
    addStep(ctx, 'verified', [`probes passed after ${outcome.attempts} attempt(s) (verification: ${ctx.record.verification})`, ...notes].join('; '));
    await save(ctx);
    await crash(ctx, 'beforeCommit');
    return;
  }
  const evidence = summarise(outcome.failures);
  for (const failure of outcome.failures) {
    ctx.deps.telemetry.event(
      'ProbeFailed',
      dimensionsOf(ctx.record, {
        reason: 'VerificationFailed',
        probe: failure.kind,
        target: failure.target,
        status: failure.status,
        failureKind: failureKindOf(outcome.failures),
      }),
    );
  }
  ctx.record.reason = `VerificationFailed: ${evidence}`;
  ctx.record.failureKind = failureKindOf(outcome.failures);
  addStep(ctx, 'rollingBack', `verification failed after ${outcome.attempts} attempt(s): ${evidence}`);
  await save(ctx);
  await crash(ctx, 'afterRollbackStarted');
}
