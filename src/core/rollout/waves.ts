// How the apps of one source are cut into waves: pure functions of the members, the wave sizes and the tags.
import { createHash } from 'node:crypto';
import type { RolloutApp, RolloutWave } from './model.js';

/** One wave before the last: a number of apps, or a percentage of the source's apps (rounded up, at least 1). */
export type WaveSize = { apps: number } | { percent: number };

/**
 * ROLLOUT_WAVES: the sizes of the waves before the last one, which takes the rest ("1,10%" = canary, 10 %, the rest),
 * or "off" (every due app at once, as before rollouts). Returns a problem text instead when the value is not that.
 */
export function parseWaveSpec(text: string): WaveSize[] | 'off' | string {
  const value = text.trim().toLowerCase();
  if (value === 'off') return 'off';
  const entries = value.split(',').map((e) => e.trim());
  if (entries.length > 5) return 'must list at most 5 wave sizes (the last wave, the rest, is implied)';
  const sizes: WaveSize[] = [];
  for (const entry of entries) {
    const percent = /^(\d{1,2})%$/.exec(entry);
    if (percent && Number(percent[1]) >= 1) sizes.push({ percent: Number(percent[1]) });
    else if (/^\d{1,4}$/.test(entry) && Number(entry) >= 1 && Number(entry) <= 1000) sizes.push({ apps: Number(entry) });
    else return `must be 'off' or comma-separated wave sizes, each a number of apps (1-1000) or a percentage (1%-99%), e.g. '1,10%'; '${entry}' is neither`;
  }
  return sizes;
}

export interface RolloutMember {
  appId: string;
  name: string;
  /** Tagged `<prefix>-canary=true`. */
  canary: boolean;
  expiresAt?: string;
}

/** The production site of a slot's app id, or undefined for a site. */
export function siteIdOf(appId: string): string | undefined {
  const match = /^(.*\/providers\/microsoft\.web\/sites\/[^/]+)\/slots\/[^/]+$/i.exec(appId);
  return match ? match[1]!.toLowerCase() : undefined;
}

/**
 * The waves of one rollout. The canary is an app tagged as such, else a staging slot whose site is a member (a canary
 * that runs the real app code), else a pick that is stable for the source but differs between sources (so one app is
 * not everyone's guinea pig). Every slot rotates in an earlier wave than its production site. Empty waves are dropped.
 */
export function buildWaves(members: readonly RolloutMember[], sizes: readonly WaveSize[], key: string): RolloutWave[] {
  if (members.length === 0) return [];
  const ids = new Set(members.map((m) => m.appId.toLowerCase()));
  const isStaging = (m: RolloutMember) => {
    const site = siteIdOf(m.appId);
    return site !== undefined && ids.has(site);
  };
  const rank = (m: RolloutMember) => createHash('sha256').update(`${key}\n${m.appId.toLowerCase()}`).digest('hex');
  const ordered = [...members].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
  const canary =
    ordered.filter((m) => m.canary).sort((a, b) => a.name.localeCompare(b.name))[0] ?? ordered.find(isStaging) ?? ordered[0]!;
  // Slots first, so they land in the early waves, before their sites.
  const rest = ordered.filter((m) => m !== canary);
  const queue = [canary, ...rest.filter(isStaging), ...rest.filter((m) => !isStaging(m))];

  const total = members.length;
  const counts: number[] = [];
  let left = total;
  for (const size of sizes) {
    if (left <= 0) break;
    const n = 'apps' in size ? size.apps : Math.ceil((total * size.percent) / 100);
    const take = Math.min(left, Math.max(1, n));
    counts.push(take);
    left -= take;
  }
  if (left > 0) counts.push(left);

  const waveOf = new Map<string, number>();
  let index = 0;
  counts.forEach((count, wave) => {
    for (let i = 0; i < count; i += 1) waveOf.set(queue[index++]!.appId, wave);
  });
  // Staging first: a site never shares a wave with (or precedes) its own slot; it moves to the wave after.
  for (const member of queue) {
    const site = siteIdOf(member.appId);
    if (site === undefined) continue;
    const siteMember = members.find((m) => m.appId.toLowerCase() === site);
    if (!siteMember) continue;
    const slotWave = waveOf.get(member.appId)!;
    if (waveOf.get(siteMember.appId)! <= slotWave) waveOf.set(siteMember.appId, slotWave + 1);
  }
  const waves: RolloutWave[] = [];
  for (const member of queue) {
    const wave = waveOf.get(member.appId)!;
    while (waves.length <= wave) waves.push({ apps: [] });
    const app: RolloutApp = { appId: member.appId, name: member.name, state: 'pending' };
    if (member === canary) app.role = 'canary';
    else if (isStaging(member)) app.role = 'staging';
    if (member.expiresAt) app.expiresAt = member.expiresAt;
    waves[wave]!.apps.push(app);
  }
  return waves.filter((w) => w.apps.length > 0);
}

/** `wave 1 of 3: orders (canary) committed`: one line per wave, for the plan, the CLI and logs. */
export function describeWaves(waves: readonly RolloutWave[], limit = 8): string[] {
  return waves.map((wave, i) => {
    const names = wave.apps.slice(0, limit).map((a) => `${a.name}${a.role ? ` (${a.role})` : ''}${a.state === 'pending' ? '' : ` ${a.state}`}`);
    const more = wave.apps.length > limit ? `, … ${wave.apps.length - limit} more` : '';
    return `wave ${i + 1} of ${waves.length}: ${names.join(', ')}${more}`;
  });
}
