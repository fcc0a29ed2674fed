// Switch: point the app at the new thumbprints. The previous values of every setting it changes are
// recorded BEFORE the write (the rollback's source of truth; planned on the scan's read of the owned settings when
// the rotation has one, see switchThumbprint), then the settings are read again and
// written back whole (PUT replaces the dictionary) with only those keys changed: every other value,
// Key Vault references included, goes back byte for byte.
import { PreconditionError } from '../errors.js';
import type { AppSettings } from '../ports.js';
import type { BindingChange } from '../records.js';
import { LOAD_CERTIFICATES_SETTING } from '../tags.js';
import { parseLoadCertificates, replaceThumbprint, replaceThumbprintInValue, sameThumbprint } from '../thumbprints.js';
import { addStep, crash, finish, save, type RotationContext } from './context.js';
import { applyValues, compareSettings, type SettingsChange } from './settingsChange.js';

/** The actual key of a setting in the dictionary (names are case-insensitive in App Service). */
export function keyOf(settings: AppSettings, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(settings, name)) return name;
  return Object.keys(settings).find((k) => k.toLowerCase() === name.toLowerCase());
}

/** What the switch writes: old → new in WEBSITE_LOAD_CERTIFICATES and in the `-settings` keys that hold it. */
export function computeSwitch(
  settings: AppSettings,
  bindings: readonly BindingChange[],
  extraSettings: readonly string[],
): SettingsChange {
  const change: SettingsChange = { previous: {}, written: {} };
  const names = [LOAD_CERTIFICATES_SETTING, ...extraSettings];
  for (const name of names) {
    const key = keyOf(settings, name);
    if (key === undefined || key in change.written) continue;
    const original = settings[key];
    // A null value (ARM can return one) holds no thumbprint: nothing to replace, and it is written back as it was.
    if (original === null || original === undefined) continue;
    let value = original;
    for (const binding of bindings) {
      if (!binding.oldThumbprint || sameThumbprint(binding.oldThumbprint, binding.newThumbprint)) continue;
      const replaced =
        name === LOAD_CERTIFICATES_SETTING
          ? replaceThumbprint(value, binding.oldThumbprint, binding.newThumbprint)
          : replaceThumbprintInValue(value, binding.oldThumbprint, binding.newThumbprint);
      value = replaced.value;
    }
    if (value !== original) {
      change.previous[key] = original;
      change.written[key] = value;
    }
  }
  return change;
}

export async function switchThumbprint(ctx: RotationContext, replanOn?: AppSettings): Promise<void> {
  const { gateway } = ctx.deps;
  const ref = ctx.record.app;
  if (ctx.record.mode === 'wildcard') {
    // `*` loads every certificate of the webspace and the app picks the newest: the upload was the switch.
    addStep(ctx, 'switched', `${LOAD_CERTIFICATES_SETTING}=*: the staged certificate is loaded at restart, no settings write`);
    await save(ctx);
    await crash(ctx, 'afterSwitchRecorded');
    return;
  }

  // The scan this rotation was planned on read the owned settings moments ago (the queue's re-scan, or the batch's
  // scan): the change is planned on that read instead of listing the settings once more, since every
  // `POST …/appsettings/list` is a write in ARM's subscription quota. Nothing another writer does can be lost by it:
  // - the previous values are still recorded before the write: what the scan read;
  // - the write is still a read-modify-write on a read made right before it (below), of only the owned keys, and
  //   only of keys whose current value is still the recorded previous one (compareSettings);
  // - a key someone changed after the scan (up to that read) is a conflict on it: the change is then planned again
  //   on that read, as a rotation without a scan plans on its own first read, recorded, and the settings are read
  //   once more before the write, so an edit made before the switch is built upon, never overwritten; a conflict
  //   on that last read (a key changed again meanwhile) aborts the switch, or rolls back what was written, as a
  //   conflict always did.
  // Used once: a step that runs again (a conflict, a resumed rotation) reads the settings itself.
  const seen = ctx.settingsSeen;
  delete ctx.settingsSeen;
  let plannedOnScan = false;
  if (replanOn !== undefined) {
    // The read that found the conflict, moments ago, is the new basis: it is as fresh as a read made here would be.
    delete ctx.record.previousSettings;
    delete ctx.record.writtenSettings;
  }
  if (!ctx.record.writtenSettings || !ctx.record.previousSettings) {
    // Only a scan read that yields a change is used: "nothing to write" (already switched, or settings no longer
    // holding the old thumbprints) ends the rotation, and is decided on a read made now.
    let basis: AppSettings;
    if (replanOn !== undefined) {
      basis = replanOn;
    } else if (seen !== undefined && Object.keys(computeSwitch(seen, ctx.record.bindings, ctx.tags.settings).written).length > 0) {
      basis = { ...seen };
      plannedOnScan = true;
    } else {
      basis = await gateway.readAppSettings(ref);
    }
    const change = computeSwitch(basis, ctx.record.bindings, ctx.tags.settings);
    if (Object.keys(change.written).length === 0) {
      if (holdsNewThumbprints(basis, ctx.record.bindings)) {
        addStep(ctx, 'switched', 'settings already hold the new thumbprints: nothing to write');
        await save(ctx);
        await crash(ctx, 'afterSwitchRecorded');
      } else {
        await finish(ctx, 'aborted', `SettingsChanged: ${LOAD_CERTIFICATES_SETTING} no longer holds the thumbprints this rotation replaces`);
      }
      return;
    }
    ctx.record.previousSettings = change.previous;
    ctx.record.writtenSettings = change.written;
    addStep(ctx, 'previousRecorded', `will change ${Object.keys(change.written).join(', ')}${replanOn !== undefined ? ' (planned again: changed since the scan)' : ''}`);
    await save(ctx);
    await crash(ctx, 'afterPreviousRecorded');
  }
  // Read-modify-write: the write starts from the dictionary as it is now, not as it was.
  const settings = await gateway.readAppSettings(ref);

  const change: SettingsChange = {
    previous: ctx.record.previousSettings as Record<string, string | null>,
    written: ctx.record.writtenSettings as Record<string, string | null>,
  };
  const compared = compareSettings(settings, change);
  const state = { toWrite: compared.holdingPrevious, written: compared.holdingWritten, conflicts: compared.conflicts };
  if (state.conflicts.length > 0 && plannedOnScan && state.written.length === 0) {
    // Changed since the scan, and nothing written yet: plan again on this read (see above). Until the new
    // change is saved, the stored record keeps the old one, which a resume would find in conflict and abort on.
    ctx.deps.logger.info(`rotation ${ctx.record.id}: ${state.conflicts.join(', ')} changed since the scan; planning the switch again`, {
      rotationId: ctx.record.id,
      appId: ctx.record.appId,
    });
    return switchThumbprint(ctx, settings);
  }
  if (state.conflicts.length > 0) {
    if (state.written.length > 0) {
      addStep(ctx, 'rollingBack', `settings changed by someone else during the switch: ${state.conflicts.join(', ')}`);
      ctx.record.reason = `SettingsChanged: ${state.conflicts.join(', ')}`;
      await save(ctx);
      await crash(ctx, 'afterRollbackStarted');
    } else {
      await finish(ctx, 'aborted', `SettingsChanged: ${state.conflicts.join(', ')} changed by someone else before the switch`);
    }
    return;
  }
  if (state.toWrite.length > 0) {
    if (state.written.length === 0) {
      const missing = await missingStagedCertificates(ctx);
      if (missing.length > 0) {
        await finish(ctx, 'aborted', `StagedCertificateMissing: ${missing.join(', ')} no longer exists; the app was not switched`);
        return;
      }
    }
    await gateway.writeAppSettings(ref, applyValues(settings, change.written, state.toWrite));
    await crash(ctx, 'afterSwitch');
  }
  addStep(ctx, 'switched', state.toWrite.length > 0 ? `wrote ${state.toWrite.join(', ')}` : 'settings already switched');
  await save(ctx);
  await crash(ctx, 'afterSwitchRecorded');
}

function holdsNewThumbprints(settings: AppSettings, bindings: readonly BindingChange[]): boolean {
  const key = keyOf(settings, LOAD_CERTIFICATES_SETTING);
  const parsed = parseLoadCertificates(key ? (settings[key] ?? undefined) : undefined);
  if (parsed.mode !== 'explicit') return false;
  return bindings.every(
    (b) =>
      parsed.thumbprints.includes(b.newThumbprint.toUpperCase()) &&
      (!b.oldThumbprint || sameThumbprint(b.oldThumbprint, b.newThumbprint) || !parsed.thumbprints.includes(b.oldThumbprint.toUpperCase())),
  );
}

/** Never pin a thumbprint whose resource is gone (a concurrent retirement, an operator): the app would load nothing. */
async function missingStagedCertificates(ctx: RotationContext): Promise<string[]> {
  const missing: string[] = [];
  for (const binding of ctx.record.bindings) {
    if (!binding.certificateResourceName) throw new PreconditionError(`binding ${binding.newThumbprint} was not staged`);
    const resource = await ctx.deps.gateway.getCertificate(ctx.record.app.subscriptionId, ctx.site.ref.resourceGroup, binding.certificateResourceName);
    if (!resource || !sameThumbprint(resource.thumbprint, binding.newThumbprint)) missing.push(binding.certificateResourceName);
  }
  return missing;
}
