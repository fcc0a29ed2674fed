// The dashboard's pure parts: the renewal-window colours, the sort by days left, the filters and the export, as the
// page computes them from the API's JSON (src/dashboard/model.ts).
import { describe, expect, it } from 'vitest';
import type { InventoryEntry, NextAttempt } from '../../src/core/index.js';
import type { RotationRecord } from '../../src/core/records.js';
import {
  applyFilters,
  certificateRows,
  csvCell,
  CSV_COLUMNS,
  filterOptions,
  formatOffset,
  offersRollback,
  renewalBand,
  sortByDaysLeft,
  timeline,
  toCsv,
  toJson,
  type Band,
  type Filters,
} from '../../src/dashboard/model.js';

const SUB_A = '00000000-0000-4000-8000-00000000000a';
const SUB_B = '00000000-0000-4000-8000-00000000000b';

function entry(name: string, fields: Partial<InventoryEntry> = {}): InventoryEntry {
  const subscriptionId = fields.subscriptionId ?? SUB_A;
  const rg = name.startsWith('r') ? 'rg-reports' : 'rg-apps';
  return {
    appId: `/subscriptions/${subscriptionId}/resourcegroups/${rg}/providers/microsoft.web/sites/${name}`,
    name,
    subscriptionId,
    mode: 'explicit',
    thumbprint: `${name.toUpperCase().padEnd(8, 'X')}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
    certificateName: `${name}-client`,
    source: `https://kv-demo.vault.azure.net/certificates/${name}-client`,
    reason: 'UpToDate',
    due: false,
    dangling: false,
    ...fields,
  };
}

function record(id: string, app: string, fields: Partial<RotationRecord> = {}): RotationRecord {
  return {
    id,
    app: { subscriptionId: SUB_A, resourceGroup: 'rg-apps', site: app },
    appId: entry(app).appId,
    mode: 'explicit',
    trigger: 'queue',
    bindings: [],
    step: 'committed',
    steps: [],
    attempts: 1,
    probes: [],
    startedAt: '2026-01-01T02:00:00.000Z',
    updatedAt: '2026-01-01T02:01:00.000Z',
    outcome: 'committed',
    ...fields,
  };
}

describe('the colour of a certificate: where it stands against the renewal window (30 days here)', () => {
  it.each<[string, Partial<InventoryEntry>, Band]>([
    ['a certificate that expired yesterday is expired', { daysRemaining: -1 }, 'expired'],
    ['the engine saying Expired wins over a day count', { daysRemaining: 0, reason: 'Expired' }, 'expired'],
    ['the last day is inside the window', { daysRemaining: 0 }, 'due'],
    ['exactly the window is due (the engine rotates at RENEW_BEFORE_DAYS)', { daysRemaining: 30 }, 'due'],
    ['NearingExpiry by RENEW_BEFORE_PERCENT is due although far from 30 days', { daysRemaining: 50, reason: 'NearingExpiry' }, 'due'],
    ['one day past the window is soon', { daysRemaining: 31 }, 'soon'],
    ['twice the window is still soon', { daysRemaining: 60 }, 'soon'],
    ['beyond twice the window is fine', { daysRemaining: 61 }, 'ok'],
    ['a dangling thumbprint has no expiry: unknown', { reason: 'DanglingThumbprint' }, 'unknown'],
    ['NearingExpiry without a day count is still due', { reason: 'NearingExpiry' }, 'due'],
  ])('%s', (_sentence, fields, band) => {
    expect(renewalBand({ reason: 'UpToDate', ...fields }, 30)).toBe(band);
  });
});

describe('sorting by days left', () => {
  const rows = certificateRows(
    [entry('zeta', { daysRemaining: 5 }), entry('alpha', { daysRemaining: 90 }), entry('dangling', { reason: 'DanglingThumbprint' }), entry('beta', { daysRemaining: -2 }), entry('gamma', { daysRemaining: 5 })],
    [],
    new Map(),
    30,
  );
  it.each<[string, 'ascending' | 'descending', string[]]>([
    ['fewest days first, the expired one on top, ties by app name, unknown expiry last', 'ascending', ['beta', 'gamma', 'zeta', 'alpha', 'dangling']],
    ['most days first on request, unknown expiry still last', 'descending', ['alpha', 'gamma', 'zeta', 'beta', 'dangling']],
  ])('%s', (_sentence, direction, order) => {
    expect(sortByDaysLeft(rows, direction).map((r) => r.app)).toEqual(order);
  });
});

describe('the table rows: what the history says about each app', () => {
  const next: NextAttempt = { appId: entry('billing').appId, reason: 'CandidateRejected', versionId: 'kv', rotationId: 'r-bill', message: 'proved bad' };
  const rows = certificateRows(
    [entry('orders'), entry('billing'), entry('fresh')],
    [
      record('r-old', 'orders', { startedAt: '2025-12-01T02:00:00.000Z', verification: 'status' }),
      record('r-new', 'orders', { startedAt: '2026-01-01T02:00:00.000Z', verification: 'thumbprint' }),
      record('r-bill', 'billing', { outcome: 'rolledBack', verification: 'status' }),
      record('r-dry', 'fresh', { dryRun: true }),
    ],
    new Map([[next.appId, next]]),
    30,
  );
  const row = (app: string) => rows.find((r) => r.app === app)!;
  it.each<[string, string, Record<string, unknown>]>([
    ['the newest finished rotation gives the outcome and the verification', 'orders', { lastOutcome: 'committed', lastRotationId: 'r-new', verification: 'thumbprint' }],
    ['a rolled-back app shows the rollback and what holds it back; no committed verification', 'billing', { lastOutcome: 'rolledBack', verification: undefined, nextAttempt: next }],
    ['a dry run is no rotation', 'fresh', { lastOutcome: undefined, verification: undefined, nextAttempt: undefined }],
  ])('%s', (_sentence, app, expected) => {
    for (const [key, value] of Object.entries(expected)) expect(row(app)[key as keyof typeof rows[number]], key).toEqual(value);
  });
  it('reads the resource group from the app id', () => {
    expect(row('orders').resourceGroup).toBe('rg-apps');
  });
});

describe('filters', () => {
  const rows = certificateRows(
    [
      entry('orders', { reason: 'NearingExpiry' }),
      entry('reports', { subscriptionId: SUB_B }),
      entry('inventory', { reason: 'DanglingThumbprint', source: undefined }),
      entry('rates', { subscriptionId: SUB_B, reason: 'NearingExpiry' }),
    ],
    [],
    new Map(),
    30,
  );
  it.each<[string, Filters, string[]]>([
    ['no filter shows everything', {}, ['orders', 'reports', 'inventory', 'rates']],
    ['an empty choice is no filter', { reason: '' }, ['orders', 'reports', 'inventory', 'rates']],
    ['by subscription, whatever its case', { subscription: SUB_B.toUpperCase() }, ['reports', 'rates']],
    ['by resource group, whatever its case', { resourceGroup: 'RG-Reports' }, ['reports', 'rates']],
    ['by reason', { reason: 'NearingExpiry' }, ['orders', 'rates']],
    ['a binding without a source filters as (none)', { source: '(none)' }, ['inventory']],
    ['facets combine: every one must match', { subscription: SUB_B, reason: 'NearingExpiry' }, ['rates']],
    ['a value no row has shows nothing', { reason: 'Expired' }, []],
  ])('%s', (_sentence, filters, apps) => {
    expect(applyFilters(rows, filters).map((r) => r.app)).toEqual(apps);
  });
  it('offers each facet the distinct values present, sorted', () => {
    const options = filterOptions(rows);
    expect(options.subscription).toEqual([SUB_A, SUB_B]);
    expect(options.resourceGroup).toEqual(['rg-apps', 'rg-reports']);
    expect(options.reason).toEqual(['DanglingThumbprint', 'NearingExpiry', 'UpToDate']);
    expect(options.source).toContain('(none)');
  });
});

describe('CSV cells: a spreadsheet shows them, never runs them', () => {
  it.each<[string, string | number | boolean | undefined, string]>([
    ['plain text stays as it is', 'orders', 'orders'],
    ['a formula is escaped with an apostrophe', '=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['a leading plus is escaped', '+1+cmd|/C calc!A0', "'+1+cmd|/C calc!A0"],
    ['a leading minus in text is escaped', '-2+3', "'-2+3"],
    ['a leading at sign is escaped', '@SUM(A1)', "'@SUM(A1)"],
    ['a leading tab is escaped', '\t=1', "'\t=1"],
    ['a leading carriage return is escaped and quoted', '\r=1', `"'\r=1"`],
    ['an equals sign inside the text is harmless', 'a=b', 'a=b'],
    ['a negative number of days stays a number', -3, '-3'],
    ['a comma is quoted', 'a,b', '"a,b"'],
    ['a quote is doubled inside quotes', 'say "hi"', '"say ""hi"""'],
    ['a line break is quoted', 'a\nb', '"a\nb"'],
    ['a boolean is its word', true, 'true'],
    ['nothing is an empty cell', undefined, ''],
  ])('%s', (_sentence, value, cell) => {
    expect(csvCell(value)).toBe(cell);
  });

  it('writes a header and one CRLF line per row, with a hostile app name escaped', () => {
    const rows = certificateRows([entry('=cmd|calc', { daysRemaining: -4, reason: 'Expired' }), entry('orders', { daysRemaining: 12 })], [], new Map(), 30);
    const lines = toCsv(rows).split('\r\n');
    expect(lines[0]).toBe(CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    const cells = lines[1]!.split(',');
    expect(cells[CSV_COLUMNS.indexOf('app')]).toBe("'=cmd|calc");
    expect(cells[CSV_COLUMNS.indexOf('daysRemaining')]).toBe('-4');
    expect(cells[CSV_COLUMNS.indexOf('band')]).toBe('expired');
  });

  it('exports JSON as the API entries plus what the page added', () => {
    const rows = certificateRows([entry('orders', { daysRemaining: 12 })], [], new Map(), 30);
    const parsed = JSON.parse(toJson(rows)) as { certificates: Array<Record<string, unknown>> };
    expect(parsed.certificates).toEqual([{ ...entry('orders', { daysRemaining: 12 }), resourceGroup: 'rg-apps', band: 'due', lastOutcome: null, lastRotationId: null, verification: null, nextAttempt: null }]);
  });
});

describe('a record in the history', () => {
  it('lists its steps in order with the time since the start', () => {
    const steps = timeline({
      startedAt: '2026-01-01T02:00:00.000Z',
      steps: [
        { step: 'leased', at: '2026-01-01T02:00:00.000Z' },
        { step: 'switched', at: '2026-01-01T02:00:01.500Z', detail: 'CLIENT_CERT_THUMBPRINT' },
        { step: 'committed', at: '2026-01-01T02:02:05.000Z' },
      ],
    });
    expect(steps.map((s) => [s.step, formatOffset(s.sinceStartMs), s.detail])).toEqual([
      ['leased', '+0 ms', undefined],
      ['switched', '+1.5 s', 'CLIENT_CERT_THUMBPRINT'],
      ['committed', '+2 min 5 s', undefined],
    ]);
  });

  it.each<[string, RotationRecord[], boolean]>([
    ['alone in its history, it can be rolled back', [], true],
    ['once rolled back, the button goes (the API would answer with that rollback)', [record('r-back', 'orders', { rollbackOf: 'r-x', outcome: 'rolledBack', startedAt: '2026-01-02T00:00:00.000Z' })], false],
    ['a newer rotation of the same app takes the button (the API says: roll that one back instead)', [record('r-next', 'orders', { startedAt: '2026-01-05T00:00:00.000Z' })], false],
    ['a newer rotation that was aborted changed nothing: the button stays', [record('r-next', 'orders', { startedAt: '2026-01-05T00:00:00.000Z', outcome: 'aborted' })], true],
    ["another app's newer rotation does not matter", [record('r-other', 'billing', { startedAt: '2026-01-05T00:00:00.000Z' })], true],
    ['an older rotation of the same app does not matter', [record('r-old', 'orders', { startedAt: '2025-06-01T00:00:00.000Z' })], true],
  ])('a committed rotation in its history: %s', (_sentence, history, offered) => {
    const committed = record('r-x', 'orders');
    expect(offersRollback(committed, [committed, ...history])).toBe(offered);
  });

  it.each<[string, Partial<RotationRecord>, boolean]>([
    ['a committed rotation can be rolled back', {}, true],
    ['a rollback of a committed rotation is not rolled back again from here', { rollbackOf: 'r-1' }, false],
    ['a rotation whose old certificate was retired cannot go back to it', { retiredAt: '2026-01-09T00:00:00.000Z' }, false],
    ['a rolled-back rotation has nothing to roll back', { outcome: 'rolledBack' }, false],
    ['an open rotation is finished by the engine, not by this button', { outcome: undefined }, false],
  ])('%s', (_sentence, fields, offered) => {
    expect(offersRollback(record('r-x', 'orders', fields))).toBe(offered);
  });
});
