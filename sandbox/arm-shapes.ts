// JSON shapes ARM returns, after the REST specs' examples (shared/azure-examples/appservice-2025-03-01) and
// the arm-appservice recording of GET site.
import { armDate } from './http.js';
import type { AppState, VaultState, WebCertificate } from './state.js';

export function hostNameOf(app: AppState): string {
  if (app.app !== undefined) return app.app.hostName;
  const label = app.ref.slot !== undefined ? `${app.ref.site}-${app.ref.slot}` : app.ref.site;
  return `${label}.azurewebsites.net`.toLowerCase();
}

/**
 * The deployment (Kudu) host: `<site>[-<slot>].scm.azurewebsites.net`, a Repository host name next to the app's
 * own. A simulated app's own host is 127.0.0.1:<port>; its scm name stays the Azure one (nothing serves it).
 */
export function scmHostNameOf(app: AppState): string {
  const label = app.ref.slot !== undefined ? `${app.ref.site}-${app.ref.slot}` : app.ref.site;
  return `${label}.scm.azurewebsites.net`.toLowerCase();
}

/** A site or slot; `full` adds siteConfig (GET returns it, lists do not fill it). */
export function siteJson(app: AppState, full: boolean): Record<string, unknown> {
  const { ref } = app;
  const name = ref.slot !== undefined ? `${ref.site}/${ref.slot}` : ref.site;
  const host = hostNameOf(app);
  const scm = scmHostNameOf(app);
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
      enabledHostNames: [host, scm],
      availabilityState: 'Normal',
      hostNameSslStates: [
        { name: host, sslState: 'Disabled', hostType: 'Standard' },
        { name: scm, sslState: 'Disabled', hostType: 'Repository' },
      ],
      serverFarmId: app.serverFarmId,
      // Linux (`reserved: true`), matching the default kind 'app,linux'.
      reserved: /linux/i.test(app.kind),
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

/** SiteConfigResource (GET …/config/web), after the GetSiteConfig example: a Linux Node app's defaults. */
export function siteConfigJson(app: AppState): Record<string, unknown> {
  const label = app.ref.slot !== undefined ? `${app.ref.site}__${app.ref.slot}` : app.ref.site;
  const linux = /linux/i.test(app.kind);
  return {
    id: `${app.id}/config/web`,
    name: 'web',
    type: app.ref.slot !== undefined ? 'Microsoft.Web/sites/slots/config' : 'Microsoft.Web/sites/config',
    location: app.location,
    properties: {
      numberOfWorkers: 1,
      defaultDocuments: ['index.html', 'hostingstart.html'],
      netFrameworkVersion: 'v4.0',
      phpVersion: '',
      pythonVersion: '',
      nodeVersion: '',
      powerShellVersion: '',
      linuxFxVersion: linux ? 'NODE|22-lts' : '',
      windowsFxVersion: null,
      requestTracingEnabled: false,
      remoteDebuggingEnabled: false,
      httpLoggingEnabled: false,
      acrUseManagedIdentityCreds: false,
      logsDirectorySizeLimit: 35,
      detailedErrorLoggingEnabled: false,
      publishingUsername: `$${label}`,
      scmType: 'None',
      use32BitWorkerProcess: !linux,
      webSocketsEnabled: false,
      alwaysOn: true,
      appCommandLine: '',
      managedPipelineMode: 'Integrated',
      virtualApplications: [{ virtualPath: '/', physicalPath: 'site\\wwwroot', preloadEnabled: true, virtualDirectories: null }],
      loadBalancing: 'LeastRequests',
      autoHealEnabled: false,
      vnetRouteAllEnabled: false,
      http20Enabled: true,
      minTlsVersion: '1.2',
      scmMinTlsVersion: '1.2',
      ftpsState: 'Disabled',
      healthCheckPath: null,
      http20ProxyFlag: 0,
      minimumElasticInstanceCount: 0,
      azureStorageAccounts: {},
    },
  };
}

/** SlotConfigNamesResource (GET/PUT …/config/slotConfigNames; the site's, there is no slot variant). */
export function slotConfigNamesJson(site: AppState): Record<string, unknown> {
  const names = site.slotConfigNames ?? { appSettingNames: null, connectionStringNames: null, azureStorageConfigNames: null };
  return {
    id: `${site.id}/config/slotConfigNames`,
    name: 'slotConfigNames',
    type: 'Microsoft.Web/sites/config',
    location: site.location,
    properties: {
      connectionStringNames: names.connectionStringNames,
      appSettingNames: names.appSettingNames,
      azureStorageConfigNames: names.azureStorageConfigNames,
    },
  };
}

const xmlAttr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The publishing profile (POST …/publishxml, format WebDeploy): Web Deploy, FTP and Zip Deploy profiles with the
 * app's deployment user. The password is the sandbox's fake one; nothing listens on the hosts it names.
 */
export function publishingProfileXml(app: AppState, password: string): string {
  const label = app.ref.slot !== undefined ? `${app.ref.site}__${app.ref.slot}` : app.ref.site;
  const display = app.ref.slot !== undefined ? `${app.ref.site}-${app.ref.slot}` : app.ref.site;
  const scm = scmHostNameOf(app);
  const user = `$${label}`;
  const common = (name: string, method: string, url: string, extra: string) =>
    `<publishProfile profileName="${xmlAttr(`${display} - ${name}`)}" publishMethod="${method}" publishUrl="${xmlAttr(url)}"${extra} userName="${xmlAttr(user)}" userPWD="${xmlAttr(password)}" destinationAppUrl="${xmlAttr(`https://${hostNameOf(app)}`)}" SQLServerDBConnectionString="" mySQLDBConnectionString="" hostingProviderForumLink="" controlPanelLink="https://portal.azure.com" webSystem="WebSites"><databases /></publishProfile>`;
  return [
    '<publishData>',
    common('Web Deploy', 'MSDeploy', `${scm}:443`, ` msdeploySite="${xmlAttr(label)}"`),
    common('FTP', 'FTP', `ftps://waws-prod-sandbox-001.ftp.azurewebsites.windows.net/site/wwwroot`, ' ftpPassiveMode="True"'),
    common('Zip Deploy', 'ZipDeploy', `${scm}:443`, ''),
    '</publishData>',
  ].join('');
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
