// Leases are judged on the Table service's clock (src/azure/tableRotationStore.ts), and Azurite's clock is the
// machine's: moving an engine's clock forward no longer expires a lease, which is the point. A test that models
// "the process was gone for an hour" moves the engine's clock AND ages the leases in storage by the same amount,
// through the real SDK: each lease's remaining duration is shortened by `ms` (the rewrite restarts it from the
// service's now, so what is left is what would be left an hour later).
import { TableClient } from '@azure/data-tables';

export async function ageLeases(storage: { storageConnectionString?: string; rotationTable: string }, ms: number): Promise<number> {
  if (!storage.storageConnectionString) throw new Error('ageLeases needs a connection string (Azurite)');
  const table = TableClient.fromConnectionString(storage.storageConnectionString, storage.rotationTable, { allowInsecureConnection: true });
  let aged = 0;
  for await (const entity of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: "PartitionKey eq 'lease'" } })) {
    let serviceNow = Date.now();
    await table.getEntity(entity.partitionKey!, entity.rowKey!, {
      onResponse: (response) => {
        const date = Date.parse(response.headers.get('date') ?? '');
        if (Number.isFinite(date)) serviceNow = date;
      },
    });
    const written = Date.parse(entity.timestamp ?? '');
    const left = written + Number(entity.DurationMs ?? 0) - serviceNow;
    // Past the end it goes negative, by one more second than asked: the service's Date header, which the store
    // judges "now" by, counts in whole seconds.
    const remaining = left - ms > 0 ? left - ms : left - ms - 1000;
    const aged_ = { partitionKey: entity.partitionKey!, rowKey: entity.rowKey!, AppId: entity.AppId, Owner: entity.Owner, DurationMs: Math.round(remaining) };
    await table.updateEntity(aged_, 'Replace', { etag: entity.etag });
    aged += 1;
  }
  return aged;
}
