// One Azurite per test file: `const azurite = useAzurite();` then `azurite().connectionString` inside tests.
import { afterAll, beforeAll } from 'vitest';
import { startAzurite, type Azurite } from '../../sandbox/azurite.js';

export type { Azurite };
export { startAzurite };

export function useAzurite(): () => Azurite {
  let instance: Azurite | undefined;
  beforeAll(async () => {
    instance = await startAzurite();
  });
  afterAll(async () => {
    await instance?.stop();
  });
  return () => {
    if (instance === undefined) throw new Error('Azurite is not started yet: call its getter inside a test or hook');
    return instance;
  };
}

/** Table and queue names must be unique per test when several tests share one Azurite. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.replace(/[^a-z0-9]/gi, '').toLowerCase();
}
