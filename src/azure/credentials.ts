// The credential every Azure client of the service shares (ARM and Key Vault), built once by the composition root.
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';

export type CredentialKind = 'default' | 'managed-identity' | 'static';

export interface CredentialSettings {
  /** AZURE_CREDENTIAL */
  kind: CredentialKind;
  /** AZURE_CLIENT_ID: a user-assigned identity; absent → the system-assigned one. */
  clientId?: string;
  /** AZURE_STATIC_TOKEN: a bearer token used as is (the sandbox, or a short manual session). Never logged. */
  staticToken?: string;
}

export class CredentialConfigurationError extends Error {
  override readonly name = 'CredentialConfigurationError';
}

/**
 * A credential that hands out a fixed token. It cannot refresh, so its expiry is reported far ahead: an expired
 * token shows up as a 401 from ARM with a clear PreconditionError, which is the honest outcome.
 */
export function staticTokenCredential(token: string): TokenCredential {
  if (token.trim() === '') throw new CredentialConfigurationError('AZURE_STATIC_TOKEN must be set when AZURE_CREDENTIAL=static');
  return {
    getToken: async (): Promise<AccessToken> => ({
      token,
      expiresOnTimestamp: Date.now() + 24 * 60 * 60 * 1000,
      tokenType: 'Bearer',
    }),
  };
}

export function createCredential(settings: CredentialSettings): TokenCredential {
  switch (settings.kind) {
    case 'static':
      return staticTokenCredential(settings.staticToken ?? '');
    case 'managed-identity':
      // The App Service / Functions identity endpoint; a user-assigned identity needs its client id.
      return settings.clientId ? new ManagedIdentityCredential({ clientId: settings.clientId }) : new ManagedIdentityCredential();
    case 'default':
      return new DefaultAzureCredential(settings.clientId ? { managedIdentityClientId: settings.clientId } : undefined);
    default: {
      const kind: never = settings.kind;
      throw new CredentialConfigurationError(`AZURE_CREDENTIAL must be one of default, managed-identity, static; got '${String(kind)}'`);
    }
  }
}
