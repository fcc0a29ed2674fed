// No restart loops: what the rotation records of an app say about rolling a Key Vault version out to it again.
// Every rotation restarts the app, so a version that failed there is not retried blindly:
// - a definite failure (the verification answered and said no, a thumbprint mismatch, the partner refusing, an
//   operator's rollback) rejects that version on that app until Key Vault has a newer one or an operator forces it;
// - transient failures only (the app never came back, time-outs, 503s) back off, cert-manager style:
//   next attempt = last failure + 1 h · 2^(n−1), at most 32 h, n = consecutive transient failures of that version.
// Pure: the records and the time come from the caller.
import type { RotationRecord } from './records.js';
import { sameVersionId, versionIdOf } from './sources/sourceRef.js';

export const BACKOFF_BASE_MS = 60 * 60 * 1000;
/** 32 h: past a day, so a nightly run is never skipped for more than one night in a row by the cap itself. */
export const BACKOFF_CAP_MS = 32 * 60 * 60 * 1000;
/** Records read per app to decide (newest first); older failures of a version are long past any backoff. */
export const RETRY_HISTORY_LIMIT = 20;

export interface HeldBack {
  reason: 'CandidateRejected' | 'BackingOff';
  message: string;
  /** The rotation that proved the version bad (CandidateRejected) or failed last (BackingOff). */
  rotationId: string;
  /** BackingOff: when the version may be tried again. */
  nextAttemptAt?: string;
  /** BackingOff: consecutive transient failures of the version on the app. */
  failures?: number;
}

/** 1 h · 2^(n−1), capped; n ≥ 1. */
export function backoffDelayMs(failures: number): number {
  const n = Math.max(1, Math.floor(failures));
  // 2^(n-1) overflows nothing below the cap: stop doubling once the cap is reached.
  return n > 32 ? BACKOFF_CAP_MS : Math.min(BACKOFF_BASE_MS * 2 ** (n - 1), BACKOFF_CAP_MS);
}


function rotates(record: RotationRecord, versionId: string): boolean {
  return record.bindings.some((b) => sameVersionId(versionIdOf(b.source), versionId));
}

/**
 * Whether rolling `versionId` (a Key Vault certificate version id) out to the app is held back by its records
 * (newest first, as RotationStore.listForApp lists them). A commit of the version ends the look back: failures
 * before it were about another state of the app. Undefined when nothing holds it back.
 */
export function heldBackBy(records: readonly RotationRecord[], versionId: string, now: Date): HeldBack | undefined {
  const failed: RotationRecord[] = [];
  for (const record of records) {
    if (!record.outcome || !rotates(record, versionId)) continue;
    if (record.outcome === 'committed') break;
    failed.push(record);
  }
  const rejection = failed.find((r) => r.failureKind === 'definite');
  if (rejection) {
    return {
      reason: 'CandidateRejected',
      rotationId: rejection.id,
      message: `Key Vault version ${versionOf(rejection, versionId)} failed on this app in rotation ${rejection.id} (${(rejection.reason ?? rejection.outcome ?? '').slice(0, 300)}); it is not rolled out again until Key Vault has a newer version or an operator forces it`,
    };
  }
  let streak = 0;
  for (const record of failed) {
    if (record.failureKind !== 'transient') break;
    streak += 1;
  }
  const last = failed[0];
  if (streak === 0 || !last) return undefined;
  const failedAt = Date.parse(last.finishedAt ?? last.updatedAt);
  if (!Number.isFinite(failedAt)) return undefined;
  const next = new Date(failedAt + backoffDelayMs(streak));
  if (next.getTime() <= now.getTime()) return undefined;
  return {
    reason: 'BackingOff',
    rotationId: last.id,
    nextAttemptAt: next.toISOString(),
    failures: streak,
    message: `Key Vault version ${versionOf(last, versionId)} failed transiently ${streak} time(s) in a row on this app (last: rotation ${last.id}); next attempt after ${next.toISOString()}`,
  };
}

/**
 * When the app will next be tried, from its records alone (no Key Vault read): for the version of its newest
 * finished rotation that did not commit. CandidateRejected has no time: not automatically, until Key Vault has a newer
 * version or an operator forces it.
 */
export function nextAttemptOf(records: readonly RotationRecord[], now: Date): { versionId: string; held: HeldBack } | undefined {
  const newest = records.find((r) => r.outcome !== undefined);
  if (!newest || newest.outcome === 'committed' || !newest.failureKind) return undefined;
  for (const binding of newest.bindings) {
    const versionId = versionIdOf(binding.source);
    const held = heldBackBy(records, versionId, now);
    if (held) return { versionId, held };
  }
  return undefined;
}

function versionOf(record: RotationRecord, versionId: string): string {
  return record.bindings.find((b) => sameVersionId(versionIdOf(b.source), versionId))?.source.version ?? versionId;
}
