// A scan stays at the ARM floor the benchmark measures (bench/scan.ts): per subscription the pages of the site and
// certificate listings and one settings read per opted-in app, and no write that changes anything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createDependencies } from '../../src/composition.js';
import { silentLogger } from '../../src/core/logger.js';
import { systemClock } from '../../src/core/ports.js';
import { scanInventory } from '../../src/core/scan.js';
import { sandboxConfig, scaleScenario, scanFloor } from '../../bench/common.js';
import { changingWrites } from '../../bench/scan.js';

// 2 subscriptions × 200 sites, half opted in, page size 30: 7 pages of sites and 1 of certificates each.
const scenario = scaleScenario({ subscriptions: 2, appsPerSubscription: 200, optedInFraction: 0.5, due: 10, appsPerResourceGroup: 50, armPageSize: 30 });
const facts = scenario.meta?.facts as { subscriptionIds: string[]; optedIn: number };
let sb: Sandbox;

beforeAll(async () => {
  sb = await startSandbox(scenario, { simulateApps: false });
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

describe('a scan of 400 apps (200 opted in) over 2 subscriptions', () => {
  it('makes exactly the floor of ARM calls and no write', async () => {
    const config = sandboxConfig(sb, facts.subscriptionIds, { ARM_PACING: 'false' });
    const deps = createDependencies(config, { tlsCa: sb.caPem });
    sb.control.resetCounters();

    const result = await scanInventory({ ...deps, logger: silentLogger, clock: systemClock }, config);

    const counters = sb.control.counters();
    const floor = scanFloor(scenario);
    expect(floor).toMatchObject({ reads: 2 * (7 + 1), writes: 200 });
    expect(result.apps).toHaveLength(facts.optedIn);
    expect(result.apps.filter((a) => a.bindings.some((b) => b.evaluation.due))).toHaveLength(10);
    expect(counters.arm.byOperation).toEqual({
      WebApps_List: 14,
      Certificates_List: 2,
      WebApps_ListApplicationSettings: 200,
    });
    expect({ reads: counters.arm.reads, writes: counters.arm.writes }).toEqual({ reads: floor.reads, writes: floor.writes });
    expect(changingWrites(counters)).toBe(0);
    expect(counters.restarts).toBe(0);
  }, 60_000);
});
