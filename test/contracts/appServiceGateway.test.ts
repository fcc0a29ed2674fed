// The AppServiceGateway contract (appServiceGateway.contract.ts) against the real adapter on the sandbox's ARM, through
// the real @azure/arm-appservice client, and against the in-memory App Service of the core tests.
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { ArmAppServiceGateway } from '../../src/azure/appServiceGateway.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';
import { appIdOf } from '../../src/core/identity.js';
import { adapterScenario, APP0, APP0_STAGING, RG, SUB, VAULT } from '../azure/scenario.js';
import { CertificateFactory, FakeAppService, FakeClock } from '../helpers/memory-ports.js';
import { appServiceGatewayContract, KV_REFERENCE } from './appServiceGateway.contract.js';

let sb: Sandbox | undefined;
beforeAll(async () => {
  sb = await startSandbox(adapterScenario(), { simulateApps: false });
});
afterAll(async () => {
  await sb?.stop();
});

appServiceGatewayContract('ARM on the sandbox', () => {
  if (!sb) throw new Error('the sandbox is not started');
  const sandbox = sb;
  return {
    gateway: new ArmAppServiceGateway({ endpoint: sandbox.armEndpoint, credential: staticTokenCredential(sandbox.token), tlsCa: sandbox.caPem }),
    subscriptionId: SUB,
    resourceGroup: RG,
    location: 'West Europe',
    app0: APP0,
    staging: APP0_STAGING,
    vaultId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/${VAULT}`,
    vaultUri: sandbox.vaultUrl(VAULT),
    restarts: (ref) => sandbox.control.restarts(ref),
  };
});

appServiceGatewayContract('in memory (test/helpers/memory-ports.ts)', () => {
  const certs = new CertificateFactory();
  const appService = new FakeAppService(new FakeClock());
  const old = certs.client('client', -340, 20);
  appService.addCertificate({ subscriptionId: SUB, resourceGroup: RG, name: 'client-pfx-v0', certificate: old });
  appService.addSite({
    subscriptionId: SUB,
    resourceGroup: RG,
    name: 'app-0',
    tags: { 'mtls-rotation': 'enabled' },
    settings: { WEBSITE_LOAD_CERTIFICATES: old.thumbprint, CLIENT_CERT_THUMBPRINT: old.thumbprint, DB_PASSWORD: KV_REFERENCE },
  });
  appService.addSite({ subscriptionId: SUB, resourceGroup: RG, name: 'app-0', slot: 'staging', tags: { env: 'staging' }, settings: { SLOT_ONLY: 'yes' } });
  for (let i = 1; i <= 6; i += 1) appService.addSite({ subscriptionId: SUB, resourceGroup: RG, name: `app-${i}`, tags: { index: String(i) } });
  const vaultUri = 'https://kv-main.vault.azure.net/';
  const vaultId = appService.addVault(SUB, VAULT, vaultUri);
  return {
    gateway: appService,
    subscriptionId: SUB,
    resourceGroup: RG,
    location: 'West Europe',
    app0: APP0,
    staging: APP0_STAGING,
    vaultId,
    vaultUri,
    // The in-memory world counts the start when an app is created; only restarts since count here.
    restarts: (ref) => (appService.restarts.get(appIdOf(ref)) ?? 0),
  };
});
