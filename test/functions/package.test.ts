// The deployment package (npm run package): what the zip holds, that package.json `main` is in it, and that the
// package runs on its own. It is extracted outside the project, where no node_modules above it can hide a missing
// dependency, and its entry registers the functions and answers a call from Table storage (Azurite) through the
// lazily loaded chunks.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureRegistrations, type Registration } from '../../src/host/index.js';
// @ts-expect-error -- plain ES module script without declarations
import { RUNTIME_EXTERNALS } from '../../scripts/bundle.mjs';
// @ts-expect-error -- plain ES module script without declarations
import { packageApp } from '../../scripts/package.mjs';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { callHealth } from '../helpers/builtEntry.js';

const root = join(import.meta.dirname, '..', '..');
const azurite = useAzurite();
const out = join(root, 'dist', `${uniqueName('package-test')}.zip`);
let built: { out: string; bytes: number; files: string[]; main: string; inputs: string[] };
let extracted: string;
let deployedManifest: { main: string; type: string; dependencies: Record<string, string> };
let registrations: Registration[];

beforeAll(async () => {
  built = (await packageApp({ out, quiet: true })) as typeof built;
  extracted = mkdtempSync(join(tmpdir(), 'mtls-rotator-package-'));
  execFileSync('unzip', ['-q', built.out, '-d', extracted]);
  deployedManifest = JSON.parse(readFileSync(join(extracted, 'package.json'), 'utf8')) as typeof deployedManifest;
  registrations = await captureRegistrations(() => import(pathToFileURL(join(extracted, deployedManifest.main)).href));
}, 300_000);

afterAll(() => {
  rmSync(out, { force: true });
  if (extracted) rmSync(extracted, { recursive: true, force: true });
});

const projectManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main: string; engines: { node: string } };

describe('the deployment package', () => {
  it('holds host.json, a package.json whose main is the bundle entry, and that entry', () => {
    expect(projectManifest.main).toBe('dist/bundle/index.js');
    expect(deployedManifest.main).toBe(projectManifest.main);
    expect(deployedManifest.type).toBe('module');
    expect(built.files).toEqual(expect.arrayContaining(['host.json', 'package.json', projectManifest.main]));
    expect(built.files.some((f) => f.startsWith('dist/bundle/chunks/') && f.endsWith('.js'))).toBe(true);
  });

  it.each([
    ['no TypeScript sources, tests, sandbox or benchmark', (f: string) => /^(src|test|sandbox|bench|scripts|infra|docs)\//.test(f)],
    ['no tsc output (dist/src)', (f: string) => f.startsWith('dist/src/')],
    ['no source maps or typings', (f: string) => /\.(map|d\.ts|ts)$/.test(f)],
    ['no local settings or development tooling', (f: string) => /local\.settings|node_modules\/(vitest|esbuild|typescript|azurite|tsx)\//.test(f)],
    ['no package that only the bundle uses (it inlines the Azure SDK clients and node-forge)', (f: string) => /node_modules\/(@azure\/(arm-|keyvault|data-tables|storage-)|node-forge\/)/.test(f)],
  ])('contains %s', (_what, unwanted) => {
    expect(built.files.filter(unwanted)).toEqual([]);
  });

  it('is built from the service sources only: no sandbox, test or benchmark code is bundled', () => {
    expect(built.inputs.some((f) => f === 'src/functions/index.ts')).toBe(true);
    // host.json is compiled in on purpose: the queue handler reads its poison threshold from the same file the host does.
    expect(built.inputs.filter((f) => !f.startsWith('src/') && f !== 'host.json')).toEqual([]);
    expect(built.inputs.filter((f) => f.startsWith('src/cli'))).toEqual([]);
  });

  it('declares and ships in node_modules only @azure/functions (which reaches the worker through @azure/functions-core) and its dependencies', () => {
    expect(RUNTIME_EXTERNALS).toEqual(['@azure/functions']);
    expect(deployedManifest.dependencies).toEqual({ '@azure/functions': expect.any(String) });
    const packages = new Set(built.files.filter((f) => f.startsWith('node_modules/')).map((f) => f.split('/').slice(1, f.startsWith('node_modules/@') ? 3 : 2).join('/')));
    const functionsDeps = Object.keys(
      (JSON.parse(readFileSync(join(root, 'node_modules', '@azure', 'functions', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies,
    );
    expect([...packages].sort()).toEqual(['@azure/functions', ...functionsDeps].sort());
  });

  it('carries the Application Insights SDK as one vendored file, not node_modules', () => {
    expect(built.files).toContain('dist/bundle/vendor/applicationinsights.cjs');
    expect(built.files.filter((f) => /node_modules\/(applicationinsights|@opentelemetry)\//.test(f))).toEqual([]);
  });

  it('stays small: under 4 MiB zipped (the whole production node_modules is over 180 MiB unzipped)', () => {
    expect(built.bytes).toBeLessThan(4 * 1024 * 1024);
  });

  it('registers every function from the extracted package alone', () => {
    expect(registrations.map((r) => r.name).sort()).toEqual(['abortRollout', 'certificateEvents', 'certificates', 'dashboard', 'health', 'nightlyScan', 'promoteRollout', 'rollbackRotation', 'rollout', 'rollouts', 'rotateApp', 'rotation', 'rotations', 'verifyRotations']);
  });

  it('answers a call through its lazily loaded chunks, reaching Table storage, with telemetry from the vendored SDK, with nothing but what it ships', async () => {
    // The vendored SDK, as the bundle will require it (one CommonJS cache entry per file, so the same instance):
    // its remote-settings poll must be stopped by the bundled telemetry, as from sources.
    const vendorFile = join(extracted, 'dist', 'bundle', 'vendor', 'applicationinsights.cjs');
    const vendor = createRequire(import.meta.url)(vendorFile) as { configurationManager: { ConfigurationManager: { getInstance(): { shutdown(): void; worker?: unknown } } } };
    const manager = vendor.configurationManager.ConfigurationManager.getInstance();
    const shutdown = manager.shutdown.bind(manager);
    let stopped = 0;
    manager.shutdown = () => {
      stopped += 1;
      shutdown();
    };
    // Loopback and closed: nothing is expected to be sent by a health call, and nothing could leave the machine.
    process.env.APPLICATIONINSIGHTS_CONNECTION_STRING = 'InstrumentationKey=00000000-0000-4000-8000-0000000000a1;IngestionEndpoint=https://127.0.0.1:9/';
    const response = await callHealth(registrations, { connectionString: azurite().connectionString, table: uniqueName('package') });
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', lastScan: null });
    expect(stopped).toBe(1);
    expect(manager.worker).toBeUndefined();
    delete process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
  });

  // Outside the project there is no esbuild and no src/: only assets compiled into the bundle can answer.
  it.each([
    ['the page', undefined, 'text/html', /<script type="module" src="\/api\/dashboard\/dashboard\.js"><\/script>/],
    ['its script', 'dashboard.js', 'text/javascript', /x-functions-key/],
    ['its style sheet', 'dashboard.css', 'text/css', /prefers-color-scheme: dark/],
  ])('serves the dashboard: %s, compiled into the bundle, under the CSP', async (_what, asset, type, content) => {
    const dashboard = registrations.find((r) => r.name === 'dashboard')!;
    const request = new HttpRequest({ method: 'GET', url: `http://127.0.0.1/api/dashboard${asset ? `/${asset}` : ''}`, ...(asset ? { params: { asset } } : {}) });
    const response = (await dashboard.handler(request, new InvocationContext({ functionName: 'dashboard' }))) as { status: number; body?: unknown; headers?: Record<string, string> };
    expect(response.status).toBe(200);
    expect(response.headers?.['content-type']).toContain(type);
    expect(response.headers?.['content-security-policy']).toMatch(/^default-src 'none'/);
    expect(String(response.body)).toMatch(content);
  });
});
