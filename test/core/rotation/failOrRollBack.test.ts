// The one fail-or-roll-back rule (src/core/rotation/failOrRollBack.ts), for every step a rotation can stop at.
import { describe, expect, it } from 'vitest';
import type { FailureKind, RotationRecord, RotationStep } from '../../../src/core/records.js';
import { failOrRollBack, type Stop } from '../../../src/core/rotation/failOrRollBack.js';
import type { RotationContext } from '../../../src/core/rotation/context.js';
import { parseAppTags, tagNames } from '../../../src/core/tags.js';
import { createWorld, SUB } from '../../helpers/memory-ports.js';

async function stopAt(step: RotationStep, stop: Stop, failureKind?: FailureKind): Promise<RotationRecord> {
  const world = createWorld();
  const site = world.appService.addSite({ subscriptionId: SUB, name: 'app-a', tags: { 'mtls-rotation': 'enabled' } });
  const record: RotationRecord = {
    id: 'r1',
    app: site.ref,
    appId: 'app-a',
    mode: 'explicit',
    trigger: 'timer',
    bindings: [],
    step,
    steps: [{ step, at: world.clock.now().toISOString() }],
    attempts: 1,
    probes: [],
    startedAt: world.clock.now().toISOString(),
    updatedAt: world.clock.now().toISOString(),
    ...(failureKind ? { failureKind } : {}),
  };
  await world.store.create(record);
  const lease = (await world.store.acquireLease('app-a', 'rotator-a', 60_000))!;
  const ctx: RotationContext = {
    deps: world.deps,
    config: world.config,
    names: tagNames(world.config.rotationTag),
    record,
    lease,
    site,
    tags: parseAppTags(site.tags, world.config.rotationTag).config,
    candidates: new Map(),
  };
  await failOrRollBack(ctx, stop);
  return (await world.store.get('r1'))!;
}

const fault: Stop = { reason: 'Boom: it broke', by: 'fault' };
const operator: Stop = { reason: 'ManualRollback', by: 'operator', failureKind: 'definite' };

describe('failOrRollBack', () => {
  it.each([
    ['a fault before the app changed fails the rotation', 'staged', fault, undefined, { outcome: 'failed', step: 'failed', reason: 'Boom: it broke' }],
    ['a fault after preflight still leaves the app untouched: failed', 'preflighted', fault, undefined, { outcome: 'failed', step: 'failed', reason: 'Boom: it broke' }],
    ['a fault once the previous values are recorded starts the rollback', 'previousRecorded', fault, undefined, { step: 'rollingBack', reason: 'Boom: it broke' }],
    ['a fault after the restart starts the rollback and keeps the failure kind', 'restarted', fault, 'definite', { step: 'rollingBack', failureKind: 'definite' }],
    ['a fault during the rollback fails it', 'rollingBack', fault, undefined, { outcome: 'failed', step: 'failed', reason: 'RollbackFailed: Boom: it broke' }],
    ['an operator stopping an untouched app aborts the rotation', 'leased', operator, undefined, { outcome: 'aborted', step: 'aborted', reason: 'ManualRollback (before the app was changed)' }],
    ['an operator rolling back a switched app starts the rollback with their failure kind', 'switched', operator, 'transient', { step: 'rollingBack', failureKind: 'definite' }],
    ['an operator asking during a rollback lets it continue untouched', 'rollingBack', operator, 'transient', { step: 'rollingBack', failureKind: 'transient' }],
    ['attempts exhausted after the switch roll back as transient unless already judged', 'switched', { ...fault, failureKind: 'transient' }, undefined, { step: 'rollingBack', failureKind: 'transient' }],
  ] as const)('%s', async (_sentence, step, stop, failureKind, expected) => {
    const stored = await stopAt(step, stop, failureKind);
    expect(stored).toMatchObject(expected);
    if (!('outcome' in expected && expected.outcome)) expect(stored.outcome).toBeUndefined();
  });
});
