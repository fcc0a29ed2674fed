// What the inventory finds: facts only (apps, what they load, where it comes from, what the source has now). No
// decision is made here; the decision (src/core/decision/) reads these facts and adds its verdict per binding.
import type { Clock } from '../ports.js';
import type { Logger } from '../logger.js';
import type { AppRef, AppServiceGateway, CertificateInfo, CertificateSource, KeyVaultCertificateVersion, KeyVaultSource, SiteInfo } from '../ports.js';
import type { CandidateRefusal } from '../refusals.js';
import type { AppTagConfig } from '../tags.js';

/** What an app loads: a certificate resource's thumbprint and dates (dates unknown for a dangling pin). */
export interface LoadedCertificate {
  thumbprint: string;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Where a binding's source was found:
 * linked = the resource's keyVaultId + keyVaultSecretName; rotatorTag = the `<p>-source` tag the
 * rotator puts on resources it uploads; appTag = the app's own `<p>-source` tag; elsewhere = a
 * resource with the same thumbprint in another webspace (for a dangling thumbprint).
 */
export type SourceOrigin = 'linked' | 'rotatorTag' | 'appTag' | 'elsewhere';

export interface InventoryBinding {
  /** Stable within the app: the pinned thumbprint (explicit) or the source URL, lowercased (`*`). */
  key: string;
  mode: 'explicit' | 'wildcard';
  /** What the app loads; undefined for a `*` app with nothing of its source in the webspace. */
  loaded?: LoadedCertificate;
  /** The certificate resource in the app's webspace holding `loaded`. */
  certificate?: CertificateInfo;
  /** A pinned thumbprint without a certificate resource in the webspace. */
  dangling: boolean;
  source?: KeyVaultSource;
  sourceOrigin?: SourceOrigin;
  /** The source's newest version. */
  latest?: KeyVaultCertificateVersion;
  /** Why this binding cannot be evaluated or rotated (no source, the source unreadable, ...). */
  problem?: string;
  /** The source may not be used by this app (SourceNotAuthorized): no grant, or not a Key Vault host. */
  refused?: CandidateRefusal;
}

export interface InventoryApp<B extends InventoryBinding = InventoryBinding> {
  appId: string;
  ref: AppRef;
  /** "site" or "site/slot". */
  name: string;
  site: SiteInfo;
  tags: AppTagConfig;
  mode: 'explicit' | 'wildcard';
  /** WEBSITE_LOAD_CERTIFICATES as read (public data: thumbprints). */
  loadCertificates?: string;
  bindings: B[];
  /** Problems that stop any change to this app (bad tags, unreadable or malformed settings). */
  problems: string[];
  /** Settings could not be read: nothing about this app (or its webspace) is fully known. */
  settingsUnreadable?: boolean;
  /**
   * The loaded thumbprint that a `<p>-settings` key (e.g. CLIENT_CERT_THUMBPRINT) names: the
   * certificate the app presents, so the via-app probe knows what to expect.
   */
  selectedThumbprint?: string;
}

export interface SubscriptionScan {
  subscriptionId: string;
  ok: boolean;
  error?: string;
  /** Every site listed, and the slots listed (of `<p>-slots=true` sites); opted in or not. */
  sites: SiteInfo[];
  certificates: CertificateInfo[];
  /** Webspaces where some opted-in app's settings could not be read (retirement skips them). */
  unreadableWebspaces: string[];
}

export interface ScanProblem {
  subscriptionId: string;
  appId?: string;
  message: string;
}

export interface InventoryResult<A extends InventoryApp = InventoryApp> {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  subscriptions: SubscriptionScan[];
  apps: A[];
  problems: ScanProblem[];
}

export interface ScanDeps {
  gateway: AppServiceGateway;
  sources: CertificateSource;
  clock: Clock;
  logger: Logger;
}
