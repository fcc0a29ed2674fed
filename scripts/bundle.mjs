#!/usr/bin/env node
// Bundles the function app into one ES module (dist/bundle/index.js) so a cold start reads one file instead of
// resolving and compiling hundreds of modules across node_modules.
//
// External: `@azure/functions` only. It reaches the Functions worker through `@azure/functions-core`, a module the
// worker itself provides at run time (it is not on disk), so it cannot be bundled; it stays a dependency of the
// deployed package. Everything else (Azure SDKs, applicationinsights, node-forge) is bundled.
import { build } from 'esbuild';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const functionsEntry = join(root, 'src', 'functions', 'index.ts');

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

export async function bundle({ quiet = false } = {}) {
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    ...entry(),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: join(outdir, 'index.js'),
    external: ['@azure/functions', '@azure/functions-core'],
    // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has no require of its own.
    banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
    sourcemap: 'linked',
    minify: false,
    legalComments: 'none',
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  // package.json "main" globs dist/src/functions/*.js; a host pointed at the bundle needs it to be ESM on its own.
  writeFileSync(join(outdir, 'package.json'), JSON.stringify({ type: 'module' }, null, 2) + '\n');
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  if (!quiet) console.log(`bundled ${relative(root, existsSync(functionsEntry) ? functionsEntry : 'core+composition+telemetry')} → ${relative(root, outdir)}/index.js (${(bytes / 1024).toFixed(0)} KiB with map)`);
  return { outfile: join(outdir, 'index.js'), bytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundle();
}
