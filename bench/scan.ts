// Metrics 1 and 2: ARM calls of a scan against the floor, and its wall time against the quota floor with the
// sandbox's throttling model on (paced and unpaced).
import { quotaFloorSeconds, startSandbox, type Counters, type Sandbox, type ThrottlingOptions } from '../sandbox/index.js';
import { createDependencies } from '../src/composition.js';
import { scanInventory } from '../src/core/scan.js';
import { silentLogger } from '../src/core/logger.js';
import { systemClock } from '../src/core/ports.js';
import { sandboxConfig, scaleScenario, scanFloor } from './common.js';

const LIST_SETTINGS = ['WebApps_ListApplicationSettings', 'WebApps_ListApplicationSettingsSlot'];

/** Writes that change something (PUT/DELETE/restart): ARM's write count minus the `POST …/list` settings reads. */
export function changingWrites(c: Counters): number {
  return c.arm.writes - LIST_SETTINGS.reduce((n, op) => n + (c.arm.byOperation[op] ?? 0), 0);
}

async function scanOnce(sb: Sandbox, subscriptionIds: string[], pacing: { enabled: boolean; timeScale?: number }) {
  const ts = pacing.timeScale ?? 1;
  const config = sandboxConfig(sb, subscriptionIds, { ARM_PACING: String(pacing.enabled) });
  const deps = createDependencies(config, {
    tlsCa: sb.caPem,
    pacing: { readsPerSecond: 25 * ts, writesPerSecond: 10 * ts },
  });
  const started = performance.now();
  const result = await scanInventory({ ...deps, logger: silentLogger, clock: systemClock }, config);
  const seconds = (performance.now() - started) / 1000;
  return { result, seconds, stats: deps.pacingStats };
}

export interface ScanFigures {
  requestsOverFloor: number;
  writesWhenNothingDue: number;
  detail: Record<string, unknown>;
}

/** 2,000 opted-in + 2,000 not, 4 subscriptions, 40 due; throttling off (only counted). */
export async function measureScanFloor(): Promise<ScanFigures> {
  const scenario = scaleScenario({ subscriptions: 4, appsPerSubscription: 1000, optedInFraction: 0.5, due: 40 });
  const facts = scenario.meta?.facts as { subscriptionIds: string[]; optedIn: number; apps: number };
  const sb = await startSandbox(scenario, { simulateApps: false });
  try {
    const floor = scanFloor(scenario);
    sb.control.resetCounters();
    // Pacing off: with the model's real rates it would only add quota waits; the count of calls is the same.
    const { result, seconds } = await scanOnce(sb, facts.subscriptionIds, { enabled: false });
    const c = sb.control.counters();
    const armRequests = c.arm.reads + c.arm.writes;
    const due = result.apps.filter((a) => a.bindings.some((b) => b.evaluation.due)).length;
    if (result.apps.length !== facts.optedIn) throw new Error(`scan found ${result.apps.length} opted-in apps, expected ${facts.optedIn}`);
    if (due !== 40) throw new Error(`scan found ${due} due apps, expected 40`);

    // Nothing due: the same world after renewing nothing, scanned with no due app (a world whose due apps are 0).
    const idle = scaleScenario({ subscriptions: 4, appsPerSubscription: 1000, optedInFraction: 0.5, due: 0 });
    const sbIdle = await startSandbox(idle, { simulateApps: false });
    let idleWrites: number;
    let idleRequests: number;
    try {
      sbIdle.control.resetCounters();
      await scanOnce(sbIdle, facts.subscriptionIds, { enabled: false });
      const ci = sbIdle.control.counters();
      idleWrites = changingWrites(ci);
      idleRequests = ci.arm.reads + ci.arm.writes;
    } finally {
      await sbIdle.stop();
    }
    return {
      requestsOverFloor: armRequests / (floor.reads + floor.writes),
      writesWhenNothingDue: idleWrites,
      detail: {
        apps: facts.apps,
        optedIn: facts.optedIn,
        due,
        floor: floor.reads + floor.writes,
        armRequests,
        armReads: c.arm.reads,
        armWrites: c.arm.writes,
        changingWritesWith40Due: changingWrites(c),
        idleArmRequests: idleRequests,
        byOperation: c.arm.byOperation,
        keyVaultRequests: c.keyVault.requests,
        seconds: round(seconds),
      },
    };
  } finally {
    await sb.stop();
  }
}

export interface ThrottledFigures {
  pacedOverFloor: number;
  paced429s: number;
  unpacedOverFloor: number;
  unpaced429s: number;
  detail: Record<string, unknown>;
}

/** The same 4 × 1,000 world with the throttling model on, time-scaled; paced, then unpaced. */
export async function measureThrottledScan(timeScale: number): Promise<ThrottledFigures> {
  const scenario = scaleScenario({ subscriptions: 4, appsPerSubscription: 1000, optedInFraction: 0.5, due: 40 });
  const facts = scenario.meta?.facts as { subscriptionIds: string[]; optedIn: number };
  const throttling: ThrottlingOptions = { enabled: true, timeScale };
  const sb = await startSandbox(scenario, { simulateApps: false, throttling });
  try {
    const floor = scanFloor(scenario);
    // Subscriptions are scanned in parallel with their own buckets: the floor is the slowest subscription's.
    const floorSeconds = Math.max(...floor.perSubscription.map((s) => quotaFloorSeconds(s.reads, s.writes, throttling)));
    const run = async (enabled: boolean) => {
      sb.control.setThrottling(throttling); // every bucket starts full
      sb.control.resetCounters();
      const r = await scanOnce(sb, facts.subscriptionIds, { enabled, timeScale });
      const c = sb.control.counters();
      return {
        seconds: r.seconds,
        throttled: c.arm.throttled,
        requests: c.arm.reads + c.arm.writes,
        appsScanned: r.result.apps.filter((a) => !a.settingsUnreadable).length,
        unreadable: r.result.apps.filter((a) => a.settingsUnreadable).length,
        waits: r.stats.waits,
      };
    };
    const paced = await run(true);
    const unpaced = await run(false);
    return {
      pacedOverFloor: paced.seconds / floorSeconds,
      paced429s: paced.throttled,
      unpacedOverFloor: unpaced.seconds / floorSeconds,
      unpaced429s: unpaced.throttled,
      detail: {
        timeScale,
        floorSeconds: round(floorSeconds),
        optedIn: facts.optedIn,
        paced: { ...paced, seconds: round(paced.seconds) },
        unpaced: { ...unpaced, seconds: round(unpaced.seconds) },
      },
    };
  } finally {
    await sb.stop();
  }
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
