// ARM's token-bucket throttling model: bucket arithmetic with an injected clock, the quota floor the
// benchmark divides by, and what clients see over HTTPS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { ArmThrottle, quotaFloorSeconds } from '../../sandbox/throttling.js';
import { rawRequest, webClient } from './sdk-clients.js';

describe('ArmThrottle', () => {
  function throttle(opts: ConstructorParameters<typeof ArmThrottle>[0]) {
    let now = 0;
    const t = new ArmThrottle(opts, () => now);
    return { t, advance: (ms: number) => (now += ms) };
  }

  it('serves the burst, then refuses with the time until the next token', () => {
    const { t } = throttle({ enabled: true, reads: { burst: 3, perSecond: 2 } });
    const results = Array.from({ length: 4 }, () => t.take('s', 'read'));
    expect(results.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(results[3]!.retryAfterMs).toBe(500);
  });

  it('refills at perSecond × timeScale, never above the burst', () => {
    const { t, advance } = throttle({ enabled: true, timeScale: 10, reads: { burst: 3, perSecond: 2 } });
    for (let i = 0; i < 3; i++) t.take('s', 'read');
    advance(100); // 2/s × 10 = 20 tokens/s → 2 tokens
    expect(t.take('s', 'read').remaining).toBe(1);
    advance(60_000);
    expect(t.take('s', 'read').remaining).toBe(2);
  });

  it('keeps reads and writes, and subscriptions, in separate buckets', () => {
    const { t } = throttle({ enabled: true, reads: { burst: 1, perSecond: 1 }, writes: { burst: 1, perSecond: 1 } });
    expect(t.take('a', 'read').allowed).toBe(true);
    expect(t.take('a', 'write').allowed).toBe(true);
    expect(t.take('B', 'read').allowed).toBe(true);
    expect(t.take('A', 'read').allowed).toBe(false);
  });

  it('with throttling off it never refuses but still reports what would be left', () => {
    const { t } = throttle({ enabled: false, reads: { burst: 2, perSecond: 1 } });
    const results = Array.from({ length: 4 }, () => t.take('s', 'read'));
    expect(results.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 1],
      [true, 0],
      [true, 0],
      [true, 0],
    ]);
  });

  it.each([
    ['reads within the burst cost nothing', 250, 0, {}, 0],
    ['850 reads need 600 refilled at 25/s', 850, 0, {}, 24],
    ['writes refill at 10/s', 0, 300, {}, 10],
    ['the slower bucket decides', 850, 300, {}, 24],
    ['timeScale 10 divides the floor by 10', 850, 0, { timeScale: 10 }, 2.4],
  ])('quotaFloorSeconds: %s', (_label, reads, writes, opts, expected) => {
    expect(quotaFloorSeconds(reads, writes, opts)).toBeCloseTo(expected, 6);
  });

  it('refuses options that make no sense', () => {
    expect(() => new ArmThrottle({ timeScale: 0 })).toThrow(RangeError);
    expect(() => new ArmThrottle({ reads: { burst: 0, perSecond: 1 } })).toThrow(RangeError);
  });
});

describe('throttling over HTTPS', () => {
  const SUB = 'dddddddd-1111-4222-8333-000000000001';
  const OTHER = 'dddddddd-1111-4222-8333-000000000002';
  const scenario: Scenario = {
    name: 'throttling-test',
    cas: [{ name: 'ca' }],
    subscriptions: [
      { id: SUB, resourceGroups: [{ name: 'rg', location: 'West Europe', sites: [{ name: 'a' }] }] },
      { id: OTHER, resourceGroups: [{ name: 'rg', location: 'West Europe', sites: [{ name: 'b' }] }] },
    ],
  };
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox(scenario, { simulateApps: false });
  });
  afterAll(async () => {
    await sb?.stop();
  });
  const siteUrl = (sub: string, site: string) => `${sb.armEndpoint}/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Web/sites/${site}?api-version=2025-05-01`;

  it('off by default: the remaining-reads header still counts down from the documented burst of 250', async () => {
    // Refill slowed to near zero: at the real 25/s a busy machine can refill a token between two requests.
    sb.control.setThrottling({ enabled: false, timeScale: 0.0001 });
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) remaining.push(Number((await rawRequest(sb, siteUrl(OTHER, 'b'))).headers['x-ms-ratelimit-remaining-subscription-reads']));
    expect(remaining[0]).toBe(249);
    expect(remaining[1]).toBeLessThan(remaining[0]!);
    expect(remaining[2]).toBeLessThan(remaining[1]!);
  });

  it('on: the remaining headers decrease and a burst beyond the bucket gets 429 with Retry-After', async () => {
    sb.control.setThrottling({ enabled: true, reads: { burst: 4, perSecond: 0.5 }, writes: { burst: 3, perSecond: 0.5 } });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await rawRequest(sb, siteUrl(SUB, 'a')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 429, 429]);
    expect(answers.slice(0, 4).map((a) => a.headers['x-ms-ratelimit-remaining-subscription-reads'])).toEqual(['3', '2', '1', '0']);
    const refused = answers[4]!;
    expect(refused.headers['retry-after']).toBe('2');
    expect((refused.json as { error: { code: string } }).error.code).toBe('SubscriptionRequestsThrottled');
    // Writes (a POST …/list counts as one) have their own bucket; another subscription is untouched.
    const list = await rawRequest(sb, `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/a/config/appsettings/list?api-version=2025-05-01`, { method: 'POST' });
    expect([list.status, list.headers['x-ms-ratelimit-remaining-subscription-writes']]).toEqual([200, '2']);
    expect((await rawRequest(sb, siteUrl(OTHER, 'b'))).status).toBe(200);
    expect(sb.control.counters().arm.bySubscription[SUB]?.throttled).toBe(2);
  });

  it('with a compressed clock the SDK waits out the 429s (retry-after-ms) and every call succeeds', async () => {
    sb.control.setThrottling({ enabled: true, timeScale: 20, reads: { burst: 2, perSecond: 1 } });
    sb.control.resetCounters();
    const client = webClient(sb, SUB);
    const names: string[] = [];
    for (let i = 0; i < 5; i++) names.push((await client.webApps.get('rg', 'a')).name!);
    expect(names).toEqual(['a', 'a', 'a', 'a', 'a']);
    expect(sb.control.counters().arm.throttled).toBeGreaterThan(0);
  });
});
