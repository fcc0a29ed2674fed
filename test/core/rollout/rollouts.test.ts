// The rollout use cases over the real Table adapter (Azurite): what halts a wave and what lets the next one go. The
// queue is a recorder of what would be sent (the fan-out's own queue is tested in test/azure/rotationQueue.test.ts).
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { TableRolloutStore } from '../../../src/azure/tableRolloutStore.js';
import { noTelemetry } from '../../../src/core/events.js';
import { silentLogger } from '../../../src/core/logger.js';
import { systemClock } from '../../../src/core/ports.js';
import { createRollouts, type DueApp, type RolloutRef } from '../../../src/core/rollout/rollouts.js';
import { uniqueName, useAzurite } from '../../helpers/azurite.js';

const azurite = useAzurite();
const SOURCE = 'https://kv.vault.azure.net/certificates/client';

const due = (n: number): DueApp[] =>
  Array.from({ length: n }, (_, i) => ({
    appId: `/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/app${String(i).padStart(2, '0')}`,
    name: `app${String(i).padStart(2, '0')}`,
    due: [{ sourceUrl: SOURCE, candidate: { id: `${SOURCE}/v2`, thumbprint: 'AB'.repeat(20) } }],
    notAfter: ['2027-01-01T00:00:00.000Z'],
  }));

async function world(maxFailurePercent: number) {
  const table = TableClient.fromConnectionString(azurite().connectionString, uniqueName('rollcore'), { allowInsecureConnection: true });
  await table.createTable();
  const sent: Array<{ appId: string; rollout?: RolloutRef }> = [];
  const store = new TableRolloutStore(async () => table);
  const rollouts = createRollouts(
    {
      rollouts: store,
      rotations: { listForApp: async () => [] },
      queue: async (appId, _reason, rollout) => void sent.push({ appId, ...(rollout ? { rollout } : {}) }),
      telemetry: noTelemetry,
      clock: systemClock,
      logger: silentLogger,
    },
    { waves: [{ apps: 1 }, { apps: 10 }], soakSeconds: 0, maxFailurePercent, urgentDays: 7, rotationTag: 'mtls-rotation', leaseSeconds: 900 },
  );
  return { rollouts, sent, store };
}

describe('a wave ends: halt or next wave', () => {
  it.each([
    ['one rollback halts even with a 50 % threshold', 50, { rolledBack: 1 }, 'halted'],
    ['one failed rotation halts even with a 50 % threshold', 50, { failed: 1 }, 'halted'],
    ['one aborted of ten is 10 %: not above a 10 % threshold, the next wave goes', 10, { aborted: 1 }, 'running'],
    ['two aborted of ten is 20 %: above a 10 % threshold, it halts', 10, { aborted: 2 }, 'halted'],
    ['with the default threshold (0), one aborted halts', 0, { aborted: 1 }, 'halted'],
    ['apps that had nothing left to do do not count: nine unchanged and one aborted is 100 %', 50, { unchanged: 9, aborted: 1 }, 'halted'],
  ] as const)('%s', async (_s, threshold, outcomes, status) => {
    const { rollouts, sent } = await world(threshold);
    const report = await rollouts.dispatch(due(20), () => 'NearingExpiry');
    expect(report.queued).toHaveLength(1);
    expect(report.held).toHaveLength(19);
    // The canary's wave is sent once: by the step that queued the wave, not again by the dispatch that started it.
    expect(sent).toEqual([{ appId: report.queued[0]!.appId, rollout: report.queued[0]!.rollout }]);
    const ref = report.queued[0]!.rollout!;
    await rollouts.recordResult(ref, { appId: report.queued[0]!.appId, outcome: 'committed', rotationId: 'r-canary' });
    const second = sent.filter((m) => m.rollout?.wave === 1);
    expect(second).toHaveLength(10);

    const states = Object.entries(outcomes).flatMap(([outcome, n]) => Array.from({ length: n }, () => outcome));
    for (const [i, message] of second.entries()) {
      const outcome = states[i] ?? 'committed';
      await rollouts.recordResult(message.rollout!, { appId: message.appId, outcome: outcome === 'unchanged' ? 'skipped' : outcome, reason: outcome === 'unchanged' ? 'NothingDue' : 'why' });
    }
    const rollout = await rollouts.get(ref.id);
    expect(rollout.status).toBe(status);
    expect(sent.filter((m) => m.rollout?.wave === 2)).toHaveLength(status === 'running' ? 9 : 0);
    if (status === 'halted') expect(rollout.halt?.evidence.length).toBe(states.filter((s) => s !== 'unchanged').length);
  }, 60_000);

  it('ten workers reporting the same wave at once lose no result and queue the next wave exactly once', async () => {
    const { rollouts, sent } = await world(0);
    const report = await rollouts.dispatch(due(20), () => 'NearingExpiry');
    await rollouts.recordResult(report.queued[0]!.rollout!, { appId: report.queued[0]!.appId, outcome: 'committed' });
    const second = sent.filter((m) => m.rollout?.wave === 1);
    await Promise.all(second.map((m, i) => rollouts.recordResult(m.rollout!, { appId: m.appId, outcome: 'committed', rotationId: `r-${i}` })));
    const rollout = await rollouts.get(report.queued[0]!.rollout!.id);
    expect(rollout.waves[1]!.apps.map((a) => a.state)).toEqual(Array(10).fill('committed'));
    expect(sent.filter((m) => m.rollout?.wave === 2)).toHaveLength(9);
    expect(rollout.current).toBe(2);
  }, 60_000);

  it('a second nightly run finds the rollout of the first: it queues nothing new and holds the waiting apps', async () => {
    const { rollouts, sent } = await world(0);
    const first = await rollouts.dispatch(due(20), () => 'NearingExpiry');
    const second = await rollouts.dispatch(due(20), () => 'NearingExpiry');
    expect(second.held.map((h) => h.appId).sort()).toEqual(first.held.map((h) => h.appId).sort());
    // The canary, still in flight, is queued again (the lease makes a duplicate harmless); nobody else is.
    expect(second.queued.map((q) => q.appId)).toEqual(first.queued.map((q) => q.appId));
    expect(new Set(sent.map((m) => m.appId)).size).toBe(1);
  }, 60_000);
});

describe('a dispatch that sees only part of a group (duplicate deliveries of one Key Vault event)', () => {
  it('a lone app of a shared source starts the rollout as its canary instead of going straight to the queue', async () => {
    const { rollouts, sent } = await world(0);
    const [lone, ...others] = due(5);
    const first = await rollouts.dispatch([lone!], () => 'eventgrid', { alone: false });
    expect(first.queued).toEqual([{ appId: lone!.appId, name: lone!.name, rollout: { id: expect.any(String), wave: 0 } }]);
    // The other delivery's apps join the rollout behind the canary; none of them is sent.
    const second = await rollouts.dispatch(others, () => 'eventgrid', { alone: false });
    expect(second.queued).toEqual([]);
    expect(second.held.map((h) => h.appId)).toEqual(others.map((a) => a.appId));
    expect(sent.map((m) => m.appId)).toEqual([lone!.appId]);
    const rollout = await rollouts.get(first.queued[0]!.rollout!.id);
    expect(rollout.waves.map((w) => w.apps.map((a) => a.appId))).toEqual([[lone!.appId], others.map((a) => a.appId)]);
  }, 60_000);

  it('apps joining a rollout whose canary wave is not sent yet (its creator still between create and send) get a wave of their own', async () => {
    const { rollouts, sent, store } = await world(0);
    const [canary, ...others] = due(4);
    // What another delivery's dispatch has written a moment before it sends the canary's wave.
    const first = await rollouts.dispatch([canary!], () => 'eventgrid', { alone: false });
    const stored = (await store.get(first.queued[0]!.rollout!.id))!;
    delete stored.rollout.waves[0]!.queuedAt;
    stored.rollout.waves[0]!.apps[0]!.state = 'pending';
    expect(await store.replace(stored.rollout, stored.etag)).toBe(true);
    sent.length = 0;

    const report = await rollouts.dispatch(others, () => 'eventgrid', { alone: false });
    const rollout = await rollouts.get(first.queued[0]!.rollout!.id);
    expect(rollout.waves.map((w) => w.apps.map((a) => a.appId))).toEqual([[canary!.appId], others.map((a) => a.appId)]);
    // This dispatch sends the canary's wave (it finds it unsent), and only that.
    expect(sent.map((m) => m.appId)).toEqual([canary!.appId]);
    expect(report.held.map((h) => h.appId)).toEqual(others.map((a) => a.appId));
  }, 60_000);

  it('without the hint (the nightly scan sees every due app), a lone app goes straight to the queue', async () => {
    const { rollouts, sent } = await world(0);
    const [lone] = due(1);
    const report = await rollouts.dispatch([lone!], () => 'NearingExpiry');
    expect(report.queued).toEqual([{ appId: lone!.appId, name: lone!.name }]);
    expect(sent).toEqual([{ appId: lone!.appId }]);
    expect(await rollouts.list()).toEqual([]);
  }, 60_000);
});
