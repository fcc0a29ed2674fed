// The poison threshold is written once, in host.json (extensions.queues.maxDequeueCount), and may be overridden by
// the app setting the Functions host reads for it. The function app (which raises PoisonMessage on the last attempt)
// and the local host (which moves the message to <queue>-poison) both take it from there, and agree.
import fs from 'node:fs';
import path from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, describe, expect, it } from 'vitest';
import { HostSettingError, MAX_DEQUEUE_COUNT_SETTING, maxDequeueCount } from '../../src/functions/app/hostJson.js';
import { sandboxAppSettings } from '../../local/sandboxSettings.js';
import { configureServices, resetServices } from '../../src/functions/app/services.js';
import { startLocalHost } from '../../src/host/index.js';
import { readHostJson, withHostJsonOverrides } from '../../src/host/settings.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { RecordingTelemetry } from '../helpers/memory-ports.js';

const root = path.resolve(import.meta.dirname, '../..');
const hostJsonFile = path.join(root, 'host.json');
const written = JSON.parse(fs.readFileSync(hostJsonFile, 'utf8')).extensions.queues.maxDequeueCount as number;

describe('the poison threshold', () => {
  it('is a positive integer in host.json', () => {
    expect(Number.isInteger(written) && written >= 1).toBe(true);
  });

  it('the function app and the local host read the same value from it', () => {
    expect(maxDequeueCount({})).toBe(written);
    expect(readHostJson(hostJsonFile).queues.maxDequeueCount).toBe(written);
  });

  it.each([
    ['an override wins', '2', 2],
    ['an empty override is no override', '', written],
    ['an override with spaces', ' 7 ', 7],
  ])(`${MAX_DEQUEUE_COUNT_SETTING}: %s, in both`, (_sentence, value, expected) => {
    expect(maxDequeueCount({ [MAX_DEQUEUE_COUNT_SETTING]: value })).toBe(expected);
    expect(withHostJsonOverrides(readHostJson(hostJsonFile), { [MAX_DEQUEUE_COUNT_SETTING]: value }).queues.maxDequeueCount).toBe(expected);
  });

  it.each([['zero', '0'], ['text', 'five'], ['a fraction', '2.5']])(`refuses an override of %s, naming ${MAX_DEQUEUE_COUNT_SETTING}`, (_sentence, value) => {
    const message = `${MAX_DEQUEUE_COUNT_SETTING} must be a positive integer, got '${value}'`;
    expect(() => maxDequeueCount({ [MAX_DEQUEUE_COUNT_SETTING]: value })).toThrow(new HostSettingError(message));
    expect(() => withHostJsonOverrides(readHostJson(hostJsonFile), { [MAX_DEQUEUE_COUNT_SETTING]: value })).toThrow(message);
  });
});

describe('the real rotateApp function under the local host, with the threshold overridden to 2', () => {
  const azurite = useAzurite();
  const recorder = new RecordingTelemetry();
  const events = recorder.events;
  let stop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await stop?.();
    resetServices();
  });

  it('alerts on the second attempt and the host moves the message to poison after it, not before', async () => {
    const queueName = uniqueName('poison');
    configureServices({ telemetry: recorder });
    const lines: string[] = [];
    const host = await startLocalHost({
      register: () => import('../../src/functions/index.js'),
      settings: {
        ...sandboxAppSettings({
          // The message below is unreadable, so ARM is never called.
          armEndpoint: 'https://127.0.0.1:9',
          token: 'unused',
          subscriptionId: '00000000-0000-0000-0000-000000000001',
          storageConnectionString: azurite().connectionString,
          functionsKey: 'k',
          rotationQueue: queueName,
          rotationTable: uniqueName('rot'),
        }),
        [MAX_DEQUEUE_COUNT_SETTING]: '2',
      },
      localSettings: false,
      port: 0,
      log: (line) => lines.push(line),
      timers: { scheduled: false },
      queues: { visibilityTimeoutSeconds: 0, minPollingIntervalMs: 50, maxPollingIntervalMs: 250 },
    });
    stop = () => host.stop();
    const service = QueueServiceClient.fromConnectionString(azurite().connectionString);
    await service.getQueueClient(queueName).sendMessage(Buffer.from('{"not":"a rotation message"}').toString('base64'));
    const poison = service.getQueueClient(`${queueName}-poison`);
    const deadline = Date.now() + 30_000;
    while (((await poison.getProperties().catch(() => undefined))?.approximateMessagesCount ?? 0) === 0) {
      if (Date.now() > deadline) throw new Error(`no poison message; host log:\n${lines.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const attempts = lines.filter((l) => l.startsWith("executing 'rotateApp'"));
    expect(attempts).toHaveLength(2);
    const alerts = events.filter((e) => e.name === 'PoisonMessage');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.dimensions).toMatchObject({ appId: 'unreadable message', dequeueCount: 2 });
  }, 60_000);
});
