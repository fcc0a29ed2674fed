#!/usr/bin/env node
// Bundles the function app into one ES module (dist/bundle/index.js) so a cold start reads one file instead of
// resolving and compiling hundreds of modules across node_modules.
//
// `@azure/functions` is not bundled, and ships in the deployment package's node_modules (scripts/package.mjs): it
// reaches the Functions worker through `@azure/functions-core`, a module the worker itself provides at run time
// (it is not on disk), so it cannot be bundled.
// `applicationinsights` is bundled on its own, into vendor/applicationinsights.cjs: src/telemetry/appInsights.ts
// requires it at run time, only when a connection string is set (it loads all of OpenTelemetry, most of a cold
// start), together with two modules of the SDK's own graph (the OpenTelemetry resources and the exporter's
// configuration singleton, whose poll it stops). One CommonJS file keeps those the very instances the SDK uses.
// Everything else (Azure SDK clients, @azure/identity, node-forge) is bundled into the entry and its chunks.
import { build } from 'esbuild';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboard } from './dashboard.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const defaultOutdir = join(root, 'dist', 'bundle');
const functionsEntry = join(root, 'src', 'functions', 'index.ts');

/** Left out of the bundle and shipped in the package's node_modules (scripts/package.mjs). */
export const RUNTIME_EXTERNALS = ['@azure/functions'];
/** Provided by the Functions Node worker at run time; on no disk. */
export const WORKER_PROVIDED = ['@azure/functions-core'];

/** The functions entry; before it existed, the engine, the composition root and telemetry stood in for it. */
function entry() {
  if (existsSync(functionsEntry)) return { entryPoints: [functionsEntry] };
  const parts = ['src/core/index.ts', 'src/composition.ts', 'src/telemetry/index.ts'];
  return {
    stdin: {
      contents: parts.map((p, i) => `export * as m${i} from './${p.replace(/\.ts$/, '.js')}';`).join('\n'),
      resolveDir: root,
      sourcefile: 'bundle-entry.ts',
      loader: 'ts',
    },
  };
}

/** `outdir` must lie inside the project (the bundle resolves @azure/functions from node_modules above it). */
export async function bundle({ quiet = false, outdir = defaultOutdir } = {}) {
  // Chunk names carry a content hash: start empty so chunks of an earlier build do not pile up.
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const dashboard = await buildDashboard();
  const result = await build({
    ...entry(),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The registration modules import the handlers dynamically (src/functions/app/lazy.ts): with splitting, the
    // engine and the Azure SDKs go to chunks that the first invocation loads, so the host indexes the functions
    // without reading them (issue 7, cold start).
    splitting: true,
    outdir,
    entryNames: 'index',
    chunkNames: 'chunks/[name]-[hash]',
    external: [...RUNTIME_EXTERNALS, ...WORKER_PROVIDED],
    // src/telemetry/appInsights.ts loads the vendored SDK (below) instead of node_modules.
    define: { __MTLS_ROTATOR_BUNDLE__: 'true' },
    // The dashboard's script, style sheet and icon are compiled in, as src/functions/dashboard/embedded.ts: the package
    // needs no build step or asset files at deploy time.
    plugins: [embedDashboard(dashboard.assets)],
    // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has no require of its own.
    banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
    sourcemap: 'linked',
    minify: false,
    legalComments: 'none',
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  const vendor = await bundleTelemetrySdk(join(outdir, 'vendor', 'applicationinsights.cjs'), quiet);
  // package.json "main" is this entry; the bundle's own package.json keeps it ESM wherever the folder is copied.
  writeFileSync(join(outdir, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  const outfile = join(outdir, 'index.js');
  const entryBytes = result.metafile.outputs[relative(process.cwd(), outfile)]?.bytes ?? 0;
  // Every JavaScript file of the bundle but the entry: what the first invocation loads.
  const chunks = Object.keys(result.metafile.outputs)
    .filter((file) => file.endsWith('.js') && join(process.cwd(), file) !== outfile)
    .map((file) => join(process.cwd(), file));
  if (!quiet) {
    console.log(
      `bundled ${relative(root, existsSync(functionsEntry) ? functionsEntry : 'core+composition+telemetry')} → ${relative(root, outdir)}/index.js ` +
        `(${(entryBytes / 1024).toFixed(0)} KiB, ${chunks.length} chunk(s), ${(bytes / 1024).toFixed(0)} KiB in all with maps)`,
    );
  }
  // Project files the bundle was built from (relative to the project), for checks such as "no sandbox code ships".
  // The dashboard's assets enter as the contents of embedded.ts: their own sources are inputs too.
  const inputs = Object.keys(result.metafile.inputs)
    .map((file) => relative(root, join(process.cwd(), file)).split('\\').join('/'))
    .concat(dashboard.inputs)
    .filter((f) => !f.split('/').includes('node_modules'));
  return { outfile, bytes, entryBytes, chunks, vendor, inputs };
}

/** Replaces src/functions/dashboard/embedded.ts (undefined from sources) with the built dashboard assets. */
function embedDashboard(assets) {
  return {
    name: 'embed-dashboard-assets',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]functions[\\/]dashboard[\\/]embedded\.ts$/ }, () => ({
        contents: `export const EMBEDDED_ASSETS = ${JSON.stringify(assets)};\n`,
        loader: 'js',
      }));
    },
  };
}

/** The Application Insights SDK, its OpenTelemetry resources and the exporter's ConfigurationManager, in one file. */
async function bundleTelemetrySdk(outfile, quiet) {
  // Resolved as src/telemetry/appInsights.ts does from sources: from the SDK's own location.
  const sdkEntry = createRequire(join(root, 'package.json')).resolve('applicationinsights');
  const sdkRequire = createRequire(sdkEntry);
  const exporterEntry = sdkRequire.resolve('@azure/monitor-opentelemetry-exporter');
  const parts = {
    sdk: sdkEntry,
    resources: sdkRequire.resolve('@opentelemetry/resources'),
    configurationManager: join(dirname(exporterEntry), '_configuration', 'configurationManager.js'),
  };
  if (!existsSync(parts.configurationManager)) throw new Error(`the exporter's configurationManager.js is not at ${parts.configurationManager}: SDK layout changed`);
  const result = await build({
    stdin: {
      contents: `module.exports = { ${Object.entries(parts).map(([k, file]) => `${k}: require(${JSON.stringify(file)})`).join(', ')} };`,
      resolveDir: dirname(sdkEntry),
      sourcefile: 'applicationinsights-vendor.cjs',
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    minify: false,
    legalComments: 'none',
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  return { file: outfile, bytes: Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundle();
}
