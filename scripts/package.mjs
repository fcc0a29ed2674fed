#!/usr/bin/env node
// The deployment package (npm run package → dist/mtls-rotator.zip): exactly what the Functions host needs and
// nothing else. The cold-start figure in the README measures the esbuild bundle, so the bundle is what ships:
//   host.json
//   package.json                            trimmed: "main" (the bundle's entry), "type": "module", the one runtime dependency
//   dist/bundle/index.js                    the registrations; dist/bundle/chunks/*.js, what the first invocation loads
//   dist/bundle/vendor/applicationinsights.cjs  the telemetry SDK, loaded only with a connection string
//   node_modules/…                          @azure/functions and its own dependencies, copied from the installed tree
// No source maps, sources or typings. Everything the bundle inlines (Azure SDKs, applicationinsights,
// node-forge) is not in node_modules: the zip is a small fraction of `zip -r dist node_modules` after
// `npm prune --omit=dev`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, RUNTIME_EXTERNALS } from './bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const defaultOut = join(root, 'dist', 'mtls-rotator.zip');

export class PackageError extends Error {
  name = 'PackageError';
}

/** The directory of package `name` as Node resolves it from `fromDir` (nearest node_modules upwards). */
function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new PackageError(`${name} is not installed (needed from ${relative(root, fromDir) || '.'}): run npm ci`);
  }
}

/** Every package directory the runtime externals need at run time (their dependencies, transitively). */
function runtimeClosure(names) {
  const seen = new Map();
  const visit = (name, fromDir) => {
    const dir = packageDir(name, fromDir);
    if (seen.has(dir)) return;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    seen.set(dir, manifest);
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir);
  };
  for (const name of names) visit(name, root);
  return seen;
}

/** Files a package needs at run time: not its sources, typings, source maps or nested node_modules (copied on their own). */
function runtimeFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(p);
      } else if (!/\.(map|ts|mts|cts)$/.test(entry.name)) {
        out.push(p);
      }
    }
  };
  walk(dir);
  return out;
}

function copyInto(staging, file, { dropSourceMapLink = false } = {}) {
  const target = join(staging, relative(root, file));
  mkdirSync(dirname(target), { recursive: true });
  if (dropSourceMapLink && /\.c?js$/.test(file)) {
    // The maps stay behind, so the link to them goes too (a tool that follows it would only fail to read it).
    const text = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
    writeFileSync(target, text);
    return Buffer.byteLength(text);
  }
  copyFileSync(file, target);
  return statSync(file).size;
}

/**
 * Builds the bundle and zips the deployment package. Returns its path, size and file list (paths inside the zip).
 * `out` must end in .zip; `quiet` suppresses the summary line.
 */
export async function packageApp({ out = defaultOut, quiet = false } = {}) {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const built = await bundle({ quiet: true });
  const entry = relative(root, built.outfile).split(sep).join('/');
  // The Functions Node worker loads `main`; a package whose main is not the bundle's entry would deploy something
  // other than what the cold-start figure measures.
  if (manifest.main !== entry) throw new PackageError(`package.json "main" must be the bundle's entry '${entry}', got '${manifest.main}'`);

  const staging = mkdtempSync(join(root, 'dist', '.package-'));
  try {
    const sizes = { bundle: 0, node_modules: 0, other: 0 };
    sizes.other += copyInto(staging, join(root, 'host.json'));
    // The bundle's JavaScript and its package.json; source maps stay behind (Node ignores them unless told otherwise).
    for (const file of runtimeFiles(dirname(built.outfile))) sizes.bundle += copyInto(staging, file, { dropSourceMapLink: true });

    const closure = runtimeClosure(RUNTIME_EXTERNALS);
    const dependencies = {};
    for (const name of RUNTIME_EXTERNALS) dependencies[name] = manifest.dependencies?.[name] ?? closure.get(packageDir(name, root)).version;
    for (const dir of closure.keys()) for (const file of runtimeFiles(dir)) sizes.node_modules += copyInto(staging, file);

    const deployed = {
      name: manifest.name,
      version: manifest.version,
      description: manifest.description,
      private: true,
      type: 'module',
      main: manifest.main,
      engines: manifest.engines,
      // Only what is not bundled. A remote build (Oryx) that runs npm install finds everything already present.
      dependencies,
    };
    const packageJson = JSON.stringify(deployed, null, 2) + '\n';
    writeFileSync(join(staging, 'package.json'), packageJson);
    sizes.other += Buffer.byteLength(packageJson);

    mkdirSync(dirname(out), { recursive: true });
    rmSync(out, { force: true });
    try {
      // -X: no extra file attributes, so two builds of the same sources give the same listing.
      execFileSync('zip', ['-r', '-q', '-X', out, '.'], { cwd: staging, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      throw new PackageError(`zip failed (is the zip command installed?): ${error.stderr?.toString().trim() || error.message}`, { cause: error });
    }
    const files = [];
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : files.push(relative(staging, join(d, e.name)).split(sep).join('/'));
    };
    walk(staging);
    const bytes = statSync(out).size;
    if (!quiet) {
      const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
      console.log(
        `deployment package: ${relative(process.cwd(), out)} ${kib(bytes)} zipped, ${files.length} files ` +
          `(bundle ${kib(sizes.bundle)}, node_modules ${kib(sizes.node_modules)} for ${RUNTIME_EXTERNALS.join(', ')}, uncompressed)`,
      );
    }
    return { out, bytes, files: files.sort(), main: manifest.main, sizes, inputs: built.inputs };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await packageApp();
  } catch (error) {
    console.error(`npm run package: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
