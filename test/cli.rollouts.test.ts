// `mtls-rotator rollouts` as an operator runs it (a child process, the function app's settings in its environment)
// against a rollout the function app halted: list, show, promote (the function app's queue then runs the next wave),
// abort, and the mistakes answered with a message and an exit status that changes nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../src/core/config.js';
import { recorder } from '../bench/rollout.js';
import { useAzurite } from './helpers/azurite.js';
import { runCli, type CliRun } from './helpers/cli.js';
import { useHaltedRollout } from './helpers/fleetHost.js';

const azurite = useAzurite();
const world = useHaltedRollout(azurite, { apps: 4, telemetry: recorder().telemetry });
let env: Record<string, string>;

beforeAll(() => {
  // The function app's settings as the host applied them (it runs until the file's tests end): the CLI reads the same ones.
  env = Object.fromEntries(SETTINGS.map((s) => [s.name, process.env[s.name]]).filter((e): e is [string, string] => typeof e[1] === 'string'));
});

const cli = (args: string[]): Promise<CliRun> => runCli(args, env, world.sb.caFile);

const status = async () => (await world.fleetHost.rollouts())[0]!.status;

describe('mtls-rotator rollouts', () => {
  it('lists the halted rollout: id, state, one line per wave, the evidence', async () => {
    const run = await cli(['rollouts']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`${world.halted.id}  halted  `);
    expect(run.stdout).toMatch(/\n {2}wave 1 of 3: app\d\d \(canary\) rolledBack\n/);
    expect(run.stdout).toMatch(/halted: app\d\d: rolledBack \(VerificationFailed/);
  }, 60_000);

  it('plan shows the waves the due apps wait in, under the plan', async () => {
    const run = await cli(['plan']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Rollouts (apps that share a source go out in waves):\nrollout ${world.halted.id} of `);
    expect(run.stdout).toMatch(/\(halted\):\n {2}wave 1 of 3: app\d\d \(canary\) rolledBack\n {2}wave 2 of 3: app\d\d\n {2}wave 3 of 3: app\d\d, app\d\d/);
    const json = JSON.parse((await cli(['plan', '--json'])).stdout) as { rollouts: string[]; apps: unknown[] };
    expect(json.rollouts[1]).toMatch(/^ {2}wave 1 of 3: app\d\d \(canary\) rolledBack$/);
  }, 60_000);

  it.each([
    ['an id that is not a rollout id exits 2 naming it', ['rollouts', 'show', 'zz'], 2, /'zz' is not a rollout id/],
    ['an unknown rollout exits 1', ['rollouts', 'promote', 'f'.repeat(20)], 1, /rollout f{20} does not exist/],
    ['an unknown action exits 2', ['rollouts', 'restart', 'x'], 2, /unknown rollouts action 'restart'/],
    ['an action without an id exits 2', ['rollouts', 'abort'], 2, /rollouts abort needs a rollout id/],
  ])('%s, and changes nothing', async (_s, args, code, message) => {
    const run = await cli(args);
    expect(run.code).toBe(code);
    expect(run.stderr).toMatch(message);
    expect(await status()).toBe('halted');
  }, 60_000);

  it('promote queues the next wave (the function app runs it), abort stops it, and a promote of an aborted rollout exits 1', async () => {
    const promoted = await cli(['rollouts', 'promote', world.halted.id, '--json']);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(JSON.parse(promoted.stdout)).toMatchObject({ id: world.halted.id, status: 'running', current: 1, actions: [{ action: 'promote', by: 'cli' }] });
    await world.fleetHost.until((r) => r.status === 'halted' && r.current === 1);

    const aborted = await cli(['rollouts', 'abort', world.halted.id, '--json']);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(JSON.parse(aborted.stdout).status).toBe('aborted');
    const refused = await cli(['rollouts', 'promote', world.halted.id]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`rollout ${world.halted.id} is aborted; only a halted rollout can be promoted`);
  }, 120_000);
});
