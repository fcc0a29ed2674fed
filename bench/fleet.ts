// The canary rollout benchmark's world, in a module of its own so the sandbox child (bench/sandboxChild.ts) can build it
// without loading the function app: `count` apps that load one Key Vault certificate (one partner, one client
// identity).
import type { Scenario } from '../sandbox/index.js';
import type { AppRef } from '../src/core/ports.js';

export const SUB = '7e1a0c55-0b1d-4c3e-9f00-5e11ab1e0017';
export const VAULT = 'kv-fleet';

export function refOf(name: string): AppRef {
  return { subscriptionId: SUB, resourceGroup: `rg-${name}`, site: name };
}

/**
 * `count` apps, each in its own webspace, all loading version 0 (old CA) of one vault certificate whose latest version
 * is issued by a new CA. `ok` apps call a partner that trusts both CAs; `breaks` apps are tagged with that partner (the
 * direct preflight passes) but their own code calls one that trusts only the old CA, so only the app itself fails.
 */
export function fleet(count: number, kind: 'ok' | 'breaks', restartMs = 20): Scenario {
  const pinned = `{{thumbprint:${VAULT}/client/0}}`;
  return {
    name: 'rollout-fleet',
    meta: { facts: { subscriptionIds: [SUB] } },
    cas: [{ name: 'old-ca' }, { name: 'new-ca' }],
    vaults: [
      {
        name: VAULT,
        subscriptionId: SUB,
        resourceGroup: 'rg-kv',
        certificates: [{ name: 'client', versions: [{ issuer: 'old-ca', notAfterDays: 20, material: 'old' }, { issuer: 'new-ca', notAfterDays: 365, material: 'new' }] }],
      },
    ],
    downstreams: [
      { name: 'partner', trusts: ['old-ca', 'new-ca'] },
      { name: 'strict', trusts: ['old-ca'] },
    ],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          { name: 'rg-kv', location: 'West Europe' },
          ...names(count).map((name) => ({
            name: `rg-${name}`,
            location: 'West Europe',
            certificates: [{ name: `${name}-v0`, fromVault: { vault: VAULT, certificate: 'client', version: 0 } }],
            sites: [
              {
                name,
                downstream: kind === 'ok' ? 'partner' : 'strict',
                restartMs,
                tags: {
                  'mtls-rotation': 'enabled',
                  'mtls-rotation-source': `{{source:${VAULT}/client}}`,
                  'mtls-rotation-health': '/healthz/outbound-mtls',
                  'mtls-rotation-probe': '{{downstream:partner}}',
                  'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT',
                },
                settings: { WEBSITE_LOAD_CERTIFICATES: pinned, CLIENT_CERT_THUMBPRINT: pinned, OTHER: 'kept' },
              },
            ],
          })),
        ],
      },
    ],
  };
}

export const names = (count: number) => Array.from({ length: count }, (_, i) => `app${String(i + 1).padStart(2, '0')}`);
