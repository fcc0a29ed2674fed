// Verification strength and the contract as the engine applies it (memory world): a status-only app commits and is
// recorded `status`; its rollback is re-verified by the same contract; `<p>-health-expect=thumbprint` makes the
// report mandatory; an app without a health path is recorded `none`.
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificatePool, standardWorld, SUB, VAULT_URL } from '../helpers/memory-ports.js';

const pool = new CertificatePool();
beforeAll(() => {
  for (const name of ['old', 'new', 'old2', 'new2'] as const) pool.get(name);
});

/** What an app written independently of this code answers: a 2xx, and no (or another kind of) report. */
const statusOnly = { ok: true, transient: false, status: 200, detail: 'app answered 200 (status only: no certificate reported)' };

describe('how strongly a rotation is verified', () => {
  it.each([
    ['an app that reports the thumbprint it presents is verified by thumbprint', {}, false, 'thumbprint'],
    ['an app that answers a bare 2xx commits, verified by status', {}, true, 'status'],
    ['an app without a health path commits on the direct probes, verified by none', { 'mtls-rotation-health': '' }, false, 'none'],
  ] as const)('%s', async (_sentence, tags, bare, strength) => {
    const s = standardWorld(pool, { tags });
    if (bare) s.world.prober.override = (call) => (call.kind === 'via-app' ? statusOnly : undefined);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('committed');
    expect(result.record?.verification).toBe(strength);
    expect(s.world.telemetry.named('RotationCommitted')[0]?.dimensions).toMatchObject({ verification: strength });
    expect(result.record?.steps.find((x) => x.step === 'verified')?.detail).toContain(`verification: ${strength}`);
  });

  it('two bindings in one rotation: the report confirms the one the app presents, so the weakest (status) is recorded', async () => {
    const s = standardWorld(pool);
    const second = { vaultUrl: VAULT_URL, name: 'second' };
    s.world.keyVault.add(second, pool.get('old2'));
    s.world.keyVault.add(second, pool.get('new2'));
    s.world.appService.addCertificate({ subscriptionId: SUB, name: 'second-old', certificate: pool.get('old2'), tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/second` } });
    s.world.appService.settings.get(s.appId)!.WEBSITE_LOAD_CERTIFICATES = `${s.old.thumbprint},${pool.get('old2').thumbprint}`;
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('committed');
    expect(result.record?.bindings).toHaveLength(2);
    // The app did report the expected certificate (CLIENT_CERT_THUMBPRINT's successor), the second one is unconfirmed.
    expect(result.record?.probes.find((p) => p.kind === 'via-app' && p.ok)).toMatchObject({ observedThumbprint: s.fresh.thumbprint, verification: 'thumbprint' });
    expect(result.record?.verification).toBe('status');
  });

  it('the rollback of a status-only app is re-verified by the same contract: rolled back, not failed', async () => {
    const s = standardWorld(pool);
    // The new certificate breaks the outbound call (502); the old one works, and the app reports nothing either way.
    s.world.prober.override = (call) =>
      call.kind !== 'via-app' ? undefined : call.thumbprint === s.fresh.thumbprint ? { ok: false, status: 502, detail: 'partner refused' } : statusOnly;
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('rolledBack');
    expect(result.record).toMatchObject({ verification: 'status', failureKind: 'definite' });
    expect(s.world.appService.running.get(s.appId)?.presented).toBe(s.old.thumbprint);
    expect(s.world.telemetry.named('RotationRolledBack')[0]?.dimensions).toMatchObject({ verification: 'status', failureKind: 'definite' });
  });

  it('with mtls-rotation-health-expect=thumbprint a 2xx without a report fails verification and rolls back', async () => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation-health-expect': 'thumbprint' } });
    s.world.prober.override = (call) => (call.kind === 'via-app' && call.thumbprint === s.fresh.thumbprint ? statusOnly : undefined);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
    expect(result.outcome).toBe('rolledBack');
    expect(result.reason).toMatch(/without reporting the certificate it presented/);
    expect(result.record).toMatchObject({ failureKind: 'definite', verification: 'thumbprint' });
  });

  it.each([
    ['a bad value is a clear problem in the plan and nothing is changed', 'strict', /tag mtls-rotation-health-expect: 'strict' must be 'status' or 'thumbprint'/],
    ['an empty value is the default (status)', '', undefined],
    ['the value is case-insensitive', 'Thumbprint', undefined],
  ])('mtls-rotation-health-expect: %s', async (_sentence, value, problem) => {
    const s = standardWorld(pool, { tags: { 'mtls-rotation-health-expect': value } });
    const plan = await s.world.rotator.plan({ app: 'app-a' });
    if (problem) {
      expect(plan.apps[0]?.problems.join('\n')).toMatch(problem);
      const result = await s.world.rotator.rotateApp('app-a', { trigger: 'cli' });
      expect(result).toMatchObject({ outcome: 'skipped', reason: 'AppProblems' });
      expect(s.world.appService.writes()).toEqual([]);
    } else {
      expect(plan.apps[0]?.problems).toEqual([]);
      expect(plan.apps[0]?.action).toBe('rotate');
    }
  });
});
