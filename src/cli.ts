// `mtls-rotator`: the engine from a terminal (bin/mtls-rotator.js runs this; `npm run cli -- plan` too).
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { main } from './cli/main.js';

export { main, EXIT } from './cli/main.js';

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
  const code = await main(process.argv.slice(2));
  // SDK keep-alive sockets would hold the process open; every output line is written by now.
  process.exit(code);
}
