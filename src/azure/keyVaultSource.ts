// The Key Vault adapter of the certificate source port (registered as kind 'keyvault'), over the data plane: CertificateClient for the public part (x5t, dates, enabled) and
// SecretClient for the certificate's secret (the PFX or PEM with the private key). One client pair per vault URL.
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { CertificateClient, type KeyVaultCertificate } from '@azure/keyvault-certificates';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { CertificateFacts, CertificateSecret, CertificateSourceAdapter, KeyVaultCertificateVersion, KeyVaultSource, SourceRef } from '../core/ports.js';
import { keyVaultRefOf, parseKeyVaultRef } from '../core/sources/keyVaultRef.js';
import { KEY_VAULT } from '../core/sources/sourceRef.js';
import { certificateFacts, derToPem, describeCertificate, thumbprintOfDer } from '../crypto/x509.js';
import { AzurePreconditionError, callAzure, callAzureOptional, translateAzureError, type AzureErrorContext } from './errors.js';
import { checkVaultHost, SecretTooLargeError, type AllowedHost } from '../core/trust.js';
import { attemptTimeoutPolicy, responseSizeLimitPolicy, RESPONSE_TOO_LARGE } from './pipeline.js';

// Key Vault stores secrets of at most 25 KB, and a certificate bundle with its policy is a few KB: 1 MiB is far
// above anything a real vault answers and far below what would hurt (a 50 MB "secret" once peaked at 3.6 GB).
export const KEYVAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface KeyVaultSourceOptions {
  credential: TokenCredential;
  /**
   * KEYVAULT_CHALLENGE_VERIFICATION. The SDK checks that the resource in Key Vault's 401 challenge is a parent
   * domain of the vault's host (`*.vault.azure.net`); the sandbox's vaults live on 127.0.0.1, so it is off there.
   * It is only ever turned off for an allow-listed host: a real Key Vault host always gets the check.
   */
  challengeVerification: boolean;
  /** KEYVAULT_ALLOWED_HOSTS: hosts besides the clouds' Key Vault hosts that may be sent a request (the sandbox). */
  allowedHosts?: readonly AllowedHost[];
  /** Bytes of one Key Vault response body; a larger one is refused before it is parsed. */
  maxResponseBytes?: number;
  /** Extra CA (PEM) to trust: the sandbox CA. */
  tlsCa?: string;
  attemptTimeoutMs?: number;
  perRetryPolicies?: PipelinePolicy[];
}

interface VaultClients {
  certificates: CertificateClient;
  /** Built on the first secret read: a scan reads no secret, so it never loads @azure/keyvault-secrets. */
  secrets(): Promise<SecretClient>;
}

/** `https://kv.vault.azure.net/` and `https://KV.vault.azure.net` name the same vault. */
export function normalizeVaultUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') throw new AzurePreconditionError(`Key Vault URL must use https, got '${url}'`, { operation: 'open vault', resource: url });
  return `${parsed.protocol}//${parsed.host.toLowerCase()}`;
}

export class KeyVaultCertificateSource implements CertificateSourceAdapter {
  readonly kind = KEY_VAULT;
  private readonly vaults = new Map<string, VaultClients>();

  parseRef(ref: SourceRef): KeyVaultSource | string {
    return parseKeyVaultRef(ref);
  }

  refOf(source: KeyVaultSource): SourceRef {
    return keyVaultRefOf(source);
  }

  constructor(private readonly options: KeyVaultSourceOptions) {}

  clients(vaultUrl: string): VaultClients {
    const key = normalizeVaultUrl(vaultUrl);
    let clients = this.vaults.get(key);
    if (clients === undefined) {
      // Checked before a client exists: a host that is not a vault gets no request, so no token either.
      const verdict = checkVaultHost(key, this.options.allowedHosts ?? []);
      if (verdict.kind === 'refused') {
        throw new AzurePreconditionError(`Key Vault source refused: ${verdict.message}`, { operation: 'open vault', resource: key });
      }
      const common = {
        disableChallengeResourceVerification: verdict.kind === 'allowListed' && !this.options.challengeVerification,
        ...(this.options.tlsCa ? { tlsOptions: { ca: this.options.tlsCa } } : {}),
        additionalPolicies: [
          attemptTimeoutPolicy(this.options.attemptTimeoutMs ?? 60_000),
          responseSizeLimitPolicy(this.options.maxResponseBytes ?? KEYVAULT_MAX_RESPONSE_BYTES),
          ...(this.options.perRetryPolicies ?? []),
        ].map((policy) => ({ policy, position: 'perRetry' as const })),
      };
      let secrets: Promise<SecretClient> | undefined;
      clients = {
        certificates: new CertificateClient(key, this.options.credential, common),
        secrets: () =>
          (secrets ??= import('@azure/keyvault-secrets').then(
            ({ SecretClient }) => new SecretClient(key, this.options.credential, common),
            (error: unknown) => {
              secrets = undefined;
              throw error;
            },
          )),
      };
      this.vaults.set(key, clients);
    }
    return clients;
  }

  async getLatest(source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined> {
    const context = { operation: 'get Key Vault certificate', resource: certificateUrl(source) };
    const certificate = await callAzureOptional(context, () => this.clients(source.vaultUrl).certificates.getCertificate(source.name));
    return certificate === undefined ? undefined : toVersion(source, certificate, context);
  }

  async getVersion(source: KeyVaultSource, version: string): Promise<KeyVaultCertificateVersion | undefined> {
    const context = { operation: 'get Key Vault certificate version', resource: `${certificateUrl(source)}/${version}` };
    if (!/^[0-9A-Za-z-]{1,64}$/.test(version)) {
      throw new AzurePreconditionError(`${context.operation} (${context.resource}): '${version}' is not a Key Vault version id`, context);
    }
    const certificate = await callAzureOptional(context, () =>
      this.clients(source.vaultUrl).certificates.getCertificateVersion(source.name, version),
    );
    return certificate === undefined ? undefined : toVersion(source, certificate, context);
  }

  /** The secret value is the private key: it is returned to the caller and appears in no message or log. */
  async getSecret(source: KeyVaultSource, version: string): Promise<CertificateSecret> {
    const context = { operation: 'get Key Vault certificate secret', resource: `${source.vaultUrl.replace(/\/+$/, '')}/secrets/${source.name}/${version}` };
    let secret;
    try {
      secret = await callAzure(context, async () => (await this.clients(source.vaultUrl).secrets()).getSecret(source.name, { version }));
    } catch (error) {
      if (error instanceof AzurePreconditionError && error.details.serviceCode === RESPONSE_TOO_LARGE) {
        throw new SecretTooLargeError(error.message);
      }
      throw error;
    }
    if (typeof secret.value !== 'string' || secret.value === '') {
      throw new AzurePreconditionError(`${context.operation} (${context.resource}): the secret has no value`, context);
    }
    return { contentType: secret.properties.contentType ?? '', value: secret.value };
  }
}

function certificateUrl(source: KeyVaultSource): string {
  return `${source.vaultUrl.replace(/\/+$/, '')}/certificates/${source.name}`;
}

/** Maps the SDK's certificate to the port type; the thumbprint is Key Vault's x5t (decoded by the SDK) in App Service form. */
export function toVersion(source: KeyVaultSource, certificate: KeyVaultCertificate, context: AzureErrorContext): KeyVaultCertificateVersion {
  const p = certificate.properties;
  let thumbprint: string | undefined;
  if (p.x509Thumbprint && p.x509Thumbprint.length > 0) {
    thumbprint = Buffer.from(p.x509Thumbprint).toString('hex').toUpperCase();
  } else if (certificate.cer && certificate.cer.length > 0) {
    thumbprint = thumbprintOfDer(certificate.cer);
  }
  if (thumbprint === undefined || !/^[0-9A-F]{40}$/.test(thumbprint)) {
    throw new AzurePreconditionError(`${context.operation} (${context.resource}): Key Vault returned no usable x5t thumbprint`, context);
  }
  const version = p.version ?? lastSegment(p.id ?? certificate.id ?? '');
  let subject: string | undefined;
  let issuer: string | undefined;
  let facts: CertificateFacts | undefined;
  if (certificate.cer && certificate.cer.length > 0) {
    try {
      const pem = derToPem(certificate.cer);
      const description = describeCertificate(pem);
      subject = description.subject;
      issuer = description.issuer;
      facts = certificateFacts(pem);
    } catch (error) {
      throw translateAzureError(error, { ...context, operation: `${context.operation}: read its certificate (cer)` });
    }
  }
  return {
    source: { vaultUrl: source.vaultUrl.replace(/\/+$/, ''), name: source.name },
    version,
    id: p.id ?? certificate.id ?? `${certificateUrl(source)}/${version}`,
    thumbprint,
    enabled: p.enabled !== false,
    notBefore: p.notBefore,
    expiresOn: p.expiresOn,
    createdOn: p.createdOn,
    subject,
    issuer,
    ...(p.tags ? { tags: { ...p.tags } } : {}),
    ...(facts ? { facts } : {}),
  };
}

function lastSegment(id: string): string {
  return id.split('/').filter((s) => s !== '').pop() ?? '';
}
