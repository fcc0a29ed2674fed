// Child process of metric 3: the sandbox (ARM, Key Vault, the simulated apps and their partner API) in a process of
// its own, so the fan-out figure is the engine's and not the engine's plus the simulated platform's, as it is in
// Azure where App Service and Key Vault do their work on other machines. Bundled and run with plain node by
// bench/fanout.ts.
// Input (env): BENCH_SANDBOX = JSON { apps, restartMs, distinctCertificates?, throttling? (ARM's token buckets) }, or
// { fleet: { count, kind, restartMs } } for the canary rollout's world (bench/fleet.ts). Output: one JSON line
// { armEndpoint, caPem, token, subscriptionIds } once listening; stops when stdin closes (the parent exits or ends it).
import { startSandbox, type ThrottlingOptions } from '../sandbox/index.js';
import { fleet } from './fleet.js';
import { dueWorld } from './world.js';

const { apps, restartMs, distinctCertificates, throttling, fleet: fleetWorld } = JSON.parse(process.env.BENCH_SANDBOX ?? '{}') as {
  apps: number;
  restartMs: number;
  distinctCertificates?: boolean;
  throttling?: ThrottlingOptions;
  fleet?: { count: number; kind: 'ok' | 'breaks'; restartMs: number };
};
const scenario = fleetWorld ? fleet(fleetWorld.count, fleetWorld.kind, fleetWorld.restartMs) : dueWorld(apps, restartMs, { distinctCertificates });
const subscriptionIds = (scenario.meta?.facts as { subscriptionIds: string[] }).subscriptionIds;
// 100 apps calling their partner at once: the simulated apps' outbound bound is lifted likewise.
const sb = await startSandbox(scenario, fleetWorld ? {} : { simulateApps: true, appOutboundTimeoutMs: 30_000, ...(throttling ? { throttling } : {}) });
process.stdout.write(JSON.stringify({ armEndpoint: sb.armEndpoint, caPem: sb.caPem, token: sb.token, subscriptionIds }) + '\n');

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await sb.stop();
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
process.on('SIGTERM', () => void stop());
