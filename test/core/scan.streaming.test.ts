// The streaming subscription scan: settings reads start while the site listing is still paging, stay
// bounded per subscription, and the result keeps listing order and shares what repeats across apps.
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppRef, AppServiceGateway, SiteInfo } from '../../src/core/ports.js';
import { scanInventory, SETTINGS_READ_CONCURRENCY } from '../../src/core/scan.js';
import { CertificateFactory, createWorld, SUB, SUB2, VAULT_URL, type World } from '../helpers/memory-ports.js';

const certs = new CertificateFactory();
let current: ReturnType<CertificateFactory['client']>;

beforeAll(() => {
  current = certs.client('client', -10, 300);
});

const tagged = { 'mtls-rotation': 'enabled', 'mtls-rotation-source': `${VAULT_URL}/certificates/client` };
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function arrange(apps: number, slotted: string[] = []): World {
  const world = createWorld({ certs, config: { AZURE_SUBSCRIPTION_IDS: `${SUB},${SUB2}` } });
  world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, current);
  world.appService.addCertificate({ subscriptionId: SUB, name: 'client-v1', certificate: current });
  for (let i = 0; i < apps; i += 1) {
    const name = `app-${String(i).padStart(2, '0')}`;
    const slots = slotted.includes(name);
    world.appService.addSite({
      subscriptionId: SUB,
      name,
      tags: slots ? { ...tagged, 'mtls-rotation-slots': 'true' } : tagged,
      settings: { WEBSITE_LOAD_CERTIFICATES: current.thumbprint },
    });
    if (slots) {
      for (const slot of ['blue', 'green']) {
        world.appService.addSite({ subscriptionId: SUB, name, slot, tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: current.thumbprint } });
      }
    }
  }
  return world;
}

/**
 * The fake gateway with real waits: a page of the listing and a settings read each take a turn of the event loop
 * (settings reads of varying length, so they finish out of order), and the reads in flight are counted.
 */
function slowGateway(world: World): { gateway: AppServiceGateway; inFlight: { now: number; max: number } } {
  const fake = world.appService;
  const inFlight = { now: 0, max: 0 };
  let turn = 0;
  const gateway: AppServiceGateway = Object.create(fake, {
    listSites: {
      value: async function* (subscriptionId: string): AsyncIterable<SiteInfo> {
        let index = 0;
        for await (const site of fake.listSites(subscriptionId)) {
          if (index++ % fake.pageSize === 0) await nextTurn();
          yield site;
        }
      },
    },
    readAppSettings: {
      value: async (ref: AppRef): Promise<Record<string, string | null>> => {
        inFlight.now += 1;
        inFlight.max = Math.max(inFlight.max, inFlight.now);
        try {
          for (let i = (turn++ * 7) % 5; i >= 0; i -= 1) await nextTurn();
          return await fake.readAppSettings(ref);
        } finally {
          inFlight.now -= 1;
        }
      },
    },
  });
  return { gateway, inFlight };
}

describe('scanInventory streams the site listing', () => {
  it('reads the settings of the first listed apps while later pages are still being listed', async () => {
    const world = arrange(12);
    const { gateway } = slowGateway(world);
    await scanInventory({ ...world.deps, gateway }, world.config, { subscriptionIds: [SUB] });
    const ops = world.appService.log.map((e) => e.op);
    const lastPage = ops.lastIndexOf('listSites');
    expect(ops.filter((op) => op === 'listSites')).toHaveLength(12 / world.appService.pageSize);
    expect(ops.indexOf('readAppSettings')).toBeGreaterThan(-1);
    expect(ops.indexOf('readAppSettings')).toBeLessThan(lastPage);
  });

  it(`keeps at most SETTINGS_READ_CONCURRENCY (${SETTINGS_READ_CONCURRENCY}) settings reads of a subscription in flight, and uses them`, async () => {
    const world = arrange(20);
    const { gateway, inFlight } = slowGateway(world);
    const scan = await scanInventory({ ...world.deps, gateway }, world.config, { subscriptionIds: [SUB] });
    expect(scan.apps).toHaveLength(20);
    expect(inFlight.max).toBe(SETTINGS_READ_CONCURRENCY);
    expect(world.appService.count('readAppSettings')).toBe(20);
  });

  it('returns apps in listing order, each site’s slots after all sites, although reads finish out of order', async () => {
    const world = arrange(9, ['app-02', 'app-06']);
    const { gateway } = slowGateway(world);
    const scan = await scanInventory({ ...world.deps, gateway }, world.config, { subscriptionIds: [SUB] });
    const sites = Array.from({ length: 9 }, (_, i) => `app-0${i}`);
    const slots = ['app-02/blue', 'app-02/green', 'app-06/blue', 'app-06/green'];
    expect(scan.apps.map((a) => a.name)).toEqual([...sites, ...slots]);
    expect(scan.subscriptions[0].sites.map((s) => (s.ref.slot ? `${s.ref.site}/${s.ref.slot}` : s.ref.site))).toEqual([...sites, ...slots]);
  });

  it.each([
    // The certificates fail at once, the sites on their second page: settings reads are in flight by then.
    ['the certificate listing', 'listCertificates', 0],
    ['a later page of the site listing', 'listSites', 1],
  ])('fails the subscription as a whole, with no app, when %s fails; the other subscription is scanned', async (_label, op, okPages) => {
    const world = arrange(6);
    world.appService.addSite({ subscriptionId: SUB2, name: 'app-other', tags: tagged, settings: { WEBSITE_LOAD_CERTIFICATES: current.thumbprint } });
    const { gateway } = slowGateway(world);
    world.appService.beforeOp = (name, target) => {
      const before = world.appService.log.filter((e) => e.op === op && e.target === SUB).length;
      if (name === op && target === SUB && before >= okPages) throw Object.assign(new Error('InternalServerError'), { statusCode: 500 });
    };
    const scan = await scanInventory({ ...world.deps, gateway }, world.config);
    const failed = scan.subscriptions.find((s) => s.subscriptionId === SUB)!;
    expect(failed).toMatchObject({ ok: false, error: expect.stringContaining(`subscription ${SUB} cannot be scanned`) });
    expect(scan.apps.map((a) => a.name)).toEqual(['app-other']);
    expect(scan.problems.filter((p) => p.subscriptionId === SUB)).toHaveLength(1);
  });
});

describe('scanInventory keeps one copy of what repeats across apps', () => {
  it('gives apps on one certificate the same (frozen) evaluation, loaded view and source', async () => {
    const world = arrange(3);
    const scan = await scanInventory(world.deps, world.config, { subscriptionIds: [SUB] });
    const [a, b, c] = scan.apps.map((app) => app.bindings[0]);
    expect(a.evaluation).toMatchObject({ due: false, decision: { reason: 'UpToDate' } });
    expect(b.evaluation).toBe(a.evaluation);
    expect(c.evaluation).toBe(a.evaluation);
    expect(Object.isFrozen(a.evaluation) && Object.isFrozen(a.evaluation.decision)).toBe(true);
    expect(b.loaded).toBe(a.loaded);
    expect(b.source).toBe(a.source);
    expect(scan.apps[1].tags).toBe(scan.apps[0].tags);
  });
});
