// Staging first: a site whose staging slot is opted in and loads the same source has its slot rotated and
// verified before its production slot. The slot runs the real app code, so it is the canary: when the new version
// breaks the app, the slot is rolled back and production (and every other app) is never touched.
import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../sandbox/index.js';
import type { SiteSpec } from '../../sandbox/scenario.js';
import type { RotationRecord } from '../../src/core/records.js';
import { fleet, names, outside, recorder, refOf } from '../../bench/rollout.js';
import { useAzurite } from '../helpers/azurite.js';
import { useFleetHost } from '../helpers/fleetHost.js';

const azurite = useAzurite();
const world = useFleetHost(azurite);

/** Three apps on one source; app01 also lists its slots, and its `staging` slot is opted in on the same source. */
function withStaging(staging: 'ok' | 'breaks'): Scenario {
  const scenario = fleet(3, 'ok');
  const site = scenario.subscriptions[0]!.resourceGroups[1]!.sites![0]! as SiteSpec;
  site.tags = { ...site.tags, 'mtls-rotation-slots': 'true' };
  site.slots = [{ name: 'staging', tags: { ...site.tags }, settings: { ...site.settings }, downstream: staging === 'ok' ? 'partner' : 'strict', restartMs: 20 }];
  return scenario;
}

const slotRef = { ...refOf('app01'), slot: 'staging' };

describe('staging first', () => {
  it('a version that breaks the app: the staging slot is the canary and is rolled back; production and the others are never touched', async () => {
    const sb = await world.startSandbox(withStaging('breaks'));
    const fleetHost = await world.startHost({ telemetry: recorder().telemetry, settings: { ROLLOUT_SOAK_SECONDS: '0' } });
    await fleetHost.host.invokeTimer('nightlyScan');
    const halted = await fleetHost.until((r) => r.status === 'halted');

    expect(halted.waves[0]!.apps).toEqual([expect.objectContaining({ name: 'app01/staging', role: 'canary', state: 'rolledBack' })]);
    expect(sb.control.restarts(slotRef)).toBe(2);
    expect(outside(sb, names(3), 0).map((a) => [a.name, a.restarts, a.settingsWrites])).toEqual(names(3).map((n) => [n, 0, 0]));
  }, 180_000);

  it('a good version: the slot is rotated and verified before production starts, then every app is', async () => {
    const sb = await world.startSandbox(withStaging('ok'));
    const fleetHost = await world.startHost({ telemetry: recorder().telemetry, settings: { ROLLOUT_SOAK_SECONDS: '0' } });
    // The plan shows the waves before anything goes out.
    const dryRun = await fleetHost.api('/rotations', { method: 'POST', body: JSON.stringify({ dryRun: true }) });
    expect(dryRun.body.rollouts[0]).toMatch(/^rollout [0-9a-f]{20} of https:\/\/127\.0\.0\.1:\d+\/certificates\/client \(new\):$/);
    // The slot is the canary; which site goes in wave 2 is the stable pick (it hashes the rollout id, which names the
    // sandbox's port), app01 included: its slot has verified by then.
    expect(dryRun.body.rollouts.slice(1)).toEqual(['  wave 1 of 3: app01/staging (canary)', expect.stringMatching(/^  wave 2 of 3: app0[123]$/), expect.stringMatching(/^  wave 3 of 3: app0[123], app0[123]$/)]);
    const sites = (dryRun.body.rollouts.slice(2) as string[]).flatMap((line) => line.replace(/^  wave \d of 3: /, '').split(', '));
    expect(sites.sort()).toEqual(['app01', 'app02', 'app03']);
    await fleetHost.host.invokeTimer('nightlyScan');
    const done = await fleetHost.until((r) => r.status === 'completed');
    const records = (await fleetHost.api('/rotations?limit=50')).body.rotations as RotationRecord[];
    const of = (name: string) => records.find((r) => r.app.site === name.split('/')[0] && (r.app.slot ?? '') === (name.split('/')[1] ?? ''))!;

    expect(done.waves[0]!.apps.map((a) => a.name)).toEqual(['app01/staging']);
    expect(records.filter((r) => r.outcome === 'committed')).toHaveLength(4);
    expect(Date.parse(of('app01').startedAt)).toBeGreaterThan(Date.parse(of('app01/staging').finishedAt!));
    expect(of('app01/staging').verification).not.toBe('none');
    expect([sb.control.restarts(slotRef), ...outside(sb, names(3), 0).map((a) => a.restarts)]).toEqual([1, 1, 1, 1]);
  }, 180_000);
});
