// Inventory scan: which opted-in apps load which certificates, where each comes from in Key Vault,
// and what Key Vault has now. It makes no write and stays at the ARM floor: per subscription one
// paged listing of sites and one of certificates, one settings read per opted-in app, slot listings
// only for sites tagged `<p>-slots=true`, and one vault look-up per distinct vault.
import type { Config } from './config.js';
import { collect, mapLimit, OnceCache } from './concurrency.js';
import { describeError, toRotatorError } from './errors.js';
import { appIdOf, appNameOf } from './identity.js';
import type { Logger } from './logger.js';
import { evaluateBinding, type BindingEvaluation } from './plan.js';
import { renewalPolicies, type LoadedCertificate, type RenewalPolicy } from './policies.js';
import type {
  AppRef,
  AppServiceGateway,
  CertificateInfo,
  CertificateSource,
  Clock,
  KeyVaultCertificateVersion,
  KeyVaultSource,
  SiteInfo,
} from './ports.js';
import {
  getTag,
  LOAD_CERTIFICATES_SETTING,
  parseAppTags,
  parseKeyVaultSourceUrl,
  sourceKeyOf,
  sourceUrlOf,
  tagNames,
  type AppTagConfig,
} from './tags.js';
import { parseLoadCertificates, sameThumbprint } from './thumbprints.js';

/** Settings reads in flight per subscription (the adapter paces against ARM's bucket on top of this). */
export const SETTINGS_READ_CONCURRENCY = 4;

/**
 * Where a binding's Key Vault source was found:
 * linked = the resource's keyVaultId + keyVaultSecretName; rotatorTag = the `<p>-source` tag the
 * rotator puts on resources it uploads; appTag = the app's own `<p>-source` tag; elsewhere = a
 * resource with the same thumbprint in another webspace (for a dangling thumbprint).
 */
export type SourceOrigin = 'linked' | 'rotatorTag' | 'appTag' | 'elsewhere';

export interface CertificateBinding {
  /** Stable within the app: the pinned thumbprint (explicit) or the source URL, lowercased (`*`). */
  key: string;
  mode: 'explicit' | 'wildcard';
  /** What the app loads; undefined for a `*` app with nothing of its source in the webspace. */
  loaded?: LoadedCertificate;
  /** The certificate resource in the app's webspace holding `loaded`. */
  certificate?: CertificateInfo;
  /** A pinned thumbprint without a certificate resource in the webspace. */
  dangling: boolean;
  source?: KeyVaultSource;
  sourceOrigin?: SourceOrigin;
  /** Key Vault's newest version of the source. */
  latest?: KeyVaultCertificateVersion;
  /** Why this binding cannot be evaluated or rotated (no source, Key Vault unreadable, ...). */
  problem?: string;
  evaluation: BindingEvaluation;
}

export interface ScannedApp {
  appId: string;
  ref: AppRef;
  /** "site" or "site/slot". */
  name: string;
  site: SiteInfo;
  tags: AppTagConfig;
  mode: 'explicit' | 'wildcard';
  /** WEBSITE_LOAD_CERTIFICATES as read (public data: thumbprints). */
  loadCertificates?: string;
  bindings: CertificateBinding[];
  /** Problems that stop any change to this app (bad tags, unreadable or malformed settings). */
  problems: string[];
  /** Settings could not be read: nothing about this app (or its webspace) is fully known. */
  settingsUnreadable?: boolean;
  /**
   * The loaded thumbprint that a `<p>-settings` key (e.g. CLIENT_CERT_THUMBPRINT) names: the
   * certificate the app presents, so the via-app probe knows what to expect.
   */
  selectedThumbprint?: string;
}

export interface SubscriptionScan {
  subscriptionId: string;
  ok: boolean;
  error?: string;
  /** Every site listed, and the slots listed (of `<p>-slots=true` sites); opted in or not. */
  sites: SiteInfo[];
  certificates: CertificateInfo[];
  /** Webspaces where some opted-in app's settings could not be read (retirement skips them). */
  unreadableWebspaces: string[];
}

export interface ScanProblem {
  subscriptionId: string;
  appId?: string;
  message: string;
}

export interface ScanResult {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  subscriptions: SubscriptionScan[];
  apps: ScannedApp[];
  problems: ScanProblem[];
}

export interface ScanDeps {
  gateway: AppServiceGateway;
  keyVault: CertificateSource;
  clock: Clock;
  logger: Logger;
}

interface ScanContext {
  deps: ScanDeps;
  config: Config;
  names: ReturnType<typeof tagNames>;
  policies: RenewalPolicy[];
  vaultUris: OnceCache<string>;
  latest: OnceCache<KeyVaultCertificateVersion | undefined>;
  force: boolean;
}

function newContext(deps: ScanDeps, config: Config, force = false): ScanContext {
  return {
    deps,
    config,
    names: tagNames(config.rotationTag),
    policies: renewalPolicies(deps.clock, config),
    vaultUris: new OnceCache(),
    latest: new OnceCache(),
    force,
  };
}

/** Scans every configured subscription, in parallel; one failing subscription does not stop the others. */
export async function scanInventory(
  deps: ScanDeps,
  config: Config,
  options: { subscriptionIds?: string[]; force?: boolean } = {},
): Promise<ScanResult> {
  const started = deps.clock.now();
  const ctx = newContext(deps, config, options.force);
  const subscriptionIds = options.subscriptionIds ?? config.subscriptionIds;
  const results = await Promise.all(subscriptionIds.map((id) => scanSubscription(ctx, id)));
  const finished = deps.clock.now();
  return {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    subscriptions: results.map((r) => r.subscription),
    apps: results.flatMap((r) => r.apps),
    problems: results.flatMap((r) => r.problems),
  };
}

async function scanSubscription(
  ctx: ScanContext,
  subscriptionId: string,
): Promise<{ subscription: SubscriptionScan; apps: ScannedApp[]; problems: ScanProblem[] }> {
  const { gateway, logger } = ctx.deps;
  const problems: ScanProblem[] = [];
  const subscription: SubscriptionScan = { subscriptionId, ok: true, sites: [], certificates: [], unreadableWebspaces: [] };
  try {
    // The two listings are independent; run them together.
    const [sites, certificates] = await Promise.all([
      collect(gateway.listSites(subscriptionId)),
      collect(gateway.listCertificates(subscriptionId)),
    ]);
    subscription.certificates = certificates;
    subscription.sites = [...sites];

    const optedIn: SiteInfo[] = sites.filter((site) => isEnabled(ctx, site));
    const withSlots = sites.filter((site) => parseAppTags(site.tags, ctx.config.rotationTag).config.slots);
    await mapLimit(withSlots, SETTINGS_READ_CONCURRENCY, async (site) => {
      try {
        const slots = await collect(gateway.listSlots(site));
        subscription.sites.push(...slots);
        optedIn.push(...slots.filter((slot) => isEnabled(ctx, slot)));
      } catch (error) {
        const message = `slots of ${site.ref.site} cannot be listed: ${describeError(error)}`;
        problems.push({ subscriptionId, appId: appIdOf(site.ref), message });
        logger.warn(message, { subscriptionId });
      }
    });

    const index = new CertificateIndex(certificates);
    const apps = await mapLimit(optedIn, SETTINGS_READ_CONCURRENCY, (site) =>
      inspectApp(ctx, site, index.inWebspace(site.webspace), async (thumbprint) => index.withThumbprint(thumbprint)),
    );
    for (const app of apps) {
      for (const message of app.problems) problems.push({ subscriptionId, appId: app.appId, message });
      for (const binding of app.bindings) {
        if (binding.problem) problems.push({ subscriptionId, appId: app.appId, message: binding.problem });
      }
      if (app.settingsUnreadable && !subscription.unreadableWebspaces.includes(app.site.webspace)) {
        subscription.unreadableWebspaces.push(app.site.webspace);
      }
    }
    return { subscription, apps, problems };
  } catch (error) {
    const message = `subscription ${subscriptionId} cannot be scanned: ${describeError(error)}`;
    logger.error(message, { subscriptionId });
    subscription.ok = false;
    subscription.error = message;
    problems.push({ subscriptionId, message });
    return { subscription, apps: [], problems };
  }
}

function isEnabled(ctx: ScanContext, site: SiteInfo): boolean {
  return parseAppTags(site.tags, ctx.config.rotationTag).config.enabled;
}

class CertificateIndex {
  private readonly byWebspace = new Map<string, CertificateInfo[]>();
  private readonly byThumbprint = new Map<string, CertificateInfo[]>();

  constructor(certificates: readonly CertificateInfo[]) {
    for (const certificate of certificates) {
      push(this.byWebspace, certificate.webspace.toLowerCase(), certificate);
      push(this.byThumbprint, certificate.thumbprint.toUpperCase(), certificate);
    }
  }

  inWebspace(webspace: string): CertificateInfo[] {
    return this.byWebspace.get(webspace.toLowerCase()) ?? [];
  }

  withThumbprint(thumbprint: string): CertificateInfo[] {
    return this.byThumbprint.get(thumbprint.toUpperCase()) ?? [];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * Scans one app without a subscription-wide listing: the site, its settings, the certificates of its
 * resource group (its webspace's), and only for a dangling thumbprint without an app source tag, the
 * subscription's certificates. Used by `rotateApp` and by resume.
 */
export async function scanApp(
  deps: ScanDeps,
  config: Config,
  ref: AppRef,
  options: { force?: boolean; site?: SiteInfo } = {},
): Promise<ScannedApp | undefined> {
  const ctx = newContext(deps, config, options.force);
  const site = options.site ?? (await deps.gateway.getSite(ref));
  if (!site) return undefined;
  const inGroup = await collect(deps.gateway.listCertificatesInResourceGroup(ref.subscriptionId, site.ref.resourceGroup));
  const webspace = site.webspace.toLowerCase();
  let subscriptionIndex: Promise<CertificateIndex> | undefined;
  return inspectApp(
    ctx,
    site,
    inGroup.filter((c) => c.webspace.toLowerCase() === webspace),
    async (thumbprint) => {
      subscriptionIndex ??= collect(deps.gateway.listCertificates(ref.subscriptionId)).then((all) => new CertificateIndex(all));
      return (await subscriptionIndex).withThumbprint(thumbprint);
    },
  );
}

async function inspectApp(
  ctx: ScanContext,
  site: SiteInfo,
  webspaceCertificates: CertificateInfo[],
  findByThumbprint: (thumbprint: string) => Promise<CertificateInfo[]>,
): Promise<ScannedApp> {
  const { config, problems: tagProblems } = parseAppTags(site.tags, ctx.config.rotationTag);
  const app: ScannedApp = {
    appId: appIdOf(site.ref),
    ref: site.ref,
    name: appNameOf(site.ref),
    site,
    tags: config,
    mode: 'explicit',
    bindings: [],
    problems: [...tagProblems],
  };
  if (!config.enabled) {
    app.problems.push(`not opted in (tag ${ctx.names.enabled}=enabled is missing)`);
    return app;
  }
  // An app with bad tags is skipped as a whole: its settings are not even read.
  if (app.problems.length > 0) return app;

  let settings: Record<string, string>;
  try {
    settings = await ctx.deps.gateway.readAppSettings(site.ref);
  } catch (error) {
    app.settingsUnreadable = true;
    app.problems.push(`app settings cannot be read: ${describeError(error)}`);
    ctx.deps.logger.warn(`app settings of ${app.name} cannot be read`, { appId: app.appId, error: describeError(error) });
    return app;
  }
  const value = settingValue(settings, LOAD_CERTIFICATES_SETTING);
  if (value !== undefined) app.loadCertificates = value;
  const parsed = parseLoadCertificates(value);
  if (parsed.mode === 'wildcard') {
    app.mode = 'wildcard';
    app.bindings = await wildcardBindings(ctx, app, webspaceCertificates);
    if (app.bindings.length === 0) {
      app.problems.push(
        `${LOAD_CERTIFICATES_SETTING}=* and no certificate of the webspace has a Key Vault source (link it, or tag the app ${ctx.names.source})`,
      );
    }
  } else {
    if (parsed.invalid.length > 0) {
      app.problems.push(
        `${LOAD_CERTIFICATES_SETTING} has entries that are not thumbprints: ${parsed.invalid.map((e) => `'${e}'`).join(', ')}`,
      );
    }
    if (parsed.thumbprints.length === 0 && parsed.invalid.length === 0) {
      app.problems.push(`${LOAD_CERTIFICATES_SETTING} is not set: the app loads no certificate`);
    }
    app.bindings = await Promise.all(
      parsed.thumbprints.map((thumbprint) => explicitBinding(ctx, app, thumbprint, webspaceCertificates, findByThumbprint)),
    );
    const selected = selectedThumbprintOf(settings, config.settings, parsed.thumbprints);
    if (selected) app.selectedThumbprint = selected;
  }
  for (const binding of app.bindings) {
    binding.evaluation = evaluateBinding(binding, ctx.policies, ctx.deps.clock.now(), { force: ctx.force });
  }
  return app;
}

/** App settings names are case-insensitive on Windows and in ARM; match exactly first. */
export function settingValue(settings: Record<string, string>, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(settings, name)) return settings[name];
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(settings)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

function selectedThumbprintOf(settings: Record<string, string>, names: string[], loaded: string[]): string | undefined {
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

function emptyEvaluation(): BindingEvaluation {
  return { decision: { reason: 'UpToDate', message: 'not evaluated' }, due: false };
}

async function explicitBinding(
  ctx: ScanContext,
  app: ScannedApp,
  thumbprint: string,
  webspaceCertificates: CertificateInfo[],
  findByThumbprint: (thumbprint: string) => Promise<CertificateInfo[]>,
): Promise<CertificateBinding> {
  const binding: CertificateBinding = { key: thumbprint, mode: 'explicit', dangling: false, loaded: { thumbprint }, evaluation: emptyEvaluation() };
  const resources = webspaceCertificates.filter((c) => sameThumbprint(c.thumbprint, thumbprint));
  // Several resources may hold one thumbprint; prefer one whose source is known.
  const resource = resources.find((c) => isLinked(c) || hasRotatorSource(ctx, c)) ?? resources[0];
  try {
    if (resource) {
      binding.certificate = resource;
      binding.loaded = loadedOf(resource);
      const found = (await sourceOfCertificate(ctx, resource)) ?? (app.tags.source ? { source: app.tags.source, origin: 'appTag' as const } : undefined);
      if (found) {
        binding.source = found.source;
        binding.sourceOrigin = found.origin;
      } else {
        binding.problem = `certificate ${resource.name} (${thumbprint}) has no Key Vault source: link it to Key Vault or tag the app ${ctx.names.source}`;
      }
    } else {
      binding.dangling = true;
      if (app.tags.source) {
        binding.source = app.tags.source;
        binding.sourceOrigin = 'appTag';
      } else {
        for (const elsewhere of await findByThumbprint(thumbprint)) {
          const found = await sourceOfCertificate(ctx, elsewhere);
          if (found) {
            binding.source = found.source;
            binding.sourceOrigin = 'elsewhere';
            break;
          }
        }
      }
      if (!binding.source) {
        binding.problem = `DanglingThumbprint without a source: ${thumbprint} is pinned in ${LOAD_CERTIFICATES_SETTING} but no certificate resource in the webspace has it, and no Key Vault source is known (tag the app ${ctx.names.source})`;
      }
    }
    if (binding.source) binding.latest = await latestOf(ctx, binding.source);
  } catch (error) {
    binding.problem = describeError(error);
  }
  return binding;
}

/**
 * `*` mode: the bindings are the webspace's certificates that have a Key Vault source, narrowed to the
 * app's source tag when it has one; per source the app loads (picks) the newest version present.
 */
async function wildcardBindings(
  ctx: ScanContext,
  app: ScannedApp,
  webspaceCertificates: CertificateInfo[],
): Promise<CertificateBinding[]> {
  const groups = new Map<string, { source: KeyVaultSource; origin: SourceOrigin; certificates: CertificateInfo[] }>();
  const problems: string[] = [];
  for (const certificate of webspaceCertificates) {
    let found: { source: KeyVaultSource; origin: SourceOrigin } | undefined;
    try {
      found = await sourceOfCertificate(ctx, certificate);
    } catch (error) {
      problems.push(`source of certificate ${certificate.name} cannot be resolved: ${describeError(error)}`);
      continue;
    }
    if (!found) continue;
    const key = sourceKeyOf(found.source);
    if (app.tags.source && key !== sourceKeyOf(app.tags.source)) continue;
    const group = groups.get(key);
    if (group) group.certificates.push(certificate);
    else groups.set(key, { ...found, certificates: [certificate] });
  }
  if (app.tags.source && !groups.has(sourceKeyOf(app.tags.source))) {
    groups.set(sourceKeyOf(app.tags.source), { source: app.tags.source, origin: 'appTag', certificates: [] });
  }
  app.problems.push(...problems);
  const bindings: CertificateBinding[] = [];
  for (const [key, group] of groups) {
    const newest = [...group.certificates].sort(
      (a, b) => (b.expirationDate?.getTime() ?? 0) - (a.expirationDate?.getTime() ?? 0),
    )[0];
    const binding: CertificateBinding = {
      key,
      mode: 'wildcard',
      dangling: false,
      source: group.source,
      sourceOrigin: group.origin,
      evaluation: emptyEvaluation(),
    };
    if (newest) {
      binding.certificate = newest;
      binding.loaded = loadedOf(newest);
    }
    try {
      binding.latest = await latestOf(ctx, group.source);
    } catch (error) {
      binding.problem = describeError(error);
    }
    bindings.push(binding);
  }
  return bindings;
}

function loadedOf(certificate: CertificateInfo): LoadedCertificate {
  const loaded: LoadedCertificate = { thumbprint: certificate.thumbprint.toUpperCase() };
  if (certificate.issueDate) loaded.notBefore = certificate.issueDate;
  if (certificate.expirationDate) loaded.notAfter = certificate.expirationDate;
  return loaded;
}

function isLinked(certificate: CertificateInfo): boolean {
  return !!certificate.keyVaultId && !!certificate.keyVaultSecretName;
}

function hasRotatorSource(ctx: ScanContext, certificate: CertificateInfo): boolean {
  return getTag(certificate.tags, ctx.names.source) !== undefined;
}

/** The Key Vault source a certificate resource names itself: its link, or the rotator's tag. */
async function sourceOfCertificate(
  ctx: ScanContext,
  certificate: CertificateInfo,
): Promise<{ source: KeyVaultSource; origin: SourceOrigin } | undefined> {
  if (certificate.keyVaultId && certificate.keyVaultSecretName) {
    const vaultId = certificate.keyVaultId;
    const uri = await ctx.vaultUris.get(vaultId.toLowerCase(), async () => {
      try {
        return await ctx.deps.gateway.resolveVaultUri(vaultId);
      } catch (error) {
        throw toRotatorError(error, `vault ${vaultId} cannot be resolved`);
      }
    });
    return { source: { vaultUrl: uri.replace(/\/+$/, ''), name: certificate.keyVaultSecretName }, origin: 'linked' };
  }
  const tagged = getTag(certificate.tags, ctx.names.source);
  if (tagged !== undefined) {
    const parsed = parseKeyVaultSourceUrl(tagged);
    if (typeof parsed !== 'string') return { source: parsed, origin: 'rotatorTag' };
  }
  return undefined;
}

async function latestOf(ctx: ScanContext, source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined> {
  return ctx.latest.get(sourceKeyOf(source), async () => {
    try {
      return await ctx.deps.keyVault.getLatest(source);
    } catch (error) {
      throw toRotatorError(error, `Key Vault certificate ${sourceUrlOf(source)} cannot be read`);
    }
  });
}
