// The inventory: which opted-in apps load which certificates, where each comes from, and what the source has now.
// Facts only; it makes no write, no decision, and stays at the ARM floor: per subscription one paged listing of sites
// and one of certificates, one settings read per opted-in app, slot listings only for sites tagged `<p>-slots=true`,
// and one vault look-up per distinct vault. Each app is handed to the caller's `decide` as soon as its facts are in,
// so a decision can keep what it needs of the app's settings without the inventory knowing what that is.
import type { Config } from '../config.js';
import { collect } from '../concurrency.js';
import { describeError } from '../errors.js';
import { appIdOf, appNameOf } from '../identity.js';
import type { AppRef, AppSettings, SiteInfo } from '../ports.js';
import { LOAD_CERTIFICATES_SETTING } from '../tags.js';
import { parseLoadCertificates } from '../thumbprints.js';
import { subscriptionsInScope } from '../subscriptions.js';
import { selectedThumbprintOf, settingValue } from './appSettings.js';
import { explicitBinding, wildcardBindings } from './bindings.js';
import { CertificateIndex, type CertificateLookup } from './certificateIndex.js';
import { newInventoryContext, tagsOf, type InventoryContext } from './context.js';
import type { InventoryApp, InventoryResult, ScanDeps, ScanProblem, SubscriptionScan } from './types.js';
import { runWorkers, WorkList } from './workList.js';

/** Settings reads in flight per subscription (the adapter paces against ARM's bucket on top of this). */
export const SETTINGS_READ_CONCURRENCY = 4;

/**
 * What the caller makes of an app once its facts are in (the scan: the decision on each binding). `settings` is what
 * was read of the app's settings (undefined when they were not read); it is not kept unless the caller keeps it.
 */
export type DecideApp<A> = (app: InventoryApp, settings: AppSettings | undefined) => A;

/** Scans every configured subscription, in parallel; one failing subscription does not stop the others. */
export async function takeInventory<A extends InventoryApp>(
  deps: ScanDeps,
  config: Config,
  options: { subscriptionIds?: string[]; decide: DecideApp<A> },
): Promise<InventoryResult<A>> {
  const started = deps.clock.now();
  const ctx = newInventoryContext(deps, config);
  const scope = options.subscriptionIds !== undefined ? { ids: options.subscriptionIds } : await subscriptionsInScope(deps, config);
  const subscriptionIds = scope.ids;
  const results = await Promise.all(subscriptionIds.map((id) => inventorySubscription(ctx, id, options.decide)));
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
async function inventorySubscription<A extends InventoryApp>(
  ctx: InventoryContext,
  subscriptionId: string,
  decide: DecideApp<A>,
): Promise<{ subscription: SubscriptionScan; apps: A[]; problems: ScanProblem[] }> {
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

  const siteApps: A[] = [];
  const slotGroups: Array<{ slots: SiteInfo[]; apps: A[] }> = [];
  const work = new WorkList<Job<A>>();
  let failure: { error: unknown } | undefined;
  const run = async (job: Job<A>): Promise<void> => {
    if (job.kind === 'app') {
      job.into[job.at] = await inventoryApp(ctx, job.site, certificates, decide);
      return;
    }
    const slots = await listSlotsOf(ctx, job.site, problems);
    const group = { slots, apps: [] as A[] };
    slotGroups[job.at] = group;
    for (const slot of slots) {
      if (tagsOf(ctx, slot).config.enabled) work.push({ kind: 'app', site: slot, into: group.apps, at: group.apps.length++ });
    }
  };
  const workers = runWorkers(work, SETTINGS_READ_CONCURRENCY, run, (error) => {
    failure ??= { error };
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
  await workers;

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

type Job<A> =
  | { kind: 'app'; site: SiteInfo; into: A[]; at: number }
  /** List the slots of a `<p>-slots=true` site; its opted-in slots become app jobs. */
  | { kind: 'slots'; site: SiteInfo; at: number };

/** The slots of a `<p>-slots=true` site; a failure is a problem of that site, not of the subscription. */
async function listSlotsOf(ctx: InventoryContext, site: SiteInfo, problems: ScanProblem[]): Promise<SiteInfo[]> {
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

/**
 * Scans one app without a subscription-wide listing: the site, its settings, the certificates of its
 * resource group (its webspace's), and only for a dangling thumbprint without an app source tag, the
 * subscription's certificates. Used by `rotateApp` and by resume.
 */
export async function inventoryOfApp<A extends InventoryApp>(
  deps: ScanDeps,
  config: Config,
  ref: AppRef,
  options: { site?: SiteInfo; decide: DecideApp<A> },
): Promise<A | undefined> {
  const ctx = newInventoryContext(deps, config);
  const site = options.site ?? (await deps.gateway.getSite(ref));
  if (!site) return undefined;
  const inGroup = await collect(deps.gateway.listCertificatesInResourceGroup(ref.subscriptionId, site.ref.resourceGroup));
  const webspace = site.webspace.toLowerCase();
  const inWebspace = inGroup.filter((c) => c.webspace.toLowerCase() === webspace);
  let subscriptionIndex: Promise<CertificateIndex> | undefined;
  return inventoryApp(ctx, site, {
    inWebspace: async () => inWebspace,
    withThumbprint: async (thumbprint) => {
      subscriptionIndex ??= collect(deps.gateway.listCertificates(ref.subscriptionId)).then((all) => new CertificateIndex(all));
      return (await subscriptionIndex).withThumbprint(thumbprint);
    },
  }, options.decide);
}

async function inventoryApp<A extends InventoryApp>(
  ctx: InventoryContext,
  site: SiteInfo,
  certificates: CertificateLookup,
  decide: DecideApp<A>,
): Promise<A> {
  const { config, problems: tagProblems } = tagsOf(ctx, site);
  const app: InventoryApp = {
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
  return decide(app, await inspectApp(ctx, app, certificates));
}

/** Fills in the app's facts; returns the settings it read, if it read them. */
async function inspectApp(ctx: InventoryContext, app: InventoryApp, certificates: CertificateLookup): Promise<AppSettings | undefined> {
  const { site, tags: config } = app;
  if (!config.enabled) {
    app.problems.push(`not opted in (tag ${ctx.names.enabled}=enabled is missing)`);
    return undefined;
  }
  // An app with bad tags is skipped as a whole: its settings are not even read.
  if (app.problems.length > 0) return undefined;

  let settings: AppSettings;
  try {
    settings = await ctx.deps.gateway.readAppSettings(site.ref);
  } catch (error) {
    app.settingsUnreadable = true;
    app.problems.push(`app settings cannot be read: ${describeError(error)}`);
    ctx.deps.logger.warn(`app settings of ${app.name} cannot be read`, { appId: app.appId, error: describeError(error) });
    return undefined;
  }
  const value = settingValue(settings, LOAD_CERTIFICATES_SETTING);
  if (value !== undefined) app.loadCertificates = ctx.strings.intern(value);
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
    if (selected) app.selectedThumbprint = ctx.strings.intern(selected);
  }
  return settings;
}
