// The deployable bundle (npm run bundle): the entry holds only the registrations, and the handlers with the engine
// and the Azure SDKs come from chunks the first invocation loads. Proven on the built files: the bundle registers
// what the sources register, and an invocation through it reaches Table storage (Azurite) through lazily loaded code.
import { readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureRegistrations, type Registration } from '../../src/host/index.js';
// @ts-expect-error -- plain ES module script without declarations
import { bundle } from '../../scripts/bundle.mjs';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { callHealth } from '../helpers/builtEntry.js';

const azurite = useAzurite();
const outdir = join(import.meta.dirname, '..', '..', 'dist', uniqueName('test-bundle'));
let built: { outfile: string; entryBytes: number; chunks: string[] };
let registrations: Registration[];

beforeAll(async () => {
  built = (await bundle({ quiet: true, outdir })) as typeof built;
  registrations = await captureRegistrations(() => import(pathToFileURL(built.outfile).href));
}, 60_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the bundle', () => {
  it('registers the same functions as the sources, from an entry that holds no engine or SDK code', () => {
    expect(registrations.map((r) => r.name).sort()).toEqual(['abortRollout', 'certificateEvents', 'certificates', 'dashboard', 'health', 'nightlyScan', 'promoteRollout', 'rollbackRotation', 'rollout', 'rollouts', 'rotateApp', 'rotation', 'rotations', 'verifyRotations']);
    // The registrations are a few KiB; everything else is in chunks.
    expect(built.entryBytes).toBeLessThan(20_000);
    expect(built.chunks.length).toBeGreaterThan(0);
  });

  it("keeps the dashboard's compiled-in assets in a chunk of their own, loaded by the dashboard's handler alone", () => {
    const embedded = built.chunks.filter((f) => /[\\/]embedded-[A-Z0-9]+\.js$/.test(f));
    expect(embedded).toHaveLength(1);
    expect(readFileSync(embedded[0]!, 'utf8')).toContain('x-functions-key');
    const name = basename(embedded[0]!);
    const importers = [built.outfile, ...built.chunks].filter((f) => f !== embedded[0] && readFileSync(f, 'utf8').includes(name)).map((f) => basename(f));
    expect(importers).toEqual([expect.stringMatching(/^handler-[A-Z0-9]+\.js$/)]);
  });

  it('loads the handlers and the table SDK on the first invocation and answers from storage', async () => {
    const response = await callHealth(registrations, { connectionString: azurite().connectionString, table: uniqueName('bundle') });
    expect(response.status).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', lastScan: null });
  });
});
