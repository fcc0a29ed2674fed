// bench/rollout.ts's fleet under the real function app (a sandbox and a FleetHost on Azurite), stopped for the test:
//   const world = useFleetHost(azurite);  // per test: `await world.startSandbox(scenario)`, `await world.startHost(options)`
//   const world = useHaltedRollout(azurite, { apps: 4, telemetry });  // per file: `world.halted`, `world.fleetHost`
// The Event Grid stops first, so that no delivery reaches a host that is stopping; then the host, then the sandbox.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import type { Telemetry } from '../../src/core/events.js';
import type { Rollout } from '../../src/core/rollout/model.js';
import { fleet, startFleetHost, stopFleetHost, type FleetHost, type FleetHostOptions } from '../../bench/rollout.js';
import type { Azurite } from './azurite.js';

export interface FleetWorld {
  /** Starts the sandbox (one at a time). */
  startSandbox(scenario: Scenario): Promise<Sandbox>;
  /** Starts the function app on the sandbox; after stopHost(), another one (the function app restarted). */
  startHost(options: FleetHostOptions): Promise<FleetHost>;
  /** Stops the function app and keeps the sandbox (a deployment, an instance recycled). */
  stopHost(): Promise<void>;
  readonly sb: Sandbox;
  readonly fleetHost: FleetHost;
}

function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started yet`);
  return value;
}

/** Stops what a test (`'test'`, afterEach) or a test file (`'file'`, afterAll) started. */
export function useFleetHost(azurite: () => Azurite, scope: 'test' | 'file' = 'test'): FleetWorld {
  let sb: Sandbox | undefined;
  let fleetHost: FleetHost | undefined;
  const stop = async () => {
    sb?.eventGrid.stop();
    await stopFleetHost(fleetHost);
    fleetHost = undefined;
    await sb?.stop();
    sb = undefined;
  };
  if (scope === 'test') afterEach(stop, 60_000);
  else afterAll(stop, 60_000);
  return {
    async startSandbox(scenario) {
      if (sb !== undefined) throw new Error('a sandbox is running already');
      sb = await startSandbox(scenario);
      return sb;
    },
    async startHost(options) {
      if (fleetHost !== undefined) throw new Error('a function app is running already: stopHost() first');
      fleetHost = await startFleetHost(started(sb, 'the sandbox'), azurite().connectionString, options);
      return fleetHost;
    },
    async stopHost() {
      await stopFleetHost(fleetHost);
      fleetHost = undefined;
    },
    get sb() {
      return started(sb, 'the sandbox');
    },
    get fleetHost() {
      return started(fleetHost, 'the function app');
    },
  };
}

export interface HaltedRollout {
  readonly sb: Sandbox;
  readonly fleetHost: FleetHost;
  /** The rollout as it halted: its canary broke and was rolled back. */
  readonly halted: Rollout;
}

/**
 * One rollout halted at its canary, for a test file: a fleet of `apps` whose new certificate breaks them, a function app
 * with no soak, a nightly scan, and the wait until the canary's rollback halts the rollout.
 */
export function useHaltedRollout(azurite: () => Azurite, options: { apps: number; telemetry: Telemetry }): HaltedRollout {
  const world = useFleetHost(azurite, 'file');
  let halted: Rollout | undefined;
  beforeAll(async () => {
    await world.startSandbox(fleet(options.apps, 'breaks'));
    const fleetHost = await world.startHost({ telemetry: options.telemetry, settings: { ROLLOUT_SOAK_SECONDS: '0' } });
    await fleetHost.host.invokeTimer('nightlyScan');
    halted = await fleetHost.until((r) => r.status === 'halted');
  }, 180_000);
  return {
    get sb() {
      return world.sb;
    },
    get fleetHost() {
      return world.fleetHost;
    },
    get halted() {
      return started(halted, 'the halted rollout');
    },
  };
}
