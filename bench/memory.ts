// Metric 5: peak memory of a scan of 10,000 opted-in apps, measured in a child process (the sandbox stays here).
import { spawn } from 'node:child_process';
import { startSandbox } from '../sandbox/index.js';
import { buildBenchChild } from './child.js';
import { sandboxSettings, scaleScenario } from './common.js';
import { round } from './scan.js';

export interface MemoryFigures {
  peakRssMb: number;
  detail: Record<string, unknown>;
}

export async function measureScanMemory(apps = 10_000): Promise<MemoryFigures> {
  const child = await buildBenchChild('scanChild');
  const scenario = scaleScenario({ subscriptions: 4, appsPerSubscription: apps / 4, due: 100 });
  const facts = scenario.meta?.facts as { subscriptionIds: string[]; optedIn: number };
  const sb = await startSandbox(scenario, { simulateApps: false });
  try {
    // The quota is metric 2's subject; unpaced, the scan runs as fast as the sandbox answers.
    const env = sandboxSettings(sb, facts.subscriptionIds, { ARM_PACING: 'false' });
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--expose-gc', child], {
        env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: sb.caFile, BENCH_SCAN_ENV: JSON.stringify(env) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`scan child exited ${code}: ${stderr.slice(0, 800)}`))));
    });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { apps: number; due: number; maxRssMb: number; rssAfterImportsMb: number; heapUsedMb: number; seconds: number; problems: number };
    if (r.apps !== facts.optedIn) throw new Error(`the scan child saw ${r.apps} apps, expected ${facts.optedIn}`);
    return {
      peakRssMb: r.maxRssMb,
      detail: {
        apps: r.apps,
        due: r.due,
        problems: r.problems,
        seconds: round(r.seconds),
        rssAfterImportsMb: round(r.rssAfterImportsMb, 1),
        heapRetainedAfterGcMb: round(r.heapUsedMb, 1),
      },
    };
  } finally {
    await sb.stop();
  }
}
