// What the Functions host reads from the app: every function's name, trigger, schedule or route, methods, auth
// level, queue and connection, exactly as @azure/functions hands it to the host (captured, not guessed).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { captureRegistrations, type Registration } from '../../src/host/index.js';

const registrations: Registration[] = await captureRegistrations(() => import('../../src/functions/index.js'));
const byName = (name: string): Registration => {
  const found = registrations.find((r) => r.name === name);
  if (!found) throw new Error(`function ${name} is not registered (have ${registrations.map((r) => r.name).join(', ')})`);
  return found;
};

describe('the function app registrations', () => {
  it('registers each function exactly once', () => {
    const names = registrations.map((r) => r.name).sort();
    expect(names).toEqual(['abortRollout', 'certificateEvents', 'certificates', 'dashboard', 'health', 'nightlyScan', 'promoteRollout', 'rollbackRotation', 'rollout', 'rollouts', 'rotateApp', 'rotation', 'rotations', 'verifyRotations']);
  });

  it.each([
    ['the nightly scan runs on ROTATION_SCHEDULE', 'nightlyScan', '%ROTATION_SCHEDULE%'],
    ['the verify timer runs on VERIFY_SCHEDULE', 'verifyRotations', '%VERIFY_SCHEDULE%'],
  ])('%s', (_sentence, name, schedule) => {
    const reg = byName(name);
    expect(reg.trigger.type).toBe('timerTrigger');
    expect(reg.trigger).toMatchObject({ schedule, direction: 'in' });
    expect((reg.trigger as { runOnStartup?: boolean }).runOnStartup ?? false).toBe(false);
  });

  it('certificateEvents is an Event Grid trigger (the host serves it at /runtime/webhooks/eventgrid?functionName=certificateEvents)', () => {
    const reg = byName('certificateEvents');
    expect(reg.trigger.type).toBe('eventGridTrigger');
    expect(reg.trigger).toMatchObject({ direction: 'in' });
  });

  it('rotateApp is a storage queue trigger on ROTATION_QUEUE through AzureWebJobsStorage', () => {
    const reg = byName('rotateApp');
    expect(reg.trigger.type).toBe('queueTrigger');
    expect(reg.trigger).toMatchObject({ queueName: '%ROTATION_QUEUE%', connection: 'AzureWebJobsStorage', direction: 'in' });
  });

  it.each([
    ['rotations: history and new rotations', 'rotations', 'rotations', ['GET', 'POST'], 'function'],
    ['one rotation', 'rotation', 'rotations/{id}', ['GET'], 'function'],
    ['a manual rollback', 'rollbackRotation', 'rotations/{id}/rollback', ['POST'], 'function'],
    ['the certificate inventory', 'certificates', 'certificates', ['GET'], 'function'],
    ['health, anonymous', 'health', 'health', ['GET'], 'anonymous'],
    ['the operator dashboard and its assets, under the API key', 'dashboard', 'dashboard/{asset?}', ['GET'], 'function'],
    ['canary rollouts', 'rollouts', 'rollouts', ['GET'], 'function'],
    ['one rollout', 'rollout', 'rollouts/{id}', ['GET'], 'function'],
    ['promote a halted rollout', 'promoteRollout', 'rollouts/{id}/promote', ['POST'], 'function'],
    ['abort a rollout', 'abortRollout', 'rollouts/{id}/abort', ['POST'], 'function'],
  ])('HTTP %s', (_sentence, name, route, methods, authLevel) => {
    const reg = byName(name);
    expect(reg.trigger.type).toBe('httpTrigger');
    expect(reg.trigger).toMatchObject({ route, authLevel });
    expect([...((reg.trigger as { methods?: string[] }).methods ?? [])].sort()).toEqual(methods);
    // The response goes through the $return http output binding the host expects.
    expect(Object.values(reg.metadata.bindings ?? {}).some((b) => b.type === 'http' && b.direction === 'out')).toBe(true);
  });
});

describe('what the bundle in package.json main is built from (src/functions/index.ts) and the local host loads', () => {
  const dir = new URL('../../src/functions/', import.meta.url);
  const topLevel = readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();

  it('matches only registration modules and the index at the top level; helpers live in subfolders', () => {
    expect(topLevel).toEqual(['api.ts', 'certificateEvents.ts', 'dashboard.ts', 'index.ts', 'nightlyScan.ts', 'rollouts.ts', 'rotateApp.ts', 'verifyRotations.ts']);
    for (const file of topLevel.filter((f) => f !== 'index.ts')) {
      expect(readFileSync(new URL(file, dir), 'utf8'), file).toMatch(/^app\.(http|timer|storageQueue|eventGrid)\(/m);
    }
  });

  it('the index imports every registration module', () => {
    const index = readFileSync(new URL('index.ts', dir), 'utf8');
    for (const file of topLevel.filter((f) => f !== 'index.ts')) expect(index).toContain(`'./${file.replace(/\.ts$/, '.js')}'`);
  });
});
