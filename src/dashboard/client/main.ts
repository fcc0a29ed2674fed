// The operator dashboard in the browser. Everything it shows comes from the API (`/api/certificates`,
// `/api/rotations`, `/api/health`) called with the caller's own function key (the `code` the page was opened with);
// every button is an API call whose answer is shown as it came. The pure parts (bands, sorting, filters, export)
// are ../model.ts.
import type { NextAttempt, InventoryEntry } from '../../core/index.js';
import type { RotationRecord } from '../../core/records.js';
import {
  BANDS,
  FILTER_FACETS,
  applyFilters,
  bindingOf,
  certificateRows,
  filterOptions,
  formatOffset,
  newestFirst,
  offersRollback,
  shortThumbprint,
  sortByDaysLeft,
  timeline,
  toCsv,
  toJson,
  type Band,
  type CertificateRow,
  type FilterFacet,
  type Filters,
  type SortDirection,
} from '../model.js';
import { h, replace, type Child } from './dom.js';

const body = document.body;
const API = body.dataset.api ?? '/api';
const RENEW_BEFORE_DAYS = Number(body.dataset.renewBeforeDays ?? '30');
const KEY = new URLSearchParams(location.search).get('code') ?? '';
const THEME_KEY = 'mtls-rotator-theme';

interface ApiAnswer {
  method: string;
  path: string;
  status: number;
  json: unknown;
}

interface PlanAnswer {
  apps: Array<{
    appId: string;
    name: string;
    action: string;
    problems: string[];
    nextAttemptAt?: string;
    due: Array<{ reason: string; oldThumbprint?: string; candidate?: { thumbprint?: string; version?: string } }>;
    bindings: Array<{ reason: string }>;
  }>;
  generatedAt: string;
  dueApps: number;
  dueBindings: number;
}

const state: {
  inventory: InventoryEntry[];
  records: RotationRecord[];
  nextAttempts: Map<string, NextAttempt>;
  lastScan: string;
  filters: Filters;
  direction: SortDirection;
  openTimelines: Set<string>;
  plan?: PlanAnswer;
  answer?: ApiAnswer;
  busy: boolean;
  loadError?: string;
} = { inventory: [], records: [], nextAttempts: new Map(), lastScan: '', filters: {}, direction: 'ascending', openTimelines: new Set(), busy: false };

// ---------------------------------------------------------------------------------------------------------
// API

async function call(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (KEY !== '') headers['x-functions-key'] = KEY;
  const init: RequestInit = { method, headers, cache: 'no-store', credentials: 'same-origin', referrerPolicy: 'no-referrer' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  let response: Response;
  try {
    response = await fetch(`${API}${path}`, init);
  } catch (error) {
    return { method, path, status: 0, json: { error: { code: 'NetworkError', message: `the function app did not answer: ${String(error)}` } } };
  }
  const text = await response.text();
  let json: unknown = text;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a front end's error page): shown as text.
  }
  return { method, path, status: response.status, json };
}

const ok = (answer: ApiAnswer): boolean => answer.status >= 200 && answer.status < 300;

function problemOf(answer: ApiAnswer): string {
  const error = (answer.json as { error?: { code?: string; message?: string } } | null)?.error;
  return `${answer.method} ${API}${answer.path} answered ${answer.status}${error ? `: ${error.code ?? ''} ${error.message ?? ''}` : ''}`;
}

/** Runs `work` for each item, at most `limit` at a time: one history request per app, without a burst. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(workers);
}

async function load(): Promise<void> {
  setLastScan('Loading…');
  const [inventory, records, health] = await Promise.all([call('GET', '/certificates'), call('GET', '/rotations?limit=500'), call('GET', '/health')]);
  const failed = [inventory, records].filter((a) => !ok(a));
  if (failed.length > 0) {
    state.loadError = failed.map(problemOf).join('; ');
    state.answer = failed[0];
    render();
    return;
  }
  delete state.loadError;
  state.inventory = (inventory.json as { certificates: InventoryEntry[] }).certificates;
  state.records = (records.json as { rotations: RotationRecord[] }).rotations;
  const scan = (health.json as { lastScan?: { at?: string; time?: string; apps?: number; dueApps?: number } | null } | null)?.lastScan;
  state.lastScan = scan ? `Last scan ${formatTime(scan.at ?? scan.time)}: ${scan.apps ?? '?'} app(s), ${scan.dueApps ?? 0} due` : 'No scan has run yet';
  // What holds an app back is only known per app; an app without any record has nothing holding it back.
  const withHistory = [...new Set(state.inventory.map((e) => e.appId.toLowerCase()))].filter((id) => state.records.some((r) => r.appId.toLowerCase() === id));
  const nextAttempts = new Map<string, NextAttempt>();
  await eachLimited(withHistory, 4, async (appId) => {
    const answer = await call('GET', `/rotations?app=${encodeURIComponent(appId)}&limit=1`);
    const next = ok(answer) ? (answer.json as { nextAttempt?: NextAttempt | null }).nextAttempt : undefined;
    if (next) nextAttempts.set(appId, next);
  });
  state.nextAttempts = nextAttempts;
  render();
}

// ---------------------------------------------------------------------------------------------------------
// Actions: each asks first, then calls the API and shows its answer.

async function act(run: () => Promise<ApiAnswer>, after?: (answer: ApiAnswer) => void): Promise<void> {
  state.busy = true;
  // The previous answer goes, so it cannot be read as this one's.
  delete state.answer;
  render();
  try {
    const answer = await run();
    state.answer = answer;
    after?.(answer);
  } finally {
    state.busy = false;
  }
  await load();
  document.getElementById('answer')?.focus();
}

async function dryRun(): Promise<void> {
  const confirmed = await confirmDialog('Dry run', ['Plan every opted-in app of every configured subscription. Nothing is changed.'], 'Run the dry run');
  if (!confirmed) return;
  await act(
    () => call('POST', '/rotations', { dryRun: true }),
    (answer) => {
      if (ok(answer)) state.plan = (answer.json as { plan: PlanAnswer }).plan;
    },
  );
}

async function rotateApp(row: CertificateRow): Promise<void> {
  const confirmed = await confirmDialog(
    `Rotate ${row.app}`,
    [
      `Queue a rotation of ${row.app} now. It is rotated only if one of its certificates is due (${row.entry.reason} for ${bindingOf(row.entry)}); `,
      'the rotation restarts the app and verifies it, and rolls back on its own when the verification fails.',
    ],
    'Rotate this app',
  );
  if (!confirmed) return;
  await act(() => call('POST', '/rotations', { app: row.entry.appId }));
}

async function rollBack(record: RotationRecord): Promise<void> {
  const reason = await confirmDialog(
    `Roll back rotation ${record.id}`,
    [`Put ${appName(record)} back on the certificate it loaded before this rotation, restart it and verify it. The rollback is a new record.`],
    'Roll back this rotation',
    { askReason: true },
  );
  if (reason === false) return;
  await act(() => call('POST', `/rotations/${encodeURIComponent(record.id)}/rollback`, reason === '' ? {} : { reason }));
}

/** A modal confirmation: resolves false when cancelled (button or Escape), else true, or the reason typed. */
function confirmDialog(title: string, text: Child[], confirmLabel: string, options: { askReason?: boolean } = {}): Promise<string | boolean> {
  return new Promise((resolve) => {
    const reasonInput = options.askReason ? h('input', { type: 'text', id: 'confirm-reason', maxlength: 200, placeholder: 'ManualRollback' }) : undefined;
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': 'confirm-title' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', {}, ...text),
      reasonInput ? h('label', { for: 'confirm-reason' }, 'Reason (optional) ', reasonInput) : null,
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', autofocus: true, onClick: () => dialog.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: 'primary', onClick: () => dialog.close('confirm') }, confirmLabel),
      ),
    );
    dialog.addEventListener('close', () => {
      const confirmed = dialog.returnValue === 'confirm';
      dialog.remove();
      resolve(confirmed ? (reasonInput ? reasonInput.value.trim() : true) : false);
    });
    body.append(dialog);
    dialog.showModal();
  });
}

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: name, class: 'hidden' });
  body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

const FACET_LABELS: Record<FilterFacet, string> = { subscription: 'Subscription', resourceGroup: 'Resource group', source: 'Source', reason: 'Reason' };
const BAND_LABELS: Record<Band, string> = { expired: 'expired', due: 'in the renewal window', soon: 'within twice the window', ok: 'not yet due', unknown: 'expiry unknown' };

function render(): void {
  const main = document.getElementById('main')!;
  const focusedId = document.activeElement?.id;
  setLastScan(state.loadError ? 'The API did not answer as expected' : state.lastScan);
  const rows = certificateRows(state.inventory, state.records, state.nextAttempts, RENEW_BEFORE_DAYS);
  const shown = sortByDaysLeft(applyFilters(rows, state.filters), state.direction);
  replace(
    main,
    state.loadError ? h('p', { class: 'error', role: 'alert' }, state.loadError) : null,
    renderSummary(rows),
    renderCertificates(rows, shown),
    renderPlan(),
    renderHistory(),
    renderAnswer(),
  );
  // Re-rendering replaces the elements: keep the keyboard where it was.
  if (focusedId) document.getElementById(focusedId)?.focus();
}

function setLastScan(text: string): void {
  const element = document.getElementById('last-scan');
  if (element) element.textContent = text;
}

function renderSummary(rows: CertificateRow[]): HTMLElement {
  return h(
    'section',
    { class: 'summary', 'aria-label': 'Certificates by renewal window' },
    BANDS.map((band) => {
      const count = rows.filter((r) => r.band === band).length;
      return h('div', { class: `card band-${band}` }, h('span', { class: 'count' }, count), h('span', {}, BAND_LABELS[band]));
    }),
  );
}

function renderCertificates(all: CertificateRow[], shown: CertificateRow[]): HTMLElement {
  const options = filterOptions(all);
  const filters = FILTER_FACETS.map((facet) =>
    h(
      'label',
      { class: 'filter' },
      FACET_LABELS[facet],
      h(
        'select',
        {
          id: `filter-${facet}`,
          onChange: (event) => {
            const value = (event.target as HTMLSelectElement).value;
            if (value === '') delete state.filters[facet];
            else state.filters[facet] = value;
            render();
          },
        },
        h('option', { value: '' }, 'all'),
        options[facet].map((value) => h('option', { value, selected: state.filters[facet] === value }, value)),
      ),
    ),
  );
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    filters,
    h(
      'button',
      {
        type: 'button',
        id: 'sort-days',
        'aria-label': `Sort by days left, ${state.direction === 'ascending' ? 'most' : 'fewest'} first`,
        onClick: () => {
          state.direction = state.direction === 'ascending' ? 'descending' : 'ascending';
          render();
        },
      },
      state.direction === 'ascending' ? 'Days left ↑' : 'Days left ↓',
    ),
    h('button', { type: 'button', id: 'export-csv', onClick: () => download('mtls-rotator-inventory.csv', 'text/csv;charset=utf-8', toCsv(shown)) }, 'Export CSV'),
    h('button', { type: 'button', id: 'export-json', onClick: () => download('mtls-rotator-inventory.json', 'application/json', toJson(shown)) }, 'Export JSON'),
  );
  const table = h(
    'table',
    { class: 'cards' },
    h('caption', {}, `${shown.length} of ${all.length} certificate binding(s), by days left; colours follow the renewal window of ${RENEW_BEFORE_DAYS} days`),
    h(
      'thead',
      {},
      h('tr', {}, ['App', 'Days left', 'Binding', 'Loaded', 'Latest', 'Reason', 'Source', 'Last outcome', 'Verified', 'Next attempt', ''].map((t) => h('th', { scope: 'col' }, t))),
    ),
    h('tbody', {}, shown.map(certificateRow)),
  );
  return h('section', { id: 'certificates', tabindex: -1 }, h('h2', {}, 'Certificates'), toolbar, h('div', { class: 'scroll' }, table));
}

function certificateRow(row: CertificateRow): HTMLElement {
  const e = row.entry;
  const days = e.daysRemaining === undefined ? '—' : `${Math.floor(e.daysRemaining)} d`;
  const next = row.nextAttempt;
  return h(
    'tr',
    { 'data-app': row.app, 'data-band': row.band },
    cell('App', h('strong', {}, row.app), h('div', { class: 'muted small', title: e.subscriptionId }, `${row.resourceGroup} · ${e.subscriptionId.slice(0, 8)}…`)),
    cell('Days left', h('span', { class: `band band-${row.band}`, title: BAND_LABELS[row.band] }, days, h('span', { class: 'sr' }, ` (${BAND_LABELS[row.band]})`)), { class: 'days' }),
    cell('Binding', e.mode === 'wildcard' ? `* ${e.certificateName ?? ''}` : (e.certificateName ?? '(no certificate resource)')),
    cell('Loaded', thumb(e.thumbprint)),
    cell('Latest', thumb(e.latestThumbprint), e.latestVersion ? h('div', { class: 'muted small', title: e.latestVersion }, `version ${e.latestVersion.slice(0, 8)}`) : null),
    cell('Reason', e.reason, e.refusal ? h('span', { class: 'muted small' }, ` refused: ${e.refusal}`) : null, e.problem ? h('span', { class: 'error small' }, ` ${e.problem}`) : null, { class: 'reason' }),
    cell('Source', e.source ? sourceCell(e.source) : '—'),
    cell('Last outcome', row.lastOutcome ?? 'never rotated', { class: `outcome outcome-${row.lastOutcome ?? 'none'}` }),
    cell('Verified', row.verification ?? '—', { class: 'verification' }),
    cell('Next attempt', next ? `${next.reason}${next.at ? ` until ${formatTime(next.at)}` : ''}` : 'next run', { class: 'next-attempt', title: next?.message }),
    cell('', h('button', { type: 'button', class: 'rotate', disabled: state.busy, 'aria-label': `Rotate ${row.app}`, onClick: () => void rotateApp(row) }, 'Rotate this app')),
  );
}

function cell(label: string, ...content: Array<Child | { class?: string; title?: string | undefined }>): HTMLElement {
  const last = content[content.length - 1];
  const isOptions = last !== null && typeof last === 'object' && !(last instanceof Node) && !Array.isArray(last);
  const options = (isOptions ? content.pop() : {}) as { class?: string; title?: string };
  return h('td', { 'data-label': label, class: options.class, title: options.title }, content as Child[]);
}

function thumb(thumbprint: string | undefined): Child {
  return thumbprint ? h('code', { title: thumbprint }, shortThumbprint(thumbprint)) : '—';
}

function sourceCell(source: string): Child {
  // https://<vault>.vault.azure.net/certificates/<name>: the certificate's name, and the vault under it.
  try {
    const url = new URL(source);
    const name = url.pathname.split('/').filter(Boolean).slice(1).join('/');
    const vault = url.hostname.includes('.vault.') ? url.hostname.split('.')[0] : url.host;
    return [h('span', { title: source }, name), h('div', { class: 'muted small' }, vault)];
  } catch {
    return source;
  }
}

function renderPlan(): HTMLElement {
  const plan = state.plan;
  const content: Child[] = [
    h('p', {}, 'The plan of the next run: what would be rotated, and why, without changing anything. ', h('button', { type: 'button', id: 'dry-run', class: 'primary', disabled: state.busy, onClick: () => void dryRun() }, 'Dry run')),
  ];
  if (plan) {
    content.push(
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'cards', id: 'plan-table' },
          h('caption', {}, `Planned ${formatTime(plan.generatedAt)}: ${plan.dueApps} app(s) with ${plan.dueBindings} due binding(s)`),
          h('thead', {}, h('tr', {}, ['App', 'Action', 'Due', 'Problems', 'Next attempt'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            {},
            plan.apps.map((app) =>
              h(
                'tr',
                { 'data-app': app.name },
                cell('App', h('strong', {}, app.name)),
                cell('Action', app.action, { class: `action action-${app.action}` }),
                cell(
                  'Due',
                  app.due.length === 0
                    ? (app.bindings.map((b) => b.reason).join(', ') || '—')
                    : app.due.map((d) => h('div', {}, `${d.reason}: `, thumb(d.oldThumbprint), ' → ', thumb(d.candidate?.thumbprint))),
                ),
                cell('Problems', app.problems.join('; ') || '—'),
                cell('Next attempt', app.nextAttemptAt ? formatTime(app.nextAttemptAt) : '—'),
              ),
            ),
          ),
        ),
      ),
    );
  }
  return h('section', { id: 'plan' }, h('h2', {}, 'Dry-run plan'), content);
}

function renderHistory(): HTMLElement {
  const records = newestFirst(state.records);
  const rows: HTMLElement[] = [];
  for (const record of records) {
    const open = state.openTimelines.has(record.id);
    rows.push(
      h(
        'tr',
        { 'data-rotation': record.id, 'data-app': appName(record) },
        cell('Started', h('time', { datetime: record.startedAt }, formatTime(record.startedAt))),
        cell('App', h('strong', {}, appName(record))),
        cell('Trigger', record.trigger, record.rollbackOf ? h('span', { class: 'muted small' }, ` rollback of ${record.rollbackOf}`) : null),
        cell('Outcome', record.outcome ?? `open (${record.step})`, { class: `outcome outcome-${record.outcome ?? 'open'}` }),
        cell('Reason', record.reason ?? '—', { class: 'reason' }),
        cell('Verified', record.verification ?? '—'),
        cell(
          '',
          h(
            'div',
            { class: 'row-actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'timeline-toggle',
                id: `timeline-${record.id}`,
                'aria-expanded': open ? 'true' : 'false',
                'aria-controls': `detail-${record.id}`,
                onClick: () => {
                  if (open) state.openTimelines.delete(record.id);
                  else state.openTimelines.add(record.id);
                  render();
                },
              },
              open ? 'Hide timeline' : 'Timeline',
            ),
            offersRollback(record, records)
              ? h('button', { type: 'button', class: 'rollback', disabled: state.busy, onClick: () => void rollBack(record) }, 'Roll back this rotation')
              : null,
          ),
        ),
      ),
    );
    if (open) rows.push(h('tr', { class: 'detail', id: `detail-${record.id}` }, h('td', { colspan: 7 }, renderRecord(record))));
  }
  return h(
    'section',
    { id: 'history' },
    h('h2', {}, 'Rotation history'),
    records.length === 0
      ? h('p', {}, 'No rotation has been recorded yet.')
      : h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            { class: 'cards' },
            h('caption', {}, `${records.length} record(s), newest first`),
            h('thead', {}, h('tr', {}, ['Started', 'App', 'Trigger', 'Outcome', 'Reason', 'Verified', ''].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, rows),
          ),
        ),
  );
}

function renderRecord(record: RotationRecord): HTMLElement {
  return h(
    'div',
    { class: 'record' },
    h('h3', {}, 'Steps'),
    h(
      'ol',
      { class: 'timeline' },
      timeline(record).map((t) =>
        h('li', {}, h('span', { class: 'step' }, t.step), ' ', h('time', { datetime: t.at }, formatTime(t.at)), ' ', h('span', { class: 'muted' }, formatOffset(t.sinceStartMs)), t.detail ? h('div', { class: 'small' }, t.detail) : null),
      ),
    ),
    h('h3', {}, 'Certificates'),
    h(
      'ul',
      { class: 'bindings' },
      record.bindings.map((b) => h('li', {}, thumb(b.oldThumbprint), ' → ', thumb(b.newThumbprint), ` ${b.reason}`, b.certificateResourceName ? h('span', { class: 'muted small' }, ` (${b.certificateResourceName})`) : null)),
    ),
    h('h3', {}, `Probes (${record.probes.length})`),
    record.probes.length === 0
      ? h('p', { class: 'muted' }, 'No probe ran.')
      : h(
          'table',
          { class: 'probes cards' },
          h('thead', {}, h('tr', {}, ['Kind', 'Target', 'Result', 'Status', 'Verified', 'Detail', 'Time'].map((t) => h('th', { scope: 'col' }, t)))),
          h(
            'tbody',
            {},
            record.probes.map((p) =>
              h(
                'tr',
                { class: p.ok ? 'probe-ok' : 'probe-failed' },
                cell('Kind', p.kind),
                cell('Target', h('code', {}, p.target)),
                cell('Result', p.ok ? 'passed' : p.transient ? 'failed (transient)' : 'failed', { class: p.ok ? 'ok' : 'error' }),
                cell('Status', p.status ?? '—'),
                cell('Verified', p.verification ?? (p.observedThumbprint ? shortThumbprint(p.observedThumbprint) : '—')),
                cell('Detail', p.detail),
                cell('Time', `${p.durationMs} ms`),
              ),
            ),
          ),
        ),
    h(
      'dl',
      { class: 'facts' },
      fact('Reason', record.reason),
      fact('Attempts', String(record.attempts)),
      fact('Failure', record.failureKind),
      fact('Conflicts', record.conflicts?.join(', ')),
      fact('Requested by', record.requestedBy ? [record.requestedBy.via, record.requestedBy.subject].filter(Boolean).join(' ') : undefined),
      fact('Verify until', record.verifyUntil ? formatTime(record.verifyUntil) : undefined),
      fact('Retired', record.retiredAt ? formatTime(record.retiredAt) : undefined),
    ),
  );
}

function fact(term: string, value: string | undefined): Child {
  return value ? [h('dt', {}, term), h('dd', {}, value)] : null;
}

function renderAnswer(): HTMLElement {
  const answer = state.answer;
  return h(
    'section',
    { id: 'answer', tabindex: -1, 'aria-live': 'polite', 'aria-label': 'The API answer' },
    h('h2', {}, 'API answer'),
    state.busy ? h('p', { class: 'muted' }, 'Waiting for the API…') : null,
    answer
      ? [
          h('p', { class: ok(answer) ? 'ok' : 'error', id: 'answer-status' }, `${answer.method} ${API}${answer.path} → ${answer.status}`),
          h('pre', { id: 'answer-body' }, JSON.stringify(answer.json, null, 2).slice(0, 50_000)),
        ]
      : h('p', { class: 'muted' }, 'The answers of the buttons above appear here.'),
  );
}

function appName(record: Pick<RotationRecord, 'app'>): string {
  return record.app.slot ? `${record.app.site}/${record.app.slot}` : record.app.site;
}

function formatTime(iso: string | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

// ---------------------------------------------------------------------------------------------------------
// Theme: the system's (prefers-color-scheme) until the toggle picks one, which is remembered.

function applyTheme(theme: string | null): void {
  const root = document.documentElement;
  if (theme === 'dark' || theme === 'light') root.dataset.theme = theme;
  else delete root.dataset.theme;
  const dark = theme === 'dark' || (theme !== 'light' && matchMedia('(prefers-color-scheme: dark)').matches);
  const button = document.getElementById('theme');
  // A toggle keeps its name; aria-pressed says whether it is on.
  button?.setAttribute('aria-pressed', dark ? 'true' : 'false');
}

function storedTheme(): string | null {
  try {
    return localStorage.getItem(THEME_KEY);
  } catch {
    return null;
  }
}

applyTheme(storedTheme());
document.getElementById('theme')?.addEventListener('click', () => {
  const dark = document.getElementById('theme')?.getAttribute('aria-pressed') === 'true';
  const next = dark ? 'light' : 'dark';
  try {
    localStorage.setItem(THEME_KEY, next);
  } catch {
    // Private windows may refuse storage; the toggle still works for this page.
  }
  applyTheme(next);
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => applyTheme(storedTheme()));
document.getElementById('refresh')?.addEventListener('click', () => void load());

void load();
