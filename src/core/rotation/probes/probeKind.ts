// What a probe kind is. Every phase that proves a state (preflight, verify, the rollback's re-verification and the
// probe timer's re-verification inside the window) asks every kind of the list for its targets in that phase and
// runs them through one retry loop (../probing.ts): a kind says what it checks and how, never when or how often.
import type { CandidateRefusal } from '../../candidate.js';
import type { Config } from '../../config.js';
import { describeError } from '../../errors.js';
import type { Telemetry } from '../../events.js';
import type { Logger } from '../../logger.js';
import type { AppServiceGateway, ClientCredential, Clock, ProbeResult, Prober, SiteInfo } from '../../ports.js';
import type { RotationRecord } from '../../records.js';
import type { AppTagConfig } from '../../tags.js';

/**
 * preflight: before the app changes, the candidate is tried where that needs no app (the app still runs the old one);
 * verify: after the switch and restart, the new state; rollback: after the rollback's restart, the old state again;
 * reverify: a committed rotation, inside its verification window (the probe timer).
 */
export type ProbePhase = 'preflight' | 'verify' | 'rollback' | 'reverify';

/** What a probe kind may use of the engine's dependencies (RotatorDeps has them all). */
export interface ProbeDeps {
  prober: Prober;
  gateway: AppServiceGateway;
  clock: Clock;
  telemetry: Telemetry;
  logger: Logger;
  /** The kinds every phase runs; defaults to the list in ./index.ts. */
  probeKinds?: readonly ProbeKind[];
}

export interface ProbeContext {
  phase: ProbePhase;
  deps: ProbeDeps;
  config: Config;
  site: SiteInfo;
  tags: AppTagConfig;
  record: RotationRecord;
  /**
   * The candidates' key material (preflight and verify only: a rollback proves the old state, whose private key the
   * rotator never holds). A refusal says why the candidates cannot be used.
   */
  candidateCredentials?: () => Promise<ClientCredential[] | CandidateRefusal>;
  /** Why a kind had nothing to probe in this phase, for the step's detail. */
  notes: string[];
}

export interface ProbeOutcome {
  ok: boolean;
  /** Every result, in order (public data only). */
  results: ProbeResult[];
  /** The last failing attempt's failures. */
  failures: ProbeResult[];
  attempts: number;
}

export interface ProbeTarget {
  /** What is probed, as the results name it (a URL); a target that passed is not asked again in a later attempt. */
  key: string;
}

export interface ProbeKind<T extends ProbeTarget = ProbeTarget> {
  /** `ProbeResult.kind` of its results, and the `probe` dimension of its telemetry. */
  name: string;
  /** What this kind checks in this phase; none when it has nothing to check there. */
  targets(ctx: ProbeContext): Promise<T[]> | T[];
  /**
   * One attempt at one target. The target passes when any result is ok; otherwise its failure is a refusal if one
   * result is not transient (an answer), else the last. A throw counts as a transient failure.
   */
  run(ctx: ProbeContext, target: T): Promise<ProbeResult[]>;
}

/** A prober that throws is a probe that failed transiently (the evidence says why). */
export async function guarded(ctx: Pick<ProbeContext, 'deps'>, kind: string, target: string, probe: () => Promise<ProbeResult>): Promise<ProbeResult> {
  const started = ctx.deps.clock.now();
  try {
    return { ...(await probe()) };
  } catch (error) {
    return {
      kind,
      target,
      ok: false,
      transient: true,
      detail: `probe error: ${describeError(error)}`,
      at: started.toISOString(),
      durationMs: ctx.deps.clock.now().getTime() - started.getTime(),
    };
  }
}
