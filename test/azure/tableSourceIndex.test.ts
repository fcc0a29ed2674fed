// The source → apps index in Azure Table storage (Azurite): what a scan's rewrite keeps, changes and removes, and the
// claims and event marks that make event deliveries idempotent.
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { TableSourceIndex } from '../../src/azure/tableSourceIndex.js';
import type { SourceIndexEntry } from '../../src/core/events/sourceIndex.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();
const S1 = '00000000-0000-0000-0000-0000000000a1';
const S2 = '00000000-0000-0000-0000-0000000000a2';

async function index(): Promise<TableSourceIndex> {
  const table = TableClient.fromConnectionString(azurite().connectionString, uniqueName('ix'), { allowInsecureConnection: true });
  await table.createTable();
  return new TableSourceIndex({ table: async () => table });
}

const entry = (subscriptionId: string, site: string, certificate: string, thumbprint = 'AA'.repeat(20)): SourceIndexEntry => ({
  sourceKey: `https://kv-a.vault.azure.net/certificates/${certificate}`,
  vaultUrl: 'https://kv-a.vault.azure.net',
  certificateName: certificate,
  appId: `/subscriptions/${subscriptionId}/resourcegroups/rg/providers/microsoft.web/sites/${site}`,
  subscriptionId,
  mode: 'explicit',
  thumbprint,
});

describe('TableSourceIndex', () => {
  it('a second scan that found the same writes nothing; a changed thumbprint is rewritten; an app gone is removed', async () => {
    const ix = await index();
    expect(await ix.replace([S1], [entry(S1, 'a', 'c1'), entry(S1, 'b', 'c1')])).toEqual({ written: 2, removed: 0 });
    expect(await ix.replace([S1], [entry(S1, 'a', 'c1'), entry(S1, 'b', 'c1')])).toEqual({ written: 0, removed: 0 });
    expect(await ix.replace([S1], [entry(S1, 'a', 'c1', 'BB'.repeat(20))])).toEqual({ written: 1, removed: 1 });
    const bound = await ix.boundTo('https://kv-a.vault.azure.net/certificates/c1');
    expect(bound.map((e) => [e.appId.split('/').pop(), e.thumbprint])).toEqual([['a', 'BB'.repeat(20)]]);
  });

  it('a subscription the scan could not read keeps its entries', async () => {
    const ix = await index();
    await ix.replace([S1, S2], [entry(S1, 'a', 'c1'), entry(S2, 'z', 'c1')]);
    expect(await ix.replace([S1], [entry(S1, 'a', 'c1')])).toEqual({ written: 0, removed: 0 });
    expect((await ix.boundTo('https://kv-a.vault.azure.net/certificates/c1')).map((e) => e.subscriptionId).sort()).toEqual([S1, S2]);
  });

  it('250 apps on one certificate (more than one transaction holds) are written and read back in one look-up', async () => {
    const ix = await index();
    const many = Array.from({ length: 250 }, (_, i) => entry(S1, `app-${i}`, 'shared'));
    expect(await ix.replace([S1], many)).toEqual({ written: 250, removed: 0 });
    expect(await ix.boundTo('https://kv-a.vault.azure.net/certificates/shared')).toHaveLength(250);
  });

  it.each([
    ['a vault some app uses is known', 'https://kv-a.vault.azure.net', true],
    ['another vault is not', 'https://kv-b.vault.azure.net', false],
    ['a vault whose name starts like a known one is not', 'https://kv-a.vault.azure.ne', false],
  ])('%s', async (_sentence, vault, known) => {
    const ix = await index();
    await ix.replace([S1], [entry(S1, 'a', 'c1')]);
    expect(await ix.knowsVault(vault)).toBe(known);
  });

  it('a claim is won once per app and version, and can be given back; an event mark keeps its first time', async () => {
    const ix = await index();
    const app = entry(S1, 'a', 'c1').appId;
    expect(await ix.claim(app, 'v1', 'e1')).toBe(true);
    expect(await ix.claim(app, 'v1', 'e2')).toBe(false);
    expect(await ix.claim(app, 'v2', 'e3')).toBe(true);
    await ix.release(app, 'v1');
    expect(await ix.claim(app, 'v1', 'e4')).toBe(true);
    await ix.noteEvent('https://kv-a.vault.azure.net/certificates/c1', 'v1', new Date('2026-01-01T00:00:00Z'));
    await ix.noteEvent('https://kv-a.vault.azure.net/certificates/c1', 'v1', new Date('2026-01-02T00:00:00Z'));
    expect((await ix.eventSeen('https://kv-a.vault.azure.net/certificates/c1', 'v1'))?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(await ix.eventSeen('https://kv-a.vault.azure.net/certificates/c1', 'v9')).toBeUndefined();
  });
});
