// `mtls-rotator`: the engine from a terminal (bin/mtls-rotator.js runs this; `npm run cli -- plan` too).
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { exitWhenWritten, toleratePipeClosed } from './cli/exit.js';
import { main } from './cli/main.js';

export { main, EXIT } from './cli/main.js';
export { exitWhenWritten, toleratePipeClosed } from './cli/exit.js';

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  toleratePipeClosed(process.stdout);
  const code = await main(process.argv.slice(2));
  await exitWhenWritten(code);
}
