// A rotation's change to the app settings, as the record keeps it (previous and written values of the keys it owns),
// compared with the settings as they are now. The switch and the rollback both write only on this comparison: a key
// that holds neither the previous nor the written value was changed by someone else and is theirs.
import type { AppSettings } from '../ports.js';

export interface SettingsChange {
  /** Values before the switch; null = the key did not exist. */
  previous: Record<string, string | null>;
  /** Values the switch writes (or wrote). */
  written: Record<string, string | null>;
}

export interface SettingsComparison {
  /** Keys still holding the value from before the switch. */
  holdingPrevious: string[];
  /** Keys holding what the switch wrote. */
  holdingWritten: string[];
  /** Keys holding anything else: someone changed them. */
  conflicts: string[];
}

/** Compares the recorded change with the current settings, key by key (only the keys the change owns). */
export function compareSettings(settings: AppSettings, change: SettingsChange): SettingsComparison {
  const comparison: SettingsComparison = { holdingPrevious: [], holdingWritten: [], conflicts: [] };
  for (const [key, value] of Object.entries(change.written)) {
    // A key set to null reads as absent, as `previous` records an absent key.
    const current = Object.prototype.hasOwnProperty.call(settings, key) ? (settings[key] ?? null) : null;
    if (current === value) comparison.holdingWritten.push(key);
    else if (current === (change.previous[key] ?? null)) comparison.holdingPrevious.push(key);
    else comparison.conflicts.push(key);
  }
  return comparison;
}

/** The settings with `keys` set to `values` (null removes the key); every other key goes back as read, nulls included. */
export function applyValues(settings: AppSettings, values: Record<string, string | null>, keys: readonly string[]): AppSettings {
  const next: AppSettings = { ...settings };
  for (const key of keys) {
    const value = values[key];
    if (value === null || value === undefined) delete next[key];
    else next[key] = value;
  }
  return next;
}
