// Metric 3: fan-out. 100 due apps, each restarting in a fixed time, rotated by one rotateDue, against one app alone.
// The engine (bench/engineChild.ts), the sandbox (bench/sandboxChild.ts) and Azurite each run in a process of their
// own: in Azure, App Service, Key Vault and Table storage work on other machines, and the figure is about the
// engine's fan-out. All share this machine's cores all the same.
//
// The restart time is the figure's lever: what the fan-out overlaps is the apps' restarts. The target is measured
// with restarts of 15 s (App Service restarts take tens of seconds; PROBE_WARMUP_SECONDS defaults to 30) and the
// warm-up just past the restart, as an operator sets it so the first probe finds the app back. The same run with 2 s
// restarts is printed beside it: there the CPU of 100 rotations (engine, simulated platform and Azurite on two
// shared cores) outlasts the restart itself.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite } from '../sandbox/azurite.js';
import type { Counters } from '../sandbox/index.js';
import { buildBenchChild, cpuSecondsOf, startBenchChild, type RunningChild } from './child.js';
import { sandboxSettings } from './common.js';
import type { DueWorldOptions } from './world.js';
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

export interface SandboxReady {
  armEndpoint: string;
  caPem: string;
  token: string;
  subscriptionIds: string[];
}

/** The sandbox's control API over HTTPS (sandbox/README.md, "/_sandbox"). */
export function control<T>(sb: SandboxReady, method: string, path: string): Promise<T> {
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

interface EngineReport {
  seconds: number;
  cpuSeconds: number;
  results: Array<{ outcome: string; reason?: string; viaApp: Array<{ ok: boolean; status?: number; detail: string }> }>;
}

async function rotateWorld(
  children: { sandbox: string; engine: string },
  apps: number,
  timing: FanoutTiming,
  azurite: { connectionString: string; pid: number | undefined },
  world: DueWorldOptions = {},
) {
  const sandbox = await startBenchChild<SandboxReady>(children.sandbox, { BENCH_SANDBOX: JSON.stringify({ apps, restartMs: timing.restartMs, ...world }) });
  const sb = sandbox.ready;
  const caDir = mkdtempSync(join(tmpdir(), 'bench-fanout-'));
  const caFile = join(caDir, 'sandbox-ca.pem');
  writeFileSync(caFile, sb.caPem);
  let engine: RunningChild<{ ready: boolean }> | undefined;
  try {
    const settings = sandboxSettings(sb, sb.subscriptionIds, {
      AzureWebJobsStorage: azurite.connectionString,
      PROBE_WARMUP_SECONDS: String(timing.probeWarmupSeconds),
      // 100 TLS handshakes at once on a 2-core machine: a probe may wait its turn for the CPU.
      PROBE_TIMEOUT_SECONDS: '30',
      ROTATION_TABLE: `bench${apps}x${Date.now().toString(36)}`.replace(/[^a-z0-9]/gi, ''),
      // The write quota is metric 2's subject; here pacing would only add the 10 writes/s refill to the fan-out.
      ARM_PACING: 'false',
    });
    // The sandbox CA joins Node's default store of the engine, as a private CA does on a deployed instance.
    engine = await startBenchChild<{ ready: boolean }>(children.engine, {
      NODE_EXTRA_CA_CERTS: caFile,
      BENCH_ENGINE: JSON.stringify({ settings, maxParallelRotations: apps, owner: `bench-${apps}` }),
    });
    await control(sb, 'POST', 'counters/reset');
    // Where the CPU went: the engine (reported by its process), the sandbox child (the simulated platform), Azurite.
    const cpuBefore = { sandbox: cpuSecondsOf(sandbox.process.pid), azurite: cpuSecondsOf(azurite.pid) };
    engine.send('go');
    const report = await engine.next<EngineReport>();
    const cpuSeconds = {
      engine: round(report.cpuSeconds),
      sandbox: minus(cpuSecondsOf(sandbox.process.pid), cpuBefore.sandbox),
      azurite: minus(cpuSecondsOf(azurite.pid), cpuBefore.azurite),
    };
    const outcomes: Record<string, number> = {};
    const reasons: Record<string, number> = {};
    // Probes per rotation after the restart, and why the failed ones failed (a warming app, a slow one...).
    const verifyProbes: Record<string, number> = {};
    const probeFailures: Record<string, number> = {};
    for (const r of report.results) {
      verifyProbes[r.viaApp.length] = (verifyProbes[r.viaApp.length] ?? 0) + 1;
      for (const p of r.viaApp.filter((p) => !p.ok)) {
        const why = `${p.status ?? ''} ${p.detail}`.trim().replace(/127\.0\.0\.1:\d+/g, '<app>').slice(0, 120);
        probeFailures[why] = (probeFailures[why] ?? 0) + 1;
      }
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (r.outcome !== 'committed') reasons[String(r.reason).slice(0, 160)] = (reasons[String(r.reason).slice(0, 160)] ?? 0) + 1;
    }
    const c = await control<Counters>(sb, 'GET', 'counters');
    return {
      seconds: report.seconds,
      cpuSeconds,
      outcomes,
      reasons,
      viaAppProbesPerRotation: verifyProbes,
      viaAppProbeFailures: probeFailures,
      restarts: c.restarts,
      armWrites: c.arm.writes,
      armReads: c.arm.reads,
      keyVault: c.keyVault.requests,
    };
  } finally {
    await engine?.stop();
    await sandbox.stop();
    rmSync(caDir, { recursive: true, force: true });
  }
}

function minus(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined || before === undefined ? undefined : round(after - before);
}

export interface FanoutFigures {
  allOverOne: number;
  /** The same 100 apps, each with a certificate of its own (when asked for). */
  distinctOverOne?: number;
  distinctCommitted?: number;
  /** Of the 100: a ratio over rotations that failed would flatter the fan-out. */
  committed: number;
  detail: Record<string, unknown>;
}

export async function measureFanout(
  apps = 100,
  timing: FanoutTiming = FANOUT_TIMING,
  options: { alsoDistinctCertificates?: boolean } = {},
): Promise<FanoutFigures> {
  const children = { sandbox: await buildBenchChild('sandboxChild'), engine: await buildBenchChild('engineChild') };
  const azurite = await startAzurite();
  try {
    const one = await rotateWorld(children, 1, timing, azurite);
    const all = await rotateWorld(children, apps, timing, azurite);
    if ((one.outcomes.committed ?? 0) !== 1) throw new Error(`the single rotation did not commit: ${JSON.stringify(one.reasons)}`);
    // Apps that share a certificate share its Key Vault read and PKCS#12 work within a batch; a fleet where every
    // app has its own pays them per app. One app is the same world either way.
    const distinct = options.alsoDistinctCertificates ? await rotateWorld(children, apps, timing, azurite, { distinctCertificates: true }) : undefined;
    return {
      allOverOne: all.seconds / one.seconds,
      committed: all.outcomes.committed ?? 0,
      ...(distinct ? { distinctOverOne: distinct.seconds / one.seconds, distinctCommitted: distinct.outcomes.committed ?? 0 } : {}),
      detail: {
        apps,
        ...timing,
        processes: 'engine, sandbox and Azurite each in its own',
        one: { ...one, seconds: round(one.seconds) },
        all: { ...all, seconds: round(all.seconds) },
        ...(distinct ? { allDistinctCertificates: { ...distinct, seconds: round(distinct.seconds) } } : {}),
      },
    };
  } finally {
    await azurite.stop();
  }
}
