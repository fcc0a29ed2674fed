// Event-driven rotation: how long a new Key Vault version takes to start its app's rotation, and how many
// ARM calls an event costs as the fleet grows. One process runs the sandbox (its Key Vault publishes to its Event Grid,
// which delivers to the local host's webhook), the local host with the real function app, and Azurite.
// - latency: `events` certificates, each bound to one app of a 100-app fleet; each gets a new version in turn;
//   measured from the moment the sandbox created the version to the rotation record's startedAt (the queue trigger
//   created it), with Event Grid's real (unscaled) retry schedule and the host's queue polling.
// - ARM calls per event: the same events against fleets of 100 and 2,000 opted-in apps, with the queue trigger off so
//   only the event's own look-ups are counted (the rotation that follows is the same as the nightly fan-out's).
import { startAzurite, type Azurite } from '../sandbox/azurite.js';
import { scaleScenario, startSandbox, type Sandbox, type Scenario } from '../sandbox/index.js';
import { sandboxAppSettings } from '../local/sandboxSettings.js';
import { configureServices, resetServices } from '../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../src/host/index.js';
import { round } from './scan.js';

const EVENTGRID_KEY = 'bench-eventgrid-key';
const FUNCTIONS_KEY = 'bench-functions-key';

/** A fleet of `apps` opted-in apps on one up-to-date certificate; the first `events` apps each load one of their own. */
export function eventWorld(apps: number, events: number, simulateApps: boolean): { scenario: Scenario; boundApps: string[] } {
  const scenario = scaleScenario({ subscriptions: 1, appsPerSubscription: apps, due: 0, withDownstream: simulateApps });
  const facts = scenario.meta?.facts as { vault: string; freshSource: string };
  const vault = scenario.vaults!.find((v) => v.name === facts.vault)!;
  const fresh = vault.certificates!.find((c) => c.name === facts.freshSource)!;
  const boundApps: string[] = [];
  let i = 0;
  for (const rg of scenario.subscriptions[0]!.resourceGroups) {
    for (const site of rg.sites ?? []) {
      if (i >= events) break;
      const name = `ev-${i}`;
      vault.certificates!.push({ name, versions: [{ ...fresh.versions[0]!, material: `${name}-v0` }] });
      rg.certificates = [...(rg.certificates ?? []), { name: `${name}-v0`, fromVault: { vault: facts.vault, certificate: name, version: 0 } }];
      const swap = (value: string) => value.replaceAll(`${facts.vault}/${facts.freshSource}`, `${facts.vault}/${name}`);
      site.tags = Object.fromEntries(Object.entries(site.tags ?? {}).map(([k, v]) => [k, swap(v)]));
      site.settings = Object.fromEntries(Object.entries(site.settings ?? {}).map(([k, v]) => [k, swap(v)]));
      if (simulateApps) site.restartMs = 200;
      boundApps.push(`/subscriptions/${scenario.subscriptions[0]!.id}/resourcegroups/${rg.name}/providers/microsoft.web/sites/${site.name}`.toLowerCase());
      i += 1;
    }
  }
  return { scenario, boundApps };
}

interface World {
  azurite: Azurite;
  sb: Sandbox;
  host: LocalHost;
  vault: string;
  boundApps: string[];
  stop(): Promise<void>;
}

async function startWorld(apps: number, events: number, rotate: boolean): Promise<World> {
  const { scenario, boundApps } = eventWorld(apps, events, rotate);
  const azurite = await startAzurite();
  const sb = await startSandbox(scenario, { simulateApps: rotate });
  configureServices({ tlsCa: sb.caPem });
  const host = await startLocalHost({
    register: () => import('../src/functions/index.js'),
    settings: {
      ...sandboxAppSettings({
        armEndpoint: sb.armEndpoint,
        token: sb.token,
        subscriptionId: scenario.subscriptions.map((s) => s.id).join(','),
        storageConnectionString: azurite.connectionString,
        functionsKey: FUNCTIONS_KEY,
        rotationQueue: `bench-events-${apps}`,
        rotationTable: `benchevents${apps}`,
      }),
      FUNCTIONS_EVENTGRID_KEY: EVENTGRID_KEY,
      MAX_PARALLEL_ROTATIONS: '32',
    },
    localSettings: false,
    port: 0,
    log: () => undefined,
    timers: { scheduled: false },
    queues: rotate ? {} : { enabled: false },
  });
  const stop = async () => {
    sb.eventGrid.stop();
    await host.stop();
    resetServices();
    await sb.stop();
    await azurite.stop();
  };
  try {
    // The nightly scan writes the source index the events are looked up in.
    await host.invokeTimer('nightlyScan');
    await sb.eventGrid.subscribe({ endpoint: `${host.url}/runtime/webhooks/eventgrid?functionName=certificateEvents&code=${EVENTGRID_KEY}`, schema: 'EventGrid' });
  } catch (error) {
    await stop();
    throw error;
  }
  return { azurite, sb, host, vault: (scenario.meta?.facts as { vault: string }).vault, boundApps, stop };
}

export interface EventLatency {
  p50Seconds: number;
  p99Seconds: number;
  events: number;
  started: number;
  fleetListings: number;
  detail: Record<string, unknown>;
}

/** New version created → rotation record created, per event; `events` certificates, one app each, one every `gapMs`. */
export async function measureEventLatency(apps = 100, events = 20, gapMs = 500): Promise<EventLatency> {
  const world = await startWorld(apps, events, true);
  try {
    const mark = world.sb.control.requests().at(-1)?.seq ?? 0;
    const created: number[] = [];
    for (let i = 0; i < events; i += 1) {
      created.push(Date.now());
      world.sb.control.renew(world.vault, `ev-${i}`, { issuer: 'scale-ca-new', notAfterDays: 365 });
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    await world.sb.eventGrid.idle();
    const latencies: number[] = [];
    const deadline = Date.now() + 300_000;
    for (let i = 0; i < events; i += 1) {
      for (;;) {
        const res = await fetch(`${world.host.apiUrl}/rotations?app=${encodeURIComponent(world.boundApps[i]!)}`, { headers: { 'x-functions-key': FUNCTIONS_KEY } });
        const rotations = ((await res.json()) as { rotations: Array<{ startedAt: string }> }).rotations;
        if (rotations.length > 0) {
          const first = Math.min(...rotations.map((r) => Date.parse(r.startedAt)));
          latencies.push((first - created[i]!) / 1000);
          break;
        }
        if (Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    const fleetListings = world.sb.control.requests().filter((r) => r.seq > mark && (r.operation === 'WebApps_List' || r.operation === 'Certificates_List')).length;
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
    return {
      p50Seconds: round(pct(50), 2),
      p99Seconds: round(pct(99), 2),
      events,
      started: latencies.length,
      fleetListings,
      detail: { apps, events, gapMs, latenciesSeconds: latencies.map((l) => round(l, 3)), deliveries: world.sb.eventGrid.attempts().length },
    };
  } finally {
    await world.stop();
  }
}

export interface EventArmCalls {
  perEvent: number;
  fleetListings: number;
  queued: number;
  detail: Record<string, unknown>;
}

/** ARM requests the events cause (queue trigger off), divided by the number of events. */
export async function measureEventArmCalls(apps: number, events = 20): Promise<EventArmCalls> {
  const world = await startWorld(apps, events, false);
  try {
    const mark = world.sb.control.requests().at(-1)?.seq ?? 0;
    for (let i = 0; i < events; i += 1) world.sb.control.renew(world.vault, `ev-${i}`, { issuer: 'scale-ca-new', notAfterDays: 365 });
    await world.sb.eventGrid.idle();
    const arm = world.sb.control.requests().filter((r) => r.seq > mark && r.surface === 'arm');
    const byOperation: Record<string, number> = {};
    for (const r of arm) byOperation[r.operation ?? 'unmatched'] = (byOperation[r.operation ?? 'unmatched'] ?? 0) + 1;
    const { QueueServiceClient } = await import('@azure/storage-queue');
    const queue = QueueServiceClient.fromConnectionString(world.azurite.connectionString).getQueueClient(`bench-events-${apps}`);
    const queued = (await queue.getProperties()).approximateMessagesCount ?? 0;
    return {
      perEvent: round(arm.length / events, 2),
      fleetListings: (byOperation.WebApps_List ?? 0) + (byOperation.Certificates_List ?? 0),
      queued,
      detail: { apps, events, armRequests: arm.length, byOperation, queued },
    };
  } finally {
    await world.stop();
  }
}
