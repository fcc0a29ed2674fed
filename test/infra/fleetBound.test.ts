// The fleet-wide bound is set in one place: the template's `maxParallelRotations` parameter becomes the app setting
// MAX_PARALLEL_ROTATIONS (the number of slots every instance takes from). host.json sets how many rotations one
// instance runs; the template's description of that relation must stay true when either changes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/core/config.js';
import { readHostJson } from '../../src/host/settings.js';

const root = path.resolve(import.meta.dirname, '../..');
const readJson = (file: string): any => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'));
const template = readJson('infra/azuredeploy.json');
const example = readJson('infra/azuredeploy.parameters.example.json');
const setting = SETTINGS.find((s) => s.name === 'MAX_PARALLEL_ROTATIONS')!;
const queues = readHostJson(path.join(root, 'host.json')).queues;
const perInstance = queues.batchSize + (queues.newBatchThreshold ?? Math.floor(queues.batchSize / 2));
const param = template.parameters.maxParallelRotations;

describe('the fleet-wide rotation bound', () => {
  it.each([
    ['the template parameter accepts exactly the range the setting accepts', () => expect([param.minValue, param.maxValue]).toEqual([setting.min, setting.max])],
    ['the template parameter’s default is inside that range', () => {
      expect(param.defaultValue).toBeGreaterThanOrEqual(setting.min!);
      expect(param.defaultValue).toBeLessThanOrEqual(setting.max!);
    }],
    ['the app setting MAX_PARALLEL_ROTATIONS is the parameter', () => expect(template.variables.appSettings.MAX_PARALLEL_ROTATIONS).toBe("[string(parameters('maxParallelRotations'))]")],
    ['the example parameters set it through the parameter, not through additionalAppSettings', () => {
      expect(example.parameters.maxParallelRotations?.value).toBeGreaterThanOrEqual(setting.min!);
      expect(Object.keys(example.parameters.additionalAppSettings?.value ?? {})).not.toContain('MAX_PARALLEL_ROTATIONS');
    }],
    ['the parameter’s description states host.json’s rotations per instance', () => {
      expect(param.metadata.description).toContain(`batchSize ${queues.batchSize} + newBatchThreshold ${queues.newBatchThreshold}`);
      expect(param.metadata.description).toContain(`runs ${perInstance} rotations per instance`);
      expect(param.metadata.description).toContain(`ceil(maxParallelRotations / ${perInstance})`);
    }],
    // Flex Consumption starts up to maximumInstanceCount instances, at least 40: their queue concurrency alone
    // (40 × batchSize + newBatchThreshold) exceeds every bound the setting allows, so only the slots can hold it.
    ['the platform’s instance limit can never be what bounds the rotations, so the slots must', () =>
      expect(template.parameters.maximumInstanceCount.minValue * perInstance).toBeGreaterThan(setting.max!)],
  ])('%s', (_case, check) => {
    check();
  });
});
