// Verify: after a warm-up, every probe kind's targets for the new state (the app's own health path proves it loads
// and presents the new certificate; the direct probes present the new certificate to the partners). Retried with
// backoff; only a failure that persists past PROBE_ATTEMPTS starts the rollback.
import { addStep, crash, recordProbes, renew, save, type RotationContext } from './context.js';
import { failureKindOf, planProbes, probeContextOf, probeWithRetries, reportProbeFailures, summarise } from './probing.js';
import { verificationStrength } from './probes/viaApp.js';

export async function verifyRotation(ctx: RotationContext): Promise<void> {
  const probe = probeContextOf(ctx, 'verify');
  const planned = await planProbes(probe);
  if (planned.length === 0) {
    ctx.record.verification = 'none';
    addStep(ctx, 'verified', [`no probes configured (tags ${ctx.names.health}, ${ctx.names.probe}): restart completed`, ...probe.notes].join('; '));
    await save(ctx);
    await crash(ctx, 'beforeCommit');
    return;
  }
  if (ctx.config.probeWarmupSeconds > 0) await ctx.deps.clock.sleep(ctx.config.probeWarmupSeconds * 1000);
  // Warm-up plus backoff can outlast LEASE_SECONDS with large settings: keep the lease fresh.
  await renew(ctx);
  const outcome = await probeWithRetries(probe, planned, {
    stopOnRefusal: false,
    between: async () => {
      await crash(ctx, 'midVerify');
      await renew(ctx);
    },
  });
  recordProbes(ctx, outcome.results);
  if (outcome.ok) {
    ctx.record.verification = verificationStrength(outcome, ctx.record, 'new');
    addStep(ctx, 'verified', [`probes passed after ${outcome.attempts} attempt(s) (verification: ${ctx.record.verification})`, ...probe.notes].join('; '));
    await save(ctx);
    await crash(ctx, 'beforeCommit');
    return;
  }
  const evidence = summarise(outcome.failures);
  const failureKind = failureKindOf(outcome.failures);
  reportProbeFailures(ctx, outcome.failures, { reason: 'VerificationFailed', failureKind });
  ctx.record.reason = `VerificationFailed: ${evidence}`;
  ctx.record.failureKind = failureKind;
  addStep(ctx, 'rollingBack', `verification failed after ${outcome.attempts} attempt(s): ${evidence}`);
  await save(ctx);
  await crash(ctx, 'afterRollbackStarted');
}
