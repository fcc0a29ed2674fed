#!/usr/bin/env node
// The `mtls-rotator` command: the compiled CLI (dist/src/cli.js, after `npm run compile`), or the TypeScript source
// through tsx when nothing is built (a checkout with dev dependencies).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'src', 'cli.js');

if (existsSync(built)) {
  const { main, exitWhenWritten, toleratePipeClosed } = await import(pathToFileURL(built).href);
  toleratePipeClosed(process.stdout);
  // Not process.exit() straight away: output still on its way into a pipe would be lost (see src/cli/exit.ts).
  await exitWhenWritten(await main(process.argv.slice(2)));
} else {
  let loader;
  try {
    loader = import.meta.resolve('tsx');
  } catch {
    process.stderr.write('mtls-rotator: dist/src/cli.js is missing and tsx is not installed: run `npm run compile` first\n');
    process.exit(1);
  }
  const child = spawn(process.execPath, ['--import', loader, join(root, 'src', 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
