// Canary rollouts, measured by `npm run bench` and asserted by test/integration/rollout.test.ts: a fleet of
// apps that load one Key Vault certificate (one partner, one client identity), the real function app under the local
// host (nightly timer → queue → rotateApp → verify timer) over the sandbox and Azurite, and the measures taken from
// the outside: the sandbox's restart counts and request log.
import { randomBytes } from 'node:crypto';
import { startAzurite } from '../sandbox/azurite.js';
import { buildBenchChild, startBenchChild } from './child.js';
import { control, type SandboxReady } from './fanout.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';
import type { Dimensions, Telemetry, TelemetryEventName } from '../src/core/events.js';
import type { CrashBoundary } from '../src/core/boundaries.js';
import type { Clock } from '../src/core/ports.js';
import type { RotationRecord } from '../src/core/records.js';
import type { Rollout } from '../src/core/rollout/model.js';
import { sandboxAppSettings } from '../local/sandboxSettings.js';
import { fleet, names, refOf, SUB, VAULT } from './fleet.js';
import { configureServices, resetServices } from '../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../src/host/index.js';

export { fleet, names, refOf, SUB } from './fleet.js';

const uniqueName = (prefix: string) => `${prefix}${randomBytes(5).toString('hex')}`;

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

/** What the host needs of a sandbox: one in this process (tests) or in a child process (bench/sandboxChild.ts). */
export type SandboxEndpoint = Pick<Sandbox, 'armEndpoint' | 'caPem' | 'token'>;

export async function startFleetHost(sb: SandboxEndpoint, connectionString: string, options: FleetHostOptions): Promise<FleetHost> {
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
    // Twenty apps of one wave run at once, as they would over two instances of the deployed app (host.json's 8 + 4
    // each, 24 in all): the extension's largest batch and a threshold of 24, so twenty messages sent one by one are
    // never cut off at a batch and the rest left for when half of it has finished. A failed message is visible
    // again after a second (host.json: 30 s), so a test does not wait for its retry.
    queues: { enabled: options.queues !== false, visibilityTimeoutSeconds: 1, batchSize: 32, newBatchThreshold: 24, minPollingIntervalMs: 20, maxPollingIntervalMs: 200 },
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

type AppFromOutside = { name: string; restarts: number; settingsWrites: number; loaded: string[] };

/** Per app, from the sandbox's own log and counters: restarts and settings writes (what the app went through, whatever the engine says). */
function appsFromOutside(
  log: ReadonlyArray<{ operation?: string; path: string }>,
  apps: readonly string[],
  of: (name: string) => { restarts: number; loaded: string[] },
): AppFromOutside[] {
  const writes = log.filter((r) => /^WebApps_UpdateApplicationSettings/.test(r.operation ?? ''));
  return apps.map((name) => ({
    name,
    ...of(name),
    // The site's own writes; its slots' paths (…/sites/<name>/slots/…) are theirs.
    settingsWrites: writes.filter((r) => r.path.toLowerCase().includes(`/sites/${name}/`) && !r.path.toLowerCase().includes(`/sites/${name}/slots/`)).length,
  }));
}

/** From a sandbox in this process. */
export function outside(sb: Sandbox, apps: readonly string[], since: number): AppFromOutside[] {
  return appsFromOutside(sb.control.requests({ since, surface: 'arm' }), apps, (name) => ({
    restarts: sb.control.restarts(refOf(name)),
    loaded: sb.control.loadedThumbprints(refOf(name)),
  }));
}

/** From a sandbox in a child process, over its control API. */
async function outsideRemote(sb: SandboxReady, apps: readonly string[], since: number): Promise<AppFromOutside[]> {
  const log = (await control<{ value: Array<{ operation?: string; path: string }> }>(sb, 'GET', `requests?since=${since}&surface=arm`)).value;
  const path = (name: string) => `apps/${SUB}/rg-${name}/${name}`;
  const facts = new Map(
    await Promise.all(
      apps.map(async (name) => {
        const { restarts } = await control<{ restarts: number }>(sb, 'GET', `${path(name)}/restarts`);
        const { thumbprints } = await control<{ thumbprints: string[] }>(sb, 'GET', `${path(name)}/loaded`);
        return [name, { restarts, loaded: thumbprints }] as const;
      }),
    ),
  );
  return appsFromOutside(log, apps, (name) => facts.get(name)!);
}

export interface BlastRadius {
  line: string;
  restarted: AppFromOutside[];
  untouched: AppFromOutside[];
  apps: AppFromOutside[];
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
  /** The nightly timer's run (scan, plan, rollout created, canary queued), once for the whole rollout. */
  scanMs: number;
  oneAppMs: number;
  /** The nightly timer's run in the one-app world. */
  oneAppScanMs: number;
  allAtOnceMs: number;
  /**
   * What X would be if each wave took exactly one app's rotation after its nightly run (queue, switch, restart, the
   * warm-up the next wave must wait for, verification) and nothing else, the rollout's own nightly run once:
   * (scan + W × (one app − its scan)) / one app.
   */
  eachWaveOneApp: number;
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

/**
 * The sandbox runs in a process of its own, as figure 3's does: in Azure, App Service and Key Vault do their work on
 * other machines, and seventeen simulated apps restarting, loading their PKCS#12 files and calling their partner
 * would otherwise hold up the engine's event loop in the same process.
 */
export async function measureCanaryRollout(
  connectionString: string,
  count = 20,
  soakSeconds = 1,
  timing: RolloutTiming = ROLLOUT_TEST_TIMING,
  /** The one-app and all-at-once runs of an earlier measurement with the same timing (they do not depend on the soak). */
  baselines?: { oneAppMs: number; oneAppScanMs: number; allAtOnceMs: number },
): Promise<CanaryRollout> {
  const timed = { PROBE_WARMUP_SECONDS: String(timing.warmupSeconds), PROBE_TIMEOUT_SECONDS: '10' };
  const sandboxChild = await buildBenchChild('sandboxChild');
  const startWorld = (apps: number) => startBenchChild<SandboxReady>(sandboxChild, { BENCH_SANDBOX: JSON.stringify({ fleet: { count: apps, kind: 'ok', restartMs: timing.restartMs } }) });
  const lastSeq = async (sb: SandboxReady) => (await control<{ value: Array<{ seq: number }> }>(sb, 'GET', 'requests')).value.at(-1)?.seq ?? 0;
  const world = await startWorld(count);
  const sb = world.ready;
  let fleetHost: FleetHost | undefined;
  let result: Omit<CanaryRollout, 'line' | 'oneAppMs' | 'oneAppScanMs' | 'allAtOnceMs' | 'eachWaveOneApp'>;
  try {
    const { telemetry, events } = recorder();
    fleetHost = await startFleetHost(sb, connectionString, { telemetry, settings: { ...timed, ROLLOUT_SOAK_SECONDS: String(soakSeconds) }, verifyEverySecond: true });
    const newThumbprint = (await control<{ thumbprint: string }>(sb, 'GET', `thumbprints/${VAULT}/client/latest`)).thumbprint;
    const since = await lastSeq(sb);
    const started = Date.now();
    await fleetHost.host.invokeTimer('nightlyScan');
    const scanMs = Date.now() - started;
    const rollout = await fleetHost.until((r) => r.status !== 'running', 240_000);
    const wallMs = Date.now() - started;
    const records = ((await fleetHost.api('/rotations?limit=500')).body as { rotations: RotationRecord[] }).rotations;
    const committed = (await outsideRemote(sb, names(count), since)).filter((a) => a.loaded.includes(newThumbprint) && a.restarts === 1).length;
    result = { committed, rollout, records, events, wallMs, scanMs };
  } finally {
    await stopFleetHost(fleetHost);
    await world.stop();
  }
  const baseline = async (apps: number): Promise<{ ms: number; scanMs: number }> => {
    const other = await startWorld(apps);
    let host: FleetHost | undefined;
    try {
      // The verify timer runs as in the rollout run: the same path, only without waves.
      host = await startFleetHost(other.ready, connectionString, { telemetry: recorder().telemetry, settings: { ...timed, ROLLOUT_WAVES: 'off' }, verifyEverySecond: true });
      const t0 = Date.now();
      await host.host.invokeTimer('nightlyScan');
      const scanMs = Date.now() - t0;
      await host.untilRecords(apps, (r) => r.outcome === 'committed');
      return { ms: Date.now() - t0, scanMs };
    } finally {
      await stopFleetHost(host);
      await other.stop();
    }
  };
  const one = baselines ? { ms: baselines.oneAppMs, scanMs: baselines.oneAppScanMs } : await baseline(1);
  const oneAppMs = one.ms;
  const oneAppScanMs = one.scanMs;
  const allAtOnceMs = baselines?.allAtOnceMs ?? (await baseline(count)).ms;
  const { rollout, wallMs, committed, scanMs } = result;
  const eachWaveOneApp = (scanMs + rollout.waves.length * (oneAppMs - oneAppScanMs)) / oneAppMs;
  const waves = rollout.waves.map((w) => `${w.apps.length} in ${((Date.parse(w.finishedAt ?? '') - Date.parse(w.queuedAt ?? '')) / 1000).toFixed(1)} s`).join(', ');
  const line =
    `canary rollout: ${committed} of ${count} committed in ${rollout.waves.length} waves, wall = ${(wallMs / oneAppMs).toFixed(2)} × one app ` +
    `(${(wallMs / 1000).toFixed(1)} s; one app ${(oneAppMs / 1000).toFixed(1)} s; all ${count} at once ${(allAtOnceMs / 1000).toFixed(1)} s = ${(allAtOnceMs / oneAppMs).toFixed(2)} × one app; ` +
    `waves ${waves}; nightly run ${(scanMs / 1000).toFixed(2)} s (one app's ${(oneAppScanMs / 1000).toFixed(2)} s); every wave as long as one app: ${eachWaveOneApp.toFixed(2)} × one app; ` +
    `restarts ${timing.restartMs / 1000} s, warm-up ${timing.warmupSeconds} s, soak scaled from 1800 s to ${soakSeconds} s)`;
  return { ...result, line, oneAppMs, oneAppScanMs, allAtOnceMs, eachWaveOneApp };
}

/**
 * `npm run bench -- --only=rollout`: both figures over one Azurite of their own; the good version with the soak
 * scaled to 1 s (the goal's line) and to 0 (what the waves cost without any soak), over the same baselines.
 */
export async function measureRolloutFigures(): Promise<{
  blastRadius: string;
  canary: string;
  canaryNoSoak: string;
  restarted: number;
  wallOverOne: number;
  wallOverOneNoSoak: number;
  eachWaveOneApp: number;
  detail: Record<string, unknown>;
}> {
  const azurite = await startAzurite();
  try {
    const blast = await measureBlastRadius(azurite.connectionString);
    const canary = await measureCanaryRollout(azurite.connectionString, 20, 1, ROLLOUT_BENCH_TIMING);
    const noSoak = await measureCanaryRollout(azurite.connectionString, 20, 0, ROLLOUT_BENCH_TIMING, canary);
    return {
      blastRadius: blast.line,
      canary: canary.line,
      canaryNoSoak: noSoak.line,
      restarted: blast.restarted.length,
      wallOverOne: canary.wallMs / canary.oneAppMs,
      wallOverOneNoSoak: noSoak.wallMs / noSoak.oneAppMs,
      eachWaveOneApp: noSoak.eachWaveOneApp,
      detail: {
        blastRadius: blast.line,
        canary: canary.line,
        canaryNoSoak: noSoak.line,
        wallMs: canary.wallMs,
        wallMsNoSoak: noSoak.wallMs,
        scanMs: canary.scanMs,
        oneAppMs: canary.oneAppMs,
        allAtOnceMs: canary.allAtOnceMs,
        waves: canary.rollout.waves.map((w) => ({ apps: w.apps.length, queuedAt: w.queuedAt, finishedAt: w.finishedAt })),
        wavesNoSoak: noSoak.rollout.waves.map((w) => ({ apps: w.apps.length, queuedAt: w.queuedAt, finishedAt: w.finishedAt })),
      },
    };
  } finally {
    await azurite.stop();
  }
}
