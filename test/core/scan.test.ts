import { beforeAll, describe, expect, it } from 'vitest';
import { appIdOf } from '../../src/core/identity.js';
import { scanInventory } from '../../src/core/scan.js';
import { createRotator } from '../../src/core/rotator.js';
import { CertificateFactory, createWorld, SUB, SUB2, VAULT_URL, type World } from '../helpers/memory-ports.js';

const certs = new CertificateFactory();
let oldCert: ReturnType<CertificateFactory['client']>;
let newCert: ReturnType<CertificateFactory['client']>;
let otherCert: ReturnType<CertificateFactory['client']>;

beforeAll(() => {
  oldCert = certs.client('client', -340, 20);
  newCert = certs.client('client', -1, 365);
  otherCert = certs.client('other', -10, 300);
});

const tagged = { 'mtls-rotation': 'enabled', 'mtls-rotation-health': '/healthz/outbound-mtls' };

function arrange(): World {
  const world = createWorld({ certs, config: { AZURE_SUBSCRIPTION_IDS: `${SUB},${SUB2}` } });
  const { appService, keyVault } = world;
  const vaultId = appService.addVault(SUB, 'kv1', `${VAULT_URL}/`);
  keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, oldCert);
  keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, newCert);
  keyVault.add({ vaultUrl: VAULT_URL, name: 'other' }, otherCert);
  appService.addCertificate({ subscriptionId: SUB, name: 'client-linked', certificate: oldCert, keyVaultId: vaultId, keyVaultSecretName: 'client' });
  appService.addCertificate({
    subscriptionId: SUB,
    name: 'other-tagged',
    certificate: otherCert,
    tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/other`, 'mtls-rotation-version': 'v', 'mtls-rotation-managed': 'true' },
  });
  const lower = oldCert.thumbprint.toLowerCase();
  appService.addSite({ subscriptionId: SUB, name: 'app-a', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: ` ${lower} ,${lower}` } });
  appService.addSite({ subscriptionId: SUB, name: 'app-untagged', settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-wild', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: '*' } });
  appService.addSite({ subscriptionId: SUB, name: 'app-slots', tags: { ...tagged, 'mtls-rotation-slots': 'true' }, settings: { WEBSITE_LOAD_CERTIFICATES: otherCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-slots', slot: 'staging', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-slots', slot: 'dev', settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-noslots', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: otherCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-noslots', slot: 'staging', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-badtag', tags: { ...tagged, 'mtls-rotation-health': 'healthz' }, settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
  appService.addSite({ subscriptionId: SUB, name: 'app-dangling', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: 'C'.repeat(40) } });
  appService.addSite({ subscriptionId: SUB2, name: 'app-elsewhere', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
  return world;
}

const idOf = (site: string, slot?: string) => appIdOf(slot ? { subscriptionId: SUB, resourceGroup: 'rg-apps', site, slot } : { subscriptionId: SUB, resourceGroup: 'rg-apps', site });

describe('scanInventory', () => {
  it('keeps only opted-in apps and slots, lists slots only where asked, and maps bindings to Key Vault', async () => {
    const world = arrange();
    const scan = await scanInventory(world.deps, world.config);
    const names = scan.apps.map((a) => a.name).sort();
    expect(names).toEqual(['app-a', 'app-badtag', 'app-dangling', 'app-elsewhere', 'app-noslots', 'app-slots', 'app-slots/staging', 'app-wild']);

    const a = scan.apps.find((x) => x.name === 'app-a')!;
    expect(a.problems).toEqual([]);
    expect(a.bindings).toHaveLength(1);
    expect(a.bindings[0]).toMatchObject({
      key: oldCert.thumbprint,
      dangling: false,
      sourceOrigin: 'linked',
      source: { vaultUrl: VAULT_URL, name: 'client' },
      latest: { thumbprint: newCert.thumbprint },
      evaluation: { due: true, decision: { reason: 'NewerVersionAvailable' }, daysRemaining: 20 },
    });

    const wild = scan.apps.find((x) => x.name === 'app-wild')!;
    expect(wild.mode).toBe('wildcard');
    expect(wild.bindings.map((b) => [b.key, b.sourceOrigin, b.loaded?.thumbprint]).sort()).toEqual([
      [`${VAULT_URL}/certificates/client`.toLowerCase(), 'linked', oldCert.thumbprint],
      [`${VAULT_URL}/certificates/other`.toLowerCase(), 'rotatorTag', otherCert.thumbprint],
    ]);

    const bad = scan.apps.find((x) => x.name === 'app-badtag')!;
    expect(bad.problems).toEqual(["tag mtls-rotation-health: 'healthz' must be a path starting with '/' (e.g. /healthz/outbound-mtls)"]);
    expect(bad.bindings).toEqual([]);

    const dangling = scan.apps.find((x) => x.name === 'app-dangling')!;
    expect(dangling.bindings[0]).toMatchObject({ dangling: true, evaluation: { due: false, decision: { reason: 'DanglingThumbprint' } } });
    expect(dangling.bindings[0]?.problem).toMatch(/^DanglingThumbprint without a source/);

    expect(scan.subscriptions.map((s) => [s.subscriptionId, s.ok])).toEqual([[SUB, true], [SUB2, true]]);
  });

  it('stays at the ARM floor and makes no write', async () => {
    const world = arrange();
    await scanInventory(world.deps, world.config);
    const { appService } = world;
    const sitesSub1 = [...appService.sites.values()].filter((s) => s.ref.subscriptionId === SUB && !s.ref.slot).length;
    const pages = (n: number) => Math.max(1, Math.ceil(n / appService.pageSize));
    expect(appService.writes()).toEqual([]);
    expect(appService.count('listSites')).toBe(pages(sitesSub1) + pages(1));
    expect(appService.count('listCertificates')).toBe(pages(2) + pages(0));
    // app-slots is the only site tagged -slots=true (app-noslots has an opted-in slot that is never listed).
    expect(appService.log.filter((e) => e.op === 'listSlots').map((e) => e.target)).toEqual([idOf('app-slots')]);
    // One settings read per opted-in app with valid tags: a, wild, slots, slots/staging, noslots, dangling, elsewhere.
    expect(appService.count('readAppSettings')).toBe(7);
    expect(appService.log.filter((e) => e.op === 'readAppSettings').map((e) => e.target)).not.toContain(idOf('app-untagged'));
    expect(appService.count('resolveVaultUri')).toBe(1);
    expect(appService.count('getSite') + appService.count('getCertificate') + appService.count('listCertificatesInResourceGroup')).toBe(0);
    // One Key Vault look-up per distinct source.
    expect(world.keyVault.log.filter((e) => e.op === 'getLatest').map((e) => e.target).sort()).toEqual([
      `${VAULT_URL}/certificates/client`.toLowerCase(),
      `${VAULT_URL}/certificates/other`.toLowerCase(),
    ]);
  });

  it('reports a failing subscription and a failing app while the rest of the scan goes on', async () => {
    const world = arrange();
    world.appService.beforeOp = (op, target) => {
      if (op === 'listSites' && target === SUB2) throw Object.assign(new Error('AuthorizationFailed'), { statusCode: 403 });
      if (op === 'readAppSettings' && target === idOf('app-wild')) throw Object.assign(new Error('boom'), { statusCode: 500 });
    };
    const scan = await scanInventory(world.deps, world.config);
    expect(scan.subscriptions.find((s) => s.subscriptionId === SUB2)).toMatchObject({ ok: false, error: expect.stringContaining('AuthorizationFailed') });
    const wild = scan.apps.find((a) => a.name === 'app-wild')!;
    expect(wild.settingsUnreadable).toBe(true);
    expect(wild.problems[0]).toMatch(/app settings cannot be read: Transient: boom/);
    expect(scan.subscriptions.find((s) => s.subscriptionId === SUB)?.unreadableWebspaces).toEqual([wild.site.webspace]);
    expect(scan.apps.find((a) => a.name === 'app-a')?.bindings[0]?.evaluation.due).toBe(true);
  });

  it('finds the source of a dangling thumbprint from the app tag or a resource elsewhere', async () => {
    const world = createWorld({ certs });
    const { appService, keyVault } = world;
    keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, newCert);
    // The thumbprint exists in another resource group (another webspace), tagged by the rotator.
    appService.addCertificate({
      subscriptionId: SUB,
      resourceGroup: 'rg-other',
      name: 'client-old',
      certificate: oldCert,
      tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/client` },
    });
    appService.addSite({ subscriptionId: SUB, name: 'by-elsewhere', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint } });
    appService.addSite({
      subscriptionId: SUB,
      name: 'by-tag',
      tags: { ...tagged, 'mtls-rotation-source': `${VAULT_URL}/certificates/client` },
      settings: { WEBSITE_LOAD_CERTIFICATES: 'D'.repeat(40) },
    });
    const scan = await scanInventory(world.deps, world.config);
    const byName = (n: string) => scan.apps.find((a) => a.name === n)!.bindings[0]!;
    expect(byName('by-elsewhere')).toMatchObject({ dangling: true, sourceOrigin: 'elsewhere', evaluation: { due: true, decision: { reason: 'DanglingThumbprint' } } });
    expect(byName('by-tag')).toMatchObject({ dangling: true, sourceOrigin: 'appTag', evaluation: { due: true } });
  });

  describe('sources are granted, never taken', () => {
    const TEAM_B = `/subscriptions/${SUB}/resourceGroups/rg-team-b`;
    // kv1's 'client' is granted by its vault owner to team B's resource group only; SOURCE_POLICY grants nothing here.
    function teams(policy: string): World {
      const world = createWorld({ certs, config: { SOURCE_POLICY: policy } });
      world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, newCert, { meta: { tags: { 'mtls-rotation-consumers': TEAM_B } } });
      // Team B's old certificate, tagged with its source: where the dangling repair would look.
      world.appService.addCertificate({
        subscriptionId: SUB,
        resourceGroup: 'rg-team-b',
        name: 'client-old',
        certificate: oldCert,
        tags: { 'mtls-rotation-source': `${VAULT_URL}/certificates/client` },
      });
      return world;
    }
    const pinned = () => ({ WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint });
    const SOURCE_TAG = { 'mtls-rotation-source': `${VAULT_URL}/certificates/client` };

    it.each<[string, string, string, Record<string, string>, 'due' | RegExp]>([
      ["team B's own app (the certificate is in its webspace) is granted its source", '', 'rg-team-b', {}, 'due'],
      ["team A's app pinning team B's thumbprint finds B's certificate, but is not granted its source", '', 'rg-team-a', {},
        /^SourceNotAuthorized: [0-9A-F]{40} is pinned in WEBSITE_LOAD_CERTIFICATES .* no grant lets \/subscriptions\/.*\/resourceGroups\/rg-team-a/],
      ["team A's app naming team B's source in its tag is refused", '', 'rg-team-a', SOURCE_TAG, /^SourceNotAuthorized: no grant lets/],
      ["the operator's policy grants team A the source: the dangling repair proceeds", `/subscriptions/${SUB}/resourceGroups/rg-team-a => kv1.vault.azure.net/client`, 'rg-team-a', {}, 'due'],
      ["a source tag naming a host that is not Key Vault is refused before Key Vault is asked", '', 'rg-team-a',
        { 'mtls-rotation-source': 'https://kv1.vault.azure.net.evil.test/certificates/client' }, /^SourceNotAuthorized: .* is not a Key Vault source: .*is not a Key Vault host/],
    ])('%s', async (_sentence, policy, resourceGroup, tags, expected) => {
      const world = teams(policy);
      world.appService.addSite({ subscriptionId: SUB, resourceGroup, name: 'app', tags: { ...tagged, ...tags }, settings: pinned() });
      const reads = world.keyVault.log.length;
      const scan = await scanInventory(world.deps, world.config);
      const binding = scan.apps[0]!.bindings[0]!;
      if (expected === 'due') {
        expect(binding.evaluation).toMatchObject({ due: true });
        expect(binding.latest?.thumbprint).toBe(newCert.thumbprint);
        return;
      }
      expect(binding.problem).toMatch(expected);
      expect(binding.evaluation).toMatchObject({ due: false, refusal: { refusal: 'SourceNotAuthorized' } });
      expect(binding.latest).toBeUndefined();
      // The secret (the key) is never read for a refused source; only the public certificate, for its tag.
      expect(world.keyVault.log.slice(reads).map((entry) => entry.op)).not.toContain('getSecret');
      if (String(tags['mtls-rotation-source']).includes('evil')) expect(world.keyVault.log.slice(reads)).toEqual([]);
    });
  });

  it('a refused source raises TrustRefused with its reason and the source, and nothing is due', async () => {
    const world = createWorld({ certs, config: { SOURCE_POLICY: '' } });
    world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, newCert, { meta: { tags: { 'mtls-rotation-consumers': `/subscriptions/${SUB}/resourceGroups/rg-team-b` } } });
    world.appService.addSite({
      subscriptionId: SUB,
      resourceGroup: 'rg-team-a',
      name: 'taker',
      tags: { ...tagged, 'mtls-rotation-source': `${VAULT_URL}/certificates/client` },
      settings: { WEBSITE_LOAD_CERTIFICATES: 'E'.repeat(40) },
    });
    const report = await createRotator(world.deps, world.config).scan();
    expect(report.plan.apps[0]).toMatchObject({ action: 'alert', due: [] });
    const refused = world.telemetry.events.filter((e) => e.name === 'TrustRefused');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.dimensions).toMatchObject({ refusal: 'SourceNotAuthorized', source: `${VAULT_URL}/certificates/client` });
    expect(String(refused[0]?.dimensions.problem)).toMatch(/no grant lets/);
  });

  it('reports malformed WEBSITE_LOAD_CERTIFICATES as a problem of the app', async () => {
    const world = createWorld({ certs });
    world.appService.addSite({ subscriptionId: SUB, name: 'typo', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: 'not-a-thumbprint' } });
    world.appService.addSite({ subscriptionId: SUB, name: 'empty', tags: tagged, settings: {} });
    const scan = await scanInventory(world.deps, world.config);
    expect(scan.apps.map((a) => [a.name, a.problems]).sort()).toEqual([
      ['empty', ['WEBSITE_LOAD_CERTIFICATES is not set: the app loads no certificate']],
      ['typo', ["WEBSITE_LOAD_CERTIFICATES has entries that are not thumbprints: 'not-a-thumbprint'"]],
    ]);
  });
});
