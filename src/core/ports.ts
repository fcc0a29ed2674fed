// The ports `src/core` talks to. `src/azure` implements them over the real SDK clients; the sandbox
// serves those clients over HTTPS. Nothing here imports an Azure SDK or @azure/functions.
import type { CertificateFacts } from '../crypto/x509.js';
import type { SourceRef } from './sources/sourceRef.js';

export type { SourceRef, SourceVersionRef } from './sources/sourceRef.js';

/** An App Service app or one of its deployment slots. */
export interface AppRef {
  subscriptionId: string;
  resourceGroup: string;
  site: string;
  /** Deployment slot name (without the `site/` prefix); undefined for the production slot. */
  slot?: string;
}

/** A site or slot as listed by ARM (only what the rotator needs). */
export interface SiteInfo {
  /** ARM resource id, as ARM reports it. */
  id: string;
  ref: AppRef;
  /** ARM `location` (display form, e.g. "West Europe"). */
  location: string;
  tags: Record<string, string>;
  /** e.g. "myapp.azurewebsites.net" (in the sandbox "127.0.0.1:<port>"). */
  defaultHostName: string;
  serverFarmId?: string;
  /** Certificates are shared by every app of a webspace: resource group + region (see webspaceKey). */
  webspace: string;
  state?: string;
}

/** A `Microsoft.Web/certificates` resource. */
export interface CertificateInfo {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  webspace: string;
  /** Uppercase hex SHA-1, 40 chars. */
  thumbprint: string;
  subjectName?: string;
  issuer?: string;
  issueDate?: Date;
  expirationDate?: Date;
  /** Resource id of the Key Vault when the certificate was imported from one. */
  keyVaultId?: string;
  keyVaultSecretName?: string;
  tags: Record<string, string>;
}

export interface UploadCertificateInput {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  /** PKCS#12, 3DES/SHA1, protected by `password`. Never logged. */
  pfx: Uint8Array;
  password: string;
  serverFarmId?: string;
  tags: Record<string, string>;
}

/**
 * An app's settings as ARM returns them. A value can be `null` in ARM's JSON (a StringDictionary entry set to null by
 * a template or a tool): it is kept as it is, written back as it was read, and reads as "not set" where the rotation
 * looks at a value.
 */
export type AppSettings = Record<string, string | null>;

export interface AppServiceGateway {
  /** Every site of a subscription, page by page (slots are not included, as in ARM). */
  listSites(subscriptionId: string): AsyncIterable<SiteInfo>;
  /** The slots of one site. */
  listSlots(site: SiteInfo): AsyncIterable<SiteInfo>;
  /** One site or slot; undefined when ARM says it does not exist. */
  getSite(ref: AppRef): Promise<SiteInfo | undefined>;
  /** Every Microsoft.Web/certificates resource of a subscription, page by page. */
  listCertificates(subscriptionId: string): AsyncIterable<CertificateInfo>;
  /** Every certificate of one resource group (used for retirement and staging checks). */
  listCertificatesInResourceGroup(subscriptionId: string, resourceGroup: string): AsyncIterable<CertificateInfo>;
  getCertificate(subscriptionId: string, resourceGroup: string, name: string): Promise<CertificateInfo | undefined>;
  /** `POST .../config/appsettings/list`: the whole dictionary. */
  readAppSettings(ref: AppRef): Promise<AppSettings>;
  /** `PUT .../config/appsettings`: replaces the whole dictionary. Callers always pass a read-modify-write result. */
  writeAppSettings(ref: AppRef, settings: AppSettings): Promise<void>;
  restart(ref: AppRef): Promise<void>;
  uploadCertificate(input: UploadCertificateInput): Promise<CertificateInfo>;
  deleteCertificate(subscriptionId: string, resourceGroup: string, name: string): Promise<void>;
  /** `properties.vaultUri` of a `Microsoft.KeyVault/vaults` resource id, e.g. "https://kv.vault.azure.net/". */
  resolveVaultUri(keyVaultResourceId: string): Promise<string>;
}

/**
 * Where a certificate comes from, as an adapter reads it: the source's base URL and the certificate's name there (Key
 * Vault: the vault URL and the certificate name). A record keeps it as a SourceRef (src/core/sources/sourceRef.ts).
 */
export interface KeyVaultSource {
  /** The source's kind (src/core/sources/registry.ts); absent = Key Vault. */
  kind?: string;
  /** e.g. "https://myvault.vault.azure.net" (no trailing slash). */
  vaultUrl: string;
  /** Certificate name in the vault. */
  name: string;
}

export interface KeyVaultCertificateVersion {
  source: KeyVaultSource;
  version: string;
  /** Full certificate id: `<vaultUrl>/certificates/<name>/<version>`. */
  id: string;
  /** Uppercase hex SHA-1 (converted from x5t). */
  thumbprint: string;
  enabled: boolean;
  notBefore?: Date;
  expiresOn?: Date;
  createdOn?: Date;
  subject?: string;
  issuer?: string;
  /** The certificate's Key Vault tags (the vault owner's: `<prefix>-consumers` grants app scopes). */
  tags?: Record<string, string>;
  /** What the candidate policy judges, read from the public certificate (`cer`) when Key Vault returned it. */
  facts?: CertificateFacts;
}

/** Public facts of a certificate that the candidate policy judges; what crypto reads from a certificate. */
export type { CertificateFacts };

/** The certificate's secret as Key Vault returns it (PFX base64 with empty password, or PEM). Never logged. */
export interface CertificateSecret {
  contentType: string;
  value: string;
}

/** The certificate source port: what the core asks of a source (the registry, or one adapter). */
export interface CertificateSource {
  /** The newest version (what `GET /certificates/{name}/` answers); undefined when the certificate does not exist. */
  getLatest(source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined>;
  getVersion(source: KeyVaultSource, version: string): Promise<KeyVaultCertificateVersion | undefined>;
  /** The version's secret material (certificate and private key). Never logged. */
  getSecret(source: KeyVaultSource, version: string): Promise<CertificateSecret>;
  /** The source a stored reference names, or why it names none. */
  parseRef(ref: SourceRef): KeyVaultSource | string;
  /** The reference a record keeps for a source. */
  refOf(source: KeyVaultSource): SourceRef;
}

/** One kind of certificate source (Key Vault, ...), registered by its kind in the SourceRegistry. */
export interface CertificateSourceAdapter extends CertificateSource {
  readonly kind: string;
}

/** Key material for a direct mTLS probe. Never logged. */
export interface ClientCredential {
  certPem: string;
  keyPem: string;
  /** Uppercase hex SHA-1 of the leaf. */
  thumbprint: string;
}

export interface ProbeResult {
  /** The probe kind's name (src/core/rotation/probes): 'via-app', 'direct', … */
  kind: string;
  target: string;
  ok: boolean;
  /** A failure that is worth retrying (timeout, 503 while restarting, connection refused). */
  transient: boolean;
  status?: number;
  /** Thumbprint the app or downstream reports it saw (public data). */
  observedThumbprint?: string;
  detail: string;
  at: string;
  durationMs: number;
  /** A passing via-app probe: `thumbprint` when the app reported the expected certificate, `status` for a bare 2xx. */
  verification?: 'thumbprint' | 'status';
  /**
   * A failing via-app probe whose body is the app's own unhealthy verdict (`Unhealthy`, JSON status DOWN / fail …),
   * whatever the status code: the app was up and answering, unlike a front end's 503 while it restarts.
   */
  unhealthy?: boolean;
}

export interface ViaAppOptions {
  /** `<p>-health-expect=thumbprint`: a 2xx that does not report the presented certificate fails. */
  requireReport?: boolean;
}

export interface Prober {
  /** The rotator opens an mTLS connection to `url`, presenting `credential`. */
  direct(url: string, credential: ClientCredential): Promise<ProbeResult>;
  /**
   * HTTPS GET to the app's own health path that exercises its outbound mTLS call, judged by the verification
   * contract (docs/operations.md): a 2xx passes unless its body says unhealthy; a reported thumbprint must match.
   */
  viaApp(url: string, expectedThumbprint?: string, options?: ViaAppOptions): Promise<ProbeResult>;
  /**
   * The probe target policy's verdict on a direct probe URL, names resolved (and the answer kept for the probe):
   * undefined = may be probed, else why not. Asked before anything is staged; `direct` enforces it again.
   */
  admitTarget?(url: string): Promise<string | undefined>;
}

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * The fleet's rotation slots: MAX_PARALLEL_ROTATIONS of them, shared by every instance, process and trigger that
 * rotates (queue, timer, HTTP, CLI). A rotation holds one from before its first write to the app until it ends, so
 * however far the Functions host scales out, at most that many apps are being changed and restarted at once.
 */
export interface RotationSlots {
  /** One slot for `owner`, waiting at most `waitMs` for one to free; undefined when none did. */
  acquire(owner: string, waitMs: number): Promise<RotationSlot | undefined>;
}

export interface RotationSlot {
  /** Which of the slots (0 … size - 1). */
  readonly index: number;
  /** Gives the slot back (at most once; a slot lost to expiry is not taken from its new holder). */
  release(): Promise<void>;
}
