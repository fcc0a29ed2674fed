// Settings of the service (docs/operations.md, "Settings"): one metadata table (used by infra tests and docs) and a
// pure loadConfig(env) that validates every setting once, at start-up, with its range and default,
// and reports every problem at once, each naming its setting.
import { checkNcrontab } from './schedule/ncrontab.js';
import { readClientCertSettings, type ClientCertSettings } from './clientCertPolicy.js';
import { ConfigError } from './errors.js';
import { parseAllowedHosts, parseSourcePolicy, type AllowedHost, type SourceGrant } from './trust.js';
import { parseAllowedTargets, type AllowedTarget, type ProbeTargetPolicy } from './probeTargets.js';
import { parseWaveSpec, type WaveSize } from './rollout/waves.js';

export type SettingKind = 'integer' | 'boolean' | 'choice' | 'string' | 'url' | 'cron' | 'list';

export interface SettingSpec {
  name: string;
  kind: SettingKind;
  /** Default as the text an operator would type; absent when there is none. */
  default?: string;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** May be left unset (no default needed). */
  optional: boolean;
  /** Needed only in some configurations; says when. */
  requiredWhen?: string;
  /** Never echo the value (errors, logs, docs). */
  secret?: boolean;
  description: string;
}

export const SETTINGS = [
  { name: 'AZURE_SUBSCRIPTION_IDS', kind: 'list', optional: true,
    description: "Comma-separated subscription ids (GUIDs) the rotator scans; unset, empty or '*' = every subscription its identity can list (Enabled, Warned, PastDue; Disabled and Deleted skipped)." },
  { name: 'ARM_ENDPOINT', kind: 'url', default: 'https://management.azure.com', optional: false,
    description: 'Azure Resource Manager endpoint (the sandbox serves one on 127.0.0.1).' },
  { name: 'ARM_AUDIENCE', kind: 'url', optional: true,
    description: 'Audience of the ARM tokens (scope <audience>/.default); unset = ARM_ENDPOINT, which every Azure cloud accepts. Set it when ARM_ENDPOINT is not an audience (the sandbox, a proxy).' },
  { name: 'AZURE_CREDENTIAL', kind: 'choice', default: 'default', choices: ['default', 'managed-identity', 'static'],
    optional: false,
    description: 'default = DefaultAzureCredential, managed-identity = the Function App identity, static = AZURE_STATIC_TOKEN (sandbox).' },
  { name: 'AZURE_CLIENT_ID', kind: 'string', optional: true,
    description: 'Client id (GUID) of a user-assigned managed identity; unset for the system-assigned one.' },
  { name: 'AZURE_STATIC_TOKEN', kind: 'string', optional: true, requiredWhen: "AZURE_CREDENTIAL is 'static'",
    secret: true, description: 'Bearer token used as-is (sandbox only).' },
  { name: 'KEYVAULT_CHALLENGE_VERIFICATION', kind: 'boolean', default: 'true', optional: false,
    description: "Verify that Key Vault's authentication challenge names the vault's own domain. Always on for Key Vault hosts; false turns it off only for KEYVAULT_ALLOWED_HOSTS (the sandbox), and needs that list." },
  { name: 'KEYVAULT_ALLOWED_HOSTS', kind: 'list', optional: true, requiredWhen: 'KEYVAULT_CHALLENGE_VERIFICATION is false',
    description: 'Comma-separated hosts (host or host:port) accepted as Key Vault endpoints besides *.vault.azure.net and the sovereign clouds\' vault hosts (the sandbox: 127.0.0.1).' },
  { name: 'SOURCE_POLICY', kind: 'string', optional: true,
    description: "Operator grants of Key Vault sources, separated by ';' or new lines: '<app scope> => <vault host>/<certificate name glob>', e.g. '/subscriptions/<id>/resourceGroups/rg-a => kv-a.vault.azure.net/client-*'. Vault owners grant with the certificate tag <ROTATION_TAG>-consumers." },
  { name: 'CANDIDATE_MAX_LIFETIME_DAYS', kind: 'integer', default: '825', min: 1, max: 3650, optional: false,
    description: 'A candidate certificate valid for longer than this (notAfter - notBefore) is refused.' },
  { name: 'RENEW_BEFORE_DAYS', kind: 'integer', default: '30', min: 1, max: 365, optional: false,
    description: 'Rotate a certificate this many days before it expires.' },
  { name: 'RENEW_BEFORE_PERCENT', kind: 'integer', min: 1, max: 99, optional: true,
    description: 'Also rotate when less than this percentage of the lifetime remains (whichever comes first).' },
  { name: 'RETIRE_AFTER_DAYS', kind: 'integer', default: '7', min: 0, max: 365, optional: false,
    description: 'Days after a committed rotation before the old certificate resource may be deleted.' },
  { name: 'ROTATION_TAG', kind: 'string', default: 'mtls-rotation', optional: false,
    description: 'Tag prefix: <tag>=enabled opts an app in; <tag>-probe, -health, -source, -settings, -slots configure it.' },
  { name: 'ROTATION_SCHEDULE', kind: 'cron', default: '0 0 2 * * *', optional: false,
    description: 'NCRONTAB (6 fields, with seconds) of the nightly scan and rotation.' },
  { name: 'ROTATION_JITTER_SECONDS', kind: 'integer', default: '300', min: 0, max: 3600, optional: false,
    description: 'Random delay before the nightly run, to spread the load.' },
  { name: 'VERIFY_SCHEDULE', kind: 'cron', default: '0 */5 * * * *', optional: false,
    description: 'NCRONTAB of the probe timer: resumes interrupted rotations, re-verifies recent ones, retires.' },
  { name: 'PROBE_WARMUP_SECONDS', kind: 'integer', default: '30', min: 0, max: 600, optional: false,
    description: 'Wait after a restart before the first verification probe.' },
  { name: 'PROBE_TIMEOUT_SECONDS', kind: 'integer', default: '10', min: 1, max: 120, optional: false,
    description: 'Timeout of one probe.' },
  { name: 'PROBE_ATTEMPTS', kind: 'integer', default: '5', min: 1, max: 20, optional: false,
    description: 'Probe attempts before a failure counts (a transient failure is retried).' },
  { name: 'PROBE_BACKOFF_SECONDS', kind: 'integer', default: '5', min: 0, max: 300, optional: false,
    description: 'First delay between probe attempts; doubles on each attempt (capped at 5 minutes).' },
  { name: 'PROBE_ALLOWED_TARGETS', kind: 'list', optional: true,
    description:
      'Probe targets allowed although their address is loopback, link-local, private or otherwise non-public: CIDRs, ' +
      'addresses or host names (*.name for subdomains), each with an optional :port, separated by commas. Unset = ' +
      'public addresses only (the sandbox sets 127.0.0.1).' },
  { name: 'PROBE_MAX_TARGETS', kind: 'integer', default: '5', min: 1, max: 20, optional: false,
    description: 'Most probe targets (tag <tag>-probe) one app may list; more is a problem reported for the app, never a silent cut.' },
  { name: 'VERIFY_WINDOW_MINUTES', kind: 'integer', default: '60', min: 0, max: 1440, optional: false,
    description: 'After a commit, the probe timer re-verifies the app for this long and rolls back on a persistent failure.' },
  { name: 'LEASE_SECONDS', kind: 'integer', default: '900', min: 60, max: 7200, optional: false,
    description: 'Per-app lease duration; renewed between steps, freed by expiry after a crash.' },
  // 200 = one subscription's ARM write burst: above it the write quota, not this bound, sets the pace.
  { name: 'MAX_PARALLEL_ROTATIONS', kind: 'integer', default: '4', min: 1, max: 200, optional: false,
    description: 'Apps being rotated at the same time by the whole fleet (every instance, queue, timer, HTTP and CLI): slots in the rotation table.' },
  { name: 'ARM_PACING', kind: 'boolean', default: 'true', optional: false,
    description: 'Pace ARM calls against the per-subscription token bucket (remaining-quota headers, 429s).' },
  { name: 'AzureWebJobsStorage', kind: 'string', optional: false, secret: true,
    requiredWhen: 'no identity-based AzureWebJobsStorage__accountName (or __tableServiceUri and __queueServiceUri) is set',
    description:
      'Storage for rotation records, leases and the queue: a connection string (UseDevelopmentStorage=true for Azurite), ' +
      'or identity-based as the Functions host reads it: AzureWebJobsStorage__accountName (or __tableServiceUri and ' +
      '__queueServiceUri), with __credential=managedidentity and __clientId for a user-assigned identity.' },
  { name: 'ROTATION_TABLE', kind: 'string', default: 'rotations', optional: false,
    description: 'Table of rotation records and leases.' },
  { name: 'ROTATION_QUEUE', kind: 'string', default: 'rotation-requests', optional: false,
    description: 'Queue of per-app rotation requests (fan-out).' },
  { name: 'EVENT_ROTATION', kind: 'boolean', default: 'false', optional: false,
    description: 'Act on Key Vault certificate events (Event Grid): queue the bound apps at once. false = the events are logged and dropped, and the nightly scan reports no missed event.' },
  { name: 'EVENT_MISSED_AFTER_MINUTES', kind: 'integer', default: '60', min: 5, max: 1440, optional: false,
    description: 'With EVENT_ROTATION, the scan reports (EventRotationMissed) an app still due for a Key Vault version created longer ago than this.' },
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', kind: 'string', optional: true, secret: true,
    description: 'Application Insights connection string; unset = no telemetry.' },
  { name: 'CLIENT_CERT_AUTH', kind: 'choice', default: 'off', choices: ['off', 'required'], optional: false,
    description: 'Require a client certificate (X-ARR-ClientCert) on the HTTP API; off = the function key alone, and the other CLIENT_CERT_ settings are not read.' },
  { name: 'CLIENT_CERT_TRUSTED_CA', kind: 'string', optional: true, requiredWhen: "CLIENT_CERT_AUTH is 'required'",
    description: 'PEM (or base64 of PEM) of the trust anchors for API client certificates; each must be a CA (CA:TRUE, keyUsage keyCertSign); several may be concatenated.' },
  { name: 'CLIENT_CERT_INTERMEDIATES', kind: 'string', optional: true,
    description: 'PEM (or base64 of PEM) of intermediate CAs between the anchors and the callers, used to build the chain (not trusted on their own); each must be a CA.' },
  { name: 'CLIENT_CERT_ALLOWED_THUMBPRINTS', kind: 'list', optional: true,
    description: 'Comma-separated thumbprints of the API client certificates allowed (spaces and colons allowed); with CLIENT_CERT_ALLOWED_SUBJECTS unset too, any certificate that chains to an anchor.' },
  { name: 'CLIENT_CERT_ALLOWED_SUBJECTS', kind: 'string', optional: true,
    description: "Callers allowed by exact subject and issuer, entries separated by ';': '<subject> | <issuer>' as RFC 4514 names, e.g. 'CN=ops-cli,O=Contoso | CN=Contoso Issuing CA'; survives a caller's certificate renewal." },
  // Canary rollouts (src/core/rollout/).
  { name: 'ROLLOUT_WAVES', kind: 'string', default: '1,10%', optional: false,
    description: "Apps due for the same version of one source rotate in waves: the sizes of the waves before the last, which takes the rest, each a number of apps (1-1000) or a percentage (1%-99%) of the source's apps, at most 5; the first is the canary. 'off' = every due app at once." },
  { name: 'ROLLOUT_SOAK_SECONDS', kind: 'integer', default: '1800', min: 0, max: 604800, optional: false,
    description: 'After a wave verified, how long before the next wave is queued (the verify timer queues it, so at least one VERIFY_SCHEDULE period when not 0).' },
  { name: 'ROLLOUT_MAX_FAILURE_PERCENT', kind: 'integer', default: '0', min: 0, max: 100, optional: false,
    description: "Share of a wave's rotated apps that may end aborted (e.g. a preflight refusal) before the rollout halts; a rolled-back or failed rotation halts it always." },
  { name: 'ROLLOUT_URGENT_DAYS', kind: 'integer', default: '7', min: 1, max: 365, optional: false,
    description: "A halted rollout whose apps' loaded certificate expires within this many days is reported as urgent (RolloutHalted urgent=true, repeated daily); it is never forced." },
] as const satisfies readonly SettingSpec[];

export type SettingName = (typeof SETTINGS)[number]['name'];

export interface Config {
  /** The configured subscriptions; empty when `subscriptionDiscovery` (then src/core/subscriptions.ts lists them). */
  subscriptionIds: string[];
  /** AZURE_SUBSCRIPTION_IDS unset, empty or '*': scan every subscription the identity can list. */
  subscriptionDiscovery: boolean;
  armEndpoint: string;
  /** ARM_AUDIENCE, or ARM_ENDPOINT when unset (no trailing slash). */
  armAudience: string;
  credential: 'default' | 'managed-identity' | 'static';
  clientId?: string;
  staticToken?: string;
  keyVaultChallengeVerification: boolean;
  /** KEYVAULT_ALLOWED_HOSTS: hosts besides the clouds' Key Vault hosts that may serve sources. */
  keyVaultAllowedHosts: AllowedHost[];
  /** SOURCE_POLICY: the operator's grants of sources to app scopes. */
  sourcePolicy: SourceGrant[];
  candidateMaxLifetimeDays: number;
  renewBeforeDays: number;
  renewBeforePercent?: number;
  retireAfterDays: number;
  rotationTag: string;
  rotationSchedule: string;
  rotationJitterSeconds: number;
  verifySchedule: string;
  probeWarmupSeconds: number;
  probeTimeoutSeconds: number;
  probeAttempts: number;
  probeBackoffSeconds: number;
  /** PROBE_ALLOWED_TARGETS, parsed; empty = public addresses only. */
  probeAllowedTargets: AllowedTarget[];
  probeMaxTargets: number;
  verifyWindowMinutes: number;
  leaseSeconds: number;
  maxParallelRotations: number;
  armPacing: boolean;
  /** EVENT_ROTATION: Key Vault events queue the bound apps. */
  eventRotation: boolean;
  eventMissedAfterMinutes: number;
  /** How to reach Table and Queue storage. */
  storage: StorageSettings;
  /** Set when `storage.kind` is `connectionString` (convenience for adapters that take one). */
  storageConnectionString?: string;
  rotationTable: string;
  rotationQueue: string;
  appInsightsConnectionString?: string;
  /** CLIENT_CERT_*: read by src/core/clientCertPolicy.ts, the one parser of those settings. */
  clientCert: ClientCertSettings;
  /** ROLLOUT_*: canary rollouts (src/core/rollout/). */
  rollout: { waves: WaveSize[] | 'off'; soakSeconds: number; maxFailurePercent: number; urgentDays: number };
}

/**
 * Storage as the Functions host reads `AzureWebJobsStorage`: a connection string, or identity-based
 * (`AzureWebJobsStorage__accountName` or service URIs; `__credential`, `__clientId`) where the
 * account refuses shared keys. For `identity`, the URIs are derived from the account name when not given.
 */
export type StorageSettings =
  | { kind: 'connectionString'; connectionString: string }
  | {
      kind: 'identity';
      accountName?: string;
      tableServiceUri: string;
      queueServiceUri: string;
      /** `managedidentity` when set by the template; otherwise the default credential chain. */
      credential?: string;
      /** User-assigned identity (falls back to AZURE_CLIENT_ID). */
      clientId?: string;
    };

const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
/**
 * The properties of an identity-based AzureWebJobsStorage connection the Functions host documents (storage:
 * accountName, the service URIs; any connection: credential, clientId, managedIdentityResourceId, and tenantId,
 * clientSecret, certificate for local development). The host reads them case-insensitively; a name it would not
 * recognise is a deployment that starts with another identity (or none), so it is refused here.
 */
const STORAGE_CONNECTION_PROPERTIES = [
  'accountName', 'blobServiceUri', 'queueServiceUri', 'tableServiceUri', 'serviceUri',
  'credential', 'clientId', 'managedIdentityResourceId', 'tenantId', 'clientSecret', 'certificate',
] as const;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Azure tag names may not contain < > % & \ ? / ; a prefix also becomes part of other tag names.
const TAG_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const QUEUE_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

function spec(name: SettingName): SettingSpec {
  return SETTINGS.find((s) => s.name === name) as SettingSpec;
}

/** Validates `env` and returns the typed configuration; throws one ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const raw = (name: SettingName): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const shown = (name: SettingName, value: string): string =>
    spec(name).secret ? '(value hidden)' : `'${value.length > 80 ? `${value.slice(0, 77)}...` : value}'`;

  const integer = (name: SettingName): number => {
    const s = spec(name);
    const value = raw(name) ?? s.default;
    const fallback = Number(s.default ?? s.min ?? 0);
    if (value === undefined) return fallback;
    const parsed = /^[+-]?\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < (s.min ?? -Infinity) || parsed > (s.max ?? Infinity)) {
      problems.push(`${name} must be an integer from ${s.min} to ${s.max}, got ${shown(name, value)}`);
      return fallback;
    }
    return parsed;
  };
  const optionalInteger = (name: SettingName): number | undefined =>
    raw(name) === undefined ? undefined : integer(name);

  const boolean = (name: SettingName): boolean => {
    const value = (raw(name) ?? spec(name).default ?? 'false').toLowerCase();
    if (['true', '1', 'yes'].includes(value)) return true;
    if (['false', '0', 'no'].includes(value)) return false;
    problems.push(`${name} must be true or false, got ${shown(name, raw(name) ?? '')}`);
    return spec(name).default === 'true';
  };

  const choice = <T extends string>(name: SettingName): T => {
    const s = spec(name);
    const value = raw(name) ?? (s.default as string);
    const match = s.choices?.find((c) => c.toLowerCase() === value.toLowerCase());
    if (match === undefined) {
      problems.push(`${name} must be one of ${s.choices?.join(', ')}, got ${shown(name, value)}`);
      return s.default as T;
    }
    return match as T;
  };

  const text = (name: SettingName, check?: (value: string) => string | undefined): string => {
    const value = raw(name) ?? spec(name).default;
    if (value === undefined) {
      problems.push(`${name} is required: ${spec(name).description}`);
      return '';
    }
    const problem = check?.(value);
    if (problem) problems.push(`${name} ${problem}, got ${shown(name, value)}`);
    return value;
  };

  const cron = (name: SettingName): string =>
    text(name, (value) => {
      const problem = checkNcrontab(value);
      return problem ? `must be an NCRONTAB expression (second minute hour day month day-of-week; 5 fields read with second 0): ${problem}` : undefined;
    });

  // Subscriptions
  const subscriptionIds: string[] = [];
  const subscriptions = raw('AZURE_SUBSCRIPTION_IDS');
  const subscriptionEntries = (subscriptions ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // Unset, blank or '*': discovery (src/core/subscriptions.ts). '*' next to ids is ambiguous, so it is refused.
  const subscriptionDiscovery = subscriptions === undefined || subscriptions.trim() === '*';
  if (subscriptionEntries.includes('*') && !subscriptionDiscovery) {
    problems.push(`AZURE_SUBSCRIPTION_IDS must be either '*' (every subscription the identity can list) or subscription ids (GUIDs), not both, got '${subscriptions}'`);
  } else if (subscriptions !== undefined && !subscriptionDiscovery) {
    for (const entry of subscriptions.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!GUID.test(entry)) problems.push(`AZURE_SUBSCRIPTION_IDS entries must be subscription ids (GUIDs), got '${entry}'`);
      else if (!subscriptionIds.some((s) => s.toLowerCase() === entry.toLowerCase())) subscriptionIds.push(entry.toLowerCase());
    }
    if (subscriptionIds.length === 0 && !problems.some((p) => p.startsWith('AZURE_SUBSCRIPTION_IDS'))) {
      problems.push('AZURE_SUBSCRIPTION_IDS must list at least one subscription id');
    }
  }

  const armEndpoint = text('ARM_ENDPOINT', (value) => checkHttpsUrl(value)).replace(/\/+$/, '');
  const armAudienceRaw = raw('ARM_AUDIENCE');
  if (armAudienceRaw !== undefined && checkHttpsUrl(armAudienceRaw)) problems.push(`ARM_AUDIENCE ${checkHttpsUrl(armAudienceRaw)}, got '${armAudienceRaw}'`);
  const armAudience = (armAudienceRaw ?? armEndpoint).replace(/\/+$/, '');
  const credential = choice<Config['credential']>('AZURE_CREDENTIAL');
  const clientId = raw('AZURE_CLIENT_ID');
  if (clientId !== undefined && !GUID.test(clientId)) {
    problems.push(`AZURE_CLIENT_ID must be a client id (GUID), got '${clientId}'`);
  }
  const staticToken = raw('AZURE_STATIC_TOKEN');
  if (credential === 'static' && staticToken === undefined) {
    problems.push("AZURE_STATIC_TOKEN is required when AZURE_CREDENTIAL is 'static'");
  }

  const renewBeforeDays = integer('RENEW_BEFORE_DAYS');
  const renewBeforePercent = optionalInteger('RENEW_BEFORE_PERCENT');
  const retireAfterDays = integer('RETIRE_AFTER_DAYS');
  const rotationTag = text('ROTATION_TAG', (value) =>
    TAG_PREFIX.test(value) ? undefined : 'must be a tag name of letters, digits, ".", "_" or "-" (at most 100 characters)',
  );
  const rotationSchedule = cron('ROTATION_SCHEDULE');
  const verifySchedule = cron('VERIFY_SCHEDULE');

  const storage = storageSettings(env, raw('AzureWebJobsStorage'), clientId, problems);
  const rotationTable = text('ROTATION_TABLE', (value) =>
    TABLE_NAME.test(value) ? undefined : 'must be a table name: 3 to 63 letters or digits, starting with a letter',
  );
  const rotationQueue = text('ROTATION_QUEUE', (value) =>
    QUEUE_NAME.test(value)
      ? undefined
      : 'must be a queue name: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit',
  );

  let probeAllowedTargets: AllowedTarget[] = [];
  const allowedTargets = parseAllowedTargets(raw('PROBE_ALLOWED_TARGETS'));
  if (typeof allowedTargets === 'string') problems.push(`PROBE_ALLOWED_TARGETS: ${allowedTargets}`);
  else probeAllowedTargets = allowedTargets;

  const appInsightsConnectionString = raw('APPLICATIONINSIGHTS_CONNECTION_STRING');
  if (appInsightsConnectionString !== undefined && !/(^|;)\s*InstrumentationKey=[^;]+/i.test(appInsightsConnectionString)) {
    problems.push('APPLICATIONINSIGHTS_CONNECTION_STRING must be a connection string containing InstrumentationKey=...');
  }

  const clientCert = readClientCertSettings(env);
  problems.push(...clientCert.problems);

  let keyVaultAllowedHosts: AllowedHost[] = [];
  const allowedHostsText = raw('KEYVAULT_ALLOWED_HOSTS');
  if (allowedHostsText !== undefined) {
    const parsed = parseAllowedHosts(allowedHostsText);
    if (typeof parsed === 'string') problems.push(`KEYVAULT_ALLOWED_HOSTS ${parsed}`);
    else keyVaultAllowedHosts = parsed;
  }
  const keyVaultChallengeVerification = boolean('KEYVAULT_CHALLENGE_VERIFICATION');
  // Off is only ever meant for vaults that are not Key Vault (the sandbox's 127.0.0.1): without the list naming
  // them, "off" would mean nothing but a weaker check on real vaults, so it is refused rather than ignored.
  if (!keyVaultChallengeVerification && keyVaultAllowedHosts.length === 0 && !problems.some((p) => p.startsWith('KEYVAULT_'))) {
    problems.push('KEYVAULT_CHALLENGE_VERIFICATION may be false only together with KEYVAULT_ALLOWED_HOSTS (the hosts it is off for)');
  }
  let sourcePolicy: SourceGrant[] = [];
  const sourcePolicyText = raw('SOURCE_POLICY');
  if (sourcePolicyText !== undefined) {
    const parsed = parseSourcePolicy(sourcePolicyText);
    if (typeof parsed === 'string') problems.push(`SOURCE_POLICY ${parsed}`);
    else sourcePolicy = parsed;
  }

  let rolloutWaves: WaveSize[] | 'off' = [{ apps: 1 }, { percent: 10 }];
  const waveSpec = parseWaveSpec(text('ROLLOUT_WAVES'));
  if (typeof waveSpec === 'string' && waveSpec !== 'off') problems.push(`ROLLOUT_WAVES ${waveSpec}`);
  else rolloutWaves = waveSpec as WaveSize[] | 'off';

  const config: Config = {
    subscriptionIds,
    subscriptionDiscovery,
    armEndpoint,
    armAudience,
    credential,
    keyVaultChallengeVerification,
    keyVaultAllowedHosts,
    sourcePolicy,
    candidateMaxLifetimeDays: integer('CANDIDATE_MAX_LIFETIME_DAYS'),
    renewBeforeDays,
    retireAfterDays,
    rotationTag,
    rotationSchedule,
    rotationJitterSeconds: integer('ROTATION_JITTER_SECONDS'),
    verifySchedule,
    probeWarmupSeconds: integer('PROBE_WARMUP_SECONDS'),
    probeTimeoutSeconds: integer('PROBE_TIMEOUT_SECONDS'),
    probeAttempts: integer('PROBE_ATTEMPTS'),
    probeBackoffSeconds: integer('PROBE_BACKOFF_SECONDS'),
    probeAllowedTargets,
    probeMaxTargets: integer('PROBE_MAX_TARGETS'),
    verifyWindowMinutes: integer('VERIFY_WINDOW_MINUTES'),
    leaseSeconds: integer('LEASE_SECONDS'),
    maxParallelRotations: integer('MAX_PARALLEL_ROTATIONS'),
    armPacing: boolean('ARM_PACING'),
    eventRotation: boolean('EVENT_ROTATION'),
    eventMissedAfterMinutes: integer('EVENT_MISSED_AFTER_MINUTES'),
    storage,
    rotationTable,
    rotationQueue,
    clientCert: clientCert.settings,
    rollout: {
      waves: rolloutWaves,
      soakSeconds: integer('ROLLOUT_SOAK_SECONDS'),
      maxFailurePercent: integer('ROLLOUT_MAX_FAILURE_PERCENT'),
      urgentDays: integer('ROLLOUT_URGENT_DAYS'),
    },
  };
  if (storage.kind === 'connectionString') config.storageConnectionString = storage.connectionString;
  if (clientId !== undefined) config.clientId = clientId;
  if (staticToken !== undefined) config.staticToken = staticToken;
  if (renewBeforePercent !== undefined) config.renewBeforePercent = renewBeforePercent;
  if (appInsightsConnectionString !== undefined) config.appInsightsConnectionString = appInsightsConnectionString;

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function storageSettings(
  env: Record<string, string | undefined>,
  connectionString: string | undefined,
  clientId: string | undefined,
  problems: string[],
): StorageSettings {
  // Exact spellings only: the host would read `__clientid` as clientId, this process (env is case-sensitive) would not.
  for (const name of Object.keys(env)) {
    const m = /^AzureWebJobsStorage__(.+)$/i.exec(name);
    if (m === null || env[name] === undefined) continue;
    const known = STORAGE_CONNECTION_PROPERTIES.find((p) => p.toLowerCase() === m[1]!.toLowerCase());
    if (known === undefined || name !== `AzureWebJobsStorage__${known}`) {
      problems.push(
        known !== undefined
          ? `${name} must be spelled AzureWebJobsStorage__${known}`
          : `${name} is not a property of an identity-based connection (one of ${STORAGE_CONNECTION_PROPERTIES.map((p) => `__${p}`).join(', ')})`,
      );
    }
  }
  const get = (suffix: string) => {
    const value = env[`AzureWebJobsStorage__${suffix}`]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  if (connectionString !== undefined) {
    if (!/^UseDevelopmentStorage=true$/i.test(connectionString) && !/(^|;)\s*(AccountName|BlobEndpoint|TableEndpoint|QueueEndpoint)=/i.test(connectionString)) {
      problems.push(
        'AzureWebJobsStorage must be a storage connection string (AccountName=...;AccountKey=... or UseDevelopmentStorage=true), got (value hidden)',
      );
    }
    return { kind: 'connectionString', connectionString };
  }
  const accountName = get('accountName');
  let tableServiceUri = get('tableServiceUri');
  let queueServiceUri = get('queueServiceUri');
  if (accountName === undefined && (tableServiceUri === undefined || queueServiceUri === undefined)) {
    problems.push(
      'AzureWebJobsStorage is required: a connection string, or identity-based AzureWebJobsStorage__accountName (or both __tableServiceUri and __queueServiceUri)',
    );
    return { kind: 'connectionString', connectionString: '' };
  }
  if (accountName !== undefined && !STORAGE_ACCOUNT.test(accountName)) {
    problems.push(`AzureWebJobsStorage__accountName must be a storage account name (3 to 24 lowercase letters and digits), got '${accountName}'`);
  }
  for (const [suffix, value] of [['tableServiceUri', tableServiceUri], ['queueServiceUri', queueServiceUri]] as const) {
    if (value !== undefined && checkServiceUri(value)) problems.push(`AzureWebJobsStorage__${suffix} must be an https URL, got '${value}'`);
  }
  tableServiceUri ??= `https://${accountName}.table.core.windows.net`;
  queueServiceUri ??= `https://${accountName}.queue.core.windows.net`;
  const storage: StorageSettings = { kind: 'identity', tableServiceUri: tableServiceUri.replace(/\/+$/, ''), queueServiceUri: queueServiceUri.replace(/\/+$/, '') };
  if (accountName !== undefined) storage.accountName = accountName;
  const credential = get('credential');
  if (credential !== undefined && credential.toLowerCase() !== 'managedidentity') {
    // The only value the host documents; anything else makes it fall back to another identity than the one meant.
    problems.push(`AzureWebJobsStorage__credential must be 'managedidentity' (or unset for local development), got '${credential}'`);
  }
  if (credential !== undefined) storage.credential = credential;
  const identity = get('clientId') ?? clientId;
  if (identity !== undefined) {
    if (!GUID.test(identity)) problems.push(`AzureWebJobsStorage__clientId must be a client id (GUID), got '${identity}'`);
    storage.clientId = identity;
  }
  return storage;
}

function checkServiceUri(value: string): boolean {
  try {
    return new URL(value).protocol !== 'https:';
  } catch {
    return true;
  }
}

/** The probe target policy the settings describe (tags are parsed and probes admitted against it). */
export function probeTargetPolicyOf(config: Pick<Config, 'probeAllowedTargets' | 'probeMaxTargets'>): ProbeTargetPolicy {
  return { allowed: config.probeAllowedTargets, maxTargets: config.probeMaxTargets };
}

/** Defaults of every setting that has one, as env text (for docs, samples and tests). */
export function defaultSettings(): Record<string, string> {
  const result: Record<string, string> = {};
  for (const s of SETTINGS as readonly SettingSpec[]) if (s.default !== undefined) result[s.name] = s.default;
  return result;
}

function checkHttpsUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:') return 'must be an https URL';
    if (url.pathname !== '/' || url.search || url.hash) return 'must be an https URL without a path';
    return undefined;
  } catch {
    return 'must be an https URL';
  }
}
