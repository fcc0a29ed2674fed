// What the inventory reads from an app's settings, and what it keeps of them for a rotation.
import type { AppSettings } from '../ports.js';
import { LOAD_CERTIFICATES_SETTING } from '../tags.js';
import type { InventoryApp } from './types.js';

/**
 * The settings a rotation of the app would change (WEBSITE_LOAD_CERTIFICATES and its `<p>-settings` keys, under the
 * app's own spelling), as this scan read them: the switch plans its write on them instead of listing the settings
 * once more (a `POST …/appsettings/list` is a write in ARM's quota). Kept for apps with a due binding only, and beside
 * the app rather than on it, so a plan, a response or a log line never carries setting values.
 */
const ownedSettingsSeen = new WeakMap<InventoryApp, Readonly<AppSettings>>();

export function keepOwnedSettings(app: InventoryApp, settings: AppSettings, extraSettings: readonly string[]): void {
  const names = new Set([LOAD_CERTIFICATES_SETTING, ...extraSettings].map((n) => n.toLowerCase()));
  const owned: AppSettings = {};
  for (const [key, value] of Object.entries(settings)) if (names.has(key.toLowerCase())) owned[key] = value;
  ownedSettingsSeen.set(app, Object.freeze(owned));
}

/** What the scan behind `app` read of the settings a rotation owns; undefined when it kept nothing (see above). */
export function ownedSettingsSeenBy(app: InventoryApp): Readonly<AppSettings> | undefined {
  return ownedSettingsSeen.get(app);
}

/** A setting's value by case-insensitive name (as in ARM), exact spelling first; a null value (ARM can return one) reads as not set. */
export function settingValue(settings: AppSettings, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(settings, name)) return settings[name] ?? undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(settings)) if (key.toLowerCase() === lower) return value ?? undefined;
  return undefined;
}

/** The loaded thumbprint a `<p>-settings` key names (the certificate the app presents), if any. */
export function selectedThumbprintOf(settings: AppSettings, names: string[], loaded: string[]): string | undefined {
  for (const name of names) {
    const value = settingValue(settings, name);
    if (value === undefined) continue;
    for (const match of value.matchAll(/(?<![0-9A-Fa-f])[0-9A-Fa-f]{40}(?![0-9A-Fa-f])/g)) {
      const thumbprint = match[0].toUpperCase();
      if (loaded.includes(thumbprint)) return thumbprint;
    }
  }
  return undefined;
}
