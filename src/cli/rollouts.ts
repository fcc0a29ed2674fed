// `mtls-rotator rollouts [show|promote|abort <id>]`: the operator's view of canary rollouts, the same use cases as
// GET /api/rollouts and POST /api/rollouts/{id}/promote|abort.
import type { Dependencies } from '../composition.js';
import type { Config } from '../core/config.js';
import { ConflictError } from '../core/errors.js';
import type { Telemetry } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import { InvalidRolloutIdError } from '../core/rollout/rollouts.js';
import { scanFailure, type Rotator } from '../core/index.js';
import { dueAppsOf, rolloutsOf, rolloutView } from '../rolloutService.js';
import type { CliArgs } from './args.js';
import { renderPlan } from './render.js';

/** main.ts's exit statuses, handed in (main imports this module). */
export interface ExitStatuses {
  ok: number;
  fault: number;
  usage: number;
}

export async function runRollouts(
  args: CliArgs,
  services: { config: Config; deps: Dependencies; telemetry: Telemetry; logger: Logger },
  io: { out(text: string): void; err(text: string): void },
  EXIT: ExitStatuses,
): Promise<number> {
  const rollouts = rolloutsOf(services, `cli-${process.pid}`, 'cli');
  const show = (views: ReturnType<typeof rolloutView>[]) =>
    io.out(
      args.json
        ? JSON.stringify(views.length === 1 && args.rolloutAction !== 'list' ? views[0] : { rollouts: views }, null, 2)
        : views.length === 0
          ? 'no rollouts'
          : views
              .map((r) => [`${r.id}  ${r.status}  ${r.source}  wave ${r.current + 1} of ${r.waves.length}, ${r.apps} app(s)`, ...r.lines.map((l) => `  ${l}`), ...(r.halt ? [`  halted: ${r.halt.evidence.join('; ')}`] : [])].join('\n'))
              .join('\n\n'),
    );
  try {
    switch (args.rolloutAction ?? 'list') {
      case 'list':
        show((await rollouts.list()).map(rolloutView));
        return EXIT.ok;
      case 'show':
        show([rolloutView(await rollouts.get(args.rolloutId!))]);
        return EXIT.ok;
      case 'promote':
        show([rolloutView(await rollouts.promote(args.rolloutId!, 'cli'))]);
        return EXIT.ok;
      case 'abort':
        show([rolloutView(await rollouts.abort(args.rolloutId!, 'cli'))]);
        return EXIT.ok;
    }
  } catch (error) {
    // A malformed id is bad usage; a rollout in the wrong state is a refusal that names its state.
    if (error instanceof InvalidRolloutIdError) {
      io.err(`mtls-rotator: ${error.message}`);
      return EXIT.usage;
    }
    if (error instanceof ConflictError) {
      io.err(`mtls-rotator: ${error.message}`);
      return EXIT.fault;
    }
    throw error;
  }
  return EXIT.ok;
}

/** `plan` of the whole fleet: the plan, then the waves its due apps go out in (`wave 1 of 3: orders (canary)`). */
export async function planWithWaves(
  args: CliArgs,
  rotator: Rotator,
  services: { config: Config; deps: Dependencies; telemetry: Telemetry; logger: Logger },
  io: { out(text: string): void },
  EXIT: ExitStatuses,
): Promise<number> {
  const report = await rotator.scan();
  const failure = scanFailure(report);
  if (failure !== undefined) throw failure;
  const plan = args.due ? { ...report.plan, apps: report.plan.apps.filter((a) => a.action === 'rotate') } : report.plan;
  const rollouts = await rolloutsOf(services, `cli-${process.pid}`, 'cli').preview(dueAppsOf(report.plan, report.apps));
  if (args.json) io.out(JSON.stringify({ ...plan, rollouts }, null, 2));
  else io.out(rollouts.length === 0 ? renderPlan(plan) : `${renderPlan(plan)}\n\nRollouts (apps that share a source go out in waves):\n${rollouts.join('\n')}`);
  return EXIT.ok;
}
