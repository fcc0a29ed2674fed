// The credential every Azure client of the service shares (ARM and Key Vault), built once by the composition root.
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { DefaultAzureCredentialClientIdOptions, ManagedIdentityCredentialClientIdOptions } from '@azure/identity';

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

/** The identity package could not be loaded: a broken deployment, not a token problem. */
export class CredentialLoadError extends Error {
  override readonly name = 'CredentialLoadError';
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

/**
 * A TokenCredential that loads `@azure/identity` on its first getToken and builds the real credential once
 * (concurrent first calls share one import). @azure/identity and its MSAL dependencies are ~13 MB of RSS in a
 * process that, with a static token, never needs them: a heavy SDK loads only where it is used.
 */
export class LazyTokenCredential implements TokenCredential {
  private credential: Promise<TokenCredential> | undefined;

  constructor(
    /** What the credential is, for errors (e.g. "managed identity"). */
    readonly description: string,
    private readonly build: (identity: typeof import('@azure/identity')) => TokenCredential,
    /** Which identity and which setting chose it, prefixed to token errors (the platform's message names neither). */
    private readonly who?: string,
  ) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const credential = await this.resolve();
    if (this.who === undefined) return credential.getToken(scopes, options);
    try {
      return await credential.getToken(scopes, options);
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      // Same name, so callers still classify it (CredentialUnavailableError → "no usable Azure credential").
      const described = new Error(`${this.who} could not get a token for ${[scopes].flat().join(' ')}: ${error.message}`, { cause: error });
      described.name = error.name;
      throw described;
    }
  }

  /** The real credential (loads @azure/identity on first call). */
  resolve(): Promise<TokenCredential> {
    this.credential ??= import('@azure/identity').then(
      (identity) => this.build(identity),
      (error: unknown) => {
        // A later call may succeed (e.g. a transient file-system error); do not cache the failure.
        this.credential = undefined;
        throw new CredentialLoadError(`the ${this.description} credential cannot be loaded (@azure/identity)`, { cause: error });
      },
    );
    return this.credential;
  }
}

/**
 * The App Service / Functions identity endpoint; a user-assigned identity needs its client id. `setting` names where
 * the client id came from (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId), for errors: the platform answers an
 * unknown client id with "Unable to load the proper Managed Identity", naming neither.
 */
export function managedIdentityCredential(clientId?: string, setting = 'AZURE_CLIENT_ID'): TokenCredential {
  const options: ManagedIdentityCredentialClientIdOptions | undefined = clientId ? { clientId } : undefined;
  const who = clientId
    ? `the user-assigned managed identity with client id ${clientId} (${setting})`
    : `the system-assigned managed identity (${setting} is unset)`;
  return new LazyTokenCredential(
    'managed identity',
    (identity) => (options ? new identity.ManagedIdentityCredential(options) : new identity.ManagedIdentityCredential()),
    who,
  );
}

export function defaultAzureCredential(managedIdentityClientId?: string): TokenCredential {
  const options: DefaultAzureCredentialClientIdOptions | undefined = managedIdentityClientId ? { managedIdentityClientId } : undefined;
  return new LazyTokenCredential('default Azure', (identity) => new identity.DefaultAzureCredential(options));
}

export function createCredential(settings: CredentialSettings): TokenCredential {
  switch (settings.kind) {
    case 'static':
      return staticTokenCredential(settings.staticToken ?? '');
    case 'managed-identity':
      return managedIdentityCredential(settings.clientId);
    case 'default':
      return defaultAzureCredential(settings.clientId);
    default: {
      const kind: never = settings.kind;
      throw new CredentialConfigurationError(`AZURE_CREDENTIAL must be one of default, managed-identity, static; got '${String(kind)}'`);
    }
  }
}
