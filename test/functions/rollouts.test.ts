// The operator's side of a halted canary rollout, through the HTTP API of the real function app (local host, sandbox,
// Azurite): reading it, promoting it (the next wave goes out), aborting it (nothing more goes out, even at the next
// nightly run), and every bad request answered with a clear 4xx that changes nothing, counted from the sandbox.
import { describe, expect, it } from 'vitest';
import { names, outside, recorder } from '../../bench/rollout.js';
import { useAzurite } from '../helpers/azurite.js';
import { useHaltedRollout } from '../helpers/fleetHost.js';

const azurite = useAzurite();
const APPS = 4;
const { telemetry, events } = recorder();
const world = useHaltedRollout(azurite, { apps: APPS, telemetry });

const restartsNow = () => outside(world.sb, names(APPS), 0).reduce((n, a) => n + a.restarts, 0);

describe('GET /api/rollouts', () => {
  it('lists the halted rollout with its waves, the canary first, and the evidence of the halt', async () => {
    const { status, body } = await world.fleetHost.api('/rollouts');
    expect(status).toBe(200);
    expect(body.rollouts).toHaveLength(1);
    const [rollout] = body.rollouts;
    expect(rollout).toMatchObject({ id: world.halted.id, status: 'halted', apps: APPS, current: 0 });
    expect(rollout.lines[0]).toMatch(/^wave 1 of 3: app\d\d \(canary\) rolledBack$/);
    expect(rollout.halt.evidence[0]).toMatch(/^app\d\d: rolledBack \(VerificationFailed/);
  });

  it.each([
    ['an id that is not a rollout id', '/rollouts/not-an-id', 400, 'InvalidRolloutId'],
    ['an unknown rollout id', `/rollouts/${'0'.repeat(20)}`, 404, 'NotFound'],
  ])('answers %s with a 4xx naming it', async (_s, path, status, code) => {
    const res = await world.fleetHost.api(path);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('POST /api/rollouts/{id}/promote|abort: bad requests change nothing', () => {
  it.each([
    ['a malformed id', () => '/rollouts/xyz/promote', undefined, 400, 'InvalidRolloutId'],
    ['an unknown id', () => `/rollouts/${'a'.repeat(20)}/abort`, undefined, 404, 'NotFound'],
    ['a body that is not the documented one', () => `/rollouts/${world.halted.id}/promote`, JSON.stringify({ reason: 5 }), 400, 'InvalidField'],
    ['a body field it does not know', () => `/rollouts/${world.halted.id}/abort`, JSON.stringify({ force: true }), 400, 'UnknownField'],
    ['no function key', () => `/rollouts/${world.halted.id}/promote`, undefined, 401, undefined],
  ])('%s', async (_s, path, body, status, code) => {
    const restarts = restartsNow();
    const headers = code === undefined && status === 401 ? { 'x-functions-key': 'wrong' } : undefined;
    const res = await world.fleetHost.api(path(), { method: 'POST', ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
    expect(res.status).toBe(status);
    if (code) expect(res.body.error.code).toBe(code);
    const [rollout] = (await world.fleetHost.api('/rollouts')).body.rollouts;
    expect(rollout.status).toBe('halted');
    expect(rollout.actions).toEqual([]);
    await new Promise((r) => setTimeout(r, 300)); // a queued rotation would have started by now
    expect(restartsNow()).toBe(restarts);
  });
});

describe('promote, then abort', () => {
  it('promote sends the next wave: its app is rotated (and, this version being bad, rolled back) and the rollout halts again', async () => {
    const before = outside(world.sb, names(APPS), 0);
    const res = await world.fleetHost.api(`/rollouts/${world.halted.id}/promote`, { method: 'POST', body: JSON.stringify({ reason: 'canary failure understood' }) });
    expect(res.status).toBe(200);
    expect(res.body.actions).toEqual([expect.objectContaining({ action: 'promote', by: 'http:functionKey' })]);
    const again = await world.fleetHost.until((r) => r.status === 'halted' && r.current === 1);
    const second = again.waves[1]!.apps[0]!.name;
    const after = outside(world.sb, names(APPS), 0);
    const changed = after.filter((a, i) => a.restarts !== before[i]!.restarts).map((a) => a.name);
    expect(changed).toEqual([second]);
    expect(events.filter((e) => e.name === 'RolloutHalted').map((e) => e.dimensions.wave)).toEqual([1, 2]);
  }, 120_000);

  it('abort stops the rollout; a promote of it is refused (409), and the next nightly run leaves its last wave untouched', async () => {
    const res = await world.fleetHost.api(`/rollouts/${world.halted.id}/abort`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('aborted');
    const refused = await world.fleetHost.api(`/rollouts/${world.halted.id}/promote`, { method: 'POST' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('aborted');

    const lastWave = (await world.fleetHost.api(`/rollouts/${world.halted.id}`)).body.waves[2].apps.map((a: { name: string }) => a.name) as string[];
    await world.fleetHost.host.invokeTimer('nightlyScan');
    await new Promise((r) => setTimeout(r, 1000));
    expect(outside(world.sb, lastWave, 0).map((a) => a.restarts)).toEqual(lastWave.map(() => 0));
    expect(world.fleetHost.lines.some((l) => /nightly scan: .* 0 queued for rotation: none; 2 held for their rollout wave/.test(l))).toBe(true);
  }, 120_000);
});
