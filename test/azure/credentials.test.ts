// Credentials: the static one and the lazy wrapper. The managed-identity credential runs for real against the
// sandbox's App Service identity endpoint in test/azure/managedIdentity.test.ts (with IDENTITY_ENDPOINT set, MSAL
// never falls back to the instance metadata service).
import { describe, expect, it } from 'vitest';
import { CredentialConfigurationError, createCredential, LazyTokenCredential, staticTokenCredential } from '../../src/azure/credentials.js';

describe('createCredential', () => {
  it('hands out AZURE_STATIC_TOKEN as a bearer token for any scope', async () => {
    const credential = createCredential({ kind: 'static', staticToken: 'sandbox-token' });
    const token = await credential.getToken('https://management.azure.com/.default');
    expect(token?.token).toBe('sandbox-token');
    expect(token!.expiresOnTimestamp).toBeGreaterThan(Date.now());
  });

  it('refuses a static credential without a token, naming the setting', () => {
    expect(() => staticTokenCredential('  ')).toThrow(CredentialConfigurationError);
    expect(() => createCredential({ kind: 'static' })).toThrow(/AZURE_STATIC_TOKEN must be set when AZURE_CREDENTIAL=static/);
  });
});

describe('LazyTokenCredential', () => {
  it('builds the real credential once, on the first getToken, even when first calls are concurrent', async () => {
    let builds = 0;
    const credential = new LazyTokenCredential('test', (identity) => {
      builds += 1;
      // The module handed over is @azure/identity itself.
      expect(typeof identity.ManagedIdentityCredential).toBe('function');
      return staticTokenCredential(`token-${builds}`);
    });
    expect(builds).toBe(0);
    const tokens = await Promise.all([credential.getToken('a'), credential.getToken('b'), credential.getToken('c')]);
    expect(tokens.map((t) => t?.token)).toEqual(['token-1', 'token-1', 'token-1']);
    expect(builds).toBe(1);
  });

  it.each([
    ['managed-identity', { kind: 'managed-identity' as const, clientId: '11111111-1111-1111-1111-111111111111' }],
    ['default', { kind: 'default' as const }],
  ])('AZURE_CREDENTIAL=%s gives a lazy credential (nothing built until a token is asked for)', (_kind, settings) => {
    expect(createCredential(settings)).toBeInstanceOf(LazyTokenCredential);
  });
});
