// `npm start`: the whole thing on one machine. Azurite, the sandbox with the demo scenario, and the local Functions
// host running the real function app on 127.0.0.1:7071 (a free port if that one is busy). The nightly scan runs at
// once, the queue fan-out rotates each due app, a summary table follows, and the HTTP API stays up with two curl
// lines to try. A second nightly run follows at once: an app whose rotation was rolled back must not be rotated (and
// restarted) again. `--once` exits after that: 0 only when every outcome the scenario expects happened.
// Everything listens on and talks to 127.0.0.1 only.
import { randomBytes } from 'node:crypto';
import { startLocalHost, type LocalHost } from '../src/host/index.js';
import { startAzurite, type Azurite } from '../sandbox/azurite.js';
import { DEMO_SUBSCRIPTION_ID, demoScenario, startSandbox, type Sandbox } from '../sandbox/index.js';
import type { Telemetry } from '../src/core/events.js';
import type { AppRef } from '../src/core/ports.js';
import type { RotationRecord } from '../src/core/records.js';
import type { InventoryEntry } from '../src/core/rotator.js';
import { sandboxAppSettings } from './sandboxSettings.js';
import { configureServices } from '../src/functions/app/services.js';

/** What the demo scenario must produce, per app ("site" or "site/slot"); `untouched` = no record, nothing changed. */
export const DEMO_EXPECTATIONS: Record<string, 'committed' | 'aborted' | 'rolledBack' | 'untouched'> = {
  orders: 'committed',
  'orders/staging': 'committed',
  payments: 'aborted',
  billing: 'rolledBack',
  reports: 'committed',
  inventory: 'committed',
  // Health paths written without this rotator in mind (ASP.NET Core, Spring Boot, a plain OK, a 204).
  catalog: 'committed',
  shipping: 'committed',
  notify: 'committed',
  pricing: 'committed',
  'legacy-portal': 'untouched',
};

/**
 * How strongly each committed rotation must have been verified (docs/operations.md, "Verification contract"): the
 * apps that run the kit report the certificate they presented; the others only answer a healthy status.
 */
export const DEMO_VERIFICATION: Record<string, 'thumbprint' | 'status'> = {
  orders: 'thumbprint',
  'orders/staging': 'thumbprint',
  inventory: 'thumbprint',
  catalog: 'status',
  shipping: 'status',
  notify: 'status',
  pricing: 'status',
};

const once = process.argv.includes('--once');
const verbose = process.argv.includes('--verbose');
const say = (...lines: string[]): void => {
  for (const line of lines.length > 0 ? lines : ['']) console.log(line);
};

// Progress straight from the engine's telemetry events (the same ones the alert rules key on).
const progressTelemetry: Telemetry = {
  event: (name, dimensions) => {
    if (name === 'CertificateExpiring' || name === 'ScanCompleted') return;
    const app = String(dimensions?.appName ?? dimensions?.appId ?? '').replace(/^.*\/sites\//i, '').replace('/slots/', '/');
    const why = dimensions?.reason !== undefined ? `  ${String(dimensions.reason)}` : '';
    say(`  ▸ ${name.padEnd(20)} ${app}${why}`);
  },
  metric: () => undefined,
  exception: () => undefined,
  flush: async () => undefined,
};

async function main(): Promise<number> {
  let azurite: Azurite | undefined;
  let sandbox: Sandbox | undefined;
  let host: LocalHost | undefined;
  try {
    say('Starting Azurite (tables, queues) and the sandbox (ARM, Key Vault, apps, partner APIs) on 127.0.0.1 ...');
    azurite = await startAzurite();
    sandbox = await startSandbox(demoScenario(), verbose ? { log: (line) => say(`    ${line}`) } : {});
    const functionsKey = `demo-${randomBytes(12).toString('hex')}`;
    const settings = sandboxAppSettings({
      armEndpoint: sandbox.armEndpoint,
      token: sandbox.token,
      subscriptionId: DEMO_SUBSCRIPTION_ID,
      storageConnectionString: azurite.connectionString,
      functionsKey,
    });
    configureServices({ tlsCa: sandbox.caPem, telemetry: progressTelemetry });
    const legacy = findApp(sandbox, 'legacy-portal');
    const legacyBefore = JSON.stringify(sandbox.control.appSettings(legacy));

    host = await startHost(settings);
    say(`Functions host on ${host.url} (function key ${functionsKey})`);

    const api = async (method: string, path: string, body?: unknown): Promise<any> => {
      const response = await fetch(`${host!.apiUrl}${path}`, {
        method,
        headers: { 'x-functions-key': functionsKey },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await response.json()) as any;
      if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
      return json;
    };

    const inventoryBefore = (await api('GET', '/certificates')).certificates as InventoryEntry[];
    say('', 'Nightly scan (run now instead of at ROTATION_SCHEDULE):');
    await host.invokeTimer('nightlyScan');
    const lastScan = (await (await fetch(`${host.apiUrl}/health`)).json()) as { lastScan?: { dueApps?: number; apps?: number } };
    const dueApps = lastScan.lastScan?.dueApps ?? 0;
    say(`  ${lastScan.lastScan?.apps ?? 0} opted-in app(s), ${dueApps} queued for rotation; the queue trigger rotates them:`);

    const finished = await waitForRotations(api, dueApps, 180_000);
    const rows = summaryRows(inventoryBefore, finished);
    const legacyUntouched = JSON.stringify(sandbox.control.appSettings(legacy)) === legacyBefore;
    rows.push({ app: 'legacy-portal', binding: '(no mtls-rotation tag)', change: '', days: '', outcome: legacyUntouched ? 'untouched' : 'CHANGED', verified: '', reason: 'not opted in' });
    printTable(rows);

    const problems = checkExpectations(rows);

    say('', 'Second nightly run, at once: a version that failed on an app is not rolled out to it again:');
    const apps = appRefs(sandbox);
    const restartsBefore = apps.map((ref) => sandbox!.control.restarts(ref));
    await host.invokeTimer('nightlyScan');
    const secondScan = (await (await fetch(`${host.apiUrl}/health`)).json()) as { lastScan?: { dueApps?: number } };
    const secondDue = secondScan.lastScan?.dueApps ?? 0;
    const after = await waitForRotations(api, finished.length + secondDue, 180_000);
    const again = after.filter((r) => !finished.some((f) => f.id === r.id));
    say(`  ${secondDue} app(s) queued${again.length > 0 ? `: ${again.map((r) => `${nameOf(r.app)} ${r.outcome ?? 'open'}`).join(', ')}` : ''}`);
    apps.forEach((ref, i) => {
      const restarts = sandbox!.control.restarts(ref) - restartsBefore[i]!;
      if (restarts > 0) problems.push(`${nameOf(ref)}: restarted ${restarts} time(s) by the second run`);
    });
    for (const app of Object.keys(DEMO_EXPECTATIONS).filter((a) => DEMO_EXPECTATIONS[a] === 'rolledBack')) {
      const history = (await api('GET', `/rotations?app=${encodeURIComponent(app)}`)) as { nextAttempt?: { reason: string; at?: string; rotationId: string } | null };
      const retried = again.filter((r) => nameOf(r.app) === app);
      if (retried.length > 0) problems.push(`${app}: rotated again by the second run (${retried.map((r) => r.id).join(', ')})`);
      const next = history.nextAttempt;
      if (!next) problems.push(`${app}: nothing holds its rolled-back version back`);
      else say(`  ${app}: not retried: ${next.reason}${next.at ? ` until ${next.at}` : ' (a newer Key Vault version or force clears it)'}, rotation ${next.rotationId}`);
    }

    problems.push(...(await (await import('../sandbox/rolloutDemo.js')).rolloutDemo(say))); // canary rollout
    problems.push(...(await (await import('./demoEvents.js')).demoEventRotation({ sandbox, host, api, say })));
    if (problems.length === 0) say('', 'Every outcome the demo scenario expects happened.');
    else say('', `Unexpected: ${problems.join('; ')}`);

    if (once) return problems.length === 0 ? 0 : 1;

    say(
      '',
      'The HTTP API stays up. Try:',
      `  curl -s -X POST -H "x-functions-key: ${functionsKey}" -d '{"dryRun":true}' ${host.apiUrl}/rotations`,
      `  curl -s -X POST -H "x-functions-key: ${functionsKey}" -d '{"app":"billing"}' ${host.apiUrl}/rotations`,
      `then: curl -s -H "x-functions-key: ${functionsKey}" "${host.apiUrl}/rotations?app=billing"  (and /certificates, /health)`,
      `The operator dashboard: ${host.apiUrl}/dashboard?code=${functionsKey}`,
      '',
      'Press Ctrl-C to stop.',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await host?.stop().catch(() => undefined);
    await sandbox?.stop().catch(() => undefined);
    await azurite?.stop().catch(() => undefined);
  }
}

async function startHost(settings: Record<string, string>): Promise<LocalHost> {
  const options = {
    register: () => import('../src/functions/index.js'),
    settings,
    // The demo's own settings only: a developer's local.settings.json may point at real Azure.
    localSettings: false as const,
    log: (line: string) => {
      if (verbose || /^\[nightlyScan\] nightly scan|\bfailed\b/.test(line)) say(`  ${line}`);
    },
    timers: { scheduled: !once },
    // host.json waits 30 s before retrying a failed message; the demo has nothing to wait for.
    queues: { visibilityTimeoutSeconds: 1, minPollingIntervalMs: 100, maxPollingIntervalMs: 500 },
  };
  try {
    return await startLocalHost({ ...options, port: 7071 });
  } catch (error) {
    if (!/EADDRINUSE/.test(String((error as { code?: string }).code ?? error))) throw error;
    say('  port 7071 is busy; using a free port instead');
    return startLocalHost({ ...options, port: 0 });
  }
}

async function waitForRotations(api: (m: string, p: string) => Promise<any>, expected: number, timeoutMs: number): Promise<RotationRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = ((await api('GET', '/rotations?limit=200')).rotations as RotationRecord[]).filter((r) => r.trigger === 'queue');
    const done = records.filter((r) => r.outcome !== undefined);
    if (done.length >= expected && done.length === records.length) return done;
    if (Date.now() > deadline) {
      say(`  gave up waiting: ${done.length} of ${expected} rotation(s) finished`);
      return done;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Row {
  app: string;
  binding: string;
  change: string;
  days: string;
  outcome: string;
  /** Committed rows: how strongly the rotation was verified (thumbprint / status / none). */
  verified: string;
  reason: string;
}

function nameOf(ref: AppRef): string {
  return ref.slot ? `${ref.site}/${ref.slot}` : ref.site;
}

function summaryRows(inventory: InventoryEntry[], records: RotationRecord[]): Row[] {
  const rows: Row[] = [];
  const apps = [...new Set(inventory.map((e) => e.name))];
  for (const app of apps) {
    const record = records.filter((r) => nameOf(r.app) === app).sort((a, b) => b.startedAt.localeCompare(a.startedAt))[0];
    for (const entry of inventory.filter((e) => e.name === app)) {
      const change = record?.bindings.find((b) => b.oldThumbprint === entry.thumbprint) ?? record?.bindings[0];
      rows.push({
        app,
        binding: entry.certificateName ?? entry.thumbprint?.slice(0, 8) ?? '-',
        change: change ? `${short(change.oldThumbprint)} → ${short(change.newThumbprint)}` : `${short(entry.thumbprint)}`,
        days: entry.daysRemaining !== undefined ? String(Math.floor(entry.daysRemaining)) : '-',
        outcome: record?.outcome ?? (entry.due ? 'pending' : 'up to date'),
        verified: record?.outcome === 'committed' ? (record.verification ?? '?') : '',
        reason: (record?.reason ?? entry.reason ?? '').slice(0, 70),
      });
    }
  }
  return rows;
}

function short(thumbprint: string | undefined): string {
  return thumbprint ? thumbprint.slice(0, 8) : '(none)';
}

function printTable(rows: Row[]): void {
  const header: Row = { app: 'app', binding: 'binding', change: 'old → new thumbprint', days: 'days left', outcome: 'outcome', verified: 'verified', reason: 'reason' };
  const keys = Object.keys(header) as Array<keyof Row>;
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...[header, ...rows].map((r) => r[k].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => keys.map((k) => (k === 'reason' ? r[k] : r[k].padEnd(width[k]))).join('  ');
  say('', 'Summary', line(header), keys.map((k) => '-'.repeat(k === 'reason' ? 6 : width[k])).join('  '));
  for (const r of rows) say(line(r));
}

function checkExpectations(rows: Row[]): string[] {
  const problems: string[] = [];
  for (const [app, expected] of Object.entries(DEMO_EXPECTATIONS)) {
    const outcomes = rows.filter((r) => r.app === app).map((r) => r.outcome);
    if (outcomes.length === 0) problems.push(`${app}: not in the summary`);
    else if (outcomes.some((o) => o !== expected)) problems.push(`${app}: expected ${expected}, got ${outcomes.join(', ')}`);
  }
  for (const [app, expected] of Object.entries(DEMO_VERIFICATION)) {
    const verified = rows.filter((r) => r.app === app && r.outcome === 'committed').map((r) => r.verified);
    if (verified.some((v) => v !== expected)) problems.push(`${app}: expected verification ${expected}, got ${verified.join(', ')}`);
  }
  return problems;
}

/** Every site and slot of the demo world, for counting restarts. */
function appRefs(sandbox: Sandbox): AppRef[] {
  const refs: AppRef[] = [];
  for (const sub of sandbox.scenario.subscriptions) {
    for (const rg of sub.resourceGroups) {
      for (const site of rg.sites ?? []) {
        refs.push({ subscriptionId: sub.id, resourceGroup: rg.name, site: site.name });
        for (const slot of site.slots ?? []) refs.push({ subscriptionId: sub.id, resourceGroup: rg.name, site: site.name, slot: slot.name });
      }
    }
  }
  return refs;
}

function findApp(sandbox: Sandbox, name: string): AppRef {
  for (const sub of sandbox.scenario.subscriptions) {
    for (const rg of sub.resourceGroups) {
      if ((rg.sites ?? []).some((s) => s.name === name)) return { subscriptionId: sub.id, resourceGroup: rg.name, site: name };
    }
  }
  throw new Error(`the demo scenario has no app '${name}'`);
}

(process.argv.includes('--az') ? import('../sandbox/rehearsal.js').then((m) => m.rehearse()) : main()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
