// The canary rollout's measures: twenty apps load one Key Vault certificate. Through the real function app (nightly timer →
// queue → rotateApp, the verify timer between waves) over the sandbox and Azurite (bench/rollout.ts, which
// `npm run bench` runs too):
// - a new version that breaks the apps' own outbound call restarts one app onto it (the canary, rolled back), the
//   nineteen others are never touched, and the halt is alerted with its evidence: counted from the sandbox's restart
//   counters and request log, not from what the engine reports;
// - a good version reaches all twenty in three waves, and the figure line says how long against one app's rotation.
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../sandbox/index.js';
import { fleet, measureBlastRadius, measureCanaryRollout, outside, recorder, startFleetHost, stopFleetHost } from '../../bench/rollout.js';
import { ShiftClock } from '../reliability/world.js';
import { useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();
const APPS = 20;

describe('a canary rollout over twenty apps that share one source', () => {
  it('a version that breaks the apps: the canary is rolled back, the nineteen others are never touched, and the halt is alerted', async () => {
    const r = await measureBlastRadius(azurite().connectionString, APPS);
    console.log(r.line);

    expect(r.rollout.status).toBe('halted');
    const canary = r.rollout.waves[0]!.apps[0]!;
    expect(r.restarted.map((a) => a.name)).toEqual([canary.name]);
    // Switched and restarted onto the new certificate, then rolled back and restarted again.
    expect(r.restarted[0]).toMatchObject({ restarts: 2, settingsWrites: 2 });
    expect(r.untouched).toHaveLength(APPS - 1);
    // Every app, the canary included, runs on the old certificate now.
    for (const app of r.apps) expect(app.loaded, app.name).toContain(r.oldThumbprint);
    expect(r.alerts).toHaveLength(1);
    expect(r.alerts[0]!.dimensions).toMatchObject({ rolloutId: r.rollout.id, wave: 1, untouched: APPS - 1, urgent: false });
    expect(String(r.alerts[0]!.dimensions.evidence)).toMatch(new RegExp(`^${canary.name}: rolledBack \\(VerificationFailed`));
    expect(r.rollout.halt?.evidence[0]).toContain(canary.rotationId);
    expect(r.line).toBe(`blast radius: 1 of ${APPS} apps restarted onto the bad certificate, ${APPS - 1} untouched, alert raised`);
  }, 240_000);

  it('a good version: all twenty committed in three waves, each queued by the verify timer after the previous one soaked', async () => {
    const r = await measureCanaryRollout(azurite().connectionString, APPS, 1);
    console.log(r.line);

    expect(r.rollout.status).toBe('completed');
    expect(r.rollout.waves.map((w) => w.apps.length)).toEqual([1, 2, 17]);
    expect(r.committed).toBe(APPS);
    expect(r.records.filter((rec) => rec.outcome === 'committed')).toHaveLength(APPS);
    // Each wave's first rotation started after the previous wave finished and soaked (the records' own times).
    for (let i = 1; i < r.rollout.waves.length; i += 1) {
      const previousEnd = Date.parse(r.rollout.waves[i - 1]!.finishedAt!);
      const starts = r.rollout.waves[i]!.apps.map((a) => Date.parse(r.records.find((rec) => rec.id === a.rotationId)!.startedAt));
      expect(Math.min(...starts)).toBeGreaterThanOrEqual(previousEnd + 1000);
    }
    // Each record and its telemetry name the rollout and the wave that queued it.
    for (const [index, wave] of r.rollout.waves.entries()) {
      for (const app of wave.apps) {
        expect(r.records.find((rec) => rec.id === app.rotationId)!.rollout, app.name).toEqual({ id: r.rollout.id, wave: index });
        const committed = r.events.find((e) => e.name === 'RotationCommitted' && e.dimensions.rotationId === app.rotationId);
        expect(committed?.dimensions, app.name).toMatchObject({ rolloutId: r.rollout.id, wave: index + 1 });
      }
    }
    expect(r.events.filter((e) => e.name === 'RolloutWaveQueued')).toHaveLength(3);
    expect(r.events.filter((e) => e.name === 'RolloutHalted')).toHaveLength(0);
  }, 400_000);
});

describe('a halted rollout near the expiry of the loaded certificate', () => {
  it('is reported as urgent at the halt and again once a day, and never forced onto the apps it holds', async () => {
    const sb = await startSandbox(fleet(3, 'breaks'));
    const clock = new ShiftClock();
    const { telemetry, events } = recorder();
    // The loaded certificate expires in 20 days (bench/rollout.ts): inside ROLLOUT_URGENT_DAYS=30.
    const fleetHost = await startFleetHost(sb, azurite().connectionString, { telemetry, clock, settings: { ROLLOUT_SOAK_SECONDS: '0', ROLLOUT_URGENT_DAYS: '30' } });
    try {
      await fleetHost.host.invokeTimer('nightlyScan');
      const halted = await fleetHost.until((r) => r.status === 'halted');
      await fleetHost.host.invokeTimer('verifyRotations'); // the same day: no second report
      clock.advance(25 * 3600_000);
      await fleetHost.host.invokeTimer('verifyRotations');
      await fleetHost.host.invokeTimer('verifyRotations');

      const urgent = events.filter((e) => e.name === 'RolloutHalted');
      expect(urgent.map((e) => [e.dimensions.urgent, e.dimensions.daysRemaining])).toEqual([
        [true, 19],
        [true, 18],
      ]);
      expect(fleetHost.lines.some((l) => l.includes(`rollout ${halted.id} of`) && l.includes('URGENT'))).toBe(true);
      const held = halted.waves.slice(1).flatMap((w) => w.apps.map((a) => a.name));
      expect(outside(sb, held, 0).map((a) => a.restarts)).toEqual(held.map(() => 0));
      expect((await fleetHost.rollouts())[0]!.status).toBe('halted');
    } finally {
      await stopFleetHost(fleetHost);
      await sb.stop();
    }
  }, 180_000);
});
