// Ready-made scenarios: the demo world `npm start` shows, and a generator of scale worlds for the benchmark.
import type { HealthShape, Scenario, SiteSpec } from './scenario.js';

export const DEMO_SUBSCRIPTION_ID = '3f2b9c1e-5d4a-4e7b-9a10-6c2d8e4f1a01';
export const DEMO_TAG = 'mtls-rotation';

/** What the rotation engine is expected to do with each app of the demo scenario. */
export const DEMO_EXPECTED_OUTCOMES: Record<string, string> = {
  orders: 'committed: due (expires in 10 days), the renewed version from the new CA is trusted by partner-api',
  'orders/staging': 'committed: a slot of orders (the site carries mtls-rotation-slots=true), same certificate',
  payments: 'aborted at preflight: legacy-bank trusts only the old CA, nothing on the app changes',
  billing:
    'rolledBack: the direct preflight goes to partner-api (its probe tag) and passes, but the app itself calls ledger-strict, ' +
    'which trusts only the old CA, so the via-app verification after the restart fails; the next run does not roll that version out again',
  catalog: "committed, verified on status: an ASP.NET Core app whose MapHealthChecks answers text 'Healthy' (503 'Unhealthy' when its partner call fails)",
  shipping: 'committed, verified on status: a Spring Boot app whose actuator answers {"status":"UP"} (503 DOWN when its partner call fails)',
  notify: "committed, verified on status: a health path that answers a plain 'OK' and calls nothing",
  pricing: 'committed, verified on status: a health path that answers 204 No Content',
  reports: "committed in '*' mode: the new version is uploaded into its webspace and the app restarted, no settings write",
  inventory: 'repaired: it pins a thumbprint that no certificate in its webspace has (dangling); the latest version of its source is staged and switched',
  'legacy-portal': 'ignored: no mtls-rotation tag, although it loads an expiring certificate (which also keeps that certificate from retirement)',
};

/**
 * The demo world: one subscription, a vault `kv-demo` whose certificates were renewed by a new CA
 * (contoso-ca-2025) while the apps still load versions from the old one (contoso-ca-2024), three partner APIs,
 * and apps that each show one outcome (DEMO_EXPECTED_OUTCOMES; sandbox/README.md explains the design). The apps
 * the rotator was written with run the app-side kit (health shape 'kit'); catalog, shipping, notify and pricing
 * answer the way ASP.NET Core, Spring Boot and hand-written liveness routes do.
 */
export function demoScenario(): Scenario {
  const sub = DEMO_SUBSCRIPTION_ID;
  const tags = (name: string, extra: Record<string, string> = {}) => ({
    [DEMO_TAG]: 'enabled',
    [`${DEMO_TAG}-source`]: `{{source:kv-demo/${name}-client}}`,
    [`${DEMO_TAG}-health`]: '/healthz/outbound-mtls',
    [`${DEMO_TAG}-settings`]: 'CLIENT_CERT_THUMBPRINT',
    ...extra,
  });
  const pinned = (name: string, extra: Record<string, string> = {}) => ({
    WEBSITE_LOAD_CERTIFICATES: `{{thumbprint:kv-demo/${name}-client/0}}`,
    CLIENT_CERT_THUMBPRINT: `{{thumbprint:kv-demo/${name}-client/0}}`,
    ...extra,
  });
  // [app, health shape, the health path its framework or team usually gives it]
  const foreign: Array<[string, HealthShape, string]> = [
    ['catalog', 'aspnet-text', '/healthz'],
    ['shipping', 'spring', '/actuator/health'],
    ['notify', 'plain-ok', '/health'],
    ['pricing', 'no-content', '/status'],
  ];
  const renewed = (name: string, daysLeft: number) => ({
    name: `${name}-client`,
    versions: [
      { issuer: 'contoso-ca-2024', commonName: `${name}.contoso.example`, notBeforeDays: -355, notAfterDays: daysLeft },
      { issuer: 'contoso-ca-2025', commonName: `${name}.contoso.example`, notBeforeDays: -1, notAfterDays: 365, createdDays: -1 },
    ],
  });
  return {
    name: 'demo',
    cas: [
      { name: 'contoso-ca-2024', commonName: 'Contoso Issuing CA 2024' },
      { name: 'contoso-ca-2025', commonName: 'Contoso Issuing CA 2025' },
    ],
    vaults: [
      {
        name: 'kv-demo',
        subscriptionId: sub,
        resourceGroup: 'rg-security',
        certificates: [
          renewed('orders', 10),
          renewed('payments', 12),
          renewed('billing', 8),
          renewed('reports', 15),
          renewed('catalog', 9),
          renewed('shipping', 11),
          renewed('notify', 13),
          renewed('pricing', 14),
          {
            name: 'inventory-client',
            versions: [{ issuer: 'contoso-ca-2025', commonName: 'inventory.contoso.example', notBeforeDays: -20, notAfterDays: 345 }],
          },
        ],
      },
    ],
    downstreams: [
      { name: 'partner-api', trusts: ['contoso-ca-2024', 'contoso-ca-2025'] },
      { name: 'legacy-bank', trusts: ['contoso-ca-2024'] },
      { name: 'ledger-strict', trusts: ['contoso-ca-2024'] },
    ],
    subscriptions: [
      {
        id: sub,
        displayName: 'Contoso Production',
        resourceGroups: [
          { name: 'rg-security', location: 'West Europe' },
          {
            name: 'rg-apps',
            location: 'West Europe',
            certificates: [
              { name: 'orders-client-2024', fromVault: { vault: 'kv-demo', certificate: 'orders-client', version: 0 } },
              { name: 'payments-client-2024', fromVault: { vault: 'kv-demo', certificate: 'payments-client', version: 0 } },
              { name: 'billing-client-2024', fromVault: { vault: 'kv-demo', certificate: 'billing-client', version: 0 } },
              ...foreign.map(([name]) => ({ name: `${name}-client-2024`, fromVault: { vault: 'kv-demo', certificate: `${name}-client`, version: 0 } })),
            ],
            sites: [
              {
                name: 'orders',
                downstream: 'partner-api',
                tags: tags('orders', { [`${DEMO_TAG}-probe`]: '{{downstream:partner-api}}', [`${DEMO_TAG}-slots`]: 'true', team: 'orders' }),
                settings: pinned('orders', {
                  ORDERS_DB: '@Microsoft.KeyVault(SecretUri=https://kv-demo.vault.azure.net/secrets/orders-db/)',
                  FEATURE_FLAGS: 'fast-checkout,new-cart',
                }),
                slots: [
                  {
                    name: 'staging',
                    downstream: 'partner-api',
                    tags: tags('orders', { [`${DEMO_TAG}-probe`]: '{{downstream:partner-api}}' }),
                    settings: pinned('orders', { SLOT_NAME: 'staging' }),
                  },
                ],
              },
              {
                name: 'payments',
                downstream: 'legacy-bank',
                tags: tags('payments', { [`${DEMO_TAG}-probe`]: '{{downstream:legacy-bank}}' }),
                settings: pinned('payments'),
              },
              {
                // The probe tag names the partner's endpoint that already trusts the new CA, while the app's code
                // calls ledger-strict: only the via-app probe after the restart can catch it.
                name: 'billing',
                downstream: 'ledger-strict',
                tags: tags('billing', { [`${DEMO_TAG}-probe`]: '{{downstream:partner-api}}' }),
                settings: pinned('billing'),
              },
              {
                name: 'inventory',
                downstream: 'partner-api',
                tags: tags('inventory', { [`${DEMO_TAG}-probe`]: '{{downstream:partner-api}}' }),
                // A thumbprint nobody has any more: the certificate was deleted from the webspace by hand.
                settings: {
                  WEBSITE_LOAD_CERTIFICATES: '0BADC0DE0BADC0DE0BADC0DE0BADC0DE0BADC0DE',
                  CLIENT_CERT_THUMBPRINT: '0BADC0DE0BADC0DE0BADC0DE0BADC0DE0BADC0DE',
                },
              },
              // Apps written without this rotator in mind: their health paths answer in their framework's shape.
              ...foreign.map(([name, health, healthPath]) => ({
                name,
                downstream: 'partner-api',
                health,
                healthPath,
                tags: tags(name, { [`${DEMO_TAG}-probe`]: '{{downstream:partner-api}}', [`${DEMO_TAG}-health`]: healthPath }),
                settings: pinned(name),
              })),
              {
                name: 'legacy-portal',
                downstream: 'partner-api',
                tags: { team: 'legacy' },
                settings: pinned('orders'),
              },
            ],
          },
          {
            // Its own webspace: a '*' app loads every certificate of its webspace.
            name: 'rg-reports',
            location: 'West Europe',
            certificates: [{ name: 'reports-client-2024', fromVault: { vault: 'kv-demo', certificate: 'reports-client', version: 0 }, linked: true }],
            sites: [
              {
                name: 'reports',
                downstream: 'partner-api',
                tags: {
                  [DEMO_TAG]: 'enabled',
                  [`${DEMO_TAG}-probe`]: '{{downstream:partner-api}}',
                  [`${DEMO_TAG}-health`]: '/healthz/outbound-mtls',
                },
                settings: { WEBSITE_LOAD_CERTIFICATES: '*' },
              },
            ],
          },
        ],
      },
    ],
    meta: { expected: DEMO_EXPECTED_OUTCOMES },
  };
}

export interface ScaleScenarioOptions {
  /** N subscriptions. */
  subscriptions: number;
  /** M apps (sites) per subscription. */
  appsPerSubscription: number;
  /** K opted-in apps whose certificate is due (expires in 10 days; the vault has a renewed version). */
  due: number;
  /** Share of the apps that carry mtls-rotation=enabled (0..1). Default 1. */
  optedInFraction?: number;
  /** Apps per resource group, i.e. per webspace. Default 100. */
  appsPerResourceGroup?: number;
  /** ARM list page size. Default 100. */
  armPageSize?: number;
  /**
   * Add a downstream `scale-partner` trusting both CAs and tag every opted-in app with it as probe and as
   * its own outbound target (meaningful with simulated apps). Default false.
   */
  withDownstream?: boolean;
  location?: string;
}

export interface ScaleScenarioFacts {
  subscriptionIds: string[];
  apps: number;
  optedIn: number;
  due: number;
  resourceGroups: number;
  /** Vault and certificate names the apps point at. */
  vault: string;
  dueSource: string;
  freshSource: string;
}

/** Deterministic subscription ids for scale scenarios. */
export function scaleSubscriptionId(i: number): string {
  return `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;
}

/**
 * N subscriptions × M apps, a fraction opted in, K of the opted-in apps due. Cheap at any size: three
 * certificates in all (every due app shares the expiring one, every other app the fresh one; each webspace
 * holds both as its own Microsoft.Web/certificates resources), so start-up cost is the ARM model only.
 * `meta.facts` holds ScaleScenarioFacts.
 */
export function scaleScenario(opts: ScaleScenarioOptions): Scenario {
  const n = opts.subscriptions;
  const m = opts.appsPerSubscription;
  const f = opts.optedInFraction ?? 1;
  const perRg = opts.appsPerResourceGroup ?? 100;
  const location = opts.location ?? 'West Europe';
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`subscriptions must be a positive integer, got ${n}`);
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`appsPerSubscription must be a positive integer, got ${m}`);
  if (!(f >= 0 && f <= 1)) throw new RangeError(`optedInFraction must be within 0..1, got ${f}`);
  if (!Number.isInteger(perRg) || perRg < 1) throw new RangeError(`appsPerResourceGroup must be a positive integer, got ${perRg}`);
  // Spread evenly: app j of a subscription is opted in when floor((j+1)·f) > floor(j·f).
  const optedPerSub = Math.floor(m * f + 1e-9);
  const optedIn = optedPerSub * n;
  const k = opts.due;
  if (!Number.isInteger(k) || k < 0 || k > optedIn) throw new RangeError(`due must be an integer from 0 to the opted-in count (${optedIn}), got ${k}`);

  const vault = 'kv-scale';
  const subscriptionIds = Array.from({ length: n }, (_, i) => scaleSubscriptionId(i));
  let opted = 0;
  let rgCount = 0;
  const subscriptions = subscriptionIds.map((id, si) => {
    const groups: Scenario['subscriptions'][number]['resourceGroups'] = [];
    for (let start = 0; start < m; start += perRg) {
      const rgName = `rg-scale-${String(start / perRg).padStart(3, '0')}`;
      rgCount++;
      const sites: SiteSpec[] = [];
      for (let j = start; j < Math.min(m, start + perRg); j++) {
        const isOpted = Math.floor((j + 1) * f + 1e-9) > Math.floor(j * f + 1e-9);
        let isDue = false;
        if (isOpted) {
          isDue = Math.floor(((opted + 1) * k) / optedIn) > Math.floor((opted * k) / optedIn);
          opted++;
        }
        const source = isDue ? 'scale-due' : 'scale-fresh';
        const thumb = `{{thumbprint:${vault}/${source}/0}}`;
        sites.push({
          name: `app-${String(si).padStart(3, '0')}-${String(j).padStart(5, '0')}`,
          ...(opts.withDownstream ? { downstream: 'scale-partner' } : {}),
          tags: isOpted
            ? {
                'mtls-rotation': 'enabled',
                'mtls-rotation-source': `{{source:${vault}/${source}}}`,
                'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT',
                ...(opts.withDownstream ? { 'mtls-rotation-probe': '{{downstream:scale-partner}}', 'mtls-rotation-health': '/healthz/outbound-mtls' } : {}),
              }
            : { team: 'not-opted-in' },
          settings: { WEBSITE_LOAD_CERTIFICATES: thumb, CLIENT_CERT_THUMBPRINT: thumb, APP_ROLE: 'scale' },
        });
      }
      groups.push({
        name: rgName,
        location,
        sites,
        certificates: [
          { name: 'scale-due-v0', fromVault: { vault, certificate: 'scale-due', version: 0 } },
          { name: 'scale-fresh-v0', fromVault: { vault, certificate: 'scale-fresh', version: 0 } },
        ],
      });
    }
    return { id, displayName: `Scale subscription ${si}`, resourceGroups: groups };
  });

  const facts: ScaleScenarioFacts = {
    subscriptionIds,
    apps: n * m,
    optedIn,
    due: k,
    resourceGroups: rgCount,
    vault,
    dueSource: 'scale-due',
    freshSource: 'scale-fresh',
  };
  return {
    name: `scale-${n}x${m}-due${k}`,
    armPageSize: opts.armPageSize,
    cas: [{ name: 'scale-ca-old' }, { name: 'scale-ca-new' }],
    vaults: [
      {
        name: vault,
        subscriptionId: subscriptionIds[0]!,
        resourceGroup: 'rg-scale-000',
        certificates: [
          {
            name: 'scale-due',
            versions: [
              { issuer: 'scale-ca-old', material: 'scale-due-v0', notBeforeDays: -355, notAfterDays: 10 },
              { issuer: 'scale-ca-new', material: 'scale-due-v1', notBeforeDays: -1, notAfterDays: 365, createdDays: -1 },
            ],
          },
          { name: 'scale-fresh', versions: [{ issuer: 'scale-ca-new', material: 'scale-fresh-v0', notBeforeDays: -30, notAfterDays: 200 }] },
        ],
      },
    ],
    downstreams: opts.withDownstream ? [{ name: 'scale-partner', trusts: ['scale-ca-old', 'scale-ca-new'] }] : [],
    subscriptions,
    meta: { facts },
  };
}
