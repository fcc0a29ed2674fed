// Probe attempts with backoff. A transient failure (timeout, 503 while the app restarts) is retried;
// during preflight a definitive refusal stops at once (the downstream said no); after a restart every
// failure is retried until PROBE_ATTEMPTS, because a warming app fails in many ways for a while.
import type { RotatorDeps } from '../deps.js';
import { describeError } from '../errors.js';
import type { Config } from '../config.js';
import type { ClientCredential, ProbeResult } from '../ports.js';
import type { FailureKind, VerificationStrength } from '../records.js';
import { sameThumbprint } from '../thumbprints.js';
import { crash } from './context.js';

export interface ProbeTargets {
  /** requireReport: `<p>-health-expect=thumbprint` (a 2xx without a thumbprint report fails). */
  viaApp?: { url: string; expectedThumbprint?: string; requireReport?: boolean };
  /** Each URL passes when any of the credentials is accepted (tags do not say which downstream takes which). */
  direct?: { urls: string[]; credentials: ClientCredential[] };
}

export interface ProbeOutcome {
  ok: boolean;
  /** Every result, in order (public data only). */
  results: ProbeResult[];
  /** The last failing attempt's failures. */
  failures: ProbeResult[];
  attempts: number;
}

const MAX_BACKOFF_MS = 300_000;

export function hasTargets(targets: ProbeTargets): boolean {
  return !!targets.viaApp || (!!targets.direct && targets.direct.urls.length > 0 && targets.direct.credentials.length > 0);
}

export async function probeWithRetries(
  deps: RotatorDeps,
  config: Config,
  targets: ProbeTargets,
  options: {
    stopOnRefusal: boolean;
    midBoundary?: boolean;
    /** Runs between attempts (a long verification renews the lease here). */
    between?: () => Promise<void>;
  },
): Promise<ProbeOutcome> {
  const results: ProbeResult[] = [];
  let failures: ProbeResult[] = [];
  // A target that passed is not asked again in a later attempt: a direct probe tests the candidate against the
  // partner, which a restarting app does not change, and each one is a full mTLS handshake.
  const passed = new Set<string>();
  let attempt = 0;
  while (attempt < config.probeAttempts) {
    attempt += 1;
    const round = await probeOnce(deps, targets, passed);
    results.push(...round.results);
    failures = round.failures;
    if (failures.length === 0) return { ok: true, results, failures, attempts: attempt };
    if (options.stopOnRefusal && failures.some((f) => !f.transient)) break;
    if (attempt >= config.probeAttempts) break;
    if (options.midBoundary) await crash({ deps }, 'midVerify');
    await options.between?.();
    const delay = Math.min(config.probeBackoffSeconds * 1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS);
    if (delay > 0) await deps.clock.sleep(delay);
  }
  return { ok: false, results, failures, attempts: attempt };
}

async function probeOnce(
  deps: RotatorDeps,
  targets: ProbeTargets,
  passed: Set<string>,
): Promise<{ results: ProbeResult[]; failures: ProbeResult[] }> {
  const results: ProbeResult[] = [];
  const failures: ProbeResult[] = [];
  if (targets.viaApp && !passed.has(`via-app ${targets.viaApp.url}`)) {
    const { url, expectedThumbprint, requireReport } = targets.viaApp;
    const result = await guarded(deps, 'via-app', url, () =>
      requireReport ? deps.prober.viaApp(url, expectedThumbprint, { requireReport }) : deps.prober.viaApp(url, expectedThumbprint),
    );
    // The adapter applies the contract too; checking the expectation here keeps the rule in one place that core owns,
    // and the strength is core's to say, whatever an adapter claims.
    delete result.verification;
    if (result.ok && expectedThumbprint && result.observedThumbprint && !sameThumbprint(result.observedThumbprint, expectedThumbprint)) {
      result.ok = false;
      result.transient = false;
      result.detail = `app presented ${result.observedThumbprint}, expected ${expectedThumbprint}`;
    } else if (result.ok && requireReport && !result.observedThumbprint) {
      result.ok = false;
      result.transient = false;
      result.detail = `app answered ${result.status ?? '2xx'} without reporting the certificate it presented (a thumbprint report is required)`;
    }
    if (result.ok) {
      result.verification = expectedThumbprint && result.observedThumbprint && sameThumbprint(result.observedThumbprint, expectedThumbprint) ? 'thumbprint' : 'status';
    }
    results.push(result);
    if (!result.ok) failures.push(result);
    else passed.add(`via-app ${url}`);
  }
  const credentials = targets.direct?.credentials ?? [];
  for (const url of credentials.length > 0 ? targets.direct?.urls ?? [] : []) {
    if (passed.has(`direct ${url}`)) continue;
    const attempts: ProbeResult[] = [];
    for (const credential of credentials) {
      const result = await guarded(deps, 'direct', url, () => deps.prober.direct(url, credential));
      attempts.push(result);
      if (result.ok) break;
    }
    results.push(...attempts);
    if (attempts.some((r) => r.ok)) passed.add(`direct ${url}`);
    else {
      // Transient only if every credential failed transiently (a refusal of one is a refusal).
      const refusal = attempts.find((r) => !r.transient);
      failures.push(refusal ?? (attempts[attempts.length - 1] as ProbeResult));
    }
  }
  return { results, failures };
}

/** A prober that throws is a probe that failed transiently (the evidence says why). */
async function guarded(
  deps: RotatorDeps,
  kind: ProbeResult['kind'],
  target: string,
  probe: () => Promise<ProbeResult>,
): Promise<ProbeResult> {
  const started = deps.clock.now();
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
      durationMs: deps.clock.now().getTime() - started.getTime(),
    };
  }
}

/**
 * How strongly a passing verification proved the state: the via-app answer's strength, `none` without a via-app
 * target. A thumbprint report confirms one certificate: unless the expectation is the certificate of every binding the
 * rotation changes, the weakest (`status`) is recorded.
 */
export function strengthOf(outcome: ProbeOutcome, targets: ProbeTargets, expectationCoversEveryBinding: boolean): VerificationStrength {
  if (!targets.viaApp) return 'none';
  const passed = [...outcome.results].reverse().find((r) => r.kind === 'via-app' && r.ok);
  if (!passed?.verification) return 'none';
  return passed.verification === 'thumbprint' && expectationCoversEveryBinding ? 'thumbprint' : 'status';
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
