// Child process of metric 5: one full scan with the real adapters, then its peak RSS on stdout as JSON. Bundled
// and run with plain node by bench/memory.ts, so the figure is the scan's and not a TypeScript loader's.
// Input (env): BENCH_SCAN_ENV = JSON of the configuration environment; NODE_EXTRA_CA_CERTS = the sandbox CA.
import { createDependencies } from '../src/composition.js';
import { loadConfig } from '../src/core/config.js';
import { silentLogger } from '../src/core/logger.js';
import { systemClock } from '../src/core/ports.js';
import { scanInventory } from '../src/core/scan.js';

// Static imports are evaluated before this line: what loading the code costs, before any scan work.
const rssAfterImportsMb = process.memoryUsage().rss / 1024 / 1024;
const config = loadConfig(JSON.parse(process.env.BENCH_SCAN_ENV ?? '{}') as Record<string, string>);
const deps = createDependencies(config, {});
const started = performance.now();
const result = await scanInventory({ ...deps, logger: silentLogger, clock: systemClock }, config);
const seconds = (performance.now() - started) / 1000;
// Retained after the scan (the child runs with --expose-gc): what the result itself holds, beside the peak.
(globalThis as { gc?: () => void }).gc?.();
const due = result.apps.filter((a) => a.bindings.some((b) => b.evaluation.due)).length;
process.stdout.write(
  JSON.stringify({
    apps: result.apps.length,
    due,
    problems: result.problems.length,
    seconds,
    rssAfterImportsMb,
    // Linux reports kilobytes.
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    heapUsedMb: process.memoryUsage().heapUsed / 1024 / 1024,
  }) + '\n',
);
