// Readable output: fixed-width tables an operator can scan. The --json form prints the reports unchanged.
import type { NextAttempt, Plan, ResumeReport, RetireReport, RotateDueReport, RotationResult } from '../core/index.js';
import type { RotationRecord } from '../core/records.js';

export function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const short = (thumbprint?: string) => (thumbprint ? thumbprint.slice(0, 8) : '-');

export function renderPlan(plan: Plan): string {
  const rows = plan.apps.flatMap((app) =>
    app.bindings.length === 0
      ? [[app.name, app.action, '-', '-', '-', '-', '']]
      : app.bindings.map((b) => [
          app.name,
          app.action,
          b.reason,
          short(b.thumbprint),
          b.daysRemaining === undefined ? '-' : String(b.daysRemaining),
          short(b.latestThumbprint),
          b.refusal
            ? `refused: ${b.refusal.refusal}: ${b.refusal.message}`
            : b.heldBackBy
              ? `${b.nextAttemptAt ? `next attempt ${b.nextAttemptAt}` : 'not retried (newer version or --force clears it)'}; rotation ${b.heldBackBy}`
              : (b.problem ?? ''),
        ]),
  );
  const problems = plan.apps.flatMap((a) => a.problems.map((p) => `  ${a.name}: ${p}`));
  const due = plan.apps.filter((a) => a.action === 'rotate').length;
  return [
    table(['APP', 'ACTION', 'REASON', 'LOADED', 'DAYS', 'LATEST', 'NOTE'], rows),
    ...(problems.length > 0 ? ['', 'Problems:', ...problems] : []),
    '',
    `${plan.apps.length} app(s), ${due} due`,
  ].join('\n');
}

export function renderResults(results: RotationResult[]): string {
  const rows = results.map((r) => [
    r.name,
    r.outcome,
    [r.reason, ...(r.problems ?? []), r.error].filter(Boolean).join('; '),
    r.record?.bindings.map((b) => `${short(b.oldThumbprint)}→${short(b.newThumbprint)}`).join(' ') ?? '',
    r.rotationId ?? '',
  ]);
  return table(['APP', 'OUTCOME', 'REASON', 'CHANGE', 'ROTATION'], rows);
}

export function renderRotateDue(report: RotateDueReport): string {
  return [renderResults(report.results), '', `${report.scan.apps.length} app(s) scanned, ${report.results.length} rotated or attempted`].join('\n');
}

export function renderRecords(records: RotationRecord[], nextAttempt?: NextAttempt | null): string {
  const rows = table(
    ['STARTED', 'APP', 'STEP', 'OUTCOME', 'VERIFIED', 'REASON', 'ROTATION'],
    records.map((r) => [
      r.startedAt,
      r.app.slot ? `${r.app.site}/${r.app.slot}` : r.app.site,
      r.step,
      r.outcome ?? 'in progress',
      r.verification ?? '-',
      r.reason ?? '',
      r.id,
    ]),
  );
  // Only for one app's history (status --app): undefined = not asked.
  if (nextAttempt === undefined) return rows;
  return [rows, '', `Next attempt: ${describeNextAttempt(nextAttempt)}`].join('\n');
}

/** When an app is tried again, in words. */
export function describeNextAttempt(next: NextAttempt | null): string {
  if (next === null) return 'next run (nothing holds the app back)';
  if (next.reason === 'CandidateRejected') {
    return `not automatically: CandidateRejected by rotation ${next.rotationId}; a newer Key Vault version or --force clears it`;
  }
  return `not before ${next.at ?? '?'} (BackingOff after rotation ${next.rotationId})`;
}

export function renderProbe(report: ResumeReport): string {
  return [
    'Resumed:',
    renderResults(report.resumed),
    '',
    'Re-verified:',
    table(['ROTATION', 'STATUS', 'DETAIL'], report.reverified.map((r) => [r.rotationId, r.status, r.detail])),
    '',
    renderRetire(report.retired),
  ].join('\n');
}

export function renderRetire(report: RetireReport): string {
  const rows = [
    ...report.deleted.map((d) => ['deleted', d.name, short(d.thumbprint), d.resourceGroup]),
    ...report.kept.map((k) => ['kept', k.name, short(k.thumbprint), k.reason]),
  ];
  return [
    'Retired certificates:',
    table(['ACTION', 'CERTIFICATE', 'THUMBPRINT', 'NOTE'], rows),
    ...(report.errors.length > 0 ? ['', 'Errors:', ...report.errors.map((e) => `  ${e}`)] : []),
  ].join('\n');
}
