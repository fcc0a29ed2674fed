// The sandbox's in-memory Azure: subscriptions, resource groups, sites and slots with their settings,
// Microsoft.Web/certificates grouped by webspace, and Key Vault certificates with versions. Every lookup is a
// Map hit and every list is a slice of an array kept in insertion order, so a scan of 10,000 apps costs the
// sandbox O(apps), not O(apps²).
import type { AppRef } from '../src/core/ports.js';
import type { LoadedCertificate, SimulatedApp } from './apps.js';
import type { Material, SecretForm } from './materials.js';
import type { HealthShape, SecretContentType, SecretDefect } from './scenario.js';

export interface AppBehaviour {
  downstream?: string;
  healthPath: string;
  restartMs: number;
  hangRestart: boolean;
  /** Restarts finish without reloading certificates or settings (RestartBehaviour.stale). */
  staleRestart?: boolean;
  health?: HealthShape;
  warmupMs?: number;
}

export interface AppState {
  ref: AppRef;
  /** Lowercase "sub/rg/site[/slot]". */
  key: string;
  id: string;
  location: string;
  webspace: string;
  kind: string;
  serverFarmId: string;
  tags: Record<string, string>;
  settings: Record<string, string>;
  behaviour: AppBehaviour;
  readonly initialBehaviour: AppBehaviour;
  restarts: number;
  lastModified: Date;
  /** Set when simulated apps run. */
  app?: SimulatedApp;
  /** Sites only: their slots, in declaration order. */
  slots?: AppState[];
  slotByName?: Map<string, AppState>;
}

export interface WebCertificate {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  webspace: string;
  tags: Record<string, string>;
  material: Material;
  keyVaultId?: string;
  keyVaultSecretName?: string;
  serverFarmId?: string;
  hostNames: string[];
}

export interface ResourceGroupState {
  name: string;
  location: string;
}

export interface SubscriptionState {
  id: string;
  displayName: string;
  groups: Map<string, ResourceGroupState>;
  sites: AppState[];
  /** lowercase resource group → its sites, so listing one group does not walk the subscription. */
  sitesByGroup: Map<string, AppState[]>;
  siteByKey: Map<string, AppState>;
  /** key: lowercase "rg/name"; insertion order is list order. */
  certificates: Map<string, WebCertificate>;
  /** lowercase resource group → (lowercase name → certificate). */
  certificatesByGroup: Map<string, Map<string, WebCertificate>>;
}

export interface VaultVersion {
  version: string;
  material: Material;
  enabled: boolean;
  created: Date;
  updated: Date;
  defect?: SecretDefect;
  /** Built on first GET /secrets (a PFX costs a few ms of forge work; scale scenarios never read most). */
  secret?: SecretForm;
}

export interface VaultCertificate {
  name: string;
  contentType: SecretContentType;
  forbidden: boolean;
  tags: Record<string, string>;
  /** Oldest first; the last is the current version. */
  versions: VaultVersion[];
  byVersion: Map<string, VaultVersion>;
}

export interface VaultState {
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  forbidden: boolean;
  /** https://127.0.0.1:<port> (no trailing slash). */
  url: string;
  /** ARM resource id. */
  id: string;
  certificates: Map<string, VaultCertificate>;
}

/** Webspace = subscription + resource group + region; certificates are shared by the apps of one webspace. */
export function webspaceKey(subscriptionId: string, resourceGroup: string, location: string): string {
  return `${subscriptionId}|${resourceGroup}|${location.replace(/\s+/g, '')}`.toLowerCase();
}

export function appKey(ref: AppRef): string {
  return [ref.subscriptionId, ref.resourceGroup, ref.site, ...(ref.slot !== undefined ? [ref.slot] : [])].join('/').toLowerCase();
}

export function siteResourceId(ref: AppRef): string {
  const base = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Web/sites/${ref.site}`;
  return ref.slot !== undefined ? `${base}/slots/${ref.slot}` : base;
}

export function certificateResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/certificates/${name}`;
}

export function vaultResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`;
}

/** WEBSITE_LOAD_CERTIFICATES → '*' or the listed thumbprints (trimmed, uppercase). */
export function parseLoadCertificates(value: string | undefined): '*' | Set<string> {
  const entries = (value ?? '')
    .split(',')
    .map((t) => t.trim().toUpperCase())
    .filter((t) => t !== '');
  if (entries.includes('*')) return '*';
  return new Set(entries);
}

export class World {
  readonly subscriptions = new Map<string, SubscriptionState>();
  readonly vaults = new Map<string, VaultState>();
  readonly apps = new Map<string, AppState>();
  /** webspace key → (lowercase cert name → certificate) */
  private readonly webspaces = new Map<string, Map<string, WebCertificate>>();

  subscription(id: string): SubscriptionState | undefined {
    return this.subscriptions.get(id.toLowerCase());
  }

  addSubscription(id: string, displayName: string): SubscriptionState {
    const s: SubscriptionState = {
      id,
      displayName,
      groups: new Map(),
      sites: [],
      sitesByGroup: new Map(),
      siteByKey: new Map(),
      certificates: new Map(),
      certificatesByGroup: new Map(),
    };
    this.subscriptions.set(id.toLowerCase(), s);
    return s;
  }

  addApp(app: AppState, parent?: AppState): void {
    this.apps.set(app.key, app);
    if (parent === undefined) {
      const sub = this.subscription(app.ref.subscriptionId)!;
      sub.sites.push(app);
      const rg = app.ref.resourceGroup.toLowerCase();
      let group = sub.sitesByGroup.get(rg);
      if (group === undefined) {
        group = [];
        sub.sitesByGroup.set(rg, group);
      }
      group.push(app);
      sub.siteByKey.set(`${app.ref.resourceGroup}/${app.ref.site}`.toLowerCase(), app);
    } else {
      parent.slots ??= [];
      parent.slotByName ??= new Map();
      parent.slots.push(app);
      parent.slotByName.set(app.ref.slot!.toLowerCase(), app);
    }
  }

  app(ref: AppRef): AppState | undefined {
    return this.apps.get(appKey(ref));
  }

  /** Throws when the app does not exist (control calls name apps the caller knows). */
  requireApp(ref: AppRef): AppState {
    const a = this.app(ref);
    if (a === undefined) throw new RangeError(`no such app: ${siteResourceId(ref)}`);
    return a;
  }

  certificate(subscriptionId: string, resourceGroup: string, name: string): WebCertificate | undefined {
    return this.subscription(subscriptionId)?.certificates.get(`${resourceGroup}/${name}`.toLowerCase());
  }

  /** Another certificate of the webspace with this thumbprint (App Service refuses duplicates per webspace). */
  certificateWithThumbprint(webspace: string, thumbprint: string, exceptName?: string): WebCertificate | undefined {
    for (const c of this.webspaces.get(webspace)?.values() ?? []) {
      if (c.material.thumbprint === thumbprint && c.name.toLowerCase() !== exceptName?.toLowerCase()) return c;
    }
    return undefined;
  }

  putCertificate(c: WebCertificate): void {
    const sub = this.subscription(c.subscriptionId)!;
    const key = `${c.resourceGroup}/${c.name}`.toLowerCase();
    const previous = sub.certificates.get(key);
    if (previous !== undefined) this.webspaces.get(previous.webspace)?.delete(previous.name.toLowerCase());
    sub.certificates.set(key, c);
    const rg = c.resourceGroup.toLowerCase();
    let group = sub.certificatesByGroup.get(rg);
    if (group === undefined) {
      group = new Map();
      sub.certificatesByGroup.set(rg, group);
    }
    group.set(c.name.toLowerCase(), c);
    let ws = this.webspaces.get(c.webspace);
    if (ws === undefined) {
      ws = new Map();
      this.webspaces.set(c.webspace, ws);
    }
    ws.set(c.name.toLowerCase(), c);
  }

  deleteCertificate(subscriptionId: string, resourceGroup: string, name: string): boolean {
    const sub = this.subscription(subscriptionId);
    const key = `${resourceGroup}/${name}`.toLowerCase();
    const c = sub?.certificates.get(key);
    if (sub === undefined || c === undefined) return false;
    sub.certificates.delete(key);
    sub.certificatesByGroup.get(c.resourceGroup.toLowerCase())?.delete(c.name.toLowerCase());
    this.webspaces.get(c.webspace)?.delete(c.name.toLowerCase());
    return true;
  }

  webspaceCertificates(webspace: string): WebCertificate[] {
    return [...(this.webspaces.get(webspace)?.values() ?? [])];
  }

  /** What App Service would put in /var/ssl/private for this app: WEBSITE_LOAD_CERTIFICATES over its webspace. */
  loadCertificates(app: AppState): LoadedCertificate[] {
    const wanted = parseLoadCertificates(app.settings.WEBSITE_LOAD_CERTIFICATES);
    const out: LoadedCertificate[] = [];
    for (const c of this.webspaces.get(app.webspace)?.values() ?? []) {
      if (wanted === '*' || wanted.has(c.material.thumbprint)) {
        out.push({ thumbprint: c.material.thumbprint, certPem: c.material.certPem, keyPem: c.material.keyPem, notAfter: c.material.notAfter });
      }
    }
    return out;
  }

  vault(name: string): VaultState | undefined {
    return this.vaults.get(name.toLowerCase());
  }

  vaultById(resourceId: string): VaultState | undefined {
    const m = /\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)$/i.exec(resourceId.trim());
    if (m === null) return undefined;
    const v = this.vault(m[1]!);
    return v !== undefined && v.id.toLowerCase() === resourceId.trim().toLowerCase() ? v : undefined;
  }
}
