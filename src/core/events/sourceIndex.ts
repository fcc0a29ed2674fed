// The source → apps index: which opted-in apps load a certificate from which Key Vault source, as the last scan
// found them. It lets a Key Vault event reach exactly the apps bound to its certificate without listing the fleet
//. The index only narrows the search: every app it names is scanned live before anything is queued, so
// an entry made stale by an app owner's change since the scan costs one read, never a wrong rotation.
import type { ScanResult } from '../scan.js';
import { sourceKeyOf } from '../tags.js';

export interface SourceIndexEntry {
  /** sourceKeyOf(source): `<vault url>/certificates/<name>`, lowercase. */
  sourceKey: string;
  vaultUrl: string;
  certificateName: string;
  appId: string;
  subscriptionId: string;
  mode: 'explicit' | 'wildcard';
  /** What the app loaded from this source at the scan (public data). */
  thumbprint?: string;
}

/** Storage of the index, the (app, version) claims and the events seen (a Table adapter in src/azure). */
export interface SourceIndex {
  /**
   * Makes the index hold exactly `entries` for these subscriptions (the ones a scan read completely); entries of
   * other subscriptions are kept, since a failed subscription's apps did not stop existing.
   */
  replace(subscriptionIds: readonly string[], entries: readonly SourceIndexEntry[]): Promise<{ written: number; removed: number }>;
  /** The entries of one source. */
  boundTo(sourceKey: string): Promise<SourceIndexEntry[]>;
  /** Whether any entry names a source of this vault (`https://<host>`). */
  knowsVault(vaultUrl: string): Promise<boolean>;
  /**
   * Takes the right to queue `appId` for Key Vault version `version` once: false when an earlier delivery (a
   * duplicate, or another event that led to the same version) already took it.
   */
  claim(appId: string, version: string, eventId: string): Promise<boolean>;
  /** Gives a claim back (its message could not be queued, so a retried delivery must be able to queue it). */
  release(appId: string, version: string): Promise<void>;
  /** Records that an event announced this version of the source (for the nightly safety net). */
  noteEvent(sourceKey: string, version: string, at: Date): Promise<void>;
  /** When an event announced this version first; undefined when none did. */
  eventSeen(sourceKey: string, version: string): Promise<Date | undefined>;
}

/** The index entries of a scan: one per app and Key Vault source it loads from (refused sources included). */
export function indexEntriesOf(result: Pick<ScanResult, 'apps'>): SourceIndexEntry[] {
  const entries = new Map<string, SourceIndexEntry>();
  for (const app of result.apps) {
    for (const binding of app.bindings) {
      if (!binding.source) continue;
      const sourceKey = sourceKeyOf(binding.source);
      const key = `${sourceKey}\u0000${app.appId}`;
      if (entries.has(key)) continue;
      const entry: SourceIndexEntry = {
        sourceKey,
        vaultUrl: binding.source.vaultUrl.replace(/\/+$/, '').toLowerCase(),
        certificateName: binding.source.name.toLowerCase(),
        appId: app.appId,
        subscriptionId: app.ref.subscriptionId.toLowerCase(),
        mode: binding.mode,
      };
      if (binding.loaded?.thumbprint) entry.thumbprint = binding.loaded.thumbprint;
      entries.set(key, entry);
    }
  }
  return [...entries.values()];
}
