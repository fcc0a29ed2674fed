// The /api/rollouts handlers. The engine's decisions live in src/core/rollout/, its composition over the
// ports in src/rolloutService.ts.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { RequestedBy } from '../../core/records.js';
import { isRolloutId } from '../../core/rollout/model.js';
import { rolloutsOf, rolloutView } from '../../rolloutService.js';
import { jsonResponse, readJsonBody, RequestValidationError } from '../http/index.js';
import type { Invocation } from './services.js';

export { dueAppsOf, reasonOf, rolloutsOf } from '../../rolloutService.js';

const actionSchema = { reason: { type: 'string', minLength: 1, maxLength: 200, pattern: /^[^\u0000-\u001f\u007f]+$/, patternHint: 'text without control characters' } } as const;

export async function listRollouts(request: HttpRequest, invocation: Invocation): Promise<HttpResponseInit> {
  const unknown = [...request.query.keys()].filter((k) => k !== 'code');
  if (unknown.length > 0) throw new RequestValidationError('UnknownParameter', `unknown query parameter(s) ${unknown.join(', ')}; none are accepted`);
  const rollouts = await rolloutsOf(invocation, 'api').list();
  return jsonResponse(200, { rollouts: rollouts.map(rolloutView) });
}

/** The route's id, checked before anything is read: a malformed one is the caller's mistake (400), not a 404. */
function rolloutId(request: HttpRequest): string {
  const id = request.params.id ?? '';
  if (!isRolloutId(id)) throw new RequestValidationError('InvalidRolloutId', `'${id.slice(0, 64)}' is not a rollout id (20 lowercase hex characters)`);
  return id;
}

export async function getRollout(request: HttpRequest, invocation: Invocation): Promise<HttpResponseInit> {
  return jsonResponse(200, rolloutView(await rolloutsOf(invocation, 'api').get(rolloutId(request))));
}

/** promote | abort: the body is optional (`{"reason": "…"}`), but a body that is not that is refused before anything. */
export async function actOnRollout(action: 'promote' | 'abort', request: HttpRequest, invocation: Invocation, caller: RequestedBy, requestId: string): Promise<HttpResponseInit> {
  const id = rolloutId(request);
  await readJsonBody(request, actionSchema, { allowEmpty: true });
  const by = `http:${caller.subject ?? caller.via}`;
  const rollouts = rolloutsOf(invocation, requestId, 'http');
  const rollout = action === 'promote' ? await rollouts.promote(id, by) : await rollouts.abort(id, by);
  return jsonResponse(200, rolloutView(rollout));
}
