// The rotation store against Azurite's Table service, through the real @azure/data-tables client.
import { odata } from '@azure/data-tables';
import diagnostics from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { ConflictError, PreconditionError } from '../../src/core/errors.js';
import { MAX_RECORD_JSON_CHARS, type RotationRecord } from '../../src/core/records.js';
import { upgradeStoredBinding } from '../../src/core/sources/sourceRef.js';
import {
  CHUNK_CHARS,
  decodeKey,
  encodeKey,
  entitySizeBytes,
  MAX_ENTITY_BYTES,
  isOpenRecord,
  odataString,
  partitionFilter,
  splitChunks,
  TableRotationStore,
} from '../../src/azure/tableRotationStore.js';
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

const APP = '/subscriptions/00000000-0000-4000-8000-000000000001/resourcegroups/rg-one/providers/microsoft.web/sites/app-one';
const SLOT = `${APP}/slots/staging`;

function record(id: string, startedAt: string, overrides: Partial<RotationRecord> = {}): RotationRecord {
  return {
    id,
    appId: APP,
    app: { subscriptionId: '00000000-0000-4000-8000-000000000001', resourceGroup: 'rg-one', site: 'app-one' },
    mode: 'explicit',
    trigger: 'timer',
    bindings: [
      {
        oldThumbprint: 'A'.repeat(40),
        newThumbprint: 'B'.repeat(40),
        source: { kind: 'keyvault', uri: 'https://kv.vault.azure.net/certificates/client', version: '0123' },
        reason: 'NearingExpiry',
      },
    ],
    previousSettings: { WEBSITE_LOAD_CERTIFICATES: 'A'.repeat(40), CONN: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)' },
    step: 'leased',
    steps: [{ step: 'leased', at: startedAt }],
    attempts: 1,
    probes: [],
    startedAt,
    updatedAt: startedAt,
    ...overrides,
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

describe('TableRotationStore on Azurite', () => {
  it('refuses options without a connection string or a service URI and credential, before loading anything', () => {
    expect(() => new TableRotationStore({ tableName: 't', clock: new FakeClock() })).toThrow(PreconditionError);
  });


  it('creates, reads back and updates a record, keeping every field', async () => {
    const { store } = newStore();
    const r = record('rot-1', '2030-01-01T00:00:00.000Z');
    await store.create(r);
    expect(await store.get('rot-1')).toEqual(r);

    const updated = { ...r, step: 'staged' as const, steps: [...r.steps, { step: 'staged' as const, at: '2030-01-01T00:01:00.000Z' }] };
    await store.update(updated);
    expect(await store.get('rot-1')).toEqual(updated);
    expect(await store.get('no-such-id')).toBeUndefined();
  });

  it('refuses to create a record whose id exists', async () => {
    const { store } = newStore();
    await store.create(record('dup', '2030-01-01T00:00:00.000Z'));
    await expect(store.create(record('dup', '2030-01-02T00:00:00.000Z'))).rejects.toBeInstanceOf(ConflictError);
  });

  it('lists an app’s history newest first, limited, and keeps apps apart', async () => {
    const { store } = newStore();
    await store.create(record('old', '2030-01-01T00:00:00.000Z'));
    await store.create(record('newest', '2030-03-01T00:00:00.000Z'));
    await store.create(record('middle', '2030-02-01T00:00:00.000Z'));
    await store.create(record('slot', '2030-04-01T00:00:00.000Z', { appId: SLOT }));

    expect((await store.listForApp(APP)).map((r) => r.id)).toEqual(['newest', 'middle', 'old']);
    expect((await store.listForApp(APP, 2)).map((r) => r.id)).toEqual(['newest', 'middle']);
    expect((await store.listForApp(SLOT)).map((r) => r.id)).toEqual(['slot']);
    expect((await store.listAll(3)).map((r) => r.id)).toEqual(['slot', 'newest', 'middle']);
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

  it('never rewrites a finished record, except to set retiredAt', async () => {
    const { store } = newStore();
    const r = record('done', '2030-01-01T00:00:00.000Z');
    await store.create(r);
    const committed: RotationRecord = { ...r, step: 'committed', outcome: 'committed', finishedAt: '2030-01-01T00:05:00.000Z', retireAfter: '2030-01-08T00:00:00.000Z' };
    await store.update(committed);

    await expect(store.update({ ...committed, outcome: 'rolledBack' })).rejects.toThrow(/finished \(committed\).*outcome/);
    await expect(store.update({ ...committed, bindings: [] })).rejects.toBeInstanceOf(PreconditionError);
    expect(await store.get('done')).toEqual(committed);

    const retired = { ...committed, retiredAt: '2030-01-08T01:00:00.000Z', updatedAt: '2030-01-08T01:00:00.000Z' };
    await store.update(retired);
    expect(await store.get('done')).toEqual(retired);
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

  it('judges an update against the stored row when another writer changed it since, and still guards a finished one', async () => {
    const { store } = newStore();
    const other = new TableRotationStore({ connectionString: azurite().connectionString, tableName: (store as unknown as { options: { tableName: string } }).options.tableName, clock: new FakeClock() });
    const r = record('shared', '2030-01-01T00:00:00.000Z');
    await store.create(r);
    // Another instance finishes it; this store still remembers the open row it wrote.
    const done: RotationRecord = { ...r, step: 'committed', outcome: 'committed', finishedAt: '2030-01-01T00:05:00.000Z' };
    await other.update(done);
    await expect(store.update({ ...r, step: 'staged' })).rejects.toThrow(/finished \(committed\)/);
    expect(await store.get('shared')).toEqual(done);
    // An allowed change (retiredAt) goes through on the stored row's ETag.
    const retired = { ...done, retiredAt: '2030-01-08T01:00:00.000Z' };
    await store.update(retired);
    expect(await other.get('shared')).toEqual(retired);
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

  it('lists as open the unfinished, the committed inside their window and those awaiting retirement', async () => {
    const clock = new FakeClock(new Date('2030-01-01T00:00:00Z'));
    const { store } = newStore(clock);
    const base = '2030-01-01T00:00:00.000Z';
    await store.create(record('running', base));
    const inWindow = record('in-window', base);
    await store.create(inWindow);
    await store.update({ ...inWindow, outcome: 'committed', step: 'committed', verifyUntil: '2030-01-01T01:00:00.000Z' });
    const aborted = record('aborted', base);
    await store.create(aborted);
    await store.update({ ...aborted, outcome: 'aborted', step: 'aborted' });
    const awaitingRetirement = record('to-retire', base);
    await store.create(awaitingRetirement);
    await store.update({ ...awaitingRetirement, outcome: 'rolledBack', step: 'rolledBack', retireAfter: '2030-01-08T00:00:00.000Z' });

    expect((await store.listOpen()).map((r) => r.id).sort()).toEqual(['in-window', 'running', 'to-retire']);

    clock.advance(2 * 60 * 60 * 1000); // past the verification window
    expect((await store.listOpen()).map((r) => r.id).sort()).toEqual(['running', 'to-retire']);
    expect(isOpenRecord({ ...inWindow, outcome: 'committed', verifyUntil: '2030-01-01T01:00:00.000Z' }, clock.now())).toBe(false);
  });

  it('gives a lease to exactly one of two simultaneous acquirers', async () => {
    const { store } = newStore();
    const [a, b] = await Promise.all([store.acquireLease(APP, 'owner-a', 60_000), store.acquireLease(APP, 'owner-b', 60_000)]);
    const winners = [a, b].filter((l) => l !== undefined);
    expect(winners).toHaveLength(1);
    expect(await store.acquireLease(APP, 'owner-c', 60_000)).toBeUndefined();
    // A different app is independent.
    expect(await store.acquireLease(SLOT, 'owner-c', 60_000)).toBeDefined();
  });

  it('lets an expired lease be taken over, after which the old holder can neither renew nor release it', async () => {
    const { store, clock, pass } = newStore();
    const first = await store.acquireLease(APP, 'crashed-owner', 60_000);
    expect(first).toBeDefined();
    await pass(61_000);

    const second = await store.acquireLease(APP, 'next-owner', 60_000);
    expect(second?.owner).toBe('next-owner');
    expect(await store.renewLease(first!, 60_000)).toBeUndefined();
    await store.releaseLease(first!); // quietly: it is not ours any more
    expect(await store.acquireLease(APP, 'third', 60_000)).toBeUndefined();

    const renewed = await store.renewLease(second!, 120_000);
    expect(renewed?.expiresAt).toBe(new Date(clock.now().getTime() + 120_000).toISOString());
    await store.releaseLease(renewed!);
    expect(await store.acquireLease(APP, 'third', 60_000)).toBeDefined();
  });

  it('lets only one of two racers take over the same expired lease', async () => {
    const { store, pass } = newStore();
    await store.acquireLease(APP, 'crashed-owner', 1_000);
    await pass(5_000);
    const results = await Promise.all([store.acquireLease(APP, 'x', 60_000), store.acquireLease(APP, 'y', 60_000)]);
    expect(results.filter((l) => l !== undefined)).toHaveLength(1);
  });

  it('lets the holder take its own unexpired lease again (the port: only someone else blocks)', async () => {
    const { store } = newStore();
    const first = await store.acquireLease(APP, 'owner-a', 60_000);
    const again = await store.acquireLease(APP, 'owner-a', 60_000);
    expect(again).toBeDefined();
    expect(again!.etag).not.toBe(first!.etag);
    // The earlier handle is stale now: renewing it fails, so two flows of one owner cannot both keep going.
    expect(await store.renewLease(first!, 60_000)).toBeUndefined();
    expect(await store.acquireLease(APP, 'owner-b', 60_000)).toBeUndefined();
  });

  it('keeps small service state', async () => {
    const { store } = newStore();
    expect(await store.getState('lastScan')).toBeUndefined();
    await store.setState('lastScan', '{"at":"2030-01-01T00:00:00Z","apps":3}');
    await store.setState('lastScan', '{"at":"2030-01-02T00:00:00Z","apps":4}');
    expect(await store.getState('lastScan')).toBe('{"at":"2030-01-02T00:00:00Z","apps":4}');
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
