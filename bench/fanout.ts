// Metric 3: fan-out. 100 due apps, each restarting in a fixed time, rotated by one rotateDue, against one app alone.
// The sandbox runs in a child process (bench/sandboxChild.ts): in Azure, App Service and Key Vault do their work on
// other machines, and the figure is about the engine's fan-out. Both share this machine's cores all the same.
//
// The restart time is the figure's lever: what the fan-out overlaps is the apps' restarts. The target is measured
// with restarts of 15 s (App Service restarts take tens of seconds; PROBE_WARMUP_SECONDS defaults to 30) and the
// warm-up just past the restart, as an operator sets it so the first probe finds the app back. The same run with 2 s
// restarts is printed beside it: there the CPU of 100 rotations (engine, simulated platform and Azurite on two
// shared cores) outlasts the restart itself.
import { request } from 'node:https';
import { startAzurite } from '../sandbox/azurite.js';
import type { Counters } from '../sandbox/index.js';
import { createDependencies } from '../src/composition.js';
import { createRotator, loadConfig } from '../src/core/index.js';
import { buildBenchChild, cpuSecondsOf, startBenchChild } from './child.js';
import { DEV_STORAGE } from './common.js';
import { round } from './scan.js';

export interface FanoutTiming {
  /** Every simulated app's restart. */
  restartMs: number;
  /** PROBE_WARMUP_SECONDS. */
  probeWarmupSeconds: number;
}

/** The target's timing, and the short one printed beside it. */
export const FANOUT_TIMING: FanoutTiming = { restartMs: 15_000, probeWarmupSeconds: 16 };
export const SHORT_RESTART_TIMING: FanoutTiming = { restartMs: 2_000, probeWarmupSeconds: 3 };

interface SandboxReady {
  armEndpoint: string;
  caPem: string;
  token: string;
  subscriptionIds: string[];
}

/** The sandbox's control API over HTTPS (sandbox/README.md, "/_sandbox"). */
function control<T>(sb: SandboxReady, method: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(`${sb.armEndpoint}/_sandbox/${path}`, { method, ca: sb.caPem, headers: { authorization: `Bearer ${sb.token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) return reject(new Error(`sandbox ${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
        resolve((text ? JSON.parse(text) : undefined) as T);
      });
    });
    req.once('error', reject);
    req.end();
  });
}

async function rotateWorld(child: string, apps: number, timing: FanoutTiming, azurite: { connectionString: string; pid: number | undefined }) {
  const sandbox = await startBenchChild<SandboxReady>(child, { BENCH_SANDBOX: JSON.stringify({ apps, restartMs: timing.restartMs }) });
  const sb = sandbox.ready;
  try {
    const base = loadConfig({
      AZURE_SUBSCRIPTION_IDS: sb.subscriptionIds.join(','),
      ARM_ENDPOINT: sb.armEndpoint,
      AZURE_CREDENTIAL: 'static',
      AZURE_STATIC_TOKEN: sb.token,
      KEYVAULT_CHALLENGE_VERIFICATION: 'false',
      AzureWebJobsStorage: azurite.connectionString || DEV_STORAGE,
      PROBE_WARMUP_SECONDS: String(timing.probeWarmupSeconds),
      PROBE_BACKOFF_SECONDS: '1',
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
    await control(sb, 'POST', 'counters/reset');
    // Where the CPU went: this process (the engine), the sandbox child (the simulated platform), Azurite.
    const cpuBefore = { engine: process.cpuUsage(), sandbox: cpuSecondsOf(sandbox.process.pid), azurite: cpuSecondsOf(azurite.pid) };
    const started = performance.now();
    const report = await rotator.rotateDue({ trigger: 'cli' });
    const seconds = (performance.now() - started) / 1000;
    const engineCpu = process.cpuUsage(cpuBefore.engine);
    const cpuSeconds = {
      engine: round((engineCpu.user + engineCpu.system) / 1e6),
      sandbox: minus(cpuSecondsOf(sandbox.process.pid), cpuBefore.sandbox),
      azurite: minus(cpuSecondsOf(azurite.pid), cpuBefore.azurite),
    };
    const outcomes: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    // Probes per rotation after the restart, and why the failed ones failed (a warming app, a slow one...).
    const verifyProbes: Record<string, number> = {};
    const probeFailures: Record<string, number> = {};
    for (const r of report.results) {
      const after = (r.record?.probes ?? []).filter((p) => p.kind === 'via-app');
      verifyProbes[after.length] = (verifyProbes[after.length] ?? 0) + 1;
      for (const p of after.filter((p) => !p.ok)) {
        const why = `${p.status ?? ''} ${p.detail}`.trim().replace(/127\.0\.0\.1:\d+/g, '<app>').slice(0, 120);
        probeFailures[why] = (probeFailures[why] ?? 0) + 1;
      }
    }
    for (const r of report.results) {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (r.outcome !== 'committed') reasons[String(r.reason).slice(0, 160)] = (reasons[String(r.reason).slice(0, 160)] ?? 0) + 1;
    }
    const c = await control<Counters>(sb, 'GET', 'counters');
    return { seconds, cpuSeconds, outcomes, reasons, viaAppProbesPerRotation: verifyProbes, viaAppProbeFailures: probeFailures, restarts: c.restarts, armWrites: c.arm.writes, armReads: c.arm.reads, keyVault: c.keyVault.requests };
  } finally {
    await sandbox.stop();
  }
}

function minus(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined || before === undefined ? undefined : round(after - before);
}

export interface FanoutFigures {
  allOverOne: number;
  /** Of the 100: a ratio over rotations that failed would flatter the fan-out. */
  committed: number;
  detail: Record<string, unknown>;
}

export async function measureFanout(apps = 100, timing: FanoutTiming = FANOUT_TIMING): Promise<FanoutFigures> {
  const child = await buildBenchChild('sandboxChild');
  const azurite = await startAzurite();
  try {
    const one = await rotateWorld(child, 1, timing, azurite);
    const all = await rotateWorld(child, apps, timing, azurite);
    if ((one.outcomes.committed ?? 0) !== 1) throw new Error(`the single rotation did not commit: ${JSON.stringify(one.reasons)}`);
    return {
      allOverOne: all.seconds / one.seconds,
      committed: all.outcomes.committed ?? 0,
      detail: {
        apps,
        ...timing,
        sandbox: 'child process',
        one: { ...one, seconds: round(one.seconds) },
        all: { ...all, seconds: round(all.seconds) },
      },
    };
  } finally {
    await azurite.stop();
  }
}
