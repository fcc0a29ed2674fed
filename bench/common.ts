// Shared set-up of the benchmark: a config for the sandbox and the ARM call figures the floor is measured against.
import { scaleScenario, type Sandbox, type Scenario } from '../sandbox/index.js';
import { loadConfig, type Config } from '../src/core/index.js';

/** Azurite's well-known development account; the scan never touches storage, so nothing listens for it there. */
export const DEV_STORAGE = 'UseDevelopmentStorage=true';

/** The settings (environment form) of an engine talking to a sandbox; `extra` overrides or adds. */
export function sandboxSettings(
  sb: Pick<Sandbox, 'armEndpoint' | 'token'>,
  subscriptionIds: string[],
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    AZURE_SUBSCRIPTION_IDS: subscriptionIds.join(','),
    ARM_ENDPOINT: sb.armEndpoint,
    AZURE_CREDENTIAL: 'static',
    AZURE_STATIC_TOKEN: sb.token,
    KEYVAULT_CHALLENGE_VERIFICATION: 'false',
    KEYVAULT_ALLOWED_HOSTS: '127.0.0.1',
    AzureWebJobsStorage: DEV_STORAGE,
    PROBE_WARMUP_SECONDS: '0',
    PROBE_BACKOFF_SECONDS: '1',
    PROBE_TIMEOUT_SECONDS: '5',
    // The sandbox's downstreams listen on loopback, which the probe target policy refuses unless allow-listed.
    PROBE_ALLOWED_TARGETS: '127.0.0.1',
    ...extra,
  };
}

export function sandboxConfig(sb: Sandbox, subscriptionIds: string[], extra: Record<string, string> = {}): Config {
  return loadConfig(sandboxSettings(sb, subscriptionIds, extra));
}

/**
 * The least number of ARM calls a scan can make: per subscription the pages of the site listing and of
 * the certificate listing, plus one settings read (`POST …/config/appsettings/list`, a write in ARM's quota) per
 * opted-in app. Reads = pages, writes = settings reads.
 */
export function scanFloor(scenario: Scenario): { reads: number; writes: number; perSubscription: { reads: number; writes: number }[] } {
  const pageSize = scenario.armPageSize ?? 100;
  const pages = (n: number) => Math.max(1, Math.ceil(n / pageSize));
  const perSubscription = scenario.subscriptions.map((sub) => {
    const sites = sub.resourceGroups.flatMap((rg) => rg.sites ?? []);
    const certificates = sub.resourceGroups.reduce((n, rg) => n + (rg.certificates?.length ?? 0), 0);
    const optedIn = sites.filter((s) => s.tags?.['mtls-rotation'] === 'enabled').length;
    return { reads: pages(sites.length) + pages(certificates), writes: optedIn };
  });
  return {
    reads: perSubscription.reduce((n, s) => n + s.reads, 0),
    writes: perSubscription.reduce((n, s) => n + s.writes, 0),
    perSubscription,
  };
}

export { scaleScenario };
