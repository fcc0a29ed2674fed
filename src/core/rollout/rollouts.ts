// The canary rollout use cases: which due apps the fan-out queues now, what a finished rotation means for
// its wave, when the next wave goes out, and the operator's promote and abort. Thin hooks in the nightly scan, the
// queue trigger and the verify timer call these; the queue stays the only way a rotation runs.
import type { AppPlan } from '../decision/plan.js';
import type { Clock } from '../ports.js';
import type { Telemetry } from '../events.js';
import type { Logger } from '../logger.js';
import { mapLimit } from '../concurrency.js';
import { ConflictError, NotFoundError, RotatorError } from '../errors.js';
import type { RotationRecord, RotationStore } from '../records.js';
import { versionIdOf } from '../sources/sourceRef.js';
import { getTag, tagNames } from '../tags.js';
import {
  isFinal,
  isRolloutId,
  rolloutIdOf,
  type Rollout,
  type RolloutApp,
  type RolloutAppState,
  type RolloutStore,
  type RolloutWave,
} from './model.js';
import { buildWaves, describeWaves, type RolloutMember, type WaveSize } from './waves.js';

export interface RolloutSettings {
  /** ROLLOUT_WAVES: the sizes before the last wave, or off. */
  waves: readonly WaveSize[] | 'off';
  /** ROLLOUT_SOAK_SECONDS: after a wave verified, how long before the next one goes out. */
  soakSeconds: number;
  /** ROLLOUT_MAX_FAILURE_PERCENT: share of a wave's rotated apps that may end aborted; a rollback halts always. */
  maxFailurePercent: number;
  /** ROLLOUT_URGENT_DAYS: a halted rollout whose apps' loaded certificate expires within this is reported urgent. */
  urgentDays: number;
  /** LEASE_SECONDS: after this, a queued app without a report is looked up in its rotation records. */
  leaseSeconds: number;
  rotationTag: string;
}

/** What the fan-out knows of a due app: enough to group it by source and candidate, nothing of the SDKs. */
export interface DueApp {
  appId: string;
  name: string;
  due: ReadonlyArray<{ sourceUrl: string; candidate: { id: string; thumbprint: string } }>;
  /** The loaded certificates' notAfter (ISO) of the due bindings. */
  notAfter: readonly string[];
  tags?: Record<string, string>;
}

/**
 * The due app the fan-out dispatches, from its plan and the site's tags (the canary tag): one builder for the nightly
 * scan, the API and Key Vault events, from what their scan already read (no ARM call of its own).
 */
export function dueAppOf(app: AppPlan, tags: Record<string, string> | undefined): DueApp {
  const keys = new Set(app.due.map((d) => d.key));
  const due: DueApp = {
    appId: app.appId,
    name: app.name,
    due: app.due.map((d) => ({ sourceUrl: d.sourceUrl, candidate: { id: d.candidate.id, thumbprint: d.candidate.thumbprint } })),
    notAfter: app.bindings.filter((b) => keys.has(b.key) && b.notAfter).map((b) => b.notAfter!),
  };
  if (tags) due.tags = tags;
  return due;
}

export interface RolloutRef {
  id: string;
  /** 0-based wave index. */
  wave: number;
}

/** Sends one app to the rotation queue, tagged with its rollout and wave. */
export type QueueRolloutApp = (appId: string, reason: string, rollout: RolloutRef | undefined) => Promise<void>;

export interface RolloutDeps {
  rollouts: RolloutStore;
  rotations: Pick<RotationStore, 'listForApp'>;
  queue: QueueRolloutApp;
  telemetry: Telemetry;
  clock: Clock;
  logger: Logger;
}

export interface DispatchOptions {
  /**
   * Whether a lone due app is the only one of its group. Without it, yes: the nightly scan sees every due app. A Key
   * Vault event's delivery sees only the apps it claimed, so it answers from the source index instead.
   */
  alone?: boolean;
}

export interface DispatchReport {
  /** Queued now (direct, or a rollout's current wave). */
  queued: Array<{ appId: string; name: string; rollout?: RolloutRef }>;
  /** Due but waiting for their wave, or held by a halted or aborted rollout. */
  held: Array<{ appId: string; name: string; rolloutId: string; why: string }>;
  /** One block of `wave i of n` lines per rollout touched. */
  lines: string[];
}

/** The rollout an app's due work belongs to: the sources and candidate versions, joined (most apps have one). */
function groupKey(app: DueApp): { source: string; candidate: string; thumbprint: string } {
  const due = [...app.due].sort((a, b) => a.sourceUrl.toLowerCase().localeCompare(b.sourceUrl.toLowerCase()));
  return {
    source: due.map((d) => d.sourceUrl.toLowerCase()).join(' '),
    candidate: due.map((d) => d.candidate.id).join(' '),
    thumbprint: due.map((d) => d.candidate.thumbprint).join(' '),
  };
}

const OPTIMISTIC_ATTEMPTS = 20;
const SEND_CONCURRENCY = 8;
const DAY_MS = 86_400_000;
/** Records started a little before the wave was queued (another instance's clock) still count for it. */
const RECORD_SLACK_MS = 60_000;

export function createRollouts(deps: RolloutDeps, settings: RolloutSettings) {
  const now = () => deps.clock.now();
  const canaryTag = tagNames(settings.rotationTag).canary;

  /** Read-modify-write under the entity's ETag: queue workers finishing the same wave never lose each other's result. */
  const update = async (id: string, change: (rollout: Rollout) => boolean | Promise<boolean>): Promise<Rollout | undefined> => {
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt += 1) {
      const found = await deps.rollouts.get(id);
      if (!found) return undefined;
      const rollout = found.rollout;
      if (!(await change(rollout))) return rollout;
      rollout.updatedAt = now().toISOString();
      if (await deps.rollouts.replace(rollout, found.etag)) return rollout;
      await deps.clock.sleep(10 + Math.floor(Math.random() * 40 * (attempt + 1)));
    }
    throw new ConflictError(`rollout ${id} kept changing under ${OPTIMISTIC_ATTEMPTS} attempts to update it`);
  };

  const sendWave = async (rollout: Rollout, index: number, reason: string): Promise<void> => {
    const wave = rollout.waves[index]!;
    const apps = wave.apps.filter((app) => app.state === 'pending' || app.state === 'queued');
    // A few sends at a time: a wave of hundreds sent one by one would start its last app seconds after its first.
    await mapLimit(apps, SEND_CONCURRENCY, (app) => deps.queue(app.appId, reason, { id: rollout.id, wave: index }));
  };

  const dimensions = (rollout: Rollout) => ({
    rolloutId: rollout.id,
    source: rollout.source,
    candidate: rollout.candidate,
    wave: rollout.current + 1,
    waves: rollout.waves.length,
  });

  /** The app's rotation to this rollout's candidate, started since its wave was queued. */
  const recordOf = async (rollout: Rollout, wave: RolloutWave, app: RolloutApp): Promise<RotationRecord | undefined> => {
    if (!wave.queuedAt) return undefined;
    const since = Date.parse(wave.queuedAt) - RECORD_SLACK_MS;
    const records = await deps.rotations.listForApp(app.appId, 10);
    return records.find(
      (r) =>
        Date.parse(r.startedAt) >= since &&
        !r.dryRun &&
        r.rollbackOf === undefined &&
        // A record of another rollout (a superseded one's late worker) is not this one's answer.
        (r.rollout === undefined || r.rollout.id === rollout.id) &&
        r.bindings.some((b) => rollout.candidate.split(' ').includes(versionIdOf(b.source))),
    );
  };

  /** Fills in queued apps' outcomes from their rotation records (a worker that died before reporting). */
  const settleFromRecords = async (rollout: Rollout): Promise<boolean> => {
    const wave = rollout.waves[rollout.current];
    if (!wave?.queuedAt) return false;
    // A live worker reports within seconds of its rotation's end; only a wave that has waited longer than a worker
    // could (its lease) is worth a records query per app at every verify run.
    if (now().getTime() - Date.parse(wave.queuedAt) < settings.leaseSeconds * 1000) return false;
    let changed = false;
    for (const app of wave.apps) {
      if (app.state !== 'queued') continue;
      const record = await recordOf(rollout, wave, app);
      if (record?.outcome !== undefined && record.outcome !== 'skipped') {
        setOutcome(app, record.outcome, record.id, record.reason);
        changed = true;
      }
    }
    return changed;
  };

  /** A finished wave either halts the rollout or, once soaked, sends the next one. Returns whether it changed. */
  const step = async (rollout: Rollout): Promise<{ changed: boolean; send?: number; halted?: boolean; completed?: boolean }> => {
    if (rollout.status !== 'running') return { changed: false };
    const wave = rollout.waves[rollout.current]!;
    if (!wave.queuedAt) {
      wave.queuedAt = now().toISOString();
      for (const app of wave.apps) if (app.state === 'pending') app.state = 'queued';
      return { changed: true, send: rollout.current };
    }
    if (!wave.apps.every((a) => isFinal(a.state))) return { changed: false };
    let changed = false;
    if (!wave.finishedAt) {
      wave.finishedAt = now().toISOString();
      changed = true;
      const failed = wave.apps.filter((a) => a.state === 'rolledBack' || a.state === 'failed');
      const aborted = wave.apps.filter((a) => a.state === 'aborted');
      const ran = wave.apps.filter((a) => a.state !== 'unchanged').length;
      const rate = ran === 0 ? 0 : ((failed.length + aborted.length) * 100) / ran;
      if (failed.length > 0 || rate > settings.maxFailurePercent) {
        rollout.status = 'halted';
        rollout.halt = {
          wave: rollout.current,
          at: wave.finishedAt,
          evidence: [...failed, ...aborted].map((a) => `${a.name}: ${a.state}${a.reason ? ` (${a.reason.slice(0, 300)})` : ''}${a.rotationId ? ` rotation ${a.rotationId}` : ''}`),
        };
        // The halt's own report is the first urgent one; the verify timer repeats it a day later.
        if (urgency(rollout).urgent) rollout.halt.urgentReportedAt = wave.finishedAt;
        return { changed, halted: true };
      }
    }
    if (rollout.current + 1 >= rollout.waves.length) {
      rollout.status = 'completed';
      rollout.completedAt = now().toISOString();
      return { changed: true, completed: true };
    }
    const soakedAt = Date.parse(wave.finishedAt!) + settings.soakSeconds * 1000;
    if (now().getTime() < soakedAt) return { changed };
    rollout.current += 1;
    const next = rollout.waves[rollout.current]!;
    next.queuedAt = now().toISOString();
    for (const app of next.apps) if (app.state === 'pending') app.state = 'queued';
    return { changed: true, send: rollout.current };
  };

  const untouched = (rollout: Rollout) => rollout.waves.slice(rollout.current + 1).reduce((n, w) => n + w.apps.length, 0);

  const earliestExpiry = (rollout: Rollout): number | undefined => {
    const times = rollout.waves.flatMap((w) => w.apps).filter((a) => a.state !== 'committed' && a.expiresAt).map((a) => Date.parse(a.expiresAt!));
    return times.length > 0 ? Math.min(...times) : undefined;
  };

  /** Near expiry a halted rollout is reported as urgent, never forced: an operator decides (promote or abort). */
  const urgency = (rollout: Rollout): { urgent: boolean; daysRemaining?: number } => {
    const expiry = earliestExpiry(rollout);
    if (expiry === undefined) return { urgent: false };
    const daysRemaining = Math.floor((expiry - now().getTime()) / DAY_MS);
    return { urgent: daysRemaining <= settings.urgentDays, daysRemaining };
  };

  const reportHalt = (rollout: Rollout): void => {
    const { urgent, daysRemaining } = urgency(rollout);
    deps.telemetry.event('RolloutHalted', {
      ...dimensions(rollout),
      evidence: rollout.halt!.evidence.join('; ').slice(0, 1000),
      untouched: untouched(rollout),
      urgent,
      ...(daysRemaining !== undefined ? { daysRemaining } : {}),
    });
    deps.logger.warn(
      `rollout ${rollout.id} of ${rollout.source} halted at wave ${rollout.halt!.wave + 1} of ${rollout.waves.length}${urgent ? ' (URGENT: the loaded certificate expires in ' + daysRemaining + ' day(s))' : ''}: ${rollout.halt!.evidence.join('; ')}; ${untouched(rollout)} app(s) untouched; promote or abort it (POST /api/rollouts/${rollout.id}/promote|abort)`,
    );
  };

  /** Runs `step` under the ETag and sends what it decided after the write, so a wave is queued by exactly one caller. */
  const advance = async (id: string, reason: string, before?: (r: Rollout) => Promise<boolean>): Promise<Rollout | undefined> => {
    let outcome: Awaited<ReturnType<typeof step>> = { changed: false };
    const rollout = await update(id, async (r) => {
      // A queue worker brings its own result (`before`); the timer and the fan-out look at the records instead.
      const settled = before ? await before(r) : await settleFromRecords(r);
      outcome = await step(r);
      return settled || outcome.changed;
    });
    if (!rollout) return undefined;
    if (outcome.send !== undefined) {
      await sendWave(rollout, outcome.send, reason);
      deps.telemetry.event('RolloutWaveQueued', { ...dimensions(rollout), apps: rollout.waves[outcome.send]!.apps.length });
    }
    if (outcome.halted) reportHalt(rollout);
    if (outcome.completed) deps.telemetry.event('RolloutCompleted', { ...dimensions(rollout), apps: rollout.waves.reduce((n, w) => n + w.apps.length, 0) });
    return rollout;
  };

  const members = (apps: readonly DueApp[]): RolloutMember[] =>
    apps.map((app) => {
      const member: RolloutMember = { appId: app.appId, name: app.name, canary: getTag(app.tags, canaryTag)?.trim().toLowerCase() === 'true' };
      const expiry = [...app.notAfter].sort()[0];
      if (expiry) member.expiresAt = expiry;
      return member;
    });

  /** Due apps by rollout: a group of one rotates directly (it is its own canary). */
  const groups = (due: readonly DueApp[]) => {
    const byKey = new Map<string, { source: string; candidate: string; thumbprint: string; apps: DueApp[] }>();
    for (const app of due) {
      if (app.due.length === 0) continue;
      const key = groupKey(app);
      const id = rolloutIdOf(key.source, key.candidate);
      const group = byKey.get(id) ?? { ...key, apps: [] };
      group.apps.push(app);
      byKey.set(id, group);
    }
    return byKey;
  };

  return {
    /**
     * The nightly fan-out's hook: queues direct apps and each rollout's current wave, creates the rollouts of new
     * candidate versions (their first wave queued), and holds everything else.
     */
    async dispatch(due: readonly DueApp[], reasonOf: (app: DueApp) => string, options: DispatchOptions = {}): Promise<DispatchReport> {
      const report: DispatchReport = { queued: [], held: [], lines: [] };
      if (settings.waves === 'off') {
        for (const app of due) {
          await deps.queue(app.appId, reasonOf(app), undefined);
          report.queued.push({ appId: app.appId, name: app.name });
        }
        return report;
      }
      const active = await deps.rollouts.list({ active: true });
      for (const [id, group] of groups(due)) {
        const sendDirect = async (app: DueApp) => {
          await deps.queue(app.appId, reasonOf(app), undefined);
          report.queued.push({ appId: app.appId, name: app.name });
        };
        let rollout = active.find((r) => r.id === id) ?? (await deps.rollouts.get(id))?.rollout;
        // A lone due app is its own canary, unless the list is only part of its group (a Key Vault event's delivery
        // claims apps one by one, and a concurrent delivery of the same event may hold the others).
        if (!rollout && group.apps.length < 2 && (options.alone ?? true)) {
          await sendDirect(group.apps[0]!);
          continue;
        }
        if (!rollout) {
          const at = now().toISOString();
          const fresh: Rollout = {
            id,
            source: group.source,
            candidate: group.candidate,
            candidateThumbprint: group.thumbprint,
            status: 'running',
            current: 0,
            waves: buildWaves(members(group.apps), settings.waves, id),
            actions: [],
            createdAt: at,
            updatedAt: at,
          };
          // Two nightly runs racing: the loser finds the winner's rollout and treats it as existing.
          if (!(await deps.rollouts.create(fresh))) rollout = (await deps.rollouts.get(id))?.rollout;
          else {
            rollout = fresh;
            deps.telemetry.event('RolloutStarted', { rolloutId: id, source: fresh.source, candidate: fresh.candidate, waves: fresh.waves.length, apps: group.apps.length });
            // A newer version replaces an older one's rollout that never finished: its held apps are due to the new one.
            for (const old of active) {
              if (old.source === fresh.source && old.id !== id && (old.status === 'running' || old.status === 'halted')) {
                await update(old.id, (r) => {
                  r.status = 'superseded';
                  return true;
                });
              }
            }
          }
          if (!rollout) continue;
        }
        if (rollout.status === 'completed') {
          // The version is proven on its source's apps: a latecomer (newly opted in, or one that was busy) goes direct.
          for (const app of group.apps) await sendDirect(app);
          continue;
        }
        // New members (an app opted in since) join the last wave, so they never go before the canary.
        const known = new Set(rollout.waves.flatMap((w) => w.apps.map((a) => a.appId)));
        const joining = group.apps.filter((a) => !known.has(a.appId));
        if (joining.length > 0) {
          rollout =
            (await update(id, (r) => {
              const last = r.waves[r.waves.length - 1]!;
              // Never into the canary's wave (a rollout of one app has no other), nor into a wave already sent.
              const sent = last.queuedAt !== undefined && r.current === r.waves.length - 1;
              const target = r.waves.length === 1 || sent ? (r.waves.push({ apps: [] }), r.waves[r.waves.length - 1]!) : last;
              for (const m of members(joining)) target.apps.push({ appId: m.appId, name: m.name, state: 'pending', ...(m.expiresAt ? { expiresAt: m.expiresAt } : {}) });
              if (r.status === 'completed') r.status = 'running';
              return true;
            })) ?? rollout;
        }
        // Waves already sent before this call: one that advance() sends now is not sent a second time below.
        const sentBefore = new Set(rollout.waves.flatMap((w, i) => (w.queuedAt ? [i] : [])));
        const advanced = (await advance(id, group.apps.map(reasonOf)[0] ?? 'rollout')) ?? rollout;
        const current = advanced.waves[advanced.current];
        const dueIds = new Set(group.apps.map((a) => a.appId));
        for (const [index, wave] of advanced.waves.entries()) {
          for (const app of wave.apps) {
            if (!dueIds.has(app.appId)) continue;
            if (advanced.status === 'running' && index === advanced.current && wave === current && !isFinal(app.state)) {
              // Still due in the current wave: queue it again (the lease makes a duplicate harmless); a message that
              // went to poison is how an app gets here.
              if (!report.queued.some((q) => q.appId === app.appId)) {
                if (sentBefore.has(index)) await deps.queue(app.appId, 'rollout', { id, wave: index });
                report.queued.push({ appId: app.appId, name: app.name, rollout: { id, wave: index } });
              }
            } else {
              report.held.push({
                appId: app.appId,
                name: app.name,
                rolloutId: id,
                why: advanced.status === 'running' ? `waits for wave ${index + 1} of ${advanced.waves.length}` : `rollout ${advanced.status}`,
              });
            }
          }
        }
        report.lines.push(`rollout ${id} of ${advanced.source} (${advanced.status}):`, ...describeWaves(advanced.waves).map((l) => `  ${l}`));
      }
      return report;
    },

    /** The queue trigger's hook: a rotation of a rollout's app ended (or was skipped); may send the next wave. */
    async recordResult(ref: RolloutRef, result: { appId: string; outcome: string; reason?: string; rotationId?: string }): Promise<Rollout | undefined> {
      if (result.outcome === 'interrupted') return undefined; // the verify timer resumes it; its record settles the app
      if (result.outcome === 'skipped' && result.reason === 'InProgress') return undefined; // another flow's record will
      // One read-modify-write for the result and what it means for the wave: the workers of a wave all write this entity.
      return advance(ref.id, 'rollout', async (r) => {
        const wave = r.waves[ref.wave];
        const app = wave?.apps.find((a) => a.appId === result.appId);
        if (!wave || !app || isFinal(app.state)) return false;
        // A redelivered message finds the app already rotated (NothingDue): the record of the first run is the answer.
        const record = result.outcome === 'skipped' ? await recordOf(r, wave, app) : undefined;
        if (record?.outcome !== undefined) setOutcome(app, record.outcome, record.id, record.reason);
        else setOutcome(app, result.outcome, result.rotationId, result.reason);
        return true;
      });
    },

    /**
     * The queue trigger asks before rotating a rollout's app. A message outlives the decision that sent it: an
     * operator's abort, a newer version's rollout (which would otherwise see this app rotated to its version before
     * its own canary) or a halt stops the messages still in the queue, not only the waves not yet sent.
     */
    async admits(ref: RolloutRef): Promise<{ admitted: true } | { admitted: false; why: string }> {
      const found = await deps.rollouts.get(ref.id);
      if (!found) return { admitted: false, why: `rollout ${ref.id} does not exist (the rotation table was replaced?); the next nightly run plans the app again` };
      const { status } = found.rollout;
      if (status === 'running' || status === 'completed') return { admitted: true };
      const next = status === 'halted' ? `; promote or abort it (POST /api/rollouts/${ref.id}/promote|abort)` : '';
      return { admitted: false, why: `rollout ${ref.id} is ${status}${next}` };
    },

    /** The verify timer's hook: settles, soaks and sends the next waves; repeats urgent halts once a day. */
    async advanceAll(): Promise<Rollout[]> {
      const out: Rollout[] = [];
      for (const rollout of await deps.rollouts.list({ active: true })) {
        if (rollout.status === 'running') {
          const advanced = await advance(rollout.id, 'rollout');
          if (advanced) out.push(advanced);
        } else if (rollout.status === 'halted' && urgency(rollout).urgent) {
          const lastReported = Date.parse(rollout.halt?.urgentReportedAt ?? '');
          if (Number.isFinite(lastReported) && now().getTime() - lastReported < DAY_MS) continue;
          const updated = await update(rollout.id, (r) => {
            if (r.status !== 'halted' || !r.halt) return false;
            r.halt.urgentReportedAt = now().toISOString();
            return true;
          });
          if (updated?.status === 'halted') {
            reportHalt(updated);
            out.push(updated);
          }
        }
      }
      return out;
    },

    /** An operator accepts the halted wave: the next wave goes out now (no soak; the operator has looked). */
    async promote(id: string, by: string): Promise<Rollout> {
      const rollout = await actOn(id, 'promote', ['halted'], (r) => {
        r.status = 'running';
        const wave = r.waves[r.current]!;
        for (const app of wave.apps) if (!isFinal(app.state)) app.state = 'unchanged';
        wave.finishedAt ??= now().toISOString();
        // Soak already done: the operator's promote stands in for it.
        wave.finishedAt = new Date(now().getTime() - settings.soakSeconds * 1000).toISOString();
        delete r.halt;
        r.actions.push({ action: 'promote', at: now().toISOString(), by });
      });
      return (await advance(rollout.id, 'rollout promoted')) ?? rollout;
    },

    /** An operator stops the rollout: nothing more is queued for this version; the apps keep what they load. */
    async abort(id: string, by: string): Promise<Rollout> {
      return actOn(id, 'abort', ['running', 'halted'], (r) => {
        r.status = 'aborted';
        r.actions.push({ action: 'abort', at: now().toISOString(), by });
      });
    },

    async get(id: string): Promise<Rollout> {
      checkId(id);
      const found = await deps.rollouts.get(id);
      if (!found) throw new NotFoundError(`rollout ${id} does not exist`);
      return found.rollout;
    },

    async list(): Promise<Rollout[]> {
      return (await deps.rollouts.list()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    /** The waves the due apps get (a rollout under way as stored), without writing anything (dry runs, `plan`). */
    async preview(due: readonly DueApp[]): Promise<string[]> {
      if (settings.waves === 'off') return [];
      const lines: string[] = [];
      for (const [id, group] of groups(due)) {
        const stored = (await deps.rollouts.get(id))?.rollout;
        if (stored && stored.status !== 'completed') {
          lines.push(`rollout ${id} of ${group.source} (${stored.status}):`, ...describeWaves(stored.waves).map((l) => `  ${l}`));
        } else if (!stored && group.apps.length >= 2) {
          lines.push(`rollout ${id} of ${group.source} (new):`, ...describeWaves(buildWaves(members(group.apps), settings.waves as readonly WaveSize[], id)).map((l) => `  ${l}`));
        }
      }
      return lines;
    },
  };

  async function actOn(id: string, action: string, from: readonly Rollout['status'][], change: (r: Rollout) => void): Promise<Rollout> {
    checkId(id);
    let refused: string | undefined;
    const rollout = await update(id, (r) => {
      if (!from.includes(r.status)) {
        refused = `rollout ${id} is ${r.status}; only a ${from.join(' or ')} rollout can be ${action === 'promote' ? 'promoted' : 'aborted'}`;
        return false;
      }
      change(r);
      return true;
    });
    if (!rollout) throw new NotFoundError(`rollout ${id} does not exist`);
    if (refused) throw new ConflictError(refused);
    return rollout;
  }
}

export type Rollouts = ReturnType<typeof createRollouts>;

/** A malformed id is the caller's mistake (400), not an unknown rollout (404). */
export class InvalidRolloutIdError extends RotatorError {
  override readonly code: string = 'Validation';
}

function checkId(id: string): void {
  if (!isRolloutId(id)) throw new InvalidRolloutIdError(`'${id.slice(0, 64)}' is not a rollout id (20 lowercase hex characters)`);
}

function setOutcome(app: RolloutApp, outcome: string, rotationId: string | undefined, reason: string | undefined): void {
  const states: Record<string, RolloutAppState> = { committed: 'committed', rolledBack: 'rolledBack', failed: 'failed', aborted: 'aborted', skipped: 'unchanged' };
  app.state = states[outcome] ?? 'unchanged';
  if (rotationId) app.rotationId = rotationId;
  if (reason) app.reason = reason.slice(0, 500);
}

