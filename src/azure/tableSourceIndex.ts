// SourceIndex in Azure Table Storage, in the rotation table. Partitions:
// - `ix-<source key>`: one row per app loading the source (RowKey = app id), what an event looks up in one query;
// - `ixc-<app id>`: one row per Key Vault version an event queued the app for (the at-most-once claim, a create that
//   fails with 409 for the second delivery);
// - `ixe-<source key>`: one row per version an event announced (the nightly safety net tells "no event came" from
//   "an event came and nothing happened").
// Keys are escaped with the rotation store's encodeKey. The nightly rewrite reads the index once and writes only what
// changed, in per-partition transactions, so a night where nothing moved costs one query.
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { ConflictError } from '../core/errors.js';
import type { SourceIndex, SourceIndexEntry } from '../core/events/sourceIndex.js';
import { callAzure, callAzureOptional, translateAzureError } from './errors.js';
import { decodeKey, encodeKey, odataString, partitionFilter } from './tableRotationStore.js';

const INDEX = 'ix-';
const CLAIM = 'ixc-';
const EVENT = 'ixe-';
/** Table transactions take at most 100 operations, all in one partition. */
const BATCH = 100;

export interface TableSourceIndexOptions {
  /** The rotation table's client, the table created (TableRotationStore.ensureTable + client). */
  table: () => Promise<TableClient>;
}

type Row = { partitionKey: string; rowKey: string; SourceKey: string; VaultUrl: string; CertificateName: string; AppId: string; SubscriptionId: string; Mode: string; Thumbprint?: string };

function rowOf(entry: SourceIndexEntry): Row {
  const row: Row = {
    partitionKey: INDEX + encodeKey(entry.sourceKey),
    rowKey: encodeKey(entry.appId),
    SourceKey: entry.sourceKey,
    VaultUrl: entry.vaultUrl,
    CertificateName: entry.certificateName,
    AppId: entry.appId,
    SubscriptionId: entry.subscriptionId,
    Mode: entry.mode,
  };
  if (entry.thumbprint) row.Thumbprint = entry.thumbprint;
  return row;
}

function entryOf(row: Record<string, unknown>): SourceIndexEntry {
  const entry: SourceIndexEntry = {
    sourceKey: String(row.SourceKey ?? decodeKey(String(row.partitionKey).slice(INDEX.length))),
    vaultUrl: String(row.VaultUrl ?? ''),
    certificateName: String(row.CertificateName ?? ''),
    appId: String(row.AppId ?? decodeKey(String(row.rowKey))),
    subscriptionId: String(row.SubscriptionId ?? ''),
    mode: row.Mode === 'wildcard' ? 'wildcard' : 'explicit',
  };
  if (typeof row.Thumbprint === 'string') entry.thumbprint = row.Thumbprint;
  return entry;
}

const same = (a: Row, b: Record<string, unknown>): boolean =>
  a.SourceKey === b.SourceKey && a.VaultUrl === b.VaultUrl && a.CertificateName === b.CertificateName && a.AppId === b.AppId && a.SubscriptionId === b.SubscriptionId && a.Mode === b.Mode && (a.Thumbprint ?? null) === (b.Thumbprint ?? null);

/** OData for "PartitionKey starts with prefix": [prefix, prefix with its last character incremented). */
function prefixFilter(prefix: string): string {
  const upper = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  return `PartitionKey ge ${odataString(prefix)} and PartitionKey lt ${odataString(upper)}`;
}

export class TableSourceIndex implements SourceIndex {
  constructor(private readonly options: TableSourceIndexOptions) {}

  async replace(subscriptionIds: readonly string[], entries: readonly SourceIndexEntry[]): Promise<{ written: number; removed: number }> {
    const table = await this.options.table();
    const context = { operation: 'write the source index', resource: 'source index' };
    const existing = new Map<string, Record<string, unknown>>();
    await callAzure(context, async () => {
      for await (const row of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: prefixFilter(INDEX) } })) {
        existing.set(`${row.partitionKey}\u0000${row.rowKey}`, row);
      }
    });
    const scanned = new Set(subscriptionIds.map((s) => s.toLowerCase()));
    const wanted = new Set<string>();
    const actions = new Map<string, TransactionAction[]>();
    const add = (partition: string, action: TransactionAction) => {
      const list = actions.get(partition);
      if (list) list.push(action);
      else actions.set(partition, [action]);
    };
    let written = 0;
    let removed = 0;
    for (const entry of entries) {
      if (!scanned.has(entry.subscriptionId.toLowerCase())) continue;
      const row = rowOf(entry);
      const key = `${row.partitionKey}\u0000${row.rowKey}`;
      wanted.add(key);
      const old = existing.get(key);
      if (old && same(row, old)) continue;
      add(row.partitionKey, ['upsert', row, 'Replace']);
      written += 1;
    }
    for (const [key, row] of existing) {
      if (wanted.has(key) || !scanned.has(String(row.SubscriptionId ?? '').toLowerCase())) continue;
      add(String(row.partitionKey), ['delete', { partitionKey: String(row.partitionKey), rowKey: String(row.rowKey) }]);
      removed += 1;
    }
    for (const list of actions.values()) {
      for (let i = 0; i < list.length; i += BATCH) {
        const batch = list.slice(i, i + BATCH);
        await callAzure(context, () => table.submitTransaction(batch));
      }
    }
    return { written, removed };
  }

  async boundTo(sourceKey: string): Promise<SourceIndexEntry[]> {
    const table = await this.options.table();
    const partition = INDEX + encodeKey(sourceKey.toLowerCase());
    const out: SourceIndexEntry[] = [];
    await callAzure({ operation: 'read the source index', resource: sourceKey }, async () => {
      for await (const row of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: partitionFilter(partition) } })) {
        out.push(entryOf(row));
      }
    });
    return out;
  }

  async knowsVault(vaultUrl: string): Promise<boolean> {
    const table = await this.options.table();
    const prefix = INDEX + encodeKey(`${vaultUrl.replace(/\/+$/, '').toLowerCase()}/certificates/`);
    return callAzure({ operation: 'read the source index', resource: vaultUrl }, async () => {
      const pages = table.listEntities({ queryOptions: { filter: prefixFilter(prefix), select: ['PartitionKey'] } }).byPage({ maxPageSize: 1 });
      for await (const page of pages) if (page.length > 0) return true;
      return false;
    });
  }

  async claim(appId: string, version: string, eventId: string): Promise<boolean> {
    const table = await this.options.table();
    const context = { operation: 'claim an event rotation', resource: appId };
    try {
      await table.createEntity({ partitionKey: CLAIM + encodeKey(appId.toLowerCase()), rowKey: encodeKey(version.toLowerCase()), EventId: eventId.slice(0, 200) });
      return true;
    } catch (error) {
      const translated = translateAzureError(error, context);
      if (translated instanceof ConflictError) return false;
      throw translated;
    }
  }

  async release(appId: string, version: string): Promise<void> {
    const table = await this.options.table();
    await callAzureOptional({ operation: 'release an event rotation claim', resource: appId }, () =>
      table.deleteEntity(CLAIM + encodeKey(appId.toLowerCase()), encodeKey(version.toLowerCase())),
    );
  }

  async noteEvent(sourceKey: string, version: string, at: Date): Promise<void> {
    const table = await this.options.table();
    const context = { operation: 'record a Key Vault event', resource: sourceKey };
    try {
      await table.createEntity({ partitionKey: EVENT + encodeKey(sourceKey.toLowerCase()), rowKey: encodeKey(version.toLowerCase()), At: at.toISOString() });
    } catch (error) {
      // The first delivery's time is the one kept: a duplicate says nothing new.
      const translated = translateAzureError(error, context);
      if (!(translated instanceof ConflictError)) throw translated;
    }
  }

  async eventSeen(sourceKey: string, version: string): Promise<Date | undefined> {
    const table = await this.options.table();
    const row = await callAzureOptional({ operation: 'read a Key Vault event', resource: sourceKey }, () =>
      table.getEntity<Record<string, unknown>>(EVENT + encodeKey(sourceKey.toLowerCase()), encodeKey(version.toLowerCase())),
    );
    return row && typeof row.At === 'string' ? new Date(row.At) : undefined;
  }
}
