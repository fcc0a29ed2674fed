// Preflight: before anything on the app changes, every probe kind that can try the candidate without the app does so
// (the direct probe: the rotator calls each downstream of the app over mTLS presenting the candidate). A refusal
// aborts the rotation with the app untouched; the staged certificate may stay (retirement removes it once
// unreferenced).
import type { CandidateRefusal } from '../candidate.js';
import { addStep, crash, finish, recordProbes, save, type RotationContext } from './context.js';
import { planProbes, probeContextOf, probeWithRetries, reportProbeFailures, summarise } from './probing.js';

export async function preflight(ctx: RotationContext): Promise<void> {
  const probe = probeContextOf(ctx, 'preflight');
  // A candidate that cannot be used aborts here, before the switch, rather than being skipped as verify would.
  let refusal: CandidateRefusal | undefined;
  const load = probe.candidateCredentials;
  if (load) {
    probe.candidateCredentials = async () => {
      const loaded = await load();
      if (!Array.isArray(loaded)) refusal = loaded;
      return loaded;
    };
  }
  const planned = await planProbes(probe);
  if (refusal) {
    await finish(ctx, 'aborted', `CandidateRefused: ${refusal.refusal}: ${refusal.message}`);
    return;
  }
  if (planned.length === 0) {
    addStep(ctx, 'preflighted', `no downstream endpoints (tag ${ctx.names.probe}): nothing to probe`);
    await save(ctx);
    await crash(ctx, 'afterPreflight');
    return;
  }
  const outcome = await probeWithRetries(probe, planned, { stopOnRefusal: true });
  recordProbes(ctx, outcome.results);
  if (!outcome.ok) {
    reportProbeFailures(ctx, outcome.failures, { reason: 'PreflightFailed' });
    await finish(ctx, 'aborted', `PreflightFailed: ${summarise(outcome.failures)}`);
    return;
  }
  addStep(ctx, 'preflighted', `${planned.length} probe target(s) accepted the candidate`);
  await save(ctx);
  await crash(ctx, 'afterPreflight');
}
