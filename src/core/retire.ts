// Retirement: delete certificate resources nobody needs any more.
// - after a commit and RETIRE_AFTER_DAYS: the old certificate of each binding;
// - after an abort or rollback and the same grace: the certificate the rotation uploaded.
// A certificate is deleted only when no app or slot of its webspace loads it, and only when the
// settings of every app of the webspace could be read. Per DESIGN.md, a `*` app counts as loading
// only the newest version of each source once it has been verified on it (its latest committed
// rotation for that source); a `*` app with no such rotation counts as loading everything.
import { crashPoint, CrashSignal } from './boundaries.js';
import type { Config } from './config.js';
import { collect } from './concurrency.js';
import type { RotatorDeps } from './deps.js';
import { describeError } from './errors.js';
import type { CertificateInfo } from './ports.js';
import { isInFlight, isRetirementDue, type BindingChange, type RotationRecord } from './records.js';
import { getTag, sourceKeyOf, tagNames } from './tags.js';
import { sameThumbprint } from './thumbprints.js';
import { readWebspaceUsage, type AppUsage, type WebspaceUsage } from './usage.js';

export interface RetiredCertificate {
  rotationId: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  thumbprint: string;
  webspace: string;
}

export interface KeptCertificate {
  rotationId: string;
  name: string;
  thumbprint: string;
  reason: string;
  /** false = looked at again on the next run (usage unknown, a rotation in progress). */
  final: boolean;
}

export interface RetireReport {
  deleted: RetiredCertificate[];
  kept: KeptCertificate[];
  /** Records whose `retiredAt` was set by this run. */
  recordsRetired: string[];
  errors: string[];
}

interface Target {
  certificate: CertificateInfo;
  sourceKey?: string;
}

export async function retireRecords(deps: RotatorDeps, config: Config, records: readonly RotationRecord[]): Promise<RetireReport> {
  const report: RetireReport = { deleted: [], kept: [], recordsRetired: [], errors: [] };
  const now = deps.clock.now();
  const due = records.filter((r) => isRetirementDue(r, now));
  if (due.length === 0) return report;
  const usageCache = new Map<string, Promise<WebspaceUsage>>();
  const inProgress = (await deps.store.listOpen()).filter(isInFlight);

  for (const record of due) {
    try {
      const targets = await targetsOf(deps, config, record);
      let allFinal = true;
      for (const target of targets) {
        const verdict = await decide(deps, target, inProgress, usageCache);
        const { certificate } = target;
        if (verdict) {
          report.kept.push({ rotationId: record.id, name: certificate.name, thumbprint: certificate.thumbprint, ...verdict });
          if (!verdict.final) allFinal = false;
          continue;
        }
        await deps.gateway.deleteCertificate(certificate.subscriptionId, certificate.resourceGroup, certificate.name);
        await crashPoint(deps.faultHook, 'afterRetireDelete');
        report.deleted.push({
          rotationId: record.id,
          subscriptionId: certificate.subscriptionId,
          resourceGroup: certificate.resourceGroup,
          name: certificate.name,
          thumbprint: certificate.thumbprint,
          webspace: certificate.webspace,
        });
        deps.telemetry.event('CertificateRetired', {
          rotationId: record.id,
          appId: record.appId,
          subscription: certificate.subscriptionId,
          certificate: certificate.id,
          thumbprint: certificate.thumbprint,
          webspace: certificate.webspace,
        });
        deps.logger.info(`retired certificate ${certificate.name} (${certificate.thumbprint})`, { rotationId: record.id });
      }
      if (allFinal) {
        // The only change ever made to a record after its outcome.
        const fresh = (await deps.store.get(record.id)) ?? record;
        fresh.retiredAt = deps.clock.now().toISOString();
        await deps.store.update(fresh);
        report.recordsRetired.push(record.id);
      }
    } catch (error) {
      if (error instanceof CrashSignal) throw error;
      const message = `retirement of rotation ${record.id}: ${describeError(error)}`;
      report.errors.push(message);
      deps.logger.warn(message, { rotationId: record.id });
      deps.telemetry.exception(error, { rotationId: record.id, appId: record.appId });
    }
  }
  return report;
}

function sourceKeyOfBinding(deps: RotatorDeps, binding: BindingChange): string | undefined {
  const source = deps.sources.parseRef(binding.source);
  return typeof source === 'string' ? undefined : sourceKeyOf(source);
}

async function targetsOf(deps: RotatorDeps, config: Config, record: RotationRecord): Promise<Target[]> {
  const names = tagNames(config.rotationTag);
  const inGroup = await collect(deps.gateway.listCertificatesInResourceGroup(record.app.subscriptionId, record.app.resourceGroup));
  const targets: Target[] = [];
  for (const binding of record.bindings) {
    const sourceKey = sourceKeyOfBinding(deps, binding);
    const withKey = (certificate: CertificateInfo): Target => (sourceKey ? { certificate, sourceKey } : { certificate });
    if (record.outcome === 'committed' && !record.rollbackOf) {
      if (!binding.oldThumbprint || sameThumbprint(binding.oldThumbprint, binding.newThumbprint)) continue;
      const staged = inGroup.find((c) => c.name === binding.certificateResourceName);
      const webspace = (staged ?? inGroup.find((c) => c.name === binding.oldCertificateResourceName))?.webspace.toLowerCase();
      // Every resource of that webspace still holding the old thumbprint (a linked resource re-synced by
      // the platform holds a new one now and is not touched).
      for (const certificate of inGroup) {
        if (webspace !== undefined && certificate.webspace.toLowerCase() !== webspace) continue;
        if (sameThumbprint(certificate.thumbprint, binding.oldThumbprint)) targets.push(withKey(certificate));
      }
    } else if (binding.uploaded && binding.certificateResourceName) {
      const certificate = inGroup.find((c) => c.name === binding.certificateResourceName);
      if (
        certificate &&
        sameThumbprint(certificate.thumbprint, binding.newThumbprint) &&
        getTag(certificate.tags, names.managed)?.toLowerCase() === 'true'
      ) {
        targets.push(withKey(certificate));
      }
    }
  }
  return targets;
}

/** Why a certificate must stay, or undefined when it may be deleted. */
async function decide(
  deps: RotatorDeps,
  target: Target,
  inProgress: readonly RotationRecord[],
  usageCache: Map<string, Promise<WebspaceUsage>>,
): Promise<{ reason: string; final: boolean } | undefined> {
  const { certificate } = target;
  const busy = inProgress.filter((r) =>
    r.bindings.some((b) => sameThumbprint(b.newThumbprint, certificate.thumbprint) || sameThumbprint(b.oldThumbprint, certificate.thumbprint)),
  );
  if (busy.length > 0) return { reason: `used by rotation(s) in progress: ${busy.map((r) => r.id).join(', ')}`, final: false };

  const key = `${certificate.subscriptionId}|${certificate.webspace}`.toLowerCase();
  let usagePromise = usageCache.get(key);
  if (!usagePromise) {
    usagePromise = readWebspaceUsage(deps.gateway, certificate.subscriptionId, certificate.webspace);
    usageCache.set(key, usagePromise);
  }
  const usage = await usagePromise;
  if (usage.unreadable.length > 0) {
    return { reason: `the webspace's usage is not fully known: ${usage.unreadable.join('; ')}`, final: false };
  }
  const pinnedBy = usage.apps.filter((a) => a.mode === 'explicit' && a.thumbprints.includes(certificate.thumbprint.toUpperCase()));
  if (pinnedBy.length > 0) return { reason: `loaded by ${pinnedBy.map((a) => a.name).join(', ')}`, final: true };
  for (const app of usage.apps.filter((a) => a.mode === 'wildcard')) {
    if (await wildcardLoads(deps, app, target)) {
      return { reason: `${app.name} loads * and has not been verified on a newer version of this source`, final: true };
    }
  }
  return undefined;
}

async function wildcardLoads(deps: RotatorDeps, app: AppUsage, target: Target): Promise<boolean> {
  if (!target.sourceKey) return true;
  const history = await deps.store.listForApp(app.appId, 20);
  const rolledBack = new Set(history.filter((r) => r.rollbackOf && r.outcome === 'rolledBack').map((r) => r.rollbackOf));
  for (const record of history) {
    if (record.outcome !== 'committed' || rolledBack.has(record.id) || record.rollbackOf) continue;
    const binding = record.bindings.find((b) => sourceKeyOfBinding(deps, b) === target.sourceKey);
    if (binding) return sameThumbprint(binding.newThumbprint, target.certificate.thumbprint);
  }
  return true;
}
