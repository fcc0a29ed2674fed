// Which apps of a webspace load which certificates. Certificates are shared by every app and slot of
// a webspace, opted in or not, so deleting one (retirement, a `*` rollback) first reads the settings
// of all of them; if any cannot be read, the answer is "unknown" and nothing is deleted.
import { collect, mapLimit } from './concurrency.js';
import { describeError } from './errors.js';
import { appIdOf, appNameOf } from './identity.js';
import type { AppRef, AppServiceGateway, SiteInfo } from './ports.js';
import { settingValue } from './inventory/appSettings.js';
import { LOAD_CERTIFICATES_SETTING } from './tags.js';
import { parseLoadCertificates } from './thumbprints.js';

export interface AppUsage {
  appId: string;
  name: string;
  ref: AppRef;
  mode: 'explicit' | 'wildcard';
  /** Loaded thumbprints (explicit mode). */
  thumbprints: string[];
}

export interface WebspaceUsage {
  webspace: string;
  apps: AppUsage[];
  /** Apps (or slot listings) that could not be read; non-empty = the usage is not fully known. */
  unreadable: string[];
}

const USAGE_CONCURRENCY = 4;

export async function readWebspaceUsage(
  gateway: AppServiceGateway,
  subscriptionId: string,
  webspace: string,
): Promise<WebspaceUsage> {
  const key = webspace.toLowerCase();
  const usage: WebspaceUsage = { webspace, apps: [], unreadable: [] };
  const sites = (await collect(gateway.listSites(subscriptionId))).filter((s) => s.webspace.toLowerCase() === key);
  const everything: SiteInfo[] = [...sites];
  await mapLimit(sites, USAGE_CONCURRENCY, async (site) => {
    try {
      everything.push(...(await collect(gateway.listSlots(site))));
    } catch (error) {
      usage.unreadable.push(`slots of ${site.ref.site}: ${describeError(error)}`);
    }
  });
  await mapLimit(everything, USAGE_CONCURRENCY, async (site) => {
    try {
      const settings = await gateway.readAppSettings(site.ref);
      const parsed = parseLoadCertificates(settingValue(settings, LOAD_CERTIFICATES_SETTING));
      usage.apps.push({
        appId: appIdOf(site.ref),
        name: appNameOf(site.ref),
        ref: site.ref,
        mode: parsed.mode,
        thumbprints: parsed.mode === 'explicit' ? parsed.thumbprints : [],
      });
    } catch (error) {
      usage.unreadable.push(`${appNameOf(site.ref)}: ${describeError(error)}`);
    }
  });
  return usage;
}
