// The ARM pacer against the sandbox's token-bucket throttling model (time-scaled), with the real arm-appservice
// client and its own retries. Figures are printed; wall time is not asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quotaFloorSeconds, startSandbox, type Sandbox, type ThrottlingOptions } from '../../sandbox/index.js';
import { ArmAppServiceGateway } from '../../src/azure/appServiceGateway.js';
import { ArmPacer, ArmRequestCounter } from '../../src/azure/armPacing.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';
import { adapterScenario, APP0 } from './scenario.js';

// 20 burst, refilled at 25/s × timeScale 2 = 50/s: 120 reads need at least (120 - 20) / 50 = 2 s.
const THROTTLING: ThrottlingOptions = { enabled: true, timeScale: 2, reads: { burst: 20, perSecond: 25 } };
const READS = 120;
const POOL = 16;

let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox(adapterScenario(), { simulateApps: false });
});

afterAll(async () => {
  await sb?.stop();
});

async function run(policy: ArmPacer | ArmRequestCounter) {
  sb.control.setThrottling(THROTTLING); // every bucket starts full
  sb.control.resetCounters();
  const gateway = new ArmAppServiceGateway({
    endpoint: sb.armEndpoint,
    credential: staticTokenCredential(sb.token),
    tlsCa: sb.caPem,
    perRetryPolicies: [policy.policy()],
  });
  let next = 0;
  let found = 0;
  let lost = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: POOL }, async () => {
      while (next < READS) {
        next += 1;
        try {
          if (await gateway.getSite(APP0)) found += 1;
        } catch {
          lost += 1; // the SDK gave up after its retries: a scan would have missed an app
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { found, lost, seconds, client: policy.stats, server: sb.control.counters().arm };
}

describe('ARM pacing against the throttling model', () => {
  it('a pool of 16 readers gets no 429 with pacing, and some without', async () => {
    const floor = quotaFloorSeconds(READS, 0, THROTTLING);
    const paced = await run(new ArmPacer({ readsPerSecond: 25 * 2, readBurst: 20 }));
    const unpaced = await run(new ArmRequestCounter());
    for (const [label, r] of [['paced', paced], ['unpaced', unpaced]] as const) {
      console.log(
        `${label.padEnd(8)} ${READS} reads, pool ${POOL}: ${r.found} found, ${r.lost} lost, ${r.client.requests} attempts, ` +
          `${r.server.throttled} x 429, ${r.client.waits} waits; ${r.seconds.toFixed(2)} s = ${(r.seconds / floor).toFixed(2)} x the ${floor.toFixed(1)} s floor`,
      );
    }
    expect(paced).toMatchObject({ found: READS, lost: 0 });
    expect(paced.server.throttled).toBe(0);
    expect(paced.client.throttled).toBe(0);
    expect(paced.client.requests).toBe(READS);
    expect(paced.client.waits).toBeGreaterThan(0);

    expect(unpaced.server.throttled).toBeGreaterThan(0);
    expect(unpaced.client.throttled).toBe(unpaced.server.throttled);
    // Every attempt either succeeded or was throttled; a call whose 4 attempts were all throttled was lost.
    expect(unpaced.client.requests).toBe(unpaced.found + unpaced.server.throttled);
  });
});

// Several instances of the function app rotate with one identity against one subscription: each has its own pacer
// (its own pipeline), and the only thing they share is ARM's bucket and the remaining-quota header it reports.
const FLEET_THROTTLING: ThrottlingOptions = { enabled: true, timeScale: 3, writes: { burst: 60, perSecond: 10 } };
const INSTANCES = 4;
// Calls in flight across the fleet (4 × 4) stay under the low-water mark (0.3 × 60 = 18), as 4 instances × 12
// rotations × one ARM call each stay under 0.3 × ARM's 200 writes.
const POOL_PER_INSTANCE = 4;
const WRITES_PER_INSTANCE = 50;

async function runFleet(pacers: ArmPacer[]) {
  sb.control.setThrottling(FLEET_THROTTLING);
  sb.control.resetCounters();
  let lost = 0;
  const started = performance.now();
  await Promise.all(
    pacers.map(async (pacer) => {
      const gateway = new ArmAppServiceGateway({
        endpoint: sb.armEndpoint,
        credential: staticTokenCredential(sb.token),
        tlsCa: sb.caPem,
        perRetryPolicies: [pacer.policy()],
      });
      let next = 0;
      await Promise.all(
        Array.from({ length: POOL_PER_INSTANCE }, async () => {
          while (next < WRITES_PER_INSTANCE) {
            next += 1;
            // POST …/config/appsettings/list: a write in ARM's quota, as every rotation makes several.
            await gateway.readAppSettings(APP0).catch(() => (lost += 1));
          }
        }),
      );
    }),
  );
  return { lost, seconds: (performance.now() - started) / 1000, server: sb.control.counters().arm, shares: pacers.map((p) => p.bucket(APP0.subscriptionId, 'writes').share()) };
}

describe('ARM pacing shared by several instances', () => {
  const pacerOf = (shareQuota: boolean) => new ArmPacer({ writesPerSecond: 10 * 3, writeBurst: 60, shareQuota });

  it('four instances that share the remaining-quota header get no 429; four that each take it as their own do', async () => {
    const total = INSTANCES * WRITES_PER_INSTANCE;
    const floor = quotaFloorSeconds(0, total, FLEET_THROTTLING);
    const shared = await runFleet(Array.from({ length: INSTANCES }, () => pacerOf(true)));
    const alone = await runFleet(Array.from({ length: INSTANCES }, () => pacerOf(false)));
    for (const [label, r] of [['shared', shared], ['each alone', alone]] as const) {
      console.log(
        `${label.padEnd(10)} ${INSTANCES} instances × ${WRITES_PER_INSTANCE} writes: ${r.server.throttled} x 429, ${r.lost} lost; ` +
          `${r.seconds.toFixed(2)} s = ${(r.seconds / floor).toFixed(2)} x the ${floor.toFixed(1)} s floor; measured shares ${r.shares.map((s) => s.toFixed(2)).join(' ')}`,
      );
    }
    expect(shared.server.throttled).toBe(0);
    expect(shared.lost).toBe(0);
    // Each measured that it is one of several (1 = alone).
    for (const share of shared.shares) expect(share).toBeLessThan(0.6);
    // The same fleet without the share overdraws the one bucket: the test can fail.
    expect(alone.server.throttled).toBeGreaterThan(0);
  }, 120_000);
});
