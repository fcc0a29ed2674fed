// The real function app under the local host, against a sandbox and Azurite, one per test file:
//   const functionApp = useFunctionApp(azurite, () => ({ scenario: demoScenario(), telemetry, subscriptionId, ... }));
// then `functionApp.sb`, `.host` and `.lines` inside tests and later hooks. Timers run only through invokeTimer(). After
// the file's tests the Event Grid stops first (no delivery reaches a host that is stopping), then the host, the
// services it built and the sandbox.
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { sandboxAppSettings } from '../../local/sandboxSettings.js';
import type { Telemetry } from '../../src/core/events.js';
import { configureServices, resetServices } from '../../src/functions/app/services.js';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../src/host/index.js';
import type { Azurite } from './azurite.js';

export interface FunctionAppOptions {
  scenario: Scenario;
  telemetry: Telemetry;
  /** One id, or several separated by commas. */
  subscriptionId: string;
  functionsKey: string;
  rotationQueue: string;
  rotationTable: string;
  /** Settings over the sandbox's (local/sandboxSettings.ts), given the sandbox. */
  settings?: (sb: Sandbox) => Record<string, string>;
  queues: NonNullable<LocalHostOptions['queues']>;
}

export interface FunctionApp {
  readonly sb: Sandbox;
  readonly host: LocalHost;
  /** The host's log, in order. */
  readonly lines: string[];
  /** Polls `probe` every 200 ms until it answers; on timeout, fails with the host's last log lines. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
}

export function useFunctionApp(azurite: () => Azurite, options: () => FunctionAppOptions): FunctionApp {
  let sb: Sandbox | undefined;
  let host: LocalHost | undefined;
  const lines: string[] = [];
  beforeAll(async () => {
    const o = options();
    sb = await startSandbox(o.scenario);
    configureServices({ tlsCa: sb.caPem, telemetry: o.telemetry });
    host = await startLocalHost({
      register: () => import('../../src/functions/index.js'),
      settings: {
        ...sandboxAppSettings({
          armEndpoint: sb.armEndpoint,
          token: sb.token,
          subscriptionId: o.subscriptionId,
          storageConnectionString: azurite().connectionString,
          functionsKey: o.functionsKey,
          rotationQueue: o.rotationQueue,
          rotationTable: o.rotationTable,
        }),
        ...o.settings?.(sb),
      },
      localSettings: false,
      port: 0,
      log: (line) => lines.push(line),
      timers: { scheduled: false },
      queues: o.queues,
    });
  }, 120_000);
  afterAll(async () => {
    sb?.eventGrid.stop();
    await host?.stop();
    resetServices();
    await sb?.stop();
  }, 60_000);
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started yet: use it inside a test or a later hook`);
    return value;
  };
  return {
    get sb() {
      return started(sb, 'the sandbox');
    },
    get host() {
      return started(host, 'the function app');
    },
    lines,
    async until(what, probe, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${lines.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}
