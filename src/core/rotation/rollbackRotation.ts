// Rollback: put back what the rotation changed, restart, and prove the old state works (every probe kind's targets
// for the old state).
// Explicit mode writes back the recorded previous values, but only for keys that still hold what the
// rotation wrote: a key someone changed since is theirs now, left alone and reported as a conflict.
import { addStep, crash, dimensionsOf, finish, recordProbes, save, type RotationContext } from './context.js';
import { planProbes, probeContextOf, probeWithRetries, summarise } from './probing.js';
import { verificationStrength, VIA_APP } from './probes/viaApp.js';
import { applyValues, compareSettings } from './settingsChange.js';
import { readWebspaceUsage } from '../usage.js';
import { sameThumbprint } from '../thumbprints.js';
import { collect } from '../concurrency.js';
import { isInFlight } from '../records.js';

export async function rollbackRotation(ctx: RotationContext): Promise<void> {
  const notes: string[] = [];
  const missing = await missingPreviousCertificates(ctx);
  if (missing.length > 0) {
    // Restoring a thumbprint whose resource is gone (retired, or the dangling pin this rotation
    // repaired) would leave the app with no certificate at its next start: stay on the new one.
    await finish(
      ctx,
      'failed',
      `RollbackBlocked: the previous certificate(s) ${missing.join(', ')} no longer exist in the webspace; the app is left as it is (${ctx.record.reason ?? 'no reason recorded'})`,
    );
    return;
  }
  if (ctx.record.mode === 'explicit') {
    const restored = await restoreSettings(ctx, notes);
    if (restored) await crash(ctx, 'afterRollbackWrite');
  } else {
    const blocked = await removeStagedForWildcard(ctx, notes);
    if (blocked) {
      await finish(ctx, 'failed', `RollbackBlocked: ${blocked}`);
      return;
    }
    await crash(ctx, 'afterRollbackWrite');
  }
  addStep(ctx, 'rollingBack', notes.join('; ') || 'nothing to restore');
  await save(ctx);

  await ctx.deps.gateway.restart(ctx.record.app);
  await crash(ctx, 'afterRollbackRestart');

  const probe = probeContextOf(ctx, 'rollback');
  const planned = await planProbes(probe);
  const reason = ctx.record.reason ?? 'RolledBack';
  if (planned.length === 0) {
    ctx.record.verification = 'none';
    await finish(ctx, 'rolledBack', reason);
    return;
  }
  // Taken before the rollback's own probes join the record: did the app itself call the candidate's state unhealthy?
  const candidateSaidUnhealthy = ctx.record.probes.some((p) => p.kind === VIA_APP && p.unhealthy === true);
  if (ctx.config.probeWarmupSeconds > 0) await ctx.deps.clock.sleep(ctx.config.probeWarmupSeconds * 1000);
  const outcome = await probeWithRetries(probe, planned, { stopOnRefusal: false });
  recordProbes(ctx, outcome.results);
  if (outcome.ok) {
    // A 503 counts as "the app never came back" (transient), but an app that answered its own unhealthy verdict
    // (503 Unhealthy / DOWN / {"status":"fail"}) on the candidate and passes on the old certificate did come back:
    // the candidate is what failed, so it is rejected rather than retried after a backoff.
    if (ctx.record.failureKind === 'transient' && candidateSaidUnhealthy) ctx.record.failureKind = 'definite';
    ctx.record.verification = verificationStrength(outcome, ctx.record, 'old');
    await finish(ctx, 'rolledBack', reason);
  } else {
    await finish(ctx, 'failed', `RollbackUnverified: the old state does not pass either (${summarise(outcome.failures)}); first failure: ${reason}`);
  }
}

async function missingPreviousCertificates(ctx: RotationContext): Promise<string[]> {
  const olds = ctx.record.bindings
    .map((b) => b.oldThumbprint)
    .filter((t, i): t is string => !!t && !sameThumbprint(t, ctx.record.bindings[i]?.newThumbprint));
  if (olds.length === 0) return [];
  // Nothing to restore when the switch never wrote (rolling back before the write is a no-op).
  if (ctx.record.mode === 'explicit' && !ctx.record.writtenSettings) return [];
  const inGroup = await collect(ctx.deps.gateway.listCertificatesInResourceGroup(ctx.record.app.subscriptionId, ctx.site.ref.resourceGroup));
  const webspace = ctx.site.webspace.toLowerCase();
  return olds.filter((t) => !inGroup.some((c) => c.webspace.toLowerCase() === webspace && sameThumbprint(c.thumbprint, t)));
}

async function restoreSettings(ctx: RotationContext, notes: string[]): Promise<boolean> {
  const previous = ctx.record.previousSettings;
  const written = ctx.record.writtenSettings;
  if (!previous || !written) {
    notes.push('no settings were changed');
    return false;
  }
  const settings = await ctx.deps.gateway.readAppSettings(ctx.record.app);
  // Only keys still holding what the rotation wrote go back; one someone changed since is theirs.
  const { holdingWritten: restore, conflicts } = compareSettings(settings, { previous, written });
  if (conflicts.length > 0) {
    ctx.record.conflicts = [...new Set([...(ctx.record.conflicts ?? []), ...conflicts])];
    notes.push(`left alone (changed by someone since the switch): ${conflicts.join(', ')}`);
    ctx.deps.telemetry.event('RotationConflict', dimensionsOf(ctx.record, { reason: 'SettingChangedSinceSwitch', keys: conflicts.join(',') }));
    ctx.deps.logger.warn(`rollback of ${ctx.record.id} leaves ${conflicts.join(', ')} alone: changed since the switch`, {
      rotationId: ctx.record.id,
      appId: ctx.record.appId,
    });
  }
  if (restore.length === 0) {
    notes.push('previous values already in place');
    return false;
  }
  await ctx.deps.gateway.writeAppSettings(ctx.record.app, applyValues(settings, previous, restore));
  notes.push(`restored ${restore.join(', ')}`);
  return true;
}

/**
 * `*` mode has no setting to write back: the app picks the newest certificate of the webspace, so the
 * only way to make the old one win again is to remove the new one. It is deleted only when this
 * rotation uploaded it, no other app or slot of the webspace pins it, and no other open rotation uses
 * it; otherwise the rollback is blocked (outcome failed, a person decides). Returns why it is blocked.
 */
async function removeStagedForWildcard(ctx: RotationContext, notes: string[]): Promise<string | undefined> {
  const { gateway, store } = ctx.deps;
  const { subscriptionId } = ctx.record.app;
  const resourceGroup = ctx.site.ref.resourceGroup;
  for (const binding of ctx.record.bindings) {
    if (!binding.certificateResourceName) continue;
    if (!binding.uploaded) {
      notes.push(`${binding.certificateResourceName} existed before the rotation and stays`);
      continue;
    }
    const resource = await gateway.getCertificate(subscriptionId, resourceGroup, binding.certificateResourceName);
    if (!resource || !sameThumbprint(resource.thumbprint, binding.newThumbprint)) {
      notes.push(`${binding.certificateResourceName} already removed`);
      continue;
    }
    const usage = await readWebspaceUsage(gateway, subscriptionId, ctx.site.webspace);
    if (usage.unreadable.length > 0) {
      return `cannot tell whether other apps load ${resource.name}: ${usage.unreadable.join('; ')}`;
    }
    const pinnedBy = usage.apps.filter(
      (a) => a.appId !== ctx.record.appId && a.thumbprints.includes(binding.newThumbprint.toUpperCase()),
    );
    if (pinnedBy.length > 0) {
      return `${resource.name} is loaded explicitly by ${pinnedBy.map((a) => a.name).join(', ')}; it cannot be removed to roll back the * app`;
    }
    const others = (await store.listOpen()).filter(
      (r) => r.id !== ctx.record.id && isInFlight(r) && r.bindings.some((b) => sameThumbprint(b.newThumbprint, binding.newThumbprint)),
    );
    if (others.length > 0) {
      return `${resource.name} is used by rotation(s) in progress: ${others.map((r) => r.id).join(', ')}`;
    }
    await gateway.deleteCertificate(subscriptionId, resourceGroup, resource.name);
    notes.push(`deleted ${resource.name} so the * app picks the previous certificate again`);
  }
  return undefined;
}
