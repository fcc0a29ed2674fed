// No restart loops: a due binding whose version already failed on the app is held back (CandidateRejected,
// BackingOff; the rules are retryPolicy.ts, the verdict decide()'s). Kept out of the scan, which stays at the ARM floor
// and touches no table: only apps with a due binding read their records, so a nightly run over an up-to-date fleet
// costs no table query.
import type { Config } from '../config.js';
import { mapLimit } from '../concurrency.js';
import { describeError } from '../errors.js';
import type { Clock } from '../ports.js';
import type { RotationRecord, RotationStore } from '../records.js';
import { RETRY_HISTORY_LIMIT } from '../retryPolicy.js';
import { decide, type ScannedApp } from './decide.js';
import { renewalPolicies } from './policies.js';

export interface HoldBackDeps {
  store: Pick<RotationStore, 'listForApp'>;
  clock: Pick<Clock, 'now'>;
}

/** Record reads in flight while a scan's due apps are checked. */
const HISTORY_READ_CONCURRENCY = 4;

/** Holds back the due bindings of every app (in place); `force` is the operator's word and skips the check. */
export async function holdBackFailedCandidates(deps: HoldBackDeps, config: Config, apps: ScannedApp[], options: { force?: boolean } = {}): Promise<void> {
  if (options.force) return;
  const due = apps.filter((app) => app.bindings.some((b) => b.evaluation.due));
  await mapLimit(due, HISTORY_READ_CONCURRENCY, (app) => holdBackApp(deps, config, app));
}

async function holdBackApp(deps: HoldBackDeps, config: Config, app: ScannedApp): Promise<void> {
  let history: RotationRecord[];
  try {
    history = await deps.store.listForApp(app.appId, RETRY_HISTORY_LIMIT);
  } catch (error) {
    // Without its history the app might be restarted for a version already proven bad: leave it alone this run.
    app.problems.push(`its rotation records cannot be read (needed not to retry a rejected certificate): ${describeError(error)}`);
    return;
  }
  const now = deps.clock.now();
  const policies = renewalPolicies({ now: () => now, sleep: async () => undefined }, config);
  const candidatePolicy = { maxLifetimeDays: config.candidateMaxLifetimeDays };
  for (const binding of app.bindings) {
    if (!binding.evaluation.due) continue;
    const decided = decide(binding, policies, now, { candidatePolicy, history });
    // Only the hold-back is taken from this second look: the rest was decided on the scan's clock.
    if (decided.heldBack) binding.evaluation = decided;
  }
}
