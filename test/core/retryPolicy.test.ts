// No restart loops: a Key Vault version that failed on an app is held back (CandidateRejected), transient failures
// back off (1 h · 2^(n−1), at most 32 h), a newer version or `force` clears it; decided from the rotation records.
import { beforeAll, describe, expect, it } from 'vitest';
import type { RotationRecord } from '../../src/core/records.js';
import { BACKOFF_CAP_MS, backoffDelayMs, heldBackBy, nextAttemptOf } from '../../src/core/retryPolicy.js';
import { CertificatePool, standardWorld, VAULT_URL } from '../helpers/memory-ports.js';

const HOUR = 3_600_000;
const NOW = new Date('2026-03-01T12:00:00.000Z');
const V1 = `${VAULT_URL}/certificates/client/v1`;
const V2 = `${VAULT_URL}/certificates/client/v2`;

describe('the backoff schedule', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 4],
    [4, 8],
    [5, 16],
    [6, 32],
    [7, 32],
    [8, 32],
    [60, 32],
  ])('after %i consecutive transient failure(s) the next attempt waits %i h', (n, hours) => {
    expect(backoffDelayMs(n)).toBe(hours * HOUR);
  });

  it('is capped at 32 h, so a nightly run skips at most one night for the cap itself', () => {
    expect(BACKOFF_CAP_MS).toBe(32 * HOUR);
  });
});

let sequence = 0;
function record(outcome: RotationRecord['outcome'], failureKind: RotationRecord['failureKind'], hoursAgo: number, versionId = V1): RotationRecord {
  const at = new Date(NOW.getTime() - hoursAgo * HOUR).toISOString();
  sequence += 1;
  const r: RotationRecord = {
    id: `r${sequence}`,
    app: { subscriptionId: 's', resourceGroup: 'rg', site: 'app' },
    appId: 'app',
    mode: 'explicit',
    trigger: 'timer',
    bindings: [{ newThumbprint: 'A'.repeat(40), source: { kind: 'keyvault', uri: versionId.slice(0, versionId.lastIndexOf('/')), version: versionId.split('/').pop()! }, reason: 'NewerVersionAvailable' }],
    step: (outcome ?? 'switched') as RotationRecord['step'],
    steps: [],
    attempts: 1,
    probes: [],
    startedAt: at,
    updatedAt: at,
    reason: 'VerificationFailed: via-app …',
  };
  if (outcome) {
    r.outcome = outcome;
    r.finishedAt = at;
  }
  if (failureKind) r.failureKind = failureKind;
  return r;
}

describe('what the records of an app say about a version (newest first)', () => {
  it.each<[string, () => RotationRecord[], string, { reason?: string; nextInHours?: number; failures?: number }]>([
    ['no records: nothing holds it back', () => [], V1, {}],
    ['a definite failure rejects the version', () => [record('rolledBack', 'definite', 30 * 24)], V1, { reason: 'CandidateRejected' }],
    ['a definite failure of another version does not', () => [record('rolledBack', 'definite', 1, V1)], V2, {}],
    ['a definite failure before transient ones still rejects', () => [record('rolledBack', 'transient', 1), record('rolledBack', 'definite', 50)], V1, { reason: 'CandidateRejected' }],
    ['a commit of the version ends the look back', () => [record('committed', undefined, 10), record('rolledBack', 'definite', 50)], V1, {}],
    ['an unfinished record is not a failure', () => [record(undefined, 'definite', 0)], V1, {}],
    ['a failure without a kind (a fault, not a verdict) is retried at once', () => [record('failed', undefined, 0)], V1, {}],
    ['one transient failure 30 min ago waits 1 h', () => [record('rolledBack', 'transient', 0.5)], V1, { reason: 'BackingOff', nextInHours: 0.5, failures: 1 }],
    ['one transient failure 2 h ago is tried again', () => [record('rolledBack', 'transient', 2)], V1, {}],
    ['three in a row, the last 3 h ago, wait 4 h', () => [record('rolledBack', 'transient', 3), record('rolledBack', 'transient', 10), record('rolledBack', 'transient', 20)], V1, { reason: 'BackingOff', nextInHours: 1, failures: 3 }],
    ['a streak is broken by a failure of no kind', () => [record('rolledBack', 'transient', 1.5), record('failed', undefined, 3), record('rolledBack', 'transient', 4)], V1, {}],
    ['eight in a row wait the cap (32 h)', () => Array.from({ length: 8 }, (_, i) => record('rolledBack', 'transient', 10 + i * 40)), V1, { reason: 'BackingOff', nextInHours: 22, failures: 8 }],
    ['version ids compare case-insensitively', () => [record('rolledBack', 'definite', 1, V1.toUpperCase().replace('HTTPS', 'https'))], V1, { reason: 'CandidateRejected' }],
  ])('%s', (_sentence, records, versionId, expected) => {
    const list = records();
    const held = heldBackBy(list, versionId, NOW);
    expect(held?.reason).toBe(expected.reason);
    if (expected.reason === 'CandidateRejected') {
      const rejecting = list.find((r) => r.failureKind === 'definite')!;
      expect(held).toMatchObject({ rotationId: rejecting.id });
      expect(held?.message).toContain(`rotation ${rejecting.id}`);
      expect(held?.nextAttemptAt).toBeUndefined();
    }
    if (expected.nextInHours !== undefined) {
      expect(held?.nextAttemptAt).toBe(new Date(NOW.getTime() + expected.nextInHours * HOUR).toISOString());
      expect(held?.failures).toBe(expected.failures);
    }
  });

  it('nextAttemptOf answers from the newest finished rotation that failed', () => {
    const failed = record('rolledBack', 'transient', 0.25);
    expect(nextAttemptOf([failed], NOW)).toMatchObject({ versionId: V1, held: { reason: 'BackingOff', nextAttemptAt: new Date(NOW.getTime() + 0.75 * HOUR).toISOString() } });
    expect(nextAttemptOf([record('committed', undefined, 0), failed], NOW)).toBeUndefined();
  });
});

describe('an app whose new certificate fails verification (memory world)', () => {
  const pool = new CertificatePool();
  beforeAll(() => {
    for (const name of ['old', 'new', 'newer'] as const) pool.get(name);
  });

  /** app-a with the partner refusing what the app presents with `fresh` (a definite 502). */
  async function rolledBackWorld(failure: { status: number; transient: boolean } = { status: 502, transient: false }) {
    const s = standardWorld(pool);
    s.world.prober.override = (call) =>
      call.kind === 'via-app' && call.thumbprint === s.fresh.thumbprint ? { ok: false, ...failure, detail: 'partner refused the client certificate' } : undefined;
    const first = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(first.outcome).toBe('rolledBack');
    return { s, first, restarts: () => s.world.appService.writes().filter((w) => w.op === 'restart').length };
  }

  it('is not rotated again to the same version: the plan says CandidateRejected naming the rotation, and it keeps alerting', async () => {
    const { s, first, restarts } = await rolledBackWorld();
    expect(first.record).toMatchObject({ failureKind: 'definite', verification: 'thumbprint' });
    expect(restarts()).toBe(2);
    s.world.clock.advance(48 * HOUR);

    const again = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(again).toMatchObject({ outcome: 'skipped', reason: 'HeldBack' });
    expect(again.plan).toMatchObject({ action: 'alert' });
    expect(again.plan?.bindings[0]).toMatchObject({ reason: 'CandidateRejected', due: false, heldBackBy: first.rotationId });
    expect(again.plan?.bindings[0]?.message).toContain(`rotation ${first.rotationId}`);
    expect(restarts()).toBe(2);

    const due = await s.world.rotator.rotateDue({ trigger: 'timer' });
    expect(due.results).toEqual([]);
    expect(restarts()).toBe(2);
    // The loaded certificate has 20 days left: inside the 30-day window, so the expiry alert goes on beside the rejection.
    expect(s.world.telemetry.named('CandidateRejected').at(-1)?.dimensions).toMatchObject({ appId: s.appId, rotationId: first.rotationId, reason: 'CandidateRejected' });
    expect(s.world.telemetry.named('CertificateExpiring').at(-1)?.dimensions).toMatchObject({ appId: s.appId, thumbprint: s.old.thumbprint });
    expect(await s.world.rotator.nextAttempt('app-a')).toMatchObject({ reason: 'CandidateRejected', rotationId: first.rotationId });
  });

  it('a newer Key Vault version clears it', async () => {
    const { s, restarts } = await rolledBackWorld();
    const newer = pool.get('newer');
    s.world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, newer);
    const again = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(again.outcome).toBe('committed');
    expect(again.record?.bindings[0]?.newThumbprint).toBe(newer.thumbprint);
    expect(again.record?.verification).toBe('thumbprint');
    expect(restarts()).toBe(3);
  });

  it("an operator's force clears it (and it fails again, for the same reason)", async () => {
    const { s, restarts } = await rolledBackWorld();
    const forced = await s.world.rotator.rotateApp('app-a', { trigger: 'cli', force: true });
    expect(forced.outcome).toBe('rolledBack');
    expect(forced.record?.bindings[0]?.newThumbprint).toBe(s.fresh.thumbprint);
    expect(restarts()).toBe(4);
  });

  it('a transient failure backs off: not before 1 h, then 2 h after the second', async () => {
    const { s, first, restarts } = await rolledBackWorld({ status: 503, transient: true });
    expect(first.record?.failureKind).toBe('transient');
    const failedAt = Date.parse(first.record!.finishedAt!);

    const early = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(early.plan?.bindings[0]).toMatchObject({ reason: 'BackingOff', nextAttemptAt: new Date(failedAt + HOUR).toISOString() });
    expect(early.plan?.nextAttemptAt).toBe(new Date(failedAt + HOUR).toISOString());
    expect(await s.world.rotator.nextAttempt('app-a')).toMatchObject({ reason: 'BackingOff', at: new Date(failedAt + HOUR).toISOString() });
    expect(restarts()).toBe(2);

    s.world.clock.advance(failedAt + HOUR - s.world.clock.now().getTime());
    const second = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(second.outcome).toBe('rolledBack');
    expect(restarts()).toBe(4);
    const secondAt = Date.parse(second.record!.finishedAt!);
    const later = await s.world.rotator.plan({ app: 'app-a' });
    expect(later.apps[0]?.bindings[0]).toMatchObject({ reason: 'BackingOff', nextAttemptAt: new Date(secondAt + 2 * HOUR).toISOString() });
  });
});
