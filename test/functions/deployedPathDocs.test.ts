// What the docs tell an operator to deploy and a developer to run under `func start` must be the artifact the
// cold-start figure measures: package.json `main`, built by scripts/bundle.mjs and zipped by scripts/package.mjs.
// The deploy docs once published `dist/` (tsc's output) while the figure measured the bundle;
// these checks read the docs and the build scripts as text, so a drift between them fails here without building.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string): string => fs.readFileSync(path.join(root, file), 'utf8');
const manifest = JSON.parse(read('package.json')) as { main: string; scripts: Record<string, string> };
const operations = read('docs/operations.md');
const localRunner = read('docs/local-runner.md');
const readme = read('README.md');

/** The zip scripts/package.mjs writes by default, from its own source. */
function packageOut(): string {
  const m = /defaultOut = join\(root, ((?:'[^']+'(?:, )?)+)\)/.exec(read('scripts/package.mjs'));
  expect(m, 'scripts/package.mjs names its default output').not.toBeNull();
  return [...m![1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]).join('/');
}

/** The entry scripts/bundle.mjs writes: `<outdir>/<entryNames>.js`. */
function bundleEntry(): string {
  const source = read('scripts/bundle.mjs');
  const outdir = /defaultOutdir = join\(root, ((?:'[^']+'(?:, )?)+)\)/.exec(source);
  const entryName = /entryNames: '([^']+)'/.exec(source);
  expect(outdir && entryName, 'scripts/bundle.mjs names its output directory and entry').toBeTruthy();
  return `${[...outdir![1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]).join('/')}/${entryName![1]}.js`;
}

describe('the deployed artifact, as the docs describe it', () => {
  it.each([
    ['package.json main is the entry scripts/bundle.mjs writes', () => expect(manifest.main).toBe(bundleEntry())],
    ['npm run package runs scripts/package.mjs, and npm run build runs scripts/bundle.mjs', () => {
      expect(manifest.scripts.package).toMatch(/node scripts\/package\.mjs/);
      expect(manifest.scripts.build).toMatch(/node scripts\/bundle\.mjs/);
    }],
    ['docs/operations.md builds with npm run package and publishes the zip it writes', () => {
      expect(operations).toMatch(/^\s*npm run package\b/m);
      expect(operations).toMatch(new RegExp(`config-zip .*--src ${packageOut().replace(/[.]/g, '\\.')}\\b`));
    }],
    ['docs/operations.md names package.json main as what the worker loads', () => expect(operations).toContain(`\`main\` is \`${manifest.main}\``)],
    ['docs/operations.md publishes no tsc output', () => expect(operations).not.toMatch(/config-zip[^\n]*dist\/src|zip -r[^\n]*dist\/src/)],
    ['the README names the zip npm run package writes', () => expect(readme).toContain(`\`npm run package\` builds \`${packageOut()}\``)],
    ['docs/local-runner.md runs npm run build before func start, which loads package.json main', () => {
      expect(localRunner).toMatch(/npm install && npm run build/);
      expect(localRunner).toContain(`the host loads \`${manifest.main}\` (package.json`);
    }],
  ])('%s', (_sentence, check) => {
    check();
  });
});
