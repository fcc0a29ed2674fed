// A setting whose value ARM returns as null (a template or a tool set it so): the rotation neither breaks on it nor
// changes it. The sandbox serves the null and takes it back on the PUT, as ARM does; the real SDKs in between.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createRotator, type Config } from '../../src/core/index.js';
import { scrub } from '../../src/azure/errors.js';
import { scrubText } from '../../src/telemetry/scrub.js';
import { useAzurite } from '../helpers/azurite.js';
import { appRef, deps as makeDeps, independentApps, sandboxConfig, SUB, VAULT, watch } from './world.js';

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;

beforeAll(async () => {
  sb = await startSandbox(independentApps([{ name: 'null-other' }, { name: 'null-owned' }]));
  config = sandboxConfig(sb, azurite().connectionString, SUB);
}, 120_000);

afterAll(async () => {
  await sb?.stop();
});

describe('a null app setting from ARM', () => {
  it.each([
    ['an unrelated setting is null: the rotation commits and writes the null back as it was', 'null-other', { LEGACY_FLAG: null }],
    ['a setting the rotation owns (-settings tag) is null: it reads as unset, the rotation commits and leaves it null', 'null-owned', { CLIENT_CERT_THUMBPRINT: null }],
  ])('%s', async (_sentence, name, nulls) => {
    const ref = appRef(name);
    const before: Record<string, string | null> = { ...sb.control.appSettings(ref), ...(nulls as Record<string, null>) };
    sb.control.setAppSettings(ref, before);
    const newThumbprint = sb.control.thumbprint(`${VAULT}/${name}-client/latest`);
    const w = watch(sb);
    const result = await createRotator(makeDeps(sb, config), config).rotateApp(name, { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('committed');
    const after = sb.control.appSettings(ref);
    // The owned keys that held the old thumbprint now hold the new one; every other key is as it was, nulls included.
    const expected = { ...before };
    for (const key of ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT']) if (typeof before[key] === 'string') expected[key] = newThumbprint;
    expect(after).toEqual(expected);
    for (const key of Object.keys(nulls)) expect(after[key]).toBeNull();
    expect(w.changes().filter((c) => c.operation?.startsWith('WebApps_UpdateApplicationSettings'))).toHaveLength(1);
  });
});

describe('the error scrubbers given what a null setting becomes', () => {
  it.each([
    ['a null among the secret values', () => scrub('failed for p4ssw0rd-value', [null, 'p4ssw0rd-value', undefined]), 'failed for [redacted]'],
    ['a null text', () => scrubText(null as unknown as string), ''],
    ['an undefined text', () => scrubText(undefined as unknown as string), ''],
    ['a number as text', () => scrubText(404 as unknown as string), '404'],
  ])('do not throw on %s', (_sentence, call, expected) => {
    expect(call()).toBe(expected);
  });
});
