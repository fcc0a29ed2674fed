// The RotationStore contract (rotationStore.contract.ts) against both stores: the Table adapter on Azurite, through
// the real @azure/data-tables client, and the in-memory store of the core tests.
import { TableRotationStore } from '../../src/azure/tableRotationStore.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { ageLeases } from '../helpers/leases.js';
import { FakeClock, MemoryRotationStore } from '../helpers/memory-ports.js';
import { rotationStoreContract } from './rotationStore.contract.js';

const azurite = useAzurite();
const START = new Date('2030-01-01T00:00:00Z');

rotationStoreContract('Table storage (Azurite)', () => {
  const clock = new FakeClock(START);
  const tableName = uniqueName('contract');
  const open = () => new TableRotationStore({ connectionString: azurite().connectionString, tableName, clock });
  return {
    store: open(),
    another: open,
    now: () => clock.now(),
    pass: async (ms) => {
      clock.advance(ms);
      // The Table service judges leases on its own clock: age them in storage by the same amount.
      await ageLeases({ storageConnectionString: azurite().connectionString, rotationTable: tableName }, ms);
    },
  };
});

rotationStoreContract('in memory (test/helpers/memory-ports.ts)', () => {
  const clock = new FakeClock(START);
  const store = new MemoryRotationStore(clock);
  return { store, another: () => store, now: () => clock.now(), pass: async (ms) => clock.advance(ms) };
});
