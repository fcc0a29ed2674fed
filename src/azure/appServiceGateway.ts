// AppServiceGateway over the real `@azure/arm-appservice` client (v19, the TypeSpec "modular" client: one client
// per subscription). Every call goes through one pipeline per subscription: the shared credential, the ARM pacer
// (per attempt, after the retry phase) and, for the sandbox, an extra trusted CA.
import type { TokenCredential } from '@azure/core-auth';
import {
  createDefaultHttpClient,
  createPipelineRequest,
  RestError,
  type HttpClient,
  type PipelinePolicy,
} from '@azure/core-rest-pipeline';
import { WebSiteManagementClient, type Certificate, type Site } from '@azure/arm-appservice';
import { attemptTimeoutPolicy } from './pipeline.js';
import type {
  AppRef,
  AppServiceGateway,
  CertificateInfo,
  SiteInfo,
  UploadCertificateInput,
} from '../core/ports.js';
import type { AppSettings } from '../core/ports.js';
import { AzureNotFoundError, AzurePreconditionError, callAzure, callAzureOptional, type AzureErrorContext } from './errors.js';

/** The api-version of `Microsoft.KeyVault/vaults` GET (stable; returns properties.vaultUri). */
export const KEY_VAULT_ARM_API_VERSION = '2023-07-01';

export interface AppServiceGatewayOptions {
  /** ARM_ENDPOINT, e.g. https://management.azure.com (no trailing slash needed). */
  endpoint: string;
  /** ARM_AUDIENCE: the token audience; defaults to the endpoint (an accepted audience in every Azure cloud). */
  audience?: string;
  credential: TokenCredential;
  /** Extra CA certificates (PEM) to trust besides the system ones: the sandbox CA. */
  tlsCa?: string;
  /** Per-attempt policies (the ARM pacer or its counter). */
  perRetryPolicies?: PipelinePolicy[];
  /** Per-attempt timeout until the response headers arrive; a timed-out call becomes a TransientError. */
  attemptTimeoutMs?: number;
}

/** `West Europe` → `westeurope`: ARM reports display names in some places and short names in others. */
export function normalizeLocation(location: string): string {
  return location.toLowerCase().replace(/[\s_-]+/g, '');
}

/**
 * Certificates are shared within a webspace: subscription + resource group + region. Resource group names are
 * case-insensitive in ARM, so the key is lowercased.
 */
export function webspaceKey(subscriptionId: string, resourceGroup: string, location: string): string {
  return `${subscriptionId.toLowerCase()}/${resourceGroup.toLowerCase()}/${normalizeLocation(location)}`;
}

export function appResourceId(ref: AppRef): string {
  const site = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Web/sites/${ref.site}`;
  return ref.slot ? `${site}/slots/${ref.slot}` : site;
}

export function certificateResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/certificates/${name}`;
}

export interface ParsedResourceId {
  subscriptionId: string;
  resourceGroup: string;
  provider: string;
  /** Type segments and names after the provider, e.g. ['sites', 'app', 'slots', 'staging']. */
  segments: string[];
}

/** Parses `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}]`. */
export function parseResourceId(id: string): ParsedResourceId | undefined {
  const parts = id.split('/').filter((p) => p !== '');
  if (parts.length < 6) return undefined;
  if (parts[0].toLowerCase() !== 'subscriptions' || parts[2].toLowerCase() !== 'resourcegroups') return undefined;
  if (parts[4].toLowerCase() !== 'providers') return undefined;
  return { subscriptionId: parts[1], resourceGroup: parts[3], provider: parts[5], segments: parts.slice(6) };
}

/** AppRef of a site or slot from its ARM id (the slot's `name` is `site/slot`, so the id is the reliable source). */
export function appRefFromId(id: string): AppRef | undefined {
  const parsed = parseResourceId(id);
  if (!parsed || parsed.provider.toLowerCase() !== 'microsoft.web') return undefined;
  const [type, site, slotType, slot] = parsed.segments;
  if (type?.toLowerCase() !== 'sites' || !site) return undefined;
  const ref: AppRef = { subscriptionId: parsed.subscriptionId, resourceGroup: parsed.resourceGroup, site };
  if (slotType?.toLowerCase() === 'slots' && slot) ref.slot = slot;
  return ref;
}

/**
 * Returns one shared copy of equal strings. A listing of thousands of sites repeats the same subscription id,
 * resource group, region, webspace, plan id and tag names and values in every item, each parsed into a separate
 * string; one copy each keeps a scan's inventory small. Made per listing, so it lives as long as it.
 */
export type Interner = (value: string) => string;

export function createInterner(): Interner {
  const known = new Map<string, string>();
  return (value) => {
    const found = known.get(value);
    if (found !== undefined) return found;
    known.set(value, value);
    return value;
  };
}

const noInterning: Interner = (value) => value;

function internTags(tags: Record<string, string> | undefined, intern: Interner): Record<string, string> {
  const out: Record<string, string> = {};
  if (tags) for (const name of Object.keys(tags)) out[intern(name)] = intern(tags[name]);
  return out;
}

function internOptional(value: string | undefined, intern: Interner): string | undefined {
  return value === undefined ? undefined : intern(value);
}

export function toSiteInfo(site: Site, intern: Interner = noInterning): SiteInfo {
  const id = site.id ?? '';
  const parsed = appRefFromId(id);
  if (parsed === undefined) throw new AzurePreconditionError(`ARM listed a site with an unexpected id '${id}'`, { operation: 'map site', resource: id });
  const ref: AppRef = { subscriptionId: intern(parsed.subscriptionId), resourceGroup: intern(parsed.resourceGroup), site: parsed.site };
  if (parsed.slot !== undefined) ref.slot = intern(parsed.slot);
  return {
    id,
    ref,
    location: intern(site.location),
    tags: internTags(site.tags, intern),
    defaultHostName: site.defaultHostName ?? '',
    serverFarmId: internOptional(site.serverFarmId, intern),
    webspace: intern(webspaceKey(ref.subscriptionId, ref.resourceGroup, site.location)),
    state: internOptional(site.state, intern),
  };
}

export function toCertificateInfo(certificate: Certificate, intern: Interner = noInterning): CertificateInfo {
  const id = certificate.id ?? '';
  const parsed = parseResourceId(id);
  if (parsed === undefined) {
    throw new AzurePreconditionError(`ARM listed a certificate with an unexpected id '${id}'`, { operation: 'map certificate', resource: id });
  }
  return {
    id,
    name: certificate.name ?? parsed.segments[1] ?? '',
    subscriptionId: intern(parsed.subscriptionId),
    resourceGroup: intern(parsed.resourceGroup),
    location: intern(certificate.location),
    webspace: intern(webspaceKey(parsed.subscriptionId, parsed.resourceGroup, certificate.location)),
    thumbprint: (certificate.thumbprint ?? '').trim().toUpperCase(),
    subjectName: internOptional(certificate.subjectName, intern),
    issuer: internOptional(certificate.issuer, intern),
    issueDate: certificate.issueDate,
    expirationDate: certificate.expirationDate,
    keyVaultId: internOptional(certificate.keyVaultId, intern),
    keyVaultSecretName: internOptional(certificate.keyVaultSecretName, intern),
    tags: internTags(certificate.tags, intern),
  };
}

export class ArmAppServiceGateway implements AppServiceGateway {
  private readonly clients = new Map<string, WebSiteManagementClient>();
  private readonly endpoint: string;
  private readonly httpClient: HttpClient = createDefaultHttpClient();

  constructor(private readonly options: AppServiceGatewayOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
  }

  /** One client per subscription (the v19 client binds its subscription), built on first use and kept. */
  client(subscriptionId: string): WebSiteManagementClient {
    const key = subscriptionId.toLowerCase();
    let client = this.clients.get(key);
    if (client === undefined) {
      const attemptTimeout = attemptTimeoutPolicy(this.options.attemptTimeoutMs ?? 100_000);
      client = new WebSiteManagementClient(this.options.credential, subscriptionId, {
        endpoint: this.endpoint,
        // The v19 client ignores `credentialScopes`; its scopes live under `credentials`.
        credentials: { scopes: [`${(this.options.audience ?? this.endpoint).replace(/\/+$/, '')}/.default`] },
        ...(this.options.tlsCa ? { tlsOptions: { ca: this.options.tlsCa } } : {}),
        additionalPolicies: [attemptTimeout, ...(this.options.perRetryPolicies ?? [])].map((policy) => ({
          policy,
          position: 'perRetry' as const,
        })),
      });
      // No OpenTelemetry tracer is registered (telemetry runs with useGlobalProviders: false), so the SDK's span
      // per request is a no-op; it still cost allocations that outlive the request and got promoted, a few MB of
      // the 10,000-app scan's peak.
      client.pipeline.removePolicy({ name: 'tracingPolicy' });
      this.clients.set(key, client);
    }
    return client;
  }

  async *listSites(subscriptionId: string): AsyncIterable<SiteInfo> {
    const context = { operation: 'list sites', resource: `/subscriptions/${subscriptionId}` };
    yield* this.pages(context, () => this.client(subscriptionId).webApps.list().byPage(), toSiteInfo);
  }

  async *listSlots(site: SiteInfo): AsyncIterable<SiteInfo> {
    const { subscriptionId, resourceGroup, site: name } = site.ref;
    const context = { operation: 'list slots', resource: site.id };
    yield* this.pages(context, () => this.client(subscriptionId).webApps.listSlots(resourceGroup, name).byPage(), toSiteInfo);
  }

  async getSite(ref: AppRef): Promise<SiteInfo | undefined> {
    const webApps = this.client(ref.subscriptionId).webApps;
    const site = await callAzureOptional({ operation: 'get site', resource: appResourceId(ref) }, () =>
      ref.slot ? webApps.getSlot(ref.resourceGroup, ref.site, ref.slot) : webApps.get(ref.resourceGroup, ref.site),
    );
    return site === undefined ? undefined : toSiteInfo(site);
  }

  async *listCertificates(subscriptionId: string): AsyncIterable<CertificateInfo> {
    const context = { operation: 'list certificates', resource: `/subscriptions/${subscriptionId}` };
    yield* this.pages(context, () => this.client(subscriptionId).certificates.list().byPage(), toCertificateInfo);
  }

  async *listCertificatesInResourceGroup(subscriptionId: string, resourceGroup: string): AsyncIterable<CertificateInfo> {
    const context = { operation: 'list certificates', resource: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}` };
    yield* this.pages(
      context,
      () => this.client(subscriptionId).certificates.listByResourceGroup(resourceGroup).byPage(),
      toCertificateInfo,
    );
  }

  async getCertificate(subscriptionId: string, resourceGroup: string, name: string): Promise<CertificateInfo | undefined> {
    const resource = certificateResourceId(subscriptionId, resourceGroup, name);
    const certificate = await callAzureOptional({ operation: 'get certificate', resource }, () =>
      this.client(subscriptionId).certificates.get(resourceGroup, name),
    );
    return certificate === undefined ? undefined : toCertificateInfo(certificate);
  }

  async readAppSettings(ref: AppRef): Promise<AppSettings> {
    const webApps = this.client(ref.subscriptionId).webApps;
    const dictionary = await callAzure({ operation: 'read app settings', resource: appResourceId(ref) }, () =>
      ref.slot
        ? webApps.listApplicationSettingsSlot(ref.resourceGroup, ref.site, ref.slot)
        : webApps.listApplicationSettings(ref.resourceGroup, ref.site),
    );
    // The SDK types the values as strings; ARM's JSON can hold null, which stays null (see AppSettings).
    return { ...(dictionary.properties ?? {}) } as AppSettings;
  }

  async writeAppSettings(ref: AppRef, input: AppSettings): Promise<void> {
    const webApps = this.client(ref.subscriptionId).webApps;
    // Written back as read: a null value goes out as null, which the SDK's serializer passes through.
    const settings = input as Record<string, string>;
    // Setting values may be secrets of the app (connection strings): they are not part of any message.
    const values = Object.values(input).filter((v): v is string => typeof v === 'string');
    await callAzure(
      { operation: 'write app settings', resource: appResourceId(ref) },
      () =>
        ref.slot
          ? webApps.updateApplicationSettingsSlot(ref.resourceGroup, ref.site, ref.slot, { properties: settings })
          : webApps.updateApplicationSettings(ref.resourceGroup, ref.site, { properties: settings }),
      { secrets: values },
    );
  }

  /**
   * `softRestart: false`: the certificates under /var/ssl/private are loaded when the worker starts; a soft restart
   * "restarts only if necessary", and for a `*` app nothing in its configuration changed, so it might not restart
   * at all. Not `synchronous`: that holds one ARM request open for the whole restart (minutes, past ARM's own
   * timeouts); the via-app probe, with its warm-up and retries, is the real "it came back" signal.
   */
  async restart(ref: AppRef): Promise<void> {
    const webApps = this.client(ref.subscriptionId).webApps;
    await callAzure({ operation: 'restart', resource: appResourceId(ref) }, () =>
      ref.slot
        ? webApps.restartSlot(ref.resourceGroup, ref.site, ref.slot, { softRestart: false })
        : webApps.restart(ref.resourceGroup, ref.site, { softRestart: false }),
    );
  }

  async uploadCertificate(input: UploadCertificateInput): Promise<CertificateInfo> {
    const resource = certificateResourceId(input.subscriptionId, input.resourceGroup, input.name);
    const pfxBase64 = Buffer.from(input.pfx).toString('base64');
    const certificate = await callAzure(
      { operation: 'upload certificate', resource },
      () =>
        this.client(input.subscriptionId).certificates.createOrUpdate(input.resourceGroup, input.name, {
          location: input.location,
          pfxBlob: input.pfx,
          password: input.password,
          ...(input.serverFarmId ? { serverFarmId: input.serverFarmId } : {}),
          tags: input.tags,
        }),
      { secrets: [input.password, pfxBase64] },
    );
    return toCertificateInfo(certificate);
  }

  /** Deleting a certificate that is already gone is success: retirement must be safe to repeat. */
  async deleteCertificate(subscriptionId: string, resourceGroup: string, name: string): Promise<void> {
    const resource = certificateResourceId(subscriptionId, resourceGroup, name);
    await callAzureOptional({ operation: 'delete certificate', resource }, () =>
      this.client(subscriptionId).certificates.delete(resourceGroup, name),
    );
  }

  async resolveVaultUri(keyVaultResourceId: string): Promise<string> {
    const context = { operation: 'resolve Key Vault URI', resource: keyVaultResourceId };
    const parsed = parseResourceId(keyVaultResourceId);
    if (
      parsed === undefined ||
      parsed.provider.toLowerCase() !== 'microsoft.keyvault' ||
      parsed.segments.length !== 2 ||
      parsed.segments[0].toLowerCase() !== 'vaults'
    ) {
      throw new AzurePreconditionError(
        `'${keyVaultResourceId}' is not a Key Vault resource id (/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name})`,
        context,
      );
    }
    const pipeline = this.client(parsed.subscriptionId).pipeline;
    const path = keyVaultResourceId.split('/').filter((p) => p !== '').map(encodeURIComponent).join('/');
    const url = `${this.endpoint}/${path}?api-version=${KEY_VAULT_ARM_API_VERSION}`;
    const vault = await callAzure(context, async () => {
      const response = await pipeline.sendRequest(this.httpClient, createPipelineRequest({ url, method: 'GET' }));
      let body: { properties?: { vaultUri?: unknown }; error?: { code?: string; message?: string } } | undefined;
      try {
        body = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
      } catch {
        body = undefined;
      }
      if (response.status < 200 || response.status >= 300) {
        throw new RestError(body?.error?.message ?? `Unexpected status code: ${response.status}`, {
          statusCode: response.status,
          code: body?.error?.code,
          response,
        });
      }
      return body;
    });
    const vaultUri = vault?.properties?.vaultUri;
    if (typeof vaultUri !== 'string' || vaultUri === '') {
      throw new AzureNotFoundError(`${context.operation} (${keyVaultResourceId}): the vault has no properties.vaultUri`, context);
    }
    return vaultUri;
  }

  /** Streams a paged listing one page at a time, translating failures of any page. */
  private async *pages<TItem, TOut>(
    context: AzureErrorContext,
    byPage: () => AsyncIterableIterator<TItem[]>,
    map: (item: TItem, intern: Interner) => TOut,
  ): AsyncIterable<TOut> {
    const intern = createInterner();
    const iterator = await callAzure(context, async () => byPage());
    // A page is mapped whole before its items are yielded, and only the mapped items stay referenced: the SDK's
    // items (every ARM property of a site) would otherwise live as long as a streaming consumer takes over the
    // page, long enough to be promoted to the old generation and die there (which raised the peak RSS).
    const nextPage = async (): Promise<TOut[] | undefined> => {
      const page = await callAzure(context, () => iterator.next());
      return page.done ? undefined : page.value.map((item) => map(item, intern));
    };
    for (let items = await nextPage(); items !== undefined; items = await nextPage()) yield* items;
  }
}
