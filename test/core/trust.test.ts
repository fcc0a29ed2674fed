// The trust rules of a Key Vault source: which hosts are Key Vault, how the operator's SOURCE_POLICY and
// the vault owner's consumers tag read, and who is granted what.
import { describe, expect, it } from 'vitest';
import type { AppRef, KeyVaultSource } from '../../src/core/ports.js';
import { authorizeSource, checkVaultHost, parseAllowedHosts, parseSourcePolicy, type AllowedHost, type SourceGrant } from '../../src/core/trust.js';

const SUB = '11111111-1111-4111-8111-111111111111';
const OTHER_SUB = '22222222-2222-4222-8222-222222222222';
const SANDBOX: AllowedHost[] = [{ hostname: '127.0.0.1', port: '8443' }];

describe('checkVaultHost', () => {
  it.each<[string, string, 'keyVault' | 'allowListed' | RegExp]>([
    ['a vault of the public cloud', 'https://kv-payments.vault.azure.net', 'keyVault'],
    ['a vault of the China cloud', 'https://kv-payments.vault.azure.cn', 'keyVault'],
    ['a vault of the US Government cloud', 'https://kv-payments.vault.usgovcloudapi.net', 'keyVault'],
    ['a vault of the German cloud', 'https://kv-payments.vault.microsoftazure.de', 'keyVault'],
    ['a Managed HSM (it holds no certificates)', 'https://hsm-payments.managedhsm.azure.net', /is not a Key Vault host/],
    ['a vault name in upper case', 'https://KV-Payments.Vault.Azure.Net', 'keyVault'],
    ['a vault on port 443 written out', 'https://kv-payments.vault.azure.net:443', 'keyVault'],
    ['the allow-listed sandbox vault', 'https://127.0.0.1:8443', 'allowListed'],
    ['another port of the allow-listed address', 'https://127.0.0.1:9443', /is an IP address, not a Key Vault host/],
    ['http', 'http://kv-payments.vault.azure.net', /is not https/],
    ['userinfo before the real host', 'https://kv-payments.vault.azure.net@127.0.0.1:8443', /carries credentials before its host/],
    ['a vault host name continued into another domain', 'https://kv.vault.azure.net.evil.test', /is not a Key Vault host/],
    ['a vault host name with a trailing dot', 'https://kv-payments.vault.azure.net.', /is not a Key Vault host/],
    ['a domain that merely ends like a vault suffix', 'https://evilvault.azure.net', /is not a Key Vault host/],
    ['the bare suffix', 'https://vault.azure.net', /is not a Key Vault host/],
    ['a nested name under the suffix', 'https://a.b.vault.azure.net', /is not <vault-name>\.vault\.azure\.net/],
    ['a vault name too short to exist', 'https://kv.vault.azure.net', /is not <vault-name>\.vault\.azure\.net/],
    ['a vault host on another port', 'https://kv-payments.vault.azure.net:8443', /names a port; Key Vault listens on 443 only/],
    ['an IPv4 literal', 'https://10.0.0.1', /is an IP address/],
    ['an IPv4 literal in hexadecimal (the URL parser normalises it)', 'https://0x7f000001', /is an IP address/],
    ['an IPv6 literal', 'https://[::1]:8443', /is an IP address/],
    ['a wildcard-DNS name of a private address', 'https://kv.10.0.0.1.nip.io', /is not a Key Vault host/],
    ['not a URL', 'kv-payments.vault.azure.net', /is not a URL/],
  ])('%s: %s', (_sentence, url, expected) => {
    const verdict = checkVaultHost(url, SANDBOX);
    if (typeof expected === 'string') expect(verdict).toEqual({ kind: expected });
    else expect(verdict.kind === 'refused' ? verdict.message : verdict.kind).toMatch(expected);
  });

  it('an allow-list entry without a port admits every port of that host (the sandbox gives each vault its own)', () => {
    expect(checkVaultHost('https://127.0.0.1:9443', [{ hostname: '127.0.0.1' }])).toEqual({ kind: 'allowListed' });
  });
});

describe('parseAllowedHosts (KEYVAULT_ALLOWED_HOSTS)', () => {
  it.each<[string, string, AllowedHost[] | RegExp]>([
    ['hosts and host:port, spaces and case tolerated', ' 127.0.0.1:8443 , Vault.Local ', [{ hostname: '127.0.0.1', port: '8443' }, { hostname: 'vault.local' }]],
    ['an IPv6 literal with a port', '[::1]:8443', [{ hostname: '[::1]', port: '8443' }]],
    ['a URL with a scheme is refused', 'https://127.0.0.1:8443', /entries must be host or host:port/],
    ['a path is refused', '127.0.0.1/x', /entries must be host or host:port/],
    ['credentials are refused', 'user@127.0.0.1', /entries must be host or host:port/],
    ['a port above 65535 is refused', '127.0.0.1:70000', /entries must be host or host:port/],
  ])('%s', (_sentence, value, expected) => {
    const parsed = parseAllowedHosts(value);
    if (Array.isArray(expected)) expect(parsed).toEqual(expected);
    else expect(parsed).toMatch(expected);
  });
});

describe('parseSourcePolicy (SOURCE_POLICY)', () => {
  it('reads grants separated by semicolons and new lines, with scopes of a subscription, a resource group and sites', () => {
    const grants = parseSourcePolicy(
      `/subscriptions/${SUB} => kv-a.vault.azure.net/client;\n/subscriptions/${SUB}/resourceGroups/RG-Web/providers/Microsoft.Web/sites/web-* => 127.0.0.1:8443/web-*`,
    );
    expect(grants).toEqual([
      { scope: { subscriptionId: SUB }, vaultHost: 'kv-a.vault.azure.net', certificate: 'client', text: `/subscriptions/${SUB} => kv-a.vault.azure.net/client` },
      {
        scope: { subscriptionId: SUB, resourceGroup: 'rg-web', site: 'web-*' },
        vaultHost: '127.0.0.1:8443',
        certificate: 'web-*',
        text: `/subscriptions/${SUB}/resourceGroups/RG-Web/providers/Microsoft.Web/sites/web-* => 127.0.0.1:8443/web-*`,
      },
    ]);
  });

  it.each([
    ['an entry without =>', `/subscriptions/${SUB} kv-a.vault.azure.net/client`, /entries must read '<app scope> => <vault host>\/<certificate name glob>'/],
    ['a scope that is not an ARM scope', `rg-web => kv-a.vault.azure.net/client`, /'rg-web' is not an app scope/],
    ['a target with a scheme', `/subscriptions/${SUB} => https://kv-a.vault.azure.net/client`, /must be <vault host>\/<certificate name glob>/],
    ['a target without a certificate name', `/subscriptions/${SUB} => kv-a.vault.azure.net`, /must be <vault host>\/<certificate name glob>/],
  ])('%s is refused, naming the entry', (_sentence, value, expected) => {
    expect(parseSourcePolicy(value)).toMatch(expected);
  });
});

describe('authorizeSource', () => {
  const app: AppRef = { subscriptionId: SUB, resourceGroup: 'rg-web', site: 'web-orders' };
  const slot: AppRef = { ...app, slot: 'staging' };
  const source: KeyVaultSource = { vaultUrl: 'https://kv-a.vault.azure.net', name: 'web-client' };
  const policy = (text: string): SourceGrant[] => {
    const parsed = parseSourcePolicy(text);
    if (typeof parsed === 'string') throw new Error(parsed);
    return parsed;
  };
  const TAG = 'mtls-rotation-consumers';

  it.each<[string, AppRef, string, string | undefined, 'policy' | 'vaultTag' | false]>([
    ['nothing grants anything by default', app, '', undefined, false],
    ["the vault owner's tag names the app's resource group", app, '', `/subscriptions/${SUB}/resourceGroups/RG-WEB`, 'vaultTag'],
    ["the vault owner's tag names the app's subscription", app, '', `/subscriptions/${SUB}`, 'vaultTag'],
    ["the vault owner's tag names the site: its slots are in scope", slot, '', `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web-orders`, 'vaultTag'],
    ["the vault owner's tag lists several scopes, one of them the app's", app, '', `/subscriptions/${OTHER_SUB}, /subscriptions/${SUB}/resourceGroups/rg-web`, 'vaultTag'],
    ["the vault owner's tag names another resource group whose name starts like the app's", app, '', `/subscriptions/${SUB}/resourceGroups/rg-we`, false],
    ["the vault owner's tag names the same resource group name in another subscription", app, '', `/subscriptions/${OTHER_SUB}/resourceGroups/rg-web`, false],
    ["the vault owner's tag names another site of the resource group", app, '', `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web-billing`, false],
    ["the vault owner's tag is free text", app, '', 'everyone', false],
    ['the operator grants the vault and a pattern of names to the subscription', app, `/subscriptions/${SUB} => kv-a.vault.azure.net/web-*`, undefined, 'policy'],
    ['the operator grants sites by a pattern of names', app, `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Web/sites/web-* => kv-a.vault.azure.net/web-client`, undefined, 'policy'],
    ["the operator's pattern of names does not match the certificate", app, `/subscriptions/${SUB} => kv-a.vault.azure.net/api-*`, undefined, false],
    ["the operator's grant names another vault", app, `/subscriptions/${SUB} => kv-b.vault.azure.net/*`, undefined, false],
    ["the operator's grant names another resource group", app, `/subscriptions/${SUB}/resourceGroups/rg-api => kv-a.vault.azure.net/*`, undefined, false],
  ])('%s', (_sentence, who, policyText, tag, expected) => {
    const result = authorizeSource(who, source, policy(policyText), tag, TAG);
    if (expected === false) {
      expect(result).toMatchObject({ authorized: false });
      expect(result.authorized ? '' : result.message).toMatch(/no grant lets .* use kv-a\.vault\.azure\.net\/web-client: the vault owner may list the app's scope in the certificate's tag mtls-rotation-consumers/);
    } else {
      expect(result).toMatchObject({ authorized: true, by: expected });
    }
  });
});
