// The trust suite: every attack of test/security/attacks/ against the real engine, SDKs and sandbox. It prints one
// figure line, `trust: N attacks tried, S succeeded, W writes, T tokens sent off a vault host`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import type { Attack, AttackGroup, AttackOutcome } from './harness.js';

// Every file of ./attacks/ is a group (or a list of them): adding attacks never edits this runner.
const files = readdirSync(new URL('./attacks/', import.meta.url)).filter((f) => f.endsWith('.ts')).sort();
const groups: AttackGroup[] = [];
for (const file of files) {
  const module = (await import(`./attacks/${file}`)) as { default: AttackGroup | AttackGroup[] };
  groups.push(...(Array.isArray(module.default) ? module.default : [module.default]));
}

const tally = { tried: 0, succeeded: 0, writes: 0, tokens: 0 };

for (const group of groups) {
  describe(group.name, () => {
    let world: unknown;
    let ready = false;
    beforeAll(async () => {
      world = await group.setup();
      ready = true;
    });
    afterAll(async () => {
      if (ready) await group.teardown(world);
    });
    it.each(group.attacks.map((a): [string, Attack<unknown>] => [a.name, a]))('%s', async (_name, attack) => {
      tally.tried += 1;
      let outcome: AttackOutcome;
      try {
        outcome = await attack.attempt(world);
      } catch (error) {
        throw new Error(`the attack itself broke (not a defence): ${(error as Error).stack ?? String(error)}`);
      }
      if (outcome.succeeded) tally.succeeded += 1;
      tally.writes += outcome.writes;
      tally.tokens += outcome.tokensOffVault;
      expect(outcome.succeeded, outcome.evidence ?? 'the attack succeeded').toBe(false);
      expect(outcome.writes, `ARM writes caused: ${outcome.evidence ?? ''}`).toBe(0);
      expect(outcome.tokensOffVault, `tokens sent off a vault host: ${outcome.evidence ?? ''}`).toBe(0);
    });
  });
}

afterAll(() => {
  console.log(`trust: ${tally.tried} attacks tried, ${tally.succeeded} succeeded, ${tally.writes} writes, ${tally.tokens} tokens sent off a vault host`);
  expect(tally.tried, 'the trust suite must try at least 40 attacks').toBeGreaterThanOrEqual(40);
});
