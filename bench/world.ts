// The fan-out benchmark's world: `apps` due apps in one subscription, each restarting in a fixed time and calling
// a partner API over mTLS. Shared by the sandbox child and the figures it is described by.
import { scaleScenario, type Scenario } from '../sandbox/index.js';

export function dueWorld(apps: number, restartMs: number): Scenario {
  // One app per resource group: each app its own webspace, so the uploads of the renewed certificate do not contend
  // for one webspace's thumbprint (a shared webspace is reused, which is another path than the one measured).
  const scenario = scaleScenario({ subscriptions: 1, appsPerSubscription: apps, due: apps, appsPerResourceGroup: 1, withDownstream: true });
  for (const rg of scenario.subscriptions[0]!.resourceGroups) for (const site of rg.sites ?? []) site.restartMs = restartMs;
  return scenario;
}
