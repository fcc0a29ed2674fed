// What a full scan leaves for events: the source → apps index is written only when events are switched on (with
// EVENT_ROTATION off every event is dropped unread, and the write, one Table transaction per source, would delay the
// fan-out for nobody).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.js';
import type { Plan } from '../../../src/core/decision/plan.js';
import { afterScan } from '../../../src/core/events/afterScan.js';
import type { SourceIndex, SourceIndexEntry } from '../../../src/core/events/sourceIndex.js';
import { noTelemetry } from '../../../src/core/events.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { ScanResult } from '../../../src/core/scan.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VAULT = 'https://kv-a.vault.azure.net';

function recordingIndex() {
  const replaced: Array<{ subscriptions: readonly string[]; entries: readonly SourceIndexEntry[] }> = [];
  const index: SourceIndex = {
    replace: async (subscriptions, entries) => {
      replaced.push({ subscriptions, entries });
      return { written: entries.length, removed: 0 };
    },
    boundTo: async () => [],
    knowsVault: async () => false,
    claim: async () => true,
    release: async () => undefined,
    noteEvent: async () => undefined,
    eventSeen: async () => undefined,
  };
  return { index, replaced };
}

/** Two apps of one subscription, each loading its own certificate of one vault. */
const scan = {
  subscriptions: [{ subscriptionId: SUB, ok: true }],
  apps: ['a', 'b'].map((name) => ({
    appId: `/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.web/sites/${name}`,
    ref: { subscriptionId: SUB, resourceGroup: 'rg', site: name },
    bindings: [{ source: { vaultUrl: VAULT, name: `client-${name}` }, mode: 'explicit' }],
  })),
} as unknown as ScanResult;
const plan = { apps: [] } as unknown as Plan;
const clock = { now: () => new Date('2026-06-01T12:00:00Z'), sleep: async () => undefined };

describe('afterScan: the source index follows EVENT_ROTATION', () => {
  it.each([
    ['EVENT_ROTATION=false: no index write', 'false', 0],
    ['EVENT_ROTATION=true: one index replace with an entry per app and source', 'true', 1],
  ])('%s', async (_name, eventRotation, replaces) => {
    const config = loadConfig({ AZURE_SUBSCRIPTION_IDS: SUB, AzureWebJobsStorage: 'UseDevelopmentStorage=true', EVENT_ROTATION: eventRotation });
    const { index, replaced } = recordingIndex();
    const missed = await afterScan({ sourceIndex: index, telemetry: noTelemetry, logger: silentLogger, clock }, config, scan, plan);
    expect(missed).toEqual([]);
    expect(replaced).toHaveLength(replaces);
    if (replaces > 0) {
      expect(replaced[0]!.subscriptions).toEqual([SUB]);
      expect(replaced[0]!.entries.map((e) => e.sourceKey)).toEqual([`${VAULT}/certificates/client-a`, `${VAULT}/certificates/client-b`]);
    }
  });
});
