// What one inventory run shares across its apps: caches that keep it at the ARM floor (one vault look-up per vault,
// one latest-version read per source) and the objects thousands of apps have in common.
import type { Config } from '../config.js';
import { probeTargetPolicyOf } from '../config.js';
import { OnceCache } from '../concurrency.js';
import type { CertificateInfo, KeyVaultCertificateVersion, KeyVaultSource, SiteInfo } from '../ports.js';
import { parseAppTags, tagNames, type ParsedAppTags } from '../tags.js';
import { Interner } from './interning.js';
import type { LoadedCertificate, ScanDeps, SourceOrigin } from './types.js';

export interface InventoryContext {
  deps: ScanDeps;
  config: Config;
  names: ReturnType<typeof tagNames>;
  vaultUris: OnceCache<string>;
  latest: OnceCache<KeyVaultCertificateVersion | undefined>;
  strings: Interner;
  /** Parsed tags by their content: apps with the same tags share one (read-only) AppTagConfig. */
  parsedTags: Map<string, ParsedAppTags>;
  /** Per certificate resource: its source and what it loads, shared by every app of its webspace. */
  sources: WeakMap<CertificateInfo, Promise<{ source: KeyVaultSource; origin: SourceOrigin } | undefined>>;
  loaded: WeakMap<CertificateInfo, LoadedCertificate>;
}

export function newInventoryContext(deps: ScanDeps, config: Config): InventoryContext {
  return {
    deps,
    config,
    names: tagNames(config.rotationTag),
    vaultUris: new OnceCache(),
    latest: new OnceCache(),
    strings: new Interner(),
    parsedTags: new Map(),
    sources: new WeakMap(),
    loaded: new WeakMap(),
  };
}

export function tagsOf(ctx: InventoryContext, site: SiteInfo): ParsedAppTags {
  // Length-prefixed, so no name or value can make two different tag sets read as one.
  let key = '';
  for (const name in site.tags) {
    const value = site.tags[name];
    key += `${name.length}:${name}${value.length}:${value}`;
  }
  let parsed = ctx.parsedTags.get(key);
  if (parsed === undefined) {
    parsed = parseAppTags(site.tags, ctx.config.rotationTag, probeTargetPolicyOf(ctx.config));
    ctx.parsedTags.set(key, parsed);
  }
  return parsed;
}
