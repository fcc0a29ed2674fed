// Subscription discovery (AZURE_SUBSCRIPTION_IDS unset or '*') with the real @azure/arm-resources-subscriptions
// client against the sandbox: five subscriptions in every state, two per page, so the list takes three pages.
// What was scanned is read from the sandbox's request log, not from what the engine reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { ArmSubscriptionDirectory } from '../../src/azure/subscriptionDirectory.js';
import { planOf } from '../../src/core/decision/plan.js';
import { scanInventory } from '../../src/core/scan.js';
import { discoverSubscriptions, type SubscriptionDiscovery } from '../../src/core/subscriptions.js';
import { deps, sandboxConfig } from '../integration/world.js';

const SUBS = {
  enabled: '0a000000-0000-4000-8000-000000000001',
  warned: '0a000000-0000-4000-8000-000000000002',
  pastDue: '0a000000-0000-4000-8000-000000000003',
  disabled: '0a000000-0000-4000-8000-000000000004',
  deleted: '0a000000-0000-4000-8000-000000000005',
} as const;

const STATES = { enabled: 'Enabled', warned: 'Warned', pastDue: 'PastDue', disabled: 'Disabled', deleted: 'Deleted' } as const;

function scenario(): Scenario {
  return {
    name: 'discovery',
    armPageSize: 2,
    cas: [{ name: 'ca' }],
    subscriptions: (Object.keys(SUBS) as Array<keyof typeof SUBS>).map((key) => ({
      id: SUBS[key],
      displayName: `team ${key}`,
      state: STATES[key],
      resourceGroups: [{ name: `rg-${key}`, location: 'West Europe', sites: [{ name: `web-${key}`, tags: { 'mtls-rotation': 'enabled' } }] }],
    })),
  };
}

let sb: Sandbox;
let discovery: SubscriptionDiscovery;

beforeAll(async () => {
  sb = await startSandbox(scenario(), { simulateApps: false });
  const directory = new ArmSubscriptionDirectory({
    endpoint: sb.armEndpoint,
    audience: 'https://management.azure.com',
    credential: { getToken: async () => ({ token: sb.token, expiresOnTimestamp: Date.now() + 3600_000 }) },
    tlsCa: sb.caPem,
  });
  sb.control.resetCounters();
  discovery = await discoverSubscriptions(directory);
});

afterAll(async () => {
  await sb?.stop();
});

describe('subscription discovery with the real subscriptions client', () => {
  it('follows nextLink through every page of Subscriptions_List', () => {
    const lists = sb.control.requests({ operation: 'Subscriptions_List' });
    expect(lists.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it.each([
    ['an Enabled subscription is scanned', SUBS.enabled, 'found'],
    ['a Warned subscription (billing warning, apps still running) is scanned', SUBS.warned, 'found'],
    ['a PastDue subscription (payment overdue, still active) is scanned', SUBS.pastDue, 'found'],
    ['a Disabled subscription (read-only, apps stopped) is skipped', SUBS.disabled, 'skipped'],
    ['a Deleted subscription is skipped', SUBS.deleted, 'skipped'],
  ] as const)('%s', (_what, id, where) => {
    expect(discovery[where].map((s) => s.subscriptionId)).toContain(id);
    expect(discovery[where === 'found' ? 'skipped' : 'found'].map((s) => s.subscriptionId)).not.toContain(id);
  });

  it('the engine with AZURE_SUBSCRIPTION_IDS=* scans exactly the found subscriptions, and the plan says which were found and skipped', async () => {
    const config = sandboxConfig(sb, 'UseDevelopmentStorage=true', '*');
    expect(config.subscriptionDiscovery).toBe(true);
    const from = sb.control.requests().at(-1)?.seq ?? 0;
    const result = await scanInventory(deps(sb, config), config);
    const listedSites = new Set(sb.control.requests({ since: from, operation: 'WebApps_List' }).map((r) => r.subscriptionId));
    expect([...listedSites].sort()).toEqual([SUBS.enabled, SUBS.warned, SUBS.pastDue].sort());
    expect(result.apps.map((a) => a.ref.site).sort()).toEqual(['web-enabled', 'web-pastDue', 'web-warned']);
    const plan = planOf(result, new Date());
    expect(plan.subscriptions?.found.map((s) => `${s.subscriptionId} ${s.state}`).sort()).toEqual(
      [`${SUBS.enabled} Enabled`, `${SUBS.pastDue} PastDue`, `${SUBS.warned} Warned`].sort(),
    );
    expect(plan.subscriptions?.skipped.map((s) => `${s.subscriptionId} ${s.state}`).sort()).toEqual([`${SUBS.deleted} Deleted`, `${SUBS.disabled} Disabled`].sort());
  });

  it('with a configured list there is no discovery: no Subscriptions_List call, and the plan names none', async () => {
    const config = sandboxConfig(sb, 'UseDevelopmentStorage=true', SUBS.disabled);
    const from = sb.control.requests().at(-1)?.seq ?? 0;
    const result = await scanInventory(deps(sb, config), config);
    expect(sb.control.requests({ since: from, operation: 'Subscriptions_List' })).toEqual([]);
    expect(planOf(result, new Date()).subscriptions).toBeUndefined();
  });

  it('a disabled subscription is read-only in the sandbox, as in ARM: a write answers 409 ReadOnlyDisabledSubscription', async () => {
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      import('node:https').then(({ request }) => {
        const req = request(
          `${sb.armEndpoint}/subscriptions/${SUBS.disabled}/resourceGroups/rg-disabled/providers/Microsoft.Web/sites/web-disabled/restart?api-version=2022-03-01`,
          { method: 'POST', ca: sb.caPem, headers: { authorization: `Bearer ${sb.token}` } },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(response.status).toBe(409);
    expect(JSON.parse(response.body).error.code).toBe('ReadOnlyDisabledSubscription');
    expect(sb.control.restarts({ subscriptionId: SUBS.disabled, resourceGroup: 'rg-disabled', site: 'web-disabled' })).toBe(0);
  });
});
