// What a Key Vault certificate event does: find the apps the index binds to its certificate, check each
// against the trust rules and its live settings, and hand exactly the due ones to the nightly fan-out's rollout
// dispatch, so apps sharing the version rotate in waves (canary first) and a bad certificate restarts one
// app, not every bound app at once; NearExpiry/Expired also raise the expiry alert at once for the apps still loading
// that version.
//
// Event Grid delivers at least once and in no particular order, so:
// - a delivery is judged against Key Vault's latest version and the app's live state, never against the event alone:
//   an older version's event after a newer one finds the app up to date (or due for the newest) and can never roll
//   it back;
// - the right to dispatch an app is claimed per (app, Key Vault version) in storage before the dispatch, so
//   duplicates and events that lead to the same version start at most one rotation per app; an app the rollout holds
//   for a later wave keeps its claim (the rollout, not another delivery, queues it when its wave comes).
import type { Config } from '../config.js';
import { mapLimit } from '../concurrency.js';
import { describeError, NotFoundError, TransientError } from '../errors.js';
import type { Telemetry } from '../events.js';
import { parseAppId } from '../identity.js';
import type { Logger } from '../logger.js';
import type { AppPlan, Plan } from '../decision/plan.js';
import { dueAppOf, type DispatchOptions, type DispatchReport, type DueApp } from '../rollout/rollouts.js';
import type { CertificateSource, Clock, KeyVaultCertificateVersion } from '../ports.js';
import { getTag, sourceKeyOf, sourceUrlOf, tagNames } from '../tags.js';
import { sameThumbprint } from '../thumbprints.js';
import { checkVaultHost } from '../sources/keyVaultRef.js';
import { authorizeSource } from '../trust.js';
import type { CertificateEvent } from './certificateEvent.js';
import type { SourceIndex } from './sourceIndex.js';

export interface CertificateEventDeps {
  /**
   * Plans one app from its live state (site, settings, certificates, Key Vault): no fleet listing. The site's tags
   * (the canary tag) come from the same read of the site.
   */
  planApp(appId: string): Promise<{ plan: Plan; tags?: Record<string, string> }>;
  /** Metadata only: an event never reads a secret. */
  keyVault: Pick<CertificateSource, 'getLatest' | 'getVersion'>;
  index: SourceIndex;
  /**
   * The nightly fan-out's rollout dispatch (src/core/rollout/rollouts.ts): queues a lone app directly, forms or joins
   * the rollout of apps due for the same version and queues only its current wave.
   */
  dispatch(due: readonly DueApp[], reasonOf: (app: DueApp) => string, options?: DispatchOptions): Promise<DispatchReport>;
  telemetry: Telemetry;
  logger: Logger;
  clock: Clock;
}

/** Why an event was dropped as a whole. */
export type EventIgnoredReason = 'Disabled' | 'UnknownVault' | 'NoBoundApps' | 'SourceNotAuthorized' | 'CertificateNotFound' | 'VersionNotFound';

/** What the event did for one bound app. */
export interface AppEventResult {
  appId: string;
  /** held = claimed and due, but its rollout queues it later (a later wave) or holds it (halted, aborted). */
  action: 'queued' | 'held' | 'duplicate' | 'notDue' | 'notBound' | 'refused' | 'failed';
  /** The expiry alert was raised for this app (NearExpiry / Expired). */
  alerted?: boolean;
  detail: string;
}

export type CertificateEventOutcome =
  | { eventId: string; outcome: 'ignored'; reason: EventIgnoredReason; message: string }
  | { eventId: string; outcome: 'handled'; latestVersion: string; superseded: boolean; apps: AppEventResult[] };

/** How long an event may name a version Key Vault does not show yet before it is dropped rather than retried. */
const NOT_YET_VISIBLE_MS = 10 * 60_000;

/** Bound apps verified at once: each costs a handful of ARM reads, and the pacer shares the subscription's quota. */
const VERIFY_CONCURRENCY = 4;

export async function handleCertificateEvent(deps: CertificateEventDeps, config: Config, event: CertificateEvent): Promise<CertificateEventOutcome> {
  const ignored = (reason: EventIgnoredReason, message: string): CertificateEventOutcome => {
    deps.logger.warn(`Key Vault event ${event.id} (${event.eventType}) dropped: ${reason}: ${message}`, { eventId: event.id, vault: event.vaultName, certificate: event.certificateName });
    deps.telemetry.event('CertificateEventIgnored', { eventId: event.id, eventType: event.eventType, vault: event.vaultName, certificate: event.certificateName, version: event.version, reason });
    return { eventId: event.id, outcome: 'ignored', reason, message };
  };
  if (!config.eventRotation) return ignored('Disabled', 'EVENT_ROTATION is false: the nightly scan rotates');

  const source = { vaultUrl: event.vaultUrl, name: event.certificateName };
  const sourceUrl = sourceUrlOf(source);
  // Before any look-up: an event naming a host that is not Key Vault (or allow-listed) sends nothing anywhere.
  const host = checkVaultHost(event.vaultUrl, config.keyVaultAllowedHosts);
  if (host.kind === 'refused') {
    deps.telemetry.event('TrustRefused', { reason: 'SourceNotAuthorized', source: sourceUrl, trigger: 'event', eventId: event.id });
    return ignored('SourceNotAuthorized', `${sourceUrl} is not a Key Vault source: ${host.message}`);
  }
  const sourceKey = sourceKeyOf(source);
  const entries = await deps.index.boundTo(sourceKey);
  if (entries.length === 0) {
    return (await deps.index.knowsVault(event.vaultUrl))
      ? ignored('NoBoundApps', `no opted-in app loads ${sourceUrl} (as of the last scan)`)
      : ignored('UnknownVault', `no opted-in app uses a certificate of vault ${event.vaultName} (${event.vaultUrl}) as of the last scan`);
  }
  await deps.index.noteEvent(sourceKey, event.version, deps.clock.now());

  // Key Vault's own answer decides the target, and its tags carry the vault owner's grant.
  const latest = await deps.keyVault.getLatest(source);
  if (!latest) return ignored('CertificateNotFound', `Key Vault has no certificate ${sourceUrl}`);
  const superseded = latest.version.toLowerCase() !== event.version;
  const announced: KeyVaultCertificateVersion | undefined = superseded ? await deps.keyVault.getVersion(source, event.version) : latest;
  // An event can arrive before a read shows its version as the latest (or at all). Judging the app then would find
  // it up to date and drop the event, leaving the new version to the nightly scan: fail instead, so Event Grid
  // delivers again (10 s, 30 s, ...). Only while the event is fresh: a version that never shows up is dropped.
  const fresh = deps.clock.now().getTime() - (event.time ?? deps.clock.now()).getTime() < NOT_YET_VISIBLE_MS;
  if (superseded && announced === undefined) {
    if (fresh) throw new TransientError(`Key Vault does not show version ${event.version} of ${sourceUrl} yet; Event Grid will deliver again`);
    return ignored('VersionNotFound', `Key Vault has no version ${event.version} of ${sourceUrl}`);
  }
  if (superseded && announced?.createdOn && latest.createdOn && announced.createdOn.getTime() > latest.createdOn.getTime()) {
    if (fresh) throw new TransientError(`Key Vault's latest version of ${sourceUrl} is still ${latest.version}, older than the event's ${event.version}; Event Grid will deliver again`);
  }
  const consumers = getTag(latest.tags, tagNames(config.rotationTag).consumers);

  const checked = await mapLimit(entries, VERIFY_CONCURRENCY, async (entry): Promise<AppEventResult | Claimed> => {
    const ref = parseAppId(entry.appId);
    if (!ref) return { appId: entry.appId, action: 'notBound', detail: 'the index entry is not an app resource id' };
    const grant = authorizeSource(ref, source, config.sourcePolicy, consumers, tagNames(config.rotationTag).consumers);
    if (!grant.authorized) {
      deps.telemetry.event('TrustRefused', { appId: entry.appId, reason: 'SourceNotAuthorized', source: sourceUrl, trigger: 'event', eventId: event.id });
      return { appId: entry.appId, action: 'refused', detail: `SourceNotAuthorized: ${grant.message}` };
    }
    try {
      return await checkApp(deps, event, entry.appId, sourceKey, latest, announced, superseded);
    } catch (error) {
      // One app's failure (ARM down for its subscription, a lost claim write) leaves the others to go on; the
      // function then fails so Event Grid delivers again, and the claims make that retry dispatch only what is missing.
      deps.logger.error(`Key Vault event ${event.id}: ${entry.appId} could not be handled`, { error: describeError(error) });
      return { appId: entry.appId, action: 'failed', detail: describeError(error) };
    }
  });
  const claimed = checked.filter((c): c is Claimed => 'claimed' in c);
  const dispatched = await dispatchClaimed(deps, event, claimed, entries.length);
  const apps = checked.map((c) => ('claimed' in c ? dispatched.get(c.app.appId)! : c));
  const outcome: CertificateEventOutcome = { eventId: event.id, outcome: 'handled', latestVersion: latest.version, superseded, apps };
  deps.logger.info(
    `Key Vault event ${event.id} (${event.eventType} ${sourceUrl}/${event.version}${superseded ? `, superseded by ${latest.version}` : ''}): ` +
      apps.map((a) => `${a.appId.split('/').pop()} ${a.action}${a.alerted ? ' +alert' : ''}`).join(', '),
  );
  return outcome;
}

/** A due app whose (app, version) claim this delivery holds: it goes to the rollout dispatch with the others. */
interface Claimed {
  claimed: true;
  app: DueApp;
  target: string;
  reason: string;
  alerted: boolean;
}

async function checkApp(
  deps: CertificateEventDeps,
  event: CertificateEvent,
  appId: string,
  sourceKey: string,
  latest: KeyVaultCertificateVersion,
  announced: KeyVaultCertificateVersion | undefined,
  superseded: boolean,
): Promise<AppEventResult | Claimed> {
  let plan: Plan;
  let tags: Record<string, string> | undefined;
  try {
    ({ plan, tags } = await deps.planApp(appId));
  } catch (error) {
    if (error instanceof NotFoundError) return { appId, action: 'notBound', detail: `the app no longer exists: ${error.message}` };
    throw error;
  }
  const app = plan.apps[0] as AppPlan | undefined;
  const binding = app?.bindings.find((b) => b.source !== undefined && b.source.toLowerCase() === sourceKey);
  if (!app || !binding) return { appId, action: 'notBound', detail: `the app no longer loads ${sourceKey} (its settings changed since the scan)` };

  let alerted = false;
  if (event.kind !== 'NewVersionCreated' && announced && binding.thumbprint && sameThumbprint(binding.thumbprint, announced.thumbprint)) {
    const expiresOn = event.expiresOn ?? announced.expiresOn;
    const daysRemaining = expiresOn ? Math.floor((expiresOn.getTime() - deps.clock.now().getTime()) / 86_400_000) : 0;
    deps.telemetry.event('CertificateExpiring', {
      appId,
      thumbprint: binding.thumbprint,
      keyVaultCertificateId: announced.id,
      daysRemaining,
      trigger: 'event',
      eventType: event.eventType,
    });
    alerted = true;
  }

  const due = app.action === 'rotate' && app.due.some((d) => d.sourceUrl.toLowerCase() === sourceKey);
  if (!due) {
    const why = superseded ? `the event's version ${event.version} is not Key Vault's latest (${latest.version}); ` : '';
    return { appId, action: 'notDue', alerted, detail: `${why}${binding.reason}: ${binding.message}` };
  }
  const target = app.due.find((d) => d.sourceUrl.toLowerCase() === sourceKey)!.candidate.version.toLowerCase();
  if (!(await deps.index.claim(appId, target, event.id))) {
    return { appId, action: 'duplicate', alerted, detail: `version ${target} was already dispatched by an earlier delivery (queued, or held for its rollout wave)` };
  }
  return { claimed: true, app: dueAppOf(app, tags), target, reason: app.due.map((d) => d.reason).join(','), alerted };
}

/**
 * The claimed apps go to the rollout dispatch together, so apps due for the same version form (or join) one rollout
 * and only its current wave is queued. A failed dispatch gives every claim back and reports the apps failed: the
 * invocation fails, Event Grid delivers again, and the retry dispatches them (a wave queued twice is harmless: the
 * rotation's lease and records make the second message find the app done).
 */
async function dispatchClaimed(deps: CertificateEventDeps, event: CertificateEvent, claimed: readonly Claimed[], boundApps: number): Promise<Map<string, AppEventResult>> {
  const results = new Map<string, AppEventResult>();
  if (claimed.length === 0) return results;
  let report: DispatchReport;
  try {
    const reasons = new Map(claimed.map((c) => [c.app.appId, c.reason]));
    report = await deps.dispatch(
      claimed.map((c) => c.app),
      (app) => reasons.get(app.appId) ?? 'eventgrid',
      // Duplicate deliveries claim the bound apps between them: one that claimed a single app of a shared source
      // must not send it straight to the queue, ahead of the canary another delivery picks.
      { alone: boundApps < 2 },
    );
  } catch (error) {
    await Promise.all(claimed.map((c) => deps.index.release(c.app.appId, c.target).catch(() => undefined)));
    deps.logger.error(`Key Vault event ${event.id}: the due apps could not be dispatched`, { error: describeError(error) });
    for (const c of claimed) results.set(c.app.appId, { appId: c.app.appId, action: 'failed', alerted: c.alerted, detail: describeError(error) });
    return results;
  }
  for (const c of claimed) {
    const appId = c.app.appId;
    const queued = report.queued.find((q) => q.appId === appId);
    const held = report.held.find((h) => h.appId === appId);
    if (queued) {
      deps.telemetry.event('CertificateEventQueued', { appId, eventId: event.id, eventType: event.eventType, version: c.target, ...(queued.rollout ? { rolloutId: queued.rollout.id, wave: queued.rollout.wave + 1 } : {}) });
      const wave = queued.rollout ? ` as wave ${queued.rollout.wave + 1} of rollout ${queued.rollout.id}` : '';
      results.set(appId, { appId, action: 'queued', alerted: c.alerted, detail: `queued for version ${c.target}${wave}` });
    } else {
      const why = held ? `rollout ${held.rolloutId}: ${held.why}` : 'the rollout dispatch did not queue it';
      results.set(appId, { appId, action: 'held', alerted: c.alerted, detail: `due for version ${c.target}; ${why}` });
    }
  }
  for (const line of report.lines) deps.logger.info(`Key Vault event ${event.id}: ${line}`);
  return results;
}
