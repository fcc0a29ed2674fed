// JSON shapes ARM returns, after the REST specs' examples (shared/azure-examples/appservice-2025-03-01) and
// the arm-appservice recording of GET site.
import { armDate } from './http.js';
import type { AppState, VaultState, WebCertificate } from './state.js';

export function hostNameOf(app: AppState): string {
  if (app.app !== undefined) return app.app.hostName;
  const label = app.ref.slot !== undefined ? `${app.ref.site}-${app.ref.slot}` : app.ref.site;
  return `${label}.azurewebsites.net`.toLowerCase();
}

function scmHostNameOf(app: AppState, host: string): string {
  if (app.app !== undefined) return host;
  return host.replace(/\.azurewebsites\.net$/, '.scm.azurewebsites.net');
}

/** A site or slot; `full` adds siteConfig (GET returns it, lists do not fill it). */
export function siteJson(app: AppState, full: boolean): Record<string, unknown> {
  const { ref } = app;
  const name = ref.slot !== undefined ? `${ref.site}/${ref.slot}` : ref.site;
  const host = hostNameOf(app);
  const scm = scmHostNameOf(app, host);
  const webSpace = `${ref.resourceGroup}-${app.location.replace(/\s+/g, '')}webspace`;
  return {
    id: app.id,
    name,
    type: ref.slot !== undefined ? 'Microsoft.Web/sites/slots' : 'Microsoft.Web/sites',
    kind: app.kind,
    location: app.location,
    tags: { ...app.tags },
    properties: {
      name,
      state: 'Running',
      hostNames: [host],
      webSpace,
      repositorySiteName: ref.site,
      usageState: 'Normal',
      enabled: true,
      enabledHostNames: scm === host ? [host] : [host, scm],
      availabilityState: 'Normal',
      hostNameSslStates: [
        { name: host, sslState: 'Disabled', hostType: 'Standard' },
        ...(scm === host ? [] : [{ name: scm, sslState: 'Disabled', hostType: 'Repository' }]),
      ],
      serverFarmId: app.serverFarmId,
      reserved: true,
      isXenon: false,
      hyperV: false,
      lastModifiedTimeUtc: app.lastModified.toISOString(),
      siteConfig: full
        ? {
            numberOfWorkers: 1,
            linuxFxVersion: 'NODE|22-lts',
            http20Enabled: true,
            minTlsVersion: '1.2',
            scmMinTlsVersion: '1.2',
            ftpsState: 'Disabled',
            alwaysOn: true,
          }
        : null,
      scmSiteAlsoStopped: false,
      clientAffinityEnabled: false,
      clientCertEnabled: false,
      clientCertMode: 'Required',
      hostNamesDisabled: false,
      outboundIpAddresses: '127.0.0.1',
      possibleOutboundIpAddresses: '127.0.0.1',
      containerSize: 0,
      dailyMemoryTimeQuota: 0,
      resourceGroup: ref.resourceGroup,
      defaultHostName: host,
      httpsOnly: true,
      redundancyMode: 'None',
      storageAccountRequired: false,
      keyVaultReferenceIdentity: 'SystemAssigned',
      ...(ref.slot !== undefined ? { slotName: ref.slot } : {}),
    },
  };
}

export function certificateJson(c: WebCertificate, now: Date): Record<string, unknown> {
  const m = c.material;
  return {
    id: c.id,
    name: c.name,
    type: 'Microsoft.Web/certificates',
    location: c.location,
    tags: { ...c.tags },
    properties: {
      friendlyName: '',
      subjectName: m.subjectCommonName ?? m.subject,
      hostNames: c.hostNames,
      issuer: m.issuerCommonName ?? m.issuer,
      issueDate: armDate(m.notBefore),
      expirationDate: armDate(m.notAfter),
      thumbprint: m.thumbprint,
      valid: m.notBefore <= now && now < m.notAfter,
      ...(c.serverFarmId !== undefined ? { serverFarmId: c.serverFarmId } : {}),
      ...(c.keyVaultId !== undefined
        ? { keyVaultId: c.keyVaultId, keyVaultSecretName: c.keyVaultSecretName, keyVaultSecretStatus: 'Succeeded' }
        : {}),
    },
  };
}

export function appSettingsJson(app: AppState): Record<string, unknown> {
  return {
    id: `${app.id}/config/appsettings`,
    name: 'appsettings',
    type: app.ref.slot !== undefined ? 'Microsoft.Web/sites/slots/config' : 'Microsoft.Web/sites/config',
    kind: app.kind,
    location: app.location,
    properties: { ...app.settings },
  };
}

export function vaultJson(v: VaultState, tenantId: string): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    type: 'Microsoft.KeyVault/vaults',
    location: v.location.replace(/\s+/g, '').toLowerCase(),
    tags: {},
    properties: {
      sku: { family: 'A', name: 'standard' },
      tenantId,
      accessPolicies: [],
      enabledForDeployment: false,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      enableRbacAuthorization: true,
      vaultUri: `${v.url}/`,
      provisioningState: 'Succeeded',
      publicNetworkAccess: 'Enabled',
    },
  };
}
