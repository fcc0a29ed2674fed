// Which subscriptions a run covers. AZURE_SUBSCRIPTION_IDS lists them, or (unset, empty or `*`) the rotator
// discovers them: every subscription its identity can list (Subscriptions_List, all pages), so one installation
// covers a tenant and a subscription added later is scanned without editing settings. The identity's RBAC
// decides what it sees; granting it Reader + the rotation role on a subscription is what opts one in.
//
// States (Microsoft.Resources SubscriptionState; learn.microsoft.com "Azure subscription states"):
// - Enabled: scanned.
// - Warned and PastDue: scanned. Both are billing states of a subscription that is still active: its apps keep
//   running and ARM still takes writes, so their certificates still expire and still need rotating. Skipping
//   them would let an app's certificate lapse while its owner sorts out an invoice.
// - Disabled and Deleted: skipped. The subscription's apps are stopped and ARM refuses writes
//   (ReadOnlyDisabledSubscription), so a rotation could only fail; the plan lists them as skipped.
// An unknown state is skipped too and listed with it: scanning a state the rotator does not understand could write
// into a subscription that is being torn down.

import { PreconditionError } from './errors.js';

/** One entry of Subscriptions_List, as the adapter hands it over. */
export interface ListedSubscription {
  subscriptionId: string;
  displayName?: string;
  state?: string;
}

/** The port: the subscriptions the rotator's identity can list (every page). */
export interface SubscriptionDirectory {
  list(): AsyncIterable<ListedSubscription>;
}

export const SCANNED_SUBSCRIPTION_STATES: readonly string[] = ['Enabled', 'Warned', 'PastDue'];

export interface SubscriptionDiscovery {
  /** Scanned: Enabled, Warned, PastDue. */
  found: Array<{ subscriptionId: string; displayName?: string; state: string }>;
  /** Listed but not scanned, with their state. */
  skipped: Array<{ subscriptionId: string; displayName?: string; state: string }>;
}

/** Thrown when discovery is configured but no directory was composed (a wiring fault, not bad input). */
export class SubscriptionDiscoveryUnavailableError extends PreconditionError {
  override readonly code: string = 'SubscriptionDiscoveryUnavailable';
}

export async function discoverSubscriptions(directory: SubscriptionDirectory): Promise<SubscriptionDiscovery> {
  const discovery: SubscriptionDiscovery = { found: [], skipped: [] };
  const seen = new Set<string>();
  for await (const s of directory.list()) {
    const id = s.subscriptionId.toLowerCase();
    if (seen.has(id)) continue;
    seen.add(id);
    const entry = { subscriptionId: id, ...(s.displayName !== undefined ? { displayName: s.displayName } : {}), state: s.state ?? 'Unknown' };
    const scanned = SCANNED_SUBSCRIPTION_STATES.some((state) => state.toLowerCase() === entry.state.toLowerCase());
    (scanned ? discovery.found : discovery.skipped).push(entry);
  }
  return discovery;
}

/**
 * The subscription ids a run covers: the configured list, or the discovered ones (with what was found and
 * skipped, for the plan). The hook every place that resolves subscriptions calls.
 */
export async function subscriptionsInScope(
  deps: { subscriptions?: SubscriptionDirectory },
  config: { subscriptionIds: string[]; subscriptionDiscovery?: boolean },
): Promise<{ ids: string[]; discovery?: SubscriptionDiscovery }> {
  if (config.subscriptionDiscovery !== true) return { ids: config.subscriptionIds };
  if (deps.subscriptions === undefined) {
    throw new SubscriptionDiscoveryUnavailableError('AZURE_SUBSCRIPTION_IDS asks for discovery (unset or *), but no subscription directory was composed');
  }
  const discovery = await discoverSubscriptions(deps.subscriptions);
  return { ids: discovery.found.map((s) => s.subscriptionId), discovery };
}
