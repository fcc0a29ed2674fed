// Every rotation outcome reaches Application Insights with the dimensions operators and the alert rules rely on:
// the real engine (composition root, real SDK clients) runs the demo world of the sandbox plus two apps of our own
// against Azurite, its telemetry goes through the real applicationinsights SDK to a local HTTPS ingestion endpoint,
// and each event, the metric and the absence of any secret are checked on the envelopes that arrived.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startSandbox, demoScenario, DEMO_SUBSCRIPTION_ID, type Sandbox } from '../../sandbox/index.js';
import type { Scenario } from '../../sandbox/scenario.js';
import { createDependencies, type Dependencies } from '../../src/composition.js';
import { createRotator, type Config, type RotationResult, type ScanReport, type RetireReport } from '../../src/core/index.js';
import type { Clock } from '../../src/core/ports.js';
import type { AppTelemetry } from '../../src/telemetry/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { startIngestion, type CapturedItem, type IngestionEndpoint } from '../helpers/ingestion.js';
import { sandboxConfig } from '../integration/world.js';

const DAY_MS = 86_400_000;
const SUB = DEMO_SUBSCRIPTION_ID;
const TAG = 'mtls-rotation';

/**
 * The demo world (orders+staging committed, payments aborted at preflight, billing rolled back, reports '*'
 * committed, inventory dangling and repaired) plus:
 * - audit: due; preflight goes to partner-api and passes, but the app calls audit-closed, which trusts neither the
 *   old nor the new issuer, so verification fails and so does the rollback's verification → RotationFailed;
 * - stale: expires in 6 days and Key Vault has no newer version → RenewalMissing;
 * - ledger: due; ARM refuses its settings write once (400) → a fault inside the rotation → an exception with the
 *   rotation id, and a rollback (the write may have been half-done, as far as the engine can know);
 * - held: expires in 5 days and Key Vault's newer version is disabled → nothing can rotate it → CertificateExpiring.
 *   (A certificate near expiry whose renewal is ready is reported as NewerVersionAvailable and rotated, with no
 *   expiry alert: CertificateExpiring means nobody will fix it automatically.)
 */
function telemetryScenario(): Scenario {
  const scenario = demoScenario();
  scenario.cas.push({ name: 'unrelated-ca', commonName: 'Unrelated CA' });
  const vault = scenario.vaults?.find((v) => v.name === 'kv-demo');
  vault?.certificates?.push(
    {
      name: 'audit-client',
      versions: [
        { issuer: 'contoso-ca-2024', commonName: 'audit.contoso.example', notBeforeDays: -355, notAfterDays: 9 },
        { issuer: 'contoso-ca-2025', commonName: 'audit.contoso.example', notBeforeDays: -1, notAfterDays: 365, createdDays: -1 },
      ],
    },
    {
      name: 'ledger-client',
      versions: [
        { issuer: 'contoso-ca-2024', commonName: 'ledger.contoso.example', notBeforeDays: -355, notAfterDays: 11 },
        { issuer: 'contoso-ca-2025', commonName: 'ledger.contoso.example', notBeforeDays: -1, notAfterDays: 365, createdDays: -1 },
      ],
    },
    { name: 'stale-client', versions: [{ issuer: 'contoso-ca-2024', commonName: 'stale.contoso.example', notBeforeDays: -359, notAfterDays: 6 }] },
    {
      name: 'held-client',
      versions: [
        { issuer: 'contoso-ca-2024', commonName: 'held.contoso.example', notBeforeDays: -360, notAfterDays: 5 },
        { issuer: 'contoso-ca-2025', commonName: 'held.contoso.example', notBeforeDays: -1, notAfterDays: 365, createdDays: -1, enabled: false },
      ],
    },
  );
  scenario.downstreams?.push({ name: 'audit-closed', trusts: ['unrelated-ca'] });
  const rg = scenario.subscriptions[0]?.resourceGroups.find((g) => g.name === 'rg-apps');
  if (!vault || !rg) throw new Error('the demo scenario changed shape: kv-demo or rg-apps is missing');
  rg.certificates?.push(
    { name: 'audit-client-2024', fromVault: { vault: 'kv-demo', certificate: 'audit-client', version: 0 } },
    { name: 'stale-client-2024', fromVault: { vault: 'kv-demo', certificate: 'stale-client', version: 0 } },
    { name: 'ledger-client-2024', fromVault: { vault: 'kv-demo', certificate: 'ledger-client', version: 0 } },
    { name: 'held-client-2024', fromVault: { vault: 'kv-demo', certificate: 'held-client', version: 0 } },
  );
  const site = (name: string, downstream: string) => ({
    name,
    downstream,
    tags: {
      [TAG]: 'enabled',
      [`${TAG}-source`]: `{{source:kv-demo/${name}-client}}`,
      [`${TAG}-health`]: '/healthz/outbound-mtls',
      [`${TAG}-settings`]: 'CLIENT_CERT_THUMBPRINT',
      [`${TAG}-probe`]: '{{downstream:partner-api}}',
    },
    settings: {
      WEBSITE_LOAD_CERTIFICATES: `{{thumbprint:kv-demo/${name}-client/0}}`,
      CLIENT_CERT_THUMBPRINT: `{{thumbprint:kv-demo/${name}-client/0}}`,
    },
  });
  rg.sites?.push(site('audit', 'audit-closed'), site('stale', 'partner-api'), site('held', 'partner-api'), site('ledger', 'partner-api'));
  return scenario;
}

const azurite = useAzurite();
let sb: Sandbox;
let ingestion: IngestionEndpoint;
let telemetry: AppTelemetry;
let config: Config;
let scan: ScanReport;
let conflict: RotationResult;
let ordersResult: RotationResult;
const results = new Map<string, RotationResult>();
let retired: RetireReport;
/** Everything secret the engine handled: uploaded PFX (base64) and password, Key Vault secret values. */
const secrets: string[] = [];
/** Days the clock jumps forward before retirement. */
let jumpMs = 0;

const old = (name: string) => sb.control.thumbprint(`kv-demo/${name}-client/0`);
const renewed = (name: string) => sb.control.thumbprint(`kv-demo/${name}-client/latest`);
const appIdOf = (name: string) => {
  const [site, slot] = name.split('/');
  const app = scan.apps.find((a) => a.ref.site === site && a.ref.slot === slot);
  if (!app) throw new Error(`no scanned app ${name}`);
  return app.appId;
};
const events = (name: string, appName?: string): CapturedItem[] =>
  ingestion.events(name).filter((e) => appName === undefined || e.properties.appId === appIdOf(appName));
const one = (name: string, appName: string): CapturedItem => {
  const found = events(name, appName);
  expect(found, `${name} events of ${appName}`).toHaveLength(1);
  return found[0] as CapturedItem;
};

/** Records what the engine uploads and reads from Key Vault (still the real clients underneath). */
function observeSecrets(deps: Dependencies): void {
  const upload = deps.gateway.uploadCertificate.bind(deps.gateway);
  deps.gateway.uploadCertificate = async (input) => {
    secrets.push(Buffer.from(input.pfx).toString('base64'), input.password);
    return upload(input);
  };
  const getSecret = deps.keyVault.getSecret.bind(deps.keyVault);
  deps.keyVault.getSecret = async (source, version) => {
    const secret = await getSecret(source, version);
    secrets.push(secret.value);
    return secret;
  };
}

beforeAll(async () => {
  sb = await startSandbox(telemetryScenario());
  ingestion = await startIngestion();
  telemetry = ingestion.createTelemetry({ roleName: 'mtls-rotator-scenarios' });
  config = sandboxConfig(sb, azurite().connectionString, SUB, { ROTATION_TABLE: `telemetry${Date.now().toString(36)}` });
  // Retirement waits RETIRE_AFTER_DAYS after an outcome: the clock jumps past it instead of the test waiting.
  const clock: Clock = { now: () => new Date(Date.now() + jumpMs), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

  // Two engines as two concurrent invocations would have them: each its own lease owner.
  let releaseFirst!: () => void;
  const firstHoldsLease = new Promise<void>((resolve) => (releaseFirst = resolve));
  let leaseTaken!: () => void;
  const leased = new Promise<void>((resolve) => (leaseTaken = resolve));
  let held = false;
  const first = createDependencies(config, {
    tlsCa: sb.caPem,
    telemetry,
    clock,
    owner: 'invocation-first',
    // Holds the first rotation right after it took the lease, until the second one has tried.
    faultHook: async (boundary) => {
      if (boundary !== 'afterLease' || held) return;
      held = true;
      leaseTaken();
      await firstHoldsLease;
    },
  });
  const second = createDependencies(config, { tlsCa: sb.caPem, telemetry, clock, owner: 'invocation-second' });
  observeSecrets(first);
  observeSecrets(second);

  scan = await createRotator(second, config).scan();
  const firstRun = createRotator(first, config).rotateApp('orders', { trigger: 'cli' });
  await leased;
  conflict = await createRotator(second, config).rotateApp('orders', { trigger: 'cli' });
  releaseFirst();
  ordersResult = await firstRun;

  sb.control.addFault({
    operation: 'WebApps_UpdateApplicationSettings',
    pathContains: '/sites/ledger/',
    status: 400,
    code: 'BadRequest',
    message: 'The settings could not be saved.',
    times: 1,
  });
  const due = await createRotator(second, config).rotateDue({ trigger: 'timer' });
  for (const result of due.results) results.set(result.name, result);
  results.set('orders', ordersResult);

  jumpMs = (config.retireAfterDays + 1) * DAY_MS;
  retired = await createRotator(second, config).retireDue();
  await telemetry.flush();
}, 180_000);

afterAll(async () => {
  await telemetry?.shutdown();
  await ingestion?.stop();
  await sb?.stop();
});

describe('the scenario ran as designed (otherwise the telemetry checks below prove nothing)', () => {
  it.each([
    ['orders', 'committed'],
    ['orders/staging', 'committed'],
    ['payments', 'aborted'],
    ['billing', 'rolledBack'],
    ['reports', 'committed'],
    ['inventory', 'committed'],
    ['audit', 'failed'],
  ])('%s ends %s', (name, outcome) => {
    const result = results.get(name);
    expect(result?.outcome, JSON.stringify(result?.reason ?? result?.error)).toBe(outcome);
  });

  it('the second concurrent rotation of orders is refused while the first holds the lease', () => {
    expect(conflict).toMatchObject({ outcome: 'skipped', reason: 'InProgress' });
  });

  it('retirement deleted certificates once the clock passed RETIRE_AFTER_DAYS', () => {
    expect(retired.errors).toEqual([]);
    expect(retired.deleted.length).toBeGreaterThan(0);
  });
});

describe('scan telemetry', () => {
  it('ScanCompleted carries apps scanned, bindings, due, dangling, duration and subscriptions of the scan', () => {
    const completed = ingestion.events('ScanCompleted');
    expect(completed.length).toBeGreaterThanOrEqual(2); // the scan, and rotateDue's own scan
    const first = completed.find((e) => e.measurements.durationMs === scan.durationMs);
    expect(first, JSON.stringify(completed.map((e) => e.measurements))).toBeDefined();
    const bindings = scan.apps.reduce((n, a) => n + a.bindings.length, 0);
    expect(first?.measurements).toMatchObject({
      subscriptions: 1,
      appsScanned: scan.apps.length,
      bindings,
      due: scan.plan.dueBindings,
      dangling: 1,
    });
    // 13 opted-in sites (the demo's catalog, shipping, notify and pricing among them) + the staging slot; legacy-portal is untagged.
    expect(first?.measurements.appsScanned).toBe(14);
    // orders, orders/staging, payments, billing, reports, inventory, catalog, shipping, notify, pricing, audit, ledger;
    // stale has no renewal, held's is disabled.
    expect(first?.measurements.due).toBe(12);
    expect(first?.properties).toMatchObject({ subscriptions: '1', failedSubscriptions: '0' });
  });

  it('CertificateExpiring names held (renewal disabled), its loaded thumbprint, Key Vault id and version, source, days and refusal', () => {
    const found = events('CertificateExpiring', 'held');
    expect(found.length).toBeGreaterThan(0);
    for (const item of found) {
      const props = item.properties;
      expect(props).toMatchObject({ appId: appIdOf('held'), subscription: SUB, thumbprint: old('held'), reason: 'NearingExpiry', due: 'false', refusal: 'Disabled' });
      expect(props.slot).toBeUndefined();
      expect(props.source).toBe(`${sb.vaultUrl('kv-demo')}/certificates/held-client`);
      expect(props.keyVaultVersion).toBe(sb.control.keyVaultVersions('kv-demo', 'held-client').at(-1)?.version);
      expect(props.keyVaultCertificateId).toBe(`${sb.vaultUrl('kv-demo')}/certificates/held-client/${props.keyVaultVersion}`);
      expect(Number(props.daysRemaining)).toBeGreaterThanOrEqual(3);
      expect(Number(props.daysRemaining)).toBeLessThanOrEqual(5);
    }
    // Certificates whose renewal is ready are rotated instead: no expiry alert for them.
    for (const name of ['orders', 'payments', 'billing', 'audit']) expect(events('CertificateExpiring', name)).toEqual([]);
  });

  it('DanglingThumbprint names inventory, the pinned thumbprint nobody has, and its source', () => {
    const found = events('DanglingThumbprint', 'inventory');
    expect(found.length).toBeGreaterThan(0); // one per scan until repaired
    for (const item of found) expect(item.properties).toMatchObject({
      appId: appIdOf('inventory'),
      subscription: SUB,
      thumbprint: '0BADC0DE0BADC0DE0BADC0DE0BADC0DE0BADC0DE',
      source: `${sb.vaultUrl('kv-demo')}/certificates/inventory-client`,
      reason: 'DanglingThumbprint',
    });
  });

  it('RenewalMissing names stale, its loaded thumbprint, its source and the days left', () => {
    const item = events('RenewalMissing', 'stale')[0];
    expect(item).toBeDefined();
    expect(item?.properties).toMatchObject({
      appId: appIdOf('stale'),
      subscription: SUB,
      thumbprint: old('stale'),
      source: `${sb.vaultUrl('kv-demo')}/certificates/stale-client`,
      reason: 'RenewalMissing',
    });
    expect(Number(item?.properties.daysRemaining)).toBeGreaterThan(4);
    expect(Number(item?.properties.daysRemaining)).toBeLessThanOrEqual(6);
  });

  it('CertificateDaysRemaining arrives per app and binding with the properties the expiry alert joins on', () => {
    const metrics = ingestion.metrics('CertificateDaysRemaining');
    for (const app of scan.apps) {
      for (const binding of app.bindings) {
        const days = binding.evaluation.daysRemaining;
        if (days === undefined) continue;
        const thumbprint = binding.loaded?.thumbprint;
        const metric = metrics.find((m) => m.properties.appId === app.appId && m.properties.thumbprint === thumbprint);
        expect(metric, `metric of ${app.name} ${thumbprint}`).toBeDefined();
        // The SDK pre-aggregates a metric per dimension set (value = sum, count = samples): the expiry alert
        // reads Sum / ItemCount, so that is the figure to check.
        expect(Number(metric?.value) / Number(metric?.count)).toBe(days);
        expect(metric?.properties.subscription).toBe(SUB);
        expect(metric?.properties.source).toMatch(/\/certificates\/[a-z]+-client$/);
      }
    }
    const orders = metrics.find((m) => m.properties.appId === appIdOf('orders') && m.properties.thumbprint === old('orders'));
    expect(Number(orders?.value) / Number(orders?.count)).toBeGreaterThanOrEqual(8);
    expect(Number(orders?.value) / Number(orders?.count)).toBeLessThanOrEqual(10);
  });
});

describe('rotation telemetry', () => {
  const rotationDimensions = (name: string) => {
    const site = name.split('/')[0] as string;
    const result = results.get(name);
    return {
      appId: appIdOf(name),
      subscription: SUB,
      rotationId: result?.rotationId,
      oldThumbprint: old(site),
      newThumbprint: renewed(site),
    };
  };

  it.each([
    ['RotationCommitted', 'orders', 'committed', undefined],
    ['RotationCommitted', 'orders/staging', 'committed', undefined],
    ['RotationCommitted', 'reports', 'committed', undefined],
    ['RotationAborted', 'payments', 'aborted', /^PreflightFailed: /],
    ['RotationRolledBack', 'billing', 'rolledBack', /^VerificationFailed: /],
    ['RotationFailed', 'audit', 'failed', /^RollbackUnverified: /],
  ])('%s of %s carries app, slot, subscription, thumbprints, Key Vault id and version, step %s, reason and rotation id', (event, name, step, reason) => {
    const item = one(event, name);
    const props = item.properties;
    expect(props).toMatchObject({ ...rotationDimensions(name), step });
    expect(props.rotationId).toMatch(/\S/);
    expect(props.slot).toBe(name.includes('/') ? name.split('/')[1] : undefined);
    const site = name.split('/')[0] as string;
    expect(props.keyVaultVersion).toBe(sb.control.keyVaultVersions('kv-demo', `${site}-client`).at(-1)?.version);
    expect(props.keyVaultCertificateId).toBe(`${sb.vaultUrl('kv-demo')}/certificates/${site}-client/${props.keyVaultVersion}`);
    if (reason) expect(props.reason).toMatch(reason);
  });

  it('RotationCommitted of inventory (the dangling repair) has no old thumbprint but the new one', () => {
    const item = one('RotationCommitted', 'inventory');
    expect(item.properties).toMatchObject({ appId: appIdOf('inventory'), rotationId: results.get('inventory')?.rotationId, newThumbprint: renewed('inventory'), step: 'committed' });
  });

  it('RotationStarted carries the rotation id of the outcome that follows, and both thumbprints', () => {
    for (const name of ['orders', 'payments', 'billing', 'audit']) {
      const started = events('RotationStarted', name);
      expect(started.map((e) => e.properties.rotationId)).toContain(results.get(name)?.rotationId);
      expect(started.find((e) => e.properties.rotationId === results.get(name)?.rotationId)?.properties).toMatchObject(rotationDimensions(name));
    }
  });

  it('a fault inside a rotation is tracked as an exception with the rotation id, app and step, then rolled back', () => {
    const ledger = results.get('ledger');
    expect(ledger?.outcome).toBe('rolledBack');
    const rolledBack = one('RotationRolledBack', 'ledger');
    expect(rolledBack.properties).toMatchObject({ rotationId: ledger?.rotationId, step: 'rolledBack' });
    expect(rolledBack.properties.reason).toMatch(/^Precondition: write app settings .* refused/);
    const exceptions = ingestion.exceptions().filter((e) => e.properties.rotationId === ledger?.rotationId);
    expect(exceptions.length, JSON.stringify(ingestion.exceptions().map((e) => e.properties))).toBeGreaterThan(0);
    expect(exceptions[0]?.properties).toMatchObject({ appId: appIdOf('ledger'), subscription: SUB, oldThumbprint: old('ledger'), newThumbprint: renewed('ledger') });
    expect(exceptions[0]?.properties.step).toBe('previousRecorded');
    expect(exceptions[0]?.name).toBe('AzurePreconditionError');
    expect(exceptions[0]?.message).toContain('could not be saved');
  });

  it('RotationConflict names the app the second rotation could not lease, with reason InProgress', () => {
    const item = one('RotationConflict', 'orders');
    expect(item.properties).toMatchObject({ appId: appIdOf('orders'), subscription: SUB, reason: 'InProgress' });
  });

  it.each([
    ['payments', 'PreflightFailed', 'direct', 'legacy-bank'],
    ['billing', 'VerificationFailed', 'via-app', 'billing'],
    ['audit', 'VerificationFailed', 'via-app', 'audit'],
  ])('ProbeFailed of %s says %s, the probe kind (%s) and its target, with the rotation id', (name, reason, probe, target) => {
    const failed = events('ProbeFailed', name).filter((e) => e.properties.reason === reason);
    expect(failed.length).toBeGreaterThan(0);
    for (const item of failed) {
      expect(item.properties).toMatchObject({ ...rotationDimensions(name), reason, probe });
      expect(item.properties.target).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
      // direct: the downstream the probe tag names; via-app: the app's own health path.
      const expected = probe === 'direct' ? sb.downstreamUrl(target) : sb.appUrl({ subscriptionId: SUB, resourceGroup: 'rg-apps', site: target });
      expect(item.properties.target).toContain(new URL(expected).host);
      expect(item.properties.step).toMatch(/\S/);
    }
  });

  it('CertificateRetired names each deleted certificate, its thumbprint, the rotation and the app', () => {
    expect(ingestion.events('CertificateRetired')).toHaveLength(retired.deleted.length);
    for (const deleted of retired.deleted) {
      const item = ingestion.events('CertificateRetired').find((e) => e.properties.rotationId === deleted.rotationId && e.properties.thumbprint === deleted.thumbprint);
      expect(item, deleted.name).toBeDefined();
      expect(item?.properties).toMatchObject({ subscription: SUB, webspace: deleted.webspace });
      expect(item?.properties.appId).toMatch(/^\/subscriptions\/.+\/providers\/Microsoft\.Web\/sites\//i);
      expect(item?.properties.certificate).toContain(`/certificates/${deleted.name}`);
    }
    // The old reports certificate ('*' mode, committed) and billing's unused upload (rolled back) go.
    const thumbprints = retired.deleted.map((d) => d.thumbprint);
    expect(thumbprints).toContain(old('reports'));
    expect(thumbprints).toContain(renewed('billing'));
  });
});

describe('verification strength and failure kind on the outcome events', () => {
  it.each([
    ['orders committed, the app reporting the new thumbprint', 'RotationCommitted', 'orders', 'thumbprint', undefined],
    ['billing rolled back: its partner refused the new issuer (definite), the old state re-verified by thumbprint', 'RotationRolledBack', 'billing', 'thumbprint', 'definite'],
    // Its partner refuses both certificates, so the kit answers 503 {"status":"fail"} on both: the app is unwell whatever
    // it presents, the candidate is not proven bad (docs/operations.md, retry rules), so it backs off.
    ['audit failed: neither state passes, nothing verified, not held against the candidate', 'RotationFailed', 'audit', 'none', 'transient'],
  ])('%s', (_sentence, event, app, verification, failureKind) => {
    const item = one(event, app);
    expect(item.properties.verification).toBe(verification);
    expect(item.properties.failureKind).toBe(failureKind);
  });
});

describe('what the alert rules in infra/azuredeploy.json read is there', () => {
  const template = JSON.parse(readFileSync(new URL('../../infra/azuredeploy.json', import.meta.url), 'utf8')) as {
    variables: { alertRules: Array<{ query: string[] }> };
  };
  const queries = template.variables.alertRules.map((r) => r.query.join('\n')).join('\n');

  it.each([
    ['RotationRolledBack', ['appId', 'reason', 'step', 'rotationId']],
    ['RotationFailed', ['appId', 'reason', 'step', 'rotationId']],
    ['CertificateExpiring', ['appId', 'thumbprint', 'source', 'daysRemaining']],
    ['DanglingThumbprint', ['appId', 'thumbprint', 'source']],
    ['RenewalMissing', ['appId', 'thumbprint', 'source', 'daysRemaining']],
    ['RotationCommitted', ['appId']],
  ])('%s has %j, which the queries read', (event, names) => {
    for (const property of names) expect(queries).toContain(`Properties.${property}`);
    const emitted = ingestion.events(event);
    expect(emitted.length).toBeGreaterThan(0);
    for (const item of emitted) for (const property of names) expect(item.properties[property], `${event}.${property}`).toMatch(/\S/);
  });

  it('the CertificateDaysRemaining metric has appId, thumbprint and source, which the expiry alert reads', () => {
    const metrics = ingestion.metrics('CertificateDaysRemaining');
    expect(metrics.length).toBeGreaterThan(0);
    for (const m of metrics) for (const property of ['appId', 'thumbprint', 'source']) expect(m.properties[property]).toMatch(/\S/);
  });
});

describe('secrets never reach Application Insights', () => {
  it('no dimension was dropped by the scrubber: the engine sends public data only, and all of it arrives', () => {
    const scrubbed = ingestion.envelopes.filter((e) => e.properties.scrubbedDimensions !== undefined);
    expect(scrubbed.map((e) => `${e.name}: ${e.properties.scrubbedDimensions}`)).toEqual([]);
  });

  it('no envelope contains an uploaded PFX, its password, a Key Vault secret value or a PEM private key', () => {
    expect(secrets.length).toBeGreaterThan(4);
    expect(ingestion.bodies.length).toBeGreaterThan(0);
    const all = ingestion.bodies.join('\n');
    expect(all).not.toMatch(/PRIVATE KEY/);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      expect(all.includes(secret)).toBe(false);
      // A truncated copy would be just as bad.
      const middle = secret.slice(Math.floor(secret.length / 2), Math.floor(secret.length / 2) + 32);
      if (middle.length === 32) expect(all.includes(middle)).toBe(false);
    }
  });
});

describe('a scan that cannot read a subscription', () => {
  it('ScanIncomplete reaches Application Insights naming the subscription and ARM’s answer', async () => {
    const unknown = '00000000-0000-0000-0000-0000000000ee';
    const deps = createDependencies(config, { tlsCa: sb.caPem, telemetry, owner: 'scan-incomplete' });
    const report = await createRotator(deps, config).scan({ subscriptionIds: [unknown] });
    expect(report.subscriptions).toMatchObject([{ subscriptionId: unknown, ok: false }]);
    await telemetry.flush();
    const found = ingestion.events('ScanIncomplete');
    expect(found).toHaveLength(1);
    expect(found[0]!.properties).toMatchObject({ failedSubscriptions: unknown, reachedNone: 'true' });
    expect(found[0]!.properties.errors).toMatch(new RegExp(`^${unknown}: .*404 SubscriptionNotFound`));
    expect(found[0]!.measurements).toMatchObject({ subscriptions: 1, failedSubscriptions: 1 });
  }, 60_000);
});
