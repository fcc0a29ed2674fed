import { beforeAll, describe, expect, it } from 'vitest';
import { CRASH_BOUNDARIES, type CrashBoundary } from '../../src/core/boundaries.js';
import { CertificatePool, standardWorld, type Standard } from '../helpers/memory-ports.js';

const pool = new CertificatePool();
beforeAll(() => {
  pool.get('old');
  pool.get('new');
});

class Crash extends Error {}

/** A world whose rotation dies at `boundary` (first time it is reached). */
function crashingWorld(boundary: CrashBoundary, verification: 'passes' | 'fails'): Standard {
  let crashed = false;
  const s = standardWorld(pool, {
    deps: {
      faultHook: (reached) => {
        if (!crashed && reached === boundary) {
          crashed = true;
          throw new Crash(`killed at ${reached}`);
        }
      },
    },
  });
  let viaAppCalls = 0;
  s.world.prober.override = (call) => {
    if (call.kind !== 'via-app') return undefined;
    viaAppCalls += 1;
    // The first verification probe fails transiently either way, so midVerify is reached.
    if (viaAppCalls === 1) return { ok: false, transient: true, status: 503, detail: 'warming up' };
    if (verification === 'fails' && call.thumbprint === s.fresh.thumbprint) return { ok: false, status: 502, detail: 'rejected' };
    return undefined;
  };
  return s;
}

const committedPath: CrashBoundary[] = [
  'afterLease', 'beforeUpload', 'afterUpload', 'afterStage', 'afterPreflight', 'afterPreviousRecorded',
  'afterSwitch', 'afterSwitchRecorded', 'afterRestart', 'midVerify', 'beforeCommit', 'afterCommit',
];
const rollbackPath: CrashBoundary[] = ['afterSwitch', 'midVerify', 'afterRollbackStarted', 'afterRollbackWrite', 'afterRollbackRestart'];

describe('a crash at any boundary, then resumeOpen()', () => {
  it('the tables cover every rotation boundary (retirement has its own test)', () => {
    expect(new Set([...committedPath, ...rollbackPath, 'afterRetireDelete'])).toEqual(new Set(CRASH_BOUNDARIES));
  });

  it.each(committedPath.map((b) => [b]))('crashing at %s ends committed, never without a loaded certificate', async (boundary) => {
    const s = crashingWorld(boundary, 'passes');
    const { world } = s;
    await expect(world.rotator.rotateApp('app-a', { trigger: 'timer' })).rejects.toThrow(Crash);
    expect(world.appService.loadable(s.appId).length).toBeGreaterThan(0);

    // Another instance takes over once the dead one's lease has expired.
    world.clock.advance(world.config.leaseSeconds * 1000 + 1);
    const report = await world.another('rotator-b', { faultHook: undefined }).resumeOpen();
    const records = world.store.all();
    expect(records).toHaveLength(1);
    expect(records[0]?.outcome).toBe('committed');
    if (boundary !== 'afterCommit') expect(report.resumed.map((r) => r.outcome)).toEqual(['committed']);
    expect(world.appService.settings.get(s.appId)?.WEBSITE_LOAD_CERTIFICATES).toBe(` ${s.fresh.thumbprint} `);
    expect(world.appService.running.get(s.appId)?.presented).toBe(s.fresh.thumbprint);
    expect(world.appService.violations).toEqual([]);
    // The new certificate was uploaded once, whatever the crash point.
    expect(world.appService.certificatesIn(s.site.ref.subscriptionId).filter((c) => c.thumbprint === s.fresh.thumbprint)).toHaveLength(1);
    // Released, or (crash after the commit) left to expire: never held beyond its expiry.
    const lease = world.store.leaseOf(s.appId);
    if (lease) expect(Date.parse(lease.expiresAt)).toBeLessThanOrEqual(world.clock.now().getTime());
  });

  it.each(rollbackPath.map((b) => [b]))('crashing at %s of a failing rotation ends rolled back', async (boundary) => {
    const s = crashingWorld(boundary, 'fails');
    const { world } = s;
    await expect(world.rotator.rotateApp('app-a', { trigger: 'timer' })).rejects.toThrow(Crash);
    expect(world.appService.loadable(s.appId).length).toBeGreaterThan(0);
    world.clock.advance(world.config.leaseSeconds * 1000 + 1);
    await world.another('rotator-b', { faultHook: undefined }).resumeOpen();
    const records = world.store.all();
    expect(records.map((r) => r.outcome)).toEqual(['rolledBack']);
    expect(world.appService.settings.get(s.appId)).toEqual(s.original);
    expect(world.appService.running.get(s.appId)?.presented).toBe(s.old.thumbprint);
    expect(world.appService.violations).toEqual([]);
  });

  it('a lease still held by a live instance is respected: resume waits', async () => {
    const s = crashingWorld('afterSwitch', 'passes');
    await expect(s.world.rotator.rotateApp('app-a', { trigger: 'timer' })).rejects.toThrow(Crash);
    const report = await s.world.another('rotator-b', { faultHook: undefined }).resumeOpen();
    expect(report.resumed.map((r) => [r.outcome, r.reason])).toEqual([['skipped', 'InProgress']]);
    expect(s.world.store.all()[0]?.outcome).toBeUndefined();
  });

  it('rotateApp on an app with an interrupted rotation finishes that one instead of starting another', async () => {
    const s = crashingWorld('afterPreviousRecorded', 'passes');
    await expect(s.world.rotator.rotateApp('app-a', { trigger: 'timer' })).rejects.toThrow(Crash);
    s.world.clock.advance(s.world.config.leaseSeconds * 1000 + 1);
    const result = await s.world.another('rotator-b', { faultHook: undefined }).rotateApp('app-a', { trigger: 'http' });
    expect(result.outcome).toBe('committed');
    expect(s.world.store.all()).toHaveLength(1);
    expect(result.record?.attempts).toBe(2);
  });
});

describe('transient faults', () => {
  it('an ARM error mid-rotation leaves the record open; the next run finishes it', async () => {
    const s = standardWorld(pool);
    s.world.appService.failNext.set('restart', [Object.assign(new Error('Service Unavailable'), { statusCode: 503 })]);
    const first = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(first).toMatchObject({ outcome: 'interrupted', error: expect.stringContaining('Service Unavailable') });
    expect(first.record?.step).toBe('switched');
    expect(s.world.store.leaseOf(s.appId)).toBeUndefined();
    const report = await s.world.rotator.resumeOpen();
    expect(report.resumed.map((r) => r.outcome)).toEqual(['committed']);
  });

  it('a fault that is not transient after the switch rolls back at once', async () => {
    const s = standardWorld(pool);
    s.world.appService.failNext.set('restart', [Object.assign(new Error('Conflict: site is stopped'), { statusCode: 400 })]);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(result.outcome).toBe('rolledBack');
    expect(result.reason).toMatch(/^Precondition: .*site is stopped/);
    expect(s.world.appService.settings.get(s.appId)).toEqual(s.original);
  });

  it('a rotation that keeps being interrupted stops after MAX_ATTEMPTS and rolls back', async () => {
    const s = standardWorld(pool);
    const unavailable = () => Object.assign(new Error('Service Unavailable'), { statusCode: 503 });
    s.world.appService.failNext.set('restart', Array.from({ length: 5 }, unavailable));
    expect((await s.world.rotator.rotateApp('app-a', { trigger: 'timer' })).outcome).toBe('interrupted');
    const outcomes: string[] = [];
    for (let run = 0; run < 6; run++) {
      const report = await s.world.rotator.resumeOpen();
      outcomes.push(...report.resumed.map((r) => r.outcome));
      if (s.world.store.all()[0]?.outcome) break;
    }
    expect(outcomes).toEqual(['interrupted', 'interrupted', 'interrupted', 'interrupted', 'rolledBack']);
    expect(s.world.store.all()[0]?.reason).toMatch(/^TooManyAttempts/);
    expect(s.world.appService.settings.get(s.appId)).toEqual(s.original);
  });
});

describe('the verification window', () => {
  it('a committed rotation that starts failing inside its window is rolled back with a new record', async () => {
    const s = standardWorld(pool);
    const committed = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    s.world.clock.advance(10 * 60_000);
    expect((await s.world.rotator.resumeOpen()).reverified.map((r) => r.status)).toEqual(['ok']);
    s.world.prober.override = (call) => (call.kind === 'via-app' && call.thumbprint === s.fresh.thumbprint ? { ok: false, status: 502, detail: 'rejected' } : undefined);
    const report = await s.world.rotator.resumeOpen();
    expect(report.reverified.map((r) => r.status)).toEqual(['rolledBack']);
    const rollback = report.reverified[0]?.rollback?.record;
    expect(rollback).toMatchObject({ rollbackOf: committed.rotationId, outcome: 'rolledBack', trigger: 'probe' });
    expect(rollback?.reason).toMatch(/^VerificationWindowFailed/);
    expect(s.world.appService.settings.get(s.appId)).toEqual(s.original);
    // The committed record itself is never rewritten.
    expect(await s.world.store.get(committed.rotationId!)).toEqual(committed.record);
    // Once rolled back it is not re-verified again.
    expect((await s.world.rotator.resumeOpen()).reverified.map((r) => r.status)).toEqual(['skipped']);
  });

  it('after the window nothing is probed', async () => {
    const s = standardWorld(pool);
    await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    s.world.clock.advance(61 * 60_000);
    const calls = s.world.prober.calls.length;
    expect((await s.world.rotator.resumeOpen()).reverified).toEqual([]);
    expect(s.world.prober.calls).toHaveLength(calls);
  });
});
