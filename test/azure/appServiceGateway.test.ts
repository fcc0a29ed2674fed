// The App Service gateway against the sandbox's ARM over HTTPS, through the real @azure/arm-appservice client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import {
  ArmAppServiceGateway,
  createInterner,
  normalizeLocation,
  toCertificateInfo,
  toSiteInfo,
  webspaceKey,
} from '../../src/azure/appServiceGateway.js';
import type { Certificate, Site } from '@azure/arm-appservice';
import { ArmRequestCounter } from '../../src/azure/armPacing.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';
import { NotFoundError, PreconditionError, TransientError } from '../../src/core/errors.js';
import type { AppServiceGateway, SiteInfo } from '../../src/core/ports.js';
import { createCertificateAuthority, issueCertificate, thumbprintOfPem, writePfx } from '../../src/crypto/index.js';
import { adapterScenario, APP0, APP0_STAGING, KV_REFERENCE, RG, SUB, VAULT } from './scenario.js';

let sb: Sandbox;
let gateway: ArmAppServiceGateway;
const counter = new ArmRequestCounter();
/** What went on the wire (method and URL), seen by a per-attempt policy like the pacer. */
const wire: string[] = [];

beforeAll(async () => {
  sb = await startSandbox(adapterScenario(), { simulateApps: false });
  gateway = new ArmAppServiceGateway({
    endpoint: sb.armEndpoint,
    credential: staticTokenCredential(sb.token),
    tlsCa: sb.caPem,
    perRetryPolicies: [
      counter.policy(),
      { name: 'wireRecorder', sendRequest: (request, next) => (wire.push(`${request.method} ${request.url}`), next(request)) },
    ],
  });
});

afterAll(async () => {
  await sb?.stop();
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('webspace keys', () => {
  it.each([
    ['West Europe', 'westeurope'],
    ['westeurope', 'westeurope'],
    ['North Central US', 'northcentralus'],
  ])('normalise the location %s to %s', (location, expected) => {
    expect(normalizeLocation(location)).toBe(expected);
  });

  it('put the same resource group and region in one webspace whatever the case and spelling', () => {
    expect(webspaceKey(SUB, 'RG-Apps', 'West Europe')).toBe(webspaceKey(SUB, 'rg-apps', 'westeurope'));
    expect(webspaceKey(SUB, 'rg-apps', 'West Europe')).not.toBe(webspaceKey(SUB, 'rg-apps', 'North Europe'));
  });
});

describe('ARM mappers with a listing-wide interner', () => {
  // Each item parsed on its own, as ARM pages are: equal strings are separate copies until interned.
  const site = (name: string, slot?: string): Site =>
    JSON.parse(
      JSON.stringify({
        id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Web/sites/${name}${slot ? `/slots/${slot}` : ''}`,
        location: 'West Europe',
        tags: { 'mtls-rotation': 'enabled', team: 'payments' },
        defaultHostName: `${name}.azurewebsites.net`,
        serverFarmId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Web/serverfarms/plan`,
        state: 'Running',
      }),
    ) as Site;
  const certificate = (name: string): Certificate =>
    JSON.parse(
      JSON.stringify({
        id: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Web/certificates/${name}`,
        name,
        location: 'West Europe',
        thumbprint: ' ab'.padEnd(41, 'c'),
        keyVaultId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/kv`,
        keyVaultSecretName: 'client',
        tags: { 'mtls-rotation-managed': 'true' },
      }),
    ) as Certificate;

  it.each([
    ['a site', () => site('app-1'), (s: Site, i?: ReturnType<typeof createInterner>) => toSiteInfo(s, i)],
    ['a slot', () => site('app-1', 'staging'), (s: Site, i?: ReturnType<typeof createInterner>) => toSiteInfo(s, i)],
  ])('map %s to the same SiteInfo with or without interning', (_label, make, map) => {
    const intern = createInterner();
    map(make(), intern);
    expect(map(make(), intern)).toEqual(map(make()));
  });

  it('maps a certificate to the same CertificateInfo with or without interning', () => {
    const intern = createInterner();
    toCertificateInfo(certificate('a'), intern);
    const mapped = toCertificateInfo(certificate('b'), intern);
    expect(mapped).toEqual(toCertificateInfo(certificate('b')));
    expect(mapped).toMatchObject({ subscriptionId: SUB, resourceGroup: RG, webspace: webspaceKey(SUB, RG, 'westeurope'), thumbprint: 'AB'.padEnd(40, 'C') });
  });

  // Which copy comes back is not observable from JS (the heap figures of bench/memory.ts show it); what is: no value
  // is ever swapped for another.
  it('hands back an equal value for every string, repeated or not', () => {
    const intern = createInterner();
    const values = ['West Europe', 'westeurope', 'West Europe', '', 'enabled', 'West Europe'];
    expect(values.map((v) => intern([...v].join('')))).toEqual(values);
  });
});

describe('ArmAppServiceGateway against the sandbox', () => {
  it('lists every site of a subscription across several pages, streaming them', async () => {
    counter.resetStats();
    const sites = await collect(gateway.listSites(SUB));
    expect(sites.map((s) => s.ref.site).sort()).toEqual(['app-0', 'app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'app-6']);
    // Page size 3: three pages, one request each.
    expect(counter.stats.byClass.reads.requests).toBe(3);
    const app0 = sites.find((s) => s.ref.site === 'app-0') as SiteInfo;
    expect(app0).toMatchObject({
      ref: APP0,
      location: 'West Europe',
      tags: { 'mtls-rotation': 'enabled' },
      webspace: webspaceKey(SUB, RG, 'West Europe'),
    });
    expect(app0.id.toLowerCase()).toBe(`/subscriptions/${SUB}/resourcegroups/${RG}/providers/microsoft.web/sites/app-0`);
    expect(app0.defaultHostName).not.toBe('');
  });

  it('stops after the first page when the caller stops', async () => {
    counter.resetStats();
    for await (const site of gateway.listSites(SUB)) {
      expect(site.ref.subscriptionId).toBe(SUB);
      break;
    }
    expect(counter.stats.requests).toBe(1);
  });

  it('lists the slots of a site and gets a site, a slot, and nothing for a missing one', async () => {
    const app0 = (await gateway.getSite(APP0)) as SiteInfo;
    const slots = await collect(gateway.listSlots(app0));
    expect(slots.map((s) => s.ref)).toEqual([APP0_STAGING]);
    expect(slots[0]).toMatchObject({ tags: { env: 'staging' }, webspace: app0.webspace });
    expect((await gateway.getSite(APP0_STAGING))?.ref).toEqual(APP0_STAGING);
    expect(await gateway.getSite({ ...APP0, site: 'no-such-app' })).toBeUndefined();
    expect(await gateway.getSite({ ...APP0, slot: 'no-such-slot' })).toBeUndefined();
  });

  it('reads, writes and reads back settings byte for byte, Key Vault references included', async () => {
    const before = await gateway.readAppSettings(APP0);
    expect(before.DB_PASSWORD).toBe(KV_REFERENCE);
    const changed = { ...before, CLIENT_CERT_THUMBPRINT: 'AB'.repeat(20), 'odd key:with.chars': ' spaced value ' };
    await gateway.writeAppSettings(APP0, changed);
    expect(await gateway.readAppSettings(APP0)).toEqual(changed);
    expect(sb.control.appSettings(APP0)).toEqual(changed);
    // The slot has its own dictionary.
    expect(await gateway.readAppSettings(APP0_STAGING)).toEqual({ SLOT_ONLY: 'yes' });
    await gateway.writeAppSettings(APP0, before);
  });

  it('answers NotFound for the settings of a site that does not exist', async () => {
    await expect(gateway.readAppSettings({ ...APP0, site: 'ghost' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('restarts a site and a slot', async () => {
    const site = sb.control.restarts(APP0);
    const slot = sb.control.restarts(APP0_STAGING);
    await gateway.restart(APP0);
    await gateway.restart(APP0_STAGING);
    expect(sb.control.restarts(APP0)).toBe(site + 1);
    expect(sb.control.restarts(APP0_STAGING)).toBe(slot + 1);
    // A full restart: certificates are loaded when the worker starts.
    expect(wire.filter((line) => line.includes('/restart?'))).toEqual([
      expect.stringMatching(/^POST .*\/sites\/app-0\/restart\?.*softRestart=false/),
      expect.stringMatching(/^POST .*\/sites\/app-0\/slots\/staging\/restart\?.*softRestart=false/),
    ]);
  });

  it('uploads a 3DES PFX, reads it back, re-uploads it, deletes it, and deleting again is fine', async () => {
    const ca = createCertificateAuthority({ commonName: 'gateway-test CA' });
    const leaf = issueCertificate(ca, { commonName: 'gateway-test client', usage: 'client' });
    const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem, chainPems: [ca.certPem] }, 'correct horse battery');
    const input = {
      subscriptionId: SUB,
      resourceGroup: RG,
      name: 'gateway-test',
      location: 'West Europe',
      pfx,
      password: 'correct horse battery',
      tags: { 'mtls-rotation-source': 'https://kv/certificates/x' },
    };
    const uploaded = await gateway.uploadCertificate(input);
    expect(uploaded).toMatchObject({
      name: 'gateway-test',
      resourceGroup: RG,
      thumbprint: thumbprintOfPem(leaf.certPem),
      webspace: webspaceKey(SUB, RG, 'West Europe'),
      tags: input.tags,
    });
    expect(uploaded.expirationDate).toBeInstanceOf(Date);
    expect((await gateway.getCertificate(SUB, RG, 'gateway-test'))?.thumbprint).toBe(leaf.thumbprint);
    expect((await gateway.uploadCertificate(input)).thumbprint).toBe(leaf.thumbprint);

    const inGroup = await collect(gateway.listCertificatesInResourceGroup(SUB, RG));
    expect(inGroup.map((c) => c.name).sort()).toEqual(['client-pfx-v0', 'gateway-test']);
    expect((await collect(gateway.listCertificates(SUB))).map((c) => c.name)).toContain('gateway-test');

    await gateway.deleteCertificate(SUB, RG, 'gateway-test');
    expect(await gateway.getCertificate(SUB, RG, 'gateway-test')).toBeUndefined();
    await gateway.deleteCertificate(SUB, RG, 'gateway-test');
  });

  it('refuses a PFX with the wrong password with a PreconditionError that names the problem and leaks nothing', async () => {
    const ca = createCertificateAuthority({ commonName: 'bad-pfx CA' });
    const leaf = issueCertificate(ca, { commonName: 'bad-pfx client', usage: 'client' });
    const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem }, 'the-real-password-123');
    const password = 'a-wrong-password-456';
    const error = await rejection(
      gateway.uploadCertificate({ subscriptionId: SUB, resourceGroup: RG, name: 'bad-pfx', location: 'West Europe', pfx, password, tags: {} }),
    );
    expect(error).toBeInstanceOf(PreconditionError);
    expect(error.message).toMatch(/upload certificate .*bad-pfx.*400 BadRequest: The specified PFX password is incorrect/);
    const base64 = Buffer.from(pfx).toString('base64');
    const everything = `${error.message} ${String((error as Error & { cause?: unknown }).cause)} ${JSON.stringify(error)}`;
    for (const secret of [password, 'the-real-password-123', base64, base64.slice(0, 64)]) {
      expect(everything).not.toContain(secret);
    }
    // The SDK's RestError (whose request holds the body) is not kept.
    expect(((error as Error & { cause?: { request?: unknown } }).cause)?.request).toBeUndefined();
    expect(await gateway.getCertificate(SUB, RG, 'bad-pfx')).toBeUndefined();
  });

  it('resolves the URI of a Key Vault from its ARM resource id', async () => {
    const id = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/${VAULT}`;
    expect((await gateway.resolveVaultUri(id)).replace(/\/$/, '')).toBe(sb.vaultUrl(VAULT));
    await expect(gateway.resolveVaultUri(id.replace(VAULT, 'kv-missing'))).rejects.toBeInstanceOf(NotFoundError);
    await expect(gateway.resolveVaultUri('/subscriptions/x/resourceGroups/y/providers/Microsoft.Web/sites/z')).rejects.toThrow(
      /is not a Key Vault resource id/,
    );
  });

  it('turns a 503 that outlasts the SDK retries into a TransientError, after retrying each attempt through the pipeline', async () => {
    counter.resetStats();
    const fault = sb.control.addFault({ operation: 'WebApps_Get', status: 503, retryAfterSeconds: 1 });
    try {
      const error = await gateway.getSite({ ...APP0, site: 'app-1' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      expect((error as Error).message).toMatch(/get site .*app-1.* answered 503/);
      expect(counter.stats.requests).toBe(4); // the SDK's 4 attempts, each seen by the per-retry policy
    } finally {
      sb.control.removeFault(fault);
    }
  });

  it('says "not authorized" when ARM refuses the token', async () => {
    const fault = sb.control.addFault({ operation: 'WebApps_ListApplicationSettings', status: 403, code: 'AuthorizationFailed' });
    try {
      await expect(gateway.readAppSettings(APP0)).rejects.toThrow(/read app settings .*not authorized .*403 AuthorizationFailed/);
    } finally {
      sb.control.removeFault(fault);
    }
  });

  it('implements the port', () => {
    const port: AppServiceGateway = gateway;
    expect(typeof port.listSites).toBe('function');
  });
});

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
