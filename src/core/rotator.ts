// The facade the CLI and the Functions use: every use case of the engine, over the ports.
import { unwrapCrash } from './boundaries.js';
import type { Config } from './config.js';
import { collect, mapLimit } from './concurrency.js';
import type { RotatorDeps } from './deps.js';
import { NotFoundError } from './errors.js';
import { FleetBusyError, needsSlot, withRotationSlot } from './fleet.js';
import { appIdOf, appNameOf, looksLikeResourceId, parseAppId } from './identity.js';
import { bindingRow, planApp, planOf, type Plan } from './decision/plan.js';
import type { CertificateBinding, ScannedApp } from './decision/decide.js';
import type { AppRef } from './ports.js';
import type { RequestedBy, RotationRecord } from './records.js';
import { holdBackFailedCandidates } from './decision/holdBack.js';
import { resumeOpenRotations, type ResumeReport } from './resume.js';
import { nextAttemptOf, RETRY_HISTORY_LIMIT, type HeldBack } from './retryPolicy.js';
import { retireRecords, type RetireReport } from './retire.js';
import { ownerOf, rollbackRecord, rotateScannedApp, type RotationResult } from './rotate.js';
import { CandidateReads } from './rotation/context.js';
import { scanApp, scanInventory, type ScanResult, type SourceOrigin } from './scan.js';
import { emitScanTelemetry, scanFailure } from './scanTelemetry.js';
import { afterScan } from './events/afterScan.js';
import { sourceUrlOf } from './tags.js';
import { subscriptionsInScope } from './subscriptions.js';

export type { RotatorDeps } from './deps.js';

export type ScanReport = ScanResult & { plan: Plan };

export interface PlanFilter {
  /** An app's resource id, "site" or "site/slot": plan only that app (no subscription-wide scan). */
  app?: string;
  subscriptionIds?: string[];
  /** Keep only apps with action `rotate`. */
  dueOnly?: boolean;
}

export interface RotateAppOptions {
  trigger: RotationRecord['trigger'];
  /** The API caller who asked (kept in the record and its telemetry). */
  requestedBy?: RequestedBy;
  /** Return the plan; write nothing (not even a record or a lease). */
  dryRun?: boolean;
  /** Rotate even when up to date, if Key Vault has a different, acceptable version. */
  force?: boolean;
  /** The rollout wave whose message this is (kept in the record and its telemetry). */
  rollout?: { id: string; wave: number };
}

export interface RotateDueOptions {
  trigger: RotationRecord['trigger'];
  dryRun?: boolean;
  force?: boolean;
  subscriptionIds?: string[];
}

export interface RotateDueReport {
  scan: ScanReport;
  results: RotationResult[];
}

export interface InventoryEntry {
  appId: string;
  name: string;
  subscriptionId: string;
  mode: 'explicit' | 'wildcard';
  thumbprint?: string;
  certificateName?: string;
  source?: string;
  sourceOrigin?: SourceOrigin;
  latestVersion?: string;
  latestThumbprint?: string;
  notAfter?: string;
  daysRemaining?: number;
  reason: string;
  due: boolean;
  dangling: boolean;
  refusal?: string;
  problem?: string;
}

export interface NextAttempt {
  appId: string;
  reason: HeldBack['reason'];
  /** The id of the version held back (for Key Vault, its certificate version id). */
  versionId: string;
  rotationId: string;
  /** BackingOff: the earliest time it is tried again; absent for CandidateRejected (a newer version or force). */
  at?: string;
  message: string;
}

export interface Rotator {
  /** Scans every subscription (no writes), plans, emits scan telemetry, stores a summary as state `lastScan`. */
  scan(options?: { subscriptionIds?: string[] }): Promise<ScanReport>;
  plan(filter?: PlanFilter): Promise<Plan>;
  /** One app's plan with the site's tags, from one app's reads (a Key Vault event dispatching it into a rollout). */
  planOne(appIdOrName: string): Promise<{ plan: Plan; tags: Record<string, string> }>;
  rotateApp(appIdOrName: string, options: RotateAppOptions): Promise<RotationResult>;
  rotateDue(options: RotateDueOptions): Promise<RotateDueReport>;
  resumeOpen(): Promise<ResumeReport>;
  retireDue(): Promise<RetireReport>;
  /** Rolls back an in-flight or committed rotation by hand. */
  rollback(rotationId: string, options?: { trigger?: RotationRecord['trigger']; reason?: string; requestedBy?: RequestedBy }): Promise<RotationResult>;
  getRotation(id: string): Promise<RotationRecord | undefined>;
  listRotations(appIdOrName?: string, limit?: number): Promise<RotationRecord[]>;
  /**
   * Whether the app's records hold its next rotation back (CandidateRejected: not automatically; BackingOff: not
   * before `at`); undefined = nothing does, the next run decides from the plan.
   */
  nextAttempt(appIdOrName: string): Promise<NextAttempt | undefined>;
  inventory(): Promise<InventoryEntry[]>;
  /** Resource id, "site" or "site/slot" → the app; NotFoundError with a clear message otherwise. */
  resolveApp(appIdOrName: string): Promise<AppRef>;
}

export const LAST_SCAN_STATE = 'lastScan';

export function createRotator(deps: RotatorDeps, config: Config): Rotator {
  // A simulated crash (fault hook) leaves the public API as whatever the hook threw.
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw unwrapCrash(error);
    }
  };

  const scan = async (options: { subscriptionIds?: string[]; force?: boolean } = {}): Promise<ScanReport> => {
    const result = await scanInventory(deps, config, options);
    await holdBackFailedCandidates(deps, config, result.apps, options.force ? { force: true } : {});
    const plan = planOf(result, deps.clock.now());
    emitScanTelemetry(deps.telemetry, result, plan);
    deps.logger.info(
      `scan: ${result.apps.length} opted-in app(s) in ${result.subscriptions.length} subscription(s), ${plan.dueApps} due, ${result.problems.length} problem(s), ${result.durationMs} ms`,
      { failedSubscriptions: result.subscriptions.filter((s) => !s.ok).map((s) => s.subscriptionId) },
    );
    try {
      await deps.store.setState(
        LAST_SCAN_STATE,
        JSON.stringify({
          at: result.finishedAt,
          durationMs: result.durationMs,
          apps: result.apps.length,
          dueApps: plan.dueApps,
          problems: result.problems.length,
          failedSubscriptions: result.subscriptions.filter((s) => !s.ok).map((s) => s.subscriptionId),
        }),
      );
    } catch (error) {
      deps.logger.warn('the scan summary could not be stored', { error: String(error) });
    }
    await afterScan(deps, config, result, plan);
    return { ...result, plan };
  };

  const resolveApp = async (appIdOrName: string): Promise<AppRef> => {
    const value = appIdOrName.trim();
    if (looksLikeResourceId(value)) {
      const ref = parseAppId(value);
      if (!ref) {
        throw new NotFoundError(
          `'${value}' is not an App Service site or slot resource id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<site>[/slots/<slot>])`,
        );
      }
      return ref;
    }
    const [siteName, slotName, ...rest] = value.split('/');
    if (!siteName || rest.length > 0 || slotName === '') {
      throw new NotFoundError(`'${value}' is not an app name ("site" or "site/slot") or a resource id`);
    }
    const matches: AppRef[] = [];
    const inScope = (await subscriptionsInScope(deps, config)).ids;
    for (const subscriptionId of inScope) {
      for await (const site of deps.gateway.listSites(subscriptionId)) {
        if (site.ref.site.toLowerCase() !== siteName.toLowerCase()) continue;
        if (!slotName) {
          matches.push(site.ref);
          continue;
        }
        const slots = await collect(deps.gateway.listSlots(site));
        const slot = slots.find((s) => s.ref.slot?.toLowerCase() === slotName.toLowerCase());
        if (slot) matches.push(slot.ref);
      }
    }
    if (matches.length === 0) {
      throw new NotFoundError(`no app named '${value}' in subscription(s) ${inScope.join(', ')}`);
    }
    if (matches.length > 1) {
      throw new NotFoundError(`'${value}' matches several apps (${matches.map(appIdOf).join(', ')}); use the resource id`);
    }
    return matches[0] as AppRef;
  };

  const scanOne = async (appIdOrName: string, force?: boolean) => {
    const ref = await resolveApp(appIdOrName);
    const app = await scanApp(deps, config, ref, force ? { force } : {});
    if (!app) throw new NotFoundError(`app ${appNameOf(ref)} (${appIdOf(ref)}) does not exist`);
    await holdBackFailedCandidates(deps, config, [app], force ? { force } : {});
    return app;
  };

  const planOfOne = (app: ScannedApp): Plan => planOf({ startedAt: '', finishedAt: '', durationMs: 0, subscriptions: [], apps: [app], problems: [] }, deps.clock.now());

  return {
    scan: (options) => guard(() => scan(options)),

    planOne: (appIdOrName) =>
      guard(async () => {
        const app = await scanOne(appIdOrName);
        return { plan: planOfOne(app), tags: app.site.tags };
      }),

    plan: (filter = {}) =>
      guard(async () => {
        let plan: Plan;
        if (filter.app) {
          plan = planOfOne(await scanOne(filter.app));
        } else {
          const report = await scan(filter.subscriptionIds ? { subscriptionIds: filter.subscriptionIds } : {});
          // An empty plan because no subscription could be read would read as "nothing is due".
          const failure = scanFailure(report);
          if (failure !== undefined) throw failure;
          plan = report.plan;
        }
        if (!filter.dueOnly) return plan;
        const apps = plan.apps.filter((a) => a.action === 'rotate');
        return { ...plan, apps };
      }),

    rotateApp: (appIdOrName, options) =>
      guard(async () => {
        const scannedAt = deps.clock.now();
        const app = await scanOne(appIdOrName, options.force);
        const rotate = () =>
          rotateScannedApp(deps, config, app, {
            trigger: options.trigger,
            scannedAt,
            ...(options.dryRun ? { dryRun: true } : {}),
            ...(options.force ? { force: true } : {}),
            ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}),
            ...(options.rollout ? { rollout: options.rollout } : {}),
          });
        // FleetBusyError propagates: the queue retries the message rather than dropping the rotation.
        return needsSlot(app, options.dryRun) ? withRotationSlot(deps, ownerOf(deps), rotate) : rotate();
      }),

    rotateDue: (options) =>
      guard(async () => {
        const report = await scan({
          ...(options.subscriptionIds ? { subscriptionIds: options.subscriptionIds } : {}),
          ...(options.force ? { force: true } : {}),
        });
        const failure = scanFailure(report);
        if (failure !== undefined) throw failure;
        const scannedAt = new Date(report.startedAt);
        const due = report.apps.filter((app) => planApp(app).action === 'rotate');
        // One per batch: dropped (with the keys it holds) when the batch ends.
        const candidateReads = new CandidateReads();
        const results = await mapLimit(due, config.maxParallelRotations, async (app): Promise<RotationResult> => {
          const rotate = () =>
            rotateScannedApp(deps, config, app, {
              trigger: options.trigger,
              scannedAt,
              candidateReads,
              ...(options.dryRun ? { dryRun: true } : {}),
              ...(options.force ? { force: true } : {}),
            });
          if (!needsSlot(app, options.dryRun)) return rotate();
          try {
            return await withRotationSlot(deps, ownerOf(deps), rotate);
          } catch (error) {
            // The rest of the run goes on; the app is still due and the next run (or the queue) rotates it.
            if (error instanceof FleetBusyError) return { appId: app.appId, name: app.name, outcome: 'skipped', reason: 'FleetBusy' };
            throw error;
          }
        });
        return { scan: report, results };
      }),

    resumeOpen: () => guard(() => resumeOpenRotations(deps, config)),

    retireDue: () =>
      guard(async () => {
        // The nightly sweep reads every record (aborted and rolled-back ones too), not just the open list.
        const records = await deps.store.listAll();
        return retireRecords(deps, config, records);
      }),

    rollback: (rotationId, options = {}) =>
      guard(async () => {
        const record = await deps.store.get(rotationId);
        if (!record) throw new NotFoundError(`rotation ${rotationId} does not exist`);
        return rollbackRecord(deps, config, record, options.trigger ?? 'cli', options.reason ?? 'ManualRollback', options.requestedBy ? { requestedBy: options.requestedBy } : {});
      }),

    getRotation: (id) => guard(() => deps.store.get(id)),

    listRotations: (appIdOrName, limit) =>
      guard(async () => {
        if (!appIdOrName) return deps.store.listAll(limit);
        const ref = await resolveApp(appIdOrName);
        return deps.store.listForApp(appIdOf(ref), limit);
      }),

    nextAttempt: (appIdOrName) =>
      guard(async () => {
        const ref = await resolveApp(appIdOrName);
        const appId = appIdOf(ref);
        const found = nextAttemptOf(await deps.store.listForApp(appId, RETRY_HISTORY_LIMIT), deps.clock.now());
        if (!found) return undefined;
        const next: NextAttempt = {
          appId,
          reason: found.held.reason,
          versionId: found.versionId,
          rotationId: found.held.rotationId,
          message: found.held.message,
        };
        if (found.held.nextAttemptAt) next.at = found.held.nextAttemptAt;
        return next;
      }),

    inventory: () =>
      guard(async () => {
        const report = await scan();
        return report.apps.flatMap((app) => app.bindings.map((binding) => inventoryEntryOf(app, binding)));
      }),

    resolveApp: (appIdOrName) => guard(() => resolveApp(appIdOrName)),
  };
}

/** An inventory row: the plan's row of the binding (one builder), with the app and where the source was found. */
function inventoryEntryOf(app: ScannedApp, binding: CertificateBinding): InventoryEntry {
  const row = bindingRow(app, binding);
  const entry: InventoryEntry = {
    appId: app.appId,
    name: app.name,
    subscriptionId: app.ref.subscriptionId,
    mode: app.mode,
    reason: row.reason,
    due: row.due,
    dangling: binding.dangling,
  };
  if (row.thumbprint) entry.thumbprint = row.thumbprint;
  if (row.certificateName) entry.certificateName = row.certificateName;
  if (row.source) entry.source = row.source;
  if (binding.sourceOrigin) entry.sourceOrigin = binding.sourceOrigin;
  if (row.latestVersion) entry.latestVersion = row.latestVersion;
  if (row.latestThumbprint) entry.latestThumbprint = row.latestThumbprint;
  if (row.notAfter) entry.notAfter = row.notAfter;
  if (row.daysRemaining !== undefined) entry.daysRemaining = row.daysRemaining;
  if (row.refusal) entry.refusal = row.refusal.refusal;
  if (row.problem) entry.problem = row.problem;
  return entry;
}
