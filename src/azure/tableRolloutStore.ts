// RolloutStore in Azure Table storage: partition `rollout` of the rotation table, one entity per rollout (RowKey = its
// id), the JSON split over columns of at most 30,000 characters (a property holds 64 KiB of UTF-16). Every write is a
// create or an ETag-guarded replace, so queue workers on many instances finishing apps of the same wave, and the verify
// timer advancing it, can never overwrite each other: the loser reads again and re-applies its change.
import type { TableClient } from '@azure/data-tables';
import { ConflictError, NotFoundError, PreconditionError } from '../core/errors.js';
import { ROLLOUT_STATUSES, type Rollout, type RolloutStore } from '../core/rollout/model.js';
import { callAzure, translateAzureError } from './errors.js';
import { checkEntitySize, splitChunks } from './tableRotationStore.js';

export const ROLLOUT_PARTITION = 'rollout';
/**
 * A first bound on the columns (a property holds at most 64 KiB); what decides is the entity's 1 MiB, checked on the
 * whole entity as the Table service counts it (checkEntitySize), since 30 full columns would be 1.8 MB.
 */
const MAX_CHUNKS = 30;

export class TableRolloutStore implements RolloutStore {
  /** `table`: the rotation table's client, the table created (TableRotationStore.ensureTable + client). */
  constructor(private readonly table: () => Promise<TableClient>) {}

  async get(id: string): Promise<{ rollout: Rollout; etag: string } | undefined> {
    const table = await this.table();
    try {
      const entity = await table.getEntity<Record<string, unknown>>(ROLLOUT_PARTITION, id);
      return { rollout: parse(entity, id), etag: entity.etag };
    } catch (error) {
      const translated = translateAzureError(error, { operation: 'read rollout', resource: `${ROLLOUT_PARTITION}/${id}` });
      if (translated instanceof NotFoundError) return undefined;
      throw translated;
    }
  }

  async create(rollout: Rollout): Promise<boolean> {
    const table = await this.table();
    try {
      await table.createEntity(entityOf(rollout));
      return true;
    } catch (error) {
      const translated = translateAzureError(error, { operation: 'create rollout', resource: `${ROLLOUT_PARTITION}/${rollout.id}` });
      if (translated instanceof ConflictError) return false;
      throw translated;
    }
  }

  async replace(rollout: Rollout, etag: string): Promise<boolean> {
    const table = await this.table();
    try {
      await table.updateEntity(entityOf(rollout), 'Replace', { etag });
      return true;
    } catch (error) {
      const translated = translateAzureError(error, { operation: 'update rollout', resource: `${ROLLOUT_PARTITION}/${rollout.id}` });
      // 412 (someone wrote it first) arrives as a conflict; a deleted row cannot be replaced either.
      if (translated instanceof ConflictError || translated instanceof NotFoundError) return false;
      throw translated;
    }
  }

  async list(options: { active?: boolean } = {}): Promise<Rollout[]> {
    const table = await this.table();
    const out: Rollout[] = [];
    // Finished rollouts stay as the audit of what went out in which wave; the timers read only the live ones.
    const filter = options.active
      ? `PartitionKey eq '${ROLLOUT_PARTITION}' and (Status eq 'running' or Status eq 'halted')`
      : `PartitionKey eq '${ROLLOUT_PARTITION}'`;
    await callAzure({ operation: 'list rollouts', resource: ROLLOUT_PARTITION }, async () => {
      for await (const entity of table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
        out.push(parse(entity, entity.rowKey ?? ''));
      }
    });
    return out;
  }
}

function entityOf(rollout: Rollout): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  const chunks = splitChunks(JSON.stringify(rollout));
  if (chunks.length > MAX_CHUNKS) {
    throw new PreconditionError(`rollout ${rollout.id}: its state (${rollout.waves.reduce((n, w) => n + w.apps.length, 0)} apps) exceeds what one table entity holds`);
  }
  const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
    partitionKey: ROLLOUT_PARTITION,
    rowKey: rollout.id,
    // Readable columns for Storage Explorer; the JSON is the truth.
    Status: rollout.status,
    Source: rollout.source,
    Wave: `${rollout.current + 1}/${rollout.waves.length}`,
    JsonChunks: chunks.length,
  };
  chunks.forEach((chunk, i) => (entity[`Json${i}`] = chunk));
  checkEntitySize(entity, { operation: `rollout ${rollout.id}: its state (${rollout.waves.reduce((n, w) => n + w.apps.length, 0)} apps) exceeds what one table entity holds; write rollout`, resource: `${ROLLOUT_PARTITION}/${rollout.id}` });
  return entity;
}

function parse(entity: Record<string, unknown>, id: string): Rollout {
  const count = Number(entity.JsonChunks);
  let text = '';
  for (let i = 0; i < count; i += 1) text += typeof entity[`Json${i}`] === 'string' ? (entity[`Json${i}`] as string) : '';
  let rollout: Rollout;
  try {
    rollout = JSON.parse(text) as Rollout;
  } catch {
    throw new PreconditionError(`rollout ${id}: the stored state is not readable JSON (${count} chunk(s))`);
  }
  if (rollout.id !== id || !ROLLOUT_STATUSES.includes(rollout.status) || !Array.isArray(rollout.waves)) {
    throw new PreconditionError(`rollout ${id}: the stored state is not a rollout`);
  }
  return rollout;
}
