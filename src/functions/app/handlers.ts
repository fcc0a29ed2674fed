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

const ROUTE_PREFIX = '/api';

// ---------------------------------------------------------------------------------------------------------
// Timers and queue

export async function nightlyScan(_timer: Timer, context: InvocationContext): Promise<void> {
  await withInvocation(context, async ({ config, rotator, deps }) => {
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
    const { queued: due } = await enqueueDueApps(deps.queue, report.plan, { requestedBy: 'timer', requestId: context.invocationId });
    const failed = report.subscriptions.filter((s) => !s.ok).map((s) => s.subscriptionId);
    const summary = `nightly scan: ${report.apps.length} opted-in app(s), ${due.length} queued for rotation: ${due.map((a) => a.name).join(', ') || 'none'}`;
    if (failed.length > 0) context.warn(`${summary}; subscription(s) not scanned (ScanIncomplete): ${failed.join(', ')}`);
    else context.log(summary);
  });
}

export async function rotateAppFromQueue(queueItem: unknown, context: InvocationContext): Promise<void> {
  const dequeueCount = Number(context.triggerMetadata?.dequeueCount ?? 1);
  const poisonAfter = maxDequeueCount();
  await withInvocation(context, async ({ rotator, telemetry }) => {
    let message: RotationQueueMessage | undefined;
    try {
      message = typeof queueItem === 'string' ? decodeRotationMessage(queueItem) : validateRotationMessage(queueItem);
      const result = await rotator.rotateApp(message.appId, { trigger: 'queue', ...(message.caller ? { requestedBy: message.caller } : {}) });
      // An interrupted rotation keeps its open record; the verify timer resumes it. Retrying the message would
      // only find that record's lease.
      context.log(`rotate ${result.name}: ${result.outcome}${result.reason ? ` (${result.reason})` : ''}${result.rotationId ? ` rotation ${result.rotationId}` : ''}`);
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
  await withInvocation(context, async ({ rotator }) => {
    const report = await rotator.resumeOpen();
    context.log(`verify rotations: ${JSON.stringify(report).slice(0, 1000)}`);
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

async function startRotations(request: HttpRequest, context: InvocationContext, { config, rotator, deps }: Invocation, caller: RequestedBy): Promise<HttpResponseInit> {
  const body = await readRotationRequest(request);
  if (body.subscription !== undefined && !config.subscriptionIds.includes(body.subscription.toLowerCase())) {
    throw new RequestValidationError('UnknownSubscription', `subscription ${body.subscription} is not one of AZURE_SUBSCRIPTION_IDS (${config.subscriptionIds.join(', ')})`);
  }
  const subscriptionIds = body.subscription !== undefined ? [body.subscription.toLowerCase()] : undefined;

  if (body.dryRun === true) {
    if (body.app !== undefined) {
      const result = await rotator.rotateApp(body.app, { trigger: 'http', dryRun: true, ...(body.force ? { force: true } : {}) });
      return jsonResponse(200, { dryRun: true, app: { appId: result.appId, name: result.name }, outcome: result.outcome, reason: result.reason, plan: result.plan });
    }
    const plan = await rotator.plan(subscriptionIds ? { subscriptionIds } : {});
    return jsonResponse(200, { dryRun: true, plan });
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
  if (body.app !== undefined) {
    plan = await rotator.plan({ app: body.app }); // NotFoundError (404) for an unknown app
  } else {
    plan = await rotator.plan(subscriptionIds ? { subscriptionIds } : {});
  }
  const fanOut = await enqueueDueApps(deps.queue, plan, { requestedBy: 'http', requestId: context.invocationId, caller });
  const due = fanOut.queued;
  const notDue = fanOut.notDue.map((app) => ({ appId: app.appId, name: app.name, action: app.action, reasons: app.bindings.map((b) => b.reason) }));
  if (due.length === 0) {
    return jsonResponse(200, { requestId: context.invocationId, queued: [], notDue, message: 'nothing is due; use force (with app) to roll out a re-issue' });
  }
  const queued = due.map((app) => ({ appId: app.appId, name: app.name, history: historyLocation(app.appId) }));
  const location = due.length === 1 ? historyLocation(due[0]!.appId) : `${ROUTE_PREFIX}/rotations`;
  return jsonResponse(202, { requestId: context.invocationId, queued, notDue: body.app === undefined ? notDue : [] }, { location });
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
