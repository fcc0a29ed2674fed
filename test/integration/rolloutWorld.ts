// The canary-rollout tests' world: a fleet of apps that load one Key Vault certificate (one partner, one client
// identity), the real function app under the local host (nightly timer → queue → rotateApp → verify timer) over the
// sandbox and Azurite, and the measures taken from the outside: the sandbox's restart counts and request log.
import type { Sandbox } from '../../sandbox/index.js';
import type { Dimensions, Telemetry, TelemetryEventName } from '../../src/core/events.js';
import type { RotationRecord } from '../../src/core/records.js';
import type { Rollout } from '../../src/core/rollout/model.js';
import { sandboxAppSettings } from '../../src/functions/app/localSettings.js';
import { configureServices, resetServices } from '../../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../../src/host/index.js';
import { uniqueName } from '../helpers/azurite.js';
import { refOf, reliabilityScenario, SUB, type AppKind } from '../reliability/world.js';

export { refOf, SUB };

export const fleet = (count: number, kind: AppKind) =>
  reliabilityScenario(Array.from({ length: count }, (_, i) => ({ name: `app${String(i + 1).padStart(2, '0')}`, kind })));

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

export async function startFleetHost(
  sb: Sandbox,
  connectionString: string,
  options: { telemetry: Telemetry; settings?: Record<string, string>; table?: string; queue?: string; verifyEverySecond?: boolean },
): Promise<FleetHost> {
  configureServices({ tlsCa: sb.caPem, telemetry: options.telemetry });
  const lines: string[] = [];
  const host = await startLocalHost({
    register: () => import('../../src/functions/index.js'),
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
    queues: { batchSize: 16, newBatchThreshold: 8, minPollingIntervalMs: 20, maxPollingIntervalMs: 200 },
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
    settingsWrites: writes.filter((r) => r.path.toLowerCase().includes(`/sites/${name}/`)).length,
    loaded: sb.control.loadedThumbprints(refOf(name)),
  }));
}
