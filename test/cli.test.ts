// The `mtls-rotator` CLI as an operator runs it: a child process with the sandbox's settings in its environment,
// trusting the sandbox CA through NODE_EXTRA_CA_CERTS, state in Azurite.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoScenario, DEMO_SUBSCRIPTION_ID as SUB, startSandbox, type Sandbox } from '../sandbox/index.js';
import { parseCliArgs, UsageError } from '../src/cli/args.js';
import { useAzurite } from './helpers/azurite.js';
import { runCli, type CliRun } from './helpers/cli.js';
import { startIngestion } from './helpers/ingestion.js';
import { sandboxEnv, watch } from './integration/world.js';

const azurite = useAzurite();
let sb: Sandbox;
let env: Record<string, string>;

beforeAll(async () => {
  sb = await startSandbox(demoScenario());
  env = sandboxEnv(sb, azurite().connectionString, SUB);
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

function cli(args: string[], settings: Record<string, string> = env, caFile?: string): Promise<CliRun> {
  return runCli(args, settings, caFile ?? sb.caFile);
}

const ORDERS = { subscriptionId: SUB, resourceGroup: 'rg-apps', site: 'orders' };

describe('mtls-rotator CLI', () => {
  it('plan --json lists the due apps and makes zero writes', async () => {
    const w = watch(sb);
    const run = await cli(['plan', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as { apps: Array<{ name: string; action: string }> };
    expect(plan.apps.find((a) => a.name === 'orders')?.action).toBe('rotate');
    expect(plan.apps.map((a) => a.name)).not.toContain('legacy-portal');
    expect(w.changes()).toEqual([]);
  }, 60_000);

  it('plan prints a readable table', async () => {
    const run = await cli(['plan', '--app', 'payments']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^APP\s+ACTION\s+REASON/);
    expect(run.stdout).toMatch(/payments\s+rotate\s+NewerVersionAvailable|payments\s+rotate\s+NearingExpiry/);
  }, 60_000);

  it('rotate --dry-run --json reports every due app as a dry run and makes zero writes', async () => {
    const w = watch(sb);
    const run = await cli(['rotate', '--dry-run', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { results: Array<{ name: string; outcome: string; reason: string }> };
    expect(report.results.map((r) => r.name)).toContain('orders');
    expect(report.results.every((r) => r.outcome === 'skipped' && r.reason === 'DryRun')).toBe(true);
    expect(w.changes()).toEqual([]);
  }, 60_000);

  it('rotate --app orders --json commits the rotation', async () => {
    const newTp = sb.control.thumbprint('kv-demo/orders-client/latest');
    const run = await cli(['rotate', '--app', 'orders', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { outcome: string; rotationId: string };
    expect(result.outcome).toBe('committed');
    expect(sb.control.appSettings(ORDERS).WEBSITE_LOAD_CERTIFICATES).toBe(newTp);
    expect(sb.control.loadedThumbprints(ORDERS)).toEqual([newTp]);
  }, 60_000);

  it('status --json shows the committed rotation of orders', async () => {
    const run = await cli(['status', '--app', 'orders', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { rotations } = JSON.parse(run.stdout) as { rotations: Array<{ app: { site: string }; outcome?: string }> };
    expect(rotations[0]).toMatchObject({ app: { site: 'orders' }, outcome: 'committed' });
  }, 60_000);

  it('probe --json re-verifies the fresh commit of orders through the app, and retire --json deletes nothing inside the grace period', async () => {
    const w = watch(sb);
    const probe = await cli(['probe', '--json']);
    expect(probe.code, probe.stderr).toBe(0);
    const report = JSON.parse(probe.stdout) as { reverified: Array<{ appId: string; status: string }> };
    expect(report.reverified.find((r) => r.appId.endsWith('/sites/orders'))).toMatchObject({ status: 'ok' });
    const retire = await cli(['retire', '--json']);
    expect(retire.code, retire.stderr).toBe(0);
    expect((JSON.parse(retire.stdout) as { deleted: unknown[] }).deleted).toEqual([]);
    expect(w.changes()).toEqual([]);
  }, 60_000);

  it('rotate of an app whose downstream refuses the new issuer exits 3 (not committed)', async () => {
    const run = await cli(['rotate', '--app', 'payments']);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toMatch(/payments\s+aborted/);
  }, 60_000);

  it('after billing rolls back (its partner refuses the new issuer), status and plan say it is not tried again, and why', async () => {
    const rotate = await cli(['rotate', '--app', 'billing', '--json']);
    expect(rotate.code, rotate.stderr).toBe(3);
    const { outcome, rotationId } = JSON.parse(rotate.stdout) as { outcome: string; rotationId: string };
    expect(outcome).toBe('rolledBack');

    const w = watch(sb);
    const status = await cli(['status', '--app', 'billing']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/VERIFIED/);
    expect(status.stdout).toContain(`Next attempt: not automatically: CandidateRejected by rotation ${rotationId}`);
    const json = JSON.parse((await cli(['status', '--app', 'billing', '--json'])).stdout) as { nextAttempt: { reason: string; rotationId: string } };
    expect(json.nextAttempt).toMatchObject({ reason: 'CandidateRejected', rotationId });
    const plan = await cli(['plan', '--app', 'billing']);
    expect(plan.stdout).toMatch(new RegExp(`billing\\s+alert\\s+CandidateRejected.*rotation ${rotationId}`));
    const again = await cli(['rotate', '--app', 'billing', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'skipped', reason: 'HeldBack' });
    expect(w.changes()).toEqual([]);
  }, 120_000);

  it.each([
    ['a setting with an invalid value', { RENEW_BEFORE_DAYS: 'soon' }, /RENEW_BEFORE_DAYS/],
    ['a required setting missing', { AzureWebJobsStorage: '' }, /AzureWebJobsStorage/],
    ["'*' next to a subscription id", { AZURE_SUBSCRIPTION_IDS: '*,22222222-2222-4222-8222-222222222222' }, /AZURE_SUBSCRIPTION_IDS must be either '\*'/],
  ])('bad configuration (%s) stops before any request, naming the setting, exit 2', async (_name, override, message) => {
    const before = sb.control.requests().length;
    const run = await cli(['plan', '--json'], { ...env, ...override });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
    expect(sb.control.requests().length).toBe(before);
  }, 60_000);

  it('an unknown app is a clear error, exit 1, and changes nothing', async () => {
    const w = watch(sb);
    const run = await cli(['rotate', '--app', 'no-such-app', '--json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no app named 'no-such-app'/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(w.changes()).toEqual([]);
  }, 60_000);

  it.each([
    ['plan', ['plan', '--json']],
    ['rotate', ['rotate', '--json']],
  ])('%s over subscriptions none of which can be read fails (exit 1) naming them, instead of "nothing is due"', async (_command, args) => {
    const unknown = '00000000-0000-0000-0000-0000000000ee';
    const w = watch(sb);
    const run = await cli(args, { ...env, AZURE_SUBSCRIPTION_IDS: unknown });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`the scan reached none of its 1 subscription\\(s\\): ${unknown} \\(.*SubscriptionNotFound`));
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(w.changes()).toEqual([]);
  }, 60_000);

  it('bad usage names the problem and exits 2; --help exits 0', async () => {
    const bad = await cli(['rotate', '--limit', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--limit applies to status only/);
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: mtls-rotator <command>/);
  }, 60_000);
});

describe('telemetry', () => {
  it('with a connection string, the rotation events reach Application Insights before the process exits', async () => {
    const ingestion = await startIngestion();
    const dir = mkdtempSync(join(tmpdir(), 'cli-ca-'));
    try {
      // One bundle: the sandbox's CA and the ingestion endpoint's.
      const bundle = join(dir, 'ca.pem');
      writeFileSync(bundle, `${sb.caPem.trim()}\n${ingestion.caPem.trim()}\n`);
      const run = await cli(['rotate', '--app', 'reports', '--json'], { ...env, APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString }, bundle);
      expect(run.code, run.stderr).toBe(0);
      expect((JSON.parse(run.stdout) as { outcome: string }).outcome).toBe('committed');
      // Already there when the process has exited: it flushed before exiting.
      expect(ingestion.events('RotationCommitted').length).toBeGreaterThan(0);
      expect(ingestion.events('RotationStarted').length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await ingestion.stop();
    }
  }, 60_000);
});

describe('argument parsing', () => {
  it.each([
    ['plan with an app and --due', ['plan', '--app', 'orders', '--due', '--json'], { command: 'plan', app: 'orders', due: true, json: true }],
    ['rotate everything due, dry run', ['rotate', '--dry-run'], { command: 'rotate', dryRun: true, force: false }],
    ['rotate one app by resource id, forced', ['rotate', '--app', '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/a', '--force'], { command: 'rotate', force: true, app: '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/a' }],
    ['status with a limit', ['status', '--limit', '5'], { command: 'status', limit: 5 }],
    ['help', ['--help'], { command: 'help' }],
  ])('%s', (_name, argv, expected) => {
    expect(parseCliArgs(argv)).toMatchObject(expected);
  });

  it.each([
    ['no command', [], /a command is required/],
    ['an unknown command', ['deploy'], /unknown command 'deploy'/],
    ['an unknown flag', ['plan', '--verbose'], /verbose/],
    ['--app without a value', ['rotate', '--app', ' '], /--app needs an app name/],
    ['--app on retire', ['retire', '--app', 'orders'], /--app does not apply to retire/],
    ['--dry-run on plan', ['plan', '--dry-run'], /--dry-run and --force apply to rotate only/],
    ['a limit that is not a number', ['status', '--limit', 'many'], /--limit must be a whole number/],
    ['an extra argument', ['plan', 'orders'], /unexpected argument 'orders'/],
  ])('refuses %s', (_name, argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});
