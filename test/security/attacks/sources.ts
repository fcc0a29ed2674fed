// Attacks on the source of a rotation: an app owner names another team's certificate, or
// a host that is not Key Vault, through every input they control (the source tag, a pinned thumbprint, a linked or
// tagged certificate resource in their resource group, `*` mode). Each must be refused with SourceNotAuthorized (or
// as a bad tag), with no ARM write, no upload, and no request at all to the hostile server.
import { defineAttacks } from '../harness.js';
import { addAttackers, onHostilePort, SUB, useTrustWorld, type AttackerApp, type TrustWorld } from '../trustWorld.js';

const B_SOURCE = '{{source:kv-b/b-client}}';
const B_PINNED = '{{thumbprint:kv-b/b-client/0}}';
const NOT_AUTHORIZED = /SourceNotAuthorized/;

/** An attacker app that loads its own team's certificate (kv-a a-client v0, uploaded into its resource group). */
function ownCertificateApp(name: string, tags: Record<string, string>, extra: Partial<AttackerApp> = {}): AttackerApp {
  return {
    name,
    tags,
    settings: { WEBSITE_LOAD_CERTIFICATES: '{{thumbprint:kv-a/a-client/0}}' },
    certificates: [{ name: `${name}-a-client-v0`, fromVault: { vault: 'kv-a', certificate: 'a-client', version: 0 } }],
    ...extra,
  };
}

interface SourceAttack {
  app: AttackerApp;
  expected: RegExp;
}

const ATTACKS: Record<string, SourceAttack> = {
  "the source tag names team B's certificate in team B's vault": {
    app: ownCertificateApp('atk-tag-b', { 'mtls-rotation-source': B_SOURCE }),
    expected: NOT_AUTHORIZED,
  },
  "team B's public thumbprint is pinned so that it reads as dangling (the repair searches the subscription)": {
    app: { name: 'atk-pin-b', settings: { WEBSITE_LOAD_CERTIFICATES: B_PINNED } },
    expected: /SourceNotAuthorized: [0-9A-F]{40} is pinned .* not granted to this app/,
  },
  "a certificate resource in my resource group is linked to team B's vault certificate": {
    app: {
      name: 'atk-linked-b',
      settings: { WEBSITE_LOAD_CERTIFICATES: B_PINNED },
      certificates: [{ name: 'stolen-b-linked', fromVault: { vault: 'kv-b', certificate: 'b-client', version: 0 }, linked: true }],
    },
    expected: NOT_AUTHORIZED,
  },
  "a certificate resource in my resource group carries the rotator's source tag naming team B's certificate": {
    app: {
      name: 'atk-rotatortag-b',
      settings: { WEBSITE_LOAD_CERTIFICATES: B_PINNED },
      certificates: [
        { name: 'stolen-b-tagged', fromVault: { vault: 'kv-b', certificate: 'b-client', version: 0 }, tags: { 'mtls-rotation-source': B_SOURCE } },
      ],
    },
    expected: NOT_AUTHORIZED,
  },
  "a '*' app narrows its webspace to team B's certificate with the source tag": {
    app: ownCertificateApp('atk-wildcard-b', { 'mtls-rotation-source': B_SOURCE }, { settings: { WEBSITE_LOAD_CERTIFICATES: '*' } }),
    expected: NOT_AUTHORIZED,
  },
  "an app named like team B's granted site (b-app), in another resource group, names that site's certificate": {
    app: ownCertificateApp('b-app', { 'mtls-rotation-source': '{{source:kv-b/b-site}}' }, { resourceGroup: 'rg-atk-site-scope' }),
    expected: NOT_AUTHORIZED,
  },
  "an app in resource group rg-team-b-x (a name that starts like the granted rg-team-b) names team B's certificate": {
    app: ownCertificateApp('atk-rg-prefix', { 'mtls-rotation-source': B_SOURCE }, { resourceGroup: 'rg-team-b-x' }),
    expected: NOT_AUTHORIZED,
  },
  "the app owner grants themself: the consumers tag, naming the whole subscription, on their own app": {
    app: ownCertificateApp('atk-self-grant-app', { 'mtls-rotation-source': B_SOURCE, 'mtls-rotation-consumers': `/subscriptions/${SUB}` }),
    expected: NOT_AUTHORIZED,
  },
  "the app owner grants themself: the consumers tag on a certificate resource in their resource group that names team B's source": {
    app: {
      name: 'atk-self-grant-resource',
      settings: { WEBSITE_LOAD_CERTIFICATES: B_PINNED },
      certificates: [
        {
          name: 'self-granted',
          fromVault: { vault: 'kv-b', certificate: 'b-client', version: 0 },
          tags: { 'mtls-rotation-source': B_SOURCE, 'mtls-rotation-consumers': `/subscriptions/${SUB}` },
        },
      ],
    },
    expected: NOT_AUTHORIZED,
  },
  "the source tag names a certificate of a vault the operator granted, but not one the operator's pattern names": {
    app: ownCertificateApp('atk-policy-glob', { 'mtls-rotation-source': '{{source:kv-a/a-unshared}}' }),
    expected: NOT_AUTHORIZED,
  },
};

// Hosts that are not Key Vault, every one of them pointing at the hostile server on 127.0.0.1 (filled in once its
// port is known). The engine trusts the hostile server's certificate, so only the host rule can stop the request.
const HOST_ATTACKS: Record<string, { app: string; url: (port: number) => string; expected: RegExp }> = {
  'the source tag is an IP literal (127.0.0.1 on a port that is not a vault)': {
    app: 'atk-host-ip',
    url: (port) => `https://127.0.0.1:${port}/certificates/x`,
    expected: /SourceNotAuthorized: .* is an IP address, not a Key Vault host/,
  },
  'the source tag uses http://': {
    app: 'atk-host-http',
    url: (port) => `http://127.0.0.1:${port}/certificates/x`,
    expected: /tag mtls-rotation-source: .* must use https/,
  },
  'the source tag hides the host behind userinfo (https://x.vault.azure.net@127.0.0.1:port/)': {
    app: 'atk-host-userinfo',
    url: (port) => `https://x.vault.azure.net@127.0.0.1:${port}/certificates/x`,
    expected: /tag mtls-rotation-source: .* must not have a query, fragment or credentials/,
  },
  'the source tag continues a vault host name into another domain (x.vault.azure.net.evil.test)': {
    app: 'atk-host-suffix',
    url: (port) => `https://x.vault.azure.net.evil.test:${port}/certificates/x`,
    expected: /SourceNotAuthorized: .*is not a Key Vault host/,
  },
  'the source tag is a wildcard-DNS name of 127.0.0.1 (evil.127.0.0.1.nip.io)': {
    app: 'atk-host-nip',
    url: (port) => `https://evil.127.0.0.1.nip.io:${port}/certificates/x`,
    expected: /SourceNotAuthorized: .*is not a Key Vault host/,
  },
  'the source tag is a Key Vault host name on another port': {
    app: 'atk-host-kvport',
    url: (port) => `https://kv-x.vault.azure.net:${port}/certificates/x`,
    expected: /SourceNotAuthorized: .*names a port; Key Vault listens on 443 only/,
  },
  'the source tag is 127.0.0.1 written in hexadecimal (0x7f000001)': {
    app: 'atk-host-hex',
    url: (port) => `https://0x7f000001:${port}/certificates/x`,
    expected: /SourceNotAuthorized: .* is an IP address/,
  },
  'the source tag is the IPv6 loopback ([::1])': {
    app: 'atk-host-ipv6',
    url: (port) => `https://[::1]:${port}/certificates/x`,
    expected: /SourceNotAuthorized: .* is an IP address/,
  },
};

const hostApps: AttackerApp[] = Object.values(HOST_ATTACKS).map((a) => ownCertificateApp(a.app, {}));
// A certificate resource tagged with the hostile URL as its source (the rotator's tag, which the app owner can forge).
const taggedResourceApp: AttackerApp = {
  name: 'atk-host-rotatortag',
  settings: { WEBSITE_LOAD_CERTIFICATES: '{{thumbprint:kv-a/a-client/0}}' },
  certificates: [{ name: 'forged-tag', fromVault: { vault: 'kv-a', certificate: 'a-client', version: 0 }, tags: {} }],
};
onHostilePort((port) => {
  for (const app of hostApps) {
    const attack = Object.values(HOST_ATTACKS).find((a) => a.app === app.name)!;
    app.tags = { 'mtls-rotation-source': attack.url(port) };
  }
  taggedResourceApp.certificates![0]!.tags = { 'mtls-rotation-source': `https://127.0.0.1:${port}/certificates/x` };
});

addAttackers(...Object.values(ATTACKS).map((a) => a.app), ...hostApps, taggedResourceApp);

const world = useTrustWorld();

export default defineAttacks<TrustWorld>({
  name: `sources: only Key Vault hosts, only granted sources (subscription ${SUB.slice(0, 8)}…)`,
  setup: () => world.acquire(),
  teardown: () => world.release(),
  attacks: [
    ...Object.entries(ATTACKS).map(([name, a]) => ({ name, attempt: (w: TrustWorld) => w.attack(a.app.name, a.expected) })),
    ...Object.entries(HOST_ATTACKS).map(([name, a]) => ({ name, attempt: (w: TrustWorld) => w.attack(a.app, a.expected) })),
    {
      name: "a certificate resource in my resource group carries the rotator's source tag naming the hostile server",
      attempt: (w: TrustWorld) => w.attack(taggedResourceApp.name, /SourceNotAuthorized: .* is an IP address/),
    },
  ],
});
