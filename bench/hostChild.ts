// Child process of the deployed fan-out figure: one instance of the function app, as Azure runs one. The project's
// local host (src/host) serves the deployed bundle (scripts/bundle.mjs) with its real queue listener polling Azurite
// the way host.json says (batchSize, newBatchThreshold), its timers and HTTP routes; several of these share one queue,
// one rotation table and one ARM quota, as scaled-out instances do. It trusts the sandbox through NODE_EXTRA_CA_CERTS,
// as an instance trusts a private CA. Bundled and run with plain node by bench/deployed.ts.
// Input (env): BENCH_HOST = JSON { settings (the app settings), functions (path of the bundle's entry), hostJson }.
// Protocol: prints {"ready":true} once listening; on a line "scan" runs the nightly timer (nightlyScan) and prints
// {"scanned":true} (or {"error":…}); stops when stdin closes.
import { createInterface } from 'node:readline';
import { startLocalHost } from '../src/host/index.js';

const input = JSON.parse(process.env.BENCH_HOST ?? '{}') as { settings: Record<string, string>; functions: string; hostJson: string };
const host = await startLocalHost({
  functionsModules: [input.functions],
  settings: input.settings,
  localSettings: false,
  hostJson: input.hostJson,
  port: 0,
  // The schedules are the platform's business; the figure runs the nightly scan when told to, and no verify sweep
  // runs in the middle of it.
  timers: { scheduled: false, runOnStartup: false },
  // Only what goes wrong: 100 rotations log a dozen lines each.
  log: (line) => {
    if (/fail|error|poison|could not/i.test(line)) process.stderr.write(`${line}\n`);
  },
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await host.stop();
  process.exit(0);
};
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'scan') return;
  host.invokeTimer('nightlyScan').then(
    () => process.stdout.write(JSON.stringify({ scanned: true }) + '\n'),
    (error: unknown) => process.stdout.write(JSON.stringify({ error: String(error) }) + '\n'),
  );
});
lines.on('close', () => void stop());
process.on('SIGTERM', () => void stop());
