// Metric 3b: the deployed fan-out. The path Azure runs: the nightly timer scans and queues one message per due app;
// instances of the function app take the messages off the queue (host.json batchSize + newBatchThreshold each) and
// rotate, all sharing one rotation table, one fleet bound (MAX_PARALLEL_ROTATIONS slots) and one subscription's ARM
// quota, throttled at ARM's real rates (writes 200 burst / 10 per s, reads 250 / 25 per s; timeScale 1).
//
// Processes: the sandbox (ARM, Key Vault, the simulated apps) in one, Azurite in one, and WORKERS instances of the
// function app, each the project's local host (bench/hostChild.ts) serving the deployed bundle (scripts/bundle.mjs)
// with its real queue polling. Restarts take 15 s and PROBE_WARMUP_SECONDS is 16, as in metric 3.
//
// Measured from the outside:
// - wall time: from the timer's invocation until the rotation table holds a finished record for every app;
// - peak in flight: the most per-app lease rows (partition `lease` of the rotation table) that existed at once,
//   polled every 100 ms: an app is leased from before its first write until its rotation ends;
// - 429s: the sandbox's own count of throttled requests; lost: apps without a committed rotation at the end;
// - quota floor: the least time ARM's buckets allow for the reads and writes the sandbox actually received.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TableClient } from '@azure/data-tables';
import { QueueServiceClient } from '@azure/storage-queue';
// @ts-expect-error -- plain ES module script without declarations
import { bundle } from '../scripts/bundle.mjs';
import { startAzurite, type Azurite } from '../sandbox/azurite.js';
import { quotaFloorSeconds, type Counters, type ThrottlingOptions } from '../sandbox/index.js';
import { buildBenchChild, cpuSecondsOf, startBenchChild, type RunningChild } from './child.js';
import { sandboxSettings } from './common.js';
import { control, FANOUT_TIMING, type FanoutTiming, type SandboxReady } from './fanout.js';
import { round } from './scan.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** ARM's documented rates, unscaled. */
export const ARM_REAL_RATES: ThrottlingOptions = { enabled: true, timeScale: 1 };

export interface DeployedOptions {
  apps: number;
  /** Function app instances (worker processes). */
  workers: number;
  /** MAX_PARALLEL_ROTATIONS: the fleet's bound on rotations in flight. */
  bound: number;
  timing: FanoutTiming;
}

export const DEPLOYED_DEFAULTS: DeployedOptions = { apps: 100, workers: 4, bound: 40, timing: FANOUT_TIMING };

/** Counts the rows of one partition as they come and go; keeps the peak. */
function watchPartition(table: TableClient, partition: string, everyMs: number) {
  let peak = 0;
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let rows = 0;
      for await (const _ of table.listEntities({ queryOptions: { filter: `PartitionKey eq '${partition}'`, select: ['RowKey'] } })) rows += 1;
      peak = Math.max(peak, rows);
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { peak, samples };
    },
  };
}

async function rotateDeployed(children: { sandbox: string; host: string }, functions: string, azurite: Azurite, apps: number, options: DeployedOptions) {
  const sandbox = await startBenchChild<SandboxReady>(children.sandbox, {
    BENCH_SANDBOX: JSON.stringify({ apps, restartMs: options.timing.restartMs, throttling: ARM_REAL_RATES }),
  });
  const sb = sandbox.ready;
  const caDir = mkdtempSync(join(tmpdir(), 'bench-deployed-'));
  const caFile = join(caDir, 'sandbox-ca.pem');
  writeFileSync(caFile, sb.caPem);
  const stamp = `${apps}x${Date.now().toString(36)}`;
  const tableName = `deployed${stamp}`.replace(/[^a-z0-9]/gi, '');
  const queueName = `deployed-${stamp}`.toLowerCase();
  const workers: Array<RunningChild<{ ready: boolean }>> = [];
  try {
    const settings = sandboxSettings(sb, sb.subscriptionIds, {
      AzureWebJobsStorage: azurite.connectionString,
      PROBE_WARMUP_SECONDS: String(options.timing.probeWarmupSeconds),
      PROBE_TIMEOUT_SECONDS: '30',
      ROTATION_TABLE: tableName,
      ROTATION_QUEUE: queueName,
      ROTATION_SCHEDULE: '0 0 2 * * *',
      VERIFY_SCHEDULE: '0 */5 * * * *',
      ROTATION_JITTER_SECONDS: '0',
      MAX_PARALLEL_ROTATIONS: String(options.bound),
      // The figure is the fan-out's throughput for one night's due apps, which share one certificate here: in waves
      // it would measure the soak. The waves have their own figures (bench/rollout.ts).
      ROLLOUT_WAVES: 'off',
      // ARM_PACING stays at its default (on): the instances pace against the shared quota.
    });
    const hostJson = join(root, 'host.json');
    for (let i = 0; i < options.workers; i += 1) {
      workers.push(
        await startBenchChild<{ ready: boolean }>(children.host, {
          NODE_EXTRA_CA_CERTS: caFile,
          BENCH_HOST: JSON.stringify({ settings, functions, hostJson }),
        }),
      );
    }
    const table = TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true });
    await table.createTable();
    await control(sb, 'POST', 'counters/reset');
    const cpuBefore = { sandbox: cpuSecondsOf(sandbox.process.pid), azurite: cpuSecondsOf(azurite.pid), workers: workers.map((w) => cpuSecondsOf(w.process.pid)) };
    const leases = watchPartition(table, 'lease', 100);
    const slots = watchPartition(table, 'slot', 100);

    const startedAt = Date.now();
    const started = performance.now();
    workers[0]!.send('scan');
    const scanned = await workers[0]!.next<{ scanned?: boolean; error?: string }>();
    if (!scanned.scanned) throw new Error(`the nightly scan failed: ${scanned.error}`);
    const scanSeconds = (performance.now() - started) / 1000;

    // Done when every app has a finished record (the rotation table is the audit log; the outcome is its last word).
    const deadline = Date.now() + 20 * 60_000;
    let finished: Array<{ outcome: string; reason?: string }> = [];
    for (;;) {
      finished = [];
      // The record rows (partitions r-<app>) carry the outcome in a readable column, empty while open.
      for await (const e of table.listEntities<{ Outcome?: string; Reason?: string }>({ queryOptions: { filter: `PartitionKey ge 'r-' and PartitionKey lt 'r.'` } })) {
        if (e.Outcome) finished.push({ outcome: e.Outcome, ...(e.Reason ? { reason: e.Reason } : {}) });
      }
      if (finished.length >= apps || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const seconds = (performance.now() - started) / 1000;
    const leasePeak = await leases.stop();
    const slotPeak = await slots.stop();
    const counters = await control<Counters>(sb, 'GET', 'counters');
    // How the write quota was used over the run, from the sandbox's request log: writes per 5 s from the timer's start.
    const log = await control<{ value: Array<{ at: string; class?: string; surface: string }> }>(sb, 'GET', 'requests?surface=arm');
    const writeTimes = log.value.filter((e) => e.class === 'write').map((e) => (Date.parse(e.at) - startedAt) / 1000);
    const writesPer5s: number[] = [];
    for (const t of writeTimes) {
      const bin = Math.max(0, Math.floor(t / 5));
      while (writesPer5s.length <= bin) writesPer5s.push(0);
      writesPer5s[bin]! += 1;
    }
    const queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    const left = (await queues.getQueueClient(queueName).getProperties()).approximateMessagesCount ?? 0;
    const poison = await queues
      .getQueueClient(`${queueName}-poison`)
      .getProperties()
      .then((p) => p.approximateMessagesCount ?? 0)
      .catch(() => 0);
    const outcomes: Record<string, number> = {};
    for (const f of finished) outcomes[f.outcome] = (outcomes[f.outcome] ?? 0) + 1;
    const committed = outcomes.committed ?? 0;
    return {
      seconds,
      scanSeconds: round(scanSeconds),
      committed,
      lost: apps - committed,
      outcomes,
      peakInFlight: leasePeak.peak,
      peakSlotsHeld: slotPeak.peak,
      leaseSamples: leasePeak.samples,
      throttled: counters.arm.throttled,
      armReads: counters.arm.reads,
      armWrites: counters.arm.writes,
      armByOperation: counters.arm.byOperation,
      restarts: counters.restarts,
      quotaFloorSeconds: round(quotaFloorSeconds(counters.arm.reads, counters.arm.writes, ARM_REAL_RATES)),
      lastWriteSeconds: round(Math.max(0, ...writeTimes)),
      writesPer5s,
      messagesLeft: left,
      poisoned: poison,
      cpuSeconds: {
        workers: round(workers.reduce((n, w, i) => n + ((cpuSecondsOf(w.process.pid) ?? 0) - (cpuBefore.workers[i] ?? 0)), 0)),
        sandbox: round((cpuSecondsOf(sandbox.process.pid) ?? 0) - (cpuBefore.sandbox ?? 0)),
        azurite: round((cpuSecondsOf(azurite.pid) ?? 0) - (cpuBefore.azurite ?? 0)),
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await sandbox.stop();
    rmSync(caDir, { recursive: true, force: true });
  }
}

export interface DeployedFigures {
  allOverOne: number;
  /** max(1.5, quota floor of the 100 / one app's wall time). */
  target: number;
  peakInFlight: number;
  bound: number;
  throttled: number;
  lost: number;
  detail: Record<string, unknown>;
}

export async function measureDeployedFanout(options: DeployedOptions = DEPLOYED_DEFAULTS): Promise<DeployedFigures> {
  const children = { sandbox: await buildBenchChild('sandboxChild'), host: await buildBenchChild('hostChild') };
  // The artifact that deploys: the bundle, in a directory of its own so the cold-start figure's is left alone.
  const { outfile } = (await bundle({ quiet: true, outdir: join(root, 'dist', 'bench', 'deployed-bundle') })) as { outfile: string };
  const azurite = await startAzurite();
  try {
    const one = await rotateDeployed(children, outfile, azurite, 1, options);
    if (one.committed !== 1) throw new Error(`the single deployed rotation did not commit: ${JSON.stringify(one.outcomes)}`);
    const all = await rotateDeployed(children, outfile, azurite, options.apps, options);
    return {
      allOverOne: all.seconds / one.seconds,
      target: Math.max(1.5, all.quotaFloorSeconds / one.seconds),
      peakInFlight: all.peakInFlight,
      bound: options.bound,
      throttled: all.throttled + one.throttled,
      lost: all.lost,
      detail: {
        apps: options.apps,
        workers: options.workers,
        bound: options.bound,
        hostJson: 'batchSize 8 + newBatchThreshold 4 per instance',
        ...options.timing,
        throttling: 'ARM real rates: writes 200 burst / 10 per s, reads 250 / 25 per s (timeScale 1)',
        processes: 'sandbox, Azurite and each instance in its own',
        one: { ...one, seconds: round(one.seconds) },
        all: { ...all, seconds: round(all.seconds) },
      },
    };
  } finally {
    await azurite.stop();
  }
}
