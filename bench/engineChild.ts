// Child process of metric 3: the engine, as a deployed instance runs it. It trusts the sandbox the way an operator
// trusts a private CA, through NODE_EXTRA_CA_CERTS (Node's default store), not through an extra CA handed to every
// client: no client of the engine then re-reads a CA list per connection. Bundled and run with plain node.
// Input (env): BENCH_ENGINE = JSON { settings (the configuration environment), maxParallelRotations, owner }.
// Protocol: prints {"ready":true} once the dependencies are built, rotates everything due when a line "go" arrives on
// stdin, then prints the report as one JSON line.
import { createInterface } from 'node:readline';
import { createDependencies } from '../src/composition.js';
import { createRotator, loadConfig } from '../src/core/index.js';

const input = JSON.parse(process.env.BENCH_ENGINE ?? '{}') as { settings: Record<string, string>; maxParallelRotations: number; owner: string };
// MAX_PARALLEL_ROTATIONS (default 4) is lifted to the number of apps: the figure measures the fan-out itself, and the
// fleet's slots (sized from it by the composition) then never make a rotation wait.
const config = { ...loadConfig(input.settings), maxParallelRotations: input.maxParallelRotations };
const rotator = createRotator(createDependencies(config, { owner: input.owner }), config);
process.stdout.write(JSON.stringify({ ready: true }) + '\n');

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const report = await rotator.rotateDue({ trigger: 'cli' });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const results = report.results.map((r) => ({
    outcome: r.outcome,
    reason: r.reason,
    viaApp: (r.record?.probes ?? []).filter((p) => p.kind === 'via-app').map((p) => ({ ok: p.ok, status: p.status, detail: p.detail })),
  }));
  process.stdout.write(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, results }) + '\n');
  break;
}
process.exit(0);
