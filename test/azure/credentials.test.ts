// Credentials: only the static one is exercised here; identity credentials are not constructed in tests (they may
// look up hosts such as the instance metadata service).
import { describe, expect, it } from 'vitest';
import { CredentialConfigurationError, createCredential, staticTokenCredential } from '../../src/azure/credentials.js';

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
