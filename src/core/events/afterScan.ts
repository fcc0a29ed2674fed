// What a full scan leaves for event-driven rotation: the source → apps index the events look apps up in,
// and the safety net: apps still due for a Key Vault version that is older than EVENT_MISSED_AFTER_MINUTES, which an
// event should have rotated already (a lost delivery, a subscription switched off, a dead-lettered event).
import type { Config } from '../config.js';
import { describeError } from '../errors.js';
import type { Telemetry } from '../events.js';
import type { Logger } from '../logger.js';
import type { Plan } from '../decision/plan.js';
import type { Clock } from '../ports.js';
import type { ScanResult } from '../scan.js';
import { indexEntriesOf, type SourceIndex } from './sourceIndex.js';

export interface AfterScanDeps {
  sourceIndex?: SourceIndex;
  telemetry: Telemetry;
  logger: Logger;
  clock: Clock;
}

export interface MissedEvent {
  appId: string;
  source: string;
  version: string;
  createdOn: string;
  /** An event announced the version, yet the app was not rotated (versus no event arrived at all). */
  eventReceived: boolean;
}

export async function afterScan(deps: AfterScanDeps, config: Config, result: ScanResult, plan: Plan): Promise<MissedEvent[]> {
  // With EVENT_ROTATION off every event is dropped unread, so the index would be written for nobody: one Table
  // transaction per source, awaited before the fan-out starts. The first scan after the switch is turned on builds it.
  if (deps.sourceIndex === undefined || !config.eventRotation) return [];
  try {
    const complete = result.subscriptions.filter((s) => s.ok).map((s) => s.subscriptionId.toLowerCase());
    const { written, removed } = await deps.sourceIndex.replace(complete, indexEntriesOf(result));
    if (written + removed > 0) deps.logger.info(`source index: ${written} entr(ies) written, ${removed} removed`);
  } catch (error) {
    // Events then work from the previous index (each app is verified live anyway); the scan itself succeeded.
    deps.logger.warn('the source index could not be written', { error: describeError(error) });
  }
  return reportMissedEvents(deps, config, plan);
}

async function reportMissedEvents(deps: AfterScanDeps, config: Config, plan: Plan): Promise<MissedEvent[]> {
  const index = deps.sourceIndex!;
  const cutoff = deps.clock.now().getTime() - config.eventMissedAfterMinutes * 60_000;
  const missed: MissedEvent[] = [];
  const seen = new Map<string, Promise<Date | undefined>>();
  for (const app of plan.apps) {
    if (app.action !== 'rotate') continue;
    for (const due of app.due) {
      const createdOn = due.candidate.createdOn;
      // Only versions old enough that an event should have landed; a forced re-issue is not an event's job.
      if (!createdOn || createdOn.getTime() > cutoff || due.forced) continue;
      const key = `${due.sourceUrl.toLowerCase()}\u0000${due.candidate.version}`;
      if (!seen.has(key)) seen.set(key, index.eventSeen(due.sourceUrl.toLowerCase(), due.candidate.version.toLowerCase()).catch(() => undefined));
      const eventReceived = (await seen.get(key)) !== undefined;
      const entry = { appId: app.appId, source: due.sourceUrl, version: due.candidate.version, createdOn: createdOn.toISOString(), eventReceived };
      missed.push(entry);
      deps.telemetry.event('EventRotationMissed', { ...entry });
    }
  }
  if (missed.length > 0) {
    deps.logger.warn(`${missed.length} app binding(s) due for a Key Vault version older than ${config.eventMissedAfterMinutes} min that no event rotated (EventRotationMissed)`, {
      apps: missed.slice(0, 20).map((m) => `${m.appId} ${m.version}${m.eventReceived ? ' (event received)' : ' (no event)'}`),
    });
  }
  return missed;
}
