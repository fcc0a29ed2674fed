// The operator dashboard's browser assets (src/dashboard/client/), built with esbuild into strings. Two callers:
// scripts/bundle.mjs compiles them into the deployed bundle (`npm run build`), so the package carries the page and
// nothing is built at deploy time; src/functions/dashboard/assets.ts builds them on the first request when the app
// runs from sources (tsx, vitest, `npm run compile`), where esbuild, a devDependency, is installed.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const client = join(root, 'src', 'dashboard', 'client');

/** Asset name (the last segment of `/api/dashboard/<name>`) → its text. */
export async function buildDashboardAssets() {
  return (await buildDashboard()).assets;
}

/** The assets, and the project files they were built from (relative to the project, for the bundle's input list). */
export async function buildDashboard() {
  const result = await build({
    entryPoints: [join(client, 'main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    // What a current evergreen browser runs; the page uses <dialog>, CSS nesting-free custom properties and fetch.
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    metafile: true,
  });
  // One entry, no splitting, no CSS imported: one output file, the script.
  const script = result.outputFiles[0];
  if (script === undefined) throw new Error('esbuild produced no script for the dashboard');
  const assets = {
    'dashboard.js': script.text,
    'dashboard.css': readFileSync(join(client, 'dashboard.css'), 'utf8'),
    'icon.svg': readFileSync(join(client, 'icon.svg'), 'utf8'),
  };
  const scriptInputs = Object.keys(result.metafile.inputs).map((file) => relative(root, join(process.cwd(), file)).split('\\').join('/'));
  return { assets, inputs: [...scriptInputs, 'src/dashboard/client/dashboard.css', 'src/dashboard/client/icon.svg'] };
}
