// A rollout's queue messages outlive the decision that sent them. An operator's abort, or a newer Key Vault version
// whose rollout supersedes this one, must stop the messages still waiting in the queue, not only the waves not yet
// sent: otherwise an aborted rollout goes on restarting apps, and a superseded one rotates its apps to the newer
// version (rotateApp always takes Key Vault's latest) before that version's own canary has been verified. Counted
// from the sandbox's restart counters, through the real function app on Azurite.
import { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { decodeRotationMessage } from '../../src/azure/rotationQueue.js';
import { fleet, names, outside, recorder } from '../../bench/rollout.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { useFleetHost } from '../helpers/fleetHost.js';

const azurite = useAzurite();
const APPS = 4;
const world = useFleetHost(azurite);

async function queuedMessages(queueName: string) {
  const queue = QueueServiceClient.fromConnectionString(azurite().connectionString).getQueueClient(queueName);
  const peeked = (await queue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems;
  return { queue, messages: peeked.map((m) => decodeRotationMessage(m.messageText)) };
}

/** Lets a new host take the queue and waits for the worker's line about the app (by id when refused, by name when run). */
async function deliver(table: string, queue: string, app: { appId: string; name: string }): Promise<string> {
  const fleetHost = await world.startHost({ telemetry: recorder().telemetry, table, queue, settings: { ROLLOUT_SOAK_SECONDS: '0' } });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const line = fleetHost.lines.find((l) => l.includes(`rotate ${app.appId}:`) || l.includes(`rotate ${app.name}:`));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no worker line for ${app.name}:\n${fleetHost.lines.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the queue worker asks the rollout before rotating one of its apps', () => {
  it('aborted while its canary waits in the queue: the message is dropped, the canary is never restarted', async () => {
    const sb = await world.startSandbox(fleet(APPS, 'ok'));
    const table = uniqueName('rollgate');
    const queueName = uniqueName('rollgate');
    const fleetHost = await world.startHost({ telemetry: recorder().telemetry, table, queue: queueName, queues: false });
    await fleetHost.host.invokeTimer('nightlyScan');
    const [rollout] = await fleetHost.rollouts();
    const canary = rollout!.waves[0]!.apps[0]!;
    expect((await queuedMessages(queueName)).messages.map((m) => [m.appId, m.rollout?.id])).toEqual([[canary.appId, rollout!.id]]);
    expect((await fleetHost.api(`/rollouts/${rollout!.id}/abort`, { method: 'POST' })).status).toBe(200);
    await world.stopHost();

    const line = await deliver(table, queueName, canary);
    expect(line).toContain(`not rotated, rollout ${rollout!.id} is aborted`);
    expect(outside(sb, names(APPS), 0).map((a) => a.restarts)).toEqual(Array(APPS).fill(0));
    expect(((await world.fleetHost.api('/rotations?limit=100')).body as { rotations: unknown[] }).rotations).toEqual([]);
  }, 180_000);

  it('superseded by a newer version while its canary waits: the old message rotates nothing; the new rollout is untouched', async () => {
    const sb = await world.startSandbox(fleet(APPS, 'ok'));
    const table = uniqueName('rollgate');
    const queueName = uniqueName('rollgate');
    const fleetHost = await world.startHost({ telemetry: recorder().telemetry, table, queue: queueName, queues: false });
    await fleetHost.host.invokeTimer('nightlyScan');
    const [first] = await fleetHost.rollouts();
    const oldCanary = first!.waves[0]!.apps[0]!;

    // Key Vault gets a newer version before the worker took the first canary's message; the next run starts its rollout.
    sb.control.renew('kv-fleet', 'client', { issuer: 'new-ca', notAfterDays: 400 });
    await fleetHost.host.invokeTimer('nightlyScan');
    const rollouts = await fleetHost.rollouts();
    const second = rollouts.find((r) => r.id !== first!.id)!;
    expect(rollouts.find((r) => r.id === first!.id)!.status).toBe('superseded');
    expect(second.status).toBe('running');
    await world.stopHost();

    // Only the superseded rollout's message is delivered: the new canary's is taken off the queue first.
    const { queue, messages } = await queuedMessages(queueName);
    expect(messages.map((m) => m.rollout?.id).sort()).toEqual([first!.id, second.id].sort());
    for (const m of (await queue.receiveMessages({ numberOfMessages: 32 })).receivedMessageItems) {
      if (decodeRotationMessage(m.messageText).rollout?.id === second.id) await queue.deleteMessage(m.messageId, m.popReceipt);
      else await queue.updateMessage(m.messageId, m.popReceipt, undefined, 0);
    }

    const line = await deliver(table, queueName, oldCanary);
    expect(line).toContain(`not rotated, rollout ${first!.id} is superseded`);
    expect(outside(sb, names(APPS), 0).map((a) => a.restarts)).toEqual(Array(APPS).fill(0));
    const after = (await world.fleetHost.rollouts()).find((r) => r.id === second.id)!;
    expect(after.waves.flatMap((w) => w.apps.map((a) => a.state))).toEqual(second.waves.flatMap((w) => w.apps.map((a) => a.state)));
  }, 180_000);
});
