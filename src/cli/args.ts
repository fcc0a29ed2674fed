// Command-line parsing: a command and its flags, or a usage error that says what is wrong.
import { parseArgs } from 'node:util';

export const COMMANDS = ['plan', 'rotate', 'probe', 'status', 'retire', 'rollouts'] as const;
export const ROLLOUT_ACTIONS = ['list', 'show', 'promote', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];
export type Command = (typeof COMMANDS)[number];

export interface CliArgs {
  command: Command | 'help';
  json: boolean;
  app?: string;
  dryRun: boolean;
  force: boolean;
  due: boolean;
  limit: number;
  /** `rollouts [show|promote|abort <id>]`; list without an action. */
  rolloutAction?: RolloutAction;
  rolloutId?: string;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `mtls-rotator — rotates the outbound mTLS client certificates of App Service apps

Usage: mtls-rotator <command> [options]

Commands:
  plan     [--app <app>] [--due]             what would be rotated and why (no writes)
  rotate   [--app <app>] [--dry-run] [--force]
                                             rotate one app, or every due app (--dry-run: plan only, no writes;
                                             --force: roll out a different Key Vault version even when up to date)
  probe                                      finish or roll back rotations left mid-way, re-verify recent
                                             commits, retire what is due (what the probe timer does)
  status   [--app <app>] [--limit <n>]       the latest rotation records (default 20)
  retire                                     delete old certificates nobody loads, after RETIRE_AFTER_DAYS
  rollouts [show|promote|abort <id>]         canary rollouts (apps of one source rotate in waves): list them,
                                             show one, promote a halted one (its next wave is queued now) or
                                             abort one (nothing more is queued for that version)

Options:
  --json       machine-readable output on stdout (progress and warnings stay on stderr)
  --help, -h   this text

<app> is "site", "site/slot" or the app's resource id.

Configuration comes from the environment, with the Function App's setting names: AZURE_SUBSCRIPTION_IDS,
ARM_ENDPOINT, AZURE_CREDENTIAL (default | managed-identity | static + AZURE_STATIC_TOKEN),
KEYVAULT_CHALLENGE_VERIFICATION, RENEW_BEFORE_DAYS, ROTATION_TAG, AzureWebJobsStorage,
APPLICATIONINSIGHTS_CONNECTION_STRING, … A local HTTPS endpoint is trusted through NODE_EXTRA_CA_CERTS.

Exit status: 0 done; 1 a fault or an unknown app; 2 bad usage or configuration (nothing was requested);
3 a rotation did not commit (aborted, rolled back, failed or interrupted).`;

export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean', default: false },
        app: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        due: { type: 'boolean', default: false },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const base = {
    json: values.json === true,
    dryRun: values['dry-run'] === true,
    force: values.force === true,
    due: values.due === true,
    limit: 20,
  };
  if (values.help || positionals[0] === 'help' || positionals.length === 0) {
    if (positionals.length === 0 && !values.help) throw new UsageError('a command is required');
    return { ...base, command: 'help' };
  }
  const [command, ...extra] = positionals;
  if (!COMMANDS.includes(command as Command)) throw new UsageError(`unknown command '${command}' (one of ${COMMANDS.join(', ')})`);
  const args: CliArgs = { ...base, command: command as Command };
  if (command === 'rollouts' && extra.length > 0) {
    const [action, id, ...more] = extra;
    if (!ROLLOUT_ACTIONS.includes(action as RolloutAction) || action === 'list') {
      throw new UsageError(`unknown rollouts action '${action}' (show, promote or abort, each with a rollout id)`);
    }
    if (id === undefined) throw new UsageError(`rollouts ${action} needs a rollout id`);
    if (more.length > 0) throw new UsageError(`unexpected argument '${more[0]}'`);
    args.rolloutAction = action as RolloutAction;
    args.rolloutId = id;
  } else if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (command === 'rollouts') args.rolloutAction ??= 'list';
  if (values.app !== undefined) {
    if (values.app.trim() === '') throw new UsageError('--app needs an app name or resource id');
    if (!['plan', 'rotate', 'status'].includes(args.command)) throw new UsageError(`--app does not apply to ${args.command}`);
    args.app = values.app.trim();
  }
  if ((args.dryRun || args.force) && args.command !== 'rotate') throw new UsageError('--dry-run and --force apply to rotate only');
  if (args.due && args.command !== 'plan') throw new UsageError('--due applies to plan only');
  if (values.limit !== undefined) {
    const limit = Number(values.limit);
    if (args.command !== 'status') throw new UsageError('--limit applies to status only');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000 (got '${values.limit}')`);
    args.limit = limit;
  }
  return args;
}
