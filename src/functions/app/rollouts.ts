// The Functions side of canary rollouts (issue 17): the rollout use cases built over an invocation's services, the
// fan-out's view of due apps, and the /api/rollouts handlers. The engine's decisions live in src/core/rollout/.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { Plan, ScanReport } from '../../core/index.js';
import type { RequestedBy } from '../../core/records.js';
import { createRollouts, type DueApp, type Rollouts } from '../../core/rollout/rollouts.js';
import { describeWaves } from '../../core/rollout/waves.js';
import type { Rollout } from '../../core/rollout/model.js';
import { jsonResponse, readJsonBody, RequestValidationError } from '../http/index.js';
import type { Invocation } from './services.js';

/** The rollouts of this invocation: its queue messages carry `requestedBy` and the invocation id like the others. */
export function rolloutsOf(
  { config, deps, telemetry, logger }: Pick<Invocation, 'config' | 'deps' | 'telemetry' | 'logger'>,
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
    { ...config.rollout, rotationTag: config.rotationTag },
  );
}

/** The due apps of a scan, with their tags (the canary tag) and the loaded certificates' expiry. */
export function dueAppsOf(plan: Plan, apps: ScanReport['apps']): DueApp[] {
  const tags = new Map(apps.map((a) => [a.appId, a.site.tags]));
  return plan.apps
    .filter((app) => app.action === 'rotate')
    .map((app) => {
      const keys = new Set(app.due.map((d) => d.key));
      const due: DueApp = {
        appId: app.appId,
        name: app.name,
        due: app.due.map((d) => ({ sourceUrl: d.sourceUrl, candidate: { id: d.candidate.id, thumbprint: d.candidate.thumbprint } })),
        notAfter: app.bindings.filter((b) => keys.has(b.key) && b.notAfter).map((b) => b.notAfter!),
      };
      const t = tags.get(app.appId);
      if (t) due.tags = t;
      return due;
    });
}

export function reasonOf(plan: Plan): (app: DueApp) => string {
  const reasons = new Map(plan.apps.map((a) => [a.appId, a.due.map((d) => d.reason).join(',')]));
  return (app) => reasons.get(app.appId) ?? 'rollout';
}

/** What the API and the CLI show of a rollout: its state and one line per wave. */
export function rolloutView(rollout: Rollout): Rollout & { lines: string[]; apps: number } {
  return { ...rollout, apps: rollout.waves.reduce((n, w) => n + w.apps.length, 0), lines: describeWaves(rollout.waves, 50) };
}

const actionSchema = { reason: { type: 'string', minLength: 1, maxLength: 200, pattern: /^[^\u0000-\u001f\u007f]+$/, patternHint: 'text without control characters' } } as const;

export async function listRollouts(request: HttpRequest, invocation: Invocation): Promise<HttpResponseInit> {
  const unknown = [...request.query.keys()].filter((k) => k !== 'code');
  if (unknown.length > 0) throw new RequestValidationError('UnknownParameter', `unknown query parameter(s) ${unknown.join(', ')}; none are accepted`);
  const rollouts = await rolloutsOf(invocation, 'api').list();
  return jsonResponse(200, { rollouts: rollouts.map(rolloutView) });
}

export async function getRollout(request: HttpRequest, invocation: Invocation): Promise<HttpResponseInit> {
  return jsonResponse(200, rolloutView(await rolloutsOf(invocation, 'api').get(request.params.id ?? '')));
}

/** promote | abort: the body is optional (`{"reason": "…"}`), but a body that is not that is refused before anything. */
export async function actOnRollout(action: 'promote' | 'abort', request: HttpRequest, invocation: Invocation, caller: RequestedBy, requestId: string): Promise<HttpResponseInit> {
  await readJsonBody(request, actionSchema, { allowEmpty: true });
  const by = `http:${caller.subject ?? caller.via}`;
  const rollouts = rolloutsOf(invocation, requestId, 'http');
  const id = request.params.id ?? '';
  const rollout = action === 'promote' ? await rollouts.promote(id, by) : await rollouts.abort(id, by);
  return jsonResponse(200, rolloutView(rollout));
}
