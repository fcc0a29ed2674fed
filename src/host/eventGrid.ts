// The Event Grid trigger's webhook, as the Functions host serves it (Microsoft.Azure.WebJobs.Extensions.EventGrid,
// HttpRequestProcessor and EventGridExtensionConfigProvider): `POST /runtime/webhooks/eventgrid?functionName=<name>`
// with the `eventgrid_extension` system key in `code` (or the master key).
// - no or a wrong key: 401; a function name that is not an Event Grid function: 404 "cannot find function: '<name>'";
// - `OPTIONS` (CloudEvents abuse protection): 200 with `WebHook-Allowed-Origin` echoing `WebHook-Request-Origin` when
//   it is one of Event Grid's cloud origins, else `eventgrid.azure.net`;
// - `aeg-event-type: SubscriptionValidation`: 200 `{"validationResponse": <data.validationCode>}` (Event Grid schema:
//   an array, the first event's data; a CloudEvent: an object whose data may be a JSON string);
// - `aeg-event-type: Notification`: an array or one object; each event is one invocation (single dispatch), all in
//   parallel; 202 when every one succeeded, else 500 with the first failure (Event Grid then retries the whole batch);
// - `aeg-event-type: Unsubscribe`: 202; any other or no `aeg-event-type`: 400.
// Where the extension throws on a body it cannot read (not JSON, no validation code) and the host answers 500, this
// host answers 400 naming the problem: Event Grid retries a 500, and nothing about such a body would change.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registration } from './capture.js';
import { createInvocationContext, describeThrown, type HostLog, type InvocationTracker } from './invocation.js';

/** Event Grid's origins per cloud (public, US Gov, air-gapped, China); anything else gets the public one. */
const CLOUD_ORIGINS = ['eventgrid.azure.net', 'eventgrid.azure.us', 'eventgrid.azure.eaglex.ic.gov', 'eventgrid.azure.microsoft.scloud', 'eventgrid.azure.cn'];

export interface EventGridWebhookOptions {
  /** The `eventgrid_extension` system key; the master key is accepted too. */
  systemKey: string;
  masterKey: string;
  maxBodyBytes: number;
}

export function isEventGridWebhook(url: URL): boolean {
  return url.pathname.replace(/\/+$/, '').toLowerCase() === '/runtime/webhooks/eventgrid';
}

export function createEventGridWebhook(
  registrations: readonly Registration[],
  options: EventGridWebhookOptions,
  log: HostLog,
  tracker: InvocationTracker,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const functions = registrations.filter((r) => r.trigger.type.toLowerCase() === 'eventgridtrigger');
  return async (req, res, url) => {
    const method = (req.method ?? 'GET').toUpperCase();
    const header = req.headers['x-functions-key'];
    const presented = url.searchParams.get('code') ?? (Array.isArray(header) ? header[0] : header) ?? '';
    if (presented === '' || !(safeEqual(presented, options.systemKey) || safeEqual(presented, options.masterKey))) {
      req.resume();
      text(res, 401, 'the Event Grid webhook requires the eventgrid_extension system key (query parameter code)');
      return;
    }
    const name = url.searchParams.get('functionName') ?? '';
    const registration = functions.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (registration === undefined) {
      req.resume();
      log(`eventgrid: cannot find function: '${name}', available function names: [${functions.map((f) => f.name).join(', ')}]`);
      text(res, 404, `cannot find function: '${name}'`);
      return;
    }
    if (method === 'OPTIONS') {
      req.resume();
      const origin = headerValue(req, 'webhook-request-origin');
      const allowed = origin !== undefined && CLOUD_ORIGINS.includes(origin.toLowerCase()) ? origin : 'eventgrid.azure.net';
      res.writeHead(200, { 'webhook-allowed-origin': allowed }).end();
      return;
    }
    if (method !== 'POST') {
      req.resume();
      text(res, 405, `the Event Grid webhook answers POST and OPTIONS, not ${method}`);
      return;
    }
    const eventType = headerValue(req, 'aeg-event-type')?.toLowerCase();
    const body = await readBody(req, options.maxBodyBytes);
    if (body === undefined) {
      text(res, 413, `request body exceeds ${options.maxBodyBytes} bytes`);
      return;
    }
    if (eventType === 'unsubscribe') {
      res.writeHead(202).end();
      return;
    }
    if (eventType !== 'subscriptionvalidation' && eventType !== 'notification') {
      text(res, 400, "header aeg-event-type must be SubscriptionValidation, Notification or Unsubscribe");
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      text(res, 400, 'the request content is not JSON');
      return;
    }
    if (eventType === 'subscriptionvalidation') {
      const code = validationCodeOf(parsed);
      if (code === undefined) {
        text(res, 400, 'a SubscriptionValidation request needs data.validationCode');
        return;
      }
      log(`eventgrid: perform handshake with eventGrid for function: ${registration.name}`);
      const answer = JSON.stringify({ validationResponse: code });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(answer) }).end(answer);
      return;
    }
    const events = Array.isArray(parsed) ? parsed : typeof parsed === 'object' && parsed !== null ? [parsed] : undefined;
    if (events === undefined) {
      text(res, 400, `the request content should be a JSON object or array, but was ${typeof parsed}`);
      return;
    }
    const results = await Promise.allSettled(
      events.map(async (event) => {
        const context = createInvocationContext(registration, log);
        log(`executing '${registration.name}' (eventgrid, id ${context.invocationId})`);
        try {
          await tracker.track(Promise.resolve(registration.handler(event, context)));
          log(`executed '${registration.name}' (succeeded, id ${context.invocationId})`);
        } catch (error) {
          log(`executed '${registration.name}' (failed, id ${context.invocationId}): ${describeThrown(error)}`);
          throw error;
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      text(res, 500, failed.reason instanceof Error ? failed.reason.message : String(failed.reason));
      return;
    }
    res.writeHead(202).end();
  };
}

function validationCodeOf(body: unknown): string | undefined {
  const first = Array.isArray(body) ? body[0] : body;
  if (typeof first !== 'object' || first === null) return undefined;
  let data = (first as Record<string, unknown>).data;
  // The extension notes that a CloudEvent's validation data arrives double-encoded (a JSON string).
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  const code = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).validationCode : undefined;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      req.resume();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(message) }).end(message);
}

function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
