// Canary rollouts composed over the ports the composition root built: the use cases of
// src/core/rollout/ with the rotation queue, the rotation store and the rollout table. Shared by the function app and
// the CLI; nothing here loads @azure/functions.
import type { Dependencies } from './composition.js';
import type { Config } from './core/config.js';
import type { Telemetry } from './core/events.js';
import type { Plan, ScanReport } from './core/index.js';
import type { Logger } from './core/logger.js';
import type { RequestedBy } from './core/records.js';
import type { Rollout } from './core/rollout/model.js';
import { createRollouts, dueAppOf, type DueApp, type Rollouts } from './core/rollout/rollouts.js';
import { describeWaves } from './core/rollout/waves.js';

/** The rollouts of one invocation (or CLI run): its queue messages carry `requestedBy` and the request id like the others. */
export function rolloutsOf(
  { config, deps, telemetry, logger }: { config: Config; deps: Pick<Dependencies, 'rollouts' | 'store' | 'queue' | 'clock'>; telemetry: Telemetry; logger: Logger },
  requestId: string,
  requestedBy = 'timer',
  caller?: RequestedBy,
): Rollouts {
  return createRollouts(
    {
      rollouts: deps.rollouts,
      rotations: deps.store,
      queue: async (appId, reason, rollout) => {
        await deps.queue.send({ appId, reason, requestedBy, requestId, ...(caller ? { caller } : {}), ...(rollout ? { rollout } : {}) });
      },
      telemetry,
      clock: deps.clock,
      logger,
    },
    { ...config.rollout, rotationTag: config.rotationTag, leaseSeconds: config.leaseSeconds },
  );
}

/** The due apps of a scan, with their tags (the canary tag) and the loaded certificates' expiry. */
export function dueAppsOf(plan: Plan, apps: ScanReport['apps']): DueApp[] {
  const tags = new Map(apps.map((a) => [a.appId, a.site.tags]));
  return plan.apps.filter((app) => app.action === 'rotate').map((app) => dueAppOf(app, tags.get(app.appId)));
}

export function reasonOf(plan: Plan): (app: DueApp) => string {
  const reasons = new Map(plan.apps.map((a) => [a.appId, a.due.map((d) => d.reason).join(',')]));
  return (app) => reasons.get(app.appId) ?? 'rollout';
}

/** What the API and the CLI show of a rollout: its state and one line per wave. */
export function rolloutView(rollout: Rollout): Rollout & { lines: string[]; apps: number } {
  return { ...rollout, apps: rollout.waves.reduce((n, w) => n + w.apps.length, 0), lines: describeWaves(rollout.waves, 50) };
}

