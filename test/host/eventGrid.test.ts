// The local host's Event Grid webhook against what the Functions host's Event Grid extension does
// (HttpRequestProcessor, EventGridExtensionConfigProvider), and the sandbox's Event Grid publisher against it:
// the validation handshakes, the system key, single dispatch of a batch, the status codes Event Grid reacts to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { startLocalHost, type LocalHost } from '../../src/host/index.js';

const SYSTEM_KEY = 'eventgrid-key';
const MASTER_KEY = 'master-key';
const lines: string[] = [];
let host: LocalHost;
let received: Array<{ event: unknown; invocationId: string }>;
let failNext: (n: number) => void;
let base: string;

beforeAll(async () => {
  host = await startLocalHost({
    register: async () => {
      ({ received, failNext } = await import('./fixtures/eventGridFunctions.js'));
    },
    settings: { FUNCTIONS_EVENTGRID_KEY: SYSTEM_KEY, FUNCTIONS_MASTER_KEY: MASTER_KEY, FUNCTIONS_KEY: 'function-key' },
    localSettings: false,
    hostJson: false,
    port: 0,
    log: (line) => lines.push(line),
  });
  base = `${host.url}/runtime/webhooks/eventgrid`;
});

afterAll(async () => {
  await host?.stop();
});

const gridEvent = (id: string, data: Record<string, unknown> = {}) => ({
  id,
  topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv',
  subject: 'c',
  eventType: 'Microsoft.KeyVault.CertificateNewVersionCreated',
  eventTime: new Date().toISOString(),
  data,
  dataVersion: '1',
  metadataVersion: '1',
});

async function post(query: string, body: string | undefined, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${base}${query}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('the webhook as the Functions host serves it', () => {
  it.each([
    ['no key', '?functionName=gridEcho', 401],
    ['a function key instead of the system key', '?functionName=gridEcho&code=function-key', 401],
    ['an unknown function name', `?functionName=nope&code=${SYSTEM_KEY}`, 404],
    ['no function name', `?code=${SYSTEM_KEY}`, 404],
  ])('%s is refused with %s', async (_sentence, query, status) => {
    const before = received.length;
    const res = await post(query as string, JSON.stringify([gridEvent('x')]), { 'aeg-event-type': 'Notification' });
    expect(res.status).toBe(status);
    if (status === 404) expect(res.text).toMatch(/^cannot find function: '/);
    expect(received.length).toBe(before);
  });

  it('the master key is accepted where the system key is', async () => {
    const res = await post(`?functionName=gridEcho&code=${MASTER_KEY}`, JSON.stringify([gridEvent('master')]), { 'aeg-event-type': 'Notification' });
    expect(res.status).toBe(202);
    expect(received.some((r) => (r.event as { id: string }).id === 'master')).toBe(true);
  });

  it.each([
    ['Event Grid schema (an array, the first event)', JSON.stringify([{ ...gridEvent('v'), eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: { validationCode: 'code-1' } }]), 'code-1'],
    ['CloudEvents (one object, data double-encoded)', JSON.stringify({ specversion: '1.0', id: 'v', source: 's', type: 'Microsoft.EventGrid.SubscriptionValidationEvent', data: JSON.stringify({ validationCode: 'code-2' }) }), 'code-2'],
  ])('SubscriptionValidation in the %s answers 200 with validationResponse and runs nothing', async (_sentence, body, code) => {
    const before = received.length;
    const res = await post(`?functionName=gridEcho&code=${SYSTEM_KEY}`, body, { 'aeg-event-type': 'SubscriptionValidation' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ validationResponse: code });
    expect(received.length).toBe(before);
  });

  it.each([
    ['eventgrid.azure.net', 'eventgrid.azure.net'],
    ['eventgrid.azure.cn', 'eventgrid.azure.cn'],
    ['attacker.example', 'eventgrid.azure.net'],
  ])('the CloudEvents OPTIONS handshake from origin %s is allowed as %s', async (origin, allowed) => {
    const res = await post(`?functionName=gridEcho&code=${SYSTEM_KEY}`, undefined, { 'webhook-request-origin': origin }, 'OPTIONS');
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe(allowed);
  });

  it('a Notification array of two events runs the function once per event and answers 202', async () => {
    const before = received.length;
    const res = await post(`?functionName=gridEcho&code=${SYSTEM_KEY}`, JSON.stringify([gridEvent('a1'), gridEvent('a2')]), { 'aeg-event-type': 'Notification' });
    expect(res.status).toBe(202);
    expect(received.slice(before).map((r) => (r.event as { id: string }).id).sort()).toEqual(['a1', 'a2']);
  });

  it('a failing invocation answers 500 with its message (Event Grid then retries the batch)', async () => {
    const res = await post(`?functionName=gridEcho&code=${SYSTEM_KEY}`, JSON.stringify([gridEvent('f1', { failTimes: 1 })]), { 'aeg-event-type': 'Notification' });
    expect(res.status).toBe(500);
    expect(res.text).toContain('gridEcho: failing f1');
  });

  it.each([
    ['no aeg-event-type header', {}, JSON.stringify([gridEvent('n')]), 400],
    ['an unknown aeg-event-type', { 'aeg-event-type': 'Surprise' }, JSON.stringify([gridEvent('n')]), 400],
    ['a Notification that is not JSON', { 'aeg-event-type': 'Notification' }, '{not json', 400],
    ['a Notification that is a JSON string', { 'aeg-event-type': 'Notification' }, '"text"', 400],
    ['a SubscriptionValidation without a code', { 'aeg-event-type': 'SubscriptionValidation' }, JSON.stringify([{ data: {} }]), 400],
    ['Unsubscribe', { 'aeg-event-type': 'Unsubscribe' }, '', 202],
  ])('%s answers %s and runs nothing', async (_sentence, headers, body, status) => {
    const before = received.length;
    const res = await post(`?functionName=gridEcho&code=${SYSTEM_KEY}`, body as string, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(received.length).toBe(before);
  });
});

describe("the sandbox's Event Grid against the webhook", () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({
      name: 'grid',
      cas: [{ name: 'ca' }],
      vaults: [{ name: 'kv-grid', subscriptionId: '55555555-5555-4555-8555-555555555555', resourceGroup: 'rg', certificates: [{ name: 'c', versions: [{ issuer: 'ca', notBeforeDays: -1, notAfterDays: 100 }] }] }],
      subscriptions: [{ id: '55555555-5555-4555-8555-555555555555', resourceGroups: [{ name: 'rg', location: 'West Europe' }] }],
    }, { simulateApps: false });
  }, 60_000);
  afterAll(async () => {
    await sb?.stop();
  });

  it.each([['EventGrid' as const], ['CloudEvents' as const]])('a %s subscription passes the validation handshake; one with a wrong key is never created', async (schema) => {
    const id = await sb.eventGrid.subscribe({ endpoint: `${base}?functionName=gridEcho&code=${SYSTEM_KEY}`, schema });
    expect(id).toMatch(/^sub-/);
    sb.eventGrid.unsubscribe(id);
    await expect(sb.eventGrid.subscribe({ endpoint: `${base}?functionName=gridEcho&code=wrong`, schema })).rejects.toThrow(/validation handshake failed .*code=\*\*\*/);
  });

  it('a CloudEvents batch publisher delivers two versions in one request; the host runs one invocation per event', async () => {
    const id = await sb.eventGrid.subscribe({ endpoint: `${base}?functionName=gridEcho&code=${SYSTEM_KEY}`, schema: 'CloudEvents', batch: true, timeScale: 0.001 });
    const before = received.length;
    sb.control.renew('kv-grid', 'c', { issuer: 'ca', notAfterDays: 200 });
    sb.control.renew('kv-grid', 'c', { issuer: 'ca', notAfterDays: 300 });
    sb.eventGrid.flush();
    await sb.eventGrid.idle();
    sb.eventGrid.unsubscribe(id);
    const attempts = sb.eventGrid.attempts().filter((a) => a.subscription === id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: 'delivered', status: 202 });
    expect(attempts[0]!.eventIds).toHaveLength(2);
    expect(received.slice(before).map((r) => (r.event as { specversion?: string }).specversion)).toEqual(['1.0', '1.0']);
  });

  it("retries a 500 after Event Grid's 10 s and 30 s (scaled), then delivers", async () => {
    const scale = 0.005;
    const id = await sb.eventGrid.subscribe({ endpoint: `${base}?functionName=gridEcho&code=${SYSTEM_KEY}`, schema: 'EventGrid', timeScale: scale });
    failNext(2);
    sb.control.renew('kv-grid', 'c', { issuer: 'ca', notAfterDays: 400 });
    await sb.eventGrid.idle();
    sb.eventGrid.unsubscribe(id);
    const attempts = sb.eventGrid.attempts().filter((a) => a.subscription === id);
    expect(attempts.map((a) => [a.attempt, a.status, a.outcome])).toEqual([
      [1, 500, 'retry'],
      [2, 500, 'retry'],
      [3, 202, 'delivered'],
    ]);
    const at = attempts.map((a) => Date.parse(a.at));
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(10_000 * scale);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(30_000 * scale);
    expect(sb.eventGrid.deadLetters()).toEqual([]);
  });
});
