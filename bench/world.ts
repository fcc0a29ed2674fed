// The fan-out benchmark's world: `apps` due apps in one subscription, each restarting in a fixed time and calling
// a partner API over mTLS. Shared by the sandbox child and the figures it is described by.
import { scaleScenario, type Scenario } from '../sandbox/index.js';

export interface DueWorldOptions {
  /**
   * Every app loads a certificate of its own, renewed by a Key Vault version of its own (a fleet where no two apps
   * share a client certificate), instead of all of them sharing one.
   */
  distinctCertificates?: boolean;
}

export function dueWorld(apps: number, restartMs: number, options: DueWorldOptions = {}): Scenario {
  // One app per resource group: each app its own webspace, so the uploads of the renewed certificate do not contend
  // for one webspace's thumbprint (a shared webspace is reused, which is another path than the one measured).
  const scenario = scaleScenario({ subscriptions: 1, appsPerSubscription: apps, due: apps, appsPerResourceGroup: 1, withDownstream: true });
  const facts = scenario.meta?.facts as { vault: string; dueSource: string };
  const vault = scenario.vaults!.find((v) => v.name === facts.vault)!;
  const shared = vault.certificates!.find((c) => c.name === facts.dueSource)!;
  scenario.subscriptions[0]!.resourceGroups.forEach((rg, i) => {
    for (const site of rg.sites ?? []) site.restartMs = restartMs;
    if (!options.distinctCertificates) return;
    const name = `${facts.dueSource}-${i}`;
    // The loaded version may share its key with the others (it is only loaded); the renewal is a certificate and
    // key of its own, so each rotation reads, checks and re-encrypts its own PFX.
    vault.certificates!.push({
      name,
      versions: [
        { ...shared.versions[0]! },
        { ...shared.versions[1]!, material: `${name}-v1` },
      ],
    });
    rg.certificates = (rg.certificates ?? []).map((c) =>
      'fromVault' in c && c.fromVault.certificate === facts.dueSource ? { ...c, name: `${name}-v0`, fromVault: { ...c.fromVault, certificate: name } } : c,
    );
    for (const site of rg.sites ?? []) {
      const swap = (value: string) => value.replaceAll(`${facts.vault}/${facts.dueSource}`, `${facts.vault}/${name}`);
      site.tags = Object.fromEntries(Object.entries(site.tags ?? {}).map(([k, v]) => [k, swap(v)]));
      site.settings = Object.fromEntries(Object.entries(site.settings ?? {}).map(([k, v]) => [k, swap(v)]));
    }
  });
  return scenario;
}
