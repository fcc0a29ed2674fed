import { beforeAll, describe, expect, it } from 'vitest';
import { appIdOf } from '../../src/core/identity.js';
import { CertificatePool, DAY, standardWorld, SUB, type Standard } from '../helpers/memory-ports.js';

const pool = new CertificatePool();
beforeAll(() => {
  for (const name of ['old', 'new', 'newUntrusted'] as const) pool.get(name);
});

const names = (s: Standard) => s.world.appService.certificatesIn(SUB).map((c) => c.name).sort();

async function committed(s: Standard) {
  const result = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
  expect(result.outcome).toBe('committed');
  return result;
}

describe('retirement', () => {
  it('deletes the old certificate after the grace period when nothing loads it', async () => {
    const s = standardWorld(pool);
    const { rotationId } = await committed(s);
    const staged = `client-${s.fresh.thumbprint.slice(0, 8).toLowerCase()}`;

    s.world.clock.advance(6 * DAY);
    expect((await s.world.rotator.retireDue()).deleted).toEqual([]);
    expect(names(s)).toEqual([staged, 'client-old'].sort());

    s.world.clock.advance(1 * DAY);
    const report = await s.world.rotator.retireDue();
    expect(report.deleted.map((d) => [d.name, d.thumbprint])).toEqual([['client-old', s.old.thumbprint]]);
    expect(names(s)).toEqual([staged]);
    expect((await s.world.store.get(rotationId!))?.retiredAt).toBe(s.world.clock.now().toISOString());
    expect(s.world.telemetry.named('CertificateRetired')[0]?.dimensions).toMatchObject({ rotationId, thumbprint: s.old.thumbprint });
    // Done once: the next run has nothing to do.
    expect(await s.world.rotator.retireDue()).toEqual({ deleted: [], kept: [], recordsRetired: [], errors: [] });
  });

  it('a committed rotation whose old certificate was retired cannot be rolled back onto nothing', async () => {
    const s = standardWorld(pool);
    const { rotationId } = await committed(s);
    s.world.clock.advance(8 * DAY);
    await s.world.rotator.retireDue();
    const rollback = await s.world.rotator.rollback(rotationId!);
    expect(rollback.outcome).toBe('failed');
    expect(rollback.reason).toMatch(/^RollbackBlocked/);
    expect(s.world.appService.loadable(s.appId)).toEqual([s.fresh.thumbprint]);
    expect(s.world.appService.count('writeAppSettings')).toBe(1);
  });

  it('keeps a certificate another app of the webspace still loads, even one that is not opted in', async () => {
    const s = standardWorld(pool);
    s.world.appService.addSite({ subscriptionId: SUB, name: 'legacy', settings: { WEBSITE_LOAD_CERTIFICATES: s.old.thumbprint } });
    const { rotationId } = await committed(s);
    s.world.clock.advance(8 * DAY);
    const report = await s.world.rotator.retireDue();
    expect(report.deleted).toEqual([]);
    expect(report.kept).toEqual([expect.objectContaining({ name: 'client-old', reason: 'loaded by legacy', final: true })]);
    expect(report.recordsRetired).toEqual([rotationId]);
    expect(names(s)).toContain('client-old');
  });

  it('keeps a certificate loaded by a slot of another site', async () => {
    const s = standardWorld(pool);
    s.world.appService.addSite({ subscriptionId: SUB, name: 'other', settings: {} });
    s.world.appService.addSite({ subscriptionId: SUB, name: 'other', slot: 'blue', settings: { WEBSITE_LOAD_CERTIFICATES: s.old.thumbprint } });
    await committed(s);
    s.world.clock.advance(8 * DAY);
    expect((await s.world.rotator.retireDue()).kept[0]?.reason).toBe('loaded by other/blue');
  });

  it('deletes nothing while some app of the webspace cannot be read, and tries again later', async () => {
    const s = standardWorld(pool);
    const other = s.world.appService.addSite({ subscriptionId: SUB, name: 'locked', settings: {} });
    const { rotationId } = await committed(s);
    s.world.clock.advance(8 * DAY);
    s.world.appService.beforeOp = (op, target) => {
      if (op === 'readAppSettings' && target === appIdOf(other.ref)) throw Object.assign(new Error('Forbidden'), { statusCode: 403 });
    };
    const blocked = await s.world.rotator.retireDue();
    expect(blocked.deleted).toEqual([]);
    expect(blocked.kept[0]).toMatchObject({ final: false, reason: expect.stringContaining('locked') });
    expect((await s.world.store.get(rotationId!))?.retiredAt).toBeUndefined();

    s.world.appService.beforeOp = undefined;
    expect((await s.world.rotator.retireDue()).deleted.map((d) => d.name)).toEqual(['client-old']);
  });

  it('a * app not yet verified on a newer version counts as loading the old one', async () => {
    const s = standardWorld(pool);
    s.world.appService.addSite({ subscriptionId: SUB, name: 'wild', settings: { WEBSITE_LOAD_CERTIFICATES: '*' } });
    await committed(s);
    s.world.clock.advance(8 * DAY);
    const report = await s.world.rotator.retireDue();
    expect(report.deleted).toEqual([]);
    expect(report.kept[0]?.reason).toBe('wild loads * and has not been verified on a newer version of this source');
  });

  it('a * app verified on the new version lets its old one go', async () => {
    const s = standardWorld(pool, { mode: 'wildcard' });
    await committed(s);
    s.world.clock.advance(8 * DAY);
    const report = await s.world.rotator.retireDue();
    expect(report.deleted.map((d) => d.name)).toEqual(['client-old']);
    expect(s.world.appService.loadable(s.appId)).toEqual([s.fresh.thumbprint]);
  });

  it('removes the certificate an aborted rotation uploaded, once the grace period is over', async () => {
    const s = standardWorld(pool, { fresh: pool.get('newUntrusted') });
    const aborted = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(aborted.outcome).toBe('aborted');
    expect(names(s)).toHaveLength(2);
    s.world.clock.advance(8 * DAY);
    const report = await s.world.rotator.retireDue();
    expect(report.deleted.map((d) => d.thumbprint)).toEqual([s.fresh.thumbprint]);
    expect(names(s)).toEqual(['client-old']);
  });

  it('keeps a certificate a rotation in progress uses', async () => {
    const s = standardWorld(pool, { fresh: pool.get('newUntrusted') });
    await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    s.world.clock.advance(8 * DAY);
    // A new rotation of the same candidate is mid-way (crashed after staging, say).
    s.world.prober.addDownstream('https://partner.example/api/ping', ['Partner CA', 'Rogue CA']);
    let crash = true;
    const crashing = s.world.another('rotator-a', {
      faultHook: (b) => {
        if (crash && b === 'afterStage') {
          crash = false;
          throw new Error('killed');
        }
      },
    });
    await expect(crashing.rotateApp('app-a', { trigger: 'timer' })).rejects.toThrow('killed');
    const report = await s.world.rotator.retireDue();
    expect(report.deleted).toEqual([]);
    expect(report.kept[0]).toMatchObject({ final: false, reason: expect.stringMatching(/^used by rotation\(s\) in progress/) });
  });

  it('a crash right after a deletion is finished by the next run', async () => {
    const s = standardWorld(pool);
    const { rotationId } = await committed(s);
    s.world.clock.advance(8 * DAY);
    const crashing = s.world.another('rotator-a', {
      faultHook: (b) => {
        if (b === 'afterRetireDelete') throw new Error('killed');
      },
    });
    await expect(crashing.retireDue()).rejects.toThrow('killed');
    expect(names(s)).not.toContain('client-old');
    expect((await s.world.store.get(rotationId!))?.retiredAt).toBeUndefined();
    const report = await s.world.rotator.resumeOpen();
    expect(report.retired).toMatchObject({ deleted: [], recordsRetired: [rotationId] });
    expect(s.world.appService.count('deleteCertificate')).toBe(1);
  });
});
