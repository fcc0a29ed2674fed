// Metric 3: fan-out. 100 due apps, each restarting in a fixed time, rotated by one rotateDue, against one app alone.
import { startSandbox, type Scenario } from '../sandbox/index.js';
import { startAzurite } from '../sandbox/azurite.js';
import { createDependencies } from '../src/composition.js';
import { createRotator } from '../src/core/index.js';
import { sandboxConfig, scaleScenario } from './common.js';
import { round } from './scan.js';

export const RESTART_MS = 2000;
export const PROBE_WARMUP_SECONDS = 1;

function dueWorld(apps: number): Scenario {
  // One app per resource group: each app its own webspace, so the uploads of the renewed certificate do not contend
  // for one webspace's thumbprint (a shared webspace is reused, which is another path than the one measured).
  const scenario = scaleScenario({ subscriptions: 1, appsPerSubscription: apps, due: apps, appsPerResourceGroup: 1, withDownstream: true });
  for (const rg of scenario.subscriptions[0]!.resourceGroups) for (const site of rg.sites ?? []) site.restartMs = RESTART_MS;
  return scenario;
}

async function rotateWorld(apps: number, connectionString: string) {
  const scenario = dueWorld(apps);
  const facts = scenario.meta?.facts as { subscriptionIds: string[] };
  // 100 apps calling their partner at once on 2 cores: the simulated apps' outbound bound is lifted likewise.
  const sb = await startSandbox(scenario, { simulateApps: true, appOutboundTimeoutMs: 30_000 });
  try {
    const base = sandboxConfig(sb, facts.subscriptionIds, {
      AzureWebJobsStorage: connectionString,
      PROBE_WARMUP_SECONDS: String(PROBE_WARMUP_SECONDS),
      // 100 TLS handshakes at once on a 2-core machine: a probe may wait its turn for the CPU.
      PROBE_TIMEOUT_SECONDS: '30',
      ROTATION_TABLE: `bench${apps}x${Date.now().toString(36)}`.replace(/[^a-z0-9]/gi, ''),
      // The write quota is metric 2's subject; here pacing would only add the 10 writes/s refill to the fan-out.
      ARM_PACING: 'false',
    });
    // MAX_PARALLEL_ROTATIONS allows at most 32 (the write quota of one subscription); the benchmark lifts it to
    // measure the fan-out itself, not that bound.
    const config = { ...base, maxParallelRotations: apps };
    const deps = createDependencies(config, { tlsCa: sb.caPem, owner: `bench-${apps}` });
    const rotator = createRotator(deps, config);
    sb.control.resetCounters();
    const started = performance.now();
    const report = await rotator.rotateDue({ trigger: 'cli' });
    const seconds = (performance.now() - started) / 1000;
    const outcomes: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    for (const r of report.results) {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (r.outcome !== 'committed') reasons[String(r.reason).slice(0, 160)] = (reasons[String(r.reason).slice(0, 160)] ?? 0) + 1;
    }

    const c = sb.control.counters();
    return { seconds, outcomes, reasons, restarts: c.restarts, armWrites: c.arm.writes, armReads: c.arm.reads, keyVault: c.keyVault.requests };
  } finally {
    await sb.stop();
  }
}

export interface FanoutFigures {
  allOverOne: number;
  /** Of the 100: a ratio over rotations that failed would flatter the fan-out. */
  committed: number;
  detail: Record<string, unknown>;
}

export async function measureFanout(apps = 100): Promise<FanoutFigures> {
  const azurite = await startAzurite();
  try {
    const one = await rotateWorld(1, azurite.connectionString);
    const all = await rotateWorld(apps, azurite.connectionString);
    if ((one.outcomes.committed ?? 0) !== 1) throw new Error(`the single rotation did not commit: ${JSON.stringify(one.reasons)}`);
    return {
      allOverOne: all.seconds / one.seconds,
      committed: all.outcomes.committed ?? 0,
      detail: {
        apps,
        restartMs: RESTART_MS,
        probeWarmupSeconds: PROBE_WARMUP_SECONDS,
        one: { ...one, seconds: round(one.seconds) },
        all: { ...all, seconds: round(all.seconds) },
      },
    };
  } finally {
    await azurite.stop();
  }
}
