// The rotation store against Azurite's Table service, through the real @azure/data-tables client.
import { odata } from '@azure/data-tables';
import diagnostics from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { PreconditionError } from '../../src/core/errors.js';
import { MAX_RECORD_JSON_CHARS, type RotationRecord } from '../../src/core/records.js';
import { upgradeStoredBinding } from '../../src/core/sources/sourceRef.js';
import {
  CHUNK_CHARS,
  decodeKey,
  encodeKey,
  entitySizeBytes,
  MAX_ENTITY_BYTES,
  odataString,
  partitionFilter,
  splitChunks,
  TableRotationStore,
} from '../../src/azure/tableRotationStore.js';
import { APP, record, SLOT } from '../contracts/rotationStore.contract.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { ageLeases } from '../helpers/leases.js';

const azurite = useAzurite();

class FakeClock {
  constructor(public current = new Date('2030-01-01T00:00:00Z')) {}
  now = () => new Date(this.current);
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

function newStore(clock = new FakeClock()) {
  const tableName = uniqueName('rot');
  return {
    store: new TableRotationStore({ connectionString: azurite().connectionString, tableName, clock }),
    clock,
    /** Time passing for everyone, the Table service included (see test/helpers/leases.ts). */
    pass: async (ms: number) => {
      clock.advance(ms);
      await ageLeases({ storageConnectionString: azurite().connectionString, rotationTable: tableName }, ms);
    },
    tableName,
  };
}

describe('Table keys', () => {
  it.each([
    ['an app id with slashes', SLOT],
    ['characters Table keys forbid', 'a/b\\c#d?e'],
    ['non-ASCII text', 'app-ü-🙂'],
    ['the escape character itself', 'x~2Fy'],
  ])('round-trip %s through a key without forbidden characters', (_label, value) => {
    const key = encodeKey(value);
    expect(key).not.toMatch(/[/\\#?\u0000-\u001f\u007f-\u009f]/);
    expect(decodeKey(key)).toBe(value);
  });
});

describe('OData filter literals (the store builds them itself so the table SDK loads only on first use)', () => {
  it.each([
    ['a plain partition key', 'r-app'],
    ['a single quote', "o'brien"],
    ['several quotes in a row', "''x'''"],
    ['an injection attempt', "x' or PartitionKey ne 'y"],
  ])('quote %s exactly as the SDK’s odata tag does', (_label, value) => {
    expect(partitionFilter(value)).toBe(odata`PartitionKey eq ${value}`);
    expect(odataString(value)).toBe(odata`x eq ${value}`.slice('x eq '.length));
  });
});

// What every store promises (create, update, lists, leases, state) is the contract suite, test/contracts/rotationStore.*;
// these are the Table adapter's own concerns: keys, chunks, entity size, table calls, the service's clock.
describe('TableRotationStore on Azurite', () => {
  it('refuses options without a connection string or a service URI and credential, before loading anything', () => {
    expect(() => new TableRotationStore({ tableName: 't', clock: new FakeClock() })).toThrow(PreconditionError);
  });


  it('stores a record larger than one table property (split into chunks)', async () => {
    const { store } = newStore();
    const probes = Array.from({ length: 400 }, (_, i) => ({
      kind: 'via-app' as const,
      target: `https://app.example/healthz/${i}`,
      ok: false,
      transient: true,
      detail: `app answered 503: restarting ${'x'.repeat(150)}`,
      at: '2030-01-01T00:00:00.000Z',
      durationMs: i,
    }));
    const big = record('big', '2030-01-01T00:00:00.000Z', { probes });
    expect(JSON.stringify(big).length).toBeGreaterThan(2 * CHUNK_CHARS);
    await store.create(big);
    expect(await store.get('big')).toEqual(big);
  });

  // ASCII only: Azurite decodes a request body in 64 KiB pieces and garbles a multi-byte character cut by one (the
  // surrogate-pair rule of splitChunks is tested on its own, below).
  it('stores a record of nearly MAX_RECORD_JSON_CHARS whole, within one entity', async () => {
    const { store } = newStore();
    const base = record('largest', '2030-01-01T00:00:00.000Z');
    const room = MAX_RECORD_JSON_CHARS - JSON.stringify(base).length - 200;
    const big = { ...base, reason: 'x'.repeat(room) };
    await store.create(big);
    expect(await store.get('largest')).toEqual(big);
  });

  it.each([
    ['a pair that would straddle the boundary', `ab${'\u{1F510}'.repeat(40_000)}`],
    ['pairs from the first character', '\u{1F510}'.repeat(40_000)],
  ])('never splits a surrogate pair between chunks: %s', (_sentence, text) => {
    const chunks = splitChunks(text);
    // A lone surrogate is what encodeURIComponent refuses: a well-formed chunk encodes.
    expect(chunks.every((c) => c.length <= CHUNK_CHARS && encodeURIComponent(c).length > 0)).toBe(true);
    expect(chunks.join('')).toBe(text);
  });

  it('refuses a record too large for one table entity, naming the bound, and writes no row or pointer', async () => {
    const { store } = newStore();
    const huge = record('huge', '2030-01-01T00:00:00.000Z', { reason: 'x'.repeat(MAX_RECORD_JSON_CHARS) });
    await expect(store.create(huge)).rejects.toThrow(/exceed what one table entity holds \(510000\)/);
    expect(await store.get('huge')).toBeUndefined();
    expect(await store.listAll()).toEqual([]);
    expect(await store.listOpen()).toEqual([]);
  });

  it('counts an entity as the Table service does (UTF-16, per-property overhead) and keeps a full record under 1 MiB', () => {
    // 4 + keys (1 + 1) * 2 + property (8 + "Name" 4 * 2 + string 4 + 2 * 2).
    expect(entitySizeBytes({ partitionKey: 'p', rowKey: 'r', Name: 'ab' })).toBe(32);
    expect(entitySizeBytes({ partitionKey: 'p', rowKey: 'r', Count: 3, Flag: true })).toBe(4 + 4 + (8 + 10 + 8) + (8 + 8 + 1));
    // The largest record the store accepts, as chunks of CHUNK_CHARS, with every readable column at its longest.
    const chunks = Math.ceil(MAX_RECORD_JSON_CHARS / CHUNK_CHARS);
    const entity: Record<string, unknown> & { partitionKey: string; rowKey: string } = {
      partitionKey: `r-${'~FF'.repeat(300)}`,
      rowKey: `${'9'.repeat(13)}-${'~FF'.repeat(100)}`,
      Kind: 'rotation', Id: 'i'.repeat(100), AppId: 'a'.repeat(900), Step: 'previousRecorded', Trigger: 'timer',
      StartedAt: '2030-01-01T00:00:00.000Z', UpdatedAt: '2030-01-01T00:00:00.000Z', FinishedAt: '2030-01-01T00:00:00.000Z',
      Outcome: 'rolledBack', Reason: 'r'.repeat(1000), RecordChunks: chunks,
    };
    for (let i = 0; i < chunks; i += 1) entity[`Record${i}`] = 'x'.repeat(CHUNK_CHARS);
    expect(entitySizeBytes(entity)).toBeLessThanOrEqual(MAX_ENTITY_BYTES);
  });

  it('saves a record step by step with one table write per save while nobody else writes it', async () => {
    const { store } = newStore();
    const r = record('steps', '2030-01-01T00:00:00.000Z');
    await store.create(r);
    const requests: string[] = [];
    const count = (message: unknown) => {
      const request = (message as { request: { method: string; path: string } }).request;
      requests.push(`${request.method} ${decodeURIComponent(request.path).replace(/\?.*/, '')}`);
    };
    diagnostics.subscribe('http.client.request.start', count);
    try {
      for (const step of ['staged', 'preflighted', 'switched'] as const) await store.update({ ...r, step, steps: [...r.steps, { step, at: r.startedAt }] });
      await store.update({ ...r, step: 'rolledBack', outcome: 'rolledBack', finishedAt: '2030-01-01T00:05:00.000Z' });
    } finally {
      diagnostics.unsubscribe('http.client.request.start', count);
    }
    // Four replaces of the row (no read before them), and the open pointer deleted once at the end.
    expect(requests.filter((q) => q.startsWith('PUT '))).toHaveLength(4);
    expect(requests.filter((q) => q.startsWith('GET '))).toEqual([]);
    expect(requests.filter((q) => q.startsWith('DELETE ') && q.includes("PartitionKey='open'"))).toHaveLength(1);
    expect(await store.listOpen()).toEqual([]);
    expect((await store.get('steps'))?.outcome).toBe('rolledBack');
  });

  it('reads a row stored before source references (Key Vault fields) as a source reference, and saves it in the new shape', async () => {
    const { store, tableName } = newStore();
    const r = record('legacy', '2030-01-01T00:00:00.000Z');
    await store.create(r);
    // Rewrite the row as an older release stored it: the binding names Key Vault's fields, not a source reference.
    const { source: _source, ...binding } = r.bindings[0]!;
    const legacyJson = JSON.stringify({
      ...r,
      bindings: [{ ...binding, keyVaultCertificateId: 'https://kv.vault.azure.net/certificates/client/0123', keyVaultVersion: '0123', sourceUrl: 'https://kv.vault.azure.net/certificates/client' }],
    });
    const client = await store.client();
    const rowsOf = async () => {
      const rows: Array<Record<string, unknown>> = [];
      for await (const row of client.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`Id eq ${'legacy'} and Kind eq ${'rotation'}` } })) rows.push(row);
      return rows;
    };
    const rows = await rowsOf();
    expect(rows).toHaveLength(1);
    await client.updateEntity({ partitionKey: String(rows[0]!.partitionKey), rowKey: String(rows[0]!.rowKey), RecordChunks: 1, Record0: legacyJson }, 'Merge');

    const fresh = new TableRotationStore({ connectionString: azurite().connectionString, tableName, clock: new FakeClock() });
    const expected = { kind: 'keyvault', uri: 'https://kv.vault.azure.net/certificates/client', version: '0123' };
    const read = await fresh.get('legacy');
    expect(read?.bindings).toEqual([{ ...binding, source: expected }]);
    expect((await fresh.listForApp(APP)).find((x) => x.id === 'legacy')?.bindings[0]?.source).toEqual(expected);
    expect((await fresh.listOpen()).find((x) => x.id === 'legacy')?.bindings[0]?.source).toEqual(expected);

    // The next save of the open record writes today's shape.
    await fresh.update({ ...read!, step: 'staged' });
    const [after] = await rowsOf();
    const stored = JSON.parse(String(after!.Record0)) as { bindings: Array<Record<string, unknown>> };
    expect(stored.bindings[0]).toMatchObject({ source: expected });
    expect(stored.bindings[0]).not.toHaveProperty('keyVaultCertificateId');
  });

  it.each([
    ['an id and a version', { keyVaultCertificateId: 'https://kv.vault.azure.net/certificates/c/v1', keyVaultVersion: 'v1' }, 'https://kv.vault.azure.net/certificates/c', 'v1'],
    ['an id with a trailing slash and no version field', { keyVaultCertificateId: 'https://kv.vault.azure.net/certificates/c/v2/' }, 'https://kv.vault.azure.net/certificates/c', 'v2'],
    ['a source URL beside the id', { keyVaultCertificateId: 'https://KV.vault.azure.net/certificates/c/v3', keyVaultVersion: 'v3', sourceUrl: 'https://kv.vault.azure.net/certificates/c' }, 'https://kv.vault.azure.net/certificates/c', 'v3'],
  ])('upgrades a stored Key Vault binding with %s', (_sentence, legacy, uri, version) => {
    const upgraded = upgradeStoredBinding({ newThumbprint: 'B'.repeat(40), reason: 'Expired', ...legacy } as never) as Record<string, unknown>;
    expect(upgraded).toEqual({ newThumbprint: 'B'.repeat(40), reason: 'Expired', source: { kind: 'keyvault', uri, version } });
  });

});

describe('the caller of a rotation in the table', () => {
  it('keeps requestedBy in the record and shows it in a column a person browsing the table can read', async () => {
    const { store } = newStore();
    const requestedBy = { via: 'clientCertificate' as const, subject: 'CN=ops-cli,O=Contoso', issuer: 'CN=Contoso Issuing CA,O=Contoso', thumbprint: 'C3'.repeat(20) };
    await store.create(record('r-caller', '2030-01-01T00:00:00.000Z', { requestedBy }));
    expect((await store.get('r-caller'))?.requestedBy).toEqual(requestedBy);
    const client = await store.client();
    const rows = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`Id eq ${'r-caller'}` } })) rows.push(entity);
    expect(rows.map((r) => r.RequestedBy)).toEqual(['clientCertificate CN=ops-cli,O=Contoso']);
  });
});

describe('leases on the Table service clock: instances whose clocks are two days off', () => {
  const DAY = 24 * 3600 * 1000;
  /** An instance's clock: the machine's (Azurite's) time off by `skewMs`. */
  const skewed = (skewMs: number) => ({ now: () => new Date(Date.now() + skewMs) });
  /** Two store instances over one table, each with its own clock (two Function App instances). */
  function instances(holderSkew: number, challengerSkew: number) {
    const tableName = uniqueName('skew');
    const open = (skew: number) => new TableRotationStore({ connectionString: azurite().connectionString, tableName, clock: skewed(skew) });
    return { holder: open(holderSkew), challenger: open(challengerSkew), tableName };
  }
  async function ownerOf(tableName: string): Promise<string | undefined> {
    const { TableClient } = await import('@azure/data-tables');
    const table = TableClient.fromConnectionString(azurite().connectionString, tableName, { allowInsecureConnection: true });
    return (await table.getEntity<{ Owner: string }>('lease', encodeKey(APP))).Owner;
  }

  it.each([
    ['an instance two days ahead cannot take a live lease', 0, 2 * DAY],
    ['an instance two days behind cannot take a live lease', 0, -2 * DAY],
    ["a correct instance cannot take the live lease of one two days behind (its expiry would read as two days ago)", -2 * DAY, 0],
    ['an instance two days behind cannot take the live lease of one two days ahead', 2 * DAY, -2 * DAY],
  ])('%s', async (_sentence, holderSkew, challengerSkew) => {
    const { holder, challenger, tableName } = instances(holderSkew, challengerSkew);
    const held = await holder.acquireLease(APP, 'holder', 60_000);
    expect(held).toBeDefined();
    expect(await challenger.acquireLease(APP, 'challenger', 60_000)).toBeUndefined();
    expect(await ownerOf(tableName)).toBe('holder');
    // The holder still has it: its renewal succeeds.
    expect(await holder.renewLease(held!, 60_000)).toBeDefined();
  });

  it.each([
    ['an instance two days ahead leaves an expired lease that a correct one takes at once (not two days later)', 2 * DAY, 0],
    ['an instance two days behind takes an expired lease at once (not two days later)', 0, -2 * DAY],
    ['an instance two days ahead takes the expired lease of one two days behind', -2 * DAY, 2 * DAY],
  ])('%s', async (_sentence, holderSkew, challengerSkew) => {
    const { holder, challenger, tableName } = instances(holderSkew, challengerSkew);
    expect(await holder.acquireLease(APP, 'holder', 1_000)).toBeDefined();
    // Real time on the service: the Date header it answers with counts in whole seconds.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await challenger.acquireLease(APP, 'challenger', 60_000)).toBeDefined();
    expect(await ownerOf(tableName)).toBe('challenger');
  });

  it("reckons the holder's own expiry on its own clock (durations agree on any clock)", async () => {
    const { holder } = instances(2 * DAY, 0);
    const before = Date.now() + 2 * DAY;
    const lease = await holder.acquireLease(APP, 'holder', 60_000);
    const expires = Date.parse(lease!.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 2 * DAY + 60_000);
  });
});
