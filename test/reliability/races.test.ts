// Races: the nightly timer, a manual HTTP run and a queue message (delivered twice) ask for the same app at once,
// each in its own rotator with its own lease owner; exactly one rotation may start per app. And an operator who
// edits an owned setting between the switch and a rollback keeps their value: the rollback reports a conflict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { Config } from '../../src/core/index.js';
import { appIdOf } from '../../src/core/identity.js';
import type { RotationRecord } from '../../src/core/records.js';
import { useAzurite } from '../helpers/azurite.js';
import { Capture, configFor, engine, OWNED_SETTING, refOf, reliabilityScenario, rng, ShiftClock, SUB, suiteSeed, thumbprintOf, unownedSettings } from './world.js';

const RACED = ['race-0', 'race-1', 'race-2'];
const OPERATED = 'operated';

const azurite = useAzurite();
const clock = new ShiftClock();
const capture = new Capture();
const seed = suiteSeed('races');
const random = rng(seed);
let sb: Sandbox;
let config: Config;

beforeAll(async () => {
  sb = await startSandbox(reliabilityScenario([...RACED.map((name) => ({ name, kind: 'ok' as const })), { name: OPERATED, kind: 'rollback' }]));
  config = configFor(sb, azurite().connectionString);
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

describe('races', () => {
  it('timer, HTTP and a duplicated queue message for the same app at once start one rotation; an operator edit survives a rollback', async () => {
    const triggers = [
      ['timer', 'timer'],
      ['http', 'http'],
      ['queue', 'queue'],
      ['queue', 'queue-duplicate'],
    ] as const;
    const figures = { apps: 0, startedPerApp: [] as number[], skippedInProgress: 0, skippedOther: [] as string[], duplicateUploads: 0, conflicts: 0, overwritten: 0 };
    for (const app of RACED) {
      const start = sb.control.appSettings(refOf(app));
      // Seeded start offsets (0–40 ms), so interleavings differ between seeds and replay with one.
      const results = await Promise.all(
        triggers.map(async ([trigger, owner]) => {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 40)));
          return engine(sb, config, { clock, capture, owner: `${owner}-${app}` }).rotator.rotateApp(app, { trigger });
        }),
      );
      capture.add(results);
      figures.apps += 1;
      const started = results.filter((r) => r.outcome !== 'skipped');
      figures.startedPerApp.push(started.length);
      for (const r of results.filter((x) => x.outcome === 'skipped')) {
        if (r.reason === 'InProgress') figures.skippedInProgress += 1;
        else figures.skippedOther.push(`${app}: ${r.reason}`);
      }
      expect(started.map((r) => r.outcome)).toEqual(['committed']);
      const renewed = thumbprintOf(sb, 'latest');
      const uploads = sb.control.certificates(SUB).filter((c) => c.resourceGroup === `rg-${app}` && c.thumbprint === renewed);
      figures.duplicateUploads += uploads.length - 1;
      expect(sb.control.loadedThumbprints(refOf(app))).toEqual([renewed]);
      expect(unownedSettings(sb.control.appSettings(refOf(app)))).toEqual(unownedSettings(start));
    }

    // The operator: between the switch and the rollback (verification fails for this app), they set the owned
    // setting by hand. The rollback must restore what it owns and leave their key alone, reporting the conflict.
    const ref = refOf(OPERATED);
    const old = thumbprintOf(sb, 0);
    // The operator puts the old certificate back by hand, in their own spelling (lowercase): a value the rollback
    // did not write, so it must be left alone, and one the app can run on, so the rollback still verifies.
    const OPERATOR_VALUE = old.toLowerCase();
    const rotator = engine(sb, config, {
      clock,
      capture,
      owner: 'timer-operated',
      faultHook: (boundary) => {
        if (boundary !== 'afterRestart') return;
        const now = sb.control.appSettings(ref);
        sb.control.setAppSettings(ref, { ...now, [OWNED_SETTING]: OPERATOR_VALUE });
      },
    }).rotator;
    const result = await rotator.rotateApp(OPERATED, { trigger: 'timer' });
    capture.add(result);
    expect(result.outcome, `${result.reason} ${result.error} ${JSON.stringify(result.record?.steps?.slice(-3))}`).toBe('rolledBack');
    const [record] = (await engine(sb, config, { clock, capture, owner: 'reader' }).deps.store.listForApp(appIdOf(ref), 1)) as RotationRecord[];
    capture.add(record);
    const settings = sb.control.appSettings(ref);
    if (record?.conflicts?.includes(OWNED_SETTING)) figures.conflicts += 1;
    if (settings[OWNED_SETTING] !== OPERATOR_VALUE) figures.overwritten += 1;
    expect(settings.WEBSITE_LOAD_CERTIFICATES?.trim()).toBe(old);
    expect(sb.control.loadedThumbprints(ref)).toEqual([old]);
    expect(capture.lines.some((l) => l.includes('RotationConflict'))).toBe(true);

    const maxStarted = Math.max(...figures.startedPerApp);
    console.log(
      `races: ${figures.apps} apps × ${triggers.length} simultaneous requests → rotations started per app max ${maxStarted}, ${figures.skippedInProgress} skipped InProgress, ${figures.skippedOther.length} skipped otherwise${figures.skippedOther.length ? ` (${figures.skippedOther.join('; ')})` : ''}, ${figures.duplicateUploads} duplicate uploads; operator edit: ${figures.conflicts} conflict reported, ${figures.overwritten} overwritten (seed ${seed})`,
    );
    expect(figures.startedPerApp).toEqual(RACED.map(() => 1));
    expect(figures.duplicateUploads).toBe(0);
    expect(figures.conflicts).toBe(1);
    expect(figures.overwritten).toBe(0);
  }, 60_000);

  it('no key material in any log line, telemetry envelope or record of these runs', async () => {
    capture.add(await engine(sb, config, { clock, capture, owner: 'reader' }).deps.store.listAll());
    const leaks = capture.leaks();
    console.log(`secrets (races): ${leaks.pfx} PFX, ${leaks.password} passwords, ${leaks.privateKey} private keys in ${leaks.lines} captured lines`);
    expect(capture.secrets.password.size).toBeGreaterThan(0);
    expect(leaks).toMatchObject({ pfx: 0, password: 0, privateKey: 0 });
  });
});
