// The handlers behind the registrations in src/functions/*.ts. Each is a thin adapter: read the trigger, call the
// rotator, shape the answer. Decisions live in src/core.
import { setTimeout as sleep } from 'node:timers/promises';
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import { decodeRotationMessage, validateRotationMessage, type RotationQueueMessage } from '../../azure/rotationQueue.js';
import { enqueueDueApps } from '../../core/enqueueDue.js';
import { LAST_SCAN_STATE, scanFailure, type Plan } from '../../core/index.js';
import type { RequestedBy } from '../../core/records.js';
import { authenticateCaller, clientCertRefusal } from '../auth/clientCert.js';
import { jsonError, jsonResponse, readJsonBody, readRotationRequest, RequestValidationError, withErrorBoundary } from '../http/index.js';
import { maxDequeueCount } from './hostJson.js';
import { services, ServicesUnavailableError, withInvocation, type Invocation, type Services } from './services.js';
import { actOnRollout, dueAppsOf, getRollout, listRollouts, reasonOf, rolloutsOf } from './rollouts.js';

const ROUTE_PREFIX = '/api';

// ---------------------------------------------------------------------------------------------------------
// Timers and queue

export async function nightlyScan(_timer: Timer, context: InvocationContext): Promise<void> {
  await withInvocation(context, async (invocation) => {
    const { config, rotator } = invocation;
    // Many installations share the same default schedule; the delay spreads their ARM reads.
    const jitterMs = Math.floor(Math.random() * config.rotationJitterSeconds * 1000);
    if (jitterMs > 0) {
      context.log(`nightly scan: waiting ${Math.round(jitterMs / 1000)} s (ROTATION_JITTER_SECONDS) before scanning`);
      await sleep(jitterMs);
    }
    // scan() stores its summary (time, counts) as state `lastScan`, which /api/health reports.
    const report = await rotator.scan();
    // Reaching no subscription is not "nothing due": the run fails, so the host's failure count and alerts see it.
    const failure = scanFailure(report);
    if (failure !== undefined) throw failure;
    // Apps sharing a source rotate in waves (src/core/rollout/): only each rollout's current wave is queued.
    const dispatch = await rolloutsOf(invocation, context.invocationId).dispatch(dueAppsOf(report.plan, report.apps), reasonOf(report.plan));
    const due = dispatch.queued;
    for (const line of dispatch.lines) context.log(line);
    const failed = report.subscriptions.filter((s) => !s.ok).map((s) => s.subscriptionId);
    const summary = `nightly scan: ${report.apps.length} opted-in app(s), ${due.length} queued for rotation: ${due.map((a) => a.name).join(', ') || 'none'}${dispatch.held.length > 0 ? `; ${dispatch.held.length} held for their rollout wave` : ''}`;
    if (failed.length > 0) context.warn(`${summary}; subscription(s) not scanned (ScanIncomplete): ${failed.join(', ')}`);
    else context.log(summary);
  });
}

export async function rotateAppFromQueue(queueItem: unknown, context: InvocationContext): Promise<void> {
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
  const poisonAfter = maxDequeueCount();
  await withInvocation(context, async (invocation) => {
    const { rotator, telemetry } = invocation;
    let message: RotationQueueMessage | undefined;
    try {
      message = typeof queueItem === 'string' ? decodeRotationMessage(queueItem) : validateRotationMessage(queueItem);
      const rollouts = message.rollout ? rolloutsOf(invocation, message.requestId, message.requestedBy) : undefined;
      if (message.rollout && rollouts) {
        const gate = await rollouts.admits(message.rollout);
        if (!gate.admitted) {
          context.log(`rotate ${message.appId}: not rotated, ${gate.why}`);
          return;
        }
      }
      const result = await rotator.rotateApp(message.appId, {
        trigger: 'queue',
        ...(message.caller ? { requestedBy: message.caller } : {}),
        ...(message.rollout ? { rollout: message.rollout } : {}),
      });
      // An interrupted rotation keeps its open record; the verify timer resumes it. Retrying the message would
      // only find that record's lease.
      context.log(`rotate ${result.name}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}${result.rotationId ? ` rotation ${result.rotationId}` : ''}`);
      if (message.rollout && rollouts) {
        // Not retried through the message: a second run would only find the app done. The verify timer settles the
        // wave from the rotation record instead.
        await rollouts
          .recordResult(message.rollout, result)
          .catch((error: unknown) => context.warn(`rollout ${message?.rollout?.id}: result not recorded (${String(error)}); the verify timer settles it from the record`));
      }
    } catch (error) {
      if (dequeueCount >= poisonAfter) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        telemetry.event('PoisonMessage', {
          appId: message?.appId ?? 'unreadable message',
          reason: reason.slice(0, 500),
          dequeueCount,
          messageId: String(context.triggerMetadata?.id ?? ''),
        });
        context.error(`rotation message failed ${dequeueCount} times; the host moves it to the poison queue: ${reason}`);
      }
      throw error;
    }
  });
}

export async function verifyRotations(_timer: Timer, context: InvocationContext): Promise<void> {
  await withInvocation(context, async (invocation) => {
    const report = await invocation.rotator.resumeOpen();
    context.log(`verify rotations: ${JSON.stringify(report).slice(0, 1000)}`);
    // The next wave of a rollout goes out here once the previous one verified and soaked (docs/design.md, "Rollouts").
    const rollouts = await rolloutsOf(invocation, context.invocationId).advanceAll();
    if (rollouts.length > 0) context.log(`rollouts: ${rollouts.map((r) => `${r.id} ${r.status} wave ${r.current + 1}/${r.waves.length}`).join('; ')}`);
  });
}

// ---------------------------------------------------------------------------------------------------------
// HTTP

/** `caller`: who is asking (the verified client certificate, or the function key alone when CLIENT_CERT_AUTH is off). */
type ApiHandler = (request: HttpRequest, context: InvocationContext, invocation: Invocation, caller: RequestedBy) => Promise<HttpResponseInit>;

/**
 * The common frame of every API handler: the error boundary (no stack ever reaches a caller), a 503 naming the
 * setting problem while the app is misconfigured, the client certificate when CLIENT_CERT_AUTH=required.
 */
export function api(handler: ApiHandler, options: { anonymous?: boolean } = {}): HttpHandler {
  return withErrorBoundary(async (request, context) => {
    let shared: Services;
    try {
      shared = services((m) => context.error(m));
    } catch (error) {
      if (!(error instanceof ServicesUnavailableError)) throw error;
      // Anonymous callers learn which settings are wrong, not their values.
      const message = options.anonymous
        ? `the function app is misconfigured; check the settings ${[...new Set(error.problems.map((p) => p.split(/[\s:]/)[0]))].join(', ')} (details in the log)`
        : error.message;
      return jsonError(503, 'ConfigurationError', message, { correlationId: context.invocationId });
    }
    // The anonymous route never reads the header: it is excluded from client certificates at the front end too.
    let caller: RequestedBy = { via: 'functionKey' };
    if (!options.anonymous) {
      const authentication = authenticateCaller(request, shared.clientCert, new Date());
      if (!authentication.ok) return clientCertRefusal(authentication, context);
      caller = authentication.caller;
    }
    return withInvocation(context, (invocation) => handler(request, context, invocation, caller));
  });
}

const rollbackSchema = { reason: { type: 'string', minLength: 1, maxLength: 200, pattern: /^[^\u0000-\u001f\u007f]+$/, patternHint: 'text without control characters' } } as const;

export const rotationsHandler = api(async (request, context, invocation, caller) =>
  request.method.toUpperCase() === 'POST' ? startRotations(request, context, invocation, caller) : listRotations(request, invocation),
);

async function startRotations(request: HttpRequest, context: InvocationContext, invocation: Invocation, caller: RequestedBy): Promise<HttpResponseInit> {
  const { config, rotator, deps } = invocation;
  const body = await readRotationRequest(request);
  // With discovery (AZURE_SUBSCRIPTION_IDS unset or '*') there is no configured list to check a request against.
  if (body.subscription !== undefined && !config.subscriptionDiscovery && !config.subscriptionIds.includes(body.subscription.toLowerCase())) {
    throw new RequestValidationError('UnknownSubscription', `subscription ${body.subscription} is not one of AZURE_SUBSCRIPTION_IDS (${config.subscriptionIds.join(', ')})`);
  }
  const subscriptionIds = body.subscription !== undefined ? [body.subscription.toLowerCase()] : undefined;

  if (body.dryRun === true) {
    if (body.app !== undefined) {
      const result = await rotator.rotateApp(body.app, { trigger: 'http', dryRun: true, ...(body.force ? { force: true } : {}) });
      return jsonResponse(200, { dryRun: true, app: { appId: result.appId, name: result.name }, outcome: result.outcome, reason: result.reason, plan: result.plan });
    }
    const report = await scanOrFail(rotator, subscriptionIds);
    // The waves the due apps would go out in (src/core/rollout/): `wave 1 of 3: orders (canary)`.
    const rollouts = await rolloutsOf(invocation, context.invocationId).preview(dueAppsOf(report.plan, report.apps));
    return jsonResponse(200, { dryRun: true, plan: report.plan, rollouts });
  }

  if (body.force === true) {
    // A forced re-issue is a deliberate act on one app: it runs inline so the caller gets its rotation id.
    if (body.app === undefined) throw new RequestValidationError('ForceNeedsApp', "field 'force' needs 'app': a forced rotation is for one app at a time");
    const result = await rotator.rotateApp(body.app, { trigger: 'http', force: true, requestedBy: caller });
    const summary = { appId: result.appId, name: result.name, rotationId: result.rotationId, outcome: result.outcome, reason: result.reason };
    if (result.rotationId === undefined) return jsonResponse(200, { requestId: context.invocationId, rotations: [], skipped: [summary] });
    const location = `${ROUTE_PREFIX}/rotations/${encodeURIComponent(result.rotationId)}`;
    return jsonResponse(202, { requestId: context.invocationId, rotations: [{ ...summary, location }] }, { location });
  }

  // A run goes through the queue, like the nightly fan-out: the rotation (restart, warm-up, probes) outlives an
  // HTTP request, and the queue retries it. The rotation ids do not exist yet, so the answer points at the
  // history of the app(s), where the records appear.
  let plan: Plan;
  let rolloutHeld: Array<{ appId: string; name: string; rolloutId: string; why: string }> = [];
  let wavesQueued: Set<string> | undefined;
  if (body.app !== undefined) {
    plan = await rotator.plan({ app: body.app }); // NotFoundError (404) for an unknown app
  } else {
    // Every due app: apps that share a source go out in waves, as at night (one app asked by name goes at once).
    const report = await scanOrFail(rotator, subscriptionIds);
    plan = report.plan;
    const dispatch = await rolloutsOf(invocation, context.invocationId, 'http', caller).dispatch(dueAppsOf(plan, report.apps), reasonOf(plan));
    rolloutHeld = dispatch.held;
    wavesQueued = new Set(dispatch.queued.map((q) => q.appId));
  }
  // A named app goes at once; the rollouts' dispatch queued every other due app that may go now, with its wave.
  const due =
    wavesQueued === undefined
      ? (await enqueueDueApps(deps.queue, plan, { requestedBy: 'http', requestId: context.invocationId, caller })).queued
      : plan.apps.filter((app) => app.action === 'rotate' && wavesQueued!.has(app.appId));
  const notDue = plan.apps.filter((app) => app.action !== 'rotate').map((app) => ({ appId: app.appId, name: app.name, action: app.action, reasons: app.bindings.map((b) => b.reason) }));
  const held = rolloutHeld.length > 0 ? { heldForRollout: rolloutHeld } : {};
  if (due.length === 0) {
    return jsonResponse(200, { requestId: context.invocationId, queued: [], notDue, ...held, message: rolloutHeld.length > 0 ? 'the due apps wait for their rollout wave (GET /api/rollouts)' : 'nothing is due; use force (with app) to roll out a re-issue' });
  }
  const queued = due.map((app) => ({ appId: app.appId, name: app.name, history: historyLocation(app.appId) }));
  const location = due.length === 1 ? historyLocation(due[0]!.appId) : `${ROUTE_PREFIX}/rotations`;
  return jsonResponse(202, { requestId: context.invocationId, queued, notDue: body.app === undefined ? notDue : [], ...held }, { location });
}

/** A scan whose plan the caller acts on: reaching no subscription is a failure, not "nothing is due". */
async function scanOrFail(rotator: Invocation['rotator'], subscriptionIds: string[] | undefined) {
  const report = await rotator.scan(subscriptionIds ? { subscriptionIds } : {});
  const failure = scanFailure(report);
  if (failure !== undefined) throw failure;
  return report;
}

function historyLocation(appId: string): string {
  return `${ROUTE_PREFIX}/rotations?app=${encodeURIComponent(appId)}`;
}

async function listRotations(request: HttpRequest, { rotator }: Invocation): Promise<HttpResponseInit> {
  const known = new Set(['app', 'limit', 'code']);
  const unknown = [...request.query.keys()].filter((k) => !known.has(k));
  if (unknown.length > 0) throw new RequestValidationError('UnknownParameter', `unknown query parameter(s) ${unknown.join(', ')}; allowed: app, limit`);
  const app = request.query.get('app') ?? undefined;
  const rawLimit = request.query.get('limit');
  let limit = 50;
  if (rawLimit !== null) {
    if (!/^\d{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 500) {
      throw new RequestValidationError('InvalidParameter', `limit must be an integer from 1 to 500, got '${rawLimit.slice(0, 20)}'`);
    }
    limit = Number(rawLimit);
  }
  const rotations = await rotator.listRotations(app || undefined, limit);
  if (!app) return jsonResponse(200, { rotations });
  // When the app will next be tried: null = nothing holds it back (the next run decides from the plan). Asked by the
  // resource id the records carry, so a name is not resolved against ARM a second time; no records, nothing held.
  const appId = rotations[0]?.appId;
  return jsonResponse(200, { rotations, nextAttempt: appId ? ((await rotator.nextAttempt(appId)) ?? null) : null });
}

export const rotationHandler = api(async (request, _context, { rotator }) => {
  const id = request.params.id ?? '';
  const record = await rotator.getRotation(id);
  if (record === undefined) return jsonError(404, 'NotFound', `rotation ${id.slice(0, 100)} does not exist`);
  return jsonResponse(200, record);
});

export const rollbackHandler = api(async (request, _context, { rotator }, caller) => {
  const id = request.params.id ?? '';
  const body = await readJsonBody(request, rollbackSchema, { allowEmpty: true });
  const result = await rotator.rollback(id, { trigger: 'http', reason: body.reason ?? 'ManualRollback', requestedBy: caller });
  return jsonResponse(200, { rotationId: result.rotationId ?? id, appId: result.appId, name: result.name, outcome: result.outcome, reason: result.reason, record: result.record });
});

export const certificatesHandler = api(async (_request, _context, { rotator }) => {
  const certificates = await rotator.inventory();
  return jsonResponse(200, { certificates });
});

export const healthHandler = api(
  async (_request, _context, { deps }) => {
    let lastScan: unknown = null;
    try {
      const state = await deps.store.getState(LAST_SCAN_STATE);
      if (state !== undefined) lastScan = JSON.parse(state);
    } catch (error) {
      // Liveness is about this service: storage down is a degraded answer, not a failed probe of the process.
      return jsonResponse(503, { status: 'degraded', lastScan: null, problem: `rotation store unavailable: ${error instanceof Error ? error.name : 'error'}` });
    }
    return jsonResponse(200, { status: 'ok', time: new Date().toISOString(), lastScan });
  },
  { anonymous: true },
);

export const rolloutsHandler = api(async (request, _context, invocation) => listRollouts(request, invocation));
export const rolloutHandler = api(async (request, _context, invocation) => getRollout(request, invocation));
export const promoteRolloutHandler = api(async (request, context, invocation, caller) => actOnRollout('promote', request, invocation, caller, context.invocationId));
export const abortRolloutHandler = api(async (request, context, invocation, caller) => actOnRollout('abort', request, invocation, caller, context.invocationId));
