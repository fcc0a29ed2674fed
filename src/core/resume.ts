// The probe timer's work: finish or roll back rotations left mid-way, re-verify committed rotations
// inside their verification window (rolling back on a persistent failure), retire what is due.
import { CrashSignal } from './boundaries.js';
import type { Config } from './config.js';
import { probeTargetPolicyOf } from './config.js';
import { mapLimit } from './concurrency.js';
import type { RotatorDeps } from './deps.js';
import { describeError } from './errors.js';
import { parseAppTags } from './tags.js';
import { isInFlight, isInVerificationWindow, type RotationRecord } from './records.js';
import { retireRecords, type RetireReport } from './retire.js';
import { resumeRecord, rollbackRecord, type RotationResult } from './rotate.js';
import { failureKindOf, planProbes, probeWithRetries, reportProbeFailures, summarise } from './rotation/probing.js';
import type { ProbeContext } from './rotation/probes/index.js';

export interface ReverifyResult {
  rotationId: string;
  appId: string;
  /** ok = still healthy; rolledBack = a persistent failure rolled it back; skipped = nothing to probe. */
  status: 'ok' | 'rolledBack' | 'skipped';
  detail: string;
  rollback?: RotationResult;
}

export interface ResumeReport {
  resumed: RotationResult[];
  reverified: ReverifyResult[];
  retired: RetireReport;
}

export async function resumeOpenRotations(deps: RotatorDeps, config: Config): Promise<ResumeReport> {
  const open = await deps.store.listOpen();
  // One open record per app is the normal case; if there are more, the oldest goes first.
  const inFlight = open.filter(isInFlight).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const resumed = await mapLimit(inFlight, config.maxParallelRotations, (record) => resumeRecord(deps, config, record));
  const now = deps.clock.now();
  const inWindow = open.filter((r) => isInVerificationWindow(r, now));
  const reverified = await mapLimit(inWindow, config.maxParallelRotations, (record) => reverifyCommitted(deps, config, record));
  const retired = await retireRecords(deps, config, open);
  return { resumed, reverified, retired };
}

/** Re-probes a committed rotation via the app; a failure that persists past the attempts rolls it back. */
export async function reverifyCommitted(deps: RotatorDeps, config: Config, record: RotationRecord): Promise<ReverifyResult> {
  const base = { rotationId: record.id, appId: record.appId };
  try {
    const history = await deps.store.listForApp(record.appId, 20);
    const superseded = history.find(
      (r) => r.id !== record.id && (r.rollbackOf === record.id || (r.startedAt > record.startedAt && r.outcome !== 'aborted')),
    );
    if (superseded) return { ...base, status: 'skipped', detail: `superseded by rotation ${superseded.id}` };
    const site = await deps.gateway.getSite(record.app);
    if (!site) return { ...base, status: 'skipped', detail: 'the app no longer exists' };
    const tags = parseAppTags(site.tags, config.rotationTag, probeTargetPolicyOf(config)).config;
    const probe: ProbeContext = { phase: 'reverify', deps, config, site, tags, record, notes: [] };
    const planned = await planProbes(probe);
    if (planned.length === 0) return { ...base, status: 'skipped', detail: ['nothing to re-verify (no health path to probe)', ...probe.notes].join('; ') };
    const outcome = await probeWithRetries(probe, planned, { stopOnRefusal: false });
    if (outcome.ok) return { ...base, status: 'ok', detail: `healthy after ${outcome.attempts} attempt(s)` };
    const evidence = summarise(outcome.failures);
    reportProbeFailures(probe, outcome.failures, { reason: 'VerificationWindowFailed' });
    const rollback = await rollbackRecord(deps, config, record, 'probe', `VerificationWindowFailed: ${evidence}`, { failureKind: failureKindOf(outcome.failures) });
    return { ...base, status: rollback.outcome === 'skipped' ? 'skipped' : 'rolledBack', detail: evidence, rollback };
  } catch (error) {
    if (error instanceof CrashSignal) throw error;
    deps.telemetry.exception(error, { rotationId: record.id, appId: record.appId });
    return { ...base, status: 'skipped', detail: `re-verification failed to run: ${describeError(error)}` };
  }
}
