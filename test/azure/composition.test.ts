// The composition root (src/composition.ts) wires real adapters that the engine drives end to end: a rotation of
// an app whose certificate is near expiry, against the sandbox (ARM, Key Vault, app, partner API) and Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createDependencies, type Dependencies } from '../../src/composition.js';
import { createRotator, type Config, type RotatorDeps } from '../../src/core/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { sandboxConfig } from '../integration/world.js';
import { adapterScenario, APP0, SUB, VAULT } from './scenario.js';

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;
let deps: Dependencies;

beforeAll(async () => {
  sb = await startSandbox(adapterScenario());
  config = sandboxConfig(sb, azurite().connectionString, SUB);
  deps = createDependencies(config, { tlsCa: sb.caPem });
});

afterAll(async () => {
  await sb?.stop();
});

describe('createDependencies', () => {
  it('builds what the engine needs, once', () => {
    const forEngine: RotatorDeps = deps;
    expect(forEngine.gateway).toBe(deps.gateway);
    expect(deps.gateway.client(SUB)).toBe(deps.gateway.client(SUB.toUpperCase()));
    expect(deps.pacingStats).toBe(deps.pacer.stats);
  });

  it('gives the ARM pipeline the pacer and no tracing policy (no tracer is registered: its spans were no-ops)', () => {
    const names = deps.gateway.client(SUB).pipeline.getOrderedPolicies().map((p) => p.name);
    expect(names).toContain('mtlsRotatorArmPacing');
    expect(names).not.toContain('tracingPolicy');
  });

  it('lets the engine rotate a near-expiry app onto the renewed Key Vault version, with every call paced', async () => {
    const oldThumbprint = sb.control.thumbprint(`${VAULT}/client-pfx/0`);
    const newThumbprint = sb.control.thumbprint(`${VAULT}/client-pfx/latest`);
    expect(sb.control.loadedThumbprints(APP0)).toEqual([oldThumbprint]);

    const rotator = createRotator(deps, config);
    const result = await rotator.rotateApp('app-0', { trigger: 'cli' });

    expect(result.outcome, `${result.reason} ${JSON.stringify(result.record?.steps)}`).toBe('committed');
    // The record the engine wrote is in Azurite's table, where the next run will find it.
    const [record] = await deps.store.listForApp(result.appId, 1);
    expect(record).toMatchObject({ id: result.rotationId, outcome: 'committed' });
    expect(record.bindings[0]).toMatchObject({ oldThumbprint, newThumbprint });
    expect(sb.control.loadedThumbprints(APP0)).toContain(newThumbprint);
    expect(sb.control.appSettings(APP0).CLIENT_CERT_THUMBPRINT).toBe(newThumbprint);
    expect(sb.control.downstreamSeen('partner').at(-1)).toMatchObject({ thumbprint: newThumbprint, authorized: true });
    expect(deps.pacingStats.requests).toBeGreaterThan(0);
    expect(deps.pacingStats.requests).toBe(sb.control.counters().arm.reads + sb.control.counters().arm.writes);
  });
});
