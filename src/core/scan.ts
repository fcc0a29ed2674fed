// Inventory scan: which opted-in apps load which certificates, where each comes from in Key Vault,
// and what Key Vault has now. It makes no write and stays at the ARM floor: per subscription one
// paged listing of sites and one of certificates, one settings read per opted-in app, slot listings
// only for sites tagged `<p>-slots=true`, and one vault look-up per distinct vault.
import type { Config } from './config.js';
import { probeTargetPolicyOf } from './config.js';
import { collect, OnceCache } from './concurrency.js';
import { describeError, toRotatorError } from './errors.js';
import { appIdOf, appNameOf } from './identity.js';
import type { Logger } from './logger.js';
import type { CandidateRefusal } from './candidateChecks.js';
import { evaluateBinding, type BindingEvaluation } from './plan.js';
import { authorizeSource, checkVaultHost } from './trust.js';
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
import type { AppSettings } from './ports.js';
import {
  getTag,
  LOAD_CERTIFICATES_SETTING,
  parseAppTags,
  parseKeyVaultSourceUrl,
  type ParsedAppTags,
  sourceKeyOf,
  sourceUrlOf,
  tagNames,
  type AppTagConfig,
} from './tags.js';
import { parseLoadCertificates, sameThumbprint } from './thumbprints.js';
import { subscriptionsInScope, type SubscriptionDirectory, type SubscriptionDiscovery } from './subscriptions.js';

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
  /** The source may not be used by this app (SourceNotAuthorized): no grant, or not a Key Vault host. */
  refused?: CandidateRefusal;
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
  /** Set when AZURE_SUBSCRIPTION_IDS asked for discovery: which subscriptions were found and which were skipped. */
  discovery?: SubscriptionDiscovery;
}

export interface ScanDeps {
  gateway: AppServiceGateway;
  /** Lists the subscriptions when AZURE_SUBSCRIPTION_IDS asks for discovery. */
  subscriptions?: SubscriptionDirectory;
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
  /** Strings that repeat across apps (thumbprints, messages): one copy each for the whole result. */
  strings: Map<string, string>;
  /** Parsed tags by their content: apps with the same tags share one (read-only) AppTagConfig. */
  parsedTags: Map<string, ParsedAppTags>;
  /** Per certificate resource: its Key Vault source and what it loads, shared by every app of its webspace. */
  sources: WeakMap<CertificateInfo, Promise<{ source: KeyVaultSource; origin: SourceOrigin } | undefined>>;
  loaded: WeakMap<CertificateInfo, LoadedCertificate>;
  /** Evaluations by content: 10,000 up-to-date apps on one certificate hold one evaluation, not 10,000. */
  evaluations: Map<string, BindingEvaluation>;
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
    strings: new Map(),
    parsedTags: new Map(),
    sources: new WeakMap(),
    loaded: new WeakMap(),
    evaluations: new Map(),
  };
}

function intern(ctx: ScanContext, value: string): string {
  const known = ctx.strings.get(value);
  if (known !== undefined) return known;
  ctx.strings.set(value, value);
  return value;
}

function tagsOf(ctx: ScanContext, site: SiteInfo): ParsedAppTags {
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

/** Scans every configured subscription, in parallel; one failing subscription does not stop the others. */
export async function scanInventory(
  deps: ScanDeps,
  config: Config,
  options: { subscriptionIds?: string[]; force?: boolean } = {},
): Promise<ScanResult> {
  const started = deps.clock.now();
  const ctx = newContext(deps, config, options.force);
  const scope = options.subscriptionIds !== undefined ? { ids: options.subscriptionIds } : await subscriptionsInScope(deps, config);
  const subscriptionIds = scope.ids;
  const results = await Promise.all(subscriptionIds.map((id) => scanSubscription(ctx, id)));
  const finished = deps.clock.now();
  return {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    subscriptions: results.map((r) => r.subscription),
    apps: results.flatMap((r) => r.apps),
    problems: results.flatMap((r) => r.problems),
    ...(scope.discovery !== undefined ? { discovery: scope.discovery } : {}),
  };
}

/**
 * Streams the site listing: the settings read of an opted-in site starts as soon as its page arrives (at most
 * SETTINGS_READ_CONCURRENCY in flight), while the certificate listing runs alongside; an app's inspection waits for
 * the certificate index only after its settings are read. Apps come out in listing order, slots after the sites.
 */
async function scanSubscription(
  ctx: ScanContext,
  subscriptionId: string,
): Promise<{ subscription: SubscriptionScan; apps: ScannedApp[]; problems: ScanProblem[] }> {
  const { gateway, logger } = ctx.deps;
  const problems: ScanProblem[] = [];
  const subscription: SubscriptionScan = { subscriptionId, ok: true, sites: [], certificates: [], unreadableWebspaces: [] };
  const indexLoad = collect(gateway.listCertificates(subscriptionId)).then((certificates) => {
    subscription.certificates = certificates;
    return new CertificateIndex(certificates);
  });
  // Awaited below; until then a failure must not surface as an unhandled rejection.
  indexLoad.catch(() => undefined);
  const certificates: CertificateLookup = {
    inWebspace: async (webspace) => (await indexLoad).inWebspace(webspace),
    withThumbprint: async (thumbprint) => (await indexLoad).withThumbprint(thumbprint),
  };

  const siteApps: ScannedApp[] = [];
  const slotGroups: Array<{ slots: SiteInfo[]; apps: ScannedApp[] }> = [];
  // Pending work is a plain list of sites the workers pull from: 10,000 queued apps cost 10,000 references, not
  // 10,000 closures and promises that outlive young-generation collections (issue 7, peak RSS).
  const work = new WorkList<Job>();
  let failure: { error: unknown } | undefined;
  const run = async (job: Job): Promise<void> => {
    if (job.kind === 'app') {
      job.into[job.at] = await inspectApp(ctx, job.site, certificates);
      return;
    }
    const slots = await listSlotsOf(ctx, job.site, problems);
    const group = { slots, apps: [] as ScannedApp[] };
    slotGroups[job.at] = group;
    for (const slot of slots) {
      if (tagsOf(ctx, slot).config.enabled) work.push({ kind: 'app', site: slot, into: group.apps, at: group.apps.length++ });
    }
  };
  const workers = Array.from({ length: SETTINGS_READ_CONCURRENCY }, async () => {
    for (let job = await work.take(); job !== undefined; job = await work.take()) {
      try {
        await run(job);
      } catch (error) {
        failure ??= { error };
        work.abort();
      } finally {
        work.finished(job);
      }
    }
  });
  try {
    for await (const site of gateway.listSites(subscriptionId)) {
      if (failure) break;
      subscription.sites.push(site);
      const { config } = tagsOf(ctx, site);
      if (config.enabled) work.push({ kind: 'app', site, into: siteApps, at: siteApps.length++ });
      if (config.slots) work.push({ kind: 'slots', site, at: slotGroups.length++ });
    }
    await indexLoad;
  } catch (error) {
    failure ??= { error };
    work.abort();
  }
  work.listed();
  await Promise.all(workers);

  if (failure) {
    const message = `subscription ${subscriptionId} cannot be scanned: ${describeError(failure.error)}`;
    logger.error(message, { subscriptionId });
    subscription.ok = false;
    subscription.error = message;
    problems.push({ subscriptionId, message });
    return { subscription, apps: [], problems };
  }
  const apps = siteApps;
  for (const group of slotGroups) {
    subscription.sites.push(...group.slots);
    apps.push(...group.apps);
  }
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
}

type Job =
  | { kind: 'app'; site: SiteInfo; into: ScannedApp[]; at: number }
  /** List the slots of a `<p>-slots=true` site; its opted-in slots become app jobs. */
  | { kind: 'slots'; site: SiteInfo; at: number };

/**
 * Jobs in the order they were pushed, taken by a fixed set of workers. It ends when the listing is done and no
 * slot listing (which adds jobs) is still running; abort() drops what has not started.
 */
class WorkList<T extends { kind: string }> {
  private items: Array<T | undefined> = [];
  private next = 0;
  private listingDone = false;
  private slotJobsRunning = 0;
  private aborted = false;
  private waiting: Array<() => void> = [];

  push(item: T): void {
    if (this.aborted) return;
    this.items.push(item);
    this.wake();
  }

  async take(): Promise<T | undefined> {
    for (;;) {
      if (this.next < this.items.length) {
        const item = this.items[this.next] as T;
        // Taken jobs are not kept: the list would otherwise hold every site until the subscription is done.
        this.items[this.next] = undefined;
        this.next += 1;
        if (item.kind === 'slots') this.slotJobsRunning += 1;
        if (this.next === this.items.length) {
          this.items = [];
          this.next = 0;
        }
        return item;
      }
      if (this.listingDone && this.slotJobsRunning === 0) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  finished(item: T): void {
    if (item.kind === 'slots') {
      this.slotJobsRunning -= 1;
      this.wake();
    }
  }

  listed(): void {
    this.listingDone = true;
    this.wake();
  }

  abort(): void {
    this.aborted = true;
    this.items = [];
    this.next = 0;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/** The slots of a `<p>-slots=true` site; a failure is a problem of that site, not of the subscription. */
async function listSlotsOf(ctx: ScanContext, site: SiteInfo, problems: ScanProblem[]): Promise<SiteInfo[]> {
  try {
    return await collect(ctx.deps.gateway.listSlots(site));
  } catch (error) {
    const { subscriptionId } = site.ref;
    const message = `slots of ${site.ref.site} cannot be listed: ${describeError(error)}`;
    problems.push({ subscriptionId, appId: appIdOf(site.ref), message });
    ctx.deps.logger.warn(message, { subscriptionId });
    return [];
  }
}

/** The certificates an inspection may need; in a subscription scan they arrive while settings are being read. */
interface CertificateLookup {
  inWebspace(webspace: string): Promise<CertificateInfo[]>;
  withThumbprint(thumbprint: string): Promise<CertificateInfo[]>;
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
  const inWebspace = inGroup.filter((c) => c.webspace.toLowerCase() === webspace);
  let subscriptionIndex: Promise<CertificateIndex> | undefined;
  return inspectApp(ctx, site, {
    inWebspace: async () => inWebspace,
    withThumbprint: async (thumbprint) => {
      subscriptionIndex ??= collect(deps.gateway.listCertificates(ref.subscriptionId)).then((all) => new CertificateIndex(all));
      return (await subscriptionIndex).withThumbprint(thumbprint);
    },
  });
}

async function inspectApp(ctx: ScanContext, site: SiteInfo, certificates: CertificateLookup): Promise<ScannedApp> {
  const { config, problems: tagProblems } = tagsOf(ctx, site);
  const app: ScannedApp = {
    appId: appIdOf(site.ref),
    ref: site.ref,
    name: appNameOf(site.ref),
    site,
    tags: config,
    mode: 'explicit',
    bindings: [],
    // Spreading even an empty array allocates room for 16 elements; a scan keeps 10,000 of these.
    problems: tagProblems.length > 0 ? [...tagProblems] : [],
  };
  if (!config.enabled) {
    app.problems.push(`not opted in (tag ${ctx.names.enabled}=enabled is missing)`);
    return app;
  }
  // An app with bad tags is skipped as a whole: its settings are not even read.
  if (app.problems.length > 0) return app;

  let settings: AppSettings;
  try {
    settings = await ctx.deps.gateway.readAppSettings(site.ref);
  } catch (error) {
    app.settingsUnreadable = true;
    app.problems.push(`app settings cannot be read: ${describeError(error)}`);
    ctx.deps.logger.warn(`app settings of ${app.name} cannot be read`, { appId: app.appId, error: describeError(error) });
    return app;
  }
  const value = settingValue(settings, LOAD_CERTIFICATES_SETTING);
  if (value !== undefined) app.loadCertificates = intern(ctx, value);
  const parsed = parseLoadCertificates(value);
  const webspaceCertificates = await certificates.inWebspace(site.webspace);
  const findByThumbprint = (thumbprint: string) => certificates.withThumbprint(thumbprint);
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
    // slice(): Promise.all's array keeps spare capacity; the result is kept for the whole run.
    app.bindings = (
      await Promise.all(parsed.thumbprints.map((thumbprint) => explicitBinding(ctx, app, thumbprint, webspaceCertificates, findByThumbprint)))
    ).slice();
    const selected = selectedThumbprintOf(settings, config.settings, parsed.thumbprints);
    if (selected) app.selectedThumbprint = intern(ctx, selected);
  }
  const candidatePolicy = { maxLifetimeDays: ctx.config.candidateMaxLifetimeDays };
  for (const binding of app.bindings) {
    binding.evaluation = sharedEvaluation(ctx, evaluateBinding(binding, ctx.policies, ctx.deps.clock.now(), { force: ctx.force, candidatePolicy }));
  }
  if (app.mode === 'explicit' && app.bindings.some((b) => b.evaluation.due)) keepOwnedSettings(app, settings, config.settings);
  return app;
}

/**
 * The settings a rotation of the app would change (WEBSITE_LOAD_CERTIFICATES and its `<p>-settings` keys, under the
 * app's own spelling), as this scan read them: the switch plans its write on them instead of listing the settings
 * once more (a `POST …/appsettings/list` is a write in ARM's quota). Kept for apps with a due binding only, and beside
 * the app rather than on it, so a plan, a response or a log line never carries setting values.
 */
const ownedSettingsSeen = new WeakMap<ScannedApp, Readonly<AppSettings>>();

function keepOwnedSettings(app: ScannedApp, settings: AppSettings, extraSettings: readonly string[]): void {
  const names = new Set([LOAD_CERTIFICATES_SETTING, ...extraSettings].map((n) => n.toLowerCase()));
  const owned: AppSettings = {};
  for (const [key, value] of Object.entries(settings)) if (names.has(key.toLowerCase())) owned[key] = value;
  ownedSettingsSeen.set(app, Object.freeze(owned));
}

/** What the scan behind `app` read of the settings a rotation owns; undefined when it kept nothing (see above). */
export function ownedSettingsSeenBy(app: ScannedApp): Readonly<AppSettings> | undefined {
  return ownedSettingsSeen.get(app);
}

/** App settings names are case-insensitive on Windows and in ARM; match exactly first. */
/** A setting's value by case-insensitive name; a null value (ARM can return one) reads as not set. */
export function settingValue(settings: AppSettings, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(settings, name)) return settings[name] ?? undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(settings)) if (key.toLowerCase() === lower) return value ?? undefined;
  return undefined;
}

function selectedThumbprintOf(settings: AppSettings, names: string[], loaded: string[]): string | undefined {
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

/**
 * One object per distinct evaluation: the decision message is a fresh string per app (the thumbprint and dates
 * spliced in), though thousands of apps on one certificate get the same one. Frozen, since apps share it.
 */
function sharedEvaluation(ctx: ScanContext, evaluation: BindingEvaluation): BindingEvaluation {
  // A refusal carries its own details; such evaluations are rare (a person must act): keep them as they are.
  if (evaluation.refusal) return evaluation;
  const { decision, due, forced, daysRemaining } = evaluation;
  const message = intern(ctx, decision.message);
  const key = `${decision.reason}\u0000${message}\u0000${due}\u0000${forced ?? ''}\u0000${daysRemaining ?? ''}`;
  let shared = ctx.evaluations.get(key);
  if (shared === undefined) {
    shared = Object.freeze({ ...evaluation, decision: Object.freeze({ ...decision, message }) });
    ctx.evaluations.set(key, shared);
  }
  return shared;
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
  thumbprint = intern(ctx, thumbprint);
  const binding: CertificateBinding = { key: thumbprint, mode: 'explicit', dangling: false, loaded: { thumbprint }, evaluation: emptyEvaluation() };
  const resources = webspaceCertificates.filter((c) => sameThumbprint(c.thumbprint, thumbprint));
  // Several resources may hold one thumbprint; prefer one whose source is known.
  const resource = resources.find((c) => isLinked(c) || hasRotatorSource(ctx, c)) ?? resources[0];
  try {
    if (resource) {
      binding.certificate = resource;
      binding.loaded = loadedOf(ctx, resource);
      const found = (await sourceOfCertificate(ctx, resource)) ?? (app.tags.source ? { source: app.tags.source, origin: 'appTag' as const } : undefined);
      if (found) {
        binding.source = found.source;
        binding.sourceOrigin = found.origin;
      } else {
        binding.problem = `certificate ${resource.name} (${thumbprint}) has no Key Vault source: link it to Key Vault or tag the app ${ctx.names.source}`;
      }
    } else {
      binding.dangling = true;
      let refusedElsewhere: CandidateRefusal | undefined;
      if (app.tags.source) {
        binding.source = app.tags.source;
        binding.sourceOrigin = 'appTag';
      } else {
        // The pin is the app owner's to write, so a certificate elsewhere with that thumbprint names a source only
        // if the app is authorized for it: pinning another team's (public) thumbprint must not fetch their key.
        for (const elsewhere of await findByThumbprint(thumbprint)) {
          const found = await sourceOfCertificate(ctx, elsewhere);
          if (!found) continue;
          const checked = await authorizedLatest(ctx, app, found.source);
          if (checked.refused) {
            refusedElsewhere ??= checked.refused;
            continue;
          }
          binding.source = found.source;
          binding.sourceOrigin = 'elsewhere';
          binding.latest = checked.latest;
          break;
        }
      }
      if (!binding.source && refusedElsewhere) {
        binding.refused = refusedElsewhere;
        binding.problem = `SourceNotAuthorized: ${thumbprint} is pinned in ${LOAD_CERTIFICATES_SETTING} but has no certificate resource in the webspace, and the only sources that hold it are not granted to this app: ${refusedElsewhere.message}`;
      } else if (!binding.source) {
        binding.problem = `DanglingThumbprint without a source: ${thumbprint} is pinned in ${LOAD_CERTIFICATES_SETTING} but no certificate resource in the webspace has it, and no Key Vault source is known (tag the app ${ctx.names.source})`;
      }
    }
    if (binding.source && binding.sourceOrigin !== 'elsewhere') await applyAuthorizedLatest(ctx, app, binding);
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
      binding.loaded = loadedOf(ctx, newest);
    }
    try {
      await applyAuthorizedLatest(ctx, app, binding);
    } catch (error) {
      binding.problem = describeError(error);
    }
    bindings.push(binding);
  }
  return bindings;
}

/** What an app loads from a certificate resource; one object per resource, shared by the apps of its webspace. */
function loadedOf(ctx: ScanContext, certificate: CertificateInfo): LoadedCertificate {
  let loaded = ctx.loaded.get(certificate);
  if (loaded === undefined) {
    loaded = { thumbprint: intern(ctx, certificate.thumbprint.toUpperCase()) };
    if (certificate.issueDate) loaded.notBefore = certificate.issueDate;
    if (certificate.expirationDate) loaded.notAfter = certificate.expirationDate;
    ctx.loaded.set(certificate, loaded);
  }
  return loaded;
}

function isLinked(certificate: CertificateInfo): boolean {
  return !!certificate.keyVaultId && !!certificate.keyVaultSecretName;
}

function hasRotatorSource(ctx: ScanContext, certificate: CertificateInfo): boolean {
  return getTag(certificate.tags, ctx.names.source) !== undefined;
}

/**
 * The Key Vault source a certificate resource names itself: its link, or the rotator's tag. Resolved once per
 * resource (every app of the webspace asks), so the apps share one source object.
 */
function sourceOfCertificate(
  ctx: ScanContext,
  certificate: CertificateInfo,
): Promise<{ source: KeyVaultSource; origin: SourceOrigin } | undefined> {
  let found = ctx.sources.get(certificate);
  if (found === undefined) {
    found = resolveSourceOfCertificate(ctx, certificate);
    found.catch(() => undefined);
    ctx.sources.set(certificate, found);
  }
  return found;
}

async function resolveSourceOfCertificate(
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

/**
 * Key Vault's latest version of a source, if this app may use it: the host must be a Key Vault host (or allow-listed)
 * before anything is sent, and an operator grant or the vault owner's consumers tag on the certificate must name the
 * app's scope. Reading the certificate (public data) to see its tag happens only on a vault host.
 */
async function authorizedLatest(
  ctx: ScanContext,
  app: ScannedApp,
  source: KeyVaultSource,
): Promise<{ latest?: KeyVaultCertificateVersion; refused?: CandidateRefusal }> {
  const host = checkVaultHost(source.vaultUrl, ctx.config.keyVaultAllowedHosts);
  if (host.kind === 'refused') {
    return { refused: { refusal: 'SourceNotAuthorized', message: `${sourceUrlOf(source)} is not a Key Vault source: ${host.message}` } };
  }
  const byPolicy = authorizeSource(app.ref, source, ctx.config.sourcePolicy, undefined, ctx.names.consumers);
  const latest = await latestOf(ctx, source);
  if (byPolicy.authorized) return latest ? { latest } : {};
  const byTag = authorizeSource(app.ref, source, ctx.config.sourcePolicy, getTag(latest?.tags, ctx.names.consumers), ctx.names.consumers);
  if (byTag.authorized) return latest ? { latest } : {};
  return { refused: { refusal: 'SourceNotAuthorized', message: byTag.message } };
}

async function applyAuthorizedLatest(ctx: ScanContext, app: ScannedApp, binding: CertificateBinding): Promise<void> {
  if (!binding.source) return;
  const checked = await authorizedLatest(ctx, app, binding.source);
  if (checked.refused) {
    binding.refused = checked.refused;
    binding.problem = `SourceNotAuthorized: ${checked.refused.message}`;
    return;
  }
  if (checked.latest) binding.latest = checked.latest;
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
