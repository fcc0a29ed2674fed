// Stopping a rotation at every crash boundary and running again ends committed or rolled back, never half-way;
// two rotators racing for one app; retirement after the grace period. One sandbox and one Azurite, one app per
// case so the cases cannot disturb each other.
import { describe, expect, it } from 'vitest';
import { createRotator, CRASH_BOUNDARIES, type CrashBoundary } from '../../src/core/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { ageLeases } from '../helpers/leases.js';
import { useSandboxConfig } from '../helpers/sandboxConfig.js';
import { appRef, deps as makeDeps, independentApps, JumpingClock, SUB, VAULT, watch } from './world.js';

// Healthy apps reach every forward boundary; an app whose own downstream distrusts the new CA reaches the
// verification retries and the rollback ones. Retirement's boundary is exercised by the retire test.
const ROLLBACK_BOUNDARIES: CrashBoundary[] = ['midVerify', 'afterRollbackStarted', 'afterRollbackWrite', 'afterRollbackRestart'];
const FORWARD_BOUNDARIES = CRASH_BOUNDARIES.filter((b) => !ROLLBACK_BOUNDARIES.includes(b) && b !== 'afterRetireDelete');
const crashApp = (b: string) => `crash-${b.toLowerCase()}`;
const rollbackApp = (b: string) => `crashrb-${b.toLowerCase()}`;

const LEASE_SECONDS = 60;
// Past the lease and past the 60-minute verification window, so each probe run re-verifies only its own case.
const STOPPED_FOR_MS = 61 * 60 * 1000;
const azurite = useAzurite();
const clock = new JumpingClock();
const world = useSandboxConfig(
  azurite,
  () =>
    independentApps([
      ...FORWARD_BOUNDARIES.map((b) => ({ name: crashApp(b) })),
      ...ROLLBACK_BOUNDARIES.map((b) => ({ name: rollbackApp(b), calls: 'strict' as const })),
      { name: 'crash-again' },
      { name: 'race' },
      { name: 'retire-alone' },
      { name: 'retire-shared', neighbours: ['retire-neighbour'] },
    ]),
  { LEASE_SECONDS: String(LEASE_SECONDS), RETIRE_AFTER_DAYS: '7' },
);

const rotatorFor = (faultHook?: (b: CrashBoundary) => Promise<void> | void) =>
  createRotator(makeDeps(world.sb, world.config, { clock, ...(faultHook ? { faultHook } : {}) }), world.config);

function crashingAt(boundary: CrashBoundary): { hook: (b: CrashBoundary) => void; fired: () => boolean } {
  let fired = false;
  return {
    hook: (b) => {
      if (b === boundary && !fired) {
        fired = true;
        throw new Error(`process stopped at ${b}`);
      }
    },
    fired: () => fired,
  };
}

/** Whole: the settings, the loaded certificate and the record agree on one certificate, old or new. */
async function expectWhole(name: string, expected: 'committed' | 'rolledBack') {
  const ref = appRef(name);
  const oldTp = world.sb.control.thumbprint(`${VAULT}/${name}-client/0`);
  const newTp = world.sb.control.thumbprint(`${VAULT}/${name}-client/latest`);
  const records = await makeDeps(world.sb, world.config, { clock }).store.listForApp(`/subscriptions/${SUB}/resourceGroups/rg-${name}/providers/Microsoft.Web/sites/${name}`.toLowerCase(), 10);
  const last = records[0];
  expect(records.every((r) => r.outcome !== undefined), 'no record left open').toBe(true);
  expect(last?.outcome, `${last?.reason} ${JSON.stringify(last?.steps.map((s) => s.step))}`).toBe(expected);
  const want = expected === 'committed' ? newTp : oldTp;
  const settings = world.sb.control.appSettings(ref);
  expect(settings).toEqual({ WEBSITE_LOAD_CERTIFICATES: want, CLIENT_CERT_THUMBPRINT: want, OTHER: 'kept' });
  expect(world.sb.control.loadedThumbprints(ref)).toEqual([want]);
}

describe('a rotation stopped at a crash boundary and run again', () => {
  it.each(FORWARD_BOUNDARIES)('stopped at %s on a healthy app, the probe run (resumeOpen, after the lease expired) finishes it: committed', async (boundary) => {
    const name = crashApp(boundary);
    const crash = crashingAt(boundary);
    await expect(rotatorFor(crash.hook).rotateApp(name, { trigger: 'cli' })).rejects.toThrow(`process stopped at ${boundary}`);
    expect(crash.fired()).toBe(true);
    clock.jump(STOPPED_FOR_MS);
    // The stopped process's lease runs out on the Table service's clock too.
    await ageLeases(world.config, STOPPED_FOR_MS);
    const report = await rotatorFor().resumeOpen();
    expect(report.resumed.filter((r) => r.name === name).map((r) => r.outcome)).not.toContain('interrupted');
    await expectWhole(name, 'committed');
  }, 60_000);

  it.each(ROLLBACK_BOUNDARIES)('stopped at %s on an app whose own partner distrusts the new CA, the probe run finishes the rollback: rolledBack', async (boundary) => {
    const name = rollbackApp(boundary);
    const crash = crashingAt(boundary);
    await expect(rotatorFor(crash.hook).rotateApp(name, { trigger: 'cli' })).rejects.toThrow(`process stopped at ${boundary}`);
    expect(crash.fired()).toBe(true);
    clock.jump(STOPPED_FOR_MS);
    // The stopped process's lease runs out on the Table service's clock too.
    await ageLeases(world.config, STOPPED_FOR_MS);
    await rotatorFor().resumeOpen();
    await expectWhole(name, 'rolledBack');
  }, 60_000);

  it('stopped right after the settings write, a second rotate (not the probe run) finishes it: committed', async () => {
    const crash = crashingAt('afterSwitch');
    await expect(rotatorFor(crash.hook).rotateApp('crash-again', { trigger: 'cli' })).rejects.toThrow('process stopped');
    clock.jump(STOPPED_FOR_MS);
    // The stopped process's lease runs out on the Table service's clock too.
    await ageLeases(world.config, STOPPED_FOR_MS);
    const again = await rotatorFor().rotateApp('crash-again', { trigger: 'cli' });
    expect(again.outcome, again.reason).toBe('committed');
    await expectWhole('crash-again', 'committed');
  }, 60_000);
});

describe('two rotators (different owners) rotate one app at the same time', () => {
  it('one proceeds and commits, the other reports the app in progress and writes nothing', async () => {
    let secondDone!: () => void;
    const second = new Promise<void>((resolve) => (secondDone = resolve));
    // The first holds the lease while the second tries: deterministic, no timing.
    const first = rotatorFor(async (b) => {
      if (b === 'afterLease') await second;
    }).rotateApp('race', { trigger: 'cli' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    let secondResult;
    const w = watch(world.sb);
    for (let i = 0; i < 200 && !secondResult; i++) {
      // Wait until the first has its lease (its record exists) before the second starts.
      const records = await makeDeps(world.sb, world.config, { clock }).store.listAll();
      if (records.some((r) => r.app.site === 'race')) secondResult = await rotatorFor().rotateApp('race', { trigger: 'cli' });
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const mutatedBySecond = w.changes({ site: 'race' });
    secondDone();
    const firstResult = await first;
    expect(secondResult).toMatchObject({ outcome: 'skipped', reason: 'InProgress' });
    expect(mutatedBySecond).toEqual([]);
    expect(firstResult.outcome, firstResult.reason).toBe('committed');
  }, 60_000);
});

describe('retire', () => {
  it('deletes only unreferenced certificates, only after the grace period; a crash after the delete is finished by the next sweep', async () => {
    for (const name of ['retire-alone', 'retire-shared']) {
      const result = await rotatorFor().rotateApp(name, { trigger: 'cli' });
      expect(result.outcome, result.reason).toBe('committed');
    }
    const names = () => world.sb.control.certificates(SUB).map((c) => c.name);
    const w = watch(world.sb);
    const early = await rotatorFor().retireDue();
    expect(early.deleted).toEqual([]);
    expect(w.changes()).toEqual([]);

    clock.jump(8 * 24 * 3600 * 1000);
    const crash = crashingAt('afterRetireDelete');
    await expect(rotatorFor(crash.hook).retireDue()).rejects.toThrow('process stopped at afterRetireDelete');
    expect(names()).not.toContain('retire-alone-client-v0');
    const report = await rotatorFor().retireDue();
    expect(report.errors).toEqual([]);
    expect(report.deleted.map((d) => d.name)).not.toContain('retire-shared-client-v0');
    // retire-neighbour (not opted in) still loads the old certificate of retire-shared's webspace: it stays.
    expect(names()).toContain('retire-shared-client-v0');
    expect(world.sb.control.loadedThumbprints({ ...appRef('retire-shared'), site: 'retire-neighbour' })).toEqual([world.sb.control.thumbprint(`${VAULT}/retire-shared-client/0`)]);
    // The certificates the rotated apps load now stay too.
    for (const name of ['retire-alone', 'retire-shared']) {
      expect(world.sb.control.certificates(SUB).map((c) => c.thumbprint)).toContain(world.sb.control.thumbprint(`${VAULT}/${name}-client/latest`));
    }
    // The sweep after the crash finished the record the crash left without its retiredAt.
    const store = makeDeps(world.sb, world.config, { clock }).store;
    const [alone] = (await store.listAll()).filter((r) => r.app.site === 'retire-alone');
    expect(alone?.retiredAt).toBeDefined();
  }, 60_000);
});
