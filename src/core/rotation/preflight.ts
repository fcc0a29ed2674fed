// Preflight: before anything on the app changes, the rotator itself calls each downstream of the app
// (tag `<p>-probe`) over mTLS presenting the candidate. A refusal aborts the rotation with the app
// untouched; the staged certificate may stay (retirement removes it once unreferenced).
import { addStep, crash, credentials, finish, loadCandidates, recordProbes, save, dimensionsOf, type RotationContext } from './context.js';
import { probeWithRetries, summarise } from './probing.js';

export async function preflight(ctx: RotationContext): Promise<void> {
  const urls = ctx.tags.probeUrls;
  if (urls.length === 0) {
    addStep(ctx, 'preflighted', `no downstream endpoints (tag ${ctx.names.probe}): nothing to probe`);
    await save(ctx);
    await crash(ctx, 'afterPreflight');
    return;
  }
  const refusal = await loadCandidates(ctx);
  if (refusal) {
    await finish(ctx, 'aborted', `CandidateRefused: ${refusal.refusal}: ${refusal.message}`);
    return;
  }
  const outcome = await probeWithRetries(
    ctx.deps,
    ctx.config,
    { direct: { urls, credentials: credentials(ctx) } },
    { stopOnRefusal: true },
  );
  recordProbes(ctx, outcome.results);
  if (!outcome.ok) {
    const evidence = summarise(outcome.failures);
    for (const failure of outcome.failures) {
      ctx.deps.telemetry.event('ProbeFailed', dimensionsOf(ctx.record, { reason: 'PreflightFailed', probe: failure.kind, target: failure.target, status: failure.status }));
    }
    await finish(ctx, 'aborted', `PreflightFailed: ${evidence}`);
    return;
  }
  addStep(ctx, 'preflighted', `${urls.length} downstream endpoint(s) accepted the candidate`);
  await save(ctx);
  await crash(ctx, 'afterPreflight');
}
