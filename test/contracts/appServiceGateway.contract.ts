// What the AppServiceGateway port (src/core/ports.ts) promises, as one suite for the real adapter (ARM over HTTPS,
// against the sandbox) and the in-memory App Service the core tests rotate in. Each world holds the same apps:
// app-0 (with a slot `staging`) and app-1 … app-6 in one resource group, one certificate `client-pfx-v0`, one vault.
import { describe, expect, it } from 'vitest';
import { NotFoundError, PreconditionError } from '../../src/core/errors.js';
import type { AppRef, AppServiceGateway, AppSettings, SiteInfo } from '../../src/core/ports.js';
import { createCertificateAuthority, issueCertificate, writePfx } from '../../src/crypto/index.js';

export interface GatewayHarness {
  gateway: AppServiceGateway;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  app0: AppRef;
  staging: AppRef;
  /** The ARM resource id of the world's vault, and the URI it resolves to. */
  vaultId: string;
  vaultUri: string;
  /** How often the world has (re)started an app. */
  restarts(ref: AppRef): number;
}

export const SITE_NAMES = ['app-0', 'app-1', 'app-2', 'app-3', 'app-4', 'app-5', 'app-6'];
export const KV_REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv-main.vault.azure.net/secrets/db-password/)';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export function appServiceGatewayContract(name: string, harness: () => GatewayHarness): void {
  describe(`AppServiceGateway contract: ${name}`, () => {
    it('lists every site of a subscription, without their slots, each in its webspace', async () => {
      const h = harness();
      const sites = await collect(h.gateway.listSites(h.subscriptionId));
      expect(sites.map((s) => s.ref.site).sort()).toEqual(SITE_NAMES);
      expect(sites.every((s) => s.ref.slot === undefined)).toBe(true);
      const app0 = sites.find((s) => s.ref.site === 'app-0') as SiteInfo;
      expect(app0).toMatchObject({ ref: h.app0, location: h.location, tags: { 'mtls-rotation': 'enabled' } });
      expect(new Set(sites.map((s) => s.webspace)).size).toBe(1);
      expect(app0.defaultHostName).not.toBe('');
    });

    it('gets a site and a slot, lists the slot in the site’s webspace, and answers nothing for what does not exist', async () => {
      const h = harness();
      const app0 = (await h.gateway.getSite(h.app0)) as SiteInfo;
      expect(app0.ref).toEqual(h.app0);
      const slots = await collect(h.gateway.listSlots(app0));
      expect(slots.map((s) => s.ref)).toEqual([h.staging]);
      expect(slots[0]?.webspace).toBe(app0.webspace);
      expect((await h.gateway.getSite(h.staging))?.ref).toEqual(h.staging);
      expect(await h.gateway.getSite({ ...h.app0, site: 'no-such-app' })).toBeUndefined();
      expect(await h.gateway.getSite({ ...h.app0, slot: 'no-such-slot' })).toBeUndefined();
    });

    it('writes settings as a whole dictionary: read back byte for byte, an omitted key is gone, the slot keeps its own', async () => {
      const h = harness();
      const before = await h.gateway.readAppSettings(h.app0);
      expect(before.DB_PASSWORD).toBe(KV_REFERENCE);
      const changed: AppSettings = { ...before, CLIENT_CERT_THUMBPRINT: 'AB'.repeat(20), 'odd key:with.chars': ' spaced, "quoted" value ' };
      await h.gateway.writeAppSettings(h.app0, changed);
      expect(await h.gateway.readAppSettings(h.app0)).toEqual(changed);
      const { DB_PASSWORD: _dropped, ...without } = changed;
      await h.gateway.writeAppSettings(h.app0, without);
      expect(await h.gateway.readAppSettings(h.app0)).toEqual(without);
      expect(await h.gateway.readAppSettings(h.staging)).toEqual({ SLOT_ONLY: 'yes' });
      await h.gateway.writeAppSettings(h.app0, before);
      expect(await h.gateway.readAppSettings(h.app0)).toEqual(before);
    });

    it('answers NotFound for the settings of a site that does not exist', async () => {
      const h = harness();
      await expect(h.gateway.readAppSettings({ ...h.app0, site: 'ghost' })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('restarts a site and a slot, each on its own', async () => {
      const h = harness();
      const site = h.restarts(h.app0);
      const slot = h.restarts(h.staging);
      await h.gateway.restart(h.app0);
      expect([h.restarts(h.app0), h.restarts(h.staging)]).toEqual([site + 1, slot]);
      await h.gateway.restart(h.staging);
      expect([h.restarts(h.app0), h.restarts(h.staging)]).toEqual([site + 1, slot + 1]);
    });

    it('uploads a PFX, finds it, takes the same upload again, deletes it, and deleting again is fine', async () => {
      const h = harness();
      const ca = createCertificateAuthority({ commonName: 'contract CA' });
      const leaf = issueCertificate(ca, { commonName: 'contract client', usage: 'client' });
      const input = {
        subscriptionId: h.subscriptionId,
        resourceGroup: h.resourceGroup,
        name: 'contract-upload',
        location: h.location,
        pfx: writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem, chainPems: [ca.certPem] }, 'correct horse battery'),
        password: 'correct horse battery',
        tags: { 'mtls-rotation-source': 'https://kv/certificates/x' },
      };
      const uploaded = await h.gateway.uploadCertificate(input);
      expect(uploaded).toMatchObject({ name: 'contract-upload', resourceGroup: h.resourceGroup, thumbprint: leaf.thumbprint, tags: input.tags });
      expect(uploaded.expirationDate).toBeInstanceOf(Date);
      const site = (await h.gateway.getSite(h.app0)) as SiteInfo;
      expect(uploaded.webspace).toBe(site.webspace);
      expect((await h.gateway.getCertificate(h.subscriptionId, h.resourceGroup, 'contract-upload'))?.thumbprint).toBe(leaf.thumbprint);
      expect((await h.gateway.uploadCertificate(input)).thumbprint).toBe(leaf.thumbprint);
      const inGroup = await collect(h.gateway.listCertificatesInResourceGroup(h.subscriptionId, h.resourceGroup));
      expect(inGroup.map((c) => c.name).sort()).toEqual(['client-pfx-v0', 'contract-upload']);
      expect((await collect(h.gateway.listCertificates(h.subscriptionId))).map((c) => c.name)).toContain('contract-upload');
      await h.gateway.deleteCertificate(h.subscriptionId, h.resourceGroup, 'contract-upload');
      expect(await h.gateway.getCertificate(h.subscriptionId, h.resourceGroup, 'contract-upload')).toBeUndefined();
      await h.gateway.deleteCertificate(h.subscriptionId, h.resourceGroup, 'contract-upload');
    });

    it('refuses a PFX that does not open with its password, as a precondition, creating nothing', async () => {
      const h = harness();
      const ca = createCertificateAuthority({ commonName: 'contract bad CA' });
      const leaf = issueCertificate(ca, { commonName: 'contract bad client', usage: 'client' });
      const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem }, 'the-real-password-123');
      const upload = { subscriptionId: h.subscriptionId, resourceGroup: h.resourceGroup, name: 'contract-bad', location: h.location, pfx, password: 'a-wrong-password-456', tags: {} };
      const error = await h.gateway.uploadCertificate(upload).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(PreconditionError);
      expect(String((error as Error).message)).toMatch(/password/i);
      expect(String((error as Error).message)).not.toContain('a-wrong-password-456');
      expect(await h.gateway.getCertificate(h.subscriptionId, h.resourceGroup, 'contract-bad')).toBeUndefined();
    });

    it('resolves a vault’s URI from its resource id, and answers NotFound for a vault that does not exist', async () => {
      const h = harness();
      expect((await h.gateway.resolveVaultUri(h.vaultId)).replace(/\/$/, '')).toBe(h.vaultUri.replace(/\/$/, ''));
      await expect(h.gateway.resolveVaultUri(h.vaultId.replace(/[^/]+$/, 'kv-missing'))).rejects.toBeInstanceOf(NotFoundError);
    });
  });
}
