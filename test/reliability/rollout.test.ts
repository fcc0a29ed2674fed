// A canary rollout interrupted between waves, and a worker that died between rotating its app and reporting to the
// rollout: the state in Table storage and the rotation records carry the rollout on, in a new host (a restarted
// function app), and every app is rotated exactly once (restarts counted by the sandbox).
import { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import type { Sandbox } from '../../sandbox/index.js';
import { createDependencies } from '../../src/composition.js';
import { createRotator, loadConfig } from '../../src/core/index.js';
import { decodeRotationMessage } from '../../src/azure/rotationQueue.js';
import { fleet, names, outside, recorder, refOf } from '../../bench/rollout.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { useFleetHost } from '../helpers/fleetHost.js';
import type { CrashBoundary } from '../../src/core/boundaries.js';
import { ShiftClock } from './world.js';

const azurite = useAzurite();
const APPS = 4;
const SOAK_SECONDS = 600;
const world = useFleetHost(azurite);

const everyAppOnceOnTheNewCertificate = (sb: Sandbox) => {
  const latest = sb.control.thumbprint('kv-fleet/client/latest');
  return outside(sb, names(APPS), 0).map((a) => ({ name: a.name, restarts: a.restarts, onNew: a.loaded.includes(latest) }));
};

describe('a rollout interrupted between waves', () => {
  it('a host that stops while a wave soaks: the next host sends the next waves once the soak has passed, each app rotated once', async () => {
    const sb = await world.startSandbox(fleet(APPS, 'ok'));
    const table = uniqueName('rollcrash');
    const queue = uniqueName('rollcrash');
    let fleetHost = await world.startHost({ telemetry: recorder().telemetry, table, queue, settings: { ROLLOUT_SOAK_SECONDS: String(SOAK_SECONDS) } });
    await fleetHost.host.invokeTimer('nightlyScan');
    const soaking = await fleetHost.until((r) => r.waves[0]!.finishedAt !== undefined);
    await fleetHost.host.invokeTimer('verifyRotations'); // inside the soak: sends nothing
    expect((await fleetHost.rollouts())[0]!.waves[1]!.queuedAt).toBeUndefined();
    await world.stopHost(); // the function app restarts (a deployment, an instance recycled)

    const clock = new ShiftClock();
    const { telemetry, events } = recorder();
    fleetHost = await world.startHost({ telemetry, table, queue, clock, settings: { ROLLOUT_SOAK_SECONDS: String(SOAK_SECONDS) } });
    for (let wave = 1; wave < soaking.waves.length; wave += 1) {
      clock.advance((SOAK_SECONDS + 1) * 1000);
      await fleetHost.host.invokeTimer('verifyRotations');
      await fleetHost.until((r) => r.waves[wave]!.finishedAt !== undefined);
    }
    await fleetHost.host.invokeTimer('verifyRotations');
    const done = await fleetHost.until((r) => r.status === 'completed');

    expect(done.waves.map((w) => w.apps.map((a) => a.state))).toEqual(soaking.waves.map((w) => w.apps.map(() => 'committed')));
    expect(everyAppOnceOnTheNewCertificate(sb)).toEqual(names(APPS).map((name) => ({ name, restarts: 1, onNew: true })));
    expect(events.filter((e) => e.name === 'RolloutWaveQueued')).toHaveLength(soaking.waves.length - 1);
  }, 240_000);
});

describe('a worker that rotated its app and died before reporting to the rollout', () => {
  it.each([
    ['its message is lost: the verify timer settles the app from its rotation record and sends the next wave', 'lost'],
    ['its message comes back: the second run finds the app rotated and reports the first run’s record', 'redelivered'],
  ] as const)('%s', async (_s, fate) => {
    const sb = await world.startSandbox(fleet(APPS, 'ok'));
    const table = uniqueName('rollworker');
    const queueName = uniqueName('rollworker');
    const settings = { ROLLOUT_SOAK_SECONDS: '0', LEASE_SECONDS: '60' };
    let fleetHost = await world.startHost({ telemetry: recorder().telemetry, table, queue: queueName, settings, queues: false });
    await fleetHost.host.invokeTimer('nightlyScan');
    const [rollout] = await fleetHost.rollouts();
    const canary = rollout!.waves[0]!.apps[0]!;
    const queue = QueueServiceClient.fromConnectionString(azurite().connectionString).getQueueClient(queueName);
    const [message] = (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems;
    expect(decodeRotationMessage(message!.messageText)).toMatchObject({ appId: canary.appId, rollout: { id: rollout!.id, wave: 0 } });

    // The worker's rotation, run to its end by an engine on the same storage; then the worker is gone.
    const config = loadConfig({ ...process.env });
    const deps = createDependencies(config, { tlsCa: sb.caPem });
    const result = await createRotator(deps, config).rotateApp(canary.appId, { trigger: 'queue' });
    expect(result.outcome).toBe('committed');
    if (fate === 'lost') await queue.clearMessages();
    await world.stopHost();

    const clock = new ShiftClock();
    fleetHost = await world.startHost({ telemetry: recorder().telemetry, table, queue: queueName, settings, clock, queues: fate === 'redelivered' });
    if (fate === 'lost') {
      // Within a lease of the wave being queued the worker may still report; after it, the records are asked.
      await fleetHost.host.invokeTimer('verifyRotations');
      expect((await fleetHost.rollouts())[0]!.waves[0]!.apps[0]!.state).toBe('queued');
      clock.advance(61_000); // LEASE_SECONDS is 60 in this world's settings
      await fleetHost.host.invokeTimer('verifyRotations');
      const settled = (await fleetHost.rollouts())[0]!;
      expect(settled.waves[0]!.apps[0]).toMatchObject({ state: 'committed', rotationId: result.rotationId });
      const sent = (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems.map((m) => decodeRotationMessage(m.messageText));
      expect(sent.map((m) => [m.appId, m.rollout?.wave])).toEqual(settled.waves[1]!.apps.map((a) => [a.appId, 1]));
    } else {
      const settled = await fleetHost.until((r) => r.status === 'completed');
      expect(settled.waves[0]!.apps[0]).toMatchObject({ state: 'committed', rotationId: result.rotationId });
      expect(everyAppOnceOnTheNewCertificate(sb)).toEqual(names(APPS).map((name) => ({ name, restarts: 1, onNew: true })));
    }
    expect(sb.control.restarts(refOf(canary.name))).toBe(1);
  }, 240_000);
});

describe('the canary crashes mid-rotation', () => {
  it.each([
    ['after its settings were written', 'afterSwitch'],
    ['verified, before the commit was written', 'beforeCommit'],
  ] as const)('%s: the verify timer finishes it, the rollout settles from its record and every wave goes out', async (_s, boundary) => {
    const sb = await world.startSandbox(fleet(APPS, 'ok'));
    let crashed = false;
    const faultHook = (at: CrashBoundary) => {
      if (at === boundary && !crashed) {
        crashed = true;
        throw new Error(`simulated crash at ${at}`);
      }
    };
    const fleetHost = await world.startHost({ telemetry: recorder().telemetry, faultHook, settings: { ROLLOUT_SOAK_SECONDS: '0', LEASE_SECONDS: '60' } });
    await fleetHost.host.invokeTimer('nightlyScan');
    await fleetHost.untilRecords(1, (r) => r.outcome === undefined && crashed);
    const canary = (await fleetHost.rollouts())[0]!.waves[0]!.apps[0]!;
    expect(canary.state).toBe('queued');

    // The crashed rotation's lease runs out on the Table service's clock (LEASE_SECONDS, at least 60), so this waits
    // in real time; by then the wave has waited longer than a live worker could.
    await new Promise((r) => setTimeout(r, 61_000));
    await fleetHost.host.invokeTimer('verifyRotations');
    const done = await fleetHost.until((r) => r.status === 'completed', 60_000);

    expect(crashed).toBe(true);
    expect(done.waves.flatMap((w) => w.apps.map((a) => a.state))).toEqual(Array(APPS).fill('committed'));
    const apps = everyAppOnceOnTheNewCertificate(sb);
    expect(apps.every((a) => a.onNew)).toBe(true);
    expect(apps.map((a) => a.restarts)).toEqual(Array(APPS).fill(1));
  }, 240_000);
});
