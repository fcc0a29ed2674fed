// NCRONTAB schedules as the Functions timer trigger reads them:
//   {second} {minute} {hour} {day} {month} {day-of-week}
// Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from a to the field's maximum),
// or a comma list of those. Months and days of week also take three-letter English names (JAN, MON),
// case-insensitive. Day of week is 0-6 with 0 = Sunday, as in NCrontab (7 is rejected, not folded onto 0).
// Five fields (no seconds) are accepted like the host does, with second 0: the timer extension parses an
// expression of exactly five fields without seconds and any other with (azure-webjobs-sdk-extensions,
// Timers/Scheduling/CronSchedule.cs, CreateParseOptions). One module for the setting's validation (config.ts)
// and the local host's timers, so what loadConfig accepts is what a timer can be armed with.
//
// Two deliberate choices, both the host's:
// - Times are UTC. Azure runs timers in UTC unless WEBSITE_TIME_ZONE is set; the local runner has no such
//   setting, so a schedule here fires at the same instants as in a default Azure deployment.
// - When both day-of-month and day-of-week are restricted, a date must match BOTH (NCrontab), not either
//   (Vixie cron). "0 0 0 13 * FRI" is Friday the 13th only.

export class NcrontabError extends Error {
  override readonly name = 'NcrontabError';
  constructor(
    readonly expression: string,
    readonly detail: string,
  ) {
    super(`invalid NCRONTAB expression '${expression}': ${detail}`);
  }
}

export interface CronSchedule {
  expression: string;
  seconds: readonly number[];
  minutes: readonly number[];
  hours: readonly number[];
  days: readonly number[];
  months: readonly number[];
  daysOfWeek: readonly number[];
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELDS: readonly FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 6, names: DAY_NAMES },
];

// Longest month per month number, Feb counted with its leap day.
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

// A (month, day) pair that exists recurs on every weekday within 28 years, 40 across a non-leap century year
// (Feb 29 on a given weekday); past that bound the search gives up rather than loop forever.
const SEARCH_LIMIT_DAYS = 60 * 366;

const DAY_MS = 86_400_000;

export function parseNcrontab(expression: string): CronSchedule {
  const trimmed = expression.trim();
  if (trimmed === '') throw new NcrontabError(expression, 'it is empty; expected 6 fields: second minute hour day month day-of-week');
  const parts = trimmed.split(/\s+/);
  if (parts.length === 5) parts.unshift('0');
  if (parts.length !== 6) {
    throw new NcrontabError(
      expression,
      `expected 6 fields (second minute hour day month day-of-week), got ${parts.length}`,
    );
  }
  const [seconds, minutes, hours, days, months, daysOfWeek] = parts.map((part, i) => parseField(expression, part, FIELDS[i]!));
  const schedule: CronSchedule = {
    expression: trimmed,
    seconds: seconds!,
    minutes: minutes!,
    hours: hours!,
    days: days!,
    months: months!,
    daysOfWeek: daysOfWeek!,
  };
  if (!schedule.months.some((m) => schedule.days.some((d) => d <= MAX_DAYS_IN_MONTH[m - 1]!))) {
    throw new NcrontabError(expression, `no selected month has day ${schedule.days.join(',')}: the schedule never fires`);
  }
  return schedule;
}

/** The first instant strictly after `after` (whole seconds, UTC) that the schedule selects. */
export function nextOccurrence(expression: string | CronSchedule, after: Date): Date {
  const schedule = typeof expression === 'string' ? parseNcrontab(expression) : expression;
  if (Number.isNaN(after.getTime())) throw new RangeError('nextOccurrence: `after` is an invalid Date');
  const start = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const startDay = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  const startSecondOfDay = (start.getTime() - startDay) / 1000;

  for (let i = 0; i <= SEARCH_LIMIT_DAYS; i++) {
    const dayStart = startDay + i * DAY_MS;
    const date = new Date(dayStart);
    if (!dateMatches(schedule, date)) continue;
    const fromSecond = i === 0 ? startSecondOfDay : 0;
    const secondOfDay = firstTimeOfDayAtOrAfter(schedule, fromSecond);
    if (secondOfDay !== undefined) return new Date(dayStart + secondOfDay * 1000);
  }
  throw new NcrontabError(schedule.expression, `no occurrence within ${SEARCH_LIMIT_DAYS / 366} years after ${after.toISOString()}`);
}

function dateMatches(schedule: CronSchedule, date: Date): boolean {
  return (
    schedule.months.includes(date.getUTCMonth() + 1) &&
    schedule.days.includes(date.getUTCDate()) &&
    schedule.daysOfWeek.includes(date.getUTCDay())
  );
}

function firstTimeOfDayAtOrAfter(schedule: CronSchedule, fromSecond: number): number | undefined {
  // The field lists are sorted, so the first candidate found in hour/minute/second order is the earliest.
  for (const h of schedule.hours) {
    if ((h + 1) * 3600 <= fromSecond) continue;
    for (const m of schedule.minutes) {
      if (h * 3600 + (m + 1) * 60 <= fromSecond) continue;
      for (const s of schedule.seconds) {
        const t = h * 3600 + m * 60 + s;
        if (t >= fromSecond) return t;
      }
    }
  }
  return undefined;
}

function parseField(expression: string, text: string, spec: FieldSpec): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw new NcrontabError(expression, `${spec.name} field '${text}' has an empty list item`);
    for (const v of parseItem(expression, item, spec)) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function parseItem(expression: string, item: string, spec: FieldSpec): number[] {
  const [rangeText, stepText, extra] = item.split('/');
  if (extra !== undefined) throw new NcrontabError(expression, `${spec.name} item '${item}' has more than one '/'`);
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
      throw new NcrontabError(expression, `${spec.name} step in '${item}' must be a positive integer`);
    }
    step = Number(stepText);
  }
  let from: number;
  let to: number;
  if (rangeText === '*') {
    from = spec.min;
    to = spec.max;
  } else if (rangeText !== undefined && rangeText.includes('-')) {
    const [a, b, more] = rangeText.split('-');
    if (more !== undefined || a === '' || b === '') {
      throw new NcrontabError(expression, `${spec.name} range '${rangeText}' must look like a-b`);
    }
    from = parseValue(expression, a!, spec);
    to = parseValue(expression, b!, spec);
    if (from > to) throw new NcrontabError(expression, `${spec.name} range '${rangeText}' runs backwards`);
  } else {
    from = parseValue(expression, rangeText ?? '', spec);
    // NCrontab reads "a/n" as "from a to the end of the field, every n".
    to = stepText !== undefined ? spec.max : from;
  }
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

function parseValue(expression: string, text: string, spec: FieldSpec): number {
  let value: number;
  if (/^\d+$/.test(text)) {
    value = Number(text);
  } else if (spec.names !== undefined && /^[A-Za-z]{3}$/.test(text)) {
    const index = spec.names.indexOf(text.toUpperCase() as never);
    if (index < 0) throw new NcrontabError(expression, `${spec.name} name '${text}' is unknown (use ${spec.names.join(', ')})`);
    value = index + spec.min;
  } else {
    throw new NcrontabError(expression, `${spec.name} value '${text}' is not a number${spec.names ? ' or a name' : ''}`);
  }
  if (value < spec.min || value > spec.max) {
    const hint = spec.name === 'day-of-week' ? ' (0 = Sunday)' : '';
    throw new NcrontabError(expression, `${spec.name} value ${value} is out of range ${spec.min}-${spec.max}${hint}`);
  }
  return value;
}

/** Why `expression` is not a schedule the timer trigger takes, or undefined when it is one. */
export function checkNcrontab(expression: string): string | undefined {
  try {
    parseNcrontab(expression);
    return undefined;
  } catch (error) {
    if (error instanceof NcrontabError) return error.detail;
    throw error;
  }
}
