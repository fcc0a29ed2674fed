// Restart: App Service loads certificates (and re-reads settings) only at start. Restarting twice is
// harmless, so a resumed rotation that finds the record at `switched` simply restarts again.
import { addStep, crash, save, type RotationContext } from './context.js';

export async function restartApp(ctx: RotationContext): Promise<void> {
  await ctx.deps.gateway.restart(ctx.record.app);
  await crash(ctx, 'afterRestart');
  addStep(ctx, 'restarted');
  await save(ctx);
}
