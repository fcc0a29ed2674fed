// The Functions composition root. Configuration, telemetry and the SDK clients are built once per process, on
// first use (a Functions worker imports every registration module before any setting problem could be reported
// through an invocation); each invocation then gets its own rotator whose lease owner is the invocation id, so two
// invocations in one worker never share a lease, and its own logger mapped to `context.log`.
import type { InvocationContext } from '@azure/functions';
import { createDependencies, type CompositionOverrides, type Dependencies } from '../../composition.js';
import { createRotator, loadConfig, type Config, type Rotator } from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import type { Telemetry } from '../../core/events.js';
import { processTelemetry } from '../../telemetry/index.js';
import { clientCertGate, type ClientCertGate } from '../auth/clientCert.js';

export interface Services {
  config: Config;
  deps: Dependencies;
  telemetry: Telemetry;
  /** Built from `config.clientCert` once, with the rest of the services. */
  clientCert: ClientCertGate;
}

export interface Invocation extends Services {
  rotator: Rotator;
  logger: Logger;
}

/** The settings are unusable: every invocation fails with this until the app settings are fixed. */
export class ServicesUnavailableError extends Error {
  override readonly name = 'ServicesUnavailableError';
  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`the function app is misconfigured: ${problems.join('; ')}`, options);
  }
}

type Built = { ok: true; services: Services } | { ok: false; error: ServicesUnavailableError };

let built: Built | undefined;
export type ServiceOverrides = Pick<CompositionOverrides, 'tlsCa' | 'pacing' | 'clock' | 'faultHook'> & {
  /** Instead of the process-wide Application Insights telemetry (a recorder in tests, a console view in the demo). */
  telemetry?: Telemetry;
};

let overrides: ServiceOverrides = {};

/**
 * For hosts that run the functions in-process against the sandbox (the demo, tests): the sandbox CA, pacing.
 * Forgets what was built so the next invocation builds with them.
 */
export function configureServices(next: ServiceOverrides): void {
  overrides = { ...next };
  built = undefined;
}

/** Forgets the built services (tests that change settings between hosts). */
export function resetServices(): void {
  built = undefined;
}

function build(log: (message: string) => void): Built {
  try {
    const config = loadConfig(process.env);
    const { telemetry: telemetryOverride, ...composition } = overrides;
    const telemetry = telemetryOverride ?? processTelemetry(process.env);
    const deps = createDependencies(config, { ...composition, telemetry });
    return { ok: true, services: { config, deps, telemetry, clientCert: clientCertGate(config.clientCert) } };
  } catch (error) {
    const problems =
      error !== null && typeof error === 'object' && Array.isArray((error as { problems?: unknown }).problems)
        ? ((error as { problems: string[] }).problems)
        : [error instanceof Error ? error.message : String(error)];
    const failure = new ServicesUnavailableError(problems, { cause: error });
    log(`mtls-rotator cannot start: ${failure.message}`);
    return { ok: false, error: failure };
  }
}

/** The process-wide services; throws ServicesUnavailableError (already logged once) when the settings are bad. */
export function services(log: (message: string) => void = (m) => console.error(m)): Services {
  // A failure is kept too: the settings do not change under a running worker, and one clear log line is better
  // than one per invocation.
  built ??= build(log);
  if (!built.ok) throw built.error;
  return built.services;
}

export function contextLogger(context: InvocationContext): Logger {
  const line = (message: string, data?: Record<string, unknown>): string =>
    data === undefined || Object.keys(data).length === 0 ? message : `${message} ${JSON.stringify(data)}`;
  return {
    info: (message, data) => context.log(line(message, data)),
    warn: (message, data) => context.warn(line(message, data)),
    error: (message, data) => context.error(line(message, data)),
  };
}

/** Runs `work` with a rotator owned by this invocation; telemetry is flushed at the end, whatever happened. */
export async function withInvocation<T>(context: InvocationContext, work: (invocation: Invocation) => Promise<T>): Promise<T> {
  const shared = services((m) => context.error(m));
  const logger = contextLogger(context);
  const deps: Dependencies = { ...shared.deps, logger, owner: `${context.functionName}:${context.invocationId}` };
  const rotator = createRotator(deps, shared.config);
  try {
    return await work({ ...shared, deps, rotator, logger });
  } finally {
    await shared.telemetry.flush().catch((error: unknown) => context.warn(`telemetry flush failed: ${String(error)}`));
  }
}
