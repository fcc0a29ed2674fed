// A heavy SDK loads only where it is used: building the dependencies for a scan (static token, connection-string
// storage) must not load @azure/identity, @azure/data-tables, @azure/storage-queue, @azure/keyvault-secrets or
// node-forge (PKCS#12); each loads on first use.
// Proven in a fresh node process whose ESM resolve hook reports every one of those packages that gets resolved.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HEAVY = ['@azure/identity', '@azure/data-tables', '@azure/storage-queue', '@azure/keyvault-secrets', 'node-forge'];

const HOOK = `
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  const match = /node_modules\\/(@azure\\/(?:identity|data-tables|storage-queue|keyvault-secrets)|node-forge)\\//.exec(result.url);
  if (match) writeSync(1, 'resolved ' + match[1] + '\\n');
  return result;
}
`;

/** Prints "constructed" after createDependencies, then "used <what>" after each first use the case asks for. */
function probe(hook: string, env: Record<string, string>, uses: string[]): string {
  const src = (path: string) => JSON.stringify(pathToFileURL(join(root, 'src', path)).href);
  return `
import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hook).href)});
const { createDependencies } = await import(${src('composition.ts')});
const { loadConfig } = await import(${src('core/config.ts')});
const deps = createDependencies(loadConfig(${JSON.stringify(env)}));
console.log('constructed');
for (const use of ${JSON.stringify(uses)}) {
  if (use === 'store') await deps.store.client();
  if (use === 'queue') await deps.queue.clients();
  if (use === 'secrets') await deps.keyVault.clients('https://127.0.0.1:9').secrets();
  if (use === 'scan') await import(${src('core/scan.ts')});
  if (use === 'rotation') await import(${src('core/rotator.ts')});
  console.log('used ' + use);
}
`;
}

let dir: string;
let hook: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lazy-sdks-'));
  hook = join(dir, 'hook.mjs');
  await writeFile(hook, HOOK);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(uses: string[]): Promise<string[]> {
  const script = join(dir, `probe-${uses.join('-') || 'none'}.mjs`);
  await writeFile(
    script,
    probe(hook, {
      AZURE_SUBSCRIPTION_IDS: '00000000-0000-0000-0000-000000000001',
      ARM_ENDPOINT: 'https://127.0.0.1:9',
      AZURE_CREDENTIAL: 'static',
      AZURE_STATIC_TOKEN: 'not-a-real-token',
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      // The probe's vault URL is not a Key Vault host: allow-listed, as the sandbox's are.
      KEYVAULT_ALLOWED_HOSTS: '127.0.0.1:9',
    }, uses),
  );
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`probe exited ${code}: ${stderr.slice(0, 800)}`))));
  });
  // One line per event; a package resolves many files, keep the first report of each.
  return [...new Set(out.split('\n').filter((line) => line !== ''))];
}

describe('createDependencies with a static token and connection-string storage', () => {
  it('loads none of @azure/identity, @azure/data-tables, @azure/storage-queue, @azure/keyvault-secrets, node-forge while constructing or scanning', async () => {
    const events = await run(['scan']);
    expect(events.at(-1)).toBe('used scan');
    expect(events.filter((e) => e.startsWith('resolved '))).toEqual([]);
  });

  it('loads the table SDK on the store’s first use and the queue SDK on the queue’s, and never the identity SDK', async () => {
    const events = await run(['store', 'queue']);
    // The hook sees these packages at all (otherwise the case above would prove nothing).
    expect(events).toEqual(['constructed', 'resolved @azure/data-tables', 'used store', 'resolved @azure/storage-queue', 'used queue']);
    expect(events).not.toContain(`resolved ${HEAVY[0]}`);
  });

  it('loads the Key Vault secrets SDK on the first secret read, and forge with the rotation code', async () => {
    const events = await run(['secrets', 'rotation']);
    expect(events).toEqual(['constructed', 'resolved @azure/keyvault-secrets', 'used secrets', 'resolved node-forge', 'used rotation']);
  });
});
