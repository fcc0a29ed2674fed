// The sandbox world the adapter tests run against: one subscription, seven sites (paged three at a time), a slot,
// a vault with PFX, PEM, forbidden and disabled certificates, and a partner API that trusts the 'issuing' CA.
import type { Scenario } from '../../sandbox/index.js';
import type { AppRef } from '../../src/core/ports.js';

export const SUB = '11111111-1111-4111-8111-111111111111';
export const RG = 'rg-apps';
export const VAULT = 'kv-main';
export const KV_REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv-main.vault.azure.net/secrets/db-password/)';
export const APP0: AppRef = { subscriptionId: SUB, resourceGroup: RG, site: 'app-0' };
export const APP0_STAGING: AppRef = { ...APP0, slot: 'staging' };

export function adapterScenario(): Scenario {
  return {
    name: 'azure-adapters',
    armPageSize: 3,
    cas: [{ name: 'issuing' }, { name: 'other' }],
    vaults: [
      {
        name: VAULT,
        subscriptionId: SUB,
        resourceGroup: RG,
        certificates: [
          { name: 'client-pfx', versions: [{ issuer: 'issuing', notAfterDays: 20 }, { issuer: 'issuing', notAfterDays: 365 }] },
          { name: 'client-pem', contentType: 'application/x-pem-file', versions: [{ issuer: 'issuing', notAfterDays: 200 }] },
          { name: 'locked', forbidden: true, versions: [{ issuer: 'issuing', notAfterDays: 100 }] },
          { name: 'disabled', versions: [{ issuer: 'issuing', notAfterDays: 100, enabled: false }] },
        ],
      },
    ],
    downstreams: [{ name: 'partner', trusts: ['issuing'] }],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          {
            name: RG,
            location: 'West Europe',
            certificates: [{ name: 'client-pfx-v0', fromVault: { vault: VAULT, certificate: 'client-pfx', version: 0 } }],
            sites: [
              {
                name: 'app-0',
                tags: {
                  'mtls-rotation': 'enabled',
                  'mtls-rotation-source': `{{source:${VAULT}/client-pfx}}`,
                  'mtls-rotation-health': '/healthz/outbound-mtls',
                  'mtls-rotation-probe': '{{downstream:partner}}',
                  // The app picks its certificate by this setting, so the rotation must switch it too.
                  'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT',
                },
                downstream: 'partner',
                restartMs: 50,
                settings: {
                  WEBSITE_LOAD_CERTIFICATES: `{{thumbprint:${VAULT}/client-pfx/0}}`,
                  CLIENT_CERT_THUMBPRINT: `{{thumbprint:${VAULT}/client-pfx/0}}`,
                  DB_PASSWORD: KV_REFERENCE,
                },
                slots: [{ name: 'staging', settings: { SLOT_ONLY: 'yes' }, tags: { env: 'staging' } }],
              },
              ...Array.from({ length: 6 }, (_, i) => ({ name: `app-${i + 1}`, tags: { index: String(i + 1) } })),
            ],
          },
        ],
      },
    ],
  };
}
