// The scan use case: the inventory's facts (src/core/inventory/) with the decision's verdict on every binding
// (src/core/decision/). Neither knows the other: the inventory hands each app to `decideApp` as soon as it is read.
import type { Config } from './config.js';
import { decide, type BindingEvaluation, type CertificateBinding, type ScannedApp, type ScanResult } from './decision/decide.js';
import { renewalPolicies } from './decision/policies.js';
import { keepOwnedSettings } from './inventory/appSettings.js';
import { Interner } from './inventory/interning.js';
import { inventoryOfApp, takeInventory } from './inventory/inventory.js';
import type { InventoryApp, ScanDeps } from './inventory/types.js';
import type { AppRef, AppSettings, SiteInfo } from './ports.js';

export type { CertificateBinding, ScannedApp, ScanResult } from './decision/decide.js';
export type { ScanDeps, ScanProblem, SourceOrigin, SubscriptionScan } from './inventory/types.js';
export { SETTINGS_READ_CONCURRENCY } from './inventory/inventory.js';
export { ownedSettingsSeenBy, settingValue } from './inventory/appSettings.js';

/** Scans every configured subscription, in parallel; one failing subscription does not stop the others. */
export function scanInventory(
  deps: ScanDeps,
  config: Config,
  options: { subscriptionIds?: string[]; force?: boolean } = {},
): Promise<ScanResult> {
  return takeInventory(deps, config, {
    ...(options.subscriptionIds ? { subscriptionIds: options.subscriptionIds } : {}),
    decide: appDecider(deps, config, options.force),
  });
}

/**
 * Scans one app without a subscription-wide listing: the site, its settings, the certificates of its
 * resource group (its webspace's), and only for a dangling thumbprint without an app source tag, the
 * subscription's certificates. Used by `rotateApp` and by resume.
 */
export function scanApp(
  deps: ScanDeps,
  config: Config,
  ref: AppRef,
  options: { force?: boolean; site?: SiteInfo } = {},
): Promise<ScannedApp | undefined> {
  return inventoryOfApp(deps, config, ref, { ...(options.site ? { site: options.site } : {}), decide: appDecider(deps, config, options.force) });
}

function appDecider(deps: ScanDeps, config: Config, force = false): (app: InventoryApp, settings: AppSettings | undefined) => ScannedApp {
  const policies = renewalPolicies(deps.clock, config);
  const candidatePolicy = { maxLifetimeDays: config.candidateMaxLifetimeDays };
  const strings = new Interner();
  // Evaluations by content: 10,000 up-to-date apps on one certificate hold one evaluation, not 10,000.
  const evaluations = new Map<string, BindingEvaluation>();
  return (app, settings) => {
    const scanned = app as ScannedApp;
    for (const binding of app.bindings as CertificateBinding[]) {
      binding.evaluation = sharedEvaluation(strings, evaluations, decide(binding, policies, deps.clock.now(), { force, candidatePolicy }));
    }
    if (settings && scanned.mode === 'explicit' && scanned.bindings.some((b) => b.evaluation.due)) keepOwnedSettings(scanned, settings, scanned.tags.settings);
    return scanned;
  };
}

/**
 * One object per distinct evaluation: the decision message is a fresh string per app (the thumbprint and dates
 * spliced in), though thousands of apps on one certificate get the same one. Frozen, since apps share it.
 */
function sharedEvaluation(strings: Interner, evaluations: Map<string, BindingEvaluation>, evaluation: BindingEvaluation): BindingEvaluation {
  // A refusal carries its own details; such evaluations are rare (a person must act): keep them as they are.
  if (evaluation.refusal) return evaluation;
  const { decision, due, forced, daysRemaining } = evaluation;
  const message = strings.intern(decision.message);
  const key = `${decision.reason}\u0000${message}\u0000${due}\u0000${forced ?? ''}\u0000${daysRemaining ?? ''}`;
  let shared = evaluations.get(key);
  if (shared === undefined) {
    shared = Object.freeze({ ...evaluation, decision: Object.freeze({ ...decision, message }) });
    evaluations.set(key, shared);
  }
  return shared;
}
