// No restart loops, against the sandbox and Azurite: an app whose new certificate breaks its outbound call is rolled
// back once and left alone by the next runs (CandidateRejected); an app that never comes back after its restart backs
// off for an hour and is then tried again, as does an app whose restart does not pick the switch up (it keeps presenting
// the old certificate: no verdict on the new one). Restarts are counted from the sandbox's own request log.
import { describe, expect, it } from 'vitest';
import { createRotator } from '../../src/core/index.js';
import { appIdOf } from '../../src/core/identity.js';
import { ArmAppServiceGateway } from '../../src/azure/appServiceGateway.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';
import { appPartition, recordRowKey } from '../../src/azure/tableRotationStore.js';
import { useAzurite } from '../helpers/azurite.js';
import { useSandboxConfig } from '../helpers/sandboxConfig.js';
import { appRef, deps as makeDeps, independentApps, JumpingClock, watch } from './world.js';

const HOUR = 3_600_000;
const azurite = useAzurite();
const clock = new JumpingClock();
const world = useSandboxConfig(azurite, () =>
  independentApps([
    // Its own partner trusts only the old CA: with the renewal (new CA) its outbound call fails, for good.
    { name: 'breaks', calls: 'strict' },
    { name: 'never-back' },
    // Its restarts finish on the process it had (an instance that missed the recycle): it keeps the old certificate.
    { name: 'stale' },
  ]),
);

const rotator = () => createRotator(makeDeps(world.sb, world.config, { clock }), world.config);
const restartsOf = (changes: ReturnType<ReturnType<typeof watch>['changes']>) => changes.filter((c) => c.operation?.startsWith('WebApps_Restart')).length;

describe('no restart loops (sandbox + Azurite)', () => {
  // First: the nightly runs of the other case (rotateDue) would otherwise rotate never-back before it hangs.
  it('an app that never comes back backs off 1 h, is not restarted meanwhile, and is tried again after it', async () => {
    const ref = appRef('never-back');
    const app = { site: 'never-back' };
    world.sb.control.setRestartBehaviour(ref, { hang: true });
    const first = watch(world.sb);
    const run1 = await rotator().rotateApp('never-back', { trigger: 'timer' });
    // The rollback's restart hangs too: the old state cannot be proven either, but nothing was definitely refused.
    expect(run1.outcome).toBe('failed');
    expect(run1.record?.failureKind).toBe('transient');
    expect(restartsOf(first.changes(app))).toBe(2);
    const failedAt = Date.parse(run1.record!.finishedAt!);

    // Bring the app back (an operator restarts it); a run within the hour leaves it alone.
    world.sb.control.setRestartBehaviour(ref, { hang: false });
    const gateway = new ArmAppServiceGateway({ endpoint: world.sb.armEndpoint, credential: staticTokenCredential(world.sb.token), tlsCa: world.sb.caPem });
    await gateway.restart(ref);
    clock.jump(30 * 60_000);
    const early = watch(world.sb);
    const plan = await rotator().plan({ app: 'never-back' });
    expect(plan.apps[0]?.bindings[0]).toMatchObject({ reason: 'BackingOff', nextAttemptAt: new Date(failedAt + HOUR).toISOString() });
    expect(await rotator().nextAttempt('never-back')).toMatchObject({ reason: 'BackingOff', at: new Date(failedAt + HOUR).toISOString() });
    const skipped = await rotator().rotateApp('never-back', { trigger: 'timer' });
    expect(skipped).toMatchObject({ outcome: 'skipped', reason: 'HeldBack' });
    expect(early.changes(app)).toEqual([]);

    clock.jump(31 * 60_000);
    const later = watch(world.sb);
    const run2 = await rotator().rotateApp('never-back', { trigger: 'timer' });
    expect(run2.outcome).toBe('committed');
    expect(run2.record?.verification).toBe('thumbprint');
    expect(restartsOf(later.changes(app))).toBe(1);
  });

  it('an app that still presents the old certificate after its restart backs off; the new version is not rejected', async () => {
    const ref = appRef('stale');
    const app = { site: 'stale' };
    world.sb.control.setRestartBehaviour(ref, { stale: true });
    const first = watch(world.sb);
    const run1 = await rotator().rotateApp('stale', { trigger: 'timer' });
    // The rollback's own check expects the old certificate, which the app never stopped presenting.
    expect(run1.outcome).toBe('rolledBack');
    expect(run1.record?.failureKind).toBe('transient');
    expect(run1.reason).toMatch(/still presents [0-9A-F]{40}, the certificate it was switched away from/);
    expect(restartsOf(first.changes(app))).toBe(2);
    const failedAt = Date.parse(run1.record!.finishedAt!);
    expect(await rotator().nextAttempt('stale')).toMatchObject({ reason: 'BackingOff', at: new Date(failedAt + HOUR).toISOString() });

    // Once restarts take again, the same version goes out after the backoff.
    world.sb.control.setRestartBehaviour(ref, { stale: false });
    clock.jump(HOUR + 60_000);
    const run2 = await rotator().rotateApp('stale', { trigger: 'timer' });
    expect(run2.outcome).toBe('committed');
    expect(run2.record?.verification).toBe('thumbprint');
  });

  it('an app whose new certificate breaks its outbound call is rolled back once, and the next runs do not restart it', async () => {
    const app = { site: 'breaks' };
    const first = watch(world.sb);
    const run1 = await rotator().rotateApp('breaks', { trigger: 'timer' });
    expect(run1.outcome).toBe('rolledBack');
    expect(run1.record).toMatchObject({ failureKind: 'definite', verification: 'thumbprint' });
    // The simulated app runs the app-side kit: 503 {"status":"fail"} when its partner refuses the certificate.
    expect(run1.reason).toMatch(/^VerificationFailed: .*HTTP 503/);
    expect(restartsOf(first.changes(app))).toBe(2);
    // A person browsing the table sees both at a glance, beside the outcome.
    const table = await makeDeps(world.sb, world.config, { clock }).store.client();
    const row = await table.getEntity(appPartition(run1.record!.appId), recordRowKey(run1.record!));
    expect(row).toMatchObject({ Outcome: 'rolledBack', Verification: 'thumbprint', FailureKind: 'definite' });

    // The next night, and the one after: the same Key Vault version is not rolled out again.
    for (const nights of [1, 2]) {
      clock.jump(24 * HOUR);
      const again = watch(world.sb);
      const report = await rotator().rotateDue({ trigger: 'timer' });
      expect(report.results.filter((r) => r.appId === appIdOf(appRef('breaks')))).toEqual([]);
      expect(again.changes(app), `night ${nights}`).toEqual([]);
      const plan = report.scan.plan.apps.find((a) => a.name === 'breaks');
      expect(plan).toMatchObject({ action: 'alert' });
      expect(plan?.bindings[0]).toMatchObject({ reason: 'CandidateRejected', heldBackBy: run1.rotationId });
    }
    expect(await rotator().nextAttempt('breaks')).toMatchObject({ reason: 'CandidateRejected', rotationId: run1.rotationId });
    console.log(`no restart loops: breaks restarted ${restartsOf(first.changes(app))} time(s) over 3 runs, rejected by ${run1.rotationId}`);
    expect(restartsOf(first.changes(app))).toBe(2);
  });

});
