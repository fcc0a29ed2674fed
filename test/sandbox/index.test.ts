// startSandbox as a whole: scenario checks, placeholders, webspaces and WEBSITE_LOAD_CERTIFICATES, and the
// simulated apps driven through ARM presenting real client certificates to a real mTLS downstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScenarioError, startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { rawRequest, webClient } from './sdk-clients.js';

const SUB = 'eeeeeeee-1111-4222-8333-000000000001';
const HEALTH = '/healthz/outbound-mtls';

const scenario: Scenario = {
  name: 'apps-through-arm',
  cas: [{ name: 'old' }, { name: 'new' }],
  vaults: [
    {
      name: 'kv-apps',
      subscriptionId: SUB,
      resourceGroup: 'rg',
      certificates: [{ name: 'client', versions: [{ issuer: 'old', notAfterDays: 10 }, { issuer: 'new', notAfterDays: 365 }] }],
    },
  ],
  downstreams: [{ name: 'partner', trusts: ['old', 'new'] }],
  subscriptions: [
    {
      id: SUB,
      resourceGroups: [
        {
          name: 'rg',
          location: 'West Europe',
          certificates: [
            { name: 'client-v0', fromVault: { vault: 'kv-apps', certificate: 'client', version: 0 } },
            { name: 'client-v1', fromVault: { vault: 'kv-apps', certificate: 'client', version: 1 } },
          ],
          sites: [
            {
              name: 'app',
              downstream: 'partner',
              restartMs: 50,
              tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-source': '{{source:kv-apps/client}}', 'mtls-rotation-probe': '{{downstream:partner}}' },
              settings: { WEBSITE_LOAD_CERTIFICATES: '{{thumbprint:kv-apps/client/0}}', CLIENT_CERT_THUMBPRINT: '{{thumbprint:kv-apps/client/0}}', KEEP: 'me' },
            },
            {
              // Lowercase, padded thumbprints: the platform compares case-insensitively after trimming.
              name: 'sloppy',
              downstream: 'partner',
              settings: { WEBSITE_LOAD_CERTIFICATES: ' {{thumbprint:kv-apps/client/1}} , 0000000000000000000000000000000000000000' },
            },
          ],
        },
        {
          // Same resource group name pattern, other region: another webspace.
          name: 'rg-star',
          location: 'North Europe',
          certificates: [{ name: 'star-v1', fromVault: { vault: 'kv-apps', certificate: 'client', version: 1 } }],
          sites: [{ name: 'star', downstream: 'partner', restartMs: 20, settings: { WEBSITE_LOAD_CERTIFICATES: '*' } }],
        },
      ],
    },
  ],
};

const app = { subscriptionId: SUB, resourceGroup: 'rg', site: 'app' };

describe('simulated apps driven through ARM', () => {
  let sb: Sandbox;
  let v0: string;
  let v1: string;
  beforeAll(async () => {
    sb = await startSandbox(scenario, { appOutboundTimeoutMs: 2000 });
    v0 = sb.control.thumbprint('kv-apps/client/0');
    v1 = sb.control.thumbprint('kv-apps/client/1');
    // Settings hold placeholders; make the test's sloppy case lowercase after resolution.
    const sloppy = { subscriptionId: SUB, resourceGroup: 'rg', site: 'sloppy' };
    sb.control.setAppSettings(sloppy, { WEBSITE_LOAD_CERTIFICATES: sb.control.appSettings(sloppy).WEBSITE_LOAD_CERTIFICATES!.toLowerCase() });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('resolves placeholders in tags and settings at start', async () => {
    const site = await webClient(sb, SUB).webApps.get('rg', 'app');
    expect(site.tags?.['mtls-rotation-source']).toBe(`${sb.vaultUrl('kv-apps')}/certificates/client`);
    expect(site.tags?.['mtls-rotation-probe']).toBe(sb.downstreamUrl('partner'));
    expect(sb.control.appSettings(app).CLIENT_CERT_THUMBPRINT).toBe(v0);
  });

  it('an app restarted with a new WEBSITE_LOAD_CERTIFICATES presents the new certificate to its downstream', async () => {
    const before = await rawRequest(sb, `${sb.appUrl(app)}${HEALTH}`, { token: null });
    expect([before.status, (before.json as { presentedThumbprint: string }).presentedThumbprint]).toEqual([200, v0]);

    const client = webClient(sb, SUB);
    const settings = (await client.webApps.listApplicationSettings('rg', 'app')).properties!;
    await client.webApps.updateApplicationSettings('rg', 'app', {
      properties: { ...settings, WEBSITE_LOAD_CERTIFICATES: v1, CLIENT_CERT_THUMBPRINT: v1 },
    });
    // Like the platform, the running process keeps what it loaded until it restarts.
    expect(sb.control.loadedThumbprints(app)).toEqual([v0]);
    await client.webApps.restart('rg', 'app', { synchronous: true });
    expect(sb.control.loadedThumbprints(app)).toEqual([v1]);

    const after = await rawRequest(sb, `${sb.appUrl(app)}${HEALTH}`, { token: null });
    expect([after.status, (after.json as { presentedThumbprint: string }).presentedThumbprint]).toEqual([200, v1]);
    const seen = sb.control.downstreamSeen('partner').at(-1);
    expect([seen?.thumbprint, seen?.authorized]).toEqual([v1, true]);
  });

  it('answers 503 when the downstream distrusts the issuer of the certificate it presents', async () => {
    sb.control.setDownstreamTrust('partner', ['old']);
    try {
      const res = await rawRequest(sb, `${sb.appUrl(app)}${HEALTH}`, { token: null });
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ status: 'fail', presentedThumbprint: v1, partner: { status: 403 } });
      expect(sb.control.downstreamSeen('partner').at(-1)?.authorized).toBe(false);
    } finally {
      sb.control.setDownstreamTrust('partner', ['old', 'new']);
    }
  });

  it('loads the listed thumbprints case-insensitively after trimming, ignoring ones the webspace lacks', async () => {
    const sloppy = { subscriptionId: SUB, resourceGroup: 'rg', site: 'sloppy' };
    // Loaded at start from the padded scenario value; the lowercase edit made in beforeAll applies on restart.
    expect(sb.control.loadedThumbprints(sloppy)).toEqual([v1]);
    await webClient(sb, SUB).webApps.restart('rg', 'sloppy', { synchronous: true });
    expect(sb.control.appSettings(sloppy).WEBSITE_LOAD_CERTIFICATES).toContain(v1.toLowerCase());
    expect(sb.control.loadedThumbprints(sloppy)).toEqual([v1]);
  });

  it("'*' loads every certificate of the app's own webspace (same resource group AND region) only", () => {
    expect(sb.control.loadedThumbprints({ subscriptionId: SUB, resourceGroup: 'rg-star', site: 'star' })).toEqual([v1]);
  });

  it('a hanging restart returns at once and leaves the app answering 503 until a later restart succeeds', async () => {
    const star = { subscriptionId: SUB, resourceGroup: 'rg-star', site: 'star' };
    sb.control.setRestartBehaviour(star, { hang: true });
    await webClient(sb, SUB).webApps.restart('rg-star', 'star', { synchronous: true });
    expect((await rawRequest(sb, `${sb.appUrl(star)}/`, { token: null })).status).toBe(503);
    sb.control.setRestartBehaviour(star, { hang: false });
    await webClient(sb, SUB).webApps.restart('rg-star', 'star', { synchronous: true });
    expect((await rawRequest(sb, `${sb.appUrl(star)}/`, { token: null })).status).toBe(200);
    expect(sb.control.restarts(star)).toBe(2);
  });
});

describe('without simulated apps', () => {
  const small: Scenario = {
    name: 'no-apps',
    restartOnSettingsWrite: true,
    cas: [{ name: 'ca' }],
    subscriptions: [{ id: SUB, resourceGroups: [{ name: 'rg', location: 'West Europe', sites: [{ name: 'quiet', slots: [{ name: 'blue' }] }] }] }],
  };
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox(small, { simulateApps: false });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('reports azurewebsites.net host names, has no app URL, and counts restarts', async () => {
    const client = webClient(sb, SUB);
    expect((await client.webApps.get('rg', 'quiet')).defaultHostName).toBe('quiet.azurewebsites.net');
    expect((await client.webApps.getSlot('rg', 'quiet', 'blue')).defaultHostName).toBe('quiet-blue.azurewebsites.net');
    expect(() => sb.appUrl({ subscriptionId: SUB, resourceGroup: 'rg', site: 'quiet' })).toThrow(RangeError);
    await client.webApps.restart('rg', 'quiet', { synchronous: true });
    expect(sb.control.counters().restarts).toBe(1);
  });

  it('with restartOnSettingsWrite a settings PUT restarts the app, as App Service does', async () => {
    const quiet = { subscriptionId: SUB, resourceGroup: 'rg', site: 'quiet' };
    const before = sb.control.restarts(quiet);
    await webClient(sb, SUB).webApps.updateApplicationSettings('rg', 'quiet', { properties: { A: 'b' } });
    expect(sb.control.restarts(quiet)).toBe(before + 1);
  });
});

describe('scenario checks', () => {
  const base = (): Scenario => ({
    name: 'bad',
    cas: [{ name: 'ca' }],
    vaults: [{ name: 'kv-x', subscriptionId: SUB, resourceGroup: 'rg', certificates: [{ name: 'c', versions: [{ issuer: 'ca', notAfterDays: 10 }] }] }],
    subscriptions: [{ id: SUB, resourceGroups: [{ name: 'rg', location: 'West Europe', sites: [{ name: 's' }] }] }],
  });
  it.each<[string, (s: Scenario) => void, RegExp]>([
    ['a subscription id that is not a GUID', (s) => (s.subscriptions[0]!.id = 'sub-1'), /not a GUID/],
    ['an issuer that is not a CA of the scenario', (s) => (s.vaults![0]!.certificates![0]!.versions[0]!.issuer = 'nope'), /issuer 'nope'/],
    ['a validity that ends before it starts', (s) => (s.vaults![0]!.certificates![0]!.versions[0]!.notAfterDays = -40), /notAfterDays/],
    ['a vault in a resource group that does not exist', (s) => (s.vaults![0]!.resourceGroup = 'rg-missing'), /rg-missing/],
    ['an undeclared downstream', (s) => (s.subscriptions[0]!.resourceGroups[0]!.sites![0]!.downstream = 'ghost'), /downstream 'ghost'/],
    ['a health shape the sandbox does not model', (s) => (s.subscriptions[0]!.resourceGroups[0]!.sites![0]!.health = 'graphql' as never), /site 's' .*health 'graphql' is not one of kit, aspnet-text/],
    ['a negative warm-up', (s) => (s.subscriptions[0]!.resourceGroups[0]!.sites![0]!.warmupMs = -1), /warmupMs must be from 0 to 600000, got -1/],
    ['an unknown placeholder', (s) => (s.subscriptions[0]!.resourceGroups[0]!.sites![0]!.tags = { t: '{{vault:kv-nope}}' }), /kv-nope/],
    ['a thumbprint reference to a version that does not exist', (s) => (s.subscriptions[0]!.resourceGroups[0]!.sites![0]!.settings = { T: '{{thumbprint:kv-x/c/5}}' }), /no version 5/],
  ])('refuses %s with a ScenarioError that names it', async (_label, mutate, message) => {
    const s = base();
    mutate(s);
    const err = await startSandbox(s, { simulateApps: false }).then(
      async (sb) => {
        await sb.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as Error).message).toMatch(message);
  });
});
