// The timer scheduler on real (short) schedules: registrations come from real `app.timer` calls.
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { afterEach, describe, expect, it } from 'vitest';
import { captureRegistrations, type Registration } from '../../src/host/capture.js';
import { InvocationTracker } from '../../src/host/invocation.js';
import { LocalHostConfigError } from '../../src/host/settings.js';
import { TimerScheduler } from '../../src/host/timers.js';

interface Run {
  at: number;
  timer: Timer;
}

let scheduler: TimerScheduler | undefined;
afterEach(() => scheduler?.stop());

async function timerFunction(name: string, options: { schedule: string; runOnStartup?: boolean; workMs?: number }): Promise<{ registration: Registration; runs: Run[] }> {
  const runs: Run[] = [];
  const [registration] = await captureRegistrations(() =>
    app.timer(name, {
      schedule: options.schedule,
      ...(options.runOnStartup !== undefined ? { runOnStartup: options.runOnStartup } : {}),
      handler: async (timer: Timer, _context: InvocationContext) => {
        runs.push({ at: Date.now(), timer });
        if (options.workMs) await new Promise((r) => setTimeout(r, options.workMs));
      },
    }),
  );
  return { registration: registration!, runs };
}

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('TimerScheduler', () => {
  it('fires an every-second schedule on whole seconds and reports the previous occurrence as last', async () => {
    const { registration, runs } = await timerFunction('everySecond', { schedule: '* * * * * *' });
    scheduler = new TimerScheduler([registration], {}, () => undefined, new InvocationTracker());
    scheduler.start({ scheduled: true, runOnStartup: true });
    await until(() => runs.length >= 2);
    scheduler.stop();
    const [first, second] = runs as [Run, Run];
    expect(first.timer.isPastDue).toBe(false);
    expect(first.timer.scheduleStatus.last).toBe('0001-01-01T00:00:00.000Z');
    // The second run's last occurrence is the first run's; its next is one second after its own.
    expect(second.timer.scheduleStatus.last).toMatch(/\.000Z$/);
    expect(Date.parse(first.timer.scheduleStatus.next) - Date.parse(second.timer.scheduleStatus.last)).toBe(1000);
    expect(Date.parse(second.timer.scheduleStatus.next) - Date.parse(second.timer.scheduleStatus.last)).toBe(2000);
  });

  it('honours runOnStartup with a schedule far away, and reports it never ran before', async () => {
    const { registration, runs } = await timerFunction('startupOnly', { schedule: '0 0 0 1 1 *', runOnStartup: true });
    scheduler = new TimerScheduler([registration], {}, () => undefined, new InvocationTracker());
    scheduler.start({ scheduled: true, runOnStartup: true });
    await until(() => runs.length === 1);
    expect(runs[0]!.timer.scheduleStatus.last).toBe('0001-01-01T00:00:00.000Z');
    expect(runs[0]!.timer.scheduleStatus.next).toMatch(/-01-01T00:00:00\.000Z$/);
  });

  it('does not run on startup when the host is told not to', async () => {
    const { registration, runs } = await timerFunction('startupSuppressed', { schedule: '0 0 0 1 1 *', runOnStartup: true });
    const tracker = new InvocationTracker();
    scheduler = new TimerScheduler([registration], {}, () => undefined, tracker);
    scheduler.start({ scheduled: false, runOnStartup: false });
    expect(tracker.count).toBe(0);
    expect(runs).toEqual([]);
    expect(scheduler.nextRuns()).toEqual({ startupSuppressed: undefined });
  });

  it('skips an occurrence while the previous run is still going, instead of overlapping', async () => {
    const { registration, runs } = await timerFunction('slow', { schedule: '* * * * * *', workMs: 1_600 });
    const log: string[] = [];
    scheduler = new TimerScheduler([registration], {}, (l) => log.push(l), new InvocationTracker());
    scheduler.start({ scheduled: true, runOnStartup: false });
    await until(() => log.some((l) => l.includes("timer 'slow': skipping the")));
    expect(runs).toHaveLength(1);
  });

  it('resolves a %SETTING% schedule and names the function when the setting is missing or invalid', async () => {
    const { registration } = await timerFunction('fromSetting', { schedule: '%MY_SCHEDULE%' });
    expect(() => new TimerScheduler([registration], {}, () => undefined, new InvocationTracker())).toThrow(
      new LocalHostConfigError("timer function 'fromSetting' schedule refers to app setting '%MY_SCHEDULE%', which is not set"),
    );
    expect(() => new TimerScheduler([registration], { MY_SCHEDULE: '0 0 25 * * *' }, () => undefined, new InvocationTracker())).toThrow(
      /timer function 'fromSetting' schedule: invalid NCRONTAB expression '0 0 25 \* \* \*': hour value 25 is out of range 0-23/,
    );
    const ok = new TimerScheduler([registration], { MY_SCHEDULE: '0 0 2 * * *' }, () => undefined, new InvocationTracker());
    ok.start({ scheduled: true, runOnStartup: false });
    expect(ok.nextRuns().fromSetting).toMatch(/T02:00:00\.000Z$/);
    ok.stop();
  });
});
