// The engine end to end on the demo world (sandbox/README.md): real SDK clients over HTTPS to the sandbox's ARM,
// Key Vault and simulated apps, records in Azurite. Each test names the scenario it proves; they share one world
// whose apps are independent, in an order that starts with the read-only ones.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoScenario, DEMO_SUBSCRIPTION_ID as SUB, startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { Dependencies } from '../../src/composition.js';
import { createRotator, type Config, type Rotator } from '../../src/core/index.js';
import type { AppRef } from '../../src/core/ports.js';
import { useAzurite } from '../helpers/azurite.js';
import { deps as makeDeps, sandboxConfig, watch } from './world.js';

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;
let deps: Dependencies;
let rotator: Rotator;

const ref = (site: string, resourceGroup = 'rg-apps', slot?: string): AppRef => ({
  subscriptionId: SUB,
  resourceGroup,
  site,
  ...(slot ? { slot } : {}),
});
const ORDERS = ref('orders');
const STAGING = ref('orders', 'rg-apps', 'staging');
const KV = 'kv-demo';

beforeAll(async () => {
  sb = await startSandbox(demoScenario());
  config = sandboxConfig(sb, azurite().connectionString, SUB);
  deps = makeDeps(sb, config);
  rotator = createRotator(deps, config);
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

describe('engine on the demo world', () => {
  it('plan and a dry run change nothing (no settings write, restart, upload or record)', async () => {
    const w = watch(sb);
    const plan = await rotator.plan();
    const actions = Object.fromEntries(plan.apps.map((a) => [a.name, a.action]));
    expect(actions).toMatchObject({ orders: 'rotate', 'orders/staging': 'rotate', payments: 'rotate', billing: 'rotate', reports: 'rotate', inventory: 'rotate' });
    expect(actions).not.toHaveProperty('legacy-portal');

    const dry = await rotator.rotateApp('orders', { trigger: 'cli', dryRun: true });
    expect(dry).toMatchObject({ outcome: 'skipped', reason: 'DryRun' });
    expect(dry.plan?.action).toBe('rotate');
    expect(w.changes()).toEqual([]);
    expect(sb.control.restarts(ORDERS)).toBe(0);
    expect(await deps.store.listAll()).toEqual([]);
  });

  it('happy path: orders gets a new certificate resource, both settings switched, the rest byte for byte, restarted, the partner sees the new certificate, record committed', async () => {
    const oldTp = sb.control.thumbprint(`${KV}/orders-client/0`);
    const newTp = sb.control.thumbprint(`${KV}/orders-client/latest`);
    const before = sb.control.appSettings(ORDERS);
    const restarts = sb.control.restarts(ORDERS);
    const w = watch(sb);

    const result = await rotator.rotateApp('orders', { trigger: 'cli' });

    expect(result.outcome, `${result.reason} ${JSON.stringify(result.record?.steps)}`).toBe('committed');
    const uploaded = sb.control.certificates(SUB).find((c) => c.thumbprint === newTp);
    expect(uploaded, 'a certificate resource with the new thumbprint').toBeDefined();
    expect(uploaded?.resourceGroup).toBe('rg-apps');
    expect(w.changes().map((r) => r.operation)).toContain('Certificates_CreateOrUpdate');

    const after = sb.control.appSettings(ORDERS);
    expect(after.WEBSITE_LOAD_CERTIFICATES).toBe(newTp);
    expect(after.CLIENT_CERT_THUMBPRINT).toBe(newTp);
    const untouched = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'WEBSITE_LOAD_CERTIFICATES' && k !== 'CLIENT_CERT_THUMBPRINT'));
    expect(untouched(after)).toEqual(untouched(before));
    expect(after.ORDERS_DB).toBe('@Microsoft.KeyVault(SecretUri=https://kv-demo.vault.azure.net/secrets/orders-db/)');
    expect(Object.keys(after)).toEqual(Object.keys(before));

    expect(sb.control.restarts(ORDERS)).toBe(restarts + 1);
    expect(sb.control.loadedThumbprints(ORDERS)).toEqual([newTp]);
    expect(sb.control.downstreamSeen('partner-api').at(-1)).toMatchObject({ thumbprint: newTp, authorized: true });
    // The staging slot is a separate app: the site's rotation leaves it alone.
    expect(sb.control.loadedThumbprints(STAGING)).toEqual([oldTp]);
    expect(w.changes({ site: 'orders', slot: 'staging' })).toEqual([]);

    const record = await deps.store.get(result.rotationId ?? '');
    expect(record).toMatchObject({ outcome: 'committed', previousSettings: { WEBSITE_LOAD_CERTIFICATES: oldTp, CLIENT_CERT_THUMBPRINT: oldTp } });
    expect(record?.bindings[0]).toMatchObject({ oldThumbprint: oldTp, newThumbprint: newTp });
  });

  it('a second rotate after the commit makes zero writes', async () => {
    const w = watch(sb);
    const again = await rotator.rotateApp('orders', { trigger: 'cli' });
    expect(again).toMatchObject({ outcome: 'skipped', reason: 'NothingDue' });
    expect(w.changes()).toEqual([]);
  });

  it('a tagged slot is rotated on its own: orders/staging switches, the site is not written again', async () => {
    const newTp = sb.control.thumbprint(`${KV}/orders-client/latest`);
    const siteSettings = sb.control.appSettings(ORDERS);
    const w = watch(sb);
    const result = await rotator.rotateApp('orders/staging', { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('committed');
    expect(sb.control.appSettings(STAGING)).toMatchObject({ WEBSITE_LOAD_CERTIFICATES: newTp, CLIENT_CERT_THUMBPRINT: newTp, SLOT_NAME: 'staging' });
    expect(sb.control.loadedThumbprints(STAGING)).toEqual([newTp]);
    expect(w.changes({ site: 'orders' })).toEqual([]);
    expect(sb.control.appSettings(ORDERS)).toEqual(siteSettings);
    // The site already staged that thumbprint in the webspace: reused, not uploaded again.
    expect(w.changes().filter((r) => r.operation === 'Certificates_CreateOrUpdate')).toEqual([]);
  });

  it('preflight refused (legacy-bank distrusts the new issuer): aborted, zero settings writes or restarts of payments', async () => {
    const oldTp = sb.control.thumbprint(`${KV}/payments-client/0`);
    const before = sb.control.appSettings(ref('payments'));
    const w = watch(sb);
    const result = await rotator.rotateApp('payments', { trigger: 'cli' });
    expect(result.outcome).toBe('aborted');
    expect(result.reason).toMatch(/preflight/i);
    expect(w.changes({ site: 'payments' })).toEqual([]);
    expect(sb.control.appSettings(ref('payments'))).toEqual(before);
    expect(sb.control.loadedThumbprints(ref('payments'))).toEqual([oldTp]);
    expect((await deps.store.get(result.rotationId ?? ''))?.outcome).toBe('aborted');
  });

  it('verification fails after the switch (billing calls ledger-strict): rolled back, previous values restored, the old certificate presented again, record rolledBack', async () => {
    const oldTp = sb.control.thumbprint(`${KV}/billing-client/0`);
    const newTp = sb.control.thumbprint(`${KV}/billing-client/latest`);
    const before = sb.control.appSettings(ref('billing'));
    const w = watch(sb);
    const result = await rotator.rotateApp('billing', { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('rolledBack');
    // It did switch and restart before it found out.
    expect(w.changes({ site: 'billing' }).filter((r) => r.operation === 'WebApps_UpdateApplicationSettings')).toHaveLength(2);
    expect(sb.control.appSettings(ref('billing'))).toEqual(before);
    expect(sb.control.loadedThumbprints(ref('billing'))).toEqual([oldTp]);
    const seen = sb.control.downstreamSeen('ledger-strict');
    expect(seen.some((s) => s.thumbprint === newTp && !s.authorized)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ thumbprint: oldTp, authorized: true });
    const record = await deps.store.get(result.rotationId ?? '');
    expect(record?.outcome).toBe('rolledBack');
    expect(record?.probes.length).toBeGreaterThan(0);
  });

  it("'*' mode (reports): the renewed version is uploaded into its webspace and the app restarted, with no settings write", async () => {
    const newTp = sb.control.thumbprint(`${KV}/reports-client/latest`);
    const reports = ref('reports', 'rg-reports');
    const w = watch(sb);
    const result = await rotator.rotateApp('reports', { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('committed');
    const ops = w.changes({ site: 'reports' }).map((r) => r.operation);
    expect(ops).not.toContain('WebApps_UpdateApplicationSettings');
    expect(ops).toContain('WebApps_Restart');
    expect(sb.control.certificates(SUB).find((c) => c.thumbprint === newTp)?.resourceGroup).toBe('rg-reports');
    expect(sb.control.appSettings(reports).WEBSITE_LOAD_CERTIFICATES).toBe('*');
    expect(sb.control.loadedThumbprints(reports)).toContain(newTp);
  });

  it('dangling thumbprint repaired (inventory pins 0BADC0DE…): the latest version of its source is staged and switched', async () => {
    const newTp = sb.control.thumbprint(`${KV}/inventory-client/latest`);
    const result = await rotator.rotateApp('inventory', { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('committed');
    expect(result.record?.bindings[0]?.reason).toBe('DanglingThumbprint');
    expect(sb.control.appSettings(ref('inventory'))).toMatchObject({ WEBSITE_LOAD_CERTIFICATES: newTp, CLIENT_CERT_THUMBPRINT: newTp });
    expect(sb.control.loadedThumbprints(ref('inventory'))).toEqual([newTp]);
  });

  it('an untagged app (legacy-portal) is never touched, by a named rotate or by rotating everything due', async () => {
    const before = sb.control.appSettings(ref('legacy-portal'));
    const w = watch(sb);
    const named = await rotator.rotateApp('legacy-portal', { trigger: 'cli' });
    expect(named).toMatchObject({ outcome: 'skipped', reason: 'NotOptedIn' });
    const due = await rotator.rotateDue({ trigger: 'cli' });
    expect(due.results.map((r) => r.name)).not.toContain('legacy-portal');
    expect(w.changes({ site: 'legacy-portal' })).toEqual([]);
    expect(sb.control.appSettings(ref('legacy-portal'))).toEqual(before);
    expect(sb.control.restarts(ref('legacy-portal'))).toBe(0);
  });
});
