// The identities the template configures, exercised for real: the engine built from the settings infra/azuredeploy.json
// sets (AZURE_CREDENTIAL=managed-identity, AZURE_CLIENT_ID and identity-based AzureWebJobsStorage__* for a
// user-assigned identity) gets every token from the sandbox's App Service managed-identity endpoint through
// @azure/identity's real ManagedIdentityCredential; ARM and Key Vault accept those tokens only for their own
// audience, and Azurite (HTTPS, --oauth basic) only storage tokens. A wrong client id, scope or setting name fails
// here with an error that names it.
//
// MSAL reads IDENTITY_ENDPOINT / IDENTITY_HEADER from process.env and keeps its managed-identity source for the
// life of the process, so this file sets them once, before the first credential, and changes what the endpoint
// accepts through the sandbox (`sb.identity.configure`) rather than through the variables.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../sandbox/azurite.js';
import { demoScenario, DEMO_SUBSCRIPTION_ID as SUB, startSandbox, type Sandbox } from '../../sandbox/index.js';
import { managedIdentityCredential } from '../../src/azure/credentials.js';
import { createDependencies } from '../../src/composition.js';
import { ConfigError, createRotator, loadConfig, type Config } from '../../src/core/index.js';
import { uniqueName } from '../helpers/azurite.js';
import { watch } from '../integration/world.js';

let sb: Sandbox;
let azurite: Azurite;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  sb = await startSandbox(demoScenario());
  azurite = await startAzurite({ https: sb.serverTls, oauth: true });
  for (const [k, v] of Object.entries(sb.identity.env())) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
}, 120_000);

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await azurite?.stop();
  await sb?.stop();
});

/** The app settings infra/azuredeploy.json writes, pointed at the sandbox and the HTTPS Azurite. */
function templateEnv(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    AZURE_SUBSCRIPTION_IDS: SUB,
    ARM_ENDPOINT: sb.armEndpoint,
    // The sandbox's ARM listens on a loopback address, which is no token audience; Azure's is its endpoint.
    ARM_AUDIENCE: 'https://management.azure.com',
    AZURE_CREDENTIAL: 'managed-identity',
    AZURE_CLIENT_ID: sb.identity.userAssignedClientId,
    // The sandbox's vaults are on 127.0.0.1, not *.vault.azure.net, so the challenge's resource cannot match the host.
    KEYVAULT_CHALLENGE_VERIFICATION: 'false',
    KEYVAULT_ALLOWED_HOSTS: '127.0.0.1',
    PROBE_ALLOWED_TARGETS: '127.0.0.1',
    AzureWebJobsStorage__tableServiceUri: azurite.tableEndpoint,
    AzureWebJobsStorage__queueServiceUri: azurite.queueEndpoint,
    AzureWebJobsStorage__credential: 'managedidentity',
    AzureWebJobsStorage__clientId: sb.identity.userAssignedClientId,
    ROTATION_TABLE: uniqueName('mi'),
    ROTATION_QUEUE: uniqueName('mi-q'),
    PROBE_WARMUP_SECONDS: '0',
    PROBE_BACKOFF_SECONDS: '1',
    PROBE_ATTEMPTS: '3',
    PROBE_TIMEOUT_SECONDS: '5',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

function engine(config: Config) {
  const deps = createDependencies(config, { tlsCa: sb.caPem, owner: `mi-${randomUUID()}` });
  return { deps, rotator: createRotator(deps, config) };
}

describe('the managed identity the template configures, end to end', () => {
  it('uses the identity settings infra/azuredeploy.json writes (names and literal values; the account name becomes service URIs here)', () => {
    const template = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'infra', 'azuredeploy.json'), 'utf8')) as {
      variables: { appSettings: Record<string, string> };
    };
    const identitySetting = /^(AzureWebJobsStorage__|AZURE_CREDENTIAL$|AZURE_CLIENT_ID$)/;
    const fromTemplate = Object.entries(template.variables.appSettings).filter(([k]) => identitySetting.test(k));
    const here = templateEnv();
    // Azurite is not <account>.table.core.windows.net, so the test names the service URIs the account name implies.
    const expectedHere = fromTemplate.flatMap(([k]) => (k === 'AzureWebJobsStorage__accountName' ? ['AzureWebJobsStorage__tableServiceUri', 'AzureWebJobsStorage__queueServiceUri'] : [k]));
    expect(Object.keys(here).filter((k) => identitySetting.test(k)).sort()).toEqual(expectedHere.sort());
    for (const [k, v] of fromTemplate) if (!v.startsWith('[')) expect(here[k], k).toBe(v);
    // Both client ids are the one user-assigned identity's.
    expect(template.variables.appSettings.AzureWebJobsStorage__clientId).toBe(template.variables.appSettings.AZURE_CLIENT_ID);
    expect(here.AzureWebJobsStorage__clientId).toBe(here.AZURE_CLIENT_ID);
  });

  it('plans, rotates through ARM and Key Vault, records in Table storage and queues, every token from the identity endpoint', async () => {
    expect(azurite.tableEndpoint).toMatch(/^https:/);
    const config = loadConfig(templateEnv());
    expect(config).toMatchObject({ credential: 'managed-identity', storage: { kind: 'identity', credential: 'managedidentity' } });
    const { deps, rotator } = engine(config);
    const tokensBefore = sb.identity.requests().length;
    const w = watch(sb);

    const plan = await rotator.plan();
    expect(plan.apps.find((a) => a.name === 'orders')?.action).toBe('rotate');
    const result = await rotator.rotateApp('orders', { trigger: 'cli' });
    expect(result.outcome, `${result.reason} ${JSON.stringify(result.record?.steps)}`).toBe('committed');
    expect(sb.control.loadedThumbprints({ subscriptionId: SUB, resourceGroup: 'rg-apps', site: 'orders' })).toEqual([sb.control.thumbprint('kv-demo/orders-client/latest')]);

    // The record is in Azurite, written and read back with a storage token.
    expect((await deps.store.listForApp(result.record!.appId)).map((r) => r.outcome)).toEqual(['committed']);
    // And the queue works the same way.
    const appId = result.record!.appId;
    await deps.queue.send({ appId, requestedBy: 'managed-identity test', requestId: randomUUID() });
    const [received] = await deps.queue.receive(1, 30);
    expect(received?.message.appId).toBe(appId);

    // ARM and Key Vault saw only authorised requests, every one with an identity token.
    const served = w.all().filter((r) => r.surface === 'arm' || r.surface === 'kv');
    expect(served.some((r) => r.surface === 'arm') && served.some((r) => r.surface === 'kv')).toBe(true);
    expect(served.filter((r) => r.status === 401 && r.surface === 'arm')).toEqual([]);
    // One token per audience (the credential caches it), all for the user-assigned identity.
    const issued = sb.identity.requests().slice(tokensBefore);
    expect(issued.every((r) => r.status === 200 && r.clientId === sb.identity.userAssignedClientId)).toBe(true);
    expect(new Set(issued.map((r) => r.resource?.replace(/\/+$/, '')))).toEqual(new Set(['https://management.azure.com', 'https://vault.azure.net', 'https://storage.azure.com']));
  });
});

describe('a wrong identity setting fails here, naming what is wrong', () => {
  const OTHER = '0b0b0b0b-1111-4222-8333-444444444444';

  it.each([
    [
      'an AZURE_CLIENT_ID that is not an identity of the app: ARM calls fail naming the client id and the setting',
      { AZURE_CLIENT_ID: OTHER },
      'arm',
      new RegExp(`no usable Azure credential: the user-assigned managed identity with client id ${OTHER} \\(AZURE_CLIENT_ID\\) could not get a token for https://management\\.azure\\.com/\\.default: .*Unable to load the proper Managed Identity`),
    ],
    [
      'an AzureWebJobsStorage__clientId that is not an identity of the app: storage calls fail naming the client id and the setting',
      { AzureWebJobsStorage__clientId: OTHER },
      'storage',
      new RegExp(`the user-assigned managed identity with client id ${OTHER} \\(AzureWebJobsStorage__clientId\\) could not get a token for https://storage\\.azure\\.com/\\.default: .*Unable to load the proper Managed Identity`),
    ],
    [
      'no AZURE_CLIENT_ID on an app that has only the user-assigned identity: ARM calls fail naming the setting',
      { AZURE_CLIENT_ID: undefined },
      'arm',
      /the system-assigned managed identity \(AZURE_CLIENT_ID is unset\) could not get a token for https:\/\/management\.azure\.com\/\.default: .*Unable to load the proper Managed Identity/,
    ],
    [
      'no ARM_AUDIENCE with a loopback ARM_ENDPOINT: the token is asked for an audience that does not exist',
      { ARM_AUDIENCE: undefined },
      'arm',
      /AADSTS500011: The resource principal named https:\/\/127\.0\.0\.1:\d+ was not found/,
    ],
  ])('%s', async (_sentence, overrides, surface, message) => {
    const env = templateEnv(overrides as Record<string, string | undefined>);
    const { deps } = engine(loadConfig(env));
    const w = watch(sb);
    const attempt =
      surface === 'arm'
        ? (async () => {
            for await (const site of deps.gateway.listSites(SUB)) return site;
            return undefined;
          })()
        : deps.store.listAll(1);
    await expect(attempt).rejects.toThrow(message);
    // Refused before anything reached ARM with a token (so nothing changed).
    expect(w.changes()).toEqual([]);
  });

  it('an IDENTITY_HEADER that does not match the platform secret: the endpoint refuses and the error says so', async () => {
    const header = sb.identity.header;
    const uai = sb.identity.userAssignedClientId;
    // MSAL caches managed-identity tokens process-wide: a second identity of the app has none cached yet.
    const second = randomUUID();
    sb.identity.configure({ userAssigned: [uai, second], header: `${header}-rotated` });
    try {
      const { deps } = engine(loadConfig(templateEnv({ AzureWebJobsStorage__clientId: second })));
      await expect(deps.store.listAll(1)).rejects.toThrow(/could not get a token for https:\/\/storage\.azure\.com\/\.default: .*X-IDENTITY-HEADER header is missing or does not match/);
      expect(sb.identity.requests().at(-1)).toMatchObject({ status: 401, resource: 'https://storage.azure.com' });
    } finally {
      sb.identity.configure({ userAssigned: [uai], header });
    }
  });

  it.each([
    ['a misspelt property name (the host reads it case-insensitively, this process would not)', { AzureWebJobsStorage__clientid: 'x' }, /AzureWebJobsStorage__clientid must be spelled AzureWebJobsStorage__clientId/],
    ['a property the host does not know', { AzureWebJobsStorage__identity: 'x' }, /AzureWebJobsStorage__identity is not a property of an identity-based connection/],
    ["a credential other than 'managedidentity'", { AzureWebJobsStorage__credential: 'userassigned' }, /AzureWebJobsStorage__credential must be 'managedidentity'/],
  ])('%s is refused by loadConfig, naming the setting', (_sentence, overrides, message) => {
    const attempt = () => loadConfig(templateEnv(overrides));
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
  });
});

describe('tokens are accepted only for their audience', () => {
  it.each([
    ['a Key Vault token sent to ARM', 'https://vault.azure.net/.default', 'arm', /not authorized \(answered 401 InvalidAuthenticationTokenAudience/],
    ['a storage token sent to ARM', 'https://storage.azure.com/.default', 'arm', /not authorized \(answered 401 InvalidAuthenticationTokenAudience/],
    ['an ARM token sent to Key Vault', 'https://management.azure.com/.default', 'kv', /AKV10022: Invalid audience/],
    ['an ARM token sent to storage (Azurite)', 'https://management.azure.com/.default', 'storage', /Invalid token audience/],
  ])('%s is refused (a credential asking for the wrong scope)', async (_sentence, scope, surface, message) => {
    const real = managedIdentityCredential(sb.identity.userAssignedClientId);
    // A credential that asks for one fixed scope whatever the client wants: a scope mistake made visible.
    const wrongScope = { getToken: () => real.getToken(scope) };
    const config = loadConfig(templateEnv());
    const deps = createDependencies(config, { tlsCa: sb.caPem, credential: wrongScope });
    const w = watch(sb);
    let attempt: Promise<unknown>;
    if (surface === 'arm') {
      attempt = (async () => {
        for await (const site of deps.gateway.listSites(SUB)) return site;
        return undefined;
      })();
    } else if (surface === 'kv') {
      attempt = deps.keyVault.getLatest({ vaultUrl: sb.vaultUrl('kv-demo'), name: 'orders-client' });
    } else {
      const { TableRotationStore } = await import('../../src/azure/tableRotationStore.js');
      const store = new TableRotationStore({ tableServiceUri: azurite.tableEndpoint, credential: wrongScope, tlsCa: sb.caPem, tableName: uniqueName('aud'), clock: { now: () => new Date() } });
      attempt = store.listAll(1);
    }
    await expect(attempt).rejects.toThrow(message);
    if (surface !== 'storage') expect(w.all().filter((r) => r.status === 401).length).toBeGreaterThan(0);
    expect(w.changes()).toEqual([]);
  });
});
