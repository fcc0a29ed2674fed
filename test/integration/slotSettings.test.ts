// Slot-sticky settings (config/slotConfigNames), read by the engine through the real SDK from the sandbox: a slot
// whose owned settings all stick, or all travel, rotates; one whose WEBSITE_LOAD_CERTIFICATES sticks while its
// thumbprint setting travels (or the reverse) is not touched, because the next swap would split them
// (docs/operations.md, "Deployment slots and swaps"). What changed is read from the sandbox's request log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { createRotator, type Config } from '../../src/core/index.js';
import { swapBehaviourOf } from '../../src/core/slotSettings.js';
import { useAzurite } from '../helpers/azurite.js';
import { appRef, deps as makeDeps, independentApps, sandboxConfig, SUB, VAULT, watch } from './world.js';

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;

const CASES = {
  'slot-travel': [] as string[],
  'slot-sticky': ['WEBSITE_LOAD_CERTIFICATES', 'CLIENT_CERT_THUMBPRINT'],
  'slot-split': ['WEBSITE_LOAD_CERTIFICATES'],
  'slot-rsplit': ['client_cert_thumbprint'],
};

beforeAll(async () => {
  const scenario = independentApps(Object.keys(CASES).map((name) => ({ name, tags: { 'mtls-rotation-slots': 'true' } })));
  for (const rg of scenario.subscriptions[0]!.resourceGroups) {
    const site = rg.sites?.[0];
    if (site === undefined) continue;
    site.slotSettings = CASES[site.name as keyof typeof CASES];
    site.slots = [{ name: 'staging', downstream: 'partner', restartMs: 20, tags: { ...site.tags }, settings: { ...site.settings } }];
  }
  sb = await startSandbox(scenario);
  config = sandboxConfig(sb, azurite().connectionString, SUB);
}, 120_000);

afterAll(async () => {
  await sb?.stop();
});

describe('a slot rotation and the site slot settings', () => {
  it.each([
    ['no owned setting is sticky (the default): the slot rotates, and its thumbprint will travel with a swap', 'slot-travel', 'committed'],
    ['every owned setting is sticky: the slot rotates on its own', 'slot-sticky', 'committed'],
    ['WEBSITE_LOAD_CERTIFICATES sticks but the thumbprint setting travels: nothing is changed', 'slot-split', 'skipped'],
    ['the thumbprint setting sticks (any case) but WEBSITE_LOAD_CERTIFICATES travels: nothing is changed', 'slot-rsplit', 'skipped'],
  ])('%s', async (_sentence, name, outcome) => {
    const slot = { ...appRef(name), slot: 'staging' };
    const before = sb.control.appSettings(slot);
    const w = watch(sb);
    const events: Array<{ name: string; dimensions?: Record<string, unknown> }> = [];
    const d = makeDeps(sb, config);
    d.telemetry = { ...d.telemetry, event: (n, dimensions) => events.push({ name: n, dimensions }) };
    const result = await createRotator(d, config).rotateApp(`${name}/staging`, { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe(outcome);
    const renewed = sb.control.thumbprint(`${VAULT}/${name}-client/latest`);
    if (outcome === 'committed') {
      expect(sb.control.appSettings(slot).WEBSITE_LOAD_CERTIFICATES).toBe(renewed);
      expect(sb.control.loadedThumbprints(slot)).toEqual([renewed]);
    } else {
      expect(result.reason).toBe('SplitSlotSettings');
      expect(result.problems?.join(' ')).toMatch(/travel/);
      expect(w.changes()).toEqual([]);
      expect(sb.control.appSettings(slot)).toEqual(before);
      expect(events.some((e) => e.name === 'RotationConflict' && e.dimensions?.reason === 'SplitSlotSettings' && e.dimensions?.slot === 'staging')).toBe(true);
    }
  }, 120_000);

  it('a site whose slots the rotator manages is held back the same way when its settings are split', async () => {
    const w = watch(sb);
    const result = await createRotator(makeDeps(sb, config), config).rotateApp('slot-split', { trigger: 'cli' });
    expect([result.outcome, result.reason]).toEqual(['skipped', 'SplitSlotSettings']);
    expect(w.changes()).toEqual([]);
  });
});

describe('swapBehaviourOf', () => {
  it.each([
    ['nothing sticky: everything travels', ['CLIENT_CERT_THUMBPRINT'], [], 'travels'],
    ['unrelated sticky names do not matter', ['CLIENT_CERT_THUMBPRINT'], ['DB_URL'], 'travels'],
    ['both sticky, names in another case', ['CLIENT_CERT_THUMBPRINT'], ['website_load_certificates', 'Client_Cert_Thumbprint'], 'sticky'],
    ['only WEBSITE_LOAD_CERTIFICATES owned and sticky', [], ['WEBSITE_LOAD_CERTIFICATES'], 'sticky'],
    ['one of two thumbprint settings sticky', ['A_THUMBPRINT', 'B_THUMBPRINT'], ['WEBSITE_LOAD_CERTIFICATES', 'A_THUMBPRINT'], 'split'],
  ])('%s', (_what, owned, sticky, behaviour) => {
    expect(swapBehaviourOf(owned, sticky).behaviour).toBe(behaviour);
  });
});
