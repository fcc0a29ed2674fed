// `npx tsx src/host/main.ts [--port 7071] [--dir src/functions] [--no-timers]`: the function app under the local
// host, without the sandbox (point its settings at whatever Azure or Azurite you like). The function modules are
// the top-level files of the functions directory (`src/functions`, or `dist/src/functions` after `npm run compile`),
// the modules the bundle in package.json `main` is built from; subdirectories hold helpers, not functions.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalHost } from './index.js';

const runningFromSource = fileURLToPath(import.meta.url).endsWith('.ts');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.FUNCTIONS_HTTPWORKER_PORT ?? '7071' },
      dir: { type: 'string' },
      'no-timers': { type: 'boolean', default: false },
      settings: { type: 'string' },
    },
  });
  const dir = path.resolve(values.dir ?? (runningFromSource ? 'src/functions' : 'dist/src/functions'));
  if (!existsSync(dir)) throw new Error(`functions directory ${dir} does not exist (run 'npm run compile' for dist/src, or pass --dir)`);
  const ext = runningFromSource ? /\.ts$/ : /\.js$/;
  const modules = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && ext.test(e.name) && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => path.join(dir, e.name))
    .sort();
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got '${values.port}'`);

  const host = await startLocalHost({
    functionsModules: modules,
    port,
    ...(values.settings !== undefined ? { localSettings: values.settings } : {}),
    timers: { scheduled: !values['no-timers'] },
  });
  if (process.env.FUNCTIONS_KEY) {
    console.log("function-level routes: send header 'x-functions-key: <FUNCTIONS_KEY>' or '?code=<FUNCTIONS_KEY>'");
  } else {
    // Shown once, on the terminal of whoever started this run (Core Tools would not check keys at all locally).
    console.log(`no FUNCTIONS_KEY set; this run's function key (ephemeral): ${host.keys.function}`);
  }
  if (!process.env.FUNCTIONS_EVENTGRID_KEY && host.registrations.some((r) => r.trigger.type.toLowerCase() === 'eventgridtrigger')) {
    console.log(`no FUNCTIONS_EVENTGRID_KEY set; this run's eventgrid_extension key (ephemeral, for /runtime/webhooks/eventgrid?code=): ${host.keys.eventGrid}`);
  }
  const shutdown = (): void => {
    void host.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
