// The local host polls a queue the way the Functions host documents it (host.json reference, extensions.queues):
// a batch of `batchSize` messages runs in parallel, and the next batch is fetched once only `newBatchThreshold`
// are still running (default batchSize / 2), so one instance runs at most batchSize + newBatchThreshold at once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import { encodeQueueMessage, LocalHostConfigError, startLocalHost } from '../../src/host/index.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();
const dir = mkdtempSync(path.join(tmpdir(), 'host-json-'));

function hostJson(queues: Record<string, unknown>): string {
  const file = path.join(dir, `${uniqueName('host')}.json`);
  writeFileSync(file, JSON.stringify({ version: '2.0', extensions: { queues } }));
  return file;
}

async function waitFor(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('queue batches from host.json', () => {
  it.each([
    { case: 'batchSize 4 with the default newBatchThreshold (2) runs at most 6 at once', queues: { batchSize: 4 }, bound: 6 },
    { case: 'batchSize 4 and newBatchThreshold 0 fetch a batch only when the last one is done', queues: { batchSize: 4, newBatchThreshold: 0 }, bound: 4 },
    { case: 'batchSize 1 and newBatchThreshold 0 run one message at a time', queues: { batchSize: 1, newBatchThreshold: 0 }, bound: 1 },
  ])('$case', async ({ queues, bound }) => {
    const { seen } = await import('./batches/slowQueue.js');
    Object.assign(seen, { running: 0, peak: 0, done: [] });
    const queueName = uniqueName('slow');
    const queue = QueueServiceClient.fromConnectionString(azurite().connectionString).getQueueClient(queueName);
    await queue.create();
    // Two quick and two slow in every four: the quick ones bring the running count down to the threshold while the
    // slow ones still run, which is when the next batch joins them.
    const ids = Array.from({ length: 12 }, (_, i) => `m${i}`);
    for (const [i, id] of ids.entries()) await queue.sendMessage(encodeQueueMessage({ id, holdMs: i % 4 < 2 ? 50 : 1500 }));
    const host = await startLocalHost({
      register: () => import('./batches/slowQueue.js'),
      functions: ['slow'],
      settings: { SLOW_QUEUE: queueName, SlowStorage: azurite().connectionString },
      localSettings: false,
      hostJson: hostJson(queues),
      port: 0,
      log: () => undefined,
      queues: { minPollingIntervalMs: 20, maxPollingIntervalMs: 200 },
    });
    try {
      await waitFor('every message to be processed', () => seen.done.length === ids.length);
    } finally {
      await host.stop();
    }
    expect([...seen.done].sort()).toEqual([...ids].sort());
    expect(seen.peak).toBeLessThanOrEqual(bound);
    // Reached, so the limit and not an idle queue is what kept it there.
    expect(seen.peak).toBe(bound);
  }, 120_000);

  it.each([
    { case: 'a batchSize above the extension’s 32 is refused, naming the setting', queues: { batchSize: 40 }, names: 'extensions.queues.batchSize' },
    { case: 'a negative newBatchThreshold is refused, naming the setting', queues: { batchSize: 8, newBatchThreshold: -1 }, names: 'extensions.queues.newBatchThreshold' },
    { case: 'a batchSize that is not a number is refused, naming the setting', queues: { batchSize: '8' }, names: 'extensions.queues.batchSize' },
  ])('$case', async ({ queues, names }) => {
    const started = startLocalHost({
      register: () => import('./batches/slowQueue.js'),
      functions: ['slow'],
      settings: { SLOW_QUEUE: uniqueName('never'), SlowStorage: azurite().connectionString },
      localSettings: false,
      hostJson: hostJson(queues),
      port: 0,
      log: () => undefined,
    });
    await expect(started).rejects.toThrow(LocalHostConfigError);
    await expect(started).rejects.toThrow(names);
  });
});
