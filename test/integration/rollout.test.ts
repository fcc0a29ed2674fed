// Issue 17's "done when": twenty apps load one Key Vault certificate. Through the real function app (nightly timer →
// queue → rotateApp, the verify timer between waves) over the sandbox and Azurite:
// - a new version that breaks the apps' own outbound call restarts one app onto it (the canary, rolled back), the
//   nineteen others are never touched, and the halt is alerted with its evidence: counted from the sandbox's restart
//   counters and request log, not from what the engine reports;
// - a good version reaches all twenty in three waves, and the figure line says how long against one app's rotation.
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { RotationRecord } from '../../src/core/records.js';
import { useAzurite } from '../helpers/azurite.js';
import { fleet, names, outside, recorder, startFleetHost, stopFleetHost, type FleetHost } from './rolloutWorld.js';

const azurite = useAzurite();
const APPS = 20;
let sb: Sandbox | undefined;
let fleetHost: FleetHost | undefined;

afterEach(async () => {
  await stopFleetHost(fleetHost);
  fleetHost = undefined;
  await sb?.stop();
  sb = undefined;
}, 60_000);

describe('a canary rollout over twenty apps that share one source', () => {
  it('a version that breaks the apps: the canary is rolled back, the nineteen others are never touched, and the halt is alerted', async () => {
    sb = await startSandbox(fleet(APPS, 'rollback'));
    const { telemetry, events } = recorder();
    fleetHost = await startFleetHost(sb, azurite().connectionString, { telemetry, settings: { ROLLOUT_SOAK_SECONDS: '0' } });
    const oldThumbprint = sb.control.thumbprint('kv-rel/client/0');
    const since = sb.control.requests().at(-1)?.seq ?? 0;

    await fleetHost.host.invokeTimer('nightlyScan');
    const halted = await fleetHost.until((r) => r.status !== 'running');
    // The verify timer runs as scheduled on Azure; here it runs once more, and must not send the halted waves.
    await fleetHost.host.invokeTimer('verifyRotations');

    const apps = outside(sb, names(APPS), since);
    const restarted = apps.filter((a) => a.restarts > 0);
    const untouched = apps.filter((a) => a.restarts === 0 && a.settingsWrites === 0);
    const alerts = events.filter((e) => e.name === 'RolloutHalted');
    console.log(`blast radius: ${restarted.length} of ${APPS} apps restarted onto the bad certificate, ${untouched.length} untouched, ${alerts.length > 0 ? 'alert raised' : 'no alert'}`);

    expect(halted.status).toBe('halted');
    expect(restarted.map((a) => a.name)).toEqual([halted.waves[0]!.apps[0]!.name]);
    // Switched and restarted onto the new certificate, then rolled back and restarted again.
    expect(restarted[0]).toMatchObject({ restarts: 2, settingsWrites: 2 });
    expect(untouched).toHaveLength(APPS - 1);
    // Every app, the canary included, runs on the old certificate now.
    for (const app of apps) expect(app.loaded, app.name).toContain(oldThumbprint);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.dimensions).toMatchObject({ rolloutId: halted.id, wave: 1, untouched: APPS - 1, urgent: false });
    expect(String(alerts[0]!.dimensions.evidence)).toMatch(new RegExp(`^${restarted[0]!.name}: rolledBack \\(VerificationFailed`));
    expect(halted.halt?.evidence[0]).toContain(halted.waves[0]!.apps[0]!.rotationId);
  }, 240_000);

  it('a good version: all twenty committed in three waves, the next wave queued by the verify timer after its soak', async () => {
    sb = await startSandbox(fleet(APPS, 'ok'));
    const { telemetry, events } = recorder();
    // The default soak (30 min) scaled down to one second, the verify timer (5 min) to every second.
    fleetHost = await startFleetHost(sb, azurite().connectionString, { telemetry, settings: { ROLLOUT_SOAK_SECONDS: '1' }, verifyEverySecond: true });
    const newThumbprint = sb.control.thumbprint('kv-rel/client/latest');
    const since = sb.control.requests().at(-1)?.seq ?? 0;

    const started = Date.now();
    await fleetHost.host.invokeTimer('nightlyScan');
    const done = await fleetHost.until((r) => r.status !== 'running', 240_000);
    const wallMs = Date.now() - started;

    const apps = outside(sb, names(APPS), since);
    const records = (await fleetHost.api('/rotations?limit=100')).body.rotations as RotationRecord[];
    const committed = apps.filter((a) => a.loaded.includes(newThumbprint) && a.restarts === 1).length;
    await stopFleetHost(fleetHost);
    fleetHost = undefined;

    // The same path (nightly timer → queue → every record committed) for one app, and for the twenty all at once
    // (ROLLOUT_WAVES=off, the fan-out before rollouts): what the waves cost is the difference.
    const baseline = async (count: number): Promise<number> => {
      const world = await startSandbox(fleet(count, 'ok'));
      try {
        fleetHost = await startFleetHost(world, azurite().connectionString, { telemetry: recorder().telemetry, settings: { ROLLOUT_WAVES: 'off' } });
        const t0 = Date.now();
        await fleetHost.host.invokeTimer('nightlyScan');
        await fleetHost.untilRecords(count, (r) => r.outcome === 'committed');
        return Date.now() - t0;
      } finally {
        await stopFleetHost(fleetHost);
        fleetHost = undefined;
        await world.stop();
      }
    };
    const oneAppMs = await baseline(1);
    const allAtOnceMs = await baseline(APPS);
    const waves = done.waves.map((w) => `${w.apps.length} in ${((Date.parse(w.finishedAt!) - Date.parse(w.queuedAt!)) / 1000).toFixed(1)} s`).join(', ');
    console.log(
      `canary rollout: ${committed} of ${APPS} committed in ${done.waves.length} waves, wall = ${(wallMs / oneAppMs).toFixed(1)} × one app ` +
        `(${(wallMs / 1000).toFixed(1)} s; one app ${(oneAppMs / 1000).toFixed(1)} s; all ${APPS} at once ${(allAtOnceMs / 1000).toFixed(1)} s; waves ${waves}; soak scaled from 1800 s to 1 s)`,
    );

    expect(done.status).toBe('completed');
    expect(done.waves.map((w) => w.apps.length)).toEqual([1, 2, 17]);
    expect(committed).toBe(APPS);
    expect(records.filter((r) => r.outcome === 'committed')).toHaveLength(APPS);
    // Each wave started after the previous one finished and soaked (from the records' own times).
    for (let i = 1; i < done.waves.length; i += 1) {
      const previousEnd = Date.parse(done.waves[i - 1]!.finishedAt!);
      const starts = done.waves[i]!.apps.map((a) => Date.parse(records.find((r) => r.id === a.rotationId)!.startedAt));
      expect(Math.min(...starts)).toBeGreaterThanOrEqual(previousEnd + 1000);
    }
    expect(events.filter((e) => e.name === 'RolloutWaveQueued')).toHaveLength(3);
    expect(events.filter((e) => e.name === 'RolloutHalted')).toHaveLength(0);
  }, 300_000);
});
