// The sandbox's ARM surface against the real @azure/arm-appservice client over HTTPS.
import { RestError } from '@azure/core-rest-pipeline';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { createCertificateAuthority, issueCertificate, writePfx } from '../../src/crypto/index.js';
import { rawRequest, webClient } from './sdk-clients.js';

const SUB = 'aaaaaaaa-1111-4222-8333-000000000001';
const OTHER_SUB = 'aaaaaaaa-1111-4222-8333-000000000002';

const scenario: Scenario = {
  name: 'arm-test',
  armPageSize: 2,
  cas: [{ name: 'ca' }],
  vaults: [
    {
      name: 'kv-arm',
      subscriptionId: SUB,
      resourceGroup: 'rg-a',
      certificates: [
        { name: 'importable', versions: [{ issuer: 'ca', notAfterDays: 30 }, { issuer: 'ca', notAfterDays: 300 }] },
        { name: 'secret-denied', forbidden: true, versions: [{ issuer: 'ca', notAfterDays: 300 }] },
      ],
    },
  ],
  subscriptions: [
    {
      id: SUB,
      resourceGroups: [
        {
          name: 'rg-a',
          location: 'West Europe',
          certificates: [
            { name: 'existing-1', generate: { issuer: 'ca', notAfterDays: 40, material: 'existing-1' } },
            { name: 'existing-2', generate: { issuer: 'ca', notAfterDays: 50 }, tags: { owner: 'team-a' } },
            { name: 'linked', fromVault: { vault: 'kv-arm', certificate: 'importable', version: 0 }, linked: true },
          ],
          sites: [
            {
              name: 'web1',
              tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-slots': 'true' },
              settings: { WEBSITE_LOAD_CERTIFICATES: '{{thumbprint:existing-1}}', KV_REF: '@Microsoft.KeyVault(SecretUri=https://x.vault.azure.net/secrets/y/)' },
              restartMs: 150,
              slots: [
                { name: 'staging', tags: { 'mtls-rotation': 'enabled' }, settings: { SLOT: 'staging' } },
                { name: 'canary', settings: { SLOT: 'canary' } },
              ],
            },
            { name: 'web2' },
            { name: 'web3' },
            { name: 'web4' },
          ],
        },
        { name: 'rg-b', location: 'North Europe', sites: [{ name: 'api1' }, { name: 'api2' }, { name: 'api3' }] },
      ],
    },
    { id: OTHER_SUB, resourceGroups: [{ name: 'rg-other', location: 'West Europe', sites: [{ name: 'elsewhere' }] }] },
  ],
};

let sb: Sandbox;
const web1 = { subscriptionId: SUB, resourceGroup: 'rg-a', site: 'web1' };

beforeAll(async () => {
  sb = await startSandbox(scenario);
});
afterAll(async () => {
  await sb?.stop();
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function restError(err: unknown): { statusCode?: number; code?: string } {
  expect(err).toBeInstanceOf(RestError);
  const e = err as RestError;
  return { statusCode: e.statusCode, code: e.code };
}

describe('sites and slots', () => {
  it('lists every site of a subscription across nextLink pages, and only that subscription', async () => {
    sb.control.resetCounters();
    const names = (await collect(webClient(sb, SUB).webApps.list())).map((s) => s.name);
    expect(names).toEqual(['web1', 'web2', 'web3', 'web4', 'api1', 'api2', 'api3']);
    // 7 sites at 2 per page: 4 pages, each one ARM read.
    expect(sb.control.counters().arm.byOperation.WebApps_List).toBe(4);
  });

  it('lists the sites of one resource group across pages', async () => {
    const names = (await collect(webClient(sb, SUB).webApps.listByResourceGroup('rg-b'))).map((s) => s.name);
    expect(names).toEqual(['api1', 'api2', 'api3']);
  });

  it('gets a site with its tags, location and the simulated app as default host name', async () => {
    const site = await webClient(sb, SUB).webApps.get('rg-a', 'web1');
    expect(site.id).toBe(`/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/sites/web1`);
    expect(site.tags).toEqual({ 'mtls-rotation': 'enabled', 'mtls-rotation-slots': 'true' });
    expect(site.location).toBe('West Europe');
    expect(site.defaultHostName).toBe(new URL(sb.appUrl(web1)).host);
    expect(site.enabledHostNames).toContain(site.defaultHostName);
  });

  it('lists and gets the slots of a site, with their own tags', async () => {
    const client = webClient(sb, SUB);
    const slots = await collect(client.webApps.listSlots('rg-a', 'web1'));
    expect(slots.map((s) => s.name)).toEqual(['web1/staging', 'web1/canary']);
    expect(slots[0]!.type).toBe('Microsoft.Web/sites/slots');
    const staging = await client.webApps.getSlot('rg-a', 'web1', 'staging');
    expect(staging.tags).toEqual({ 'mtls-rotation': 'enabled' });
    expect(staging.defaultHostName).toBe(new URL(sb.appUrl({ ...web1, slot: 'staging' })).host);
  });

  it('answers ResourceNotFound for a site that does not exist and ResourceGroupNotFound for a missing group', async () => {
    const client = webClient(sb, SUB);
    expect(restError(await client.webApps.get('rg-a', 'nope').catch((e: unknown) => e))).toEqual({ statusCode: 404, code: 'ResourceNotFound' });
    expect(restError(await client.webApps.get('rg-missing', 'web1').catch((e: unknown) => e))).toEqual({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });
});

describe('app settings and restart', () => {
  it('PUT replaces the whole dictionary and the list reads back exactly what was written', async () => {
    const client = webClient(sb, SUB);
    const before = (await client.webApps.listApplicationSettings('rg-a', 'web1')).properties!;
    expect(before.KV_REF).toBe('@Microsoft.KeyVault(SecretUri=https://x.vault.azure.net/secrets/y/)');
    const written = { KV_REF: before.KV_REF!, CLIENT_CERT_THUMBPRINT: 'ABCDEF', 'WITH SPACE': ' padded value ' };
    const answer = await client.webApps.updateApplicationSettings('rg-a', 'web1', { properties: written });
    expect(answer.properties).toEqual(written);
    // WEBSITE_LOAD_CERTIFICATES was not in the PUT: it is gone, as on the real platform.
    expect((await client.webApps.listApplicationSettings('rg-a', 'web1')).properties).toEqual(written);
    expect(sb.control.appSettings(web1)).toEqual(written);
  });

  it('the slot variants read and write the slot, not the site', async () => {
    const client = webClient(sb, SUB);
    await client.webApps.updateApplicationSettingsSlot('rg-a', 'web1', 'canary', { properties: { SLOT: 'canary', NEW: '1' } });
    expect((await client.webApps.listApplicationSettingsSlot('rg-a', 'web1', 'canary')).properties).toEqual({ SLOT: 'canary', NEW: '1' });
    expect((await client.webApps.listApplicationSettingsSlot('rg-a', 'web1', 'staging')).properties).toEqual({ SLOT: 'staging' });
  });

  it('counts settings list (a POST …/list action) and update as ARM writes', async () => {
    sb.control.resetCounters();
    const client = webClient(sb, SUB);
    await client.webApps.listApplicationSettings('rg-a', 'web2');
    await client.webApps.get('rg-a', 'web2');
    const c = sb.control.counters();
    expect([c.arm.reads, c.arm.writes]).toEqual([1, 1]);
    expect(c.arm.bySubscription[SUB]).toEqual({ reads: 1, writes: 1, throttled: 0 });
  });

  it('restart with synchronous=true returns after the simulated app is back', async () => {
    const client = webClient(sb, SUB);
    const before = sb.control.restarts(web1);
    await client.webApps.restart('rg-a', 'web1', { synchronous: true, softRestart: false });
    expect(sb.control.restarts(web1)).toBe(before + 1);
    const health = await rawRequest(sb, `${sb.appUrl(web1)}/`, { token: null });
    expect(health.status).toBe(200);
  });

  it('restart without synchronous answers at once while the app is still restarting', async () => {
    await webClient(sb, SUB).webApps.restartSlot('rg-a', 'web1', 'staging');
    expect(sb.control.restarts({ ...web1, slot: 'staging' })).toBe(1);
    // restartMs is 100 ms by default: the app still answers 503 right after the call.
    expect((await rawRequest(sb, `${sb.appUrl({ ...web1, slot: 'staging' })}/`, { token: null })).status).toBe(503);
  });
});

describe('Microsoft.Web/certificates', () => {
  const ca = createCertificateAuthority({ commonName: 'Test Upload CA' });
  const leaf = issueCertificate(ca, {
    commonName: 'upload.example',
    usage: 'client',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2036-01-01T00:00:00Z'),
  });
  const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem, chainPems: [ca.certPem] }, 'p@ss-w0rd');

  it('PUT with pfxBlob and password parses the PFX and fills thumbprint, dates, subject and issuer', async () => {
    const client = webClient(sb, SUB);
    const created = await client.certificates.createOrUpdate('rg-a', 'uploaded', {
      location: 'West Europe',
      pfxBlob: pfx,
      password: 'p@ss-w0rd',
      tags: { 'mtls-rotation-source': 'https://kv/certificates/x' },
    });
    expect(created.thumbprint).toBe(leaf.thumbprint);
    expect(created.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(created.subjectName).toBe('upload.example');
    expect(created.issuer).toBe('Test Upload CA');
    expect(created.tags).toEqual({ 'mtls-rotation-source': 'https://kv/certificates/x' });
    expect(created.password).toBeUndefined();
    expect(created.pfxBlob).toBeUndefined();
    const raw = await rawRequest(sb, `${sb.armEndpoint}${created.id}?api-version=2025-05-01`);
    const props = (raw.json as { properties: Record<string, unknown> }).properties;
    expect(props.expirationDate).toBe('2036-01-01T00:00:00+00:00');
    expect(props.issueDate).toBe('2026-01-01T00:00:00+00:00');
    expect(JSON.stringify(raw.json)).not.toContain('p@ss-w0rd');
  });

  it('lists certificates by subscription across pages and by resource group, and gets one', async () => {
    const client = webClient(sb, SUB);
    const all = (await collect(client.certificates.list())).map((c) => c.name);
    expect(all).toEqual(expect.arrayContaining(['existing-1', 'existing-2', 'linked', 'uploaded']));
    expect((await collect(client.certificates.listByResourceGroup('rg-a'))).map((c) => c.name)).toEqual(all);
    const linked = await client.certificates.get('rg-a', 'linked');
    expect(linked.keyVaultId).toBe(`/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv-arm`);
    expect(linked.keyVaultSecretName).toBe('importable');
    expect((await client.certificates.get('rg-a', 'existing-2')).tags).toEqual({ owner: 'team-a' });
  });

  it.each([
    ['a wrong password', () => ({ pfxBlob: pfx, password: 'wrong' })],
    [
      'a PFX without a private key',
      () => {
        const asn1 = forge.pkcs12.toPkcs12Asn1(null, [forge.pki.certificateFromPem(leaf.certPem)], 'pw', { algorithm: '3des' });
        return { pfxBlob: Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'), password: 'pw' };
      },
    ],
    ['bytes that are not a PFX', () => ({ pfxBlob: Buffer.from('not a pfx at all'), password: 'pw' })],
    ['neither pfxBlob nor keyVaultId', () => ({})],
  ])('refuses %s with 400 in ARM error shape and creates nothing', async (_label, props) => {
    const client = webClient(sb, SUB);
    const err = await client.certificates.createOrUpdate('rg-a', 'refused', { location: 'West Europe', ...props() }).catch((e: unknown) => e);
    expect(restError(err)).toEqual({ statusCode: 400, code: 'BadRequest' });
    expect(sb.control.certificates(SUB).map((c) => c.name)).not.toContain('refused');
  });

  it('the 400 for a wrong password names the problem, not the password', async () => {
    const body = { location: 'West Europe', properties: { pfxBlob: pfx.toString('base64'), password: 'hunter2-wrong' } };
    const res = await rawRequest(sb, `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/certificates/x?api-version=2025-05-01`, {
      method: 'PUT',
      body,
    });
    expect(res.status).toBe(400);
    const error = (res.json as { error: { code: string; message: string } }).error;
    expect(error.message).toMatch(/password/i);
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses a second certificate with the same thumbprint in one webspace (409)', async () => {
    const err = await webClient(sb, SUB)
      .certificates.createOrUpdate('rg-a', 'uploaded-again', { location: 'West Europe', pfxBlob: pfx, password: 'p@ss-w0rd' })
      .catch((e: unknown) => e);
    expect(restError(err).statusCode).toBe(409);
  });

  it('PUT with keyVaultId and keyVaultSecretName imports the current version from the sandbox vault', async () => {
    const vaultId = `/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv-arm`;
    const imported = await webClient(sb, SUB).certificates.createOrUpdate('rg-b', 'imported', {
      location: 'North Europe',
      keyVaultId: vaultId,
      keyVaultSecretName: 'importable',
    });
    expect(imported.thumbprint).toBe(sb.control.thumbprint('kv-arm/importable/latest'));
    expect(imported.keyVaultId).toBe(vaultId);
    const denied = await webClient(sb, SUB)
      .certificates.createOrUpdate('rg-b', 'denied', { location: 'North Europe', keyVaultId: vaultId, keyVaultSecretName: 'secret-denied' })
      .catch((e: unknown) => e);
    expect(restError(denied)).toEqual({ statusCode: 400, code: 'BadRequest' });
  });

  it('DELETE removes the certificate (200), then answers 204 and GET answers 404', async () => {
    const client = webClient(sb, SUB);
    await client.certificates.delete('rg-a', 'uploaded');
    expect(sb.control.certificates(SUB).map((c) => c.name)).not.toContain('uploaded');
    const path = `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/certificates/uploaded?api-version=2025-05-01`;
    expect((await rawRequest(sb, path, { method: 'DELETE' })).status).toBe(204);
    expect(restError(await client.certificates.get('rg-a', 'uploaded').catch((e: unknown) => e))).toEqual({ statusCode: 404, code: 'ResourceNotFound' });
  });
});

describe('ARM protocol', () => {
  const sitesUrl = () => `${sb.armEndpoint}/subscriptions/${SUB}/providers/Microsoft.Web/sites`;

  it('answers 401 in ARM error shape without a bearer token, and does not act on the request', async () => {
    const settingsUrl = `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Web/sites/web3/config/appsettings?api-version=2025-05-01`;
    const res = await rawRequest(sb, settingsUrl, { method: 'PUT', token: null, body: { properties: { HIJACKED: 'yes' } } });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: { code: 'AuthenticationFailed', message: "Authentication failed. The 'Authorization' header is missing." } });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer authorization_uri="https:\/\/login\.microsoftonline\.com\//);
    expect(sb.control.appSettings({ subscriptionId: SUB, resourceGroup: 'rg-a', site: 'web3' })).toEqual({});
  });

  it.each([
    ['without api-version', '', 'MissingApiVersionParameter'],
    ['with an api-version Microsoft.Web does not have', '?api-version=1999-01-01', 'NoRegisteredProviderFound'],
  ])('answers 400 %s', async (_label, query, code) => {
    const res = await rawRequest(sb, `${sitesUrl()}${query}`);
    expect(res.status).toBe(400);
    expect((res.json as { error: { code: string } }).error.code).toBe(code);
  });

  it('reports the remaining read quota on every answer, errors included', async () => {
    const ok = await rawRequest(sb, `${sitesUrl()}?api-version=2025-05-01`);
    const bad = await rawRequest(sb, sitesUrl());
    expect(Number(ok.headers['x-ms-ratelimit-remaining-subscription-reads'])).toBeGreaterThan(0);
    expect(bad.headers['x-ms-ratelimit-remaining-subscription-reads']).toBeDefined();
  });

  it('serves Microsoft.KeyVault/vaults with properties.vaultUri pointing at the sandbox vault', async () => {
    const res = await rawRequest(sb, `${sb.armEndpoint}/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv-arm?api-version=2023-07-01`);
    expect(res.status).toBe(200);
    expect((res.json as { properties: { vaultUri: string } }).properties.vaultUri).toBe(`${sb.vaultUrl('kv-arm')}/`);
  });

  it('keeps subscriptions apart', async () => {
    const names = (await collect(webClient(sb, OTHER_SUB).webApps.list())).map((s) => s.name);
    expect(names).toEqual(['elsewhere']);
    const err = await webClient(sb, 'aaaaaaaa-1111-4222-8333-00000000dead').webApps.get('rg-a', 'web1').catch((e: unknown) => e);
    expect(restError(err)).toEqual({ statusCode: 404, code: 'SubscriptionNotFound' });
  });
});

