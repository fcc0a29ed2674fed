// Probe kinds are a list every phase runs (src/core/rotation/probes): a kind added to the list is planned and run by
// preflight, verify, the rollback's re-verification and the probe timer's re-verification, and its verdict counts.
// The kind here is a throwaway registered by this test only; nothing in src knows it.
import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../../src/core/ports.js';
import { PROBE_KINDS, type ProbeKind, type ProbePhase } from '../../../src/core/rotation/probes/index.js';
import { CertificatePool, standardWorld } from '../../helpers/memory-ports.js';

const pool = new CertificatePool();

/** A kind that checks one made-up target per phase, and fails in the phases it is told to. */
function throwawayKind(failIn: ReadonlySet<ProbePhase>) {
  const runs: Array<{ phase: ProbePhase; key: string }> = [];
  const kind: ProbeKind<{ key: string }> = {
    name: 'canary-file',
    targets: (ctx) => [{ key: `canary://${ctx.site.defaultHostName}/${ctx.phase}` }],
    async run(ctx, target): Promise<ProbeResult[]> {
      runs.push({ phase: ctx.phase, key: target.key });
      const ok = !failIn.has(ctx.phase);
      return [{ kind: 'canary-file', target: target.key, ok, transient: false, detail: ok ? 'present' : 'missing', at: ctx.deps.clock.now().toISOString(), durationMs: 0 }];
    },
  };
  return { kind, runs };
}

function worldWith(kind: ProbeKind<{ key: string }>) {
  return standardWorld(pool, { deps: { probeKinds: [...PROBE_KINDS, kind] } });
}

describe('a probe kind added to the list', () => {
  it('is run by preflight, verify and the probe timer, and a passing rotation commits', async () => {
    const canary = throwawayKind(new Set());
    const s = worldWith(canary.kind);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(result.outcome).toBe('committed');
    s.world.clock.advance(60_000);
    const report = await s.world.rotator.resumeOpen();
    expect(report.reverified.map((r) => r.status)).toEqual(['ok']);
    expect([...new Set(canary.runs.map((r) => r.phase))]).toEqual(['preflight', 'verify', 'reverify']);
    // Its results are evidence in the record like any other kind's.
    expect(result.record?.probes.filter((p) => p.kind === 'canary-file').map((p) => p.target)).toEqual([
      'canary://app-a.azurewebsites.net/preflight',
      'canary://app-a.azurewebsites.net/verify',
    ]);
  });

  it.each([
    ['a refusal in preflight aborts the rotation before the app changes', ['preflight'], 'aborted', /^PreflightFailed: canary-file canary:\/\/app-a\.azurewebsites\.net\/preflight: missing/, ['preflight']],
    ['a failure in verify rolls the app back, and the rollback runs it on the old state', ['verify'], 'rolledBack', /^VerificationFailed: canary-file canary:\/\/app-a\.azurewebsites\.net\/verify: missing/, ['preflight', 'verify', 'rollback']],
    ['a failure after the rollback too leaves the rotation failed, unverified', ['verify', 'rollback'], 'failed', /^RollbackUnverified: .*canary-file canary:\/\/app-a\.azurewebsites\.net\/rollback: missing/, ['preflight', 'verify', 'rollback']],
  ] as const)('%s', async (_sentence, failIn, outcome, reason, phases) => {
    const canary = throwawayKind(new Set(failIn));
    const s = worldWith(canary.kind);
    const result = await s.world.rotator.rotateApp('app-a', { trigger: 'timer' });
    expect(result.outcome).toBe(outcome);
    expect(result.record?.reason).toMatch(reason);
    expect([...new Set(canary.runs.map((r) => r.phase))]).toEqual(phases);
    expect(s.world.telemetry.named('ProbeFailed').some((e) => e.dimensions.probe === 'canary-file')).toBe(true);
  });

  it('a failure inside the verification window rolls the committed rotation back', async () => {
    const canary = throwawayKind(new Set(['reverify']));
    const s = worldWith(canary.kind);
    expect((await s.world.rotator.rotateApp('app-a', { trigger: 'probe' })).outcome).toBe('committed');
    s.world.clock.advance(60_000);
    const report = await s.world.rotator.resumeOpen();
    expect(report.reverified[0]).toMatchObject({ status: 'rolledBack' });
    expect(report.reverified[0]?.detail).toMatch(/canary-file canary:\/\/app-a\.azurewebsites\.net\/reverify: missing/);
    // The rollback of the committed rotation runs the kind on the old state as well.
    expect([...new Set(canary.runs.map((r) => r.phase))]).toEqual(['preflight', 'verify', 'reverify', 'rollback']);
    expect(s.world.appService.settings.get(s.appId)?.CLIENT_CERT_THUMBPRINT).toBe(s.old.thumbprint);
  });

  it('the list in src runs the app\'s own health path before the direct probes', () => {
    expect(PROBE_KINDS.map((k) => k.name)).toEqual(['via-app', 'direct']);
  });
});
