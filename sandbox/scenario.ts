// The declarative description of a sandbox world: what exists in "Azure" when the sandbox starts.
// Times are relative days from the sandbox's start so a scenario stays meaningful on any date.
// Values in tags, app settings and downstream allow-lists may hold placeholders that the sandbox resolves at
// start, once ports and thumbprints exist (see sandbox/README.md):
//   {{vault:<vault>}}                      https://127.0.0.1:<port>           (the vault's URL, no trailing slash)
//   {{vaultId:<vault>}}                    /subscriptions/…/providers/Microsoft.KeyVault/vaults/<vault>
//   {{source:<vault>/<certificate>}}       https://127.0.0.1:<port>/certificates/<certificate>
//   {{downstream:<name>}}                  https://127.0.0.1:<port>/          (the downstream's URL)
//   {{thumbprint:<vault>/<cert>/<n|latest>}} uppercase SHA-1 of version n (0 = oldest) of a vault certificate
//   {{thumbprint:<material>}}              uppercase SHA-1 of a named material (see CertificateMaterialSpec.material)

/** Key Vault certificate secrets come in these two forms (the policy's `secret_props.contentType`). */
export type SecretContentType = 'application/x-pkcs12' | 'application/x-pem-file';

/**
 * Broken secrets the rotation engine must refuse. The certificate itself (GET /certificates, `cer`, `x5t`)
 * stays correct; only what GET /secrets returns is damaged.
 * - noPrivateKey: the PFX / PEM holds the certificate chain but no key.
 * - keyMismatch: the key in the secret belongs to another certificate.
 * - pemCertificateFirst: PEM with the certificate before the private key (Key Vault writes the key first).
 * - corrupt: the value does not parse (truncated PFX, garbled PEM).
 * - wrongContentType: the secret's contentType is `application/octet-stream`.
 */
export type SecretDefect = 'noPrivateKey' | 'keyMismatch' | 'pemCertificateFirst' | 'corrupt' | 'wrongContentType';

/** A certificate (and its key) the sandbox generates at start from one of the scenario's CAs. */
export interface CertificateMaterialSpec {
  /** Name of a CA in `Scenario.cas`. */
  issuer: string;
  /** Subject CN; defaults to the vault certificate's or the App Service certificate's name. */
  commonName?: string;
  /** Validity start, days from the sandbox start (negative = in the past). Default -30. */
  notBeforeDays?: number;
  /** Validity end, days from the sandbox start. Required: it is what the scenario is about. */
  notAfterDays: number;
  /**
   * Material name. Every spec with the same name gets the SAME certificate and key (generated once, ~50 ms),
   * which is how scale scenarios stay cheap; the name also works in `{{thumbprint:<material>}}`.
   * The first spec that uses a name decides its issuer, CN and validity.
   */
  material?: string;
}

/** One version of a Key Vault certificate. */
export interface CertificateVersionSpec extends CertificateMaterialSpec {
  /** 32 lowercase hex chars; derived from vault/certificate/index when omitted (stable across runs). */
  version?: string;
  /** Default true. A disabled version answers GET /certificates normally (enabled:false) and 403 on its secret. */
  enabled?: boolean;
  /** When the version was created, days from the sandbox start. Default min(notBeforeDays, 0). */
  createdDays?: number;
  defect?: SecretDefect;
  /**
   * The certificate and key of this version, given by the scenario instead of issued by the sandbox: a weak key, a
   * CA certificate, a server-only EKU, a 20-year lifetime (the candidate policy's attacks).
   */
  pems?: { certPem: string; keyPem: string; chainPems?: string[] };
  /**
   * A hostile vault: GET /secrets of this version answers exactly this, whatever the certificate is (a 50 MB value,
   * a PFX that asks for millions of key-derivation iterations).
   */
  hostileSecret?: { contentType: string; value: string };
}

export interface VaultCertificateSpec {
  name: string;
  /** Default 'application/x-pkcs12'. */
  contentType?: SecretContentType;
  /** Every data-plane call on this certificate (and its secret) answers 403 Forbidden. */
  forbidden?: boolean;
  /**
   * Key Vault tags. Without a `<prefix>-consumers` tag the sandbox adds `mtls-rotation-consumers` naming every
   * subscription of the scenario (its vault owners grant their own sandbox); give one (even empty) to grant less.
   */
  tags?: Record<string, string>;
  /** Oldest first; the last one is the current ("latest") version. At least one. */
  versions: CertificateVersionSpec[];
}

/** A Key Vault: its own HTTPS port, and an ARM resource Microsoft.KeyVault/vaults/<name>. */
export interface VaultSpec {
  /** Vault name (3-24 chars, letters, digits, dashes). */
  name: string;
  /** Subscription and resource group of the ARM resource (must exist in `subscriptions`). */
  subscriptionId: string;
  resourceGroup: string;
  /** Default: the resource group's location. */
  location?: string;
  /** Every data-plane call answers 403 Forbidden (the rotator's identity has no access). */
  forbidden?: boolean;
  certificates?: VaultCertificateSpec[];
}

/** A partner API that requires client certificates (started with sandbox/downstream.ts). */
export interface DownstreamSpec {
  name: string;
  /** Names of CAs in `Scenario.cas` whose certificates it accepts. */
  trusts: string[];
  /** Optional thumbprint pinning (placeholders allowed). */
  allowedThumbprints?: string[];
  /** Accepts TCP and never answers (probe timeouts). */
  hang?: boolean;
}

/**
 * What a simulated app's health path answers (sandbox/README.md, "Health shapes"). Each is taken from the
 * framework's own documentation; only 'kit' and 'slow-start' follow mtls-rotator's verification contract.
 * - kit: the app-side kit (kit/): 200 {"status":"pass","presentedThumbprint"} + x-presented-thumbprint, or 503 fail.
 * - aspnet-text: ASP.NET Core MapHealthChecks, default writer: text `Healthy` 200 / `Unhealthy` 503.
 * - aspnet-json: ASP.NET Core with the UIResponseWriter JSON; the check's data holds `thumbprint`.
 * - spring: Spring Boot actuator {"status":"UP"} 200 / {"status":"DOWN"} 503.
 * - plain-ok: 200 `OK`, liveness only (no outbound call). no-content: 204, liveness only.
 * - redirect-login: App Service Authentication sends every request to /.auth/login/aad with a 302.
 * - thumbprint-alias: {"ok":true,"thumbprint":…} 200, 500 when the call fails.
 * - status-blind: calls the partner but answers 200 whatever happened.
 * - slow-start: the kit, but 503 for `warmupMs` after every start.
 */
export type HealthShape =
  | 'kit'
  | 'aspnet-text'
  | 'aspnet-json'
  | 'spring'
  | 'plain-ok'
  | 'no-content'
  | 'redirect-login'
  | 'thumbprint-alias'
  | 'status-blind'
  | 'slow-start';

export const HEALTH_SHAPES: readonly HealthShape[] = [
  'kit',
  'aspnet-text',
  'aspnet-json',
  'spring',
  'plain-ok',
  'no-content',
  'redirect-login',
  'thumbprint-alias',
  'status-blind',
  'slow-start',
];

/** How the simulated app behind a site or slot behaves. */
export interface AppBehaviourSpec {
  /** Name of the downstream its own outbound mTLS call (its health path) goes to. */
  downstream?: string;
  /** Default '/healthz/outbound-mtls'. */
  healthPath?: string;
  /** How long a restart takes (the app answers 503 meanwhile). Default 100 ms. */
  restartMs?: number;
  /** A restart never finishes (the app stays 503). */
  hangRestart?: boolean;
  /** What its health path answers. Default 'kit'. */
  health?: HealthShape;
  /** 'slow-start': how long the health path answers 503 after every start. Default 2000 ms. */
  warmupMs?: number;
}

export interface SlotSpec extends AppBehaviourSpec {
  /** Slot name without the `site/` prefix, e.g. "staging". */
  name: string;
  tags?: Record<string, string>;
  settings?: Record<string, string>;
}

export interface SiteSpec extends AppBehaviourSpec {
  name: string;
  /** Display form, e.g. "West Europe". Default: the resource group's location. */
  location?: string;
  /** Default 'app,linux' (the sites are Linux apps, `reserved: true`, as the kit's /var/ssl/private implies). */
  kind?: string;
  /** App Service plan name in the same resource group. Default '<resourceGroup>-plan'. */
  plan?: string;
  tags?: Record<string, string>;
  /** App settings (WEBSITE_LOAD_CERTIFICATES, CLIENT_CERT_THUMBPRINT, …); placeholders allowed. */
  settings?: Record<string, string>;
  slots?: SlotSpec[];
  /**
   * Slot settings ("deployment slot settings", `config/slotConfigNames.appSettingNames`): app setting names that
   * stay with their slot in a swap. Default none, as on a new site.
   */
  slotSettings?: string[];
}

interface AppServiceCertificateBase {
  /** Microsoft.Web/certificates resource name. */
  name: string;
  /** Default: the resource group's location. With the resource group it decides the webspace. */
  location?: string;
  tags?: Record<string, string>;
}

/** A Microsoft.Web/certificates resource that holds one version of a vault certificate. */
export interface AppServiceCertificateFromVault extends AppServiceCertificateBase {
  fromVault: {
    vault: string;
    certificate: string;
    /** Index into the certificate's versions (0 = oldest) or 'latest'. */
    version: number | 'latest';
  };
  /**
   * true: the resource is linked to the vault (`keyVaultId` + `keyVaultSecretName`, as when imported from Key
   * Vault); false (default): it was uploaded as a PFX and carries no link.
   */
  linked?: boolean;
}

/** A Microsoft.Web/certificates resource uploaded as a PFX, with no Key Vault source. */
export interface AppServiceCertificateGenerated extends AppServiceCertificateBase {
  generate: CertificateMaterialSpec;
}

export type AppServiceCertificateSpec = AppServiceCertificateFromVault | AppServiceCertificateGenerated;

export interface ResourceGroupSpec {
  name: string;
  /** Display form, e.g. "West Europe". */
  location: string;
  sites?: SiteSpec[];
  certificates?: AppServiceCertificateSpec[];
}

export interface SubscriptionSpec {
  /** A GUID, as in Azure. */
  id: string;
  displayName?: string;
  /**
   * Subscriptions_List's `state` (default 'Enabled'). A 'Disabled' or 'Deleted' subscription is read-only: ARM
   * refuses writes with 409 `ReadOnlyDisabledSubscription`, as it does for a disabled subscription.
   */
  state?: SubscriptionStateName;
  resourceGroups: ResourceGroupSpec[];
}

/** Subscription states of Subscriptions_List (Microsoft.Resources, SubscriptionState). */
export const SUBSCRIPTION_STATES = ['Enabled', 'Warned', 'PastDue', 'Disabled', 'Deleted'] as const;
export type SubscriptionStateName = (typeof SUBSCRIPTION_STATES)[number];

export interface CaSpec {
  /** Name used by `issuer` and `trusts`. */
  name: string;
  /** Default: "<name> (mtls-rotator sandbox)". */
  commonName?: string;
}

export interface Scenario {
  name: string;
  /** Tenant named in Key Vault's WWW-Authenticate challenge. Default 72f988bf-0000-4000-8000-00000000a11e. */
  tenantId?: string;
  /** Page size of ARM lists (sites, slots, certificates). Default 100; small values force `nextLink` paging. */
  armPageSize?: number;
  /** Page size of Key Vault's version lists when the client sends no `maxresults`. Default 25 (Key Vault's maximum). */
  keyVaultPageSize?: number;
  /**
   * Real App Service recycles an app when its settings change. Default false: the simulated app only restarts
   * on POST …/restart, which keeps "switched but not yet restarted" observable in tests.
   */
  restartOnSettingsWrite?: boolean;
  cas: CaSpec[];
  vaults?: VaultSpec[];
  downstreams?: DownstreamSpec[];
  subscriptions: SubscriptionSpec[];
  /** Free-form facts about the scenario for its users (e.g. expected counts of a generated scale scenario). */
  meta?: Record<string, unknown>;
}

/** A scenario that cannot be built; the message names the offending element. Nothing is started. */
export class ScenarioError extends Error {
  override readonly name = 'ScenarioError';
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VAULT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const ARM_NAME = /^[A-Za-z0-9][A-Za-z0-9._()-]{0,88}$/;
const VERSION_ID = /^[0-9a-f]{32}$/;

/** Checks references and names; throws ScenarioError naming the first problem. */
export function validateScenario(s: Scenario): void {
  const fail = (msg: string): never => {
    throw new ScenarioError(`scenario '${s.name ?? '?'}': ${msg}`);
  };
  if (!Array.isArray(s.cas) || !Array.isArray(s.subscriptions)) fail('cas and subscriptions must be arrays');
  const caNames = new Set<string>();
  for (const ca of s.cas) {
    if (!ca.name) fail('a CA has no name');
    if (caNames.has(ca.name)) fail(`CA '${ca.name}' is declared twice`);
    caNames.add(ca.name);
  }
  for (const [label, n] of [
    ['armPageSize', s.armPageSize],
    ['keyVaultPageSize', s.keyVaultPageSize],
  ] as const) {
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 1000)) fail(`${label} must be an integer from 1 to 1000, got ${n}`);
  }
  const materials = new Map<string, CertificateMaterialSpec>();
  const checkMaterial = (m: CertificateMaterialSpec, where: string) => {
    if (!caNames.has(m.issuer)) fail(`${where}: issuer '${m.issuer}' is not a CA of the scenario`);
    if (typeof m.notAfterDays !== 'number' || !Number.isFinite(m.notAfterDays)) fail(`${where}: notAfterDays must be a number`);
    const nbf = m.notBeforeDays ?? -30;
    if (!(m.notAfterDays > nbf)) fail(`${where}: notAfterDays (${m.notAfterDays}) must be after notBeforeDays (${nbf})`);
    if (m.material !== undefined && !materials.has(m.material)) materials.set(m.material, m);
  };

  const groups = new Map<string, ResourceGroupSpec>();
  const subIds = new Set<string>();
  for (const sub of s.subscriptions) {
    if (!GUID.test(sub.id)) fail(`subscription id '${sub.id}' is not a GUID`);
    if (subIds.has(sub.id.toLowerCase())) fail(`subscription '${sub.id}' is declared twice`);
    subIds.add(sub.id.toLowerCase());
    for (const rg of sub.resourceGroups) {
      if (!ARM_NAME.test(rg.name)) fail(`resource group name '${rg.name}' is invalid`);
      if (!rg.location) fail(`resource group '${rg.name}' has no location`);
      const rgKey = `${sub.id}/${rg.name}`.toLowerCase();
      if (groups.has(rgKey)) fail(`resource group '${rg.name}' is declared twice in subscription ${sub.id}`);
      groups.set(rgKey, rg);
    }
  }

  const vaults = new Map<string, VaultSpec>();
  for (const v of s.vaults ?? []) {
    if (!VAULT_NAME.test(v.name)) fail(`vault name '${v.name}' is invalid (3-24 letters, digits, dashes)`);
    if (vaults.has(v.name.toLowerCase())) fail(`vault '${v.name}' is declared twice`);
    vaults.set(v.name.toLowerCase(), v);
    if (!groups.has(`${v.subscriptionId}/${v.resourceGroup}`.toLowerCase())) {
      fail(`vault '${v.name}': resource group '${v.resourceGroup}' of subscription ${v.subscriptionId} is not in the scenario`);
    }
    const certNames = new Set<string>();
    for (const c of v.certificates ?? []) {
      if (!/^[a-zA-Z0-9-]{1,127}$/.test(c.name)) fail(`vault '${v.name}': certificate name '${c.name}' is invalid`);
      if (certNames.has(c.name.toLowerCase())) fail(`vault '${v.name}': certificate '${c.name}' is declared twice`);
      certNames.add(c.name.toLowerCase());
      if (!Array.isArray(c.versions) || c.versions.length === 0) fail(`vault '${v.name}' certificate '${c.name}' has no versions`);
      c.versions.forEach((ver, i) => {
        checkMaterial(ver, `vault '${v.name}' certificate '${c.name}' version ${i}`);
        if (ver.version !== undefined && !VERSION_ID.test(ver.version)) {
          fail(`vault '${v.name}' certificate '${c.name}' version ${i}: version id must be 32 lowercase hex chars`);
        }
      });
    }
  }

  const downstreams = new Set<string>();
  for (const d of s.downstreams ?? []) {
    if (!d.name) fail('a downstream has no name');
    if (downstreams.has(d.name)) fail(`downstream '${d.name}' is declared twice`);
    downstreams.add(d.name);
    for (const t of d.trusts) if (!caNames.has(t)) fail(`downstream '${d.name}' trusts '${t}', which is not a CA of the scenario`);
  }

  const checkApp = (a: AppBehaviourSpec, where: string) => {
    if (a.downstream !== undefined && !downstreams.has(a.downstream)) fail(`${where}: downstream '${a.downstream}' is not declared`);
    if (a.restartMs !== undefined && (!Number.isFinite(a.restartMs) || a.restartMs < 0)) fail(`${where}: restartMs must be >= 0`);
    if (a.health !== undefined && !HEALTH_SHAPES.includes(a.health)) fail(`${where}: health '${String(a.health)}' is not one of ${HEALTH_SHAPES.join(', ')}`);
    if (a.warmupMs !== undefined && (!Number.isFinite(a.warmupMs) || a.warmupMs < 0 || a.warmupMs > 600_000)) {
      fail(`${where}: warmupMs must be from 0 to 600000, got ${String(a.warmupMs)}`);
    }
  };
  for (const sub of s.subscriptions) {
    if (sub.state !== undefined && !SUBSCRIPTION_STATES.includes(sub.state)) {
      fail(`subscription '${sub.id}': state '${String(sub.state)}' is not one of ${SUBSCRIPTION_STATES.join(', ')}`);
    }
    for (const rg of sub.resourceGroups) {
      const siteNames = new Set<string>();
      for (const site of rg.sites ?? []) {
        const where = `site '${site.name}' (${sub.id}/${rg.name})`;
        if (!ARM_NAME.test(site.name)) fail(`${where}: invalid name`);
        if (siteNames.has(site.name.toLowerCase())) fail(`${where}: declared twice`);
        siteNames.add(site.name.toLowerCase());
        checkApp(site, where);
        for (const n of site.slotSettings ?? []) if (typeof n !== 'string' || n.trim() === '') fail(`${where}: slotSettings entries must be setting names`);
        const slotNames = new Set<string>();
        for (const slot of site.slots ?? []) {
          if (!ARM_NAME.test(slot.name)) fail(`${where}: slot name '${slot.name}' is invalid`);
          if (slotNames.has(slot.name.toLowerCase())) fail(`${where}: slot '${slot.name}' declared twice`);
          slotNames.add(slot.name.toLowerCase());
          checkApp(slot, `${where} slot '${slot.name}'`);
        }
      }
      const certNames = new Set<string>();
      for (const c of rg.certificates ?? []) {
        const where = `certificate '${c.name}' (${sub.id}/${rg.name})`;
        if (!ARM_NAME.test(c.name)) fail(`${where}: invalid name`);
        if (certNames.has(c.name.toLowerCase())) fail(`${where}: declared twice`);
        certNames.add(c.name.toLowerCase());
        if ('fromVault' in c) {
          const v = vaults.get(c.fromVault.vault.toLowerCase());
          if (!v) fail(`${where}: vault '${c.fromVault.vault}' is not declared`);
          const vc = v?.certificates?.find((x) => x.name.toLowerCase() === c.fromVault.certificate.toLowerCase());
          if (!vc) fail(`${where}: vault '${c.fromVault.vault}' has no certificate '${c.fromVault.certificate}'`);
          const idx = c.fromVault.version;
          if (idx !== 'latest' && (!Number.isInteger(idx) || idx < 0 || idx >= (vc?.versions.length ?? 0))) {
            fail(`${where}: version index ${String(idx)} is out of range`);
          }
        } else if ('generate' in c) {
          checkMaterial(c.generate, where);
        } else {
          fail(`${where}: needs 'fromVault' or 'generate'`);
        }
      }
    }
  }
}
