// RotationSlots in Azure Table Storage: partition `slot` of the rotation table holds one row per slot taken
// (RowKey = slot index, zero-padded). A holder creates its row, or takes over an expired one with an ETag
// compare-and-swap; it renews the expiry while it rotates and deletes the row when done. Table storage is the one
// thing every instance of the function app shares, and a conditional write is atomic, so two instances can never
// both hold one slot, however many the platform starts.
//
// A slot is leased, not owned: a holder that dies (instance recycled mid-rotation) loses it after SLOT_TTL_MS, so a
// crash costs the fleet one slot for two minutes, never for good. Rows at an index >= size (MAX_PARALLEL_ROTATIONS
// was lowered) are ignored and never taken again.
import { randomInt } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Clock, RotationSlot, RotationSlots } from '../core/ports.js';
import { callAzure, translateAzureError, type AzureErrorContext } from './errors.js';

export const SLOT_PARTITION = 'slot';
/** A slot's lease; renewed every third of it while the rotation runs. */
export const SLOT_TTL_MS = 120_000;

export interface TableRotationSlotsOptions {
  /** The rotation table's client, the table created (TableRotationStore.ensureTable + client). */
  table: () => Promise<TableClient>;
  /** MAX_PARALLEL_ROTATIONS. */
  size: number;
  clock: Clock;
  ttlMs?: number;
  /** First pause between attempts when every slot is taken; grows to maxPollMs. */
  minPollMs?: number;
  maxPollMs?: number;
  /** A renewal that failed (the slot may have expired and gone to someone else). */
  onLost?: (index: number, reason: string) => void;
}

interface SlotRow {
  index: number;
  etag: string;
  owner: string;
  expiresAt: number;
}

export const slotRowKey = (index: number): string => String(index).padStart(4, '0');

export class TableRotationSlots implements RotationSlots {
  private readonly ttlMs: number;

  constructor(private readonly options: TableRotationSlotsOptions) {
    this.ttlMs = options.ttlMs ?? SLOT_TTL_MS;
  }

  async acquire(owner: string, waitMs: number): Promise<RotationSlot | undefined> {
    const { clock } = this.options;
    const deadline = clock.now().getTime() + waitMs;
    let pause = this.options.minPollMs ?? 250;
    for (;;) {
      const slot = await this.tryOnce(owner);
      if (slot !== undefined) return slot;
      const left = deadline - clock.now().getTime();
      if (left <= 0) return undefined;
      // Jitter, so the waiters of a busy fleet do not all read the partition in the same instant.
      await clock.sleep(Math.min(left, Math.round(pause / 2 + randomInt(Math.max(1, Math.round(pause / 2))))));
      pause = Math.min(pause * 2, this.options.maxPollMs ?? 2_000);
    }
  }

  /** The rows of the slot partition (tests and the benchmark read them from the outside too). */
  async rows(): Promise<SlotRow[]> {
    const table = await this.options.table();
    const rows: SlotRow[] = [];
    await callAzure(this.context('list rotation slots'), async () => {
      for await (const e of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${SLOT_PARTITION}'` } })) {
        rows.push({ index: Number(e.rowKey), etag: e.etag, owner: String(e.Owner ?? ''), expiresAt: Date.parse(String(e.ExpiresAt ?? '')) });
      }
    });
    return rows;
  }

  private async tryOnce(owner: string): Promise<RotationSlot | undefined> {
    const now = this.options.clock.now().getTime();
    const byIndex = new Map((await this.rows()).map((r) => [r.index, r]));
    // Free indexes first (a create), expired ones after (a takeover); each list in random order so that concurrent
    // takers spread over the slots instead of all racing for slot 0.
    const free: number[] = [];
    const expired: SlotRow[] = [];
    for (let index = 0; index < this.options.size; index += 1) {
      const row = byIndex.get(index);
      if (row === undefined) free.push(index);
      else if (!(row.expiresAt > now)) expired.push(row);
    }
    for (const index of shuffle(free)) {
      const etag = await this.write(index, owner, undefined);
      if (etag !== undefined) return this.held(index, owner, etag);
    }
    for (const row of shuffle(expired)) {
      const etag = await this.write(row.index, owner, row.etag);
      if (etag !== undefined) return this.held(row.index, owner, etag);
    }
    return undefined;
  }

  /** Creates the row (no etag) or replaces it if unchanged since read; undefined when someone else got there first. */
  private async write(index: number, owner: string, etag: string | undefined): Promise<string | undefined> {
    const table = await this.options.table();
    const entity = { partitionKey: SLOT_PARTITION, rowKey: slotRowKey(index), Owner: owner, ExpiresAt: new Date(this.options.clock.now().getTime() + this.ttlMs).toISOString() };
    try {
      const response = etag === undefined ? await table.createEntity(entity) : await table.updateEntity(entity, 'Replace', { etag });
      return response.etag ?? '';
    } catch (error) {
      const translated = translateAzureError(error, this.context('take rotation slot', index));
      if (translated instanceof ConflictError || translated instanceof NotFoundError) return undefined;
      throw translated;
    }
  }

  private held(index: number, owner: string, firstEtag: string): RotationSlot {
    let etag: string | undefined = firstEtag;
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = renewing.then(async () => {
        if (etag === undefined) return;
        const renewed = await this.write(index, owner, etag).catch((error: unknown) => {
          this.options.onLost?.(index, String(error));
          return etag; // a storage hiccup: keep the old ETag and try again next time
        });
        if (renewed === undefined) {
          this.options.onLost?.(index, 'taken over after expiry');
          etag = undefined;
          clearInterval(timer);
        } else {
          etag = renewed;
        }
      });
    }, Math.max(1_000, Math.floor(this.ttlMs / 3)));
    timer.unref();
    let released = false;
    return {
      index,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await renewing;
        if (etag === undefined) return;
        const table = await this.options.table();
        try {
          await table.deleteEntity(SLOT_PARTITION, slotRowKey(index), { etag });
        } catch (error) {
          const translated = translateAzureError(error, this.context('release rotation slot', index));
          // Expired and taken over meanwhile: no longer ours to free.
          if (translated instanceof ConflictError || translated instanceof NotFoundError) return;
          throw translated;
        }
      },
    };
  }

  private context(operation: string, index?: number): AzureErrorContext {
    return { operation, resource: index === undefined ? SLOT_PARTITION : `${SLOT_PARTITION}/${slotRowKey(index)}` };
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
