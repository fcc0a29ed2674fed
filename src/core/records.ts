// The rotation record (one row per rotation, the audit log) and the store port that keeps it.
import type { AppRef, ProbeResult, SourceVersionRef } from './ports.js';

/** Steps in the order a rotation passes them; a record's `step` is the last one completed. */
export const ROTATION_STEPS = [
  'leased',
  'staged',
  'preflighted',
  'previousRecorded',
  'switched',
  'restarted',
  'verified',
  'committed',
  'rollingBack',
  'rolledBack',
  'aborted',
  'failed',
] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/**
 * How strongly a rotation's end state was verified through the app (docs/operations.md, "Verification contract"):
 * thumbprint = the app reported presenting the expected certificate (for every binding); status = its health path
 * answered a healthy 2xx; none = no health path is configured (the direct probes are all there is).
 */
export const VERIFICATION_STRENGTHS = ['thumbprint', 'status', 'none'] as const;
export type VerificationStrength = (typeof VERIFICATION_STRENGTHS)[number];

/**
 * Why a rotation's candidate was not kept, for the retry rules (src/core/retryPolicy.ts): definite = the version is
 * proven bad on this app (a failing verification answer, a thumbprint mismatch, the partner refusing, an operator's
 * rollback); transient = only time-outs, refused connections, 429/503/504 (the app never came back).
 */
export type FailureKind = 'definite' | 'transient';

export type RotationOutcome = 'committed' | 'rolledBack' | 'aborted' | 'failed' | 'skipped';

/** One binding the rotation changes: a loaded thumbprint replaced by the candidate's. */
export interface BindingChange {
  /** Uppercase hex; undefined for a `*` app where the binding is "newest of this source". */
  oldThumbprint?: string;
  newThumbprint: string;
  /** The candidate's version at its source (kind, uri, version); records stored before it are upgraded on read. */
  source: SourceVersionRef;
  /** Name of the Microsoft.Web/certificates resource that holds the new certificate. */
  certificateResourceName?: string;
  oldCertificateResourceName?: string;
  reason: string;
  /** True when this rotation uploaded `certificateResourceName` (recorded before the upload, as intent). */
  uploaded?: boolean;
}

/**
 * Who asked, by hand, for a rotation or a rollback: the HTTP API's authenticated caller. Absent for scheduled work
 * (timer, probe timer) and the CLI.
 */
export interface RequestedBy {
  /** `clientCertificate`: a verified certificate (CLIENT_CERT_AUTH=required); `functionKey`: the key was the only credential. */
  via: 'clientCertificate' | 'functionKey';
  /** RFC 4514 names and the uppercase thumbprint of the caller's certificate (public data). */
  subject?: string;
  issuer?: string;
  thumbprint?: string;
}

export interface StepEntry {
  step: RotationStep;
  at: string;
  detail?: string;
}

export interface RotationRecord {
  /** Unique id (also the RowKey). */
  id: string;
  app: AppRef;
  appId: string;
  /** `explicit` (comma list) or `wildcard` (`*`). */
  mode: 'explicit' | 'wildcard';
  trigger: 'timer' | 'queue' | 'http' | 'cli' | 'probe';
  bindings: BindingChange[];
  /**
   * The values of every setting the rotation changes, recorded before the write that changes them.
   * A key mapped to null did not exist before.
   */
  previousSettings?: Record<string, string | null>;
  /** The values the rotation wrote (used to detect an operator's change before a rollback). */
  writtenSettings?: Record<string, string | null>;
  step: RotationStep;
  steps: StepEntry[];
  attempts: number;
  probes: ProbeResult[];
  outcome?: RotationOutcome;
  reason?: string;
  /** Keys left alone by a rollback because someone changed them after the switch. */
  conflicts?: string[];
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** End of the verification window of a committed rotation; the probe timer re-verifies until then. */
  verifyUntil?: string;
  /** When the retired certificates may be deleted (committed + RETIRE_AFTER_DAYS). */
  retireAfter?: string;
  retiredAt?: string;
  dryRun?: boolean;
  /** The caller who asked for this rotation (or, with `rollbackOf`, this rollback) through the API. */
  requestedBy?: RequestedBy;
  /** The canary rollout and its wave (0-based) that queued this rotation; absent for one that went on its own. */
  rollout?: { id: string; wave: number };
  /** The caller who asked through the API to roll this (still open) rotation back. */
  rollbackRequestedBy?: RequestedBy;
  /** Set on the record of a rollback of an already committed rotation: the id of that rotation. */
  rollbackOf?: string;
  /**
   * What the via-app probe expects the app to present, decided when the rotation starts (the app has
   * one binding, or a `-settings` key names the certificate it presents); undefined = status only.
   */
  probeExpectation?: { newThumbprint?: string; oldThumbprint?: string };
  /** How strongly the state the record ended in was verified; set when the verification ran (`none` until then). */
  verification?: VerificationStrength;
  /** Set when the candidate failed (verification, or the app never came back): drives CandidateRejected / BackingOff. */
  failureKind?: FailureKind;
}

/**
 * The most a record's JSON may hold. A record is one Table Storage entity, which holds at most 1 MiB in all, stored
 * as UTF-16 (two bytes a character), in at most 255 properties of at most 64 KiB each: 510,000 characters is 17
 * properties of 30,000 and leaves room for the readable columns. The store refuses a larger record, before writing.
 */
export const MAX_RECORD_JSON_CHARS = 510_000;

export interface Lease {
  appId: string;
  owner: string;
  expiresAt: string;
  /** Opaque concurrency token (the table entity's ETag). */
  etag: string;
}

/**
 * Where rotation records and leases live. Every implementation runs the contract suite
 * (test/contracts/rotationStore.contract.ts), which is what the engine may rely on.
 */
export interface RotationStore {
  /** Creates a new record; a ConflictError if the id exists; a PreconditionError, writing nothing, past MAX_RECORD_JSON_CHARS. */
  create(record: RotationRecord): Promise<void>;
  /**
   * Replaces a stored record, judged against what is stored now (whoever wrote it): a PreconditionError when it does
   * not exist, when `refusedUpdate` refuses it (a finished record changes only `retiredAt`), or past the size bound.
   */
  update(record: RotationRecord): Promise<void>;
  /** A copy of the record, or undefined. */
  get(id: string): Promise<RotationRecord | undefined>;
  /** Newest first (same start: by id), at most `limit` (default 50). */
  listForApp(appId: string, limit?: number): Promise<RotationRecord[]>;
  /** The records `isOpenRecord` calls open on the store's clock, newest first. */
  listOpen(): Promise<RotationRecord[]>;
  /** Every app's records, newest first (same start: by id), at most `limit` (default 100). */
  listAll(limit?: number): Promise<RotationRecord[]>;

  /** Takes the per-app lease, or returns undefined when someone else holds an unexpired one. */
  acquireLease(appId: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  renewLease(lease: Lease, ttlMs: number): Promise<Lease | undefined>;
  releaseLease(lease: Lease): Promise<void>;

  /** Small key/value state of the service itself (last scan time and summary). */
  getState(key: string): Promise<string | undefined>;
  setState(key: string, value: string): Promise<void>;
}

// ---- predicates: what "open", "in flight" and "in its window" mean, written once for every store and use case

/** A rotation still running or left mid-way: it owns its app until it is finished or rolled back. */
export function isInFlight(record: Pick<RotationRecord, 'outcome'>): boolean {
  return !record.outcome;
}

/** A committed rotation the probe timer still re-verifies (and rolls back on a persistent failure). */
export function isInVerificationWindow(record: Pick<RotationRecord, 'outcome' | 'verifyUntil'>, now: Date): boolean {
  return record.outcome === 'committed' && record.verifyUntil !== undefined && Date.parse(record.verifyUntil) > now.getTime();
}

/** A finished rotation whose replaced (or staged) certificates have not been retired yet. */
export function isRetirementPending(record: Pick<RotationRecord, 'retireAfter' | 'retiredAt'>): boolean {
  return record.retireAfter !== undefined && !record.retiredAt;
}

/** A finished rotation whose grace period is over: its replaced (or staged) certificates may be deleted now. */
export function isRetirementDue(record: RotationRecord, now: Date): boolean {
  return (
    !!record.outcome &&
    record.outcome !== 'skipped' &&
    isRetirementPending(record) &&
    Date.parse(record.retireAfter as string) <= now.getTime()
  );
}

/** What `RotationStore.listOpen` returns: a record that may still need work from the probe timer. */
export function isOpenRecord(record: RotationRecord, now: Date): boolean {
  return isInFlight(record) || isRetirementPending(record) || isInVerificationWindow(record, now);
}

/**
 * Why replacing `stored` by `next` is refused, or undefined when it is allowed. A finished record is the audit log:
 * only `retiredAt` (and `updatedAt`) may change; id and appId never change.
 */
export function refusedUpdate(stored: RotationRecord, next: RotationRecord): string | undefined {
  if (next.appId !== stored.appId || next.id !== stored.id) return `rotation record ${next.id}: id and appId never change`;
  if (stored.outcome === undefined) return undefined;
  const changed = changedFields(stored, next).filter((key) => key !== 'retiredAt' && key !== 'updatedAt');
  if (changed.length === 0) return undefined;
  return `rotation record ${next.id} is finished (${stored.outcome}) and is the audit log: only retiredAt may change, not ${changed.join(', ')}`;
}

/** Top-level fields whose JSON differs (JSON drops undefined, as a stored copy does). */
function changedFields(before: RotationRecord, after: RotationRecord): string[] {
  const a = JSON.parse(JSON.stringify(before)) as Record<string, unknown>;
  const b = JSON.parse(JSON.stringify(after)) as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
}
