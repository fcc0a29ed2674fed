// The ARM pacer's bucket arithmetic with a fake clock, and its place in a real arm-appservice pipeline.
import { WebSiteManagementClient } from '@azure/arm-appservice';
import { createHttpHeaders, createPipelineRequest, type PipelineResponse, type SendRequest } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import {
  ARM_PACING_POLICY_NAME,
  ArmPacer,
  ArmRequestCounter,
  classifyArmRequest,
  subscriptionOfUrl,
  TokenBucket,
  type PacingClock,
} from '../../src/azure/armPacing.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';

class FakeClock implements PacingClock {
  t = 0;
  sleeps: number[] = [];
  nowMs = () => this.t;
  sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.t += ms;
  };
}

const SUB = '00000000-0000-4000-8000-0000000000aa';
const url = (path: string) => `https://management.example/subscriptions/${SUB}${path}?api-version=2025-05-01`;

function answer(status: number, headers: Record<string, string> = {}): SendRequest {
  return async (request) => ({ request, status, headers: createHttpHeaders(headers) }) as PipelineResponse;
}

describe('TokenBucket', () => {
  it('lets a full burst through at once, then spaces requests at the refill rate', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(3, 10, clock);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()].map((r) => r.waitMs)).toEqual([0, 0, 0]);
    // Empty: the next caller waits one refill interval (100 ms at 10/s), the one after it two.
    expect(bucket.reserve().waitMs).toBe(100);
    expect(bucket.reserve().waitMs).toBe(200);
  });

  it('refills with time but never above its capacity', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(5, 10, clock);
    for (let i = 0; i < 5; i += 1) bucket.reserve();
    clock.t += 250;
    expect(bucket.available()).toBeCloseTo(2.5);
    clock.t += 10_000;
    expect(bucket.available()).toBe(5);
  });

  it('takes ARM’s remaining count as the truth, minus our requests still on the wire', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(250, 25, clock);
    const first = bucket.reserve();
    bucket.reserve(); // still in flight when the first answer arrives
    bucket.settle();
    bucket.seed(4, first.ticket);
    expect(bucket.available()).toBe(3);
  });

  it('ignores a balance that arrives after a newer one (answers out of order)', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(250, 25, clock);
    const older = bucket.reserve();
    const newer = bucket.reserve();
    bucket.settle();
    bucket.seed(10, newer.ticket); // 10 left, and the older request still on the wire: 9
    expect(bucket.available()).toBe(9);
    bucket.settle();
    bucket.seed(11, older.ticket); // counted before the newer one: a stale, higher balance
    expect(bucket.available()).toBe(9);
  });

  it('treats a 429 as an empty bucket, whatever the model said', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(250, 25, clock);
    bucket.chargeThrottle();
    expect(bucket.available()).toBe(-1);
    expect(bucket.reserve().waitMs).toBe(80); // (1 - (-1)) / 25 per s
  });
});

describe('TokenBucket shared with other instances', () => {
  // Capacity 100, 10 per s, low-water mark 30 (0.3 × 100), as ArmPacer builds it by default.
  const shared = (clock: FakeClock) => new TokenBucket(100, 10, clock, 0, { lowWater: 30, windowMs: 10_000 });

  /** One of our requests, answered with ARM's balance `remaining`. */
  const answered = (bucket: TokenBucket, remaining: number) => {
    const { ticket } = bucket.reserve();
    bucket.sent();
    bucket.settle();
    bucket.seed(remaining, ticket);
  };

  it.each([
    // Between the two balances the bucket fell 20 and refilled 10: 30 consumed, of which 5 were ours.
    { case: 'measures its share from how far the balance fell against its own requests', others: 25, share: 5 / 30 },
    { case: 'stays at a share of 1 when the balance fell only by its own requests', others: 0, share: 1 },
  ])('$case', ({ others, share }) => {
    const clock = new FakeClock();
    const bucket = shared(clock);
    answered(bucket, 50);
    clock.t = 1000;
    for (let i = 1; i <= 5; i += 1) answered(bucket, 50 - i - (i === 5 ? others : 0) + (i === 5 ? 10 : 0));
    expect(bucket.share()).toBeCloseTo(share, 5);
  });

  /** A balance, then a second later five of our answers while other instances drew on the same bucket. */
  const fourInstances = (clock: FakeClock, bucket: TokenBucket, lastBalance: number) => {
    answered(bucket, 90);
    clock.t = 1000;
    for (let i = 1; i <= 4; i += 1) answered(bucket, 90 - 4 * i);
    answered(bucket, lastBalance);
  };

  it('below the low-water mark spends only its share of the balance and waits at its share of the refill', () => {
    const clock = new FakeClock();
    const bucket = shared(clock);
    fourInstances(clock, bucket, 20);
    // 90 - 20 fell and 10 refilled: 80 consumed, 5 of them ours.
    expect(bucket.share()).toBeCloseTo(5 / 80, 5);
    // 20 left for the whole fleet, below the mark: ours is our share of it (1.25), and a token refills at 10 × share per s.
    expect(bucket.available()).toBeCloseTo(20 * (5 / 80), 5);
    bucket.reserve();
    expect(bucket.reserve().waitMs).toBe(Math.ceil(((1 - (20 * (5 / 80) - 1)) / (10 * (5 / 80))) * 1000));
  });

  it('above the low-water mark spends the balance freely, keeping only its share of the mark', () => {
    const clock = new FakeClock();
    const bucket = shared(clock);
    fourInstances(clock, bucket, 70);
    // 90 - 70 fell and 10 refilled: 30 consumed, 5 ours.
    expect(bucket.share()).toBeCloseTo(5 / 30, 5);
    // 70 left: the 40 above the mark are everyone's, and our share of the 30 below.
    expect(bucket.available()).toBeCloseTo(40 + 30 * (5 / 30), 5);
  });
});

describe('ArmPacer', () => {
  it.each([
    ['GET', 'reads'],
    ['HEAD', 'reads'],
    ['POST', 'writes'],
    ['PUT', 'writes'],
    ['DELETE', 'writes'],
  ] as const)('counts %s as %s (POST …/list actions are writes)', (method, cls) => {
    expect(classifyArmRequest(method)).toBe(cls);
  });

  it('finds the subscription of a request, case-insensitively', () => {
    expect(subscriptionOfUrl(url('/providers/Microsoft.Web/sites').replace(SUB, SUB.toUpperCase()))).toBe(SUB);
    expect(subscriptionOfUrl('https://management.example/providers/Microsoft.Web/operations')).toBeUndefined();
  });

  it('waits before sending once the remaining-quota header says the bucket is empty, and counts it', async () => {
    const clock = new FakeClock();
    const pacer = new ArmPacer({ clock, readsPerSecond: 25, reserveTokens: 0 });
    const read = createPipelineRequest({ url: url('/providers/Microsoft.Web/sites'), method: 'GET' });
    await pacer.send(read, answer(200, { 'x-ms-ratelimit-remaining-subscription-reads': '0' }));
    expect(clock.sleeps).toEqual([]);
    await pacer.send(read, answer(200, { 'x-ms-ratelimit-remaining-subscription-reads': '0' }));
    expect(clock.sleeps).toEqual([40]);
    // Writes have their own bucket: a write goes at once.
    await pacer.send(createPipelineRequest({ url: url('/sites/a/config/appsettings/list'), method: 'POST' }), answer(200));
    expect(clock.sleeps).toEqual([40]);
    expect(pacer.stats).toMatchObject({ requests: 3, throttled: 0, waits: 1, waitedMs: 40 });
    expect(pacer.stats.byClass.writes.requests).toBe(1);
  });

  it('charges a 429 so the retry that follows waits for the bucket', async () => {
    const clock = new FakeClock();
    const pacer = new ArmPacer({ clock, readsPerSecond: 25, reserveTokens: 0 });
    const read = createPipelineRequest({ url: url('/sites'), method: 'GET' });
    await pacer.send(read, answer(429, { 'retry-after': '1' }));
    await pacer.send(read, answer(200));
    expect(pacer.stats.throttled).toBe(1);
    expect(clock.sleeps).toEqual([80]);
  });

  it('keeps subscriptions apart', async () => {
    const clock = new FakeClock();
    const pacer = new ArmPacer({ clock });
    await pacer.send(createPipelineRequest({ url: url('/sites'), method: 'GET' }), answer(200, { 'x-ms-ratelimit-remaining-subscription-reads': '0' }));
    const other = url('/sites').replace(SUB, '00000000-0000-4000-8000-0000000000bb');
    await pacer.send(createPipelineRequest({ url: other, method: 'GET' }), answer(200));
    expect(clock.sleeps).toEqual([]);
  });

  it('with pacing off only counts attempts and 429s', async () => {
    const counter = new ArmRequestCounter();
    const policy = counter.policy();
    const read = createPipelineRequest({ url: url('/sites'), method: 'GET' });
    await policy.sendRequest(read, answer(429));
    await policy.sendRequest(read, answer(200));
    expect(counter.stats).toMatchObject({ requests: 2, throttled: 1, waits: 0 });
  });

  it('sits after the retry policy in the arm-appservice pipeline, so it sees every attempt', () => {
    const pacer = new ArmPacer();
    const client = new WebSiteManagementClient(staticTokenCredential('t'), SUB, {
      endpoint: 'https://127.0.0.1:1',
      additionalPolicies: [{ policy: pacer.policy(), position: 'perRetry' }],
    });
    const names = client.pipeline.getOrderedPolicies().map((p) => p.name);
    expect(names.indexOf(ARM_PACING_POLICY_NAME)).toBeGreaterThan(names.indexOf('defaultRetryPolicy'));
    expect(names.indexOf(ARM_PACING_POLICY_NAME)).toBeGreaterThan(names.indexOf('bearerTokenAuthenticationPolicy'));
  });
});
