// Timer triggers on their NCRONTAB schedules. Like the host, a timer function never overlaps itself: an
// occurrence that comes while the previous run is still going is skipped (and logged), not queued.
import type { Timer } from '@azure/functions';
import type { Registration } from './capture.js';
import { createInvocationContext, describeThrown, type HostLog, type InvocationTracker } from './invocation.js';
import { nextOccurrence, NcrontabError, parseNcrontab, type CronSchedule } from '../core/schedule/ncrontab.js';
import { LocalHostConfigError, resolveSettingReferences } from './settings.js';

// setTimeout stores its delay in a signed 32-bit int; longer waits (a yearly schedule) are chained.
const MAX_TIMEOUT_MS = 2_147_483_647;
// A run that starts this much later than its occurrence (event loop stall, machine asleep) is past due.
const PAST_DUE_TOLERANCE_MS = 1_000;
// What the host reports as "never ran" (DateTime.MinValue).
const NEVER = '0001-01-01T00:00:00.000Z';

export interface TimerOptions {
  /** Arm the schedules (default true). False: timers run only through `invoke` (tests, demos). */
  scheduled: boolean;
  /** Honour `runOnStartup` (default true). */
  runOnStartup: boolean;
}

interface TimerState {
  registration: Registration;
  schedule: CronSchedule;
  runOnStartup: boolean;
  handle?: NodeJS.Timeout;
  running: boolean;
  last?: Date;
  next?: Date;
}

export class TimerScheduler {
  readonly #timers = new Map<string, TimerState>();
  #stopped = false;

  constructor(
    registrations: readonly Registration[],
    settings: Readonly<Record<string, string | undefined>>,
    private readonly log: HostLog,
    private readonly tracker: InvocationTracker,
  ) {
    for (const registration of registrations) {
      const where = `timer function '${registration.name}' schedule`;
      const raw = registration.trigger.schedule;
      if (typeof raw !== 'string') throw new LocalHostConfigError(`${where} is missing`);
      let schedule: CronSchedule;
      try {
        schedule = parseNcrontab(resolveSettingReferences(raw, settings, where));
      } catch (err) {
        if (err instanceof NcrontabError) throw new LocalHostConfigError(`${where}: ${err.message}`);
        throw err;
      }
      this.#timers.set(registration.name.toLowerCase(), {
        registration,
        schedule,
        runOnStartup: registration.trigger.runOnStartup === true,
        running: false,
      });
    }
  }

  start(options: TimerOptions): void {
    for (const state of this.#timers.values()) {
      if (options.scheduled) {
        this.#arm(state, nextOccurrence(state.schedule, new Date()));
        this.log(`timer '${state.registration.name}' (${state.schedule.expression}, UTC) next at ${state.next?.toISOString()}`);
      }
      if (options.runOnStartup && state.runOnStartup) {
        void this.#run(state, new Date(), false).catch(() => undefined);
      }
    }
  }

  /** Runs the timer function now, as the admin endpoint does; rejects with whatever the handler threw. */
  invoke(name: string): Promise<void> {
    const state = this.#timers.get(name.toLowerCase());
    if (state === undefined) {
      return Promise.reject(new Error(`no timer function named '${name}' (have: ${[...this.#timers.values()].map((t) => t.registration.name).join(', ') || 'none'})`));
    }
    return this.#run(state, new Date(), false);
  }

  has(name: string): boolean {
    return this.#timers.has(name.toLowerCase());
  }

  nextRuns(): Record<string, string | undefined> {
    return Object.fromEntries([...this.#timers.values()].map((t) => [t.registration.name, t.next?.toISOString()]));
  }

  stop(): void {
    this.#stopped = true;
    for (const state of this.#timers.values()) {
      if (state.handle !== undefined) clearTimeout(state.handle);
      state.handle = undefined;
    }
  }

  #arm(state: TimerState, at: Date): void {
    if (this.#stopped) return;
    state.next = at;
    const delay = Math.min(Math.max(at.getTime() - Date.now(), 0), MAX_TIMEOUT_MS);
    state.handle = setTimeout(() => {
      state.handle = undefined;
      if (Date.now() < at.getTime()) {
        this.#arm(state, at);
        return;
      }
      // Arm the following occurrence first, so a long run does not shift the schedule.
      this.#arm(state, nextOccurrence(state.schedule, at));
      if (state.running) {
        this.log(`timer '${state.registration.name}': skipping the ${at.toISOString()} occurrence, the previous run is still going`);
        return;
      }
      void this.#run(state, at, Date.now() - at.getTime() > PAST_DUE_TOLERANCE_MS).catch(() => undefined);
    }, delay);
    // Timers must not keep a process alive on their own; the HTTP server or the caller does that.
    state.handle.unref();
  }

  #run(state: TimerState, scheduled: Date, isPastDue: boolean): Promise<void> {
    const { registration } = state;
    const timer: Timer = {
      isPastDue,
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: state.last?.toISOString() ?? NEVER,
        next: (state.next ?? nextOccurrence(state.schedule, scheduled)).toISOString(),
        lastUpdated: new Date().toISOString(),
      },
    };
    const context = createInvocationContext(registration, this.log);
    state.running = true;
    state.last = scheduled;
    this.log(`executing '${registration.name}' (timer${isPastDue ? ', past due' : ''}, id ${context.invocationId})`);
    const work = (async () => {
      try {
        await registration.handler(timer, context);
        this.log(`executed '${registration.name}' (succeeded, id ${context.invocationId})`);
      } catch (err) {
        this.log(`executed '${registration.name}' (failed, id ${context.invocationId}): ${describeThrown(err)}`);
        throw err;
      } finally {
        state.running = false;
      }
    })();
    return this.tracker.track(work);
  }
}
