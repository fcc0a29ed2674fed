// RotationStore over Azure Table Storage (Azurite locally). One table holds everything, by partition:
//
//   r-<app>   one row per rotation of an app; RowKey = inverted start time + id, so a partition query lists the
//             app's history newest first. The whole record is JSON in string properties (split at 30,000
//             characters: a string property holds at most 64 KiB of UTF-16), plus a few readable columns.
//   id        RowKey = rotation id → where its row lives, so `get(id)` is two point reads, never a scan.
//   t         RowKey = inverted start time + id → the same pointer, for `listAll` newest first.
//   open      RowKey = rotation id → pointer to every record that may still need work (listOpen).
//   lease     RowKey = app → the per-app lease (owner, duration; the entity's ETag is the concurrency token). It is
//             judged on the Table service's clock, never an instance's: it is held until its Timestamp (set by the
//             service on every write) plus its duration, compared with the Date of the service's answer to the read.
//   state     RowKey = key → small service state (last scan).
//
// Table keys may not contain / \ # ? or control characters; ids and app ids are escaped (see encodeKey).
import type { TokenCredential } from '@azure/core-auth';
import type { TableClient, TableEntity, TableEntityResult } from '@azure/data-tables';
import { ConflictError, NotFoundError, PreconditionError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { upgradeStoredBinding } from '../core/sources/sourceRef.js';
import { isOpenRecord, MAX_RECORD_JSON_CHARS, refusedUpdate, type Lease, type RotationRecord, type RotationStore } from '../core/records.js';
import { callAzure, callAzureOptional, translateAzureError, type AzureErrorContext } from './errors.js';

export interface TableRotationStoreOptions {
  /** AzureWebJobsStorage as a connection string (Azurite, or an account that allows shared keys)… */
  connectionString?: string;
  /** …or identity-based: the table service URI (AzureWebJobsStorage__tableServiceUri or derived) and a credential. */
  tableServiceUri?: string;
  credential?: TokenCredential;
  /** Extra CA (PEM) to trust besides the system roots, for an identity-based URI (the sandbox's HTTPS Azurite). */
  tlsCa?: string;
  /** ROTATION_TABLE. */
  tableName: string;
  /**
   * The verification window of listOpen is judged by this clock, and a lease's `expiresAt` as its holder reckons it
   * (durations are the same on any clock). Whether someone else's lease has expired is never judged by it.
   */
  clock: Pick<Clock, 'now'>;
}

/** A string property holds 64 KiB, i.e. 32,768 UTF-16 code units; stay below it. */
export const CHUNK_CHARS = 30_000;
/** A record's JSON fits in this many chunks (src/core/records.ts); state values use the same bound. */
const MAX_CHUNKS = Math.ceil(MAX_RECORD_JSON_CHARS / CHUNK_CHARS);
/**
 * "The total size of all data in an entity's properties can't exceed 1 MiB", and an entity has at most 255
 * properties, the three system ones included (learn.microsoft.com/rest/api/storageservices/
 * understanding-the-table-service-data-model). See entitySizeBytes for how the size is counted.
 */
export const MAX_ENTITY_BYTES = 1024 * 1024;
const MAX_CUSTOM_PROPERTIES = 252;
/** A pointer whose record is missing may be a create in progress; only older ones are cleaned up. */
const STALE_POINTER_MS = 10 * 60 * 1000;
const MAX_TICKS = 9_999_999_999_999;
/** A lease entity written before leases carried their duration: held at most this long after its last write. */
const LEGACY_LEASE_MS = 2 * 60 * 60 * 1000;
/** Records whose last write this store remembers (see `written`). */
const MAX_REMEMBERED = 1000;

const P_ID = 'id';
const P_TIME = 't';
const P_OPEN = 'open';
const P_LEASE = 'lease';
const P_STATE = 'state';

/** Reversible, readable escape for Table keys: every character outside [A-Za-z0-9._-] becomes ~XX (UTF-8 bytes). */
export function encodeKey(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._-]/.test(c) ? c : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeKey(key: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < key.length; i += 1) {
    if (key[i] === '~') {
      bytes.push(Number.parseInt(key.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(key.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** 13-digit inverted milliseconds: a later start sorts first. */
export function invertedTime(iso: string): string {
  const ms = Date.parse(iso);
  const safe = Number.isFinite(ms) ? ms : 0;
  return String(MAX_TICKS - safe).padStart(13, '0');
}

export function appPartition(appId: string): string {
  return `r-${encodeKey(appId)}`;
}

export function recordRowKey(record: Pick<RotationRecord, 'startedAt' | 'id'>): string {
  return `${invertedTime(record.startedAt)}-${encodeKey(record.id)}`;
}

export function splitChunks(text: string, size = CHUNK_CHARS): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; ) {
    let end = Math.min(i + size, text.length);
    // Never between the two halves of a surrogate pair: a lone half is not valid UTF-16 and would come back as U+FFFD.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    chunks.push(text.slice(i, end));
    i = end;
  }
  return chunks.length === 0 ? [''] : chunks;
}

interface Location {
  partitionKey: string;
  rowKey: string;
}

type Entity = TableEntityResult<Record<string, unknown>>;

export class TableRotationStore implements RotationStore {
  private ready: Promise<void> | undefined;
  private loading: Promise<TableClient> | undefined;
  private loaded: TableClient | undefined;
  /** id → row; a record never moves once created. */
  private readonly locations = new Map<string, Location>();
  /**
   * id → what this store last wrote of a record: its ETag, the JSON and whether the open pointer exists. A rotation
   * saves its record after every step; while the row's ETag is still ours, the stored record is the one we wrote, so
   * the read before each replace and the rewrite of an unchanged open pointer are skipped (they were two
   * of every save's three table calls). A replace that finds another ETag falls back to reading the row.
   */
  private readonly written = new Map<string, { etag: string; json: string; open: boolean }>();

  constructor(private readonly options: TableRotationStoreOptions) {
    if (!options.connectionString && !(options.tableServiceUri && options.credential)) {
      throw new PreconditionError('the rotation store needs a storage connection string, or a table service URI and a credential');
    }
  }

  /**
   * The SDK client, built on first use: @azure/data-tables is several MB of RSS that a scan (which writes no record)
   * never needs, so it is imported only when the store is first used.
   */
  client(): Promise<TableClient> {
    this.loading ??= import('@azure/data-tables').then(
      ({ TableClient }) => {
        const { connectionString, tableServiceUri, credential, tableName, tlsCa } = this.options;
        // Azurite speaks plain http on loopback; real storage accounts are https and ignore the flag.
        this.loaded = connectionString
          ? TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true })
          : new TableClient(tableServiceUri!, tableName, credential!, tlsCa ? { tlsOptions: { ca: tlsCa } } : {});
        return this.loaded;
      },
      (error: unknown) => {
        this.loading = undefined;
        throw error;
      },
    );
    return this.loading;
  }

  /** The client once ensureTable has run; every public method awaits ensureTable first. */
  private get table(): TableClient {
    if (this.loaded === undefined) throw new Error('TableRotationStore: the table client is used before ensureTable');
    return this.loaded;
  }

  /** Creates the table once per process (the SDK treats "already exists" as success). */
  ensureTable(): Promise<void> {
    if (this.ready === undefined) {
      this.ready = callAzure({ operation: 'create table', resource: this.options.tableName }, async () => {
        await (await this.client()).createTable();
      }).catch((error: unknown) => {
        this.ready = undefined;
        throw error;
      });
    }
    return this.ready;
  }

  async create(record: RotationRecord): Promise<void> {
    await this.ensureTable();
    const context = this.context('create rotation record', record.id);
    const location: Location = { partitionKey: appPartition(record.appId), rowKey: recordRowKey(record) };
    // Built (and its size checked) before anything is written: a record too large for an entity leaves no pointer.
    const row = recordEntity(location, record, context);
    const pointer = { AppId: record.appId, RecordPartition: location.partitionKey, RecordRow: location.rowKey };
    const claimed = await this.tryCreate({ partitionKey: P_ID, rowKey: encodeKey(record.id), ...pointer }, context);
    if (!claimed) {
      // Either the id is taken, or an earlier create of this id stopped after claiming it: only the first is an error.
      const existing = await this.locate(record.id);
      if (existing === undefined || (await this.readRow(existing, context)) !== undefined) {
        throw new ConflictError(`rotation record ${record.id} already exists`);
      }
    }
    // Pointers first, row last: a crash in between leaves a pointer to nothing (skipped, cleaned up later), never a
    // rotation that the probe timer cannot find.
    if (isOpenRecord(record, this.options.clock.now())) {
      await this.upsert({ partitionKey: P_OPEN, rowKey: encodeKey(record.id), ...pointer }, context);
    }
    await this.upsert({ partitionKey: P_TIME, rowKey: location.rowKey, ...pointer }, context);
    const etag = await this.tryCreateWithEtag(row, context);
    if (etag === undefined) throw new ConflictError(`rotation record ${record.id} already exists`);
    this.locations.set(record.id, location);
    this.remember(record, etag, isOpenRecord(record, this.options.clock.now()));
  }

  async update(record: RotationRecord): Promise<void> {
    await this.ensureTable();
    const context = this.context('update rotation record', record.id);
    const location = await this.locate(record.id);
    const known = this.written.get(record.id);
    if (location !== undefined && known !== undefined) {
      const stored = JSON.parse(known.json) as RotationRecord;
      checkUpdate(stored, record);
      const etag = await this.replaceWithEtag(recordEntity(location, record, context), known.etag, context);
      if (etag !== undefined) {
        await this.afterUpdate(record, location, etag, known.open, context);
        return;
      }
      // Someone else wrote the row since: judge the update against what is stored now.
      this.written.delete(record.id);
    }
    const current = location === undefined ? undefined : await this.readRow(location, context);
    if (location === undefined || current === undefined) {
      throw new PreconditionError(`${context.operation}: rotation record ${record.id} does not exist (create it first)`);
    }
    checkUpdate(current.record, record);
    let etag: string;
    try {
      etag = (await this.table.updateEntity(recordEntity(location, record, context), 'Replace', { etag: current.etag })).etag ?? '';
    } catch (error) {
      const translated = translateAzureError(error, context);
      if (translated instanceof ConflictError) {
        throw new ConflictError(`rotation record ${record.id} was changed by someone else meanwhile`, { cause: translated });
      }
      throw translated;
    }
    await this.afterUpdate(record, location, etag, undefined, context);
  }

  /** The open pointer follows the record (written only when its state changes, or is unknown), then remember it. */
  private async afterUpdate(record: RotationRecord, location: Location, etag: string, wasOpen: boolean | undefined, context: AzureErrorContext): Promise<void> {
    const open = isOpenRecord(record, this.options.clock.now());
    if (open !== wasOpen) {
      const pointer = { AppId: record.appId, RecordPartition: location.partitionKey, RecordRow: location.rowKey };
      if (open) await this.upsert({ partitionKey: P_OPEN, rowKey: encodeKey(record.id), ...pointer }, context);
      else await this.deleteQuietly(P_OPEN, encodeKey(record.id), context);
    }
    this.remember(record, etag, open);
  }

  private remember(record: RotationRecord, etag: string, open: boolean): void {
    const id = record.id;
    this.written.delete(id);
    // Without an ETag there is nothing to replace against: the next update reads the row.
    if (etag === '') return;
    this.written.set(id, { etag, json: JSON.stringify(record), open });
    // Bounded: a long-running host rotates many apps; the oldest entries only cost a read when updated again.
    if (this.written.size > MAX_REMEMBERED) this.written.delete(this.written.keys().next().value as string);
  }

  async get(id: string): Promise<RotationRecord | undefined> {
    await this.ensureTable();
    const context = this.context('get rotation record', id);
    const location = await this.locate(id);
    if (location === undefined) return undefined;
    return (await this.readRow(location, context))?.record;
  }

  async listForApp(appId: string, limit = 50): Promise<RotationRecord[]> {
    await this.ensureTable();
    const context = this.context('list rotation records', appId);
    const records: RotationRecord[] = [];
    const filter = partitionFilter(appPartition(appId));
    const pages = this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(limit, 1000) });
    await callAzure(context, async () => {
      for await (const page of pages) {
        for (const entity of page) {
          records.push(recordOf(entity, context));
          if (records.length >= limit) return;
        }
      }
    });
    return records;
  }

  async listOpen(): Promise<RotationRecord[]> {
    await this.ensureTable();
    const context = this.context('list open rotation records', P_OPEN);
    const pointers = await this.queryPartition(P_OPEN, Number.POSITIVE_INFINITY, context);
    const now = this.options.clock.now();
    const records: RotationRecord[] = [];
    for (const pointer of pointers) {
      const location = pointerLocation(pointer);
      const row = location === undefined ? undefined : await this.readRow(location, context);
      if (row !== undefined && isOpenRecord(row.record, now)) {
        records.push(row.record);
        continue;
      }
      const age = now.getTime() - (pointer.timestamp ? Date.parse(pointer.timestamp) : 0);
      // Housekeeping: a record that left its verification window, or a pointer whose create never finished.
      if ((row !== undefined || age > STALE_POINTER_MS) && pointer.rowKey) await this.deleteQuietly(P_OPEN, pointer.rowKey, context);
    }
    return records.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  async listAll(limit = 100): Promise<RotationRecord[]> {
    await this.ensureTable();
    const context = this.context('list rotation records', P_TIME);
    const pointers = await this.queryPartition(P_TIME, limit, context);
    const records: RotationRecord[] = [];
    for (const pointer of pointers) {
      const location = pointerLocation(pointer);
      const row = location === undefined ? undefined : await this.readRow(location, context);
      if (row !== undefined) records.push(row.record);
    }
    return records;
  }

  async acquireLease(appId: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    await this.ensureTable();
    const context = this.context('acquire lease', appId);
    const rowKey = encodeKey(appId);
    const entity = leaseEntity(appId, owner, ttlMs);
    // Two rounds: the holder may release between our create (409) and our read (404).
    for (let round = 0; round < 2; round += 1) {
      // Read before the write: the holder's reckoning of its expiry errs early, never late.
      const expiresAt = this.localExpiry(ttlMs);
      const created = await this.tryCreateWithEtag(entity, context);
      if (created !== undefined) return { appId, owner, expiresAt, etag: created };
      const existing = await this.readLease(rowKey, context);
      if (existing === undefined) continue;
      const heldByOther = existing.entity.Owner !== owner;
      // As the port says: undefined only when SOMEONE ELSE holds an unexpired lease. The same owner takes it again
      // (a process resuming its own interrupted rotation); exclusion inside one process is the owner's to ensure.
      if (heldByOther && !leaseExpired(existing.entity, existing.serviceNow)) return undefined;
      // Expired (or ours): take it over, but only if nobody else did since we read it (ETag).
      const taken = await this.replaceWithEtag(entity, existing.entity.etag, context);
      return taken === undefined ? undefined : { appId, owner, expiresAt, etag: taken };
    }
    return undefined;
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    await this.ensureTable();
    const context = this.context('renew lease', lease.appId);
    const expiresAt = this.localExpiry(ttlMs);
    // The service stamps the replace: the lease runs for ttlMs from then, on its clock.
    const etag = await this.replaceWithEtag(leaseEntity(lease.appId, lease.owner, ttlMs), lease.etag, context);
    return etag === undefined ? undefined : { ...lease, expiresAt, etag };
  }

  private localExpiry(ttlMs: number): string {
    return new Date(this.options.clock.now().getTime() + ttlMs).toISOString();
  }

  /** The lease entity and the service's time of the answer (its Date header), or undefined when there is none. */
  private async readLease(rowKey: string, context: AzureErrorContext): Promise<{ entity: Entity; serviceNow: number | undefined } | undefined> {
    let serviceNow: number | undefined;
    const entity = await callAzureOptional(context, () =>
      this.table.getEntity<Record<string, unknown>>(P_LEASE, rowKey, {
        onResponse: (response) => {
          const date = Date.parse(response.headers.get('date') ?? '');
          if (Number.isFinite(date)) serviceNow = date;
        },
      }),
    );
    return entity === undefined ? undefined : { entity, serviceNow };
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.ensureTable();
    const context = this.context('release lease', lease.appId);
    try {
      await this.table.deleteEntity(P_LEASE, encodeKey(lease.appId), { etag: lease.etag });
    } catch (error) {
      const translated = translateAzureError(error, context);
      // Gone, or already taken over after expiry: either way it is no longer ours to release.
      if (translated instanceof NotFoundError || translated instanceof ConflictError) return;
      throw translated;
    }
  }

  async getState(key: string): Promise<string | undefined> {
    await this.ensureTable();
    const context = this.context('get state', key);
    const entity = await callAzureOptional(context, () => this.table.getEntity<Record<string, unknown>>(P_STATE, encodeKey(key)));
    return entity === undefined ? undefined : joinChunks(entity, 'Value', context);
  }

  async setState(key: string, value: string): Promise<void> {
    await this.ensureTable();
    const context = this.context('set state', key);
    const entity = { partitionKey: P_STATE, rowKey: encodeKey(key), ...chunkColumns('Value', value, context) };
    checkEntitySize(entity, context);
    await this.upsert(entity, context);
  }

  // ---- helpers ----

  private context(operation: string, resource: string): AzureErrorContext {
    return { operation, resource: `${this.options.tableName}:${resource}` };
  }

  private async locate(id: string): Promise<Location | undefined> {
    const cached = this.locations.get(id);
    if (cached) return cached;
    const pointer = await callAzureOptional(this.context('find rotation record', id), () =>
      this.table.getEntity<Record<string, unknown>>(P_ID, encodeKey(id)),
    );
    const location = pointer === undefined ? undefined : pointerLocation(pointer);
    if (location) this.locations.set(id, location);
    return location;
  }

  private async readRow(location: Location, context: AzureErrorContext): Promise<{ record: RotationRecord; etag: string } | undefined> {
    const entity = await callAzureOptional(context, () => this.table.getEntity<Record<string, unknown>>(location.partitionKey, location.rowKey));
    return entity === undefined ? undefined : { record: recordOf(entity, context), etag: entity.etag };
  }

  private async queryPartition(partition: string, limit: number, context: AzureErrorContext): Promise<Entity[]> {
    const out: Entity[] = [];
    const filter = partitionFilter(partition);
    const maxPageSize = Number.isFinite(limit) ? Math.min(limit, 1000) : 1000;
    await callAzure(context, async () => {
      for await (const page of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize })) {
        for (const entity of page) {
          out.push(entity);
          if (out.length >= limit) return;
        }
      }
    });
    return out;
  }

  /** createEntity; false when the row exists (409). */
  private async tryCreate(entity: TableEntity<Record<string, unknown>>, context: AzureErrorContext): Promise<boolean> {
    return (await this.tryCreateWithEtag(entity, context)) !== undefined;
  }

  private async tryCreateWithEtag(entity: TableEntity<Record<string, unknown>>, context: AzureErrorContext): Promise<string | undefined> {
    try {
      const response = await this.table.createEntity(entity);
      return response.etag ?? '';
    } catch (error) {
      const translated = translateAzureError(error, context);
      if (translated instanceof ConflictError) return undefined;
      throw translated;
    }
  }

  /** Replace only if the ETag still matches; undefined when someone else changed or deleted it. */
  private async replaceWithEtag(entity: TableEntity<Record<string, unknown>>, etag: string, context: AzureErrorContext): Promise<string | undefined> {
    try {
      const response = await this.table.updateEntity(entity, 'Replace', { etag });
      return response.etag ?? '';
    } catch (error) {
      const translated = translateAzureError(error, context);
      if (translated instanceof ConflictError || translated instanceof NotFoundError) return undefined;
      throw translated;
    }
  }

  private async upsert(entity: TableEntity<Record<string, unknown>>, context: AzureErrorContext): Promise<void> {
    await callAzure(context, () => this.table.upsertEntity(entity, 'Replace'));
  }

  private async deleteQuietly(partitionKey: string, rowKey: string, context: AzureErrorContext): Promise<void> {
    await callAzureOptional(context, () => this.table.deleteEntity(partitionKey, rowKey));
  }
}

function leaseEntity(appId: string, owner: string, ttlMs: number): TableEntity<Record<string, unknown>> {
  return { partitionKey: P_LEASE, rowKey: encodeKey(appId), AppId: appId, Owner: owner, DurationMs: Math.round(ttlMs) };
}

/**
 * Whether a lease has run out, on the service's clock: its Timestamp (the service's time of its last write) plus its
 * duration, against the service's time now. Both come from the service, so no instance's clock, however far off,
 * can end a live lease early (a steal) or keep an expired one alive (a stranded app). When either is missing the
 * lease cannot be judged and counts as held: the Table service always sends both.
 */
export function leaseExpired(entity: Record<string, unknown> & { timestamp?: string }, serviceNow: number | undefined): boolean {
  const written = Date.parse(entity.timestamp ?? '');
  if (!Number.isFinite(written) || serviceNow === undefined) return false;
  const duration = Number(entity.DurationMs);
  const heldFor = Number.isSafeInteger(duration) ? duration : LEGACY_LEASE_MS;
  return written + heldFor <= serviceNow;
}

/** The audit-log rule of records.ts, as this store's error. */
function checkUpdate(stored: RotationRecord, record: RotationRecord): void {
  const refusal = refusedUpdate(stored, record);
  if (refusal !== undefined) throw new PreconditionError(refusal);
}

/** An OData string literal: single quotes doubled (what the SDK's `odata` tag does, without loading the SDK). */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function partitionFilter(partitionKey: string): string {
  return `PartitionKey eq ${odataString(partitionKey)}`;
}

function pointerLocation(entity: Record<string, unknown>): Location | undefined {
  const partitionKey = entity.RecordPartition;
  const rowKey = entity.RecordRow;
  return typeof partitionKey === 'string' && typeof rowKey === 'string' ? { partitionKey, rowKey } : undefined;
}

function chunkColumns(prefix: string, text: string, context: AzureErrorContext): Record<string, unknown> {
  const chunks = splitChunks(text);
  if (chunks.length > MAX_CHUNKS) {
    throw new PreconditionError(
      `${context.operation} (${context.resource}): ${text.length} characters exceed what one table entity holds (${MAX_CHUNKS * CHUNK_CHARS})`,
    );
  }
  const columns: Record<string, unknown> = { [`${prefix}Chunks`]: chunks.length };
  chunks.forEach((chunk, i) => (columns[`${prefix}${i}`] = chunk));
  return columns;
}

function joinChunks(entity: Record<string, unknown>, prefix: string, context: AzureErrorContext): string {
  const count = Number(entity[`${prefix}Chunks`]);
  if (!Number.isInteger(count) || count < 1) {
    throw new PreconditionError(`${context.operation} (${context.resource}): the stored entity has no ${prefix} (not written by this store?)`);
  }
  let text = '';
  for (let i = 0; i < count; i += 1) {
    const chunk = entity[`${prefix}${i}`];
    if (typeof chunk !== 'string') throw new PreconditionError(`${context.operation} (${context.resource}): chunk ${i} of ${prefix} is missing`);
    text += chunk;
  }
  return text;
}

/**
 * An entity's size as the Table service counts it: 4 bytes, the keys in UTF-16, and per property 8 bytes, its name
 * in UTF-16 and its value (a string: 4 bytes + 2 per UTF-16 code unit; a number: 8; a boolean: 1).
 */
export function entitySizeBytes(entity: { partitionKey: string; rowKey: string } & Record<string, unknown>): number {
  let size = 4 + (entity.partitionKey.length + entity.rowKey.length) * 2;
  for (const [name, value] of Object.entries(entity)) {
    if (name === 'partitionKey' || name === 'rowKey' || value === undefined) continue;
    const valueSize = typeof value === 'string' ? 4 + value.length * 2 : typeof value === 'boolean' ? 1 : 8;
    size += 8 + name.length * 2 + valueSize;
  }
  return size;
}

/** Refuses, before any write, an entity the Table service would refuse (or, worse, an emulator would keep). */
export function checkEntitySize(entity: { partitionKey: string; rowKey: string } & Record<string, unknown>, context: AzureErrorContext): void {
  const properties = Object.keys(entity).filter((k) => k !== 'partitionKey' && k !== 'rowKey').length;
  const size = entitySizeBytes(entity);
  if (size > MAX_ENTITY_BYTES || properties > MAX_CUSTOM_PROPERTIES) {
    throw new PreconditionError(
      `${context.operation} (${context.resource}): the entity would be ${size} bytes in ${properties} properties; ` +
        `a table entity holds at most ${MAX_ENTITY_BYTES} bytes (1 MiB) in ${MAX_CUSTOM_PROPERTIES} properties besides the system ones`,
    );
  }
}

function recordEntity(location: Location, record: RotationRecord, context: AzureErrorContext): TableEntity<Record<string, unknown>> {
  const entity = { ...location, ...recordColumns(record, context) };
  checkEntitySize(entity, context);
  return entity;
}

/** The whole record as JSON, plus columns a person browsing the table (Storage Explorer) can read at a glance. */
function recordColumns(record: RotationRecord, context: AzureErrorContext): Record<string, unknown> {
  const columns: Record<string, unknown> = {
    Kind: 'rotation',
    Id: record.id,
    AppId: record.appId,
    Step: record.step,
    Trigger: record.trigger,
    StartedAt: record.startedAt,
    UpdatedAt: record.updatedAt,
    Outcome: record.outcome ?? '',
    ...chunkColumns('Record', JSON.stringify(record), context),
  };
  if (record.finishedAt) columns.FinishedAt = record.finishedAt;
  if (record.reason) columns.Reason = record.reason.slice(0, 1000);
  // Who asked, at a glance (the full caller is in the record).
  if (record.requestedBy) columns.RequestedBy = [record.requestedBy.via, record.requestedBy.subject].filter(Boolean).join(' ').slice(0, 1000);
  // Readable at a glance: how strongly the outcome was verified, and whether the candidate is held back for it.
  if (record.verification) columns.Verification = record.verification;
  if (record.failureKind) columns.FailureKind = record.failureKind;
  return columns;
}

function recordOf(entity: Record<string, unknown>, context: AzureErrorContext): RotationRecord {
  const text = joinChunks(entity, 'Record', context);
  let stored: RotationRecord;
  try {
    stored = JSON.parse(text) as RotationRecord;
  } catch (error) {
    throw new PreconditionError(`${context.operation} (${context.resource}): the stored record is not valid JSON`, { cause: error });
  }
  // Rows written before source references name Key Vault fields; they are read in today's shape and rewritten so
  // only when an open record is next saved.
  if (Array.isArray(stored.bindings)) stored.bindings = stored.bindings.map((binding) => upgradeStoredBinding(binding));
  return stored;
}
