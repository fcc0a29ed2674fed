// In-memory implementations of OUR ports (src/core/ports.ts, records.ts, events.ts), for the unit
// tests of src/core. They behave like the platform in the ways the engine depends on: PUT appsettings
// replaces the whole dictionary, certificates belong to a webspace, an app loads certificates only at
// restart, an uploaded PFX must open with its password, leases are ETag-guarded with an expiry.
// Every gateway call is logged so tests can count calls and writes.
import { randomBytes } from 'node:crypto';
import {
  createCertificateAuthority,
  describeCertificate,
  issueCertificate,
  readPfx,
  verifyIssuedBy,
  writePfx,
  type IssuedCertificate,
} from '../../src/crypto/index.js';
import { ConflictError, NotFoundError, PreconditionError } from '../../src/core/errors.js';
import type { Dimensions, Telemetry, TelemetryEventName, TelemetryMetricName } from '../../src/core/events.js';
import { appIdOf, webspaceKey } from '../../src/core/identity.js';
import type { Logger } from '../../src/core/logger.js';
import type {
  AppRef,
  AppServiceGateway,
  CertificateInfo,
  CertificateSecret,
  CertificateSourceAdapter,
  ClientCredential,
  Clock,
  KeyVaultCertificateVersion,
  KeyVaultSource,
  ProbeResult,
  Prober,
  SiteInfo,
  UploadCertificateInput,
} from '../../src/core/ports.js';
import type { AppSettings } from '../../src/core/ports.js';
import { keyVaultRefOf, parseKeyVaultRef } from '../../src/core/sources/keyVaultRef.js';
import { KEY_VAULT } from '../../src/core/sources/sourceRef.js';
import { isOpenRecord, MAX_RECORD_JSON_CHARS, refusedUpdate, type Lease, type RotationRecord, type RotationStore } from '../../src/core/records.js';
import { loadConfig, type Config } from '../../src/core/config.js';
import type { RotatorDeps } from '../../src/core/deps.js';
import { createRotator, type Rotator } from '../../src/core/rotator.js';
import { parseLoadCertificates } from '../../src/core/thumbprints.js';

export const DAY = 86_400_000;
export const START = new Date('2026-06-01T00:00:00Z');

// ---------------------------------------------------------------- clock

export class FakeClock implements Clock {
  private current: number;
  readonly sleeps: number[] = [];

  constructor(start: Date = START) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Advances time instantly: tests never wait. */
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.current += ms;
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

// ---------------------------------------------------------------- certificates

/** Real certificates from src/crypto, with validity relative to the fake clock. */
export class CertificateFactory {
  private readonly cas = new Map<string, IssuedCertificate>();

  ca(name: string): IssuedCertificate {
    let ca = this.cas.get(name);
    if (!ca) {
      ca = createCertificateAuthority({
        commonName: name,
        notBefore: new Date(START.getTime() - 3650 * DAY),
        notAfter: new Date(START.getTime() + 3650 * DAY),
      });
      this.cas.set(name, ca);
    }
    return ca;
  }

  /** A client certificate valid from `fromDays` to `toDays` (relative to START). */
  client(commonName: string, fromDays: number, toDays: number, caName = 'Partner CA'): IssuedCertificate & { issuer: string } {
    const issued = issueCertificate(this.ca(caName), {
      commonName,
      usage: 'client',
      notBefore: new Date(START.getTime() + fromDays * DAY),
      notAfter: new Date(START.getTime() + toDays * DAY),
    });
    return { ...issued, issuer: caName };
  }
}

// ---------------------------------------------------------------- App Service

export interface RequestEntry {
  op: string;
  target: string;
  write: boolean;
}

interface StoredCertificate {
  info: CertificateInfo;
  certPem: string;
}

export interface RunningState {
  /** Thumbprints the app loaded at its last (re)start. */
  loaded: string[];
  /** The one its outbound call presents (CLIENT_CERT_THUMBPRINT, else the only one, else the newest). */
  presented?: string;
}

const WRITE_OPS = new Set(['writeAppSettings', 'restart', 'uploadCertificate', 'deleteCertificate']);

export class FakeAppService implements AppServiceGateway {
  readonly sites = new Map<string, SiteInfo>();
  readonly slotsOf = new Map<string, string[]>();
  readonly settings = new Map<string, Record<string, string>>();
  readonly certificates: StoredCertificate[] = [];
  readonly vaults = new Map<string, string>();
  readonly log: RequestEntry[] = [];
  readonly running = new Map<string, RunningState>();
  readonly restarts = new Map<string, number>();
  /** Apps restarted while they could load no certificate at all. */
  readonly violations: string[] = [];
  /** Passwords and PFX bytes received (to prove they never leak elsewhere). */
  readonly secretsSeen: string[] = [];
  pageSize = 2;
  /** op → errors thrown by the next calls of that op (one per call). */
  readonly failNext = new Map<string, unknown[]>();
  /** Called before an op runs (e.g. an operator changing a setting at a precise moment). */
  beforeOp?: (op: string, target: string) => void;

  constructor(private readonly clock: FakeClock) {}

  // -- arrangement

  addSite(options: {
    subscriptionId: string;
    resourceGroup?: string;
    name: string;
    slot?: string;
    location?: string;
    tags?: Record<string, string>;
    settings?: Record<string, string>;
  }): SiteInfo {
    const resourceGroup = options.resourceGroup ?? 'rg-apps';
    const location = options.location ?? 'West Europe';
    const ref: AppRef = { subscriptionId: options.subscriptionId, resourceGroup, site: options.name };
    if (options.slot) ref.slot = options.slot;
    const host = options.slot ? `${options.name}-${options.slot}` : options.name;
    const base = `/subscriptions/${options.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${options.name}`;
    const site: SiteInfo = {
      id: options.slot ? `${base}/slots/${options.slot}` : base,
      ref,
      location,
      tags: { ...(options.tags ?? {}) },
      defaultHostName: `${host}.azurewebsites.net`,
      serverFarmId: `/subscriptions/${options.subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/serverfarms/plan`,
      webspace: webspaceKey(resourceGroup, location),
      state: 'Running',
    };
    const appId = appIdOf(ref);
    this.sites.set(appId, site);
    this.settings.set(appId, { ...(options.settings ?? {}) });
    if (options.slot) {
      const parent = appIdOf({ ...ref, slot: undefined } as AppRef);
      this.slotsOf.set(parent, [...(this.slotsOf.get(parent) ?? []), appId]);
    }
    this.restartNow(appId);
    return site;
  }

  addCertificate(options: {
    subscriptionId: string;
    resourceGroup?: string;
    location?: string;
    name: string;
    certificate: IssuedCertificate;
    keyVaultId?: string;
    keyVaultSecretName?: string;
    tags?: Record<string, string>;
  }): CertificateInfo {
    const resourceGroup = options.resourceGroup ?? 'rg-apps';
    const location = options.location ?? 'West Europe';
    const info = this.describe(options.subscriptionId, resourceGroup, location, options.name, options.certificate.certPem, options.tags ?? {});
    if (options.keyVaultId) info.keyVaultId = options.keyVaultId;
    if (options.keyVaultSecretName) info.keyVaultSecretName = options.keyVaultSecretName;
    this.certificates.push({ info, certPem: options.certificate.certPem });
    return info;
  }

  addVault(subscriptionId: string, name: string, uri: string): string {
    const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/${name}`;
    this.vaults.set(id.toLowerCase(), uri);
    return id;
  }

  /** What the app would load if it restarted now. */
  loadable(appId: string): string[] {
    const site = this.mustGet(appId);
    const value = Object.entries(this.settings.get(appId) ?? {}).find(([k]) => k.toUpperCase() === 'WEBSITE_LOAD_CERTIFICATES')?.[1];
    const parsed = parseLoadCertificates(value);
    const inWebspace = this.certificates.filter((c) => c.info.webspace === site.webspace && c.info.subscriptionId === site.ref.subscriptionId);
    if (parsed.mode === 'wildcard') return inWebspace.map((c) => c.info.thumbprint);
    return parsed.thumbprints.filter((t) => inWebspace.some((c) => c.info.thumbprint === t));
  }

  certPemOf(thumbprint: string): string | undefined {
    return this.certificates.find((c) => c.info.thumbprint === thumbprint)?.certPem;
  }

  certificatesIn(subscriptionId: string, resourceGroup = 'rg-apps'): CertificateInfo[] {
    return this.certificates.filter((c) => c.info.subscriptionId === subscriptionId && c.info.resourceGroup === resourceGroup).map((c) => c.info);
  }

  writes(): RequestEntry[] {
    return this.log.filter((e) => e.write);
  }

  count(op: string): number {
    return this.log.filter((e) => e.op === op).length;
  }

  siteOf(appId: string): SiteInfo {
    return this.mustGet(appId);
  }

  // -- the port

  async *listSites(subscriptionId: string): AsyncIterable<SiteInfo> {
    const sites = [...this.sites.values()].filter((s) => s.ref.subscriptionId === subscriptionId && !s.ref.slot);
    yield* this.paged('listSites', subscriptionId, sites);
  }

  async *listSlots(site: SiteInfo): AsyncIterable<SiteInfo> {
    const slots = (this.slotsOf.get(appIdOf(site.ref)) ?? []).map((id) => this.mustGet(id));
    yield* this.paged('listSlots', appIdOf(site.ref), slots);
  }

  async getSite(ref: AppRef): Promise<SiteInfo | undefined> {
    this.enter('getSite', appIdOf(ref));
    const site = this.sites.get(appIdOf(ref));
    return site ? structuredClone(site) : undefined;
  }

  async *listCertificates(subscriptionId: string): AsyncIterable<CertificateInfo> {
    const list = this.certificates.filter((c) => c.info.subscriptionId === subscriptionId).map((c) => c.info);
    yield* this.paged('listCertificates', subscriptionId, list);
  }

  async *listCertificatesInResourceGroup(subscriptionId: string, resourceGroup: string): AsyncIterable<CertificateInfo> {
    const list = this.certificates
      .filter((c) => c.info.subscriptionId === subscriptionId && c.info.resourceGroup.toLowerCase() === resourceGroup.toLowerCase())
      .map((c) => c.info);
    yield* this.paged('listCertificatesInResourceGroup', `${subscriptionId}/${resourceGroup}`, list);
  }

  async getCertificate(subscriptionId: string, resourceGroup: string, name: string): Promise<CertificateInfo | undefined> {
    this.enter('getCertificate', `${resourceGroup}/${name}`);
    const found = this.find(subscriptionId, resourceGroup, name);
    return found ? structuredClone(found.info) : undefined;
  }

  async readAppSettings(ref: AppRef): Promise<AppSettings> {
    const appId = appIdOf(ref);
    this.enter('readAppSettings', appId);
    const settings = this.settings.get(appId);
    if (!settings) throw new NotFoundError(`read app settings of ${appId}: the site does not exist (HTTP 404)`);
    return { ...settings };
  }

  async writeAppSettings(ref: AppRef, settings: AppSettings): Promise<void> {
    const appId = appIdOf(ref);
    this.enter('writeAppSettings', appId);
    this.mustGet(appId);
    // PUT replaces the whole dictionary.
    this.settings.set(appId, { ...settings } as Record<string, string>);
  }

  async restart(ref: AppRef): Promise<void> {
    const appId = appIdOf(ref);
    this.enter('restart', appId);
    this.restartNow(appId);
  }

  async uploadCertificate(input: UploadCertificateInput): Promise<CertificateInfo> {
    this.enter('uploadCertificate', `${input.resourceGroup}/${input.name}`);
    this.secretsSeen.push(input.password, Buffer.from(input.pfx).toString('base64').slice(0, 64));
    // App Service opens the PFX with the password: a wrong wrap fails here as it would there (400, a precondition).
    let bundle: ReturnType<typeof readPfx>;
    try {
      bundle = readPfx(input.pfx, input.password);
    } catch (error) {
      throw new PreconditionError(`upload certificate ${input.resourceGroup}/${input.name}: 400 BadRequest: The specified PFX password is incorrect`, { cause: error });
    }
    const existing = this.find(input.subscriptionId, input.resourceGroup, input.name);
    if (existing) {
      if (existing.info.thumbprint !== bundle.thumbprint) {
        throw Object.assign(new Error(`certificate ${input.name} exists with another thumbprint`), { statusCode: 409 });
      }
      return structuredClone(existing.info);
    }
    const info = this.describe(input.subscriptionId, input.resourceGroup, input.location, input.name, bundle.certPem, input.tags);
    this.certificates.push({ info, certPem: bundle.certPem });
    return structuredClone(info);
  }

  async deleteCertificate(subscriptionId: string, resourceGroup: string, name: string): Promise<void> {
    this.enter('deleteCertificate', `${resourceGroup}/${name}`);
    const index = this.certificates.findIndex(
      (c) => c.info.subscriptionId === subscriptionId && c.info.resourceGroup.toLowerCase() === resourceGroup.toLowerCase() && c.info.name === name,
    );
    if (index >= 0) this.certificates.splice(index, 1);
  }

  async resolveVaultUri(keyVaultResourceId: string): Promise<string> {
    this.enter('resolveVaultUri', keyVaultResourceId);
    const uri = this.vaults.get(keyVaultResourceId.toLowerCase());
    if (!uri) throw new NotFoundError(`resolve vault ${keyVaultResourceId}: the vault does not exist (HTTP 404)`);
    return uri;
  }

  // -- internals

  private async *paged<T>(op: string, target: string, items: T[]): AsyncIterable<T> {
    let index = 0;
    do {
      this.enter(op, target);
      const page = items.slice(index, index + this.pageSize);
      index += this.pageSize;
      for (const item of page) yield structuredClone(item);
    } while (index < items.length);
  }

  private enter(op: string, target: string): void {
    this.beforeOp?.(op, target);
    this.log.push({ op, target, write: WRITE_OPS.has(op) });
    const queue = this.failNext.get(op);
    if (queue && queue.length > 0) throw queue.shift();
  }

  private restartNow(appId: string): void {
    this.restarts.set(appId, (this.restarts.get(appId) ?? 0) + 1);
    const loaded = this.loadable(appId);
    const settings = this.settings.get(appId) ?? {};
    const selected = settings.CLIENT_CERT_THUMBPRINT?.trim().toUpperCase();
    let presented: string | undefined;
    if (selected && loaded.includes(selected)) presented = selected;
    else if (loaded.length === 1) presented = loaded[0];
    else if (loaded.length > 1) {
      presented = [...loaded].sort(
        (a, b) => (this.expiryOf(b)?.getTime() ?? 0) - (this.expiryOf(a)?.getTime() ?? 0),
      )[0];
    }
    const state: RunningState = { loaded };
    if (presented) state.presented = presented;
    this.running.set(appId, state);
    const pins = parseLoadCertificates(Object.entries(settings).find(([k]) => k === 'WEBSITE_LOAD_CERTIFICATES')?.[1]);
    const wantsSome = pins.mode === 'wildcard' || pins.thumbprints.length > 0;
    if (wantsSome && loaded.length === 0 && (this.restarts.get(appId) ?? 0) > 1) {
      this.violations.push(`${appId} restarted with no loadable certificate`);
    }
  }

  private expiryOf(thumbprint: string): Date | undefined {
    return this.certificates.find((c) => c.info.thumbprint === thumbprint)?.info.expirationDate;
  }

  private find(subscriptionId: string, resourceGroup: string, name: string): StoredCertificate | undefined {
    return this.certificates.find(
      (c) =>
        c.info.subscriptionId === subscriptionId &&
        c.info.resourceGroup.toLowerCase() === resourceGroup.toLowerCase() &&
        c.info.name.toLowerCase() === name.toLowerCase(),
    );
  }

  private mustGet(appId: string): SiteInfo {
    const site = this.sites.get(appId);
    if (!site) throw new Error(`no site ${appId}`);
    return site;
  }

  private describe(
    subscriptionId: string,
    resourceGroup: string,
    location: string,
    name: string,
    certPem: string,
    tags: Record<string, string>,
  ): CertificateInfo {
    const d = describeCertificate(certPem);
    return {
      id: `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/certificates/${name}`,
      name,
      subscriptionId,
      resourceGroup,
      location,
      webspace: webspaceKey(resourceGroup, location),
      thumbprint: d.thumbprint,
      subjectName: d.subject,
      issuer: d.issuer,
      issueDate: d.notBefore,
      expirationDate: d.notAfter,
      tags: { ...tags },
    };
  }
}

// ---------------------------------------------------------------- Key Vault

interface StoredVersion {
  meta: KeyVaultCertificateVersion;
  secret: CertificateSecret | (() => never);
}

export class FakeKeyVault implements CertificateSourceAdapter {
  readonly kind = KEY_VAULT;
  readonly parseRef = parseKeyVaultRef;
  readonly refOf = keyVaultRefOf;
  private readonly certificates = new Map<string, StoredVersion[]>();
  readonly log: Array<{ op: string; target: string }> = [];
  private sequence = 0;

  constructor(private readonly clock: FakeClock) {}

  add(
    source: KeyVaultSource,
    issued: IssuedCertificate,
    options: {
      format?: 'pfx' | 'pem';
      enabled?: boolean;
      chainPems?: string[];
      /** Replace the secret (corrupt content, another content type, a key that does not match...). */
      secret?: CertificateSecret;
      /** The secret read fails with this (e.g. a 403). */
      secretError?: unknown;
      /** Metadata overrides (dates, thumbprint) to model a lying or odd version. */
      meta?: Partial<KeyVaultCertificateVersion>;
    } = {},
  ): KeyVaultCertificateVersion {
    const d = describeCertificate(issued.certPem);
    this.sequence += 1;
    const version = `v${this.sequence}${randomBytes(4).toString('hex')}`;
    const meta: KeyVaultCertificateVersion = {
      source,
      version,
      id: `${source.vaultUrl}/certificates/${source.name}/${version}`,
      thumbprint: d.thumbprint,
      enabled: options.enabled ?? true,
      notBefore: d.notBefore,
      expiresOn: d.notAfter,
      createdOn: new Date(this.clock.now().getTime() + this.sequence),
      subject: d.subject,
      issuer: d.issuer,
      ...options.meta,
    };
    let secret: StoredVersion['secret'];
    if (options.secretError !== undefined) {
      const error = options.secretError;
      secret = () => {
        throw error;
      };
    } else if (options.secret) {
      secret = options.secret;
    } else if ((options.format ?? 'pfx') === 'pfx') {
      const pfx = writePfx({ certPem: issued.certPem, keyPem: issued.keyPem, chainPems: options.chainPems ?? [] }, '');
      secret = { contentType: 'application/x-pkcs12', value: pfx.toString('base64') };
    } else {
      secret = { contentType: 'application/x-pem-file', value: `${issued.keyPem}\n${issued.certPem}\n${(options.chainPems ?? []).join('\n')}` };
    }
    const key = keyOf(source);
    this.certificates.set(key, [...(this.certificates.get(key) ?? []), { meta, secret }]);
    return meta;
  }

  /** Source key (`<vault>/certificates/<name>`, lowercase) → what getLatest throws (a 403, say). */
  readonly latestErrors = new Map<string, unknown>();

  async getLatest(source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined> {
    this.log.push({ op: 'getLatest', target: keyOf(source) });
    if (this.latestErrors.has(keyOf(source))) throw this.latestErrors.get(keyOf(source));
    const versions = this.certificates.get(keyOf(source));
    return versions ? structuredClone(versions[versions.length - 1]?.meta) : undefined;
  }

  async getVersion(source: KeyVaultSource, version: string): Promise<KeyVaultCertificateVersion | undefined> {
    this.log.push({ op: 'getVersion', target: `${keyOf(source)}/${version}` });
    const found = this.certificates.get(keyOf(source))?.find((v) => v.meta.version === version);
    return found ? structuredClone(found.meta) : undefined;
  }

  async getSecret(source: KeyVaultSource, version: string): Promise<CertificateSecret> {
    this.log.push({ op: 'getSecret', target: `${keyOf(source)}/${version}` });
    const found = this.certificates.get(keyOf(source))?.find((v) => v.meta.version === version);
    if (!found) throw Object.assign(new Error('SecretNotFound'), { statusCode: 404 });
    return typeof found.secret === 'function' ? found.secret() : { ...found.secret };
  }
}

function keyOf(source: KeyVaultSource): string {
  return `${source.vaultUrl}/certificates/${source.name}`.toLowerCase();
}

// ---------------------------------------------------------------- rotation store

/** The record's JSON, refused (as the Table store refuses it) when it outgrows one table entity. */
function boundedJson(record: RotationRecord): string {
  const json = JSON.stringify(record);
  if (json.length > MAX_RECORD_JSON_CHARS) {
    throw new PreconditionError(`rotation record ${record.id}: ${json.length} characters exceed what one table entity holds (${MAX_RECORD_JSON_CHARS})`);
  }
  return json;
}

export class MemoryRotationStore implements RotationStore {
  private readonly records = new Map<string, string>();
  private readonly leases = new Map<string, Lease>();
  private readonly state = new Map<string, string>();
  private etags = 0;
  /** Every mutation, for "zero writes" assertions. */
  readonly writes: Array<{ op: string; id: string }> = [];

  constructor(private readonly clock: FakeClock) {}

  async create(record: RotationRecord): Promise<void> {
    const json = boundedJson(record);
    if (this.records.has(record.id)) throw new ConflictError(`record ${record.id} exists`);
    this.writes.push({ op: 'create', id: record.id });
    this.records.set(record.id, json);
  }

  async update(record: RotationRecord): Promise<void> {
    const json = boundedJson(record);
    const existing = this.records.get(record.id);
    if (!existing) throw new PreconditionError(`rotation record ${record.id} does not exist (create it first)`);
    const refusal = refusedUpdate(JSON.parse(existing) as RotationRecord, record);
    if (refusal !== undefined) throw new PreconditionError(refusal);
    this.writes.push({ op: 'update', id: record.id });
    this.records.set(record.id, json);
  }

  async get(id: string): Promise<RotationRecord | undefined> {
    const value = this.records.get(id);
    return value ? (JSON.parse(value) as RotationRecord) : undefined;
  }

  async listForApp(appId: string, limit = 50): Promise<RotationRecord[]> {
    return (await this.listAll(Number.POSITIVE_INFINITY)).filter((r) => r.appId === appId).slice(0, limit);
  }

  async listOpen(): Promise<RotationRecord[]> {
    const now = this.clock.now();
    return (await this.listAll(Number.POSITIVE_INFINITY)).filter((r) => isOpenRecord(r, now));
  }

  async listAll(limit = 100): Promise<RotationRecord[]> {
    return [...this.records.values()]
      .map((v) => JSON.parse(v) as RotationRecord)
      // Newest first; records started in the same millisecond by id, as the Table store's row keys sort.
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, limit);
  }

  all(): RotationRecord[] {
    return [...this.records.values()].map((v) => JSON.parse(v) as RotationRecord);
  }

  rawText(): string {
    return [...this.records.values()].join('\n');
  }

  // Leases are judged on this store's clock, which plays the Table service's (as the real store judges them on the
  // service's Timestamp and Date): a rotator given a clock of its own cannot end or stretch someone else's lease.
  async acquireLease(appId: string, owner: string, ttlMs: number): Promise<Lease | undefined> {
    const current = this.leases.get(appId);
    if (current && current.owner !== owner && Date.parse(current.expiresAt) > this.clock.now().getTime()) return undefined;
    return this.put(appId, owner, ttlMs);
  }

  async renewLease(lease: Lease, ttlMs: number): Promise<Lease | undefined> {
    const current = this.leases.get(lease.appId);
    if (!current || current.etag !== lease.etag) return undefined;
    return this.put(lease.appId, lease.owner, ttlMs);
  }

  async releaseLease(lease: Lease): Promise<void> {
    const current = this.leases.get(lease.appId);
    if (current && current.etag === lease.etag) {
      this.writes.push({ op: 'releaseLease', id: lease.appId });
      this.leases.delete(lease.appId);
    }
  }

  leaseOf(appId: string): Lease | undefined {
    return this.leases.get(appId);
  }

  async getState(key: string): Promise<string | undefined> {
    return this.state.get(key);
  }

  async setState(key: string, value: string): Promise<void> {
    this.writes.push({ op: 'setState', id: key });
    this.state.set(key, value);
  }

  private put(appId: string, owner: string, ttlMs: number): Lease {
    this.etags += 1;
    this.writes.push({ op: 'lease', id: appId });
    const lease: Lease = { appId, owner, expiresAt: new Date(this.clock.now().getTime() + ttlMs).toISOString(), etag: `W/"${this.etags}"` };
    this.leases.set(appId, lease);
    return { ...lease };
  }
}

// ---------------------------------------------------------------- prober

export interface Downstream {
  url: string;
  /** CA names whose client certificates it accepts. */
  trusts: string[];
}

/**
 * Probes against the simulated world: a downstream accepts a certificate issued by a CA it trusts;
 * the via-app probe presents what the app loaded at its last restart. Overrides script failures.
 */
export class SimulatedProber implements Prober {
  readonly downstreams = new Map<string, Downstream>();
  readonly calls: Array<{ kind: 'direct' | 'via-app'; url: string; thumbprint?: string; expected?: string }> = [];
  /** Return a result to override the simulation for a call. */
  override?: (call: { kind: 'direct' | 'via-app'; url: string; thumbprint?: string; appId?: string }) => Partial<ProbeResult> | undefined;

  constructor(
    private readonly appService: FakeAppService,
    private readonly certificates: CertificateFactory,
    private readonly clock: FakeClock,
  ) {}

  addDownstream(url: string, trusts: string[]): void {
    this.downstreams.set(url, { url, trusts });
  }

  async direct(url: string, credential: ClientCredential): Promise<ProbeResult> {
    this.calls.push({ kind: 'direct', url, thumbprint: credential.thumbprint });
    const override = this.override?.({ kind: 'direct', url, thumbprint: credential.thumbprint });
    if (override) return this.result('direct', url, { ok: false, transient: false, detail: 'scripted', ...override });
    const accepted = this.accepts(url, credential.certPem);
    return this.result('direct', url, {
      ok: accepted,
      transient: false,
      status: accepted ? 200 : 403,
      observedThumbprint: credential.thumbprint,
      detail: accepted ? 'accepted' : 'client certificate not trusted',
    });
  }

  async viaApp(url: string, expectedThumbprint?: string): Promise<ProbeResult> {
    const host = new URL(url).host;
    const site = [...this.appService.sites.values()].find((s) => s.defaultHostName === host);
    const appId = site ? appIdOf(site.ref) : undefined;
    const running = appId ? this.appService.running.get(appId) : undefined;
    const call: { kind: 'via-app'; url: string; expected?: string; thumbprint?: string } = { kind: 'via-app', url };
    if (expectedThumbprint) call.expected = expectedThumbprint;
    if (running?.presented) call.thumbprint = running.presented;
    this.calls.push(call);
    const override = this.override?.({ kind: 'via-app', url, ...(running?.presented ? { thumbprint: running.presented } : {}), ...(appId ? { appId } : {}) });
    if (override) return this.result('via-app', url, { ok: false, transient: false, detail: 'scripted', ...override });
    if (!site || !running?.presented) {
      return this.result('via-app', url, { ok: false, transient: false, status: 502, detail: 'no client certificate loaded' });
    }
    const downstream = site.tags['mtls-rotation-probe']?.split(/\s+/).filter(Boolean)[0];
    const certPem = this.appService.certPemOf(running.presented);
    const accepted = !!certPem && (!downstream || this.accepts(downstream, certPem));
    const expectedOk = !expectedThumbprint || expectedThumbprint === running.presented;
    return this.result('via-app', url, {
      ok: accepted && expectedOk,
      transient: false,
      status: accepted ? 200 : 502,
      observedThumbprint: running.presented,
      detail: !accepted ? 'downstream refused the client certificate' : expectedOk ? 'ok' : `presented ${running.presented}`,
    });
  }

  private accepts(url: string, certPem: string): boolean {
    const downstream = this.downstreams.get(url);
    if (!downstream) return false;
    return verifyIssuedBy(
      certPem,
      downstream.trusts.map((name) => this.certificates.ca(name).certPem),
    );
  }

  private result(kind: ProbeResult['kind'], target: string, fields: Partial<ProbeResult>): ProbeResult {
    return { kind, target, ok: false, transient: false, detail: '', at: this.clock.now().toISOString(), durationMs: 1, ...fields };
  }
}

// ---------------------------------------------------------------- telemetry and logs

export class RecordingTelemetry implements Telemetry {
  readonly events: Array<{ name: TelemetryEventName; dimensions: Dimensions; measurements?: Record<string, number> }> = [];
  readonly metrics: Array<{ name: TelemetryMetricName; value: number; dimensions: Dimensions }> = [];
  readonly exceptions: Array<{ error: unknown; dimensions: Dimensions }> = [];

  event(name: TelemetryEventName, dimensions: Dimensions = {}, measurements?: Record<string, number>): void {
    this.events.push(measurements ? { name, dimensions, measurements } : { name, dimensions });
  }

  metric(name: TelemetryMetricName, value: number, dimensions: Dimensions = {}): void {
    this.metrics.push({ name, value, dimensions });
  }

  exception(error: unknown, dimensions: Dimensions = {}): void {
    this.exceptions.push({ error, dimensions });
  }

  async flush(): Promise<void> {}

  named(name: TelemetryEventName) {
    return this.events.filter((e) => e.name === name);
  }

  text(): string {
    return JSON.stringify({
      events: this.events,
      metrics: this.metrics,
      exceptions: this.exceptions.map((e) => ({ message: e.error instanceof Error ? e.error.message : String(e.error), dimensions: e.dimensions })),
    });
  }
}

export class RecordingLogger implements Logger {
  readonly lines: Array<{ level: string; message: string; data?: Record<string, unknown> }> = [];
  info(message: string, data?: Record<string, unknown>): void {
    this.lines.push(data ? { level: 'info', message, data } : { level: 'info', message });
  }
  warn(message: string, data?: Record<string, unknown>): void {
    this.lines.push(data ? { level: 'warn', message, data } : { level: 'warn', message });
  }
  error(message: string, data?: Record<string, unknown>): void {
    this.lines.push(data ? { level: 'error', message, data } : { level: 'error', message });
  }
  text(): string {
    return JSON.stringify(this.lines);
  }
}

// ---------------------------------------------------------------- a world to rotate in

export const SUB = '11111111-1111-1111-1111-111111111111';
export const SUB2 = '22222222-2222-2222-2222-222222222222';
export const VAULT_URL = 'https://kv1.vault.azure.net';
export const DOWNSTREAM = 'https://partner.example/api/ping';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    AZURE_SUBSCRIPTION_IDS: SUB,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    PROBE_ATTEMPTS: '3',
    // The in-memory world's operator grants its one vault to both of its subscriptions (sources are denied unless granted).
    SOURCE_POLICY: `/subscriptions/${SUB} => kv1.vault.azure.net/*; /subscriptions/${SUB2} => kv1.vault.azure.net/*`,
    ...overrides,
  });
}

export interface World {
  clock: FakeClock;
  certs: CertificateFactory;
  appService: FakeAppService;
  keyVault: FakeKeyVault;
  store: MemoryRotationStore;
  prober: SimulatedProber;
  telemetry: RecordingTelemetry;
  logger: RecordingLogger;
  config: Config;
  deps: RotatorDeps;
  rotator: Rotator;
  /** A second rotator over the same world (another instance, another lease owner). */
  another(owner: string, extra?: Partial<RotatorDeps>): Rotator;
}

export function createWorld(options: { certs?: CertificateFactory; config?: Record<string, string>; deps?: Partial<RotatorDeps> } = {}): World {
  const clock = new FakeClock();
  const certs = options.certs ?? new CertificateFactory();
  const appService = new FakeAppService(clock);
  const keyVault = new FakeKeyVault(clock);
  const store = new MemoryRotationStore(clock);
  const prober = new SimulatedProber(appService, certs, clock);
  const telemetry = new RecordingTelemetry();
  const logger = new RecordingLogger();
  const config = testConfig(options.config);
  const deps: RotatorDeps = { gateway: appService, sources: keyVault, store, prober, telemetry, clock, logger, owner: 'rotator-a', ...options.deps };
  return {
    clock,
    certs,
    appService,
    keyVault,
    store,
    prober,
    telemetry,
    logger,
    config,
    deps,
    rotator: createRotator(deps, config),
    another: (owner, extra = {}) => createRotator({ ...deps, owner, ...extra }, config),
  };
}

// ---------------------------------------------------------------- the standard scenario

export type Issued = ReturnType<CertificateFactory['client']>;

/** Certificates generated once per test file (RSA keys are slow to make). */
export class CertificatePool {
  private readonly cache = new Map<string, Issued>();
  constructor(readonly factory: CertificateFactory = new CertificateFactory()) {}

  get(name: 'old' | 'new' | 'newUntrusted' | 'old2' | 'new2' | 'newer' | 'reissue'): Issued {
    let issued = this.cache.get(name);
    if (!issued) {
      const spec = {
        old: ['client', -340, 20, 'Partner CA'],
        new: ['client', -1, 365, 'Partner CA'],
        newer: ['client', 0, 400, 'Partner CA'],
        reissue: ['client', 0, 200, 'Partner CA'],
        newUntrusted: ['client', -1, 365, 'Rogue CA'],
        old2: ['second', -340, 25, 'Partner CA'],
        new2: ['second', -1, 366, 'Partner CA'],
      }[name] as [string, number, number, string];
      issued = this.factory.client(...spec);
      this.cache.set(name, issued);
    }
    return issued;
  }
}

export const HEALTH = '/healthz/outbound-mtls';
export const KV_REFERENCE = '@Microsoft.KeyVault(SecretUri=https://kv1.vault.azure.net/secrets/db-password/)';

export interface Standard {
  world: World;
  old: Issued;
  fresh: Issued;
  appId: string;
  site: SiteInfo;
  /** The app's settings before anything happened. */
  original: Record<string, string>;
  vaultId: string;
}

/**
 * One opted-in app (app-a) pinning `old` (a Key Vault-linked resource) via WEBSITE_LOAD_CERTIFICATES
 * and CLIENT_CERT_THUMBPRINT, with a downstream that trusts Partner CA; Key Vault's latest is `fresh`.
 */
export function standardWorld(
  pool: CertificatePool,
  options: {
    mode?: 'explicit' | 'wildcard';
    fresh?: Issued;
    config?: Record<string, string>;
    tags?: Record<string, string>;
    settings?: Record<string, string>;
    deps?: Partial<RotatorDeps>;
  } = {},
): Standard {
  const world = createWorld({ certs: pool.factory, ...(options.config ? { config: options.config } : {}), ...(options.deps ? { deps: options.deps } : {}) });
  const old = pool.get('old');
  const fresh = options.fresh ?? pool.get('new');
  const source = { vaultUrl: VAULT_URL, name: 'client' };
  world.keyVault.add(source, old);
  world.keyVault.add(source, fresh);
  const vaultId = world.appService.addVault(SUB, 'kv1', `${VAULT_URL}/`);
  world.appService.addCertificate({ subscriptionId: SUB, name: 'client-old', certificate: old, keyVaultId: vaultId, keyVaultSecretName: 'client' });
  world.prober.addDownstream(DOWNSTREAM, ['Partner CA']);
  const original: Record<string, string> =
    options.mode === 'wildcard'
      ? { WEBSITE_LOAD_CERTIFICATES: '*', DB_PASSWORD: KV_REFERENCE, ...options.settings }
      : {
          WEBSITE_LOAD_CERTIFICATES: ` ${old.thumbprint.toLowerCase()} `,
          CLIENT_CERT_THUMBPRINT: old.thumbprint,
          DB_PASSWORD: KV_REFERENCE,
          GREETING: '  spaces, commas; and "quotes"  ',
          EMPTY: '',
          ...options.settings,
        };
  const site = world.appService.addSite({
    subscriptionId: SUB,
    name: 'app-a',
    tags: {
      'mtls-rotation': 'enabled',
      'mtls-rotation-probe': DOWNSTREAM,
      'mtls-rotation-health': HEALTH,
      ...(options.mode === 'wildcard' ? {} : { 'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT' }),
      ...options.tags,
    },
    settings: original,
  });
  return { world, old, fresh, appId: appIdOf(site.ref), site, original, vaultId };
}

/** Every secret the world handled: key PEMs, uploaded passwords, PFX bytes. None may appear in records, logs or telemetry. */
export function assertNoSecrets(world: World, extraSecrets: string[] = []): void {
  const haystacks = { records: world.store.rawText(), logs: world.logger.text(), telemetry: world.telemetry.text() };
  const needles = [...world.appService.secretsSeen, ...extraSecrets].filter((s) => s.length >= 16);
  for (const [where, text] of Object.entries(haystacks)) {
    if (/PRIVATE KEY|BEGIN CERTIFICATE|MII[A-Za-z0-9+/]{20}/.test(text)) throw new Error(`key or certificate material found in ${where}`);
    for (const needle of needles) if (text.includes(needle)) throw new Error(`a secret found in ${where}`);
  }
}
