import { beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, PreconditionError, TransientError } from '../../src/core/errors.js';
import { CandidateReads } from '../../src/core/rotation/context.js';
import { LAST_SCAN_STATE } from '../../src/core/rotator.js';
import { assertNoSecrets, CertificatePool, DOWNSTREAM, HEALTH, standardWorld, SUB, type Standard } from '../helpers/memory-ports.js';

const pool = new CertificatePool();
beforeAll(() => {
  pool.get('old');
  pool.get('new');
});

describe('createRotator', () => {
  it('resolves apps by resource id, name and site/slot, with clear errors otherwise', async () => {
    const s = standardWorld(pool);
    s.world.appService.addSite({ subscriptionId: SUB, name: 'app-a', slot: 'staging', settings: {} });
    const { rotator } = s.world;
    expect(await rotator.resolveApp('APP-A')).toEqual({ subscriptionId: SUB, resourceGroup: 'rg-apps', site: 'app-a' });
    expect(await rotator.resolveApp('app-a/staging')).toEqual({ subscriptionId: SUB, resourceGroup: 'rg-apps', site: 'app-a', slot: 'staging' });
    expect(await rotator.resolveApp(s.site.id)).toEqual(s.site.ref);
    await expect(rotator.resolveApp('nope')).rejects.toThrow(new NotFoundError(`no app named 'nope' in subscription(s) ${SUB}`));
    await expect(rotator.resolveApp('/subscriptions/x/resourceGroups/y')).rejects.toThrow(/is not an App Service site or slot resource id/);
    await expect(rotator.rotateApp(`/subscriptions/${SUB}/resourceGroups/rg-apps/providers/Microsoft.Web/sites/ghost`, { trigger: 'cli' }))
      .rejects.toThrow(/app ghost .* does not exist/);
    expect(s.world.appService.writes()).toEqual([]);
  });

  it('scan emits ScanCompleted, days remaining per binding and the alerts, and stores a summary', async () => {
    const s = standardWorld(pool);
    s.world.appService.addSite({
      subscriptionId: SUB,
      name: 'dangling',
      tags: { 'mtls-rotation': 'enabled' },
      settings: { WEBSITE_LOAD_CERTIFICATES: 'E'.repeat(40) },
    });
    const report = await s.world.rotator.scan();
    expect(report.plan).toMatchObject({ dueApps: 1, dueBindings: 1 });
    const completed = s.world.telemetry.named('ScanCompleted');
    expect(completed).toHaveLength(1);
    expect(completed[0]?.measurements).toMatchObject({ subscriptions: 1, appsScanned: 2, bindings: 2, due: 1, dangling: 1 });
    expect(s.world.telemetry.metrics).toEqual([
      expect.objectContaining({ name: 'CertificateDaysRemaining', value: 20, dimensions: expect.objectContaining({ appId: s.appId, thumbprint: s.old.thumbprint }) }),
    ]);
    // 20 days left but a newer version is ready: the rotation handles it, no expiry alert.
    expect(s.world.telemetry.named('CertificateExpiring')).toEqual([]);
    expect(s.world.telemetry.named('DanglingThumbprint')).toHaveLength(1);
    expect(JSON.parse((await s.world.store.getState(LAST_SCAN_STATE))!)).toMatchObject({ apps: 2, dueApps: 1 });
  });

  it.each([
    ['Key Vault has nothing newer', (): void => undefined, 'RenewalMissing', undefined],
    ['the newer version is disabled',
      (s: Standard): void => {
        s.world.keyVault.add({ vaultUrl: 'https://kv1.vault.azure.net', name: 'client' }, pool.get('newer'), { enabled: false });
      },
      'CertificateExpiring', 'Disabled'],
  ] as Array<[string, (s: Standard) => void, 'RenewalMissing' | 'CertificateExpiring', string | undefined]>)('scan alerts when a certificate nears expiry and %s', async (_sentence, arrange, event, refusal) => {
    const s = standardWorld(pool, event === 'RenewalMissing' ? { fresh: pool.get('old') } : {});
    arrange(s);
    const report = await s.world.rotator.scan();
    expect(report.plan.apps[0]?.action).toBe('alert');
    expect(s.world.telemetry.named(event)).toEqual([
      expect.objectContaining({ dimensions: expect.objectContaining({ appId: s.appId, thumbprint: s.old.thumbprint, daysRemaining: 20, refusal }) }),
    ]);
  });

  it('inventory lists every binding with its days left and source', async () => {
    const s = standardWorld(pool);
    const inventory = await s.world.rotator.inventory();
    expect(inventory).toEqual([
      expect.objectContaining({
        appId: s.appId,
        name: 'app-a',
        mode: 'explicit',
        thumbprint: s.old.thumbprint,
        certificateName: 'client-old',
        source: 'https://kv1.vault.azure.net/certificates/client',
        sourceOrigin: 'linked',
        latestThumbprint: s.fresh.thumbprint,
        daysRemaining: 20,
        reason: 'NewerVersionAvailable',
        due: true,
        dangling: false,
      }),
    ]);
  });

  it('plan filters by app and by due, and makes no write', async () => {
    const s = standardWorld(pool);
    s.world.appService.addSite({ subscriptionId: SUB, name: 'quiet', tags: { 'mtls-rotation': 'enabled' }, settings: { WEBSITE_LOAD_CERTIFICATES: s.fresh.thumbprint } });
    s.world.appService.addCertificate({ subscriptionId: SUB, name: 'fresh-manual', certificate: s.fresh, tags: { 'mtls-rotation-source': 'https://kv1.vault.azure.net/certificates/client' } });
    expect((await s.world.rotator.plan()).apps.map((a) => [a.name, a.action]).sort()).toEqual([['app-a', 'rotate'], ['quiet', 'none']]);
    expect((await s.world.rotator.plan({ dueOnly: true })).apps.map((a) => a.name)).toEqual(['app-a']);
    expect((await s.world.rotator.plan({ app: 'quiet' })).apps.map((a) => a.name)).toEqual(['quiet']);
    expect(s.world.appService.writes()).toEqual([]);
  });

  it('rotateDue keeps at most MAX_PARALLEL_ROTATIONS rotations in flight', async () => {
    const s = standardWorld(pool, { config: { MAX_PARALLEL_ROTATIONS: '2' } });
    for (const name of ['b', 'c', 'd', 'e']) {
      s.world.appService.addSite({
        subscriptionId: SUB,
        name,
        tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-health': HEALTH, 'mtls-rotation-probe': DOWNSTREAM },
        settings: { WEBSITE_LOAD_CERTIFICATES: s.old.thumbprint },
      });
    }
    let inFlight = 0;
    let peak = 0;
    const acquire = s.world.store.acquireLease.bind(s.world.store);
    const release = s.world.store.releaseLease.bind(s.world.store);
    s.world.store.acquireLease = async (...args) => {
      const lease = await acquire(...args);
      if (lease) peak = Math.max(peak, ++inFlight);
      return lease;
    };
    s.world.store.releaseLease = async (lease) => {
      inFlight -= 1;
      return release(lease);
    };
    const report = await s.world.rotator.rotateDue({ trigger: 'timer' });
    expect(report.results.map((r) => r.outcome)).toEqual(['committed', 'committed', 'committed', 'committed', 'committed']);
    expect(peak).toBe(2);
    // Every app of the webspace ends on one resource (parallel stagers PUT the same name and content).
    expect(s.world.appService.certificatesIn(SUB).filter((c) => c.thumbprint === s.fresh.thumbprint)).toHaveLength(1);
    assertNoSecrets(s.world);
  });

  it('rolls back a committed rotation by hand with a new record, and refuses nonsense', async () => {
    const s = standardWorld(pool);
    const committed = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    const rollback = await s.world.rotator.rollback(committed.rotationId!);
    expect(rollback).toMatchObject({ outcome: 'rolledBack', reason: 'ManualRollback', record: { rollbackOf: committed.rotationId, trigger: 'cli' } });
    expect(s.world.appService.settings.get(s.appId)).toEqual(s.original);
    expect(s.world.appService.running.get(s.appId)?.presented).toBe(s.old.thumbprint);
    // Asking twice returns the same rollback.
    expect((await s.world.rotator.rollback(committed.rotationId!)).rotationId).toBe(rollback.rotationId);
    await expect(s.world.rotator.rollback(rollback.rotationId!)).rejects.toThrow(PreconditionError);
    await expect(s.world.rotator.rollback('missing')).rejects.toThrow('rotation missing does not exist');
    expect((await s.world.rotator.listRotations('app-a')).map((r) => r.id)).toEqual([rollback.rotationId, committed.rotationId]);
    expect(await s.world.rotator.getRotation(committed.rotationId!)).toEqual(committed.record);
  });

  it('rolls back an in-flight rotation in place', async () => {
    const s = standardWorld(pool, {
      deps: {
        faultHook: (b) => {
          if (b === 'afterSwitchRecorded') throw new Error('killed');
        },
      },
    });
    await expect(s.world.rotator.rotateApp('app-a', { trigger: 'cli' })).rejects.toThrow('killed');
    const [open] = s.world.store.all();
    s.world.clock.advance(s.world.config.leaseSeconds * 1000 + 1);
    const result = await s.world.another('operator', { faultHook: undefined }).rollback(open!.id, { reason: 'operator says no' });
    expect(result).toMatchObject({ outcome: 'rolledBack', reason: 'operator says no', rotationId: open!.id });
    expect(s.world.appService.settings.get(s.appId)).toEqual(s.original);
  });

  const opsCli = { via: 'clientCertificate', subject: 'CN=ops-cli,O=Contoso', issuer: 'CN=Contoso Issuing CA,O=Contoso', thumbprint: 'A1'.repeat(20) } as const;
  const onCall = { via: 'clientCertificate', subject: 'CN=on-call,O=Contoso', issuer: 'CN=Contoso Issuing CA,O=Contoso', thumbprint: 'B2'.repeat(20) } as const;

  it('keeps the API caller of a run and of a rollback in their records and in their telemetry', async () => {
    const s = standardWorld(pool);
    const committed = await s.world.rotator.rotateApp('app-a', { trigger: 'http', force: true, requestedBy: opsCli });
    expect(committed.outcome).toBe('committed');
    expect((await s.world.store.get(committed.rotationId!))?.requestedBy).toEqual(opsCli);
    const rollback = await s.world.rotator.rollback(committed.rotationId!, { trigger: 'http', requestedBy: onCall });
    expect((await s.world.store.get(rollback.rotationId!))).toMatchObject({ rollbackOf: committed.rotationId, requestedBy: onCall });
    const callers = (name: 'RotationStarted' | 'RotationCommitted' | 'RotationRolledBack') =>
      s.world.telemetry.named(name).map((e) => [e.dimensions?.rotationId, e.dimensions?.requestedBy, e.dimensions?.requestedBySubject, e.dimensions?.requestedByThumbprint]);
    expect(callers('RotationStarted')).toEqual([
      [committed.rotationId, 'clientCertificate', opsCli.subject, opsCli.thumbprint],
      [rollback.rotationId, 'clientCertificate', onCall.subject, onCall.thumbprint],
    ]);
    expect(callers('RotationCommitted')).toEqual([[committed.rotationId, 'clientCertificate', opsCli.subject, opsCli.thumbprint]]);
    expect(callers('RotationRolledBack')).toEqual([[rollback.rotationId, 'clientCertificate', onCall.subject, onCall.thumbprint]]);
  });

  it('keeps who rolled an in-flight rotation back beside who started it', async () => {
    const s = standardWorld(pool, { deps: { faultHook: (b) => { if (b === 'afterSwitchRecorded') throw new Error('killed'); } } });
    await expect(s.world.rotator.rotateApp('app-a', { trigger: 'http', requestedBy: opsCli })).rejects.toThrow('killed');
    const [open] = s.world.store.all();
    s.world.clock.advance(s.world.config.leaseSeconds * 1000 + 1);
    await s.world.another('operator', { faultHook: undefined }).rollback(open!.id, { trigger: 'http', reason: 'stop', requestedBy: onCall });
    expect(await s.world.store.get(open!.id)).toMatchObject({ outcome: 'rolledBack', requestedBy: opsCli, rollbackRequestedBy: onCall });
    expect(s.world.telemetry.named('RotationRolledBack')[0]?.dimensions).toMatchObject({ requestedBySubject: opsCli.subject, rollbackRequestedBySubject: onCall.subject });
  });

  it('scheduled work has no caller', async () => {
    const s = standardWorld(pool);
    const committed = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect((await s.world.store.get(committed.rotationId!))?.requestedBy).toBeUndefined();
    expect(s.world.telemetry.named('RotationCommitted')[0]?.dimensions).not.toHaveProperty('requestedBy');
  });

  it('an app with bad tags is reported and never changed', async () => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation-probe': 'http://insecure.example/' } });
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'AppProblems', problems: ["tag mtls-rotation-probe: 'http://insecure.example/' must use https"] });
    expect(s.world.appService.writes()).toEqual([]);
    expect(s.world.appService.count('readAppSettings')).toBe(0);
  });
});

describe('a renewal that cannot be looked up', () => {
  it('is alerted as RenewalMissing that names why, not as "Key Vault has no newer version"', async () => {
    const s = standardWorld(pool, { fresh: pool.get('old') });
    const forbidden = Object.assign(new Error('Caller is not authorized to perform action on resource'), { statusCode: 403, code: 'Forbidden' });
    s.world.keyVault.latestErrors.set('https://kv1.vault.azure.net/certificates/client', forbidden);
    const report = await s.world.rotator.scan();
    const binding = report.plan.apps[0]?.bindings[0];
    expect(binding).toMatchObject({ reason: 'RenewalMissing', due: false });
    expect(binding?.message).toMatch(/expires on .*, and no renewal can be looked up: .*not authorized/);
    const [event] = s.world.telemetry.named('RenewalMissing');
    expect(event?.dimensions).toMatchObject({ reason: 'RenewalMissing', problem: expect.stringMatching(/not authorized/) });
  });
});

describe('a batch of rotations (rotateDue)', () => {
  /** Three apps of one webspace that load the same certificate, from the same Key Vault source. */
  function threeAppsOnOneCertificate(config: Record<string, string> = {}): Standard {
    const s = standardWorld(pool, { config });
    for (const name of ['app-b', 'app-c']) {
      s.world.appService.addSite({ subscriptionId: SUB, name, tags: s.site.tags, settings: { ...s.original } });
    }
    return s;
  }
  const secretReads = (s: Standard) => s.world.keyVault.log.filter((e) => e.op === 'getSecret').length;

  it('reads and checks a Key Vault version its apps share once, and rotates every app', async () => {
    const s = threeAppsOnOneCertificate();
    const report = await s.world.rotator.rotateDue({ trigger: 'timer' });
    expect(report.results.map((r) => [r.name, r.outcome])).toEqual([
      ['app-a', 'committed'],
      ['app-b', 'committed'],
      ['app-c', 'committed'],
    ]);
    expect(secretReads(s)).toBe(1);
    for (const result of report.results) expect(s.world.appService.loadable(result.appId)).toEqual([s.fresh.thumbprint]);
    assertNoSecrets(s.world);
  });

  it('does not keep what it read past the batch: the next batch and single rotations read again', async () => {
    const s = threeAppsOnOneCertificate();
    await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    await s.world.rotator.rotateApp('app-b', { trigger: 'cli' });
    expect(secretReads(s)).toBe(2);
  });

  it('keeps the lease without a write per step while most of its term is left, and renews it past half', async () => {
    // Warm-up 10 s of a 900 s lease: the lease taken at the start is never renewed.
    const short = standardWorld(pool, { config: { PROBE_WARMUP_SECONDS: '10', LEASE_SECONDS: '900' } });
    expect((await short.world.rotator.rotateApp('app-a', { trigger: 'cli' })).outcome).toBe('committed');
    expect(short.world.store.writes.filter((w) => w.op === 'lease')).toHaveLength(1);
    // Warm-up 400 s of a 600 s lease: after the warm-up less than half is left, so it is renewed before the probes.
    const long = standardWorld(pool, { config: { PROBE_WARMUP_SECONDS: '400', LEASE_SECONDS: '600' } });
    expect((await long.world.rotator.rotateApp('app-a', { trigger: 'cli' })).outcome).toBe('committed');
    expect(long.world.store.writes.filter((w) => w.op === 'lease')).toHaveLength(2);
  });

  it('stops before its next side effect when the lease ran out and another owner took it', async () => {
    const s = standardWorld(pool, { config: { PROBE_WARMUP_SECONDS: '400', LEASE_SECONDS: '300' } });
    // During the warm-up the lease (300 s) runs out; another instance takes the app over meanwhile.
    const sleep = s.world.clock.sleep.bind(s.world.clock);
    s.world.clock.sleep = async (ms: number) => {
      await sleep(ms);
      if (ms === 400_000) expect(await s.world.store.acquireLease(s.appId, 'thief', 300_000)).toBeDefined();
    };
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('interrupted');
    expect(result.error).toMatch(/lease on .* was lost/);
  });
});

describe('CandidateReads', () => {
  it('shares one read among concurrent callers and forgets a failed one', async () => {
    const reads = new CandidateReads();
    let loads = 0;
    const refusal = { refusal: 'Disabled' as const, message: 'disabled' };
    const load = async () => {
      loads += 1;
      if (loads === 1) throw new TransientError('Key Vault answered 503');
      return refusal;
    };
    await expect(reads.get('v1', load)).rejects.toThrow(TransientError);
    const [a, b] = await Promise.all([reads.get('v1', load), reads.get('v1', load)]);
    expect(a).toBe(refusal);
    expect(b).toBe(refusal);
    expect(loads).toBe(2);
  });
});
