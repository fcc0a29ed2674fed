// A Key Vault event goes through the canary rollout (issues 16 + 17): when several apps load the certificate that got
// a new version, the event does not rotate them all at once; it forms (or joins) the source's rollout and only its
// current wave is queued. End to end: the sandbox's Key Vault publishes through its Event Grid to the local host's
// webhook, the real function app (certificateEvents → rollout dispatch → queue → rotateApp, the verify timer between
// waves) over Azurite. What reached the apps is counted from the sandbox (restarts, settings writes, request log),
// not from what the engine reports.
import { describe, expect, it } from 'vitest';
import type { Sandbox, Scenario } from '../../sandbox/index.js';
import type { RotationRecord } from '../../src/core/records.js';
import type { Rollout } from '../../src/core/rollout/model.js';
import { fleet, names, outside, recorder, type FleetHost } from '../../bench/rollout.js';
import { useAzurite } from '../helpers/azurite.js';
import { useFleetHost } from '../helpers/fleetHost.js';

const azurite = useAzurite();
const APPS = 5;
const EVENTGRID_KEY = 'eventgrid-rollout-key';
const fleetWorld = useFleetHost(azurite);

/**
 * bench/rollout.ts's fleet, but up to date when the nightly scan runs (one version, far from expiry): the new version
 * only comes later, announced by Event Grid. `breaks`: the apps' own outbound call trusts only the old CA.
 */
function eventFleet(kind: 'ok' | 'breaks'): { scenario: Scenario; vault: string } {
  const scenario = fleet(APPS, kind);
  const vault = scenario.vaults![0]!;
  vault.certificates![0]!.versions = [{ issuer: 'old-ca', notAfterDays: 300, material: 'old' }];
  return { scenario, vault: vault.name };
}

async function start(kind: 'ok' | 'breaks', soakSeconds: number) {
  const { scenario, vault } = eventFleet(kind);
  const sb = await fleetWorld.startSandbox(scenario);
  const { telemetry, events } = recorder();
  const fleetHost = await fleetWorld.startHost({
    telemetry,
    settings: { EVENT_ROTATION: 'true', FUNCTIONS_EVENTGRID_KEY: EVENTGRID_KEY, ROLLOUT_SOAK_SECONDS: String(soakSeconds) },
  });
  // The nightly scan writes the source index the event looks its apps up in; nothing is due yet.
  await fleetHost.host.invokeTimer('nightlyScan');
  expect(await fleetHost.rollouts()).toEqual([]);
  const webhook = `${fleetHost.host.url}/runtime/webhooks/eventgrid?functionName=certificateEvents&code=${EVENTGRID_KEY}`;
  return { sb, fleetHost, vault, webhook, events, since: sb.control.requests().at(-1)?.seq ?? 0 };
}

async function records(host: FleetHost): Promise<RotationRecord[]> {
  return ((await host.api('/rotations?limit=100')).body as { rotations: RotationRecord[] }).rotations;
}

/** Polls until every started rotation has finished and `count` have. */
async function finished(host: FleetHost, count: number): Promise<RotationRecord[]> {
  for (let i = 0; i < 1200; i += 1) {
    const list = await records(host);
    if (list.length >= count && list.every((r) => r.finishedAt !== undefined)) return list;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`rotations did not finish: ${JSON.stringify(await records(host)).slice(0, 2000)}\n${host.lines.slice(-30).join('\n')}`);
}

const settingsWritesOutside = (world: Sandbox, since: number, site: string) =>
  world.control.requests({ since, surface: 'arm' }).filter((r) => /^WebApps_UpdateApplicationSettings/.test(r.operation ?? '') && r.path.toLowerCase().includes(`/sites/${site}/`)).length;

describe('a new version announced by Event Grid goes through the waves of its source', () => {
  it('a version that breaks the apps, delivered three times: only the canary is restarted (and rolled back), the others are never touched', async () => {
    const world = await start('breaks', 0);
    const subscription = await world.sb.eventGrid.subscribe({ endpoint: world.webhook, schema: 'EventGrid', duplicates: 2, timeScale: 0.001 });
    const oldThumbprint = world.sb.control.thumbprint(`${world.vault}/client/0`);
    world.sb.control.renew(world.vault, 'client', { issuer: 'new-ca', notAfterDays: 365 });
    await world.sb.eventGrid.idle();
    world.sb.eventGrid.unsubscribe(subscription);
    expect(world.sb.eventGrid.attempts().filter((a) => a.subscription === subscription && a.outcome === 'delivered')).toHaveLength(3);

    const halted = await world.fleetHost.until((r) => r.status === 'halted');
    // The verify timer runs as scheduled on Azure; once more here: it must not send the halted waves either.
    await world.fleetHost.host.invokeTimer('verifyRotations');
    const canary = halted.waves[0]!.apps[0]!;
    expect(canary).toMatchObject({ role: 'canary', state: 'rolledBack' });

    const apps = outside(world.sb, names(APPS), world.since);
    expect(apps.filter((a) => a.restarts > 0).map((a) => a.name)).toEqual([canary.name]);
    // Switched and restarted onto the new certificate, rolled back and restarted again: once, despite three deliveries.
    expect(apps.find((a) => a.name === canary.name)).toMatchObject({ restarts: 2, settingsWrites: 2 });
    for (const app of apps.filter((a) => a.name !== canary.name)) {
      expect(app, app.name).toMatchObject({ restarts: 0, settingsWrites: 0 });
      expect(settingsWritesOutside(world.sb, world.since, app.name), app.name).toBe(0);
    }
    for (const app of apps) expect(app.loaded, app.name).toContain(oldThumbprint);
    expect(await finished(world.fleetHost, 1)).toHaveLength(1);
    expect(world.events.filter((e) => e.name === 'CertificateEventQueued').map((e) => e.dimensions.appId)).toEqual([canary.appId]);
    expect(world.events.filter((e) => e.name === 'RolloutHalted')).toHaveLength(1);
  }, 240_000);

  it('a good version: the event queues only the canary; the next waves follow, each after the previous one verified and soaked', async () => {
    const world = await start('ok', 1);
    const subscription = await world.sb.eventGrid.subscribe({ endpoint: world.webhook, schema: 'CloudEvents', timeScale: 0.001 });
    const created = world.sb.control.renew(world.vault, 'client', { issuer: 'new-ca', notAfterDays: 365 });
    await world.sb.eventGrid.idle();
    world.sb.eventGrid.unsubscribe(subscription);

    // The canary's rotation runs from the queue; no timer runs here, so nothing else may have moved when it ends.
    const [canaryRecord] = await finished(world.fleetHost, 1);
    const [started] = await world.fleetHost.rollouts();
    const canary = started!.waves[0]!.apps[0]!;
    expect(canaryRecord).toMatchObject({ appId: canary.appId, outcome: 'committed' });
    const afterEvent = outside(world.sb, names(APPS), world.since);
    expect(afterEvent.filter((a) => a.restarts > 0).map((a) => a.name)).toEqual([canary.name]);
    expect(afterEvent.filter((a) => a.settingsWrites > 0).map((a) => a.name)).toEqual([canary.name]);

    // The verify timer (every 5 min on Azure) sends each next wave once the previous one finished and soaked.
    let rollout: Rollout | undefined;
    for (let i = 0; i < 240 && rollout?.status !== 'completed'; i += 1) {
      await world.fleetHost.host.invokeTimer('verifyRotations');
      [rollout] = await world.fleetHost.rollouts();
      if (rollout?.status !== 'completed') await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(rollout).toMatchObject({ status: 'completed' });
    expect(rollout!.waves.map((w) => w.apps.length)).toEqual([1, 1, APPS - 2]);
    const all = await finished(world.fleetHost, APPS);
    expect(all.filter((r) => r.outcome === 'committed')).toHaveLength(APPS);
    for (let i = 1; i < rollout!.waves.length; i += 1) {
      const previousEnd = Date.parse(rollout!.waves[i - 1]!.finishedAt!);
      const starts = rollout!.waves[i]!.apps.map((a) => Date.parse(all.find((r) => r.id === a.rotationId)!.startedAt));
      expect(Math.min(...starts)).toBeGreaterThanOrEqual(previousEnd + 1000);
    }
    const apps = outside(world.sb, names(APPS), world.since);
    expect(apps.map((a) => [a.name, a.restarts, a.loaded.includes(created.thumbprint)])).toEqual(names(APPS).map((n) => [n, 1, true]));
  }, 240_000);

  it('a rollout the nightly scan started for that version is respected: the late event queues none of the apps waiting for a later wave', async () => {
    const world = await start('ok', 3600);
    // The event is held (reorder) while the nightly scan finds the new version first and starts the rollout.
    const subscription = await world.sb.eventGrid.subscribe({ endpoint: world.webhook, schema: 'EventGrid', reorder: true, timeScale: 0.001 });
    world.sb.control.renew(world.vault, 'client', { issuer: 'new-ca', notAfterDays: 365 });
    await world.fleetHost.host.invokeTimer('nightlyScan');
    const [canaryRecord] = await finished(world.fleetHost, 1);
    const [started] = await world.fleetHost.rollouts();
    expect(canaryRecord).toMatchObject({ appId: started!.waves[0]!.apps[0]!.appId, outcome: 'committed' });
    const mark = world.sb.control.requests().at(-1)?.seq ?? 0;

    world.sb.eventGrid.flush();
    await world.sb.eventGrid.idle();
    world.sb.eventGrid.unsubscribe(subscription);
    expect(world.sb.eventGrid.attempts().filter((a) => a.subscription === subscription).map((a) => a.outcome)).toEqual(['delivered']);

    // Give a wrongly queued message time to run before counting (the queue polls every 20-200 ms).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(world.sb.control.requests({ since: mark, surface: 'arm' }).filter((r) => /^WebApps_(UpdateApplicationSettings|Restart)/.test(r.operation ?? ''))).toEqual([]);
    expect(outside(world.sb, names(APPS), world.since).filter((a) => a.restarts > 0).map((a) => a.name)).toEqual([started!.waves[0]!.apps[0]!.name]);
    expect(await records(world.fleetHost)).toHaveLength(1);
    const [after] = await world.fleetHost.rollouts();
    expect(after).toMatchObject({ id: started!.id, status: 'running', current: 0 });
    expect(world.events.filter((e) => e.name === 'CertificateEventQueued')).toEqual([]);
  }, 240_000);
});
