import { beforeAll, describe, expect, it } from 'vitest';
import { appIdOf } from '../../src/core/identity.js';
import {
  assertNoSecrets,
  CertificatePool,
  DOWNSTREAM,
  HEALTH,
  KV_REFERENCE,
  standardWorld,
  SUB,
  VAULT_URL,
} from '../helpers/memory-ports.js';
import { tripleDesPfxWithKeyIterations } from '../security/hostile.js';

const pool = new CertificatePool();
beforeAll(() => {
  for (const name of ['old', 'new', 'newUntrusted', 'old2', 'new2'] as const) pool.get(name);
});

const appWrites = (s: ReturnType<typeof standardWorld>) =>
  s.world.appService.writes().filter((w) => w.op === 'writeAppSettings' || w.op === 'restart').map((w) => w.op);

describe('rotating one app', () => {
  it('happy path: stages the new version, switches only the rotated settings, restarts once and commits', async () => {
    const s = standardWorld(pool);
    const { world, old, fresh } = s;
    const result = await world.rotator.rotateApp('app-a', { trigger: 'cli' });

    expect(result).toMatchObject({ outcome: 'committed', appId: s.appId, name: 'app-a' });
    const settings = world.appService.settings.get(s.appId)!;
    expect(settings).toEqual({
      ...s.original,
      WEBSITE_LOAD_CERTIFICATES: ` ${fresh.thumbprint} `,
      CLIENT_CERT_THUMBPRINT: fresh.thumbprint,
    });
    expect(settings.DB_PASSWORD).toBe(KV_REFERENCE);

    const staged = world.appService.certificatesIn(SUB).find((c) => c.thumbprint === fresh.thumbprint)!;
    expect(staged).toMatchObject({
      name: `client-${fresh.thumbprint.slice(0, 8).toLowerCase()}`,
      resourceGroup: 'rg-apps',
      location: 'West Europe',
      webspace: s.site.webspace,
      tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/client`, 'mtls-rotation-version': expect.any(String), 'mtls-rotation-managed': 'true' },
    });
    expect(world.appService.writes().map((w) => w.op)).toEqual(['uploadCertificate', 'writeAppSettings', 'restart']);
    expect(world.appService.running.get(s.appId)?.presented).toBe(fresh.thumbprint);

    const record = result.record!;
    expect(record.steps.map((x) => x.step)).toEqual(['leased', 'staged', 'preflighted', 'previousRecorded', 'switched', 'restarted', 'verified', 'committed']);
    expect(record.bindings).toEqual([
      expect.objectContaining({
        oldThumbprint: old.thumbprint,
        newThumbprint: fresh.thumbprint,
        reason: 'NewerVersionAvailable',
        certificateResourceName: staged.name,
        oldCertificateResourceName: 'client-old',
        uploaded: true,
        source: { kind: 'keyvault', uri: `${VAULT_URL}/certificates/client`, version: expect.any(String) },
      }),
    ]);
    expect(record.previousSettings).toEqual({ WEBSITE_LOAD_CERTIFICATES: s.original.WEBSITE_LOAD_CERTIFICATES, CLIENT_CERT_THUMBPRINT: old.thumbprint });
    expect(record.writtenSettings).toEqual({ WEBSITE_LOAD_CERTIFICATES: ` ${fresh.thumbprint} `, CLIENT_CERT_THUMBPRINT: fresh.thumbprint });
    expect(record.verifyUntil).toBe(new Date(world.clock.now().getTime() + 60 * 60_000).toISOString());
    expect(record.retireAfter).toBe(new Date(world.clock.now().getTime() + 7 * 86_400_000).toISOString());
    expect(record.probes.map((p) => [p.kind, p.ok])).toEqual([['direct', true], ['via-app', true], ['direct', true]]);
    expect(await world.store.get(record.id)).toEqual(record);
    expect(world.store.leaseOf(s.appId)).toBeUndefined();
    // Warm-up before the first verification probe.
    expect(world.clock.sleeps).toEqual([30_000]);

    expect(world.telemetry.events.map((e) => e.name)).toEqual(['RotationStarted', 'RotationCommitted']);
    expect(world.telemetry.named('RotationCommitted')[0]?.dimensions).toMatchObject({
      appId: s.appId,
      subscription: SUB,
      oldThumbprint: old.thumbprint,
      newThumbprint: fresh.thumbprint,
      keyVaultVersion: record.bindings[0]?.source.version,
      rotationId: record.id,
    });
    assertNoSecrets(world, [old.keyPem.slice(40, 100), fresh.keyPem.slice(40, 100)]);
  });

  it('preflight refused: a downstream that distrusts the new issuer aborts with no change to the app', async () => {
    const s = standardWorld(pool, { fresh: pool.get('newUntrusted') });
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('aborted');
    expect(result.reason).toMatch(/^PreflightFailed: direct https:\/\/partner\.example\/api\/ping: HTTP 403 client certificate not trusted/);
    expect(appWrites(s)).toEqual([]);
    expect(s.world.appService.settings.get(s.appId)).toEqual(s.original);
    expect(s.world.telemetry.named('ProbeFailed')).toHaveLength(1);
    expect(s.world.telemetry.named('RotationAborted')[0]?.dimensions.reason).toMatch(/^PreflightFailed/);
    // A refusal is definitive: not retried.
    expect(s.world.prober.calls.filter((c) => c.kind === 'direct')).toHaveLength(1);
    expect(result.record?.retireAfter).toBeDefined();
  });

  it('verification that keeps failing rolls back: previous values restored byte for byte, old certificate presented', async () => {
    const s = standardWorld(pool);
    const { world, old, fresh } = s;
    world.prober.override = (call) => (call.kind === 'via-app' && call.thumbprint === fresh.thumbprint ? { ok: false, status: 502, detail: 'handshake rejected' } : undefined);
    const result = await world.rotator.rotateApp('app-a', { trigger: 'cli' });

    expect(result.outcome).toBe('rolledBack');
    expect(result.reason).toMatch(/^VerificationFailed: via-app https:\/\/app-a\.azurewebsites\.net\/healthz\/outbound-mtls: HTTP 502 handshake rejected/);
    expect(world.appService.settings.get(s.appId)).toEqual(s.original);
    expect(world.appService.running.get(s.appId)?.presented).toBe(old.thumbprint);
    expect(appWrites(s)).toEqual(['writeAppSettings', 'restart', 'writeAppSettings', 'restart']);
    expect(result.record?.steps.map((x) => x.step)).toEqual([
      'leased', 'staged', 'preflighted', 'previousRecorded', 'switched', 'restarted', 'rollingBack', 'rollingBack', 'rolledBack',
    ]);
    // Three attempts with backoff 5 s then 10 s, after the warm-up; the rollback warms up again.
    expect(world.clock.sleeps).toEqual([30_000, 5_000, 10_000, 30_000]);
    expect(result.record?.probes.filter((p) => p.kind === 'via-app' && !p.ok)).toHaveLength(3);
    expect(world.telemetry.named('RotationRolledBack')).toHaveLength(1);
    expect(world.telemetry.named('ProbeFailed')).toHaveLength(1);
  });

  it('a transient probe failure is retried, not rolled back', async () => {
    const s = standardWorld(pool);
    let failures = 0;
    s.world.prober.override = (call) => (call.kind === 'via-app' && failures++ < 2 ? { ok: false, transient: true, status: 503, detail: 'restarting' } : undefined);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('committed');
    expect(result.record?.probes.filter((p) => p.kind === 'via-app').map((p) => p.ok)).toEqual([false, false, true]);
  });

  it('a retry asks again only the probes that failed: the partner that accepted the candidate is not probed again', async () => {
    const s = standardWorld(pool);
    let failures = 0;
    s.world.prober.override = (call) => (call.kind === 'via-app' && failures++ < 2 ? { ok: false, transient: true, status: 503, detail: 'restarting' } : undefined);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('committed');
    // Preflight probes the partner once; the verification probes it in its first attempt only, the app in all three.
    const verify = result.record!.probes.slice(1);
    expect(verify.map((p) => `${p.kind} ${p.ok}`)).toEqual(['via-app false', 'direct true', 'via-app false', 'via-app true']);
    expect(s.world.prober.calls.filter((c) => c.kind === 'direct')).toHaveLength(2);
  });

  it('a key the operator changed after the switch is left alone by the rollback and reported', async () => {
    const s = standardWorld(pool);
    const { world, fresh } = s;
    world.prober.override = (call) => {
      if (call.kind !== 'via-app' || call.thumbprint !== fresh.thumbprint) return undefined;
      world.appService.settings.get(s.appId)!.CLIENT_CERT_THUMBPRINT = 'operator-was-here';
      return { ok: false, status: 502, detail: 'handshake rejected' };
    };
    const result = await world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('rolledBack');
    expect(result.record?.conflicts).toEqual(['CLIENT_CERT_THUMBPRINT']);
    expect(world.appService.settings.get(s.appId)).toEqual({ ...s.original, CLIENT_CERT_THUMBPRINT: 'operator-was-here' });
    expect(world.telemetry.named('RotationConflict')[0]?.dimensions).toMatchObject({ keys: 'CLIENT_CERT_THUMBPRINT', rotationId: result.rotationId });
  });

  it('* mode: uploads the new version and restarts with no settings write; a rollback removes the upload', async () => {
    const ok = standardWorld(pool, { mode: 'wildcard' });
    const committed = await ok.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(committed.outcome).toBe('committed');
    expect(ok.world.appService.writes().map((w) => w.op)).toEqual(['uploadCertificate', 'restart']);
    expect(ok.world.appService.running.get(ok.appId)?.presented).toBe(ok.fresh.thumbprint);
    expect(committed.record?.bindings[0]).toMatchObject({ oldThumbprint: ok.old.thumbprint, newThumbprint: ok.fresh.thumbprint });

    const bad = standardWorld(pool, { mode: 'wildcard' });
    bad.world.prober.override = (call) => (call.kind === 'via-app' && call.thumbprint === bad.fresh.thumbprint ? { ok: false, detail: 'no' } : undefined);
    const rolledBack = await bad.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(rolledBack.outcome).toBe('rolledBack');
    expect(bad.world.appService.writes().map((w) => w.op)).toEqual(['uploadCertificate', 'restart', 'deleteCertificate', 'restart']);
    expect(bad.world.appService.running.get(bad.appId)?.presented).toBe(bad.old.thumbprint);
    expect(bad.world.appService.settings.get(bad.appId)).toEqual(bad.original);
  });

  it('a dangling thumbprint is repaired first', async () => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/client` } });
    const { world, fresh } = s;
    world.appService.certificates.splice(0, world.appService.certificates.length);
    expect(world.appService.loadable(s.appId)).toEqual([]);
    const plan = await world.rotator.plan({ app: 'app-a' });
    expect(plan.apps[0]?.due[0]).toMatchObject({ reason: 'DanglingThumbprint', oldThumbprint: s.old.thumbprint });
    const result = await world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('committed');
    expect(world.appService.loadable(s.appId)).toEqual([fresh.thumbprint]);
  });

  it('a repaired dangling thumbprint is never rolled back onto nothing: the app stays on the new certificate', async () => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/client` } });
    const { world, fresh } = s;
    world.appService.certificates.splice(0, world.appService.certificates.length);
    world.prober.override = (call) => (call.kind === 'via-app' ? { ok: false, status: 502, detail: 'downstream down' } : undefined);
    const result = await world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('failed');
    expect(result.reason).toMatch(new RegExp(`^RollbackBlocked: the previous certificate\\(s\\) ${s.old.thumbprint} no longer exist`));
    expect(world.appService.loadable(s.appId)).toEqual([fresh.thumbprint]);
    expect(world.telemetry.named('RotationFailed')).toHaveLength(1);
  });

  it('RenewalMissing changes nothing', async () => {
    const s = standardWorld(pool, { fresh: pool.get('old') });
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'NothingDue' });
    expect(result.plan?.action).toBe('alert');
    expect(result.plan?.bindings[0]).toMatchObject({ reason: 'RenewalMissing', daysRemaining: 20 });
    expect(s.world.appService.writes()).toEqual([]);
    expect(s.world.store.writes).toEqual([]);
  });

  it('two due bindings are rotated in one pass with one restart', async () => {
    const s = standardWorld(pool);
    const { world } = s;
    const old2 = pool.get('old2');
    const new2 = pool.get('new2');
    const second = { vaultUrl: VAULT_URL, name: 'second' };
    world.keyVault.add(second, old2);
    world.keyVault.add(second, new2);
    world.appService.addCertificate({ subscriptionId: SUB, name: 'second-old', certificate: old2, tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/second` } });
    const settings = world.appService.settings.get(s.appId)!;
    settings.WEBSITE_LOAD_CERTIFICATES = `${s.old.thumbprint},${old2.thumbprint}`;
    const result = await world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('committed');
    expect(result.record?.bindings.map((b) => b.newThumbprint)).toEqual([s.fresh.thumbprint, new2.thumbprint]);
    expect(world.appService.settings.get(s.appId)?.WEBSITE_LOAD_CERTIFICATES).toBe(`${s.fresh.thumbprint},${new2.thumbprint}`);
    expect(appWrites(s)).toEqual(['writeAppSettings', 'restart']);
    // CLIENT_CERT_THUMBPRINT names which certificate the app presents: the probe expects its successor.
    expect(result.record?.probeExpectation).toEqual({ newThumbprint: s.fresh.thumbprint, oldThumbprint: s.old.thumbprint });
  });

  it('a tagged slot is rotated on its own; its untagged site is never touched', async () => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation': 'disabled', 'mtls-rotation-slots': 'true' } });
    const { world } = s;
    const slot = world.appService.addSite({
      subscriptionId: SUB,
      name: 'app-a',
      slot: 'staging',
      tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-health': HEALTH, 'mtls-rotation-probe': DOWNSTREAM },
      settings: { WEBSITE_LOAD_CERTIFICATES: s.old.thumbprint },
    });
    const report = await world.rotator.rotateDue({ trigger: 'timer' });
    expect(report.results.map((r) => [r.name, r.outcome])).toEqual([['app-a/staging', 'committed']]);
    expect(world.appService.settings.get(appIdOf(slot.ref))?.WEBSITE_LOAD_CERTIFICATES).toBe(s.fresh.thumbprint);
    expect(world.appService.settings.get(s.appId)).toEqual(s.original);
    expect(world.appService.writes().filter((w) => w.target === s.appId)).toEqual([]);
    expect(world.appService.log.filter((e) => e.op === 'readAppSettings').map((e) => e.target)).not.toContain(s.appId);
  });

  it('an untagged app is never touched, even by name', async () => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation': '' } });
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'NotOptedIn' });
    const due = await s.world.rotator.rotateDue({ trigger: 'timer' });
    expect(due.results).toEqual([]);
    expect(s.world.appService.writes()).toEqual([]);
    expect(s.world.appService.count('readAppSettings')).toBe(0);
  });

  it('a second rotate after the commit makes zero writes', async () => {
    const s = standardWorld(pool);
    await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    const writes = s.world.appService.writes().length;
    const storeWrites = s.world.store.writes.length;
    const again = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(again).toMatchObject({ outcome: 'skipped', reason: 'NothingDue' });
    expect(s.world.appService.writes()).toHaveLength(writes);
    expect(s.world.store.writes).toHaveLength(storeWrites);
  });

  it('a dry run returns the plan and writes nothing at all', async () => {
    const s = standardWorld(pool);
    const result = await s.world.rotator.rotateApp(s.appId, { trigger: 'cli', dryRun: true });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'DryRun', plan: { action: 'rotate' } });
    expect(result.plan?.due[0]).toMatchObject({ oldThumbprint: s.old.thumbprint, candidate: { thumbprint: s.fresh.thumbprint } });
    const due = await s.world.rotator.rotateDue({ trigger: 'timer', dryRun: true });
    expect(due.results.map((r) => r.reason)).toEqual(['DryRun']);
    expect(s.world.appService.writes()).toEqual([]);
    expect(s.world.store.writes.filter((w) => w.op !== 'setState')).toEqual([]);
  });

  it('force rolls out a re-issue that does not outlive the loaded certificate', async () => {
    const s = standardWorld(pool);
    await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    const reissue = pool.get('reissue');
    s.world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, reissue);
    const plain = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(plain).toMatchObject({ outcome: 'skipped', reason: 'NothingDue' });
    expect(plain.plan?.bindings[0]?.reason).toBe('UpToDate');
    const forced = await s.world.rotator.rotateApp('app-a', { trigger: 'cli', force: true });
    expect(forced.outcome).toBe('committed');
    expect(forced.record?.bindings[0]).toMatchObject({ newThumbprint: reissue.thumbprint, reason: 'Forced (UpToDate)' });
    expect(s.world.appService.running.get(s.appId)?.presented).toBe(reissue.thumbprint);
  });

  it('two concurrent rotations of one app: one proceeds, the other reports InProgress', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const atStage = new Promise<void>((resolve) => (reached = resolve));
    const s = standardWorld(pool, {
      deps: {
        faultHook: async (boundary) => {
          if (boundary === 'afterStage') {
            reached();
            await held;
          }
        },
      },
    });
    const first = s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    await atStage;
    const second = await s.world.another('rotator-b', { faultHook: undefined }).rotateApp('app-a', { trigger: 'http' });
    release();
    expect(second).toMatchObject({ outcome: 'skipped', reason: 'InProgress' });
    const firstResult = await first;
    expect(firstResult.outcome).toBe('committed');
    // The conflict names the rotation that holds the app.
    expect(s.world.telemetry.named('RotationConflict').map((e) => e.dimensions)).toEqual([
      expect.objectContaining({ reason: 'InProgress', rotationId: firstResult.rotationId }),
    ]);
    expect(s.world.store.all()).toHaveLength(1);
  });

  it('a candidate Key Vault refuses to hand out aborts before anything is uploaded', async () => {
    const s = standardWorld(pool);
    s.world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, pool.get('newer'), {
      secretError: Object.assign(new Error('Forbidden'), { statusCode: 403 }),
    });
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('aborted');
    expect(result.reason).toMatch(/^CandidateRefused: Unreadable: /);
    expect(s.world.appService.writes()).toEqual([]);
  });
});

describe('a candidate secret that breaks a trust boundary', () => {
  it.each<[string, () => { contentType: string; value: string }, string]>([
    ['a PFX asking for 10,000,000 iterations', () => ({ contentType: 'application/x-pkcs12', value: tripleDesPfxWithKeyIterations(pool.get('new2'), 10_000_000).toString('base64') }), 'TooManyIterations'],
    ['a secret far larger than any Key Vault secret', () => ({ contentType: 'application/x-pkcs12', value: 'A'.repeat(300_000) }), 'SecretTooLarge'],
  ])('%s aborts before any upload and raises TrustRefused', async (_sentence, secret, refusal) => {
    const s = standardWorld(pool);
    s.world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, pool.get('new2'), { secret: secret() });
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('aborted');
    expect(result.reason).toMatch(new RegExp(`^CandidateRefused: ${refusal}: `));
    expect(s.world.appService.writes()).toEqual([]);
    expect(s.world.telemetry.named('TrustRefused')[0]?.dimensions).toMatchObject({ appId: s.appId, refusal });
    expect(s.world.telemetry.events.map((e) => e.name)).toEqual(['RotationStarted', 'TrustRefused', 'RotationAborted']);
  });
});
