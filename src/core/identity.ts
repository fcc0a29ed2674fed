// App identity: the canonical ARM resource id. ARM ids are case-insensitive and ARM itself is not
// consistent about case (resourceGroups vs resourcegroups, resource-group names as typed), so the key
// the rotator stores and leases under is the lowercased id.
import type { AppRef } from './ports.js';

export function appIdOf(ref: AppRef): string {
  const base =
    `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}` +
    `/providers/Microsoft.Web/sites/${ref.site}`;
  return (ref.slot ? `${base}/slots/${ref.slot}` : base).toLowerCase();
}

const APP_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/sites\/([^/]+)(?:\/slots\/([^/]+))?\/?$/i;

/** Parses a site or slot resource id; undefined when it is not one. */
export function parseAppId(id: string): AppRef | undefined {
  const match = APP_ID.exec(id.trim());
  if (!match) return undefined;
  const [, subscriptionId, resourceGroup, site, slot] = match as unknown as [string, string, string, string, string?];
  return slot ? { subscriptionId, resourceGroup, site, slot } : { subscriptionId, resourceGroup, site };
}

export function looksLikeResourceId(value: string): boolean {
  return value.trim().toLowerCase().startsWith('/subscriptions/');
}

/** "site" or "site/slot", for messages. */
export function appNameOf(ref: AppRef): string {
  return ref.slot ? `${ref.site}/${ref.slot}` : ref.site;
}

/**
 * The key that groups certificates shared by apps: resource group + region, compared
 * case-insensitively and without spaces ("West Europe" and "westeurope" are one region).
 * Adapters may use it to fill `SiteInfo.webspace` and `CertificateInfo.webspace`.
 */
export function webspaceKey(resourceGroup: string, location: string): string {
  return `${resourceGroup.toLowerCase()}|${location.toLowerCase().replace(/\s+/g, '')}`;
}
