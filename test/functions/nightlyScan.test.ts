// The nightly scan when subscriptions cannot be read, through the real nightlyScan function under the local host,
// against the sandbox's ARM (a subscription it does not know answers 404 SubscriptionNotFound; faults give 403 and
// 5xx) and Azurite: a partial scan still queues what it found and raises ScanIncomplete naming the rest; a scan
// that reached none fails its invocation, so the Functions failure count and alerts see it.
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SUBSCRIPTION_ID, demoScenario } from '../../sandbox/index.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { useFunctionApp } from '../helpers/functionApp.js';
import { RecordingTelemetry } from '../helpers/memory-ports.js';

const azurite = useAzurite();
const UNKNOWN_SUBSCRIPTION = '00000000-0000-0000-0000-0000000000ee';
const telemetry = new RecordingTelemetry();
const events = telemetry.events;
const queueName = uniqueName('scan');
const functionApp = useFunctionApp(azurite, () => ({
  scenario: demoScenario(),
  telemetry,
  subscriptionId: `${DEMO_SUBSCRIPTION_ID},${UNKNOWN_SUBSCRIPTION}`,
  functionsKey: 'k',
  rotationQueue: queueName,
  rotationTable: uniqueName('rot'),
  // The messages the scan queues are counted, not run: no queue listener.
  queues: { enabled: false },
}));
const { lines } = functionApp;
let queue: QueueClient;

beforeAll(() => {
  queue = QueueServiceClient.fromConnectionString(azurite().connectionString).getQueueClient(queueName);
});

afterEach(async () => {
  functionApp.sb.control.clearFaults();
  await queue.clearMessages().catch(() => undefined);
  events.length = 0;
});

const queued = async (): Promise<number> => (await queue.getProperties().catch(() => undefined))?.approximateMessagesCount ?? 0;
const incomplete = () => events.filter((e) => e.name === 'ScanIncomplete');

describe('the nightly scan with subscriptions it cannot read', () => {
  it('with one of two subscriptions unknown (404): queues what it found, succeeds, and raises ScanIncomplete naming the other', async () => {
    await functionApp.host.invokeTimer('nightlyScan');
    expect(await queued()).toBeGreaterThan(0);
    expect(incomplete()).toHaveLength(1);
    expect(incomplete()[0]).toMatchObject({
      dimensions: { failedSubscriptions: UNKNOWN_SUBSCRIPTION, reachedNone: false },
      measurements: { subscriptions: 2, failedSubscriptions: 1 },
    });
    expect(String(incomplete()[0]!.dimensions!.errors)).toMatch(new RegExp(`^${UNKNOWN_SUBSCRIPTION}: .*404 SubscriptionNotFound`));
    expect(lines.some((l) => l.includes('not scanned (ScanIncomplete)') && l.includes(UNKNOWN_SUBSCRIPTION))).toBe(true);
  }, 60_000);

  it.each([
    ['the identity lost its role on the other (403 AuthorizationFailed)', { status: 403, code: 'AuthorizationFailed', message: 'The client does not have authorization to perform action' }, /AuthorizationFailed|authorization/],
    ['ARM fails on the other (500)', { status: 500, code: 'InternalServerError', message: 'Internal server error' }, /500|InternalServerError|Internal server error/],
  ])('when %s as well: the invocation fails naming both, and nothing is queued', async (_sentence, fault, evidence) => {
    functionApp.sb.control.addFault({ operation: 'arm:*', subscriptionId: DEMO_SUBSCRIPTION_ID, ...fault });
    const failure = await functionApp.host.invokeTimer('nightlyScan').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('ScanFailedError');
    expect((failure as Error).message).toMatch(/the scan reached none of its 2 subscription\(s\)/);
    expect((failure as Error).message).toContain(DEMO_SUBSCRIPTION_ID);
    expect((failure as Error).message).toContain(UNKNOWN_SUBSCRIPTION);
    expect(lines.some((l) => l.startsWith("executed 'nightlyScan' (failed"))).toBe(true);
    expect(await queued()).toBe(0);
    expect(incomplete()).toHaveLength(1);
    expect(incomplete()[0]!.dimensions).toMatchObject({ reachedNone: true });
    expect(String(incomplete()[0]!.dimensions!.failedSubscriptions).split(',').sort()).toEqual([DEMO_SUBSCRIPTION_ID, UNKNOWN_SUBSCRIPTION].sort());
    expect(String(incomplete()[0]!.dimensions!.errors)).toMatch(evidence);
  }, 120_000);

  it.each([
    ['a dry run', { dryRun: true }],
    ['a run of every due app', {}],
  ])('POST /api/rotations (%s) that reaches no subscription answers 503 ScanFailed naming them, not "nothing is due"', async (_sentence, body) => {
    functionApp.sb.control.addFault({ operation: 'arm:*', subscriptionId: DEMO_SUBSCRIPTION_ID, status: 403, code: 'AuthorizationFailed', message: 'The client does not have authorization' });
    const res = await fetch(`${functionApp.host.apiUrl}/rotations`, { method: 'POST', headers: { 'x-functions-key': 'k', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(503);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('ScanFailed');
    expect(error.message).toContain(DEMO_SUBSCRIPTION_ID);
    expect(error.message).toContain(UNKNOWN_SUBSCRIPTION);
    expect(await queued()).toBe(0);
  }, 60_000);
});
