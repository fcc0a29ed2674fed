// The operator dashboard's pure parts: what the page shows is computed here from the API's JSON, with no DOM and
// no fetch, so it is tested as plain functions (test/dashboard/model.test.ts). src/dashboard/client/ renders it.
// The types are the engine's own (type-only imports, erased when the page is bundled): the page reads exactly what
// the API answers, and a renamed field fails the type check here instead of showing an empty column.
import type { InventoryEntry, NextAttempt } from '../core/index.js';
import type { RotationRecord, VerificationStrength } from '../core/records.js';

/**
 * Where a certificate stands against the renewal window (RENEW_BEFORE_DAYS): `expired`; `due` inside the window (or
 * due by RENEW_BEFORE_PERCENT, which the engine reports as NearingExpiry); `soon` within twice the window, the
 * next nights' work; `ok`; `unknown` when the expiry is not known (a dangling thumbprint has no certificate).
 */
export type Band = 'expired' | 'due' | 'soon' | 'ok' | 'unknown';

export const BANDS: readonly Band[] = ['expired', 'due', 'soon', 'ok', 'unknown'];

export function renewalBand(entry: Pick<InventoryEntry, 'daysRemaining' | 'reason'>, renewBeforeDays: number): Band {
  if (entry.reason === 'Expired') return 'expired';
  const days = entry.daysRemaining;
  if (days === undefined || !Number.isFinite(days)) return entry.reason === 'NearingExpiry' ? 'due' : 'unknown';
  if (days < 0) return 'expired';
  if (entry.reason === 'NearingExpiry' || days <= renewBeforeDays) return 'due';
  if (days <= 2 * renewBeforeDays) return 'soon';
  return 'ok';
}

/** One row of the certificates table: an inventory binding and what the history says about its app. */
export interface CertificateRow {
  entry: InventoryEntry;
  app: string;
  resourceGroup: string;
  band: Band;
  /** The outcome of the app's newest finished rotation; undefined: never rotated. */
  lastOutcome?: string;
  lastRotationId?: string;
  /** How strongly the app's newest committed rotation was verified. */
  verification?: VerificationStrength;
  /** What holds the app's next rotation back (API `nextAttempt`); undefined: nothing, the next run decides. */
  nextAttempt?: NextAttempt;
}

const APP_ID = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\//i;

/** The resource group of an app's resource id (the API's ids are lowercase). */
export function resourceGroupOf(appId: string): string {
  return APP_ID.exec(appId)?.[2] ?? '';
}

/**
 * The certificates table: one row per inventory binding, with the app's newest outcome and verification from
 * `records` (newest first, as the API lists them) and what holds it back from `nextAttempts` (by app id).
 */
export function certificateRows(
  inventory: readonly InventoryEntry[],
  records: readonly RotationRecord[],
  nextAttempts: ReadonlyMap<string, NextAttempt>,
  renewBeforeDays: number,
): CertificateRow[] {
  return inventory.map((entry) => {
    const appId = entry.appId.toLowerCase();
    const mine = records.filter((r) => r.appId.toLowerCase() === appId && r.outcome !== undefined && r.dryRun !== true);
    const newest = newestFirst(mine)[0];
    const committed = newestFirst(mine.filter((r) => r.outcome === 'committed'))[0];
    const row: CertificateRow = { entry, app: entry.name, resourceGroup: resourceGroupOf(entry.appId), band: renewalBand(entry, renewBeforeDays) };
    if (newest) {
      row.lastOutcome = newest.outcome;
      row.lastRotationId = newest.id;
    }
    if (committed?.verification !== undefined) row.verification = committed.verification;
    const next = nextAttempts.get(appId);
    if (next) row.nextAttempt = next;
    return row;
  });
}

export function newestFirst<T extends Pick<RotationRecord, 'startedAt' | 'id'>>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
}

export type SortDirection = 'ascending' | 'descending';

/**
 * By days left, fewest first: the certificate that expires soonest is on top. An unknown expiry sorts after every
 * known one in either direction (it is no earlier or later than anything); ties by app name, then binding.
 */
export function sortByDaysLeft(rows: readonly CertificateRow[], direction: SortDirection = 'ascending'): CertificateRow[] {
  const sign = direction === 'ascending' ? 1 : -1;
  return [...rows].sort((a, b) => {
    const da = a.entry.daysRemaining;
    const db = b.entry.daysRemaining;
    if (da === undefined || db === undefined) {
      if (da !== db) return da === undefined ? 1 : -1;
    } else if (da !== db) {
      return sign * (da - db);
    }
    return a.app.localeCompare(b.app) || bindingOf(a.entry).localeCompare(bindingOf(b.entry));
  });
}

/** The name a binding is known by: its certificate resource, else its thumbprint, else the source it follows. */
export function bindingOf(entry: Pick<InventoryEntry, 'certificateName' | 'thumbprint' | 'source'>): string {
  return entry.certificateName ?? entry.thumbprint ?? entry.source ?? '';
}

/** The facets the table filters by; an absent facet shows every row. */
export interface Filters {
  subscription?: string;
  resourceGroup?: string;
  source?: string;
  reason?: string;
}

export const FILTER_FACETS = ['subscription', 'resourceGroup', 'source', 'reason'] as const;
export type FilterFacet = (typeof FILTER_FACETS)[number];

/** The value a row has for a facet; a binding without a source filters as "(none)". */
export function facetValue(row: CertificateRow, facet: FilterFacet): string {
  switch (facet) {
    case 'subscription':
      return row.entry.subscriptionId.toLowerCase();
    case 'resourceGroup':
      return row.resourceGroup.toLowerCase();
    case 'source':
      return row.entry.source ?? NO_SOURCE;
    case 'reason':
      return row.entry.reason;
  }
}

export const NO_SOURCE = '(none)';

/** Rows matching every set facet (subscriptions and resource groups compared without case, as ARM does). */
export function applyFilters(rows: readonly CertificateRow[], filters: Filters): CertificateRow[] {
  return rows.filter((row) =>
    FILTER_FACETS.every((facet) => {
      const wanted = filters[facet];
      if (wanted === undefined || wanted === '') return true;
      const value = facetValue(row, facet);
      return facet === 'subscription' || facet === 'resourceGroup' ? value === wanted.toLowerCase() : value === wanted;
    }),
  );
}

/** The choices each filter offers: the distinct values present in `rows`, sorted. */
export function filterOptions(rows: readonly CertificateRow[]): Record<FilterFacet, string[]> {
  const out = {} as Record<FilterFacet, string[]>;
  for (const facet of FILTER_FACETS) out[facet] = [...new Set(rows.map((row) => facetValue(row, facet)))].sort();
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Export

/**
 * One CSV cell. A text cell that begins with = + - @ (or a tab or carriage return, which some spreadsheets skip
 * before reading a formula) is prefixed with an apostrophe, so a spreadsheet shows it as text instead of running it
 * (OWASP "CSV injection"); an app name, a tag or a reason can carry any text. A number is written as a number: it
 * cannot be a formula, and a negative day count stays sortable. Cells with a quote, comma or line break are quoted
 * (RFC 4180).
 */
export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const CSV_COLUMNS = [
  'app',
  'subscriptionId',
  'resourceGroup',
  'mode',
  'binding',
  'thumbprint',
  'latestThumbprint',
  'latestVersion',
  'source',
  'notAfter',
  'daysRemaining',
  'band',
  'reason',
  'due',
  'dangling',
  'refusal',
  'problem',
  'lastOutcome',
  'verification',
  'nextAttempt',
] as const;

/** The rows as CSV: a header line, one line per row, CRLF line ends (RFC 4180). */
export function toCsv(rows: readonly CertificateRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of rows) {
    const e = row.entry;
    const cells: Record<(typeof CSV_COLUMNS)[number], string | number | boolean | undefined> = {
      app: row.app,
      subscriptionId: e.subscriptionId,
      resourceGroup: row.resourceGroup,
      mode: e.mode,
      binding: bindingOf(e),
      thumbprint: e.thumbprint,
      latestThumbprint: e.latestThumbprint,
      latestVersion: e.latestVersion,
      source: e.source,
      notAfter: e.notAfter,
      daysRemaining: e.daysRemaining,
      band: row.band,
      reason: e.reason,
      due: e.due,
      dangling: e.dangling,
      refusal: e.refusal,
      problem: e.problem,
      lastOutcome: row.lastOutcome,
      verification: row.verification,
      nextAttempt: row.nextAttempt ? `${row.nextAttempt.reason}${row.nextAttempt.at ? ` until ${row.nextAttempt.at}` : ''}` : undefined,
    };
    lines.push(CSV_COLUMNS.map((column) => csvCell(cells[column])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** The rows as JSON: the API's inventory entries as they came, with what the page added beside each. */
export function toJson(rows: readonly CertificateRow[]): string {
  const out = rows.map((row) => ({
    ...row.entry,
    resourceGroup: row.resourceGroup,
    band: row.band,
    lastOutcome: row.lastOutcome ?? null,
    lastRotationId: row.lastRotationId ?? null,
    verification: row.verification ?? null,
    nextAttempt: row.nextAttempt ?? null,
  }));
  return `${JSON.stringify({ certificates: out }, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// History

export interface TimelineEntry {
  step: string;
  at: string;
  detail?: string;
  /** Milliseconds since the record's first step; undefined for a time that does not parse. */
  sinceStartMs?: number;
}

/** A record's steps in the order they happened, each with the time since the rotation started. */
export function timeline(record: Pick<RotationRecord, 'steps' | 'startedAt'>): TimelineEntry[] {
  const start = Date.parse(record.steps[0]?.at ?? record.startedAt);
  return record.steps.map((s) => {
    const at = Date.parse(s.at);
    const entry: TimelineEntry = { step: s.step, at: s.at };
    if (s.detail !== undefined) entry.detail = s.detail;
    if (Number.isFinite(at) && Number.isFinite(start)) entry.sinceStartMs = at - start;
    return entry;
  });
}

/**
 * Whether the page offers "roll back this rotation": a committed rotation that is not itself a rollback, whose old
 * certificate has not been retired, that has not been rolled back already, and that is the app's latest (the API
 * refuses an older one: "roll that one back instead"). The API decides; this only keeps the button off records it
 * would refuse or answer with an earlier rollback. `history`: the records the page has, any app, any order.
 */
export function offersRollback(
  record: Pick<RotationRecord, 'id' | 'appId' | 'startedAt' | 'outcome' | 'rollbackOf' | 'retiredAt' | 'dryRun'>,
  history: ReadonlyArray<Pick<RotationRecord, 'id' | 'appId' | 'startedAt' | 'outcome' | 'rollbackOf'>> = [],
): boolean {
  if (record.outcome !== 'committed' || record.rollbackOf !== undefined || record.retiredAt !== undefined || record.dryRun === true) return false;
  const appId = record.appId.toLowerCase();
  return !history.some(
    (r) => r.id !== record.id && (r.rollbackOf === record.id || (r.appId.toLowerCase() === appId && r.startedAt > record.startedAt && r.outcome !== 'aborted')),
  );
}

/** "+1.2 s", "+3 min 4 s": the offset of a step from the start of its rotation. */
export function formatOffset(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `+${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `+${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The first 8 characters of a thumbprint, as the CLI and the demo print them. */
export function shortThumbprint(thumbprint: string | undefined): string {
  return thumbprint ? thumbprint.slice(0, 8) : '';
}
