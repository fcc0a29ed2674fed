// The function app end to end through the local runner, against the sandbox's demo world and Azurite: the HTTP
// API (dry run, run + poll, history, manual rollback, inventory, health, keys, bad input), the nightly scan's
// queue fan-out, and a failing message ending in the poison queue with a PoisonMessage alert.
import { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { DEMO_SUBSCRIPTION_ID, demoScenario } from '../../sandbox/index.js';
import type { AppRef } from '../../src/core/ports.js';
import type { RotationRecord } from '../../src/core/records.js';
import { maxDequeueCount } from '../../src/functions/app/hostJson.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { postChunked } from '../helpers/chunked.js';
import { useFunctionApp } from '../helpers/functionApp.js';
import { RecordingTelemetry } from '../helpers/memory-ports.js';

const azurite = useAzurite();
const KEY = 'api-test-function-key';
// An in-memory recorder of our own Telemetry port; the Application Insights exporter has its own tests.
const telemetry = new RecordingTelemetry();
const events = telemetry.events;
const queueName = uniqueName('rot');
const functionApp = useFunctionApp(azurite, () => ({
  scenario: demoScenario(),
  telemetry,
  subscriptionId: DEMO_SUBSCRIPTION_ID,
  functionsKey: KEY,
  rotationQueue: queueName,
  rotationTable: uniqueName('rot'),
  // host.json's count of 5 attempts stays; only the 30 s delay between them is cut.
  queues: { visibilityTimeoutSeconds: 0, minPollingIntervalMs: 50, maxPollingIntervalMs: 250 },
}));
const { lines, until } = functionApp;

async function call(method: string, path: string, options: { body?: string; key?: string | null; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key !== null) headers['x-functions-key'] = options.key ?? KEY;
  const response = await fetch(`${functionApp.host.apiUrl}${path}`, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: text ? (JSON.parse(text) as any) : undefined };
}

const finishedFor = async (app: string): Promise<RotationRecord[]> =>
  ((await call('GET', `/rotations?app=${encodeURIComponent(app)}`)).json.rotations as RotationRecord[]).filter((r) => r.outcome !== undefined);

describe('the HTTP API through the local runner', () => {
  it('answers health anonymously, before any scan', async () => {
    const res = await call('GET', '/health', { key: null });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'ok', lastScan: null });
  });

  it.each([
    ['no key', null],
    ['a wrong key', 'not-the-key'],
  ])('refuses the inventory with %s (401)', async (_sentence, key) => {
    expect((await call('GET', '/certificates', { key })).status).toBe(401);
  });

  it('lists the inventory: every opted-in binding with its days left, the untagged app absent', async () => {
    const res = await call('GET', '/certificates');
    expect(res.status).toBe(200);
    const names = new Set((res.json.certificates as Array<{ name: string }>).map((c) => c.name));
    expect([...names].sort()).toEqual(['billing', 'catalog', 'inventory', 'notify', 'orders', 'orders/staging', 'payments', 'pricing', 'reports', 'shipping']);
    const orders = res.json.certificates.find((c: { name: string }) => c.name === 'orders');
    expect(orders).toMatchObject({ due: true, daysRemaining: expect.any(Number) });
  });

  it('answers a dry run with the plan and changes nothing', async () => {
    const before = functionApp.sb.control.appSettings(ordersId()).CLIENT_CERT_THUMBPRINT;
    const res = await call('POST', '/rotations', { body: JSON.stringify({ app: 'orders', dryRun: true }) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ dryRun: true, app: { name: 'orders' }, plan: { action: 'rotate' } });
    expect(functionApp.sb.control.appSettings(ordersId()).CLIENT_CERT_THUMBPRINT).toBe(before);
    expect(await finishedFor('orders')).toEqual([]);
  });

  it('refuses a dry run whose body a chunked request lost (400, send Content-Length) and queues nothing', async () => {
    const settingsBefore = functionApp.sb.control.appSettings(ordersId()).CLIENT_CERT_THUMBPRINT;
    const queueRunsBefore = lines.filter((l) => l.startsWith("executing 'rotateApp'")).length;
    const res = await postChunked(`${functionApp.host.apiUrl}/rotations`, { 'x-functions-key': KEY, 'content-type': 'application/json' }, ['{"dryRun"', ':true}']);
    expect(res.status).toBe(400);
    const error = (JSON.parse(res.text) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('EmptyBody');
    expect(error.message).toMatch(/Transfer-Encoding: chunked.*send a JSON object with a Content-Length header/);
    // Had it been read as "rotate everything", the messages would now be on the queue or running.
    const queue = QueueServiceClient.fromConnectionString(azurite().connectionString).getQueueClient(queueName);
    expect((await queue.getProperties()).approximateMessagesCount ?? 0).toBe(0);
    expect(lines.filter((l) => l.startsWith("executing 'rotateApp'")).length).toBe(queueRunsBefore);
    expect(functionApp.sb.control.appSettings(ordersId()).CLIENT_CERT_THUMBPRINT).toBe(settingsBefore);
  });

  it.each([
    ['an empty body is 400 (no body is never "rotate everything")', '', 400, 'EmptyBody'],
    ['an unknown app is 404', JSON.stringify({ app: 'no-such-app' }), 404, 'NotFound'],
    ['bad JSON is 400', '{"app": ', 400, 'InvalidJson'],
    ['an unknown field is 400', JSON.stringify({ app: 'orders', dryrun: true }), 400, 'UnknownField'],
    ['a wrongly typed field is 400', JSON.stringify({ dryRun: 'yes' }), 400, 'InvalidField'],
    ['force without an app is 400', JSON.stringify({ force: true }), 400, 'ForceNeedsApp'],
    ['an oversized body is 413', JSON.stringify({ app: 'x'.repeat(20_000) }), 413, 'PayloadTooLarge'],
  ])('POST /rotations: %s with a JSON error', async (_sentence, body, status, code) => {
    const res = await call('POST', '/rotations', { body });
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(res.text).not.toMatch(/\n\s+at /);
  });

  it.each([
    ['GET an unknown rotation id', 'GET', '/rotations/does-not-exist', undefined],
    ['roll back an unknown rotation id', 'POST', '/rotations/does-not-exist/rollback', ''],
    ['the history of an unknown app', 'GET', '/rotations?app=no-such-app', undefined],
  ])('404s %s with a JSON error', async (_sentence, method, path, body) => {
    const res = await call(method, path, body === undefined ? {} : { body });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('NotFound');
  });

  it('400s an unknown query parameter on the history', async () => {
    const res = await call('GET', '/rotations?ap=orders');
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('UnknownParameter');
  });

  let committed: RotationRecord;

  it('runs a rotation through the queue: 202 with a Location to poll, then committed', async () => {
    const res = await call('POST', '/rotations', { body: JSON.stringify({ app: 'orders' }) });
    expect(res.status).toBe(202);
    expect(res.json.queued).toHaveLength(1);
    const location = res.headers.get('location');
    expect(location).toMatch(/^\/api\/rotations\?app=/);
    const poll = location!.replace(/^\/api/, '');
    [committed] = await until('the orders rotation to finish', async () => {
      const rotations = ((await call('GET', poll)).json.rotations as RotationRecord[]).filter((r) => r.outcome !== undefined);
      return rotations.length > 0 ? rotations : undefined;
    });
    expect(committed).toMatchObject({ outcome: 'committed', trigger: 'queue', appId: expect.stringMatching(/\/resourcegroups\/rg-apps\/providers\/microsoft.web\/sites\/orders$/i) });
    // CLIENT_CERT_AUTH is off here: the function key was the caller's only credential, and the record says so.
    expect(committed.requestedBy).toEqual({ via: 'functionKey' });
    const newThumbprint = committed.bindings[0]!.newThumbprint;
    expect(functionApp.sb.control.appSettings(ordersId()).CLIENT_CERT_THUMBPRINT).toBe(newThumbprint);

    const one = await call('GET', `/rotations/${committed.id}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ id: committed.id, outcome: 'committed' });
    expect(one.json.steps.length).toBeGreaterThan(0);
  }, 90_000);

  it('rolls back the committed rotation by hand', async () => {
    const res = await call('POST', `/rotations/${committed.id}/rollback`, { body: JSON.stringify({ reason: 'operator test' }) });
    expect(res.status).toBe(200);
    expect(res.json.outcome).toBe('rolledBack');
    expect(res.json.record).toMatchObject({ rollbackOf: committed.id, requestedBy: { via: 'functionKey' } });
    expect(functionApp.sb.control.appSettings(ordersId()).CLIENT_CERT_THUMBPRINT).toBe(committed.bindings[0]!.oldThumbprint);
  }, 90_000);

  it('nightly scan: stores the scan, queues one message per due app, and each is rotated once through the queue', async () => {
    const plan = (await call('POST', '/rotations', { body: JSON.stringify({ dryRun: true }) })).json.plan as { apps: Array<{ appId: string; name: string; action: string }> };
    const due = plan.apps.filter((a) => a.action === 'rotate').map((a) => a.name).sort();
    expect(due).toContain('billing');
    const queueRunsBefore = lines.filter((l) => l.startsWith("executed 'rotateApp'")).length;
    const before = new Map<string, number>();
    for (const name of due) before.set(name, (await finishedFor(name)).length);

    await functionApp.host.invokeTimer('nightlyScan');
    const scanLine = lines.find((l) => l.includes('nightly scan:') && l.includes('queued for rotation'));
    expect(scanLine).toContain(`${due.length} queued`);

    for (const name of due) {
      await until(`a new finished rotation of ${name}`, async () => ((await finishedFor(name)).length > before.get(name)! ? true : undefined), 90_000);
    }
    // The record is final before the handler returns and the host logs the run: wait for the log lines too.
    const queueRuns = () => lines.filter((l) => l.startsWith("executed 'rotateApp'")).length - queueRunsBefore;
    await until('every queue run to be logged', async () => (queueRuns() >= due.length ? true : undefined));
    expect(queueRuns()).toBe(due.length);
    for (const name of due) expect((await finishedFor(name)).length, name).toBe(before.get(name)! + 1);
    const outcomes = Object.fromEntries(await Promise.all(due.map(async (name) => [name, (await finishedFor(name))[0]!.outcome] as const)));
    expect(outcomes).toMatchObject({ billing: 'rolledBack', payments: 'aborted' });
    // billing's renewal is proven bad: its history says it is not tried again, and the plan holds it back.
    const billing = (await finishedFor('billing'))[0]!;
    const history = await call('GET', '/rotations?app=billing');
    expect(history.json.nextAttempt).toMatchObject({ reason: 'CandidateRejected', rotationId: billing.id });
    expect(history.json.rotations[0]).toMatchObject({ id: billing.id, failureKind: 'definite', verification: expect.any(String) });
    const after = (await call('POST', '/rotations', { body: JSON.stringify({ dryRun: true, app: 'billing' }) })).json;
    expect(after.plan.bindings[0]).toMatchObject({ reason: 'CandidateRejected', heldBackBy: billing.id });
    const committedApp = Object.entries(outcomes).find(([, o]) => o === 'committed')?.[0];
    expect(committedApp).toBeDefined();
    expect((await call('GET', `/rotations?app=${encodeURIComponent(committedApp!)}`)).json.nextAttempt).toBeNull();
    // orders was rolled back by an operator above: that version is not rolled out to it again either.
    expect((await call('GET', '/rotations?app=orders')).json.nextAttempt).toMatchObject({ reason: 'CandidateRejected', message: expect.stringContaining('operator test') });

    const health = await call('GET', '/health', { key: null });
    expect(health.json.lastScan).toMatchObject({ at: expect.any(String), dueApps: due.length });
  }, 180_000);

  it('verify timer: resumes and re-verifies without failing once the rotations are done', async () => {
    await expect(functionApp.host.invokeTimer('verifyRotations')).resolves.toBeUndefined();
    expect(lines.some((l) => l.startsWith('[verifyRotations] verify rotations:'))).toBe(true);
  }, 90_000);

  it('moves a message that keeps failing to the poison queue, with a PoisonMessage alert', async () => {
    const ghost = `/subscriptions/${DEMO_SUBSCRIPTION_ID}/resourceGroups/rg-ghost/providers/Microsoft.Web/sites/ghost`;
    const service = QueueServiceClient.fromConnectionString(azurite().connectionString);
    const message = Buffer.from(JSON.stringify({ appId: ghost, requestedBy: 'test', requestId: 'poison-1' })).toString('base64');
    await service.getQueueClient(queueName).sendMessage(message);
    const poison = service.getQueueClient(`${queueName}-poison`);
    await until('the poison queue', async () => ((await poison.getProperties()).approximateMessagesCount ?? 0) > 0 ? true : undefined, 60_000);
    const alerts = events.filter((e) => e.name === 'PoisonMessage');
    // Only the last allowed attempt alerts; the four before it are ordinary retries.
    expect(alerts).toHaveLength(1);
    const alert = alerts[0];
    expect(alert?.dimensions).toMatchObject({ appId: ghost, dequeueCount: maxDequeueCount({}) });
    expect(String(alert?.dimensions?.reason)).toMatch(/ghost/);
  }, 90_000);
});

function ordersId(): AppRef {
  return { subscriptionId: DEMO_SUBSCRIPTION_ID, resourceGroup: 'rg-apps', site: 'orders' };
}
