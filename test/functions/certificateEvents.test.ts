// Event-driven rotation, end to end: the sandbox's Key Vault publishes certificate events through its
// Event Grid to the local host's webhook (/runtime/webhooks/eventgrid), the certificateEvents function finds the bound
// apps in the index the nightly scan wrote to Azurite, verifies them live against the sandbox's ARM and queues them;
// the rotateApp queue trigger rotates them. Evidence is read from the outside: the sandbox's request log and app
// state, the rotation records the API lists, the telemetry events.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../sandbox/index.js';
import type { TelemetryEventName } from '../../src/core/events.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { useFunctionApp } from '../helpers/functionApp.js';
import { RecordingTelemetry } from '../helpers/memory-ports.js';
import { watch } from '../integration/world.js';

const SUB = '33333333-3333-4333-8333-333333333333';
const OTHER_SUB = '44444444-4444-4444-8444-444444444444';
const KV = 'kv-events';
const KEY = 'functions-key';
const EVENTGRID_KEY = 'eventgrid-system-key';
const azurite = useAzurite();

/** app name → the vault certificate it loads (version 0). */
const APPS: Record<string, string> = {
  alpha: 'shared-client',
  beta: 'shared-client',
  delta: 'solo-client',
  epsilon: 'dup-client',
  gamma: 'gamma-client',
  zeta: 'near-client',
  eta: 'missed-client',
  theta: 'retry-client',
};

function scenario(): Scenario {
  const appRg = (site: string) => {
    const cert = APPS[site]!;
    const pinned = `{{thumbprint:${KV}/${cert}/0}}`;
    return {
      name: `rg-${site}`,
      location: 'West Europe',
      certificates: [{ name: `${site}-${cert}-v0`, fromVault: { vault: KV, certificate: cert, version: 0 } }],
      sites: [
        {
          name: site,
          downstream: 'partner',
          restartMs: 20,
          tags: {
            'mtls-rotation': 'enabled',
            'mtls-rotation-source': `{{source:${KV}/${cert}}}`,
            'mtls-rotation-health': '/healthz/outbound-mtls',
            'mtls-rotation-probe': '{{downstream:partner}}',
            'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT',
          },
          settings: { WEBSITE_LOAD_CERTIFICATES: pinned, CLIENT_CERT_THUMBPRINT: pinned, OTHER: 'kept' },
        },
      ],
    };
  };
  const fresh = { issuer: 'ca-old', notBeforeDays: -30, notAfterDays: 300 };
  return {
    name: 'events',
    cas: [{ name: 'ca-old' }, { name: 'ca-new' }],
    vaults: [
      {
        name: KV,
        subscriptionId: SUB,
        resourceGroup: 'rg-security',
        certificates: [
          { name: 'shared-client', versions: [fresh] },
          { name: 'solo-client', versions: [fresh] },
          { name: 'dup-client', versions: [fresh] },
          // The vault owner grants this certificate to another subscription only.
          { name: 'gamma-client', versions: [fresh], tags: { 'mtls-rotation-consumers': `/subscriptions/${OTHER_SUB}` } },
          { name: 'lonely-client', versions: [fresh] },
          { name: 'retry-client', versions: [fresh] },
          { name: 'near-client', versions: [{ issuer: 'ca-old', notBeforeDays: -340, notAfterDays: 20 }] },
          // Renewed a day ago, and no event ever came: the nightly scan's safety net reports it.
          { name: 'missed-client', versions: [fresh, { issuer: 'ca-new', notBeforeDays: -1, notAfterDays: 365, createdDays: -1 }] },
        ],
      },
      { name: 'kv-unused', subscriptionId: SUB, resourceGroup: 'rg-security', certificates: [{ name: 'unused-client', versions: [fresh] }] },
    ],
    downstreams: [{ name: 'partner', trusts: ['ca-old', 'ca-new'] }],
    subscriptions: [{ id: SUB, resourceGroups: [{ name: 'rg-security', location: 'West Europe' }, ...Object.keys(APPS).map(appRg)] }],
  };
}

const telemetry = new RecordingTelemetry();
const events = telemetry.events;
const functionApp = useFunctionApp(azurite, () => ({
  scenario: scenario(),
  telemetry,
  subscriptionId: SUB,
  functionsKey: KEY,
  rotationQueue: uniqueName('events'),
  rotationTable: uniqueName('events'),
  settings: () => ({ FUNCTIONS_EVENTGRID_KEY: EVENTGRID_KEY, EVENT_MISSED_AFTER_MINUTES: '5' }),
  queues: { visibilityTimeoutSeconds: 0 },
}));
const { lines } = functionApp;
let webhook: string;
/** Events the first nightly scan raised (before any test ran). */
let nightly: typeof events = [];

const appId = (site: string) => `/subscriptions/${SUB}/resourcegroups/rg-${site}/providers/microsoft.web/sites/${site}`;
const ref = (site: string) => ({ subscriptionId: SUB, resourceGroup: `rg-${site}`, site });
const named = (name: TelemetryEventName, site?: string) =>
  events.filter((e) => e.name === name && (site === undefined || String(e.dimensions.appId ?? '').toLowerCase() === appId(site)));

type Record_ = { outcome?: string; finishedAt?: string };

async function records(site: string): Promise<Record_[]> {
  const res = await fetch(`${functionApp.host.apiUrl}/rotations?app=${encodeURIComponent(appId(site))}`, { headers: { 'x-functions-key': KEY } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { rotations: Record_[] }).rotations;
}

/** The app's rotation outcomes once `count` have finished (a rotation runs from the queue, after the event's answer). */
async function settled(site: string, count: number): Promise<string[]> {
  for (let i = 0; i < 600; i += 1) {
    const list = await records(site);
    if (list.length >= count && list.every((r) => r.finishedAt !== undefined)) return list.map((r) => r.outcome ?? 'none');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the rotations of ${site} did not finish: ${JSON.stringify(await records(site)).slice(0, 2000)}`);
}

beforeAll(async () => {
  webhook = `${functionApp.host.url}/runtime/webhooks/eventgrid?functionName=certificateEvents&code=${EVENTGRID_KEY}`;
  // The nightly scan writes the index; it also queues eta (due since yesterday), whose rotation runs now.
  await functionApp.host.invokeTimer('nightlyScan');
  nightly = events.splice(0);
  await settled('eta', 1);
}, 180_000);

describe('a new Key Vault version reaches its apps without a scan', () => {
  it('a CertificateNewVersionCreated event (Event Grid schema) rotates exactly the two apps bound to it, canary first, with no fleet listing', async () => {
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'EventGrid', timeScale: 0.001 });
    const since = watch(functionApp.sb);
    const created = functionApp.sb.control.renew(KV, 'shared-client', { issuer: 'ca-new', notAfterDays: 365 });
    await functionApp.sb.eventGrid.idle();
    const [alpha, beta] = [await settled('alpha', 1), await settled('beta', 1)];
    functionApp.sb.eventGrid.unsubscribe(subscription);

    expect(alpha).toEqual(['committed']);
    expect(beta).toEqual(['committed']);
    expect(functionApp.sb.control.loadedThumbprints(ref('alpha'))).toContain(created.thumbprint);
    expect(functionApp.sb.control.loadedThumbprints(ref('beta'))).toContain(created.thumbprint);
    // Nothing else moved, and the fleet was never listed: only the bound apps' own reads.
    expect(new Set(since.changes().map((r) => r.path.split('/resourceGroups/')[1]?.split('/')[0]))).toEqual(new Set(['rg-alpha', 'rg-beta']));
    expect(since.all().filter((r) => r.operation === 'WebApps_List' || r.operation === 'Certificates_List')).toEqual([]);
    // The two apps share the version, so they form a rollout: the event queued only its canary, and the
    // other app followed in the second wave once the canary verified (soak 0 here).
    const queued = named('CertificateEventQueued');
    expect(queued).toHaveLength(1);
    expect([appId('alpha'), appId('beta')]).toContain(queued[0]!.dimensions.appId);
    expect(queued[0]!.dimensions).toMatchObject({ wave: 1 });
    expect(named('RolloutWaveQueued').map((e) => e.dimensions.wave)).toEqual([1, 2]);
  }, 120_000);

  it('CloudEvents 1.0 delivered out of order (newest first) and an older version redelivered after the rotation: one rotation, to the newest, never back', async () => {
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'CloudEvents', reorder: true, timeScale: 0.001 });
    const v1 = functionApp.sb.control.renew(KV, 'solo-client', { issuer: 'ca-new', notAfterDays: 300 });
    const v2 = functionApp.sb.control.renew(KV, 'solo-client', { issuer: 'ca-new', notAfterDays: 365 });
    functionApp.sb.eventGrid.flush();
    await functionApp.sb.eventGrid.idle();
    expect(await settled('delta', 1)).toEqual(['committed']);
    expect(functionApp.sb.control.loadedThumbprints(ref('delta'))).toContain(v2.thumbprint);

    const since = watch(functionApp.sb);
    const older = functionApp.sb.eventGrid.published().find((p) => p.version === v1.version)!;
    functionApp.sb.eventGrid.redeliver(older.id);
    await functionApp.sb.eventGrid.idle();
    functionApp.sb.eventGrid.unsubscribe(subscription);
    expect(since.changes()).toEqual([]);
    expect(await records('delta')).toHaveLength(1);
    expect(functionApp.sb.control.loadedThumbprints(ref('delta'))).not.toContain(v1.thumbprint);
    expect(functionApp.sb.eventGrid.attempts().filter((a) => a.subscription === subscription).every((a) => a.outcome === 'delivered')).toBe(true);
  }, 120_000);

  it('a publisher that delivers every event four times starts one rotation', async () => {
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'EventGrid', duplicates: 3, timeScale: 0.001 });
    const created = functionApp.sb.control.renew(KV, 'dup-client', { issuer: 'ca-new', notAfterDays: 365 });
    await functionApp.sb.eventGrid.idle();
    functionApp.sb.eventGrid.unsubscribe(subscription);
    expect(functionApp.sb.eventGrid.attempts().filter((a) => a.subscription === subscription && a.outcome === 'delivered')).toHaveLength(4);
    expect(await settled('epsilon', 1)).toEqual(['committed']);
    expect(named('CertificateEventQueued', 'epsilon')).toHaveLength(1);
    expect(functionApp.sb.control.loadedThumbprints(ref('epsilon'))).toContain(created.thumbprint);
  }, 120_000);
});

describe('delivery failures are retried by Event Grid', () => {
  it('ARM failing while the event is handled: the webhook answers 500, Event Grid delivers again on its schedule, and the app rotates once', async () => {
    // More failures than the SDK's own retries of one request: the invocation fails as a whole.
    const fault = functionApp.sb.control.addFault({ operation: 'WebApps_Get', pathContains: '/sites/theta', status: 500, times: 4 });
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'EventGrid', timeScale: 0.001 });
    const created = functionApp.sb.control.renew(KV, 'retry-client', { issuer: 'ca-new', notAfterDays: 365 });
    await functionApp.sb.eventGrid.idle();
    functionApp.sb.eventGrid.unsubscribe(subscription);
    functionApp.sb.control.removeFault(fault);
    const attempts = functionApp.sb.eventGrid.attempts().filter((a) => a.subscription === subscription);
    expect(attempts.map((a) => [a.status, a.outcome])).toEqual([
      [500, 'retry'],
      [202, 'delivered'],
    ]);
    expect(await settled('theta', 1)).toEqual(['committed']);
    expect(named('CertificateEventQueued', 'theta')).toHaveLength(1);
    expect(functionApp.sb.control.loadedThumbprints(ref('theta'))).toContain(created.thumbprint);
  }, 120_000);
});

describe('events that must change nothing', () => {
  it.each([
    ['a certificate of a vault no opted-in app uses (unknown vault)', 'kv-unused', 'unused-client', 'UnknownVault'],
    ['a certificate of a known vault that no app loads (no bound apps)', KV, 'lonely-client', 'NoBoundApps'],
  ])('%s is logged and dropped', async (_sentence, vault, certificate, reason) => {
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'EventGrid', timeScale: 0.001 });
    const since = watch(functionApp.sb);
    events.length = 0;
    functionApp.sb.control.renew(vault, certificate, { issuer: 'ca-new', notAfterDays: 365 });
    await functionApp.sb.eventGrid.idle();
    functionApp.sb.eventGrid.unsubscribe(subscription);
    expect(named('CertificateEventIgnored').map((e) => e.dimensions.reason)).toEqual([reason]);
    expect(named('CertificateEventQueued')).toEqual([]);
    expect(since.changes()).toEqual([]);
    expect(since.all().filter((r) => r.surface === 'arm')).toEqual([]);
    expect(lines.some((l) => l.includes(`dropped: ${reason}`))).toBe(true);
  }, 60_000);

  it('a source the app is not authorized for (the vault owner grants another subscription) is refused for that app, nothing queued', async () => {
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'CloudEvents', timeScale: 0.001 });
    const since = watch(functionApp.sb);
    events.length = 0;
    functionApp.sb.control.renew(KV, 'gamma-client', { issuer: 'ca-new', notAfterDays: 365 });
    await functionApp.sb.eventGrid.idle();
    functionApp.sb.eventGrid.unsubscribe(subscription);
    expect(named('TrustRefused', 'gamma')).toHaveLength(1);
    expect(named('TrustRefused', 'gamma')[0]!.dimensions).toMatchObject({ reason: 'SourceNotAuthorized', trigger: 'event' });
    expect(named('CertificateEventQueued')).toEqual([]);
    expect(since.changes()).toEqual([]);
    // The trust check comes before the live verification: no ARM read for a refused app either.
    expect(since.all().filter((r) => r.surface === 'arm')).toEqual([]);
    expect(await records('gamma')).toEqual([]);
  }, 60_000);

  it('CertificateNearExpiry raises the expiry alert at once for the app still loading that version, and queues nothing (Key Vault has nothing newer)', async () => {
    const subscription = await functionApp.sb.eventGrid.subscribe({ endpoint: webhook, schema: 'EventGrid', eventTypes: ['Microsoft.KeyVault.CertificateNearExpiry'], timeScale: 0.001 });
    events.length = 0;
    const published = functionApp.sb.eventGrid.sweepExpiry(new Date());
    await functionApp.sb.eventGrid.idle();
    functionApp.sb.eventGrid.unsubscribe(subscription);
    expect(published.map((p) => `${p.type} ${p.certificate}`)).toEqual(['Microsoft.KeyVault.CertificateNearExpiry near-client']);
    const alerts = named('CertificateExpiring', 'zeta');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.dimensions).toMatchObject({ trigger: 'event', eventType: 'Microsoft.KeyVault.CertificateNearExpiry' });
    expect(Number(alerts[0]!.dimensions.daysRemaining)).toBeLessThanOrEqual(20);
    expect(named('CertificateEventQueued')).toEqual([]);
  }, 60_000);
});

describe('bad deliveries get a clear refusal and change nothing', () => {
  const vaultId = `/subscriptions/${SUB}/resourceGroups/rg-security/providers/Microsoft.KeyVault/vaults/${KV}`;
  const forged = (data: Record<string, unknown>) => [
    { id: 'forged-1', topic: vaultId, subject: 'shared-client', eventType: 'Microsoft.KeyVault.CertificateNewVersionCreated', eventTime: new Date().toISOString(), dataVersion: '1', metadataVersion: '1', data },
  ];
  it.each([
    ['garbage that is not JSON', '{"id": ', 400, /not JSON/],
    ['a Storage event delivered to this function', JSON.stringify([{ id: 'blob-1', topic: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa', subject: '/blobServices/default/containers/c/blobs/b', eventType: 'Microsoft.Storage.BlobCreated', eventTime: new Date().toISOString(), data: {}, dataVersion: '1', metadataVersion: '1' }]), 202, /Key Vault event refused, nothing done: .*type 'Microsoft.Storage.BlobCreated' is not one of/],
    ['a forged event whose certificate id points at a host that is not Key Vault', JSON.stringify(forged({ Id: 'https://evil.example/certificates/shared-client/0123abcd', VaultName: KV, ObjectType: 'Certificate', ObjectName: 'shared-client', Version: '0123abcd' })), 202, /dropped: SourceNotAuthorized: https:\/\/evil.example\/certificates\/shared-client is not a Key Vault source/],
  ])('%s: answers %s and nothing is queued or changed', async (_sentence, body, status, logged) => {
    const since = watch(functionApp.sb);
    events.length = 0;
    const res = await fetch(webhook, { method: 'POST', headers: { 'aeg-event-type': 'Notification', 'content-type': 'application/json' }, body });
    expect(res.status).toBe(status);
    if (status === 400) expect(await res.text()).toMatch(logged);
    else expect(lines.some((l) => logged.test(l))).toBe(true);
    expect(named('CertificateEventQueued')).toEqual([]);
    expect(since.all().filter((r) => r.surface !== 'control')).toEqual([]);
  }, 60_000);
});

describe('the nightly scan is the safety net', () => {
  it('reports an app still due for a version created longer ago than EVENT_MISSED_AFTER_MINUTES, saying no event came, and only that app', () => {
    const missed = nightly.filter((e) => e.name === 'EventRotationMissed');
    expect(missed.map((e) => e.dimensions.appId)).toEqual([appId('eta')]);
    expect(missed[0]!.dimensions).toMatchObject({ eventReceived: false });
  });
});
