// Commit: the new certificate is verified. The probe timer keeps re-verifying until `verifyUntil`;
// the old certificate may be retired after `retireAfter`.
import { finish, type RotationContext } from './context.js';
import { DAY_MS, MINUTE_MS } from './time.js';

export async function commitRotation(ctx: RotationContext): Promise<void> {
  const now = ctx.deps.clock.now().getTime();
  const reasons = [...new Set(ctx.record.bindings.map((b) => b.reason))].join(',');
  await finish(ctx, 'committed', reasons, {
    verifyUntil: new Date(now + ctx.config.verifyWindowMinutes * MINUTE_MS).toISOString(),
    retireAfter: new Date(now + ctx.config.retireAfterDays * DAY_MS).toISOString(),
  });
}
