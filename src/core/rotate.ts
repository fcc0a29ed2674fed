// Rotating one app: lease → stage → preflight → switch → restart → verify → commit, or rollback.
// The record is the state machine: `drive` runs the step that follows the record's `step` until the
// record has an outcome, so a fresh rotation, a resumed one and a manual rollback share one path.
// Each step first looks at the real state and the record and skips what is already done.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CrashSignal } from './boundaries.js';
import type { Config } from './config.js';
import { probeTargetPolicyOf } from './config.js';
import type { RotatorDeps } from './deps.js';
import { describeError, LeaseLostError, NotFoundError, PreconditionError, toRotatorError } from './errors.js';
import { appNameOf } from './identity.js';
import { planApp, type AppPlan, type DueBinding } from './decision/plan.js';
import { isInFlight, type FailureKind, type Lease, type RequestedBy, type RotationOutcome, type RotationRecord, type RotationStep } from './records.js';
import { holdBackFailedCandidates } from './decision/holdBack.js';
import { ownedSettingsSeenBy, scanApp, type ScannedApp } from './scan.js';
import { parseAppTags, tagNames } from './tags.js';
import { commitRotation } from './rotation/commitRotation.js';
import {
  crash,
  dimensionsOf,
  finish,
  leaseMs,
  releaseQuietly,
  save,
  type CandidateReads,
  type RotationContext,
} from './rotation/context.js';
import { failOrRollBack } from './rotation/failOrRollBack.js';
import { preflight } from './rotation/preflight.js';
import { restartApp } from './rotation/restartApp.js';
import { rollbackRotation } from './rotation/rollbackRotation.js';
import { stageCandidate } from './rotation/stageCandidate.js';
import { admitProbeTargets } from './rotation/admitTargets.js';
import { switchThumbprint } from './rotation/switchThumbprint.js';
import { verifyRotation } from './rotation/verifyRotation.js';
import { slotSettingsProblem } from './slotSettings.js';

/**
 * Why a rotation did not run:
 * DryRun = asked not to write; NothingDue = every binding is up to date (or only needs an alert);
 * HeldBack = a binding is due but its Key Vault version already failed on the app (CandidateRejected, BackingOff:
 * the plan says which rotation and, for BackingOff, when it is tried again);
 * InProgress = another caller holds the app's lease; NotOptedIn = no `<p>=enabled` tag;
 * AppProblems = bad tags or settings (listed in `problems`), the app is never changed.
 */
export type SkipReason = 'DryRun' | 'NothingDue' | 'HeldBack' | 'InProgress' | 'NotOptedIn' | 'AppProblems'
  /** Its slot settings make some owned settings sticky and others not: a swap would split them (slotSettings.ts). */
  | 'SplitSlotSettings'
  /** Every fleet rotation slot (MAX_PARALLEL_ROTATIONS) stayed taken; still due, rotated by a later run. */
  | 'FleetBusy';

/** Nothing due because the app's records hold a due binding back (no restart loop), or nothing due at all. */
function notDueReason(plan: AppPlan): SkipReason {
  return plan.bindings.some((b) => b.heldBackBy !== undefined) ? 'HeldBack' : 'NothingDue';
}

export interface RotationResult {
  appId: string;
  /** "site" or "site/slot". */
  name: string;
  /**
   * The record's outcome, `skipped` (nothing started; `reason` is a SkipReason), or `interrupted`
   * (a transient fault stopped it mid-way; the record stays open and the probe timer resumes it).
   */
  outcome: RotationOutcome | 'interrupted';
  reason?: string;
  rotationId?: string;
  record?: RotationRecord;
  /** The plan the decision was made on (always set for fresh rotations and dry runs). */
  plan?: AppPlan;
  problems?: string[];
  error?: string;
}

export interface RotateOptions {
  trigger: RotationRecord['trigger'];
  dryRun?: boolean;
  force?: boolean;
  /** When the scan behind `app` was taken: a rotation recorded after it means the scan is stale. */
  scannedAt?: Date;
  /** The batch's shared candidate reads (rotateDue); a rotation on its own reads its candidates itself. */
  candidateReads?: CandidateReads;
  /** The API caller who asked for it (recorded in the record and its telemetry). */
  requestedBy?: RequestedBy;
  /** The rollout wave that queued it (recorded in the record and its telemetry). */
  rollout?: { id: string; wave: number };
}

/** Resume attempts after which a rotation stops retrying and rolls back (or fails). */
export const MAX_ATTEMPTS = 5;

let defaultOwner: string | undefined;
export function ownerOf(deps: RotatorDeps): string {
  defaultOwner ??= `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return deps.owner ?? defaultOwner;
}

/** Sortable, unique, valid as a Table RowKey (no / \ # ?). */
export function newRotationId(now: Date): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}

function skipped(app: { appId: string; name: string }, reason: SkipReason, extra: Partial<RotationResult> = {}): RotationResult {
  return { appId: app.appId, name: app.name, outcome: 'skipped', reason, ...extra };
}

function resultOf(record: RotationRecord, extra: Partial<RotationResult> = {}): RotationResult {
  const result: RotationResult = {
    appId: record.appId,
    name: appNameOf(record.app),
    outcome: record.outcome ?? 'interrupted',
    rotationId: record.id,
    record,
    ...extra,
  };
  if (record.reason !== undefined && result.reason === undefined) result.reason = record.reason;
  return result;
}

/** Rotates the due bindings of a scanned app, all in one pass with one restart. */
export async function rotateScannedApp(
  deps: RotatorDeps,
  config: Config,
  app: ScannedApp,
  options: RotateOptions,
): Promise<RotationResult> {
  const plan = planApp(app);
  if (!app.tags.enabled) return skipped(app, 'NotOptedIn', { plan });
  if (app.problems.length > 0) return skipped(app, 'AppProblems', { plan, problems: [...app.problems] });
  if (options.dryRun) return skipped(app, 'DryRun', { plan });
  if (plan.due.length === 0) {
    // A rotation stopped right after its settings write makes the app look up to date: it still has to be
    // finished (or rolled back) from its record, not reported as nothing to do.
    const open = (await deps.store.listForApp(app.appId, 10)).find(isInFlight);
    if (!open) return skipped(app, notDueReason(plan), { plan });
  }

  const lease = await deps.store.acquireLease(app.appId, ownerOf(deps), leaseMs(config));
  if (!lease) {
    // Name the rotation that holds the app, so the alert leads to its record (none when the holder has not created
    // it yet, or is a manual rollback of a finished one).
    const holder = (await deps.store.listForApp(app.appId, 10).catch(() => [])).find(isInFlight);
    deps.telemetry.event('RotationConflict', {
      appId: app.appId,
      slot: app.ref.slot,
      subscription: app.ref.subscriptionId,
      reason: 'InProgress',
      rotationId: holder?.id,
    });
    return skipped(app, 'InProgress', { plan });
  }
  try {
    const history = await deps.store.listForApp(app.appId, 10);
    // A rotation left mid-way owns the app until it is finished or rolled back: finish it first.
    const open = history.find(isInFlight);
    if (open) return await continueRecord(deps, config, open, lease);
    // Before anything changes (a rotation already under way is finished above, whatever the slot settings say).
    const split = await slotSettingsProblem(deps.gateway, { ref: app.ref, name: app.name, hasSlots: app.tags.slots }, app.tags.settings);
    if (split !== undefined) {
      await releaseQuietly({ deps, lease });
      deps.logger.warn(`rotation of ${app.name} not started: ${split}`, { appId: app.appId });
      // A conflict between the site's slot settings and the rotation; the reason names it for the operator.
      deps.telemetry.event('RotationConflict', { appId: app.appId, slot: app.ref.slot, subscription: app.ref.subscriptionId, reason: 'SplitSlotSettings' });
      return skipped(app, 'SplitSlotSettings', { plan, problems: [split] });
    }

    let current = app;
    let currentPlan = plan;
    const scannedAt = options.scannedAt?.getTime();
    if (scannedAt !== undefined && history.some((r) => Date.parse(r.updatedAt) >= scannedAt)) {
      // Someone rotated this app after our scan: decide again on fresh state.
      const fresh = await scanApp(deps, config, app.ref, options.force ? { force: true } : {});
      if (!fresh) throw new NotFoundError(`app ${app.name} no longer exists`);
      await holdBackFailedCandidates(deps, config, [fresh], options.force ? { force: true } : {});
      current = fresh;
      currentPlan = planApp(fresh);
      if (fresh.problems.length > 0 || currentPlan.due.length === 0) {
        await releaseQuietly({ deps, lease });
        return skipped(fresh, fresh.problems.length > 0 ? 'AppProblems' : notDueReason(currentPlan), { plan: currentPlan });
      }
    }

    const record = newRecord(deps, current, currentPlan.due, options.trigger, options.requestedBy);
    if (options.rollout) record.rollout = { id: options.rollout.id, wave: options.rollout.wave };
    await deps.store.create(record);
    deps.telemetry.event('RotationStarted', dimensionsOf(record, { reason: record.bindings.map((b) => b.reason).join(',') }));
    deps.logger.info(`rotation ${record.id} of ${current.name} started`, {
      rotationId: record.id,
      appId: record.appId,
      bindings: record.bindings.map((b) => `${b.oldThumbprint ?? '-'} -> ${b.newThumbprint} (${b.reason})`),
    });
    const settingsSeen = ownedSettingsSeenBy(current);
    const ctx: RotationContext = {
      deps,
      config,
      names: tagNames(config.rotationTag),
      record,
      lease,
      site: current.site,
      tags: current.tags,
      candidates: new Map(),
      ...(options.candidateReads ? { candidateReads: options.candidateReads } : {}),
      scannedVersions: new Map(currentPlan.due.map((d) => [d.candidate.id.trim().toLowerCase(), d.candidate])),
      ...(settingsSeen ? { settingsSeen } : {}),
    };
    await crash(ctx, 'afterLease');
    return await driveToResult(ctx, { plan: currentPlan });
  } catch (error) {
    if (error instanceof CrashSignal) throw error;
    await releaseQuietly({ deps, lease });
    const fault = toRotatorError(error);
    deps.telemetry.exception(fault, { appId: app.appId });
    return { appId: app.appId, name: app.name, outcome: 'interrupted', error: describeError(fault), plan };
  }
}

function newRecord(deps: RotatorDeps, app: ScannedApp, due: DueBinding[], trigger: RotationRecord['trigger'], requestedBy?: RequestedBy): RotationRecord {
  const now = deps.clock.now();
  const at = now.toISOString();
  const bindings = due.map((d) => {
    const binding: RotationRecord['bindings'][number] = {
      newThumbprint: d.candidate.thumbprint.toUpperCase(),
      source: { ...deps.sources.refOf(d.candidate.source), version: d.candidate.version },
      reason: d.forced ? `Forced (${d.reason})` : d.reason,
    };
    if (d.oldThumbprint) binding.oldThumbprint = d.oldThumbprint;
    if (d.oldCertificateName) binding.oldCertificateResourceName = d.oldCertificateName;
    return binding;
  });
  const record: RotationRecord = {
    id: newRotationId(now),
    app: { ...app.ref },
    appId: app.appId,
    mode: app.mode,
    trigger,
    bindings,
    step: 'leased',
    steps: [{ step: 'leased', at }],
    attempts: 1,
    probes: [],
    startedAt: at,
    updatedAt: at,
    verification: 'none',
  };
  if (requestedBy) record.requestedBy = { ...requestedBy };
  const expectation = probeExpectationOf(app, bindings);
  if (expectation) record.probeExpectation = expectation;
  return record;
}

/**
 * What the app presents after the switch: with one binding, that certificate; with several, the one
 * named by a `<p>-settings` key (CLIENT_CERT_THUMBPRINT style). Otherwise the probe checks status only.
 */
function probeExpectationOf(app: ScannedApp, bindings: RotationRecord['bindings']): RotationRecord['probeExpectation'] {
  const pick = (b: RotationRecord['bindings'][number]) => {
    const expectation: NonNullable<RotationRecord['probeExpectation']> = { newThumbprint: b.newThumbprint };
    if (b.oldThumbprint) expectation.oldThumbprint = b.oldThumbprint;
    return expectation;
  };
  if (app.bindings.length === 1 && bindings.length === 1) return pick(bindings[0] as RotationRecord['bindings'][number]);
  if (app.selectedThumbprint) {
    const selected = bindings.find((b) => b.oldThumbprint === app.selectedThumbprint);
    if (selected) return pick(selected);
    // The selected certificate is not rotated: the app keeps presenting it.
    return { newThumbprint: app.selectedThumbprint, oldThumbprint: app.selectedThumbprint };
  }
  return undefined;
}

/** Runs `drive` and turns its end state into a result; faults become `interrupted` (record left open). */
async function driveToResult(ctx: RotationContext, extra: Partial<RotationResult> = {}): Promise<RotationResult> {
  try {
    await drive(ctx);
    return resultOf(ctx.record, extra);
  } catch (error) {
    if (error instanceof CrashSignal) throw error;
    const fault = toRotatorError(error);
    if (!(fault instanceof LeaseLostError)) await releaseQuietly(ctx);
    ctx.deps.telemetry.exception(fault, dimensionsOf(ctx.record));
    ctx.deps.logger.warn(`rotation ${ctx.record.id} interrupted at ${ctx.record.step}: ${describeError(fault)}`, {
      rotationId: ctx.record.id,
      appId: ctx.record.appId,
    });
    return resultOf(ctx.record, { ...extra, outcome: 'interrupted', error: describeError(fault) });
  }
}

/**
 * Runs steps until the record has an outcome. A transient fault or a lost lease leaves the record
 * open (thrown to the caller); any other fault ends the rotation: `failed` while the app is untouched,
 * a rollback once it may have changed, `failed` if the rollback itself cannot proceed.
 */
export async function drive(ctx: RotationContext): Promise<void> {
  while (!ctx.record.outcome) {
    const before = ctx.record.step;
    const beforeEntries = ctx.record.steps.length;
    try {
      await runStep(ctx, before);
    } catch (error) {
      if (error instanceof CrashSignal) throw error;
      const fault = toRotatorError(error, `${ctx.record.id} after step ${ctx.record.step}`);
      if (fault.retryable || fault instanceof LeaseLostError) throw fault;
      ctx.deps.telemetry.exception(fault, dimensionsOf(ctx.record));
      await failOrRollBack(ctx, { reason: `${fault.code}: ${fault.message}`.slice(0, 500), by: 'fault' });
      continue;
    }
    // Every step either moves the record on or ends it; anything else would loop forever.
    if (!ctx.record.outcome && ctx.record.step === before && ctx.record.steps.length === beforeEntries) {
      throw new PreconditionError(`step after ${before} made no progress on ${ctx.record.id}`);
    }
  }
}

async function runStep(ctx: RotationContext, step: RotationStep): Promise<void> {
  switch (step) {
    case 'leased':
      // Probe targets are admitted before the stage step uploads anything.
      return (await admitProbeTargets(ctx)) ? stageCandidate(ctx) : undefined;
    case 'staged':
      return preflight(ctx);
    case 'preflighted':
    case 'previousRecorded':
      return switchThumbprint(ctx);
    case 'switched':
      return restartApp(ctx);
    case 'restarted':
      return verifyRotation(ctx);
    case 'verified':
      return commitRotation(ctx);
    case 'rollingBack':
      return rollbackRotation(ctx);
    default:
      throw new PreconditionError(`record ${ctx.record.id} is at step ${step} without an outcome`);
  }
}

async function contextFor(deps: RotatorDeps, config: Config, record: RotationRecord, lease: Lease): Promise<RotationContext | RotationResult> {
  const site = await deps.gateway.getSite(record.app);
  const names = tagNames(config.rotationTag);
  if (!site) {
    // Nothing left to roll back or finish: the app is gone.
    const ctx = { deps, config, names, record, lease, candidates: new Map() } as unknown as RotationContext;
    await finish(ctx, 'failed', `AppNotFound: ${appNameOf(record.app)} no longer exists`);
    return resultOf(record);
  }
  return { deps, config, names, record, lease, site, tags: parseAppTags(site.tags, config.rotationTag, probeTargetPolicyOf(config), deps.sources).config, candidates: new Map() };
}

/** Continues an open record under a lease the caller already holds. */
async function continueRecord(deps: RotatorDeps, config: Config, stored: RotationRecord, lease: Lease): Promise<RotationResult> {
  const record = (await deps.store.get(stored.id)) ?? stored;
  if (record.outcome) {
    await releaseQuietly({ deps, lease });
    return resultOf(record);
  }
  const ctx = await contextFor(deps, config, record, lease);
  if (!('deps' in ctx)) return ctx;
  try {
    record.attempts += 1;
    // A rollback gets as many attempts again as the rotation had: giving up on it leaves the app unverified.
    const limit = record.step === 'rollingBack' ? 2 * MAX_ATTEMPTS : MAX_ATTEMPTS;
    if (record.attempts > limit) {
      await failOrRollBack(ctx, {
        reason: `TooManyAttempts: ${record.attempts - 1} attempts did not finish the rotation`,
        by: 'fault',
        // The rotation could not finish (the app never came back, steps kept timing out): unless a probe already
        // proved the candidate bad, it is retried later with backoff.
        failureKind: record.failureKind ?? 'transient',
      });
    } else {
      await save(ctx);
    }
    if (!record.outcome) {
      deps.logger.info(`resuming rotation ${record.id} of ${record.appId} at ${record.step} (attempt ${record.attempts})`, {
        rotationId: record.id,
        appId: record.appId,
      });
    }
  } catch (error) {
    if (error instanceof CrashSignal) throw error;
    await releaseQuietly(ctx);
    return resultOf(record, { outcome: 'interrupted', error: describeError(error) });
  }
  return driveToResult(ctx);
}

/** Resumes an open record (crash, timeout, expired lease): finishes it or rolls it back. */
export async function resumeRecord(deps: RotatorDeps, config: Config, record: RotationRecord): Promise<RotationResult> {
  const lease = await deps.store.acquireLease(record.appId, ownerOf(deps), leaseMs(config));
  if (!lease) return { ...resultOf(record), outcome: 'skipped', reason: 'InProgress' };
  try {
    return await continueRecord(deps, config, record, lease);
  } catch (error) {
    if (error instanceof CrashSignal) throw error;
    await releaseQuietly({ deps, lease });
    // A fault before the steps run (reading the record, getting the site) stops this record only: thrown, it
    // would fail the whole probe-timer run, leaving every other open rotation unresumed and nothing retired.
    const fault = toRotatorError(error);
    deps.logger.warn(`rotation ${record.id} could not be resumed: ${describeError(fault)}`, { rotationId: record.id, appId: record.appId });
    return resultOf(record, { outcome: 'interrupted', error: describeError(fault) });
  }
}

/**
 * Rolls back by hand (or after a failed re-verification): an open rotation is rolled back in place
 * (aborted if the app was not touched yet); a committed one gets a new record (`rollbackOf`), since
 * a record is never rewritten after its outcome.
 */
export async function rollbackRecord(
  deps: RotatorDeps,
  config: Config,
  record: RotationRecord,
  trigger: RotationRecord['trigger'],
  reason: string,
  options: {
    /** The caller, written into the record's audit trail. */
    requestedBy?: RequestedBy;
    /** Why the candidate goes: an operator's rollback (default) proves it unwanted on this app. */
    failureKind?: FailureKind;
  } = {},
): Promise<RotationResult> {
  const { requestedBy, failureKind = 'definite' } = options;
  if (record.outcome && record.outcome !== 'committed') {
    throw new PreconditionError(`rotation ${record.id} is ${record.outcome}: there is nothing to roll back`);
  }
  const lease = await deps.store.acquireLease(record.appId, ownerOf(deps), leaseMs(config));
  if (!lease) {
    deps.telemetry.event('RotationConflict', dimensionsOf(record, { reason: 'InProgress' }));
    return { ...resultOf(record), outcome: 'skipped', reason: 'InProgress' };
  }
  try {
    const history = await deps.store.listForApp(record.appId, 20);
    if (!record.outcome) {
      const current = (await deps.store.get(record.id)) ?? record;
      if (current.outcome) {
        await releaseQuietly({ deps, lease });
        return resultOf(current);
      }
      const ctx = await contextFor(deps, config, current, lease);
      if (!('deps' in ctx)) return ctx;
      // Who stopped it is part of the audit trail, whichever way it ends.
      if (requestedBy) current.rollbackRequestedBy = { ...requestedBy };
      await failOrRollBack(ctx, { reason, by: 'operator', failureKind });
      if (current.outcome) return resultOf(current);
      return await driveToResult(ctx);
    }

    const existing = history.find((r) => r.rollbackOf === record.id);
    if (existing) {
      await releaseQuietly({ deps, lease });
      return resultOf(existing);
    }
    const newer = history.find((r) => r.id !== record.id && r.startedAt > record.startedAt && r.outcome !== 'aborted');
    if (newer) {
      throw new PreconditionError(`rotation ${newer.id} of the same app came after ${record.id}; roll that one back instead`);
    }
    const now = deps.clock.now().toISOString();
    const rollback: RotationRecord = {
      id: newRotationId(deps.clock.now()),
      app: { ...record.app },
      appId: record.appId,
      mode: record.mode,
      trigger,
      bindings: record.bindings.map((b) => ({ ...b })),
      step: 'rollingBack',
      steps: [
        { step: 'leased', at: now },
        { step: 'rollingBack', at: now, detail: `${reason} (rolls back ${record.id})` },
      ],
      attempts: 1,
      probes: [],
      reason,
      startedAt: now,
      updatedAt: now,
      rollbackOf: record.id,
      verification: 'none',
      failureKind,
    };
    if (requestedBy) rollback.requestedBy = { ...requestedBy };
    if (record.previousSettings) rollback.previousSettings = { ...record.previousSettings };
    if (record.writtenSettings) rollback.writtenSettings = { ...record.writtenSettings };
    if (record.probeExpectation) rollback.probeExpectation = { ...record.probeExpectation };
    await deps.store.create(rollback);
    deps.telemetry.event('RotationStarted', dimensionsOf(rollback, { reason }));
    const ctx = await contextFor(deps, config, rollback, lease);
    if (!('deps' in ctx)) return ctx;
    return await driveToResult(ctx);
  } catch (error) {
    if (error instanceof CrashSignal) throw error;
    await releaseQuietly({ deps, lease });
    throw error;
  }
}
