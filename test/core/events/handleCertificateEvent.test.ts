// The event use case's own decisions, over in-memory ports (the end-to-end paths through the SDKs, the sandbox and
// Azurite are in test/functions/certificateEvents.test.ts): the switch, versions Key Vault does not show yet, and a
// claim given back when the queue write fails. The due apps go through the real rollout dispatch over the Table
// adapter (Azurite); only its queue is a recorder that can fail.
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { TableRolloutStore } from '../../../src/azure/tableRolloutStore.js';
import { createRollouts } from '../../../src/core/rollout/rollouts.js';
import { uniqueName, useAzurite } from '../../helpers/azurite.js';
import { loadConfig } from '../../../src/core/config.js';
import { TransientError } from '../../../src/core/errors.js';
import { noTelemetry } from '../../../src/core/events.js';
import { parseCertificateEvent } from '../../../src/core/events/certificateEvent.js';
import { handleCertificateEvent, type CertificateEventDeps } from '../../../src/core/events/handleCertificateEvent.js';
import type { SourceIndex, SourceIndexEntry } from '../../../src/core/events/sourceIndex.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Plan } from '../../../src/core/decision/plan.js';
import type { KeyVaultCertificateVersion } from '../../../src/core/ports.js';

const azurite = useAzurite();
const SUB = '00000000-0000-0000-0000-000000000001';
const APP = `/subscriptions/${SUB}/resourcegroups/rg-a/providers/microsoft.web/sites/a`;
const VAULT = 'https://kv-a.vault.azure.net';
const SOURCE = `${VAULT}/certificates/client`;
const NOW = new Date('2026-06-01T12:00:00Z');

const config = (eventRotation: boolean) =>
  loadConfig({ AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage: 'UseDevelopmentStorage=true', EVENT_ROTATION: String(eventRotation), SOURCE_POLICY: `/subscriptions/${SUB} => kv-a.vault.azure.net/*` });

const version = (v: string, createdMinutesAgo: number): KeyVaultCertificateVersion => ({
  source: { vaultUrl: VAULT, name: 'client' },
  version: v,
  id: `${SOURCE}/${v}`,
  thumbprint: v.toUpperCase().padEnd(40, '0'),
  enabled: true,
  createdOn: new Date(NOW.getTime() - createdMinutesAgo * 60_000),
});

const event = (v: string, minutesAgo = 0) =>
  parseCertificateEvent({
    id: `event-${v}-${minutesAgo}`,
    topic: `/subscriptions/${SUB}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv-a`,
    subject: 'client',
    eventType: 'Microsoft.KeyVault.CertificateNewVersionCreated',
    eventTime: new Date(NOW.getTime() - minutesAgo * 60_000).toISOString(),
    data: { Id: `${SOURCE}/${v}`, VaultName: 'kv-a', ObjectType: 'Certificate', ObjectName: 'client', Version: v },
    dataVersion: '1',
    metadataVersion: '1',
  });

class MemoryIndex implements SourceIndex {
  readonly claims = new Set<string>();
  reads = 0;
  constructor(private readonly entries: SourceIndexEntry[]) {}
  async replace() {
    return { written: 0, removed: 0 };
  }
  async boundTo(sourceKey: string) {
    this.reads += 1;
    return this.entries.filter((e) => e.sourceKey === sourceKey);
  }
  async knowsVault(vaultUrl: string) {
    return this.entries.some((e) => e.vaultUrl === vaultUrl);
  }
  async claim(appId: string, v: string) {
    const key = `${appId}|${v}`;
    if (this.claims.has(key)) return false;
    this.claims.add(key);
    return true;
  }
  async release(appId: string, v: string) {
    this.claims.delete(`${appId}|${v}`);
  }
  async noteEvent() {}
  async eventSeen() {
    return undefined;
  }
}

/** The app loads version v0; Key Vault's versions are `versions`, the latest read answers `latest` (default: the last). */
async function world(versions: KeyVaultCertificateVersion[], options: { queueFails?: number; latest?: string } = {}) {
  const index = new MemoryIndex([{ sourceKey: SOURCE, vaultUrl: VAULT, certificateName: 'client', appId: APP, subscriptionId: SUB, mode: 'explicit', thumbprint: 'V0'.padEnd(40, '0') }]);
  const sent: string[] = [];
  let failures = options.queueFails ?? 0;
  const latest = versions.find((v) => v.version === options.latest) ?? versions.at(-1)!;
  const table = TableClient.fromConnectionString(azurite().connectionString, uniqueName('evroll'), { allowInsecureConnection: true });
  await table.createTable();
  const rollouts = createRollouts(
    {
      rollouts: new TableRolloutStore(async () => table),
      rotations: { listForApp: async () => [] },
      queue: async (appId) => {
        if (failures > 0) {
          failures -= 1;
          throw new TransientError('queue unavailable');
        }
        sent.push(appId);
      },
      telemetry: noTelemetry,
      clock: { now: () => NOW, sleep: async () => undefined },
      logger: silentLogger,
    },
    { waves: [{ apps: 1 }, { percent: 10 }], soakSeconds: 0, maxFailurePercent: 0, urgentDays: 7, rotationTag: 'mtls-rotation', leaseSeconds: 900 },
  );
  const deps: CertificateEventDeps = {
    planApp: async (): Promise<{ plan: Plan }> => {
      const due = latest.version !== 'v0';
      const plan: Plan = {
        generatedAt: NOW.toISOString(),
        dueApps: due ? 1 : 0,
        dueBindings: due ? 1 : 0,
        apps: [
          {
            appId: APP,
            name: 'a',
            ref: { subscriptionId: SUB, resourceGroup: 'rg-a', site: 'a' },
            mode: 'explicit',
            action: due ? 'rotate' : 'none',
            due: due ? [{ key: 'V0', reason: 'NewerVersionAvailable', message: 'newer', candidate: latest, sourceUrl: SOURCE }] : [],
            bindings: [{ key: 'V0', thumbprint: 'V0'.padEnd(40, '0'), source: SOURCE, reason: due ? 'NewerVersionAvailable' : 'UpToDate', message: '', due }],
            problems: [],
          },
        ],
      };
      return { plan };
    },
    keyVault: {
      getLatest: async () => latest,
      getVersion: async (_s, v) => versions.find((x) => x.version === v),
    },
    index,
    dispatch: (due, reasonOf) => rollouts.dispatch(due, reasonOf),
    telemetry: noTelemetry,
    logger: silentLogger,
    clock: { now: () => NOW, sleep: async () => undefined },
  };
  return { deps, index, sent };
}

describe('handleCertificateEvent', () => {
  it('with EVENT_ROTATION=false drops every event without reading the index or Key Vault', async () => {
    const { deps, index, sent } = await world([version('v0', 100), version('v1', 1)]);
    const outcome = await handleCertificateEvent(deps, config(false), event('v1'));
    expect(outcome).toMatchObject({ outcome: 'ignored', reason: 'Disabled' });
    expect(index.reads).toBe(0);
    expect(sent).toEqual([]);
  });

  it.each([
    ['a fresh event whose version Key Vault does not show at all fails, so Event Grid delivers it again', [version('v0', 100)], 'v1', 0, 'throws'],
    // v2 exists (its version reads) but the latest read still answers v1: a replica behind.
    ['a fresh event whose version is newer than what Key Vault shows as latest fails the same way', [version('v0', 100), version('v1', 5), version('v2', 0)], 'v2', 0, 'throws'],
    ['the same unknown version, announced more than 10 minutes ago, is dropped as VersionNotFound', [version('v0', 100)], 'v1', 11, 'VersionNotFound'],
  ])('%s', async (_sentence, versions, announced, minutesAgo, expected) => {
    const { deps, sent } = await world(versions as KeyVaultCertificateVersion[], announced === 'v2' ? { latest: 'v1' } : {});
    const run = handleCertificateEvent(deps, config(true), event(announced as string, minutesAgo as number));
    if (expected === 'throws') await expect(run).rejects.toBeInstanceOf(TransientError);
    else await expect(run).resolves.toMatchObject({ outcome: 'ignored', reason: expected });
    expect(sent).toEqual([]);
  });

  it('a queue write that fails gives the claim back: the failed delivery reports the app failed, the retried one queues it once', async () => {
    const { deps, sent, index } = await world([version('v0', 100), version('v1', 1)], { queueFails: 1 });
    const first = await handleCertificateEvent(deps, config(true), event('v1'));
    expect(first).toMatchObject({ outcome: 'handled', apps: [{ appId: APP, action: 'failed' }] });
    expect(index.claims.size).toBe(0);
    const retry = await handleCertificateEvent(deps, config(true), event('v1'));
    expect(retry).toMatchObject({ outcome: 'handled', apps: [{ appId: APP, action: 'queued' }] });
    const duplicate = await handleCertificateEvent(deps, config(true), event('v1'));
    expect(duplicate).toMatchObject({ outcome: 'handled', apps: [{ appId: APP, action: 'duplicate' }] });
    expect(sent).toEqual([APP]);
  });
});
