// Fault injection: the registry's matching and replay, and what the real SDK clients see.
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FaultRegistry, seededRandom, type FaultMatchInput, type FaultSpec } from '../../sandbox/faults.js';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { secretClient, webClient } from './sdk-clients.js';

const SUB = 'cccccccc-1111-4222-8333-000000000001';
const get = (path = '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/a'): FaultMatchInput => ({
  surface: 'arm',
  operation: 'WebApps_Get',
  subscriptionId: SUB,
  path,
});

describe('FaultRegistry', () => {
  it('a fault limited to N times affects N matching requests, then expires', () => {
    const r = new FaultRegistry();
    r.add({ operation: 'WebApps_Get', status: 500, times: 2 });
    expect([r.match(get()), r.match(get()), r.match(get())].map((f) => f?.status)).toEqual([500, 500, undefined]);
    expect(r.list()).toEqual([]);
  });

  it.each<[string, FaultSpec, FaultMatchInput, boolean]>([
    ['matches its operation', { operation: 'WebApps_Get', status: 500 }, get(), true],
    ['ignores other operations', { operation: 'WebApps_List', status: 500 }, get(), false],
    ["'*' matches every operation", { status: 500 }, get(), true],
    ["'arm:*' matches ARM only", { operation: 'arm:*', status: 500 }, { ...get(), surface: 'kv', operation: 'GetSecret' }, false],
    ["'kv:*' matches Key Vault", { operation: 'kv:*', status: 500 }, { ...get(), surface: 'kv', operation: 'GetSecret' }, true],
    ['filters by subscription', { subscriptionId: 'other', status: 500 }, get(), false],
    ['filters by a path fragment, case-insensitively', { pathContains: '/SITES/A', status: 500 }, get(), true],
    ['a path fragment of another site does not match', { pathContains: '/sites/b', status: 500 }, get(), false],
  ])('%s', (_label, spec, input, matched) => {
    const r = new FaultRegistry();
    r.add(spec);
    expect(r.match(input) !== undefined).toBe(matched);
  });

  it('probabilistic faults replay the same sequence from the same seed', () => {
    const run = (r: FaultRegistry) => Array.from({ length: 40 }, () => (r.match(get()) !== undefined ? 1 : 0)).join('');
    const r = new FaultRegistry(42);
    r.add({ status: 503, probability: 0.3 });
    const first = run(r);
    r.clear(42);
    r.add({ status: 503, probability: 0.3 });
    expect(run(r)).toBe(first);
    expect(first).toMatch(/1/);
    expect(first).toMatch(/0/);
  });

  it('the RNG is deterministic and spread over [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(xs.filter((x) => x < 0.5).length).toBeGreaterThan(400);
  });

  it.each<[string, FaultSpec]>([
    ['a status that is not an error', { status: 200 }],
    ['a probability above 1', { status: 500, probability: 2 }],
    ['zero times', { status: 500, times: 0 }],
    ['nothing to do', { operation: 'WebApps_Get' }],
  ])('refuses %s', (_label, spec) => {
    expect(() => new FaultRegistry().add(spec)).toThrow(RangeError);
  });
});

describe('faults seen by the SDK clients', () => {
  const scenario: Scenario = {
    name: 'faults-test',
    cas: [{ name: 'ca' }],
    vaults: [{ name: 'kv-f', subscriptionId: SUB, resourceGroup: 'rg', certificates: [{ name: 'c', versions: [{ issuer: 'ca', notAfterDays: 90 }] }] }],
    subscriptions: [{ id: SUB, resourceGroups: [{ name: 'rg', location: 'West Europe', sites: [{ name: 'a' }, { name: 'b' }] }] }],
  };
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox(scenario, { simulateApps: false });
  });
  afterEach(() => sb.control.reset());
  afterAll(async () => {
    await sb?.stop();
  });

  it('a 429 with Retry-After is honoured by the SDK and its retry succeeds', async () => {
    sb.control.addFault({ operation: 'WebApps_Get', status: 429, retryAfterSeconds: 1, times: 1 });
    const site = await webClient(sb, SUB).webApps.get('rg', 'a');
    expect(site.name).toBe('a');
    const log = sb.control.requests({ operation: 'WebApps_Get' });
    expect(log.map((e) => e.status)).toEqual([429, 200]);
    // The SDK waited for Retry-After before trying again.
    expect(Date.parse(log[1]!.at) - Date.parse(log[0]!.at)).toBeGreaterThanOrEqual(900);
  });

  it('an always-500 surfaces as an error after the client exhausts its retries', async () => {
    sb.control.addFault({ operation: 'WebApps_ListApplicationSettings', status: 500 });
    const client = webClient(sb, SUB, { maxRetries: 2, retryDelayInMs: 10, maxRetryDelayInMs: 20 });
    const err = await client.webApps.listApplicationSettings('rg', 'a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestError);
    expect([(err as RestError).statusCode, (err as RestError).code]).toEqual([500, 'InternalServerError']);
    expect(sb.control.requests({ operation: 'WebApps_ListApplicationSettings' })).toHaveLength(3);
    expect(sb.control.counters().arm.faulted).toBe(3);
  });

  it('a fault scoped to one site leaves the others alone', async () => {
    sb.control.addFault({ operation: 'WebApps_Get', pathContains: '/sites/b', status: 404, code: 'ResourceNotFound' });
    const client = webClient(sb, SUB, { maxRetries: 0 });
    expect((await client.webApps.get('rg', 'a')).name).toBe('a');
    expect(((await client.webApps.get('rg', 'b').catch((e: unknown) => e)) as RestError).statusCode).toBe(404);
  });

  it('latency delays the answer by at least the configured time', async () => {
    sb.control.addFault({ operation: 'WebApps_List', latencyMs: 300, times: 1 });
    for await (const _ of webClient(sb, SUB).webApps.list()) {
      // drain
    }
    expect(sb.control.requests({ operation: 'WebApps_List' })[0]!.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('a hung request never answers; the client gives up by its own timeout and the next call works', async () => {
    sb.control.addFault({ operation: 'WebApps_Get', hang: true, times: 1 });
    const client = webClient(sb, SUB, { maxRetries: 0 });
    const err = await client.webApps.get('rg', 'a', { abortSignal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((await client.webApps.get('rg', 'a')).name).toBe('a');
  });

  it('a Key Vault 503 with Retry-After is retried by the secret client', async () => {
    sb.control.addFault({ operation: 'GetSecret', status: 503, times: 1, retryAfterSeconds: 1 });
    const secret = await secretClient(sb, 'kv-f').getSecret('c');
    expect(secret.properties.contentType).toBe('application/x-pkcs12');
    expect(sb.control.requests({ surface: 'kv', operation: 'GetSecret' }).map((e) => e.status)).toEqual([503, 200]);
  });
});
