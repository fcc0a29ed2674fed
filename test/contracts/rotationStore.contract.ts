// What the RotationStore port (src/core/records.ts) promises, as one suite every store runs: the Table adapter on
// Azurite (test/contracts/rotationStore.test.ts) and the in-memory store the core tests use. Whatever one store does
// and the other does not is a bug in one of them; the engine may rely only on what is here.
import { describe, expect, it } from 'vitest';
import { ConflictError, PreconditionError } from '../../src/core/errors.js';
import { MAX_RECORD_JSON_CHARS, type RotationRecord, type RotationStore } from '../../src/core/records.js';

export interface StoreHarness {
  store: RotationStore;
  /** Another instance (another process) over the same storage. */
  another(): RotationStore;
  /** The store's clock (the verification window is judged on it); `pass` moves it. */
  now(): Date;
  /** Time passes for everyone, the storage service included: leases age by `ms`. */
  pass(ms: number): Promise<void>;
}

export const APP = '/subscriptions/00000000-0000-4000-8000-000000000001/resourcegroups/rg-one/providers/microsoft.web/sites/app-one';
export const SLOT = `${APP}/slots/staging`;
export const T0 = '2030-01-01T00:00:00.000Z';

export function record(id: string, startedAt: string, overrides: Partial<RotationRecord> = {}): RotationRecord {
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
    previousSettings: { WEBSITE_LOAD_CERTIFICATES: 'A'.repeat(40), CONN: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/)', GONE: null },
    step: 'leased',
    steps: [{ step: 'leased', at: startedAt }],
    attempts: 1,
    probes: [],
    startedAt,
    updatedAt: startedAt,
    ...overrides,
  };
}

const HOUR = 60 * 60 * 1000;

export function rotationStoreContract(name: string, harness: () => Promise<StoreHarness> | StoreHarness): void {
  describe(`RotationStore contract: ${name}`, () => {
    describe('records', () => {
      it('creates, reads back and updates a record, keeping every field (nulls and odd values included)', async () => {
        const { store } = await harness();
        const r = record('rot-1', T0, { requestedBy: { via: 'clientCertificate', subject: 'CN=ops, O="a, b"' } });
        await store.create(r);
        expect(await store.get('rot-1')).toEqual(r);
        const updated: RotationRecord = { ...r, step: 'staged', steps: [...r.steps, { step: 'staged', at: '2030-01-01T00:01:00.000Z' }] };
        await store.update(updated);
        expect(await store.get('rot-1')).toEqual(updated);
        expect(await store.get('no-such-id')).toBeUndefined();
      });

      it('hands out copies: changing a record read from the store changes nothing stored', async () => {
        const { store } = await harness();
        await store.create(record('copy', T0));
        const read = (await store.get('copy'))!;
        read.step = 'failed';
        read.bindings.length = 0;
        expect(await store.get('copy')).toEqual(record('copy', T0));
      });

      it.each([
        ['a record whose id exists is refused as a conflict', async (s: RotationStore) => {
          await s.create(record('dup', T0));
          return s.create(record('dup', '2030-01-02T00:00:00.000Z'));
        }, ConflictError, /dup/],
        ['an update of a record never created is refused, naming it', async (s: RotationStore) => s.update(record('ghost', T0)), PreconditionError, /ghost/],
        ['an update that moves a record to another app is refused', async (s: RotationStore) => {
          await s.create(record('moved', T0));
          return s.update(record('moved', T0, { appId: SLOT }));
        }, PreconditionError, /id and appId never change/],
      ] as const)('%s', async (_sentence, act, errorClass, message) => {
        const { store } = await harness();
        const error = await act(store).then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(errorClass);
        expect(String((error as Error).message)).toMatch(message);
      });

      it('the first create wins: the refused duplicate leaves the stored record as it was', async () => {
        const { store } = await harness();
        const first = record('dup', T0);
        await store.create(first);
        await expect(store.create(record('dup', '2030-01-02T00:00:00.000Z', { trigger: 'http' }))).rejects.toBeInstanceOf(ConflictError);
        expect(await store.get('dup')).toEqual(first);
        expect((await store.listForApp(APP)).map((r) => r.id)).toEqual(['dup']);
      });

      it('never rewrites a finished record, except to set retiredAt', async () => {
        const { store } = await harness();
        const r = record('done', T0);
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

      it('judges an update against what is stored when another instance wrote it since, and still guards a finished one', async () => {
        const h = await harness();
        const other = h.another();
        const r = record('shared', T0);
        await h.store.create(r);
        const staged: RotationRecord = { ...r, step: 'staged' };
        await other.update(staged);
        expect(await h.store.get('shared')).toEqual(staged);
        const done: RotationRecord = { ...r, step: 'committed', outcome: 'committed', finishedAt: '2030-01-01T00:05:00.000Z' };
        await other.update(done);
        await expect(h.store.update({ ...r, step: 'preflighted' })).rejects.toThrow(/finished \(committed\)/);
        expect(await h.store.get('shared')).toEqual(done);
        const retired = { ...done, retiredAt: '2030-01-08T01:00:00.000Z' };
        await h.store.update(retired);
        expect(await other.get('shared')).toEqual(retired);
      });

      it('stores a record of nearly MAX_RECORD_JSON_CHARS whole', async () => {
        const { store } = await harness();
        const base = record('largest', T0);
        // ASCII: Azurite garbles a multi-byte character its 64 KiB body reads cut in two (the Table test covers pairs).
        const big = { ...base, reason: 'x'.repeat(MAX_RECORD_JSON_CHARS - JSON.stringify(base).length - 200) };
        await store.create(big);
        expect(await store.get('largest')).toEqual(big);
      });

      it('refuses a record larger than MAX_RECORD_JSON_CHARS, naming the bound, and keeps nothing of it', async () => {
        const { store } = await harness();
        const huge = record('huge', T0, { reason: 'x'.repeat(MAX_RECORD_JSON_CHARS) });
        await expect(store.create(huge)).rejects.toThrow(new RegExp(`${MAX_RECORD_JSON_CHARS}`));
        await expect(store.create(huge)).rejects.toBeInstanceOf(PreconditionError);
        expect(await store.get('huge')).toBeUndefined();
        expect(await store.listAll()).toEqual([]);
        expect(await store.listOpen()).toEqual([]);
        // An update that would outgrow the bound is refused the same way, and the stored record stays.
        const small = record('grows', T0);
        await store.create(small);
        await expect(store.update({ ...small, reason: 'x'.repeat(MAX_RECORD_JSON_CHARS) })).rejects.toBeInstanceOf(PreconditionError);
        expect(await store.get('grows')).toEqual(small);
      });
    });

    describe('lists', () => {
      it('lists an app’s history newest first, limited, and keeps apps (and slots) apart', async () => {
        const { store } = await harness();
        await store.create(record('old', T0));
        await store.create(record('newest', '2030-03-01T00:00:00.000Z'));
        await store.create(record('middle', '2030-02-01T00:00:00.000Z'));
        await store.create(record('slot', '2030-04-01T00:00:00.000Z', { appId: SLOT }));
        expect((await store.listForApp(APP)).map((r) => r.id)).toEqual(['newest', 'middle', 'old']);
        expect((await store.listForApp(APP, 2)).map((r) => r.id)).toEqual(['newest', 'middle']);
        expect((await store.listForApp(SLOT)).map((r) => r.id)).toEqual(['slot']);
        expect(await store.listForApp(`${APP}-other`)).toEqual([]);
        expect((await store.listAll(3)).map((r) => r.id)).toEqual(['slot', 'newest', 'middle']);
        expect((await store.listAll()).map((r) => r.id)).toEqual(['slot', 'newest', 'middle', 'old']);
      });

      it('orders records started in the same millisecond by id', async () => {
        const { store } = await harness();
        for (const id of ['b', 'c', 'a']) await store.create(record(id, T0));
        expect((await store.listForApp(APP)).map((r) => r.id)).toEqual(['a', 'b', 'c']);
        expect((await store.listAll()).map((r) => r.id)).toEqual(['a', 'b', 'c']);
      });

      it('lists as open the unfinished, the committed inside their window and those awaiting retirement, newest first', async () => {
        const h = await harness();
        const { store } = h;
        await store.create(record('running', T0));
        const inWindow = record('in-window', '2030-01-01T00:00:01.000Z');
        await store.create(inWindow);
        await store.update({ ...inWindow, outcome: 'committed', step: 'committed', verifyUntil: new Date(h.now().getTime() + HOUR).toISOString() });
        const aborted = record('aborted', '2030-01-01T00:00:02.000Z');
        await store.create(aborted);
        await store.update({ ...aborted, outcome: 'aborted', step: 'aborted' });
        const toRetire = record('to-retire', '2030-01-01T00:00:03.000Z');
        await store.create(toRetire);
        await store.update({ ...toRetire, outcome: 'rolledBack', step: 'rolledBack', retireAfter: '2030-01-08T00:00:00.000Z' });
        const retired = record('retired', '2030-01-01T00:00:04.000Z');
        await store.create(retired);
        await store.update({ ...retired, outcome: 'committed', step: 'committed', retireAfter: T0, retiredAt: T0 });

        expect((await store.listOpen()).map((r) => r.id)).toEqual(['to-retire', 'in-window', 'running']);
        await h.pass(2 * HOUR); // past the verification window, on the store's clock
        expect((await store.listOpen()).map((r) => r.id)).toEqual(['to-retire', 'running']);
      });
    });

    describe('leases', () => {
      it('gives a lease to exactly one of two simultaneous acquirers; another app is independent', async () => {
        const { store } = await harness();
        const [a, b] = await Promise.all([store.acquireLease(APP, 'owner-a', 60_000), store.acquireLease(APP, 'owner-b', 60_000)]);
        expect([a, b].filter((l) => l !== undefined)).toHaveLength(1);
        expect(await store.acquireLease(APP, 'owner-c', 60_000)).toBeUndefined();
        expect(await store.acquireLease(SLOT, 'owner-c', 60_000)).toBeDefined();
      });

      it('says who holds it and until when, as the holder reckons it', async () => {
        const h = await harness();
        const lease = await h.store.acquireLease(APP, 'owner-a', 60_000);
        expect(lease).toMatchObject({ appId: APP, owner: 'owner-a', expiresAt: new Date(h.now().getTime() + 60_000).toISOString() });
        expect(lease!.etag).not.toBe('');
      });

      it('holds an unexpired lease against every other owner, from any instance', async () => {
        const h = await harness();
        expect(await h.store.acquireLease(APP, 'owner-a', 60_000)).toBeDefined();
        await h.pass(30_000);
        expect(await h.another().acquireLease(APP, 'owner-b', 60_000)).toBeUndefined();
      });

      it('lets an expired lease be taken over, after which the old holder can neither renew nor release it', async () => {
        const h = await harness();
        const first = await h.store.acquireLease(APP, 'crashed-owner', 60_000);
        expect(first).toBeDefined();
        await h.pass(61_000);
        const second = await h.another().acquireLease(APP, 'next-owner', 60_000);
        expect(second?.owner).toBe('next-owner');
        expect(await h.store.renewLease(first!, 60_000)).toBeUndefined();
        await h.store.releaseLease(first!); // quietly: it is not ours any more
        expect(await h.store.acquireLease(APP, 'third', 60_000)).toBeUndefined();
        const renewed = await h.store.renewLease(second!, 120_000);
        expect(renewed?.expiresAt).toBe(new Date(h.now().getTime() + 120_000).toISOString());
        await h.store.releaseLease(renewed!);
        expect(await h.store.acquireLease(APP, 'third', 60_000)).toBeDefined();
      });

      it('lets only one of two racers take over the same expired lease', async () => {
        const h = await harness();
        await h.store.acquireLease(APP, 'crashed-owner', 1_000);
        await h.pass(5_000);
        const results = await Promise.all([h.store.acquireLease(APP, 'x', 60_000), h.another().acquireLease(APP, 'y', 60_000)]);
        expect(results.filter((l) => l !== undefined)).toHaveLength(1);
      });

      it('lets the holder take its own unexpired lease again, which makes the earlier handle stale', async () => {
        const { store } = await harness();
        const first = await store.acquireLease(APP, 'owner-a', 60_000);
        const again = await store.acquireLease(APP, 'owner-a', 60_000);
        expect(again).toBeDefined();
        expect(again!.etag).not.toBe(first!.etag);
        expect(await store.renewLease(first!, 60_000)).toBeUndefined();
        expect(await store.acquireLease(APP, 'owner-b', 60_000)).toBeUndefined();
      });

      it('renewing keeps the lease held past its first term', async () => {
        const h = await harness();
        const lease = await h.store.acquireLease(APP, 'owner-a', 60_000);
        const renewed = await h.store.renewLease(lease!, 120_000);
        expect(renewed?.expiresAt).toBe(new Date(h.now().getTime() + 120_000).toISOString());
        await h.pass(90_000); // past the first term, inside the renewed one
        expect(await h.another().acquireLease(APP, 'owner-b', 60_000)).toBeUndefined();
      });

      it('a released lease is free at once, for any owner', async () => {
        const { store } = await harness();
        const lease = await store.acquireLease(APP, 'owner-a', 60_000);
        const renewed = await store.renewLease(lease!, 60_000);
        await store.releaseLease(renewed!);
        expect(await store.acquireLease(APP, 'owner-b', 60_000)).toBeDefined();
      });
    });

    describe('service state', () => {
      it('keeps small service state: absent until set, the last value wins, keys apart', async () => {
        const { store } = await harness();
        expect(await store.getState('lastScan')).toBeUndefined();
        await store.setState('lastScan', '{"at":"2030-01-01T00:00:00Z","apps":3}');
        await store.setState('lastScan', '{"at":"2030-01-02T00:00:00Z","apps":4}');
        await store.setState('other/key?#', 'x');
        expect(await store.getState('lastScan')).toBe('{"at":"2030-01-02T00:00:00Z","apps":4}');
        expect(await store.getState('other/key?#')).toBe('x');
      });
    });
  });
}
