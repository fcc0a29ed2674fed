import { describe, expect, it } from 'vitest';
import { buildWaves, describeWaves, parseWaveSpec, siteIdOf, type RolloutMember } from '../../../src/core/rollout/waves.js';

const SITE = (name: string) => `/subscriptions/s/resourcegroups/rg/providers/microsoft.web/sites/${name}`;
const member = (name: string, extra: Partial<RolloutMember> = {}): RolloutMember => ({
  appId: name.includes('/') ? `${SITE(name.split('/')[0]!)}/slots/${name.split('/')[1]}` : SITE(name),
  name,
  canary: false,
  ...extra,
});
const fleet = (n: number) => Array.from({ length: n }, (_, i) => member(`app${i + 1}`));

describe('parseWaveSpec (ROLLOUT_WAVES)', () => {
  it.each([
    ['the default: canary, 10 %, the rest', '1,10%', [{ apps: 1 }, { percent: 10 }]],
    ['off: every app at once', 'OFF', 'off'],
    ['counts and percentages mixed, spaces allowed', ' 2 , 25% ,5', [{ apps: 2 }, { percent: 25 }, { apps: 5 }]],
  ])('%s', (_s, text, expected) => {
    expect(parseWaveSpec(text)).toEqual(expected);
  });

  it.each([
    ['a zero count', '0,10%', "'0'"],
    ['a 100 % wave (the last wave is always the rest)', '1,100%', "'100%'"],
    ['a word', '1,half', "'half'"],
    ['more than five sizes', '1,1,1,1,1,1', 'at most 5'],
  ])('refuses %s, naming the entry', (_s, text, named) => {
    const problem = parseWaveSpec(text);
    expect(typeof problem === 'string' && problem !== 'off').toBe(true);
    expect(problem).toContain(named);
  });
});

describe('buildWaves', () => {
  it.each([
    ['twenty apps: canary, 10 % (2), the rest', 20, [1, 2, 17]],
    ['two apps: a canary and the other', 2, [1, 1]],
    ['three apps: 10 % of 3 rounds up to one', 3, [1, 1, 1]],
    ['a hundred apps: 1, 10, 89', 100, [1, 10, 89]],
  ])('%s', (_s, n, sizes) => {
    const waves = buildWaves(fleet(n), [{ apps: 1 }, { percent: 10 }], 'key');
    expect(waves.map((w) => w.apps.length)).toEqual(sizes);
    expect(new Set(waves.flatMap((w) => w.apps.map((a) => a.appId))).size).toBe(n);
    expect(waves[0]!.apps[0]!.role).toBe('canary');
  });

  it('an app tagged as canary is the canary, whatever the pick would have been', () => {
    const apps = fleet(10);
    apps[7]!.canary = true;
    expect(buildWaves(apps, [{ apps: 1 }, { percent: 10 }], 'key')[0]!.apps.map((a) => a.name)).toEqual(['app8']);
  });

  it('the pick without a tag is stable for a source and not the same app for every source', () => {
    const first = buildWaves(fleet(20), [{ apps: 1 }], 'source-a')[0]!.apps[0]!.name;
    expect(buildWaves(fleet(20).reverse(), [{ apps: 1 }], 'source-a')[0]!.apps[0]!.name).toBe(first);
    const picks = new Set(['b', 'c', 'd', 'e', 'f', 'g'].map((k) => buildWaves(fleet(20), [{ apps: 1 }], `source-${k}`)[0]!.apps[0]!.name));
    expect(picks.size).toBeGreaterThan(1);
  });

  it('a staging slot whose site loads the same source is the canary, and its site comes in a later wave', () => {
    const apps = [member('orders'), member('orders/staging'), ...fleet(5)];
    const waves = buildWaves(apps, [{ apps: 1 }, { percent: 10 }], 'key');
    expect(waves[0]!.apps.map((a) => [a.name, a.role])).toEqual([['orders/staging', 'canary']]);
    expect(waves.findIndex((w) => w.apps.some((a) => a.name === 'orders'))).toBeGreaterThan(0);
  });

  it('with a tagged canary elsewhere, every slot still rotates in an earlier wave than its site', () => {
    const apps = [member('a'), member('a/staging'), member('b'), member('b/staging'), member('c', { canary: true })];
    const waves = buildWaves(apps, [{ apps: 1 }, { apps: 3 }], 'key');
    const waveOf = (name: string) => waves.findIndex((w) => w.apps.some((x) => x.name === name));
    expect(waveOf('c')).toBe(0);
    expect(waveOf('a')).toBeGreaterThan(waveOf('a/staging'));
    expect(waveOf('b')).toBeGreaterThan(waveOf('b/staging'));
  });

  it('siteIdOf names the production site of a slot and nothing for a site', () => {
    expect(siteIdOf(`${SITE('orders')}/slots/staging`)).toBe(SITE('orders'));
    expect(siteIdOf(SITE('orders'))).toBeUndefined();
  });

  it('describes each wave in one line: `wave 1 of 3: orders (canary) …`', () => {
    const apps = [member('orders', { canary: true }), member('billing'), member('shipping')];
    const lines = describeWaves(buildWaves(apps, [{ apps: 1 }, { apps: 1 }], 'key'));
    expect(lines[0]).toBe('wave 1 of 3: orders (canary)');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^wave 3 of 3: (billing|shipping)$/);
  });
});
