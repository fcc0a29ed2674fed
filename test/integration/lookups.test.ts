// Certificate look-ups in one rotation, counted in the sandbox's request log: each Key Vault certificate version and
// each certificate resource is looked up once. (The listing of the resource group happens twice on purpose: once
// when the app is scanned, once when the candidate is staged, which must see what is there now.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createRotator, type Config } from '../../src/core/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { deps as makeDeps, independentApps, sandboxConfig, SUB, watch } from './world.js';

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;

beforeAll(async () => {
  sb = await startSandbox(independentApps([{ name: 'lookups-pfx' }, { name: 'lookups-pem', contentType: 'application/x-pem-file' }]));
  config = sandboxConfig(sb, azurite().connectionString, SUB);
}, 120_000);

afterAll(async () => {
  await sb?.stop();
});

describe('one rotation looks each certificate up once', () => {
  it.each([
    ['a PFX source', 'lookups-pfx'],
    ['a PEM source', 'lookups-pem'],
  ])('%s: every certificate and secret read is of a different resource', async (_sentence, name) => {
    const w = watch(sb);
    const result = await createRotator(makeDeps(sb, config), config).rotateApp(name, { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('committed');
    const lookups = w
      .all()
      .filter((r) => ['GetCertificate', 'GetSecret', 'Certificates_Get'].includes(r.operation ?? ''))
      .map((r) => `${r.operation} ${r.path.replace(/\?.*$/, '').toLowerCase()}`);
    const counts = new Map<string, number>();
    for (const lookup of lookups) counts.set(lookup, (counts.get(lookup) ?? 0) + 1);
    expect(lookups.length).toBeGreaterThan(0);
    expect([...counts].filter(([, n]) => n > 1)).toEqual([]);
    // The scan read the latest version; the candidate is that version: its metadata is not asked for again.
    const versions = lookups.filter((l) => /^GetCertificate \/certificates\/[^/]+\/[0-9a-f]+$/.test(l));
    expect(versions).toEqual([]);
  });
});
