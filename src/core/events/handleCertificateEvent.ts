// What a Key Vault certificate event does: find the apps the index binds to its certificate, check each
// against the trust rules and its live settings, and queue exactly the due ones through the nightly fan-out's queue;
// NearExpiry/Expired also raise the expiry alert at once for the apps still loading that version.
//
// Event Grid delivers at least once and in no particular order, so:
// - a delivery is judged against Key Vault's latest version and the app's live state, never against the event alone:
//   an older version's event after a newer one finds the app up to date (or due for the newest) and can never roll
//   it back;
// - the right to queue an app is claimed per (app, Key Vault version) in storage before the message is sent, so
//   duplicates and events that lead to the same version start at most one rotation per app.
import type { Config } from '../config.js';
import type { RotationRequestQueue } from '../enqueueDue.js';
import { mapLimit } from '../concurrency.js';
import { describeError, NotFoundError, TransientError } from '../errors.js';
import type { Telemetry } from '../events.js';
import { parseAppId } from '../identity.js';
import type { Logger } from '../logger.js';
import type { AppPlan, Plan } from '../decision/plan.js';
import type { CertificateSource, Clock, KeyVaultCertificateVersion } from '../ports.js';
import { getTag, sourceKeyOf, sourceUrlOf, tagNames } from '../tags.js';
import { sameThumbprint } from '../thumbprints.js';
import { checkVaultHost } from '../sources/keyVaultRef.js';
import { authorizeSource } from '../trust.js';
import type { CertificateEvent } from './certificateEvent.js';
import type { SourceIndex } from './sourceIndex.js';

export interface CertificateEventDeps {
  /** Plans one app from its live state (site, settings, certificates, Key Vault): no fleet listing. */
  planApp(appId: string): Promise<Plan>;
  /** Metadata only: an event never reads a secret. */
  keyVault: Pick<CertificateSource, 'getLatest' | 'getVersion'>;
  index: SourceIndex;
  /** The nightly fan-out's queue port (src/core/enqueueDue.ts). */
  queue: RotationRequestQueue;
  telemetry: Telemetry;
  logger: Logger;
  clock: Clock;
}

/** Why an event was dropped as a whole. */
export type EventIgnoredReason = 'Disabled' | 'UnknownVault' | 'NoBoundApps' | 'SourceNotAuthorized' | 'CertificateNotFound' | 'VersionNotFound';

/** What the event did for one bound app. */
export interface AppEventResult {
  appId: string;
  action: 'queued' | 'duplicate' | 'notDue' | 'notBound' | 'refused' | 'failed';
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

  const apps = await mapLimit(entries, VERIFY_CONCURRENCY, async (entry): Promise<AppEventResult> => {
    const ref = parseAppId(entry.appId);
    if (!ref) return { appId: entry.appId, action: 'notBound', detail: 'the index entry is not an app resource id' };
    const grant = authorizeSource(ref, source, config.sourcePolicy, consumers, tagNames(config.rotationTag).consumers);
    if (!grant.authorized) {
      deps.telemetry.event('TrustRefused', { appId: entry.appId, reason: 'SourceNotAuthorized', source: sourceUrl, trigger: 'event', eventId: event.id });
      return { appId: entry.appId, action: 'refused', detail: `SourceNotAuthorized: ${grant.message}` };
    }
    try {
      return await actOnApp(deps, event, entry.appId, sourceKey, latest, announced, superseded);
    } catch (error) {
      // One app's failure (ARM down for its subscription, a lost queue write) leaves the others to go on; the
      // function then fails so Event Grid delivers again, and the claims make that retry queue only what is missing.
      deps.logger.error(`Key Vault event ${event.id}: ${entry.appId} could not be handled`, { error: describeError(error) });
      return { appId: entry.appId, action: 'failed', detail: describeError(error) };
    }
  });
  const outcome: CertificateEventOutcome = { eventId: event.id, outcome: 'handled', latestVersion: latest.version, superseded, apps };
  deps.logger.info(
    `Key Vault event ${event.id} (${event.eventType} ${sourceUrl}/${event.version}${superseded ? `, superseded by ${latest.version}` : ''}): ` +
      apps.map((a) => `${a.appId.split('/').pop()} ${a.action}${a.alerted ? ' +alert' : ''}`).join(', '),
  );
  return outcome;
}

async function actOnApp(
  deps: CertificateEventDeps,
  event: CertificateEvent,
  appId: string,
  sourceKey: string,
  latest: KeyVaultCertificateVersion,
  announced: KeyVaultCertificateVersion | undefined,
  superseded: boolean,
): Promise<AppEventResult> {
  let plan: Plan;
  try {
    plan = await deps.planApp(appId);
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
    return { appId, action: 'duplicate', alerted, detail: `a rotation to version ${target} was already queued by an earlier delivery` };
  }
  try {
    await deps.queue.send({ appId, reason: app.due.map((d) => d.reason).join(','), requestedBy: 'eventgrid', requestId: event.id });
  } catch (error) {
    await deps.index.release(appId, target).catch(() => undefined);
    throw error;
  }
  deps.telemetry.event('CertificateEventQueued', { appId, eventId: event.id, eventType: event.eventType, version: target });
  return { appId, action: 'queued', alerted, detail: `queued for version ${target}` };
}
