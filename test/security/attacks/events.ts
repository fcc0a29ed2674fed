// Attacks through Key Vault events: whoever can reach the Event Grid webhook, or get a vault to publish,
// tries to make the rotator fetch from their host or rotate an app onto a certificate it is not granted. Measured
// from the outside: the hostile server's own request log, the sandbox's ARM writes, the queue.
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite, type Azurite } from '../../../sandbox/azurite.js';
import { startSandbox, type Sandbox } from '../../../sandbox/index.js';
import { sandboxAppSettings } from '../../../local/sandboxSettings.js';
import { configureServices, resetServices } from '../../../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../../../src/host/index.js';
import { watch } from '../../integration/world.js';
import { defineAttacks, type AttackOutcome } from '../harness.js';
import { startHostileServer, type HostileServer } from '../hostile.js';

const SUB = '66666666-6666-4666-8666-666666666666';
const OTHER = '77777777-7777-4777-8777-777777777777';
const KEY = 'events-attack-eventgrid-key';
const QUEUE = 'events-attack-queue';

interface World {
  azurite: Azurite;
  sb: Sandbox;
  host: LocalHost;
  hostile: HostileServer;
  webhook: string;
  vaultId: string;
}

const app = (site: string, cert: string) => ({
  name: `rg-${site}`,
  location: 'West Europe',
  certificates: [{ name: `${site}-v0`, fromVault: { vault: 'kv-ev', certificate: cert, version: 0 } }],
  sites: [
    {
      name: site,
      tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-source': `{{source:kv-ev/${cert}}}` },
      settings: { WEBSITE_LOAD_CERTIFICATES: `{{thumbprint:kv-ev/${cert}/0}}` },
    },
  ],
});

async function outcome(world: World, since: ReturnType<typeof watch>, evidence: string): Promise<AttackOutcome> {
  const queued = (await QueueServiceClient.fromConnectionString(world.azurite.connectionString).getQueueClient(QUEUE).getProperties()).approximateMessagesCount ?? 0;
  const writes = since.changes().length;
  const hostileRequests = world.hostile.log.length;
  return {
    succeeded: queued > 0 || hostileRequests > 0,
    writes,
    tokensOffVault: world.hostile.tokens(),
    evidence: `${evidence}; queued ${queued}, hostile server requests ${hostileRequests}, ARM writes ${writes}`,
  };
}

async function post(world: World, url: string, data: Record<string, unknown>): Promise<number> {
  const event = [
    { id: `forged-${Math.random().toString(36).slice(2)}`, topic: world.vaultId, subject: String(data.ObjectName), eventType: 'Microsoft.KeyVault.CertificateNewVersionCreated', eventTime: new Date().toISOString(), data, dataVersion: '1', metadataVersion: '1' },
  ];
  const res = await fetch(url, { method: 'POST', headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' }, body: JSON.stringify(event) });
  await res.arrayBuffer();
  return res.status;
}

export default defineAttacks<World>({
  name: 'Key Vault events',
  async setup() {
    const azurite = await startAzurite();
    const hostile = await startHostileServer();
    const sb = await startSandbox(
      {
        name: 'event-attacks',
        cas: [{ name: 'ca' }],
        vaults: [
          {
            name: 'kv-ev',
            subscriptionId: SUB,
            resourceGroup: 'rg-kv',
            certificates: [
              { name: 'victim-client', versions: [{ issuer: 'ca', notBeforeDays: -10, notAfterDays: 300 }] },
              // Team B's certificate: granted to another subscription only; the thief's app names it anyway.
              { name: 'b-client', versions: [{ issuer: 'ca', notBeforeDays: -10, notAfterDays: 300 }], tags: { 'mtls-rotation-consumers': `/subscriptions/${OTHER}` } },
            ],
          },
        ],
        subscriptions: [{ id: SUB, resourceGroups: [{ name: 'rg-kv', location: 'West Europe' }, app('victim', 'victim-client'), app('thief', 'b-client')] }],
      },
      { simulateApps: false },
    );
    // The engine trusts the hostile server too: only the rules, not TLS, may keep a request from it.
    configureServices({ tlsCa: `${sb.caPem}\n${hostile.caPem}` });
    const host = await startLocalHost({
      register: () => import('../../../src/functions/index.js'),
      settings: {
        ...sandboxAppSettings({ armEndpoint: sb.armEndpoint, token: sb.token, subscriptionId: SUB, storageConnectionString: azurite.connectionString, functionsKey: 'k', rotationQueue: QUEUE, rotationTable: 'eventattacks' }),
        FUNCTIONS_EVENTGRID_KEY: KEY,
      },
      localSettings: false,
      port: 0,
      log: () => undefined,
      timers: { scheduled: false },
      // What an event queues is counted, not run.
      queues: { enabled: false },
    });
    await host.invokeTimer('nightlyScan');
    // The queue exists from the start, so an empty one reads as "nothing queued" rather than as an error.
    await QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(QUEUE).createIfNotExists();
    const webhook = `${host.url}/runtime/webhooks/eventgrid?functionName=certificateEvents&code=${KEY}`;
    await sb.eventGrid.subscribe({ endpoint: webhook, schema: 'CloudEvents', timeScale: 0.001 });
    return { azurite, sb, host, hostile, webhook, vaultId: `/subscriptions/${SUB}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv-ev` };
  },
  async teardown(world) {
    world.sb.eventGrid.stop();
    await world.host.stop();
    resetServices();
    await world.sb.stop();
    await world.hostile.close();
    await world.azurite.stop();
  },
  attacks: [
    {
      name: 'a forged event whose certificate id is on a host that is not Key Vault (a wildcard-DNS name of 127.0.0.1)',
      async attempt(world) {
        const since = watch(world.sb);
        const status = await post(world, world.webhook, { Id: `https://kv-ev.127.0.0.1.nip.io:${world.hostile.port}/certificates/victim-client/00ff`, VaultName: 'kv-ev', ObjectType: 'Certificate', ObjectName: 'victim-client', Version: '00ff' });
        return outcome(world, since, `webhook answered ${status}`);
      },
    },
    {
      name: 'a forged event whose certificate id is the hostile server on 127.0.0.1 (a host the sandbox allow-lists for its vaults)',
      async attempt(world) {
        const since = watch(world.sb);
        const status = await post(world, world.webhook, { Id: `https://127.0.0.1:${world.hostile.port}/certificates/victim-client/00ff`, VaultName: 'kv-ev', ObjectType: 'Certificate', ObjectName: 'victim-client', Version: '00ff' });
        return outcome(world, since, `webhook answered ${status}`);
      },
    },
    {
      name: 'the forged event sent without the eventgrid_extension key',
      async attempt(world) {
        const since = watch(world.sb);
        const url = world.webhook.replace(/code=[^&]*/, 'code=guess');
        const status = await post(world, url, { Id: `${world.sb.vaultUrl('kv-ev')}/certificates/victim-client/00ff`, VaultName: 'kv-ev', ObjectType: 'Certificate', ObjectName: 'victim-client', Version: '00ff' });
        const result = await outcome(world, since, `webhook answered ${status}`);
        return { ...result, succeeded: result.succeeded || status !== 401 };
      },
    },
    {
      name: "a genuine new version of team B's certificate, which my app names but is not granted, is published to the rotator",
      async attempt(world) {
        const since = watch(world.sb);
        world.sb.control.renew('kv-ev', 'b-client', { issuer: 'ca', notAfterDays: 365 });
        await world.sb.eventGrid.idle();
        const delivered = world.sb.eventGrid.attempts().at(-1);
        return outcome(world, since, `delivered ${String(delivered?.status)}`);
      },
    },
  ],
});
