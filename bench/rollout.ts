// Canary rollouts, measured by `npm run bench` and asserted by test/integration/rollout.test.ts: a fleet of
// apps that load one Key Vault certificate (one partner, one client identity), the real function app under the local
// host (nightly timer → queue → rotateApp → verify timer) over the sandbox and Azurite, and the measures taken from
// the outside: the sandbox's restart counts and request log.
import { randomBytes } from 'node:crypto';
import { startAzurite } from '../sandbox/azurite.js';
import { startSandbox, type Sandbox, type Scenario } from '../sandbox/index.js';
import type { Dimensions, Telemetry, TelemetryEventName } from '../src/core/events.js';
import type { CrashBoundary } from '../src/core/boundaries.js';
import type { AppRef, Clock } from '../src/core/ports.js';
import type { RotationRecord } from '../src/core/records.js';
import type { Rollout } from '../src/core/rollout/model.js';
import { sandboxAppSettings } from '../local/sandboxSettings.js';
import { configureServices, resetServices } from '../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../src/host/index.js';

export const SUB = '7e1a0c55-0b1d-4c3e-9f00-5e11ab1e0017';
const VAULT = 'kv-fleet';

export function refOf(name: string): AppRef {
  return { subscriptionId: SUB, resourceGroup: `rg-${name}`, site: name };
}

const uniqueName = (prefix: string) => `${prefix}${randomBytes(5).toString('hex')}`;

/**
 * `count` apps, each in its own webspace, all loading version 0 (old CA) of one vault certificate whose latest version
 * is issued by a new CA. `ok` apps call a partner that trusts both CAs; `breaks` apps are tagged with that partner (the
 * direct preflight passes) but their own code calls one that trusts only the old CA, so only the app itself fails.
 */
export function fleet(count: number, kind: 'ok' | 'breaks', restartMs = 20): Scenario {
  const pinned = `{{thumbprint:${VAULT}/client/0}}`;
  return {
    name: 'rollout-fleet',
    cas: [{ name: 'old-ca' }, { name: 'new-ca' }],
    vaults: [
      {
        name: VAULT,
        subscriptionId: SUB,
        resourceGroup: 'rg-kv',
        certificates: [{ name: 'client', versions: [{ issuer: 'old-ca', notAfterDays: 20, material: 'old' }, { issuer: 'new-ca', notAfterDays: 365, material: 'new' }] }],
      },
    ],
    downstreams: [
      { name: 'partner', trusts: ['old-ca', 'new-ca'] },
      { name: 'strict', trusts: ['old-ca'] },
    ],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          { name: 'rg-kv', location: 'West Europe' },
          ...names(count).map((name) => ({
            name: `rg-${name}`,
            location: 'West Europe',
            certificates: [{ name: `${name}-v0`, fromVault: { vault: VAULT, certificate: 'client', version: 0 } }],
            sites: [
              {
                name,
                downstream: kind === 'ok' ? 'partner' : 'strict',
                restartMs,
                tags: {
                  'mtls-rotation': 'enabled',
                  'mtls-rotation-source': `{{source:${VAULT}/client}}`,
                  'mtls-rotation-health': '/healthz/outbound-mtls',
                  'mtls-rotation-probe': '{{downstream:partner}}',
                  'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT',
                },
                settings: { WEBSITE_LOAD_CERTIFICATES: pinned, CLIENT_CERT_THUMBPRINT: pinned, OTHER: 'kept' },
              },
            ],
          })),
        ],
      },
    ],
  };
}

export const names = (count: number) => Array.from({ length: count }, (_, i) => `app${String(i + 1).padStart(2, '0')}`);

export interface RecordedEvent {
  name: TelemetryEventName;
  dimensions: Dimensions;
}

export function recorder(): { telemetry: Telemetry; events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  return {
    events,
    telemetry: {
      event: (name, dimensions) => void events.push({ name, dimensions: dimensions ?? {} }),
      metric: () => undefined,
      exception: () => undefined,
      flush: async () => undefined,
    },
  };
}

export interface FleetHost {
  host: LocalHost;
  lines: string[];
  api(path: string, init?: RequestInit): Promise<{ status: number; body: any }>;
  rollouts(): Promise<Rollout[]>;
  /** Polls GET /api/rollouts until `done` holds for the one rollout (or fails after `timeoutMs`). */
  until(done: (r: Rollout) => boolean, timeoutMs?: number): Promise<Rollout>;
  /** Polls GET /api/rotations until a record satisfies `done`. */
  untilRecords(count: number, done: (r: RotationRecord) => boolean, timeoutMs?: number): Promise<RotationRecord[]>;
}

export interface FleetHostOptions {
  telemetry: Telemetry;
  settings?: Record<string, string>;
  table?: string;
  queue?: string;
  /** Arms the timers, the verify timer every second (as VERIFY_SCHEDULE every 5 min on Azure, scaled down). */
  verifyEverySecond?: boolean;
  /** The engine's clock (a test moves it past a soak). */
  clock?: Clock;
  /** False: messages stay in the queue (a test reads or replays them). */
  queues?: boolean;
  /** Called at every crash boundary of a rotation (the reliability suite's simulated crash). */
  faultHook?: (boundary: CrashBoundary) => void;
}

export async function startFleetHost(sb: Sandbox, connectionString: string, options: FleetHostOptions): Promise<FleetHost> {
  configureServices({ tlsCa: sb.caPem, telemetry: options.telemetry, ...(options.clock ? { clock: options.clock } : {}), ...(options.faultHook ? { faultHook: options.faultHook } : {}) });
  const lines: string[] = [];
  const host = await startLocalHost({
    register: () => import('../src/functions/index.js'),
    settings: {
      ...sandboxAppSettings({
        armEndpoint: sb.armEndpoint,
        token: sb.token,
        subscriptionId: SUB,
        storageConnectionString: connectionString,
        functionsKey: 'k',
        rotationQueue: options.queue ?? uniqueName('roll'),
        rotationTable: options.table ?? uniqueName('roll'),
      }),
      PROBE_ATTEMPTS: '3',
      PROBE_BACKOFF_SECONDS: '1',
      MAX_PARALLEL_ROTATIONS: '32',
      VERIFY_WINDOW_MINUTES: '0',
      ...(options.verifyEverySecond ? { VERIFY_SCHEDULE: '*/1 * * * * *' } : {}),
      ...options.settings,
    },
    localSettings: false,
    port: 0,
    log: (line) => lines.push(line),
    timers: { scheduled: options.verifyEverySecond === true, runOnStartup: false },
    // Twenty apps of one wave run at once, as they would over a few instances of the deployed app.
    // A failed message is visible again after a second (host.json: 30 s), so a test does not wait for its retry.
    queues: { enabled: options.queues !== false, visibilityTimeoutSeconds: 1, batchSize: 16, newBatchThreshold: 8, minPollingIntervalMs: 20, maxPollingIntervalMs: 200 },
  });
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${host.apiUrl}${path}`, { ...init, headers: { 'x-functions-key': 'k', 'content-type': 'application/json', ...(init.headers ?? {}) } });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const rollouts = async () => ((await api('/rollouts')).body as { rollouts: Rollout[] }).rollouts;
  return {
    host,
    lines,
    api,
    rollouts,
    until: async (done, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [rollout] = await rollouts();
        if (rollout && done(rollout)) return rollout;
        if (Date.now() > deadline) throw new Error(`rollout did not get there in ${timeoutMs} ms: ${JSON.stringify(rollout ?? null).slice(0, 2000)}\n${lines.slice(-30).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    untilRecords: async (count, done, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const records = ((await api('/rotations?limit=100')).body as { rotations: RotationRecord[] }).rotations;
        const found = records.filter(done);
        if (found.length >= count) return found;
        if (Date.now() > deadline) throw new Error(`no such rotation record in ${timeoutMs} ms\n${lines.slice(-30).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

export async function stopFleetHost(fleetHost: FleetHost | undefined): Promise<void> {
  await fleetHost?.host.stop();
  resetServices();
}

/** From the sandbox, per app: restarts and settings writes (what the app went through, whatever the engine says). */
export function outside(sb: Sandbox, apps: readonly string[], since: number) {
  const writes = sb.control.requests({ since, surface: 'arm' }).filter((r) => /^WebApps_UpdateApplicationSettings/.test(r.operation ?? ''));
  return apps.map((name) => ({
    name,
    restarts: sb.control.restarts(refOf(name)),
    // The site's own writes; its slots' paths (…/sites/<name>/slots/…) are theirs.
    settingsWrites: writes.filter((r) => r.path.toLowerCase().includes(`/sites/${name}/`) && !r.path.toLowerCase().includes(`/sites/${name}/slots/`)).length,
    loaded: sb.control.loadedThumbprints(refOf(name)),
  }));
}

export interface BlastRadius {
  line: string;
  restarted: ReturnType<typeof outside>;
  untouched: ReturnType<typeof outside>;
  apps: ReturnType<typeof outside>;
  alerts: RecordedEvent[];
  rollout: Rollout;
  oldThumbprint: string;
}

/** A version that breaks the apps' own outbound call, soak 0: what reached the apps when the rollout stopped. */
export async function measureBlastRadius(connectionString: string, count = 20): Promise<BlastRadius> {
  const sb = await startSandbox(fleet(count, 'breaks'));
  let fleetHost: FleetHost | undefined;
  try {
    const { telemetry, events } = recorder();
    fleetHost = await startFleetHost(sb, connectionString, { telemetry, settings: { ROLLOUT_SOAK_SECONDS: '0' } });
    const oldThumbprint = sb.control.thumbprint(`${VAULT}/client/0`);
    const since = sb.control.requests().at(-1)?.seq ?? 0;
    await fleetHost.host.invokeTimer('nightlyScan');
    await fleetHost.until((r) => r.status !== 'running');
    // The verify timer runs as scheduled on Azure; here it runs once more, and must not send the halted waves.
    await fleetHost.host.invokeTimer('verifyRotations');
    const [rollout] = await fleetHost.rollouts();
    const apps = outside(sb, names(count), since);
    const restarted = apps.filter((a) => a.restarts > 0);
    const untouched = apps.filter((a) => a.restarts === 0 && a.settingsWrites === 0);
    const alerts = events.filter((e) => e.name === 'RolloutHalted');
    const line = `blast radius: ${restarted.length} of ${count} apps restarted onto the bad certificate, ${untouched.length} untouched, ${alerts.length > 0 ? 'alert raised' : 'no alert'}`;
    return { line, restarted, untouched, apps, alerts, rollout: rollout!, oldThumbprint };
  } finally {
    await stopFleetHost(fleetHost);
    await sb.stop();
  }
}

export interface CanaryRollout {
  line: string;
  committed: number;
  rollout: Rollout;
  records: RotationRecord[];
  events: RecordedEvent[];
  wallMs: number;
  oneAppMs: number;
  allAtOnceMs: number;
}

/**
 * A good version over `count` apps with the soak scaled down, against the same path (nightly timer → queue → every
 * record committed) for one app and for all of them at once (ROLLOUT_WAVES=off, the fan-out before rollouts).
 */
export interface RolloutTiming {
  /** How long a simulated app takes to restart. */
  restartMs: number;
  /** PROBE_WARMUP_SECONDS: a warm-up past the restart lets the first probe find the app back. */
  warmupSeconds: number;
}

/** Figure 3's timing: App Service restarts take tens of seconds. */
export const ROLLOUT_BENCH_TIMING: RolloutTiming = { restartMs: 15_000, warmupSeconds: 16 };
/** The tests' timing: long enough that a rotation waits for its app, as in Azure, rather than for the shared CPU. */
export const ROLLOUT_TEST_TIMING: RolloutTiming = { restartMs: 2_000, warmupSeconds: 3 };

export async function measureCanaryRollout(connectionString: string, count = 20, soakSeconds = 1, timing: RolloutTiming = ROLLOUT_TEST_TIMING): Promise<CanaryRollout> {
  const timed = { PROBE_WARMUP_SECONDS: String(timing.warmupSeconds), PROBE_TIMEOUT_SECONDS: '10' };
  const sb = await startSandbox(fleet(count, 'ok', timing.restartMs));
  let fleetHost: FleetHost | undefined;
  let result: Omit<CanaryRollout, 'line' | 'oneAppMs' | 'allAtOnceMs'>;
  try {
    const { telemetry, events } = recorder();
    fleetHost = await startFleetHost(sb, connectionString, { telemetry, settings: { ...timed, ROLLOUT_SOAK_SECONDS: String(soakSeconds) }, verifyEverySecond: true });
    const newThumbprint = sb.control.thumbprint(`${VAULT}/client/latest`);
    const since = sb.control.requests().at(-1)?.seq ?? 0;
    const started = Date.now();
    await fleetHost.host.invokeTimer('nightlyScan');
    const rollout = await fleetHost.until((r) => r.status !== 'running', 240_000);
    const wallMs = Date.now() - started;
    const records = ((await fleetHost.api('/rotations?limit=500')).body as { rotations: RotationRecord[] }).rotations;
    const committed = outside(sb, names(count), since).filter((a) => a.loaded.includes(newThumbprint) && a.restarts === 1).length;
    result = { committed, rollout, records, events, wallMs };
  } finally {
    await stopFleetHost(fleetHost);
    await sb.stop();
  }
  const baseline = async (apps: number): Promise<number> => {
    const world = await startSandbox(fleet(apps, 'ok', timing.restartMs));
    let host: FleetHost | undefined;
    try {
      // The verify timer runs as in the rollout run: the same path, only without waves.
      host = await startFleetHost(world, connectionString, { telemetry: recorder().telemetry, settings: { ...timed, ROLLOUT_WAVES: 'off' }, verifyEverySecond: true });
      const t0 = Date.now();
      await host.host.invokeTimer('nightlyScan');
      await host.untilRecords(apps, (r) => r.outcome === 'committed');
      return Date.now() - t0;
    } finally {
      await stopFleetHost(host);
      await world.stop();
    }
  };
  const oneAppMs = await baseline(1);
  const allAtOnceMs = await baseline(count);
  const { rollout, wallMs, committed } = result;
  const waves = rollout.waves.map((w) => `${w.apps.length} in ${((Date.parse(w.finishedAt ?? '') - Date.parse(w.queuedAt ?? '')) / 1000).toFixed(1)} s`).join(', ');
  const line =
    `canary rollout: ${committed} of ${count} committed in ${rollout.waves.length} waves, wall = ${(wallMs / oneAppMs).toFixed(1)} × one app ` +
    `(${(wallMs / 1000).toFixed(1)} s; one app ${(oneAppMs / 1000).toFixed(1)} s; all ${count} at once ${(allAtOnceMs / 1000).toFixed(1)} s = ${(allAtOnceMs / oneAppMs).toFixed(1)} × one app; ` +
    `waves ${waves}; restarts ${timing.restartMs / 1000} s, warm-up ${timing.warmupSeconds} s, soak scaled from 1800 s to ${soakSeconds} s)`;
  return { ...result, line, oneAppMs, allAtOnceMs };
}

/** `npm run bench -- --only=rollout`: both figures over one Azurite of their own. */
export async function measureRolloutFigures(): Promise<{ blastRadius: string; canary: string; restarted: number; wallOverOne: number; detail: Record<string, unknown> }> {
  const azurite = await startAzurite();
  try {
    const blast = await measureBlastRadius(azurite.connectionString);
    const canary = await measureCanaryRollout(azurite.connectionString, 20, 1, ROLLOUT_BENCH_TIMING);
    return {
      blastRadius: blast.line,
      canary: canary.line,
      restarted: blast.restarted.length,
      wallOverOne: canary.wallMs / canary.oneAppMs,
      detail: { blastRadius: blast.line, canary: canary.line, wallMs: canary.wallMs, oneAppMs: canary.oneAppMs, allAtOnceMs: canary.allAtOnceMs },
    };
  } finally {
    await azurite.stop();
  }
}
