// Admission of the direct probe targets, before anything is staged: a target the probe target policy refuses (its
// name resolves to a loopback, link-local, metadata or private address the operator did not allow) aborts the
// rotation with nothing written to the app or its resource group. The static checks (scheme, literal addresses, the
// number of targets) already refused such an app in the plan; this is the part that needs name resolution.
import { dimensionsOf, finish, type RotationContext } from './context.js';

/** True when the rotation may go on; otherwise it is aborted (`ProbeTargetRefused`) and the lease freed. */
export async function admitProbeTargets(ctx: RotationContext): Promise<boolean> {
  const { prober } = ctx.deps;
  if (!prober.admitTarget || ctx.tags.probeUrls.length === 0) return true;
  const refused: Array<{ url: string; reason: string }> = [];
  for (const url of ctx.tags.probeUrls) {
    const reason = await prober.admitTarget(url);
    if (reason !== undefined) refused.push({ url, reason });
  }
  if (refused.length === 0) return true;
  for (const { url } of refused) {
    ctx.deps.telemetry.event('ProbeFailed', dimensionsOf(ctx.record, { reason: 'ProbeTargetRefused', probe: 'direct', target: url }));
  }
  await finish(ctx, 'aborted', `ProbeTargetRefused: tag ${ctx.names.probe}: ${refused.map((r) => r.reason).join('; ')}`.slice(0, 1000));
  return false;
}
