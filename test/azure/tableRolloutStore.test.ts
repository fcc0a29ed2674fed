// The rollout store against Azurite's Table service, through the real @azure/data-tables client.
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { TableRolloutStore, ROLLOUT_PARTITION } from '../../src/azure/tableRolloutStore.js';
import { PreconditionError } from '../../src/core/errors.js';
import type { Rollout } from '../../src/core/rollout/model.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();

async function store(): Promise<{ store: TableRolloutStore; table: TableClient }> {
  const table = TableClient.fromConnectionString(azurite().connectionString, uniqueName('rollouts'), { allowInsecureConnection: true });
  await table.createTable();
  return { store: new TableRolloutStore(async () => table), table };
}

const rollout = (id: string, apps = 3): Rollout => ({
  id,
  source: 'https://kv.vault.azure.net/certificates/client',
  candidate: 'https://kv.vault.azure.net/certificates/client/v2',
  status: 'running',
  current: 0,
  waves: [{ apps: Array.from({ length: apps }, (_, i) => ({ appId: `/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/app${i}-${'x'.repeat(80)}`, name: `app${i}`, state: 'pending' as const })) }],
  actions: [],
  createdAt: '2026-12-07T00:00:00.000Z',
  updatedAt: '2026-12-07T00:00:00.000Z',
});

describe('TableRolloutStore on Azurite', () => {
  it('creates once, reads back what it wrote, and lists only the rollout partition', async () => {
    const { store: s, table } = await store();
    await table.createEntity({ partitionKey: 'slot', rowKey: '0000', Owner: 'x' });
    expect(await s.create(rollout('a'.repeat(20)))).toBe(true);
    expect(await s.create(rollout('a'.repeat(20)))).toBe(false);
    expect((await s.get('a'.repeat(20)))?.rollout).toEqual(rollout('a'.repeat(20)));
    expect(await s.get('b'.repeat(20))).toBeUndefined();
    expect((await s.list()).map((r) => r.id)).toEqual(['a'.repeat(20)]);
  });

  it('lists only the running and halted rollouts when asked for the active ones', async () => {
    const { store: s } = await store();
    const statuses = ['running', 'halted', 'completed', 'aborted', 'superseded'] as const;
    for (const [i, status] of statuses.entries()) await s.create({ ...rollout(String(i).repeat(20)), status });
    expect((await s.list({ active: true })).map((r) => r.status).sort()).toEqual(['halted', 'running']);
    expect(await s.list()).toHaveLength(statuses.length);
  });

  it('replaces only under the ETag it read: a writer that lost the race gets false and nothing of it is kept', async () => {
    const { store: s } = await store();
    await s.create(rollout('c'.repeat(20)));
    const first = (await s.get('c'.repeat(20)))!;
    const second = (await s.get('c'.repeat(20)))!;
    expect(await s.replace({ ...first.rollout, status: 'halted' }, first.etag)).toBe(true);
    expect(await s.replace({ ...second.rollout, status: 'aborted' }, second.etag)).toBe(false);
    expect((await s.get('c'.repeat(20)))!.rollout.status).toBe('halted');
  });

  it('keeps a rollout of thousands of apps, split over columns, and refuses one larger than an entity before writing', async () => {
    const { store: s, table } = await store();
    // 2,000 apps are about 0.8 MB as the Table service counts (UTF-16): under an entity's 1 MiB.
    expect(await s.create(rollout('d'.repeat(20), 2000))).toBe(true);
    expect((await s.get('d'.repeat(20)))!.rollout.waves[0]!.apps).toHaveLength(2000);
    // 3,000 fit in the columns (21 of 30) but are 1.2 MB, which the service refuses and Azurite would keep;
    // 20,000 do not even fit in the columns.
    for (const [id, apps] of [['e'.repeat(20), 20_000], ['g'.repeat(20), 3000]] as const) {
      await expect(s.create(rollout(id, apps))).rejects.toThrow(PreconditionError);
      await expect(s.create(rollout(id, apps))).rejects.toThrow(/exceeds what one table entity holds/);
      expect(await s.get(id)).toBeUndefined();
    }
    expect((await table.getEntity(ROLLOUT_PARTITION, 'd'.repeat(20))).Status).toBe('running');
  });

  it('a damaged row is an error naming the rollout, not a rollout', async () => {
    const { store: s, table } = await store();
    await table.createEntity({ partitionKey: ROLLOUT_PARTITION, rowKey: 'f'.repeat(20), JsonChunks: 1, Json0: '{"id":' });
    await expect(s.get('f'.repeat(20))).rejects.toThrow(`rollout ${'f'.repeat(20)}: the stored state is not readable JSON`);
  });
});
