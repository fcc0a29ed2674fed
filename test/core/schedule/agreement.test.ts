// One NCRONTAB reading for the two places a schedule is judged: loadConfig (ROTATION_SCHEDULE at start-up) and the
// local host arming the timer of the real nightlyScan registration (`%ROTATION_SCHEDULE%`). Five fields are accepted
// with second 0, as the Functions timer extension does (it parses exactly five fields without seconds).
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { captureRegistrations } from '../../../src/host/capture.js';
import { InvocationTracker } from '../../../src/host/invocation.js';
import { TimerScheduler } from '../../../src/host/timers.js';

const [registration] = await captureRegistrations(() =>
  app.timer('scheduled', { schedule: '%ROTATION_SCHEDULE%', handler: async (_timer: Timer, _context: InvocationContext) => undefined }),
);

function configAccepts(schedule: string): boolean {
  try {
    loadConfig({ AZURE_SUBSCRIPTION_IDS: '11111111-2222-3333-4444-555555555555', AzureWebJobsStorage: 'UseDevelopmentStorage=true', ROTATION_SCHEDULE: schedule });
    return true;
  } catch (error) {
    // Only a refusal of this setting counts; anything else would be a broken fixture.
    if (error instanceof ConfigError && error.problems.every((p) => p.startsWith('ROTATION_SCHEDULE '))) return false;
    throw error;
  }
}

function hostArms(schedule: string): boolean {
  try {
    new TimerScheduler([registration!], { ROTATION_SCHEDULE: schedule }, () => undefined, new InvocationTracker()).stop();
    return true;
  } catch {
    return false;
  }
}

describe('a schedule is accepted by the settings exactly when the host can arm a timer with it', () => {
  it.each([
    ['the nightly default (6 fields)', '0 0 2 * * *', true],
    ['the probe default (6 fields, a step)', '0 */5 * * * *', true],
    ['ranges, steps, lists and names (6 fields)', '0 0-30/10 8-18 1,15 JAN-MAR mon-fri', true],
    ['five fields, read as minute-level with second 0', '0 2 * * *', true],
    ['five fields with a step', '*/15 * * * *', true],
    ['four fields', '0 2 * *', false],
    ['seven fields (no year field in NCRONTAB)', '0 0 2 * * * 2030', false],
    ['day 0 (days of the month start at 1)', '0 0 0 0 * *', false],
    ['an hour out of range', '0 0 25 * * *', false],
    ['a step of zero', '0 */0 * * * *', false],
    ['a backwards range', '0 0 9-5 * * *', false],
    ['day-of-week 7 (NCrontab stops at 6)', '0 0 0 * * 7', false],
    ['a question mark (Quartz, not NCrontab)', '0 0 0 ? * *', false],
    ['a word', 'nightly', false],
  ])('%s', (_sentence, schedule, accepted) => {
    expect({ config: configAccepts(schedule), host: hostArms(schedule) }).toEqual({ config: accepted, host: accepted });
  });
});
