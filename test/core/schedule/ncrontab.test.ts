import { describe, expect, it } from 'vitest';
import { NcrontabError, nextOccurrence, parseNcrontab } from '../../../src/core/schedule/ncrontab.js';

const at = (iso: string): Date => new Date(iso);

describe('nextOccurrence', () => {
  it.each([
    ['every five minutes fires on the next multiple of five', '0 */5 * * * *', '2024-03-10T10:07:30Z', '2024-03-10T10:10:00Z'],
    ['every five minutes moves past an exact occurrence', '0 */5 * * * *', '2024-03-10T10:10:00Z', '2024-03-10T10:15:00Z'],
    ['every five minutes ignores milliseconds inside the current second', '0 */5 * * * *', '2024-03-10T10:09:59.999Z', '2024-03-10T10:10:00Z'],
    ['the nightly 02:00 schedule fires today when it is still early', '0 0 2 * * *', '2024-03-10T01:59:59Z', '2024-03-10T02:00:00Z'],
    ['the nightly 02:00 schedule fires tomorrow once 02:00 has passed', '0 0 2 * * *', '2024-03-10T02:00:00Z', '2024-03-11T02:00:00Z'],
    ['the nightly schedule crosses a month end', '0 0 2 * * *', '2024-01-31T03:00:00Z', '2024-02-01T02:00:00Z'],
    ['the nightly schedule crosses a year end', '0 0 2 * * *', '2024-12-31T23:00:00Z', '2025-01-01T02:00:00Z'],
    ['every second fires one second later', '* * * * * *', '2024-03-10T10:00:00Z', '2024-03-10T10:00:01Z'],
    ['an hour range restricts to working hours', '0 0 9-17 * * *', '2024-03-10T17:30:00Z', '2024-03-11T09:00:00Z'],
    ['a stepped range takes every other hour inside the range', '0 0 8-12/2 * * *', '2024-03-10T08:00:00Z', '2024-03-10T10:00:00Z'],
    ['a value with a step runs to the end of the field', '0 10/20 * * * *', '2024-03-10T10:31:00Z', '2024-03-10T10:50:00Z'],
    ['a list of seconds picks the next listed one', '5,25,45 * * * * *', '2024-03-10T10:00:26Z', '2024-03-10T10:00:45Z'],
    ['a day-of-week range by name skips the weekend (2024-03-09 is a Saturday)', '0 30 9 * * MON-FRI', '2024-03-09T12:00:00Z', '2024-03-11T09:30:00Z'],
    ['day names are case-insensitive and 0 is Sunday', '0 0 12 * * sun', '2024-03-10T13:00:00Z', '2024-03-17T12:00:00Z'],
    ['month names select months', '0 0 0 1 JAN,JUL *', '2024-03-10T00:00:00Z', '2024-07-01T00:00:00Z'],
    ['the 31st skips months that do not have one', '0 0 0 31 * *', '2024-04-01T00:00:00Z', '2024-05-31T00:00:00Z'],
    ['February 29th waits for a leap year', '0 0 0 29 2 *', '2024-03-01T00:00:00Z', '2028-02-29T00:00:00Z'],
    ['day and weekday must both match (Friday the 13th)', '0 0 0 13 * FRI', '2024-01-01T00:00:00Z', '2024-09-13T00:00:00Z'],
    ['five fields are read as minute-level with second 0', '*/15 * * * *', '2024-03-10T10:01:00Z', '2024-03-10T10:15:00Z'],
  ])('%s', (_sentence, expression, after, expected) => {
    expect(nextOccurrence(expression, at(after)).toISOString()).toBe(at(expected).toISOString());
  });

  it('walks a schedule occurrence by occurrence', () => {
    const schedule = parseNcrontab('0 0 2 * * *');
    let t = at('2024-03-10T00:00:00Z');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      t = nextOccurrence(schedule, t);
      seen.push(t.toISOString());
    }
    expect(seen).toEqual(['2024-03-10T02:00:00.000Z', '2024-03-11T02:00:00.000Z', '2024-03-12T02:00:00.000Z']);
  });
});

describe('parseNcrontab rejects', () => {
  it.each([
    ['an empty expression', '', /it is empty/],
    ['too few fields', '0 2 * *', /expected 6 fields .* got 4/],
    ['too many fields', '0 0 2 * * * 2024', /expected 6 fields .* got 7/],
    ['a second out of range', '60 * * * * *', /second value 60 is out of range 0-59/],
    ['an hour out of range', '0 0 24 * * *', /hour value 24 is out of range 0-23/],
    ['day 0', '0 0 0 0 * *', /day value 0 is out of range 1-31/],
    ['month 13', '0 0 0 1 13 *', /month value 13 is out of range 1-12/],
    ['day-of-week 7 (NCrontab stops at 6)', '0 0 0 * * 7', /day-of-week value 7 is out of range 0-6 \(0 = Sunday\)/],
    ['an unknown month name', '0 0 0 1 FOO *', /month name 'FOO' is unknown/],
    ['a name in a numeric field', '0 0 MON * * *', /hour value 'MON' is not a number$/],
    ['a zero step', '0 */0 * * * *', /minute step in '\*\/0' must be a positive integer/],
    ['a backwards range', '0 0 17-9 * * *', /hour range '17-9' runs backwards/],
    ['an empty list item', '0 0 1,,2 * * *', /hour field '1,,2' has an empty list item/],
    ['a date that never exists', '0 0 0 30 2 *', /the schedule never fires/],
    ['a question mark (not NCrontab syntax)', '0 0 0 ? * *', /day value '\?' is not a number/],
  ])('%s', (_sentence, expression, message) => {
    expect(() => parseNcrontab(expression)).toThrow(NcrontabError);
    expect(() => parseNcrontab(expression)).toThrow(message);
  });

  it('names the whole expression in the message', () => {
    expect(() => parseNcrontab('0 0 25 * * *')).toThrow("invalid NCRONTAB expression '0 0 25 * * *': hour value 25");
  });
});
