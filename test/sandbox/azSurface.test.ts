// What the real az CLI needs from the sandbox besides the engine's calls, against the real @azure/arm-appservice
// client where it has the operation: slot setting names, site config, the publishing profile, tenant-level reads,
// ARM's certificate naming rule and the service principal sign-in. test/azcli runs az itself.
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { isValidCertificateName } from '../../sandbox/arm.js';
import { createCertificateAuthority, issueCertificate, writePfx } from '../../src/crypto/index.js';
import { rawRequest, webClient } from './sdk-clients.js';

const SUB = 'bbbbbbbb-1111-4222-8333-000000000001';
const SUBS = [SUB, 'bbbbbbbb-1111-4222-8333-000000000002', 'bbbbbbbb-1111-4222-8333-000000000003'];

const scenario: Scenario = {
  name: 'az-surface',
  armPageSize: 2,
  cas: [{ name: 'ca' }],
  subscriptions: SUBS.map((id, i) => ({
    id,
    ...(i === 2 ? { state: 'Disabled' as const } : {}),
    resourceGroups:
      i === 0
        ? [{ name: 'rg-a', location: 'West Europe', sites: [{ name: 'web', slotSettings: ['STICKY_ONE'], slots: [{ name: 'staging' }] }] }]
        : [],
  })),
};

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox(scenario, { simulateApps: false });
});
afterAll(async () => {
  await sb?.stop();
});

function formPost(url: string, form: Record<string, string>, ca: string): Promise<{ status: number; json: any }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('slot setting names (config/slotConfigNames)', () => {
  it('reads the scenario names and replaces them on PUT, as the SDK sends them', async () => {
    const web = webClient(sb, SUB).webApps;
    expect((await web.listSlotConfigurationNames('rg-a', 'web')).appSettingNames).toEqual(['STICKY_ONE']);
    await web.updateSlotConfigurationNames('rg-a', 'web', { appSettingNames: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT'] });
    expect(sb.control.slotSettingNames({ subscriptionId: SUB, resourceGroup: 'rg-a', site: 'web' })).toEqual(['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT']);
    const raw = await rawRequest(sb, `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/sites/web/config/slotConfigNames?api-version=2022-03-01`);
    // The lists the PUT left out are cleared, as a PUT replaces the resource.
    expect((raw.json as any).properties).toEqual({ appSettingNames: ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT'], connectionStringNames: null, azureStorageConfigNames: null });
  });

  it.each([
    ['a body that is not an object', '"names"'],
    ['appSettingNames that are not strings', { properties: { appSettingNames: [1, 2] } }],
  ])('refuses %s with 400 and changes nothing', async (_what, body) => {
    const before = sb.control.slotSettingNames({ subscriptionId: SUB, resourceGroup: 'rg-a', site: 'web' });
    const r = await rawRequest(sb, `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/sites/web/config/slotConfigNames?api-version=2022-03-01`, { method: 'PUT', body: typeof body === 'string' ? JSON.parse(body) : body });
    expect(r.status).toBe(400);
    expect(sb.control.slotSettingNames({ subscriptionId: SUB, resourceGroup: 'rg-a', site: 'web' })).toEqual(before);
  });
});

describe('what az webapp show reads', () => {
  it('site config of a Linux app, for the site and a slot', async () => {
    const web = webClient(sb, SUB).webApps;
    expect((await web.getConfiguration('rg-a', 'web')).linuxFxVersion).toBe('NODE|22-lts');
    expect((await web.getConfigurationSlot('rg-a', 'web', 'staging')).linuxFxVersion).toBe('NODE|22-lts');
  });

  it('a Linux site with its .scm host name', async () => {
    const site = await webClient(sb, SUB).webApps.get('rg-a', 'web');
    expect([site.kind, site.reserved]).toEqual(['app,linux', true]);
    expect(site.enabledHostNames).toEqual(['web.azurewebsites.net', 'web.scm.azurewebsites.net']);
    expect(site.hostNameSslStates?.find((h) => h.hostType === 'Repository')?.name).toBe('web.scm.azurewebsites.net');
  });

  it('the publishing profile is XML with Web Deploy, FTP and Zip Deploy profiles', async () => {
    const r = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
      const req = https.request(`${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/sites/web/publishxml?api-version=2022-03-01`, { method: 'POST', ca: sb.caPem, headers: { authorization: `Bearer ${sb.token}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      });
      req.on('error', reject);
      req.end('{"format":"WebDeploy"}');
    });
    expect([r.status, r.type]).toEqual([200, 'application/xml']);
    expect([...r.text.matchAll(/publishMethod="(\w+)"/g)].map((m) => m[1])).toEqual(['MSDeploy', 'FTP', 'ZipDeploy']);
    expect(r.text).toMatch(/publishUrl="web\.scm\.azurewebsites\.net:443"/);
  });
});

describe('tenant-level reads', () => {
  it('Subscriptions_List pages through every subscription with its state', async () => {
    const seen: Array<{ id: string; state: string }> = [];
    let url: string | null = `${sb.armEndpoint}/subscriptions?api-version=2019-11-01`;
    let pages = 0;
    while (url !== null) {
      const r = await rawRequest(sb, url);
      expect(r.status).toBe(200);
      const body = r.json as { value: Array<{ subscriptionId: string; state: string; tenantId: string }>; nextLink: string | null };
      for (const s of body.value) seen.push({ id: s.subscriptionId, state: s.state });
      url = body.nextLink;
      pages++;
    }
    expect(pages).toBe(2);
    expect(seen).toEqual([{ id: SUBS[0], state: 'Enabled' }, { id: SUBS[1], state: 'Enabled' }, { id: SUBS[2], state: 'Disabled' }]);
  });

  it.each([
    ['Tenants_List names the sandbox tenant', '/tenants?api-version=2019-11-01', 200, (j: any) => j.value[0].tenantId === sb.tenantId],
    ['Subscriptions_Get answers one subscription', `/subscriptions/${SUB}?api-version=2022-12-01`, 200, (j: any) => j.subscriptionId === SUB],
    ['Subscriptions_Get of an unknown one is SubscriptionNotFound', '/subscriptions/bbbbbbbb-1111-4222-8333-00000000ffff?api-version=2022-12-01', 404, (j: any) => j.error.code === 'SubscriptionNotFound'],
    ['an api-version Microsoft.Resources does not have is refused', '/subscriptions?api-version=2099-01-01', 400, (j: any) => j.error.code === 'NoRegisteredProviderFound'],
  ])('%s', async (_what, path, status, holds) => {
    const r = await rawRequest(sb, `${sb.armEndpoint}${path}`);
    expect(r.status).toBe(status);
    expect(holds(r.json), JSON.stringify(r.json)).toBe(true);
  });
});

describe("ARM's naming rule for Microsoft.Web/certificates", () => {
  it.each([
    ['the name az webapp config ssl upload gives, with a space in the region', 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678__West Europe_rg-apps', true],
    ['260 characters', 'c'.repeat(260), true],
    ['261 characters', 'c'.repeat(261), false],
    ['a slash', 'a/b', false],
    ['ending with a period', 'cert.', false],
    ['ending with a space', 'cert ', false],
    ['a control character', 'ce\u0001rt', false],
    ['empty', '', false],
  ])('%s: %s', (_what, name, valid) => {
    expect(isValidCertificateName(name)).toBe(valid);
  });

  it('an upload under the az name is stored, and a refused name changes nothing', async () => {
    const ca = createCertificateAuthority({ commonName: 'az-test-ca' });
    const leaf = issueCertificate(ca, { commonName: 'client.example', usage: 'client' });
    const pfxBlob = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem }, 'pw').toString('base64');
    const certificates = webClient(sb, SUB).certificates;
    const name = 'THUMB__West Europe_rg-a';
    const stored = await certificates.createOrUpdate('rg-a', name, { location: 'West Europe', pfxBlob: new Uint8Array(Buffer.from(pfxBlob, 'base64')), password: 'pw' } as never);
    expect(stored.name).toBe(name);
    const count = sb.control.certificates(SUB).length;
    const bad = await rawRequest(sb, `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/certificates/bad.?api-version=2022-03-01`, { method: 'PUT', body: { location: 'West Europe', properties: { pfxBlob, password: 'pw' } } });
    expect([bad.status, (bad.json as any).error.code]).toEqual([400, 'InvalidResourceName']);
    expect(sb.control.certificates(SUB)).toHaveLength(count);
  });
});

describe('the service principal sign-in (AD FS-style authority on the ARM host)', () => {
  it('publishes an OpenID configuration whose token endpoint is on 127.0.0.1', async () => {
    const r = await rawRequest(sb, `${sb.authority}/.well-known/openid-configuration`, { token: null });
    expect((r.json as any).token_endpoint).toBe(`${sb.authority}/oauth2/token`);
  });

  it('a token for the right secret is a JWT ARM accepts', async () => {
    const r = await formPost(`${sb.authority}/oauth2/token`, { grant_type: 'client_credentials', client_id: sb.servicePrincipal.clientId, client_secret: sb.servicePrincipal.secret, scope: 'https://management.core.windows.net//.default' }, sb.caPem);
    expect(r.status).toBe(200);
    const arm = await rawRequest(sb, `${sb.armEndpoint}/subscriptions?api-version=2019-11-01`, { token: r.json.access_token });
    expect(arm.status).toBe(200);
  });

  it.each([
    ['a wrong secret', { client_secret: 'not-the-secret' }, 401, /AADSTS7000215/],
    ['an unknown client', { client_id: '00000000-0000-0000-0000-000000000000' }, 400, /AADSTS700016/],
    ['a resource no service has', { scope: 'https://example.invalid/.default' }, 400, /AADSTS500011/],
    ['another grant type', { grant_type: 'password' }, 400, /AADSTS70003/],
  ])('refuses %s, with no token', async (_what, override, status, message) => {
    const r = await formPost(`${sb.authority}/oauth2/token`, { grant_type: 'client_credentials', client_id: sb.servicePrincipal.clientId, client_secret: sb.servicePrincipal.secret, scope: 'https://management.core.windows.net//.default', ...override }, sb.caPem);
    expect(r.status).toBe(status);
    expect(r.json.access_token).toBeUndefined();
    expect(r.json.error_description).toMatch(message);
  });

  it('a storage token from it is refused by ARM (wrong audience)', async () => {
    const r = await formPost(`${sb.authority}/oauth2/token`, { grant_type: 'client_credentials', client_id: sb.servicePrincipal.clientId, client_secret: sb.servicePrincipal.secret, scope: 'https://storage.azure.com/.default' }, sb.caPem);
    const arm = await rawRequest(sb, `${sb.armEndpoint}/subscriptions?api-version=2019-11-01`, { token: r.json.access_token });
    expect([arm.status, (arm.json as any).error.code]).toEqual([401, 'InvalidAuthenticationTokenAudience']);
  });
});
