// Per-app configuration from Azure tags (visible in the portal). With the default prefix:
//   mtls-rotation=enabled                      opt-in (any other value, or none: the app is never touched)
//   mtls-rotation-probe=https://a/ https://b/  downstream endpoints for the direct mTLS probe (space separated)
//   mtls-rotation-health=/healthz/outbound-mtls the app's own health path for the via-app probe
//   mtls-rotation-health-expect=thumbprint     the health answer must report the presented certificate (default: status)
//   mtls-rotation-source=https://<vault>/certificates/<name>   the source where the resource is not linked (each
//                                              registered kind reads its own values; `<kind>:<value>` names one)
//   mtls-rotation-settings=CLIENT_CERT_THUMBPRINT,OTHER        extra settings that hold the thumbprint
//   mtls-rotation-slots=true                   on a site: its slots are listed (each slot opts in itself)
//   mtls-rotation-canary=true                  the first app of its source's rollout (src/core/rollout/)
// A bad value is a problem reported for the app (which is then skipped), never an exception.
import type { CertificateSource, KeyVaultSource } from './ports.js';
import { KEY_VAULT } from './sources/sourceRef.js';
import { checkProbeUrls, STRICT_PROBE_TARGET_POLICY, type ProbeTargetPolicy } from './probeTargets.js';

export const DEFAULT_TAG_PREFIX = 'mtls-rotation';
export const LOAD_CERTIFICATES_SETTING = 'WEBSITE_LOAD_CERTIFICATES';

export interface AppTagConfig {
  enabled: boolean;
  probeUrls: string[];
  healthPath?: string;
  /**
   * What the via-app probe requires (docs/operations.md, "Verification contract"): `status` (absent) = a 2xx, and a
   * reported thumbprint must match; `thumbprint` = the report is mandatory.
   */
  healthExpect?: HealthExpect;
  source?: KeyVaultSource;
  /** Extra app settings that hold the thumbprint (WEBSITE_LOAD_CERTIFICATES is always handled). */
  settings: string[];
  /** On a site: list its slots. */
  slots: boolean;
}

export const HEALTH_EXPECTATIONS = ['status', 'thumbprint'] as const;
export type HealthExpect = (typeof HEALTH_EXPECTATIONS)[number];

export interface ParsedAppTags {
  config: AppTagConfig;
  /** Messages naming the tag and the bad value; non-empty means the app must be skipped. */
  problems: string[];
}

/** Tag names the rotator reads or writes, for a prefix. */
export function tagNames(prefix: string = DEFAULT_TAG_PREFIX) {
  return {
    enabled: prefix,
    probe: `${prefix}-probe`,
    health: `${prefix}-health`,
    healthExpect: `${prefix}-health-expect`,
    source: `${prefix}-source`,
    settings: `${prefix}-settings`,
    slots: `${prefix}-slots`,
    /** The canary of its source's rollout; read by src/core/rollout/, not by parseAppTags. */
    canary: `${prefix}-canary`,
    /** On a Key Vault certificate, set by its vault owner: the app scopes allowed to consume it. */
    consumers: `${prefix}-consumers`,
    /** On certificate resources the rotator uploads. */
    version: `${prefix}-version`,
    managed: `${prefix}-managed`,
  } as const;
}

/** Azure tag names are case-insensitive. */
export function getTag(tags: Record<string, string> | undefined, name: string): string | undefined {
  if (!tags) return undefined;
  if (Object.prototype.hasOwnProperty.call(tags, name)) return tags[name];
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(tags)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export function isOptedIn(tags: Record<string, string> | undefined, prefix: string = DEFAULT_TAG_PREFIX): boolean {
  return getTag(tags, prefix)?.trim().toLowerCase() === 'enabled';
}

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;

export function isValidSettingName(name: string): boolean {
  return SETTING_NAME.test(name);
}

/** What reads a `<prefix>-source` tag value: the source registry, where each registered kind parses its own. */
export type SourceTagReader = Pick<CertificateSource, 'parseTagValue'>;

/** Without a registry no kind is known, so a source tag is refused rather than read as some kind by default. */
const NO_SOURCES: SourceTagReader = {
  parseTagValue: (value) => `'${value.trim()}' names no certificate source: no kind of source is registered`,
};

/** The canonical text of a source (also the `-source` tag value the rotator writes). */
export function sourceUrlOf(source: KeyVaultSource): string {
  return `${source.vaultUrl.replace(/\/+$/, '')}/certificates/${source.name}`;
}

/**
 * Key for caches and comparisons (vault hosts and certificate names are case-insensitive). A kind other than Key
 * Vault prefixes it, so two kinds at the same address never share a cached answer.
 */
export function sourceKeyOf(source: KeyVaultSource): string {
  const url = sourceUrlOf(source).toLowerCase();
  return source.kind === undefined || source.kind === KEY_VAULT ? url : `${source.kind}:${url}`;
}

/**
 * `probeTargets` is the operator's probe target policy (`probeTargetPolicyOf(config)`); without one, the strict
 * policy applies (public addresses only), so a caller that forgets it refuses too much rather than too little.
 * `sources` reads the source tag (the source registry, `deps.sources`); without it a source tag is a problem.
 */
export function parseAppTags(
  tags: Record<string, string> | undefined,
  prefix: string = DEFAULT_TAG_PREFIX,
  probeTargets: ProbeTargetPolicy = STRICT_PROBE_TARGET_POLICY,
  sources: SourceTagReader = NO_SOURCES,
): ParsedAppTags {
  const names = tagNames(prefix);
  const problems: string[] = [];
  const config: AppTagConfig = { enabled: isOptedIn(tags, prefix), probeUrls: [], settings: [], slots: false };

  const probe = getTag(tags, names.probe);
  if (probe !== undefined) {
    // Checked as a whole: too many targets refuse the tag (never a silent cut), and one refused target refuses the
    // app (probing only the others would verify less than the owner asked for).
    const checked = checkProbeUrls(probe.split(/\s+/).filter(Boolean), probeTargets);
    for (const problem of checked.problems) problems.push(`tag ${names.probe}: ${problem}`);
    if (checked.problems.length === 0) config.probeUrls.push(...checked.targets.map((t) => t.url));
  }

  const health = getTag(tags, names.health);
  if (health !== undefined && health.trim() !== '') {
    const path = health.trim();
    // Appended to the app's own https://<defaultHostName>: a path only, so it can never name another host (a
    // backslash reads as a slash to WHATWG parsers, and control characters split requests).
    if (!path.startsWith('/') || path.startsWith('//') || /[\s\\\x00-\x1f\x7f]/.test(path)) {
      problems.push(`tag ${names.health}: '${path}' must be a path starting with '/' (e.g. /healthz/outbound-mtls)`);
    } else {
      config.healthPath = path;
    }
  }

  const expect = getTag(tags, names.healthExpect);
  if (expect !== undefined && expect.trim() !== '') {
    const value = expect.trim().toLowerCase();
    if (value === 'thumbprint') config.healthExpect = 'thumbprint';
    else if (value !== 'status') problems.push(`tag ${names.healthExpect}: '${expect.trim()}' must be 'status' or 'thumbprint'`);
  }

  const source = getTag(tags, names.source);
  if (source !== undefined && source.trim() !== '') {
    const parsed = sources.parseTagValue(source);
    if (typeof parsed === 'string') problems.push(`tag ${names.source}: ${parsed}`);
    else config.source = parsed;
  }

  const settings = getTag(tags, names.settings);
  if (settings !== undefined) {
    for (const entry of settings.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!isValidSettingName(entry)) {
        problems.push(`tag ${names.settings}: '${entry}' is not a valid app setting name`);
      } else if (entry.toUpperCase() !== LOAD_CERTIFICATES_SETTING && !config.settings.includes(entry)) {
        config.settings.push(entry);
      }
    }
  }

  const slots = getTag(tags, names.slots);
  if (slots !== undefined && slots.trim() !== '') {
    const value = slots.trim().toLowerCase();
    if (value === 'true') config.slots = true;
    else if (value !== 'false') problems.push(`tag ${names.slots}: '${slots.trim()}' must be 'true' or 'false'`);
  }

  return { config, problems };
}
