// The discovery rules on their own (the sandbox cannot serve a state ARM does not have, or a duplicate entry);
// test/azure/subscriptionDirectory.test.ts runs them with the real client against the sandbox.
import { describe, expect, it } from 'vitest';
import { PreconditionError } from '../../src/core/errors.js';
import { discoverSubscriptions, subscriptionsInScope, type ListedSubscription } from '../../src/core/subscriptions.js';

const directory = (items: ListedSubscription[]) => ({
  async *list() {
    yield* items;
  },
});

describe('discoverSubscriptions', () => {
  it.each([
    ['a state the rotator does not know is skipped, and listed with it', [{ subscriptionId: 'A', state: 'Suspended' }], [], ['a Suspended']],
    ['no state at all is skipped as Unknown', [{ subscriptionId: 'A' }], [], ['a Unknown']],
    ['states compare case-insensitively', [{ subscriptionId: 'A', state: 'pastdue' }], ['a pastdue'], []],
    ['a subscription listed twice counts once', [{ subscriptionId: 'A', state: 'Enabled' }, { subscriptionId: 'a', state: 'Enabled' }], ['a Enabled'], []],
  ])('%s', async (_what, items, found, skipped) => {
    const d = await discoverSubscriptions(directory(items));
    expect(d.found.map((s) => `${s.subscriptionId} ${s.state}`)).toEqual(found);
    expect(d.skipped.map((s) => `${s.subscriptionId} ${s.state}`)).toEqual(skipped);
  });
});

describe('subscriptionsInScope', () => {
  it('a configured list is used as it is, and the directory is not asked', async () => {
    let asked = false;
    const ids = await subscriptionsInScope(
      { subscriptions: { async *list() { asked = true; } } },
      { subscriptionIds: ['x'], subscriptionDiscovery: false },
    );
    expect([ids, asked]).toEqual([{ ids: ['x'] }, false]);
  });

  it('discovery without a composed directory is a precondition error that names the setting', async () => {
    await expect(subscriptionsInScope({}, { subscriptionIds: [], subscriptionDiscovery: true })).rejects.toSatisfy(
      (e: unknown) => e instanceof PreconditionError && /AZURE_SUBSCRIPTION_IDS/.test((e as Error).message),
    );
  });
});
