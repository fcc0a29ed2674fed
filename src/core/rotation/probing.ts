// Probe attempts with backoff, over the targets every probe kind gives for a phase (./probes). A transient failure
// (timeout, 503 while the app restarts) is retried; during preflight a definitive refusal stops at once (the
// downstream said no); after a restart every failure is retried until PROBE_ATTEMPTS, because a warming app fails in
// many ways for a while.
import type { ProbeResult } from '../ports.js';
import type { FailureKind } from '../records.js';
import type { Dimensions } from '../events.js';
import { credentials, dimensionsOf, loadCandidates, type RotationContext } from './context.js';
import { PROBE_KINDS } from './probes/index.js';
import { guarded, type ProbeContext, type ProbeKind, type ProbeOutcome, type ProbePhase, type ProbeTarget } from './probes/probeKind.js';

/** One target of one kind, planned for a phase. */
export interface PlannedProbe {
  kind: ProbeKind;
  target: ProbeTarget;
}

const MAX_BACKOFF_MS = 300_000;

/** The kinds a rotation runs: the list (./probes/index.ts), or the one the composition root (or a test) gave. */
export function probeKindsOf(ctx: Pick<ProbeContext, 'deps'>): readonly ProbeKind[] {
  return ctx.deps.probeKinds ?? PROBE_KINDS;
}

/** Every kind's targets for the context's phase, in the list's order. */
export async function planProbes(ctx: ProbeContext): Promise<PlannedProbe[]> {
  const planned: PlannedProbe[] = [];
  for (const kind of probeKindsOf(ctx)) {
    for (const target of await kind.targets(ctx)) planned.push({ kind, target });
  }
  return planned;
}

export async function probeWithRetries(
  ctx: ProbeContext,
  planned: readonly PlannedProbe[],
  options: {
    stopOnRefusal: boolean;
    /** Runs between attempts (verify: the `midVerify` crash boundary, and the lease renewed for a long verification). */
    between?: () => Promise<void>;
  },
): Promise<ProbeOutcome> {
  const { deps, config } = ctx;
  const results: ProbeResult[] = [];
  let failures: ProbeResult[] = [];
  // A target that passed is not asked again in a later attempt: a direct probe tests the candidate against the
  // partner, which a restarting app does not change, and each one is a full mTLS handshake.
  const passed = new Set<string>();
  let attempt = 0;
  while (attempt < config.probeAttempts) {
    attempt += 1;
    const round = await probeOnce(ctx, planned, passed);
    results.push(...round.results);
    failures = round.failures;
    if (failures.length === 0) return { ok: true, results, failures, attempts: attempt };
    if (options.stopOnRefusal && failures.some((f) => !f.transient)) break;
    if (attempt >= config.probeAttempts) break;
    await options.between?.();
    const delay = Math.min(config.probeBackoffSeconds * 1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
    if (delay > 0) await deps.clock.sleep(delay);
  }
  return { ok: false, results, failures, attempts: attempt };
}

async function probeOnce(
  ctx: ProbeContext,
  planned: readonly PlannedProbe[],
  passed: Set<string>,
): Promise<{ results: ProbeResult[]; failures: ProbeResult[] }> {
  const results: ProbeResult[] = [];
  const failures: ProbeResult[] = [];
  for (const { kind, target } of planned) {
    const id = `${kind.name} ${target.key}`;
    if (passed.has(id)) continue;
    let attempts: ProbeResult[];
    try {
      attempts = await kind.run(ctx, target);
    } catch (error) {
      attempts = [await guarded(ctx, kind.name, target.key, () => Promise.reject(error))];
    }
    results.push(...attempts);
    if (attempts.some((r) => r.ok)) passed.add(id);
    else {
      // Transient only if every try failed transiently (a refusal of one is a refusal).
      const failure = attempts.find((r) => !r.transient) ?? attempts[attempts.length - 1];
      failures.push(failure ?? { kind: kind.name, target: target.key, ok: false, transient: true, detail: 'the probe returned no result', at: ctx.deps.clock.now().toISOString(), durationMs: 0 });
    }
  }
  return { results, failures };
}

/** Definite when any last failure is an answer (not worth repeating); transient when all are time-outs, 503s, resets. */
export function failureKindOf(failures: ProbeResult[]): FailureKind {
  return failures.some((f) => !f.transient) ? 'definite' : 'transient';
}

export function summarise(failures: ProbeResult[]): string {
  return failures
    .map((f) => `${f.kind} ${f.target}: ${f.status !== undefined ? `HTTP ${f.status} ` : ''}${f.detail}`)
    .join('; ')
    .slice(0, 1000);
}

/** The probe context of a rotation step; preflight and verify may use the candidates' key material. */
export function probeContextOf(ctx: RotationContext, phase: ProbePhase): ProbeContext {
  const probe: ProbeContext = { phase, deps: ctx.deps, config: ctx.config, site: ctx.site, tags: ctx.tags, record: ctx.record, notes: [] };
  if (phase === 'preflight' || phase === 'verify') {
    probe.candidateCredentials = async () => (await loadCandidates(ctx)) ?? credentials(ctx);
  }
  return probe;
}

/** One `ProbeFailed` event per failing target of the last attempt (public data only). */
export function reportProbeFailures(ctx: Pick<ProbeContext, 'deps' | 'record'>, failures: readonly ProbeResult[], dimensions: Dimensions): void {
  for (const failure of failures) {
    ctx.deps.telemetry.event('ProbeFailed', dimensionsOf(ctx.record, { ...dimensions, probe: failure.kind, target: failure.target, status: failure.status }));
  }
}
