// The ready-made scenarios: the demo world really is set up the way its documented outcomes need, and the
// scale generator produces the counts it claims and a world the sandbox serves page by page.
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_EXPECTED_OUTCOMES,
  DEMO_SUBSCRIPTION_ID,
  demoScenario,
  scaleScenario,
  startSandbox,
  type Sandbox,
  type ScaleScenarioFacts,
  type Scenario,
} from '../../sandbox/index.js';
import { validateScenario } from '../../sandbox/scenario.js';
import { readKeyVaultSecret } from '../../src/crypto/index.js';
import { rawRequest, secretClient, webClient } from './sdk-clients.js';

const HEALTH = '/healthz/outbound-mtls';

function mtlsStatus(url: string, cert: string, key: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { cert, key, ca, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('demo scenario', () => {
  let sb: Sandbox;
  const ref = (site: string, slot?: string) => ({ subscriptionId: DEMO_SUBSCRIPTION_ID, resourceGroup: site === 'reports' ? 'rg-reports' : 'rg-apps', site, slot });
  const health = async (site: string) => rawRequest(sb, `${sb.appUrl(ref(site))}${HEALTH}`, { token: null });
  const v = (name: string, i: number) => sb.control.thumbprint(`kv-demo/${name}-client/${i}`);

  beforeAll(async () => {
    sb = await startSandbox(demoScenario(), { appOutboundTimeoutMs: 2000 });
  });
  afterAll(async () => {
    await sb?.stop();
  });

  it('documents an outcome for every app and slot it declares', async () => {
    const names: string[] = [];
    for await (const s of webClient(sb, DEMO_SUBSCRIPTION_ID).webApps.list()) {
      names.push(s.name!);
      for await (const slot of webClient(sb, DEMO_SUBSCRIPTION_ID).webApps.listSlots(s.resourceGroup!, s.name!)) names.push(slot.name!);
    }
    expect(names.sort()).toEqual(Object.keys(DEMO_EXPECTED_OUTCOMES).sort());
  });

  it.each(['orders', 'payments', 'billing'])('%s is due: it loads the expiring version while the vault holds a renewal by the new CA', (name) => {
    expect(sb.control.loadedThumbprints(ref(name))).toEqual([v(name, 0)]);
    const [old, renewed] = sb.control.keyVaultVersions('kv-demo', `${name}-client`);
    expect(Date.parse(old!.notAfter) - Date.now()).toBeLessThan(30 * 86_400_000);
    expect(renewed!.issuer).toContain('Contoso Issuing CA 2025');
  });

  it('every app that should work answers its health path before any rotation', async () => {
    for (const site of ['orders', 'payments', 'billing', 'reports', 'legacy-portal']) expect((await health(site)).status, site).toBe(200);
  });

  it.each([
    ['orders', 'partner-api', 200],
    ['payments', 'legacy-bank', 403],
    ['billing', 'partner-api', 200],
    ['billing', 'ledger-strict', 403],
  ])("the renewed %s certificate, presented to %s as the rotator's direct probe would, gets %i", async (name, downstream, status) => {
    const secret = await secretClient(sb, 'kv-demo').getSecret(`${name}-client`);
    const bundle = readKeyVaultSecret(secret.properties.contentType!, secret.value!);
    expect(bundle.thumbprint).toBe(v(name, 1));
    expect(await mtlsStatus(sb.downstreamUrl(downstream), bundle.certPem, bundle.keyPem, sb.caPem)).toBe(status);
  });

  it('billing probes partner-api but its own outbound call goes to ledger-strict', async () => {
    const site = await webClient(sb, DEMO_SUBSCRIPTION_ID).webApps.get('rg-apps', 'billing');
    expect(site.tags?.['mtls-rotation-probe']).toBe(sb.downstreamUrl('partner-api'));
    await rawRequest(sb, `${sb.appUrl(ref('billing'))}${HEALTH}`, { token: null });
    expect(sb.control.downstreamSeen('ledger-strict').at(-1)?.thumbprint).toBe(v('billing', 0));
  });

  it.each<[string, string, number, unknown]>([
    ['catalog answers like ASP.NET Core MapHealthChecks', '/healthz', 200, 'Healthy'],
    ['shipping answers like Spring Boot actuator', '/actuator/health', 200, { status: 'UP' }],
    ['notify answers a plain OK', '/health', 200, 'OK'],
    ['pricing answers 204 with no body', '/status', 204, undefined],
  ])('%s on its own health path, which its tags name', async (_name, path, status, body) => {
    const site = _name.split(' ')[0]!;
    expect(sb.control.appSettings(ref(site)).WEBSITE_LOAD_CERTIFICATES).toBe(v(site, 0));
    expect((await webClient(sb, DEMO_SUBSCRIPTION_ID).webApps.get('rg-apps', site)).tags?.['mtls-rotation-health']).toBe(path);
    const answer = await rawRequest(sb, `${sb.appUrl(ref(site))}${path}`, { token: null });
    expect([answer.status, answer.json]).toEqual([status, body]);
  });

  it('inventory pins a thumbprint no certificate of its webspace has, so its health check fails', async () => {
    const pinned = sb.control.appSettings(ref('inventory')).WEBSITE_LOAD_CERTIFICATES!;
    expect(sb.control.certificates(DEMO_SUBSCRIPTION_ID).map((c) => c.thumbprint)).not.toContain(pinned);
    expect(sb.control.loadedThumbprints(ref('inventory'))).toEqual([]);
    const answer = await health('inventory');
    expect(answer.status).toBe(503);
    expect(String((answer.json as { reason?: string }).reason)).toMatch(/named by CLIENT_CERT_THUMBPRINT is not loaded/);
  });

  it("reports runs in '*' mode on a certificate imported from the vault (linked)", async () => {
    expect(sb.control.appSettings(ref('reports')).WEBSITE_LOAD_CERTIFICATES).toBe('*');
    const linked = sb.control.certificates(DEMO_SUBSCRIPTION_ID).find((c) => c.name === 'reports-client-2024');
    expect(linked?.keyVaultSecretName).toBe('reports-client');
    expect(sb.control.loadedThumbprints(ref('reports'))).toEqual([v('reports', 0)]);
  });

  it('legacy-portal carries no rotation tag although it loads an expiring certificate', async () => {
    const site = await webClient(sb, DEMO_SUBSCRIPTION_ID).webApps.get('rg-apps', 'legacy-portal');
    expect(Object.keys(site.tags ?? {}).filter((t) => t.startsWith('mtls-rotation'))).toEqual([]);
    expect(sb.control.loadedThumbprints(ref('legacy-portal'))).toEqual([v('orders', 0)]);
  });
});

describe('scaleScenario', () => {
  const facts = (s: Scenario) => s.meta!.facts as ScaleScenarioFacts;
  const sites = (s: Scenario) => s.subscriptions.flatMap((sub) => sub.resourceGroups.flatMap((rg) => rg.sites ?? []));

  it.each([
    [{ subscriptions: 2, appsPerSubscription: 10, due: 3 }, 20, 20, 3],
    [{ subscriptions: 3, appsPerSubscription: 100, due: 25, optedInFraction: 0.4 }, 300, 120, 25],
    [{ subscriptions: 1, appsPerSubscription: 7, due: 0, optedInFraction: 0.5 }, 7, 3, 0],
  ])('%o has the apps, opted-in and due counts it claims', (opts, apps, optedIn, due) => {
    const s = scaleScenario(opts);
    validateScenario(s);
    const all = sites(s);
    const opted = all.filter((x) => x.tags?.['mtls-rotation'] === 'enabled');
    const isDue = opted.filter((x) => x.tags?.['mtls-rotation-source']?.includes('scale-due'));
    expect([all.length, opted.length, isDue.length]).toEqual([apps, optedIn, due]);
    expect([facts(s).apps, facts(s).optedIn, facts(s).due]).toEqual([apps, optedIn, due]);
  });

  it('refuses more due apps than opted-in apps', () => {
    expect(() => scaleScenario({ subscriptions: 1, appsPerSubscription: 10, due: 6, optedInFraction: 0.5 })).toThrow(RangeError);
  });

  describe('served by the sandbox without simulated apps', () => {
    const scenario = scaleScenario({ subscriptions: 2, appsPerSubscription: 1500, due: 40, optedInFraction: 0.5, appsPerResourceGroup: 250 });
    let sb: Sandbox;
    beforeAll(async () => {
      sb = await startSandbox(scenario, { simulateApps: false });
    });
    afterAll(async () => {
      await sb?.stop();
    });

    it('a scan of every subscription finds every app, page by page, and the due ones load the expiring version', async () => {
      const f = facts(scenario);
      let seen = 0;
      let opted = 0;
      const due: string[] = [];
      for (const sub of f.subscriptionIds) {
        for await (const site of webClient(sb, sub).webApps.list()) {
          seen++;
          if (site.tags?.['mtls-rotation'] !== 'enabled') continue;
          opted++;
          if (site.tags['mtls-rotation-source']?.endsWith('/certificates/scale-due')) due.push(`${sub}/${site.resourceGroup}/${site.name}`);
        }
      }
      expect([seen, opted, due.length]).toEqual([f.apps, f.optedIn, f.due]);
      const [sub, rg, site] = due[0]!.split('/') as [string, string, string];
      expect(sb.control.loadedThumbprints({ subscriptionId: sub, resourceGroup: rg, site })).toEqual([sb.control.thumbprint('kv-scale/scale-due/0')]);
      // 1,500 sites per subscription at 100 per page.
      expect(sb.control.counters().arm.byOperation.WebApps_List).toBe(30);
    });
  });
});
