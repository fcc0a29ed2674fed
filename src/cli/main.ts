// The CLI's work: configuration first (nothing is requested when it is invalid), then one command over the
// engine's facade, output as a table or JSON, telemetry flushed before the exit status is returned.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createDependencies } from '../composition.js';
import { ConfigError, createRotator, loadConfig, NotFoundError, type Config, type RotationResult } from '../core/index.js';
import type { Logger } from '../core/logger.js';
import { noTelemetry, type Telemetry } from '../core/events.js';
import { processTelemetry, shutdownProcessTelemetry } from '../telemetry/index.js';
import { parseCliArgs, USAGE, UsageError, type CliArgs } from './args.js';
import { renderPlan, renderProbe, renderRecords, renderResults, renderRetire, renderRotateDue } from './render.js';
import { planWithWaves, runRollouts } from './rollouts.js';

export const EXIT = { ok: 0, fault: 1, usage: 2, notCommitted: 3 } as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
};

/** Runs one command; returns the exit status. Never throws. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io: CliIo = processIo): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    io.err(`mtls-rotator: ${(error as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (args.command === 'help') {
    io.out(USAGE);
    return EXIT.ok;
  }

  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    io.err(`mtls-rotator: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof ConfigError ? EXIT.usage : EXIT.fault;
  }

  let telemetry: Telemetry = noTelemetry;
  try {
    if (config.appInsightsConnectionString) {
      telemetry = processTelemetry(env, { roleName: 'mtls-rotator-cli', onWarning: (m) => io.err(`telemetry: ${m}`) });
    }
    const logger = stderrLogger(io, args.json);
    const deps = createDependencies(config, {
      logger,
      telemetry,
      // One lease owner per invocation: two CLI runs never share a lease.
      owner: `cli-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    });
    const rotator = createRotator(deps, config);
    if (args.command === 'rollouts') return await runRollouts(args, { config, deps, telemetry, logger }, io, EXIT);
    if (args.command === 'plan' && !args.app) return await planWithWaves(args, rotator, { config, deps, telemetry, logger }, io, EXIT);
    return await run(args, rotator, io);
  } catch (error) {
    if (error instanceof NotFoundError) {
      io.err(`mtls-rotator: ${error.message}`);
      return EXIT.fault;
    }
    telemetry.exception(error, { command: args.command });
    io.err(`mtls-rotator: ${args.command} failed: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.fault;
  } finally {
    await shutdownProcessTelemetry().catch((error: unknown) => io.err(`telemetry: flush failed: ${String(error)}`));
  }
}

async function run(args: CliArgs, rotator: ReturnType<typeof createRotator>, io: CliIo): Promise<number> {
  const emit = (json: unknown, text: () => string) => io.out(args.json ? JSON.stringify(json, null, 2) : text());
  switch (args.command) {
    case 'plan': {
      const plan = await rotator.plan({ ...(args.app ? { app: args.app } : {}), ...(args.due ? { dueOnly: true } : {}) });
      emit(plan, () => renderPlan(plan));
      return EXIT.ok;
    }
    case 'rotate': {
      const options = { trigger: 'cli' as const, ...(args.dryRun ? { dryRun: true } : {}), ...(args.force ? { force: true } : {}) };
      if (args.app) {
        const result = await rotator.rotateApp(args.app, options);
        emit(result, () => renderResults([result]));
        return statusOf([result]);
      }
      const report = await rotator.rotateDue(options);
      emit(report, () => renderRotateDue(report));
      return statusOf(report.results);
    }
    case 'probe': {
      const report = await rotator.resumeOpen();
      emit(report, () => renderProbe(report));
      return statusOf(report.resumed);
    }
    case 'status': {
      const records = await rotator.listRotations(args.app, args.limit);
      if (args.app) {
        // By the resource id the records carry: the name is not resolved against ARM twice. No records, nothing held.
        const appId = records[0]?.appId;
        const nextAttempt = appId ? ((await rotator.nextAttempt(appId)) ?? null) : null;
        emit({ rotations: records, nextAttempt }, () => renderRecords(records, nextAttempt));
      } else {
        emit({ rotations: records }, () => renderRecords(records));
      }
      return EXIT.ok;
    }
    case 'retire': {
      const report = await rotator.retireDue();
      emit(report, () => renderRetire(report));
      return report.errors.length > 0 ? EXIT.fault : EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command '${String(args.command)}'`);
  }
}

function statusOf(results: RotationResult[]): number {
  return results.some((r) => r.outcome !== 'committed' && r.outcome !== 'skipped') ? EXIT.notCommitted : EXIT.ok;
}

/** Progress on stderr (stdout stays parseable); with --json only warnings and errors. */
function stderrLogger(io: CliIo, quiet: boolean): Logger {
  const line = (level: string, message: string, data?: Record<string, unknown>) =>
    io.err(`${new Date().toISOString()} ${level} ${message}${data && Object.keys(data).length > 0 ? ` ${JSON.stringify(data)}` : ''}`);
  return {
    info: (m, d) => {
      if (!quiet) line('info', m, d);
    },
    warn: (m, d) => line('warn', m, d),
    error: (m, d) => line('error', m, d),
  };
}
