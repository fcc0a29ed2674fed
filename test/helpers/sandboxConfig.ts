// One sandbox per test file and the engine's config against it and Azurite (test/integration/world.ts's settings, in
// its subscription), for tests that drive the engine directly:
//   const world = useSandboxConfig(azurite, () => independentApps([...]), { LEASE_SECONDS: '60' });
// then `world.sb` and `world.config` inside tests and later hooks.
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import type { Config } from '../../src/core/index.js';
import { sandboxConfig, SUB } from '../integration/world.js';
import type { Azurite } from './azurite.js';

export interface SandboxConfig {
  readonly sb: Sandbox;
  readonly config: Config;
}

export function useSandboxConfig(azurite: () => Azurite, scenario: () => Scenario, extra: Record<string, string> = {}): SandboxConfig {
  let sb: Sandbox | undefined;
  let config: Config | undefined;
  beforeAll(async () => {
    sb = await startSandbox(scenario());
    config = sandboxConfig(sb, azurite().connectionString, SUB, extra);
  }, 60_000);
  afterAll(async () => {
    await sb?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the sandbox is not started yet: use it inside a test or a later hook');
    return value;
  };
  return {
    get sb() {
      return started(sb);
    },
    get config() {
      return started(config);
    },
  };
}
