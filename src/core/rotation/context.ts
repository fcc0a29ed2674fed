// What every rotation step shares: the record (the source of truth, persisted after every step),
// the lease (renewed on every save), the app, and the candidates' key material (memory only).
import type { CandidateRefusal, ReadCandidate } from '../candidate.js';
import { credentialOf, isRefusal, readCandidate } from '../candidate.js';
import { crashPoint, type CrashBoundary } from '../boundaries.js';
import { OnceCache } from '../concurrency.js';
import type { Config } from '../config.js';
import type { RotatorDeps } from '../deps.js';
import { LeaseLostError, NotFoundError } from '../errors.js';
import type { Dimensions, TelemetryEventName } from '../events.js';
import type { ClientCredential, KeyVaultSource, ProbeResult, SiteInfo } from '../ports.js';
import type { AppSettings, KeyVaultCertificateVersion } from '../ports.js';
import type { BindingChange, Lease, RequestedBy, RotationOutcome, RotationRecord, RotationStep } from '../records.js';
import { versionIdOf } from '../sources/sourceRef.js';
import { tagNames, type AppTagConfig } from '../tags.js';
import { DAY_MS } from './time.js';

export interface RotationContext {
  deps: RotatorDeps;
  config: Config;
  names: ReturnType<typeof tagNames>;
  record: RotationRecord;
  lease: Lease;
  site: SiteInfo;
  tags: AppTagConfig;
  /** Read candidates by new thumbprint. Holds private keys: never persisted, never logged. */
  candidates: Map<string, ReadCandidate>;
  /** Shared by the rotations of one batch (rotateDue): each Key Vault version is read and checked once. */
  candidateReads?: CandidateReads;
  /**
   * Key Vault versions the scan of this rotation already read, by lowercase version id: loading a candidate does not
   * ask Key Vault for the same version's metadata again (a version's certificate never changes).
   */
  scannedVersions?: Map<string, KeyVaultCertificateVersion>;
  /**
   * The owned settings as the scan this rotation was planned on read them (ownedSettingsSeenBy): the switch plans
   * its change on them. Absent on a resumed rotation, which reads the settings itself.
   */
  settingsSeen?: Readonly<AppSettings>;
}

/**
 * The candidates of one batch, by Key Vault certificate version id. Apps that call the same partner usually load
 * the same certificate: a batch of them reads its secret, opens the PFX and checks it once instead of once per app
 * (fewer Key Vault calls, and the PKCS#12 work is the costliest CPU of a rotation). Holds private keys in memory
 * for the batch only; a transient failure is not kept, so the next app of the batch tries again.
 */
export class CandidateReads extends OnceCache<ReadCandidate | CandidateRefusal> {
  constructor() {
    super({ forgetFailures: true });
  }
}

/** Probe results kept per record (the audit needs the evidence, the table row has a size limit). */
export const MAX_PROBES_KEPT = 40;

export const leaseMs = (config: Config): number => config.leaseSeconds * 1000;

export function nowIso(ctx: { deps: RotatorDeps }): string {
  return ctx.deps.clock.now().toISOString();
}

export function addStep(ctx: RotationContext, step: RotationStep, detail?: string): void {
  const at = nowIso(ctx);
  ctx.record.step = step;
  ctx.record.steps.push(detail === undefined ? { step, at } : { step, at, detail });
  ctx.record.updatedAt = at;
}

/** Persists the record, then keeps the lease (a lost lease stops the rotation before its next side effect). */
export async function save(ctx: RotationContext): Promise<void> {
  ctx.record.updatedAt = nowIso(ctx);
  await ctx.deps.store.update(ctx.record);
  await renew(ctx);
}

/**
 * Keeps the lease, also between long waits (warm-up, probe backoff) without touching the record: renews it once
 * less than half its term is left. Another owner can take only an expired lease, so one with more than half its
 * term left is still ours, and renewing it on every save would double the rotation's table writes for nothing. The
 * longest stretch between two saves or renewals (one probe attempt and its backoff) stays well under half of
 * LEASE_SECONDS with the documented settings.
 */
export async function renew(ctx: RotationContext): Promise<void> {
  const left = Date.parse(ctx.lease.expiresAt) - ctx.deps.clock.now().getTime();
  if (Number.isFinite(left) && left > leaseMs(ctx.config) / 2) return;
  const renewed = await ctx.deps.store.renewLease(ctx.lease, leaseMs(ctx.config));
  if (!renewed) throw new LeaseLostError(`the lease on ${ctx.record.appId} was lost; rotation ${ctx.record.id} stops here`);
  ctx.lease = renewed;
}

export function crash(ctx: { deps: RotatorDeps }, boundary: CrashBoundary): Promise<void> {
  return crashPoint(ctx.deps.faultHook, boundary);
}

const OUTCOME_EVENTS: Record<Exclude<RotationOutcome, 'skipped'>, TelemetryEventName> = {
  committed: 'RotationCommitted',
  aborted: 'RotationAborted',
  rolledBack: 'RotationRolledBack',
  failed: 'RotationFailed',
};

/** Writes the outcome (the record is never rewritten after this, except `retiredAt`) and frees the lease. */
export async function finish(
  ctx: RotationContext,
  outcome: Exclude<RotationOutcome, 'skipped'>,
  reason: string | undefined,
  fields: Partial<Pick<RotationRecord, 'verifyUntil' | 'retireAfter'>> = {},
): Promise<void> {
  const step: RotationStep = outcome;
  addStep(ctx, step, reason);
  ctx.record.outcome = outcome;
  if (reason !== undefined) ctx.record.reason = reason;
  ctx.record.finishedAt = ctx.record.updatedAt;
  Object.assign(ctx.record, fields);
  // A rotation that uploaded a certificate and did not commit leaves it unreferenced: retirement
  // removes it after the same grace period (it may be reused by a later rotation meanwhile).
  if (outcome !== 'committed' && !ctx.record.retireAfter && ctx.record.bindings.some((b) => b.uploaded)) {
    ctx.record.retireAfter = new Date(ctx.deps.clock.now().getTime() + ctx.config.retireAfterDays * DAY_MS).toISOString();
  }
  await ctx.deps.store.update(ctx.record);
  ctx.deps.telemetry.event(OUTCOME_EVENTS[outcome], dimensionsOf(ctx.record, { reason, step }));
  const line = `rotation ${ctx.record.id} of ${ctx.record.appId}: ${outcome}${reason ? ` (${reason})` : ''}`;
  const data = { rotationId: ctx.record.id, appId: ctx.record.appId };
  if (outcome === 'committed') ctx.deps.logger.info(line, data);
  else ctx.deps.logger.warn(line, data);
  if (outcome === 'committed') await crash(ctx, 'afterCommit');
  await releaseQuietly(ctx);
}

export async function releaseQuietly(ctx: { deps: RotatorDeps; lease: Lease }): Promise<void> {
  try {
    await ctx.deps.store.releaseLease(ctx.lease);
  } catch (error) {
    // The lease expires on its own; a failed release only delays the next run.
    ctx.deps.logger.warn('lease release failed', { appId: ctx.lease.appId, error: String(error) });
  }
}

/** Telemetry dimensions of a rotation: public data only (ids, thumbprints, versions, reasons). */
export function dimensionsOf(record: RotationRecord, extra: Dimensions = {}): Dimensions {
  const join = (pick: (b: BindingChange) => string | undefined) =>
    record.bindings.map(pick).filter((v): v is string => !!v).join(',') || undefined;
  return {
    appId: record.appId,
    slot: record.app.slot,
    subscription: record.app.subscriptionId,
    oldThumbprint: join((b) => b.oldThumbprint),
    newThumbprint: join((b) => b.newThumbprint),
    // The names the alert rules and workbooks key on, from the record's source reference.
    keyVaultCertificateId: join((b) => versionIdOf(b.source)),
    keyVaultVersion: join((b) => b.source.version),
    rotationId: record.id,
    step: record.step,
    trigger: record.trigger,
    ...callerDimensions('requestedBy', record.requestedBy),
    ...callerDimensions('rollbackRequestedBy', record.rollbackRequestedBy),
    // The wave counted from 1, as the plan and the API show it.
    ...(record.rollout ? { rolloutId: record.rollout.id, wave: record.rollout.wave + 1 } : {}),
    verification: record.verification,
    failureKind: record.failureKind,
    ...extra,
  };
}

/** `requestedBy` (how the caller authenticated), `requestedBySubject`, `requestedByThumbprint`: public names only. */
function callerDimensions(prefix: string, caller: RequestedBy | undefined): Dimensions {
  if (caller === undefined) return {};
  return { [prefix]: caller.via, [`${prefix}Subject`]: caller.subject, [`${prefix}Issuer`]: caller.issuer, [`${prefix}Thumbprint`]: caller.thumbprint };
}

export function recordProbes(ctx: RotationContext, results: ProbeResult[]): void {
  ctx.record.probes.push(...results);
  if (ctx.record.probes.length > MAX_PROBES_KEPT) ctx.record.probes.splice(0, ctx.record.probes.length - MAX_PROBES_KEPT);
}

/** `<vaultUrl>/certificates/<name>/<version>` → source + version. */
export function parseCertificateId(id: string): { source: KeyVaultSource; version: string } | undefined {
  const match = /^(https:\/\/[^/]+)\/certificates\/([^/]+)\/([^/]+)\/?$/i.exec(id.trim());
  if (!match) return undefined;
  return { source: { vaultUrl: match[1] as string, name: match[2] as string }, version: match[3] as string };
}

/**
 * Reads (once per process) and checks every binding's candidate. On resume the key material is gone
 * and is read again from Key Vault. Returns the first refusal, if any.
 */
export async function loadCandidates(
  ctx: RotationContext,
): Promise<(CandidateRefusal & { binding: BindingChange }) | undefined> {
  for (const binding of ctx.record.bindings) {
    if (ctx.candidates.has(binding.newThumbprint)) continue;
    const source = ctx.deps.sources.parseRef(binding.source);
    const versionId = versionIdOf(binding.source);
    if (typeof source === 'string') throw new NotFoundError(`the source of ${versionId} cannot be read: ${source}`);
    const load = async (): Promise<ReadCandidate | CandidateRefusal> => {
      const version = ctx.scannedVersions?.get(versionId.toLowerCase()) ?? (await ctx.deps.sources.getVersion(source, binding.source.version));
      if (!version) return { refusal: 'Missing', message: `version ${versionId} no longer exists at its source` };
      // The loaded certificate's dates were checked when planning; a dangling one has none.
      return readCandidate(ctx.deps.sources, version, undefined, ctx.deps.clock.now(), { maxLifetimeDays: ctx.config.candidateMaxLifetimeDays });
    };
    const result = await (ctx.candidateReads ? ctx.candidateReads.get(versionId.toLowerCase(), load) : load());
    if (isRefusal(result)) return { ...result, binding };
    ctx.candidates.set(binding.newThumbprint, result);
  }
  return undefined;
}

export function credentials(ctx: RotationContext): ClientCredential[] {
  return ctx.record.bindings
    .map((b) => ctx.candidates.get(b.newThumbprint))
    .filter((c): c is ReadCandidate => !!c)
    .map(credentialOf);
}
