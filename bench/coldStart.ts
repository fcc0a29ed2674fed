// Metric 4: cold start. Imports the bundled functions entry in fresh processes against a bare `node -e 0`, each the
// median of several runs. The entry holds the registrations; the handlers, the engine and the SDKs are chunks that
// the first invocation loads (src/functions/app/lazy.ts), so the same import followed by every chunk is measured
// beside it: what a worker reads before its first invocation completes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// @ts-expect-error -- plain ES module script without declarations
import { bundle } from '../scripts/bundle.mjs';
import { round } from './scan.js';

function medianMs(args: string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    times.push(performance.now() - started);
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(0, 500)}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export interface ColdStartFigures {
  importOverBareNode: number;
  /** The entry and then every chunk of the bundle, over `node -e 0`. */
  everythingOverBareNode: number;
  detail: Record<string, unknown>;
}

export async function measureColdStart(runs = 9): Promise<ColdStartFigures> {
  const { outfile, bytes, entryBytes, chunks } = (await bundle({ quiet: true })) as { outfile: string; bytes: number; entryBytes: number; chunks: string[] };
  // What deploys is what is measured: the entry must be the one package.json `main` names (the zip ships it).
  const root = join(fileURLToPath(import.meta.url), '..', '..');
  const main = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string }).main;
  const measured = relative(root, outfile).split(sep).join('/');
  if (measured !== main) throw new Error(`cold start measures ${measured}, but package.json main (what deploys) is ${main}`);
  const url = pathToFileURL(outfile).href;
  const bare = medianMs(['-e', '0'], runs);
  // Outside the Functions worker @azure/functions runs in "test mode" and skips registration (a warning on stderr);
  // the module graph is loaded and evaluated all the same.
  const entry = medianMs(['--input-type=module', '-e', `await import(${JSON.stringify(url)})`], runs);
  const all = [url, ...chunks.map((c) => pathToFileURL(c).href)];
  const everything = medianMs(['--input-type=module', '-e', `for (const u of ${JSON.stringify(all)}) await import(u)`], runs);
  return {
    importOverBareNode: entry / bare,
    everythingOverBareNode: everything / bare,
    detail: {
      deployedEntry: main,
      runs,
      bareNodeMs: round(bare, 1),
      importEntryMs: round(entry, 1),
      importEntryAndChunksMs: round(everything, 1),
      entryBytes,
      chunks: chunks.length,
      bundleBytesWithMaps: bytes,
    },
  };
}
