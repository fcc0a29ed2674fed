// Trust boundaries of a Key Vault source. The rotator's identity reads many teams' vaults and writes many
// teams' apps, so what an app owner controls (its tags, its settings, certificate resources in its resource group)
// may only SELECT among the sources that someone else allowed for that app:
// - the operator, with SOURCE_POLICY (app scope => vault host / certificate-name glob), or
// - the vault owner, with the tag `<prefix>-consumers` on the Key Vault certificate (app scopes, space or comma
//   separated), which an app owner cannot edit.
// Anything else is refused (default deny, across every scope). And a source is a Key Vault data-plane host of a
// public or sovereign cloud, or a host the operator allow-listed (KEYVAULT_ALLOWED_HOSTS: the sandbox); this is
// checked before any request, so no token is ever sent elsewhere.
import { PreconditionError } from './errors.js';
import type { AppRef, KeyVaultSource } from './ports.js';

/**
 * Key Vault refuses secrets over 25 KB; a certificate secret (PFX base64 or PEM) is a few KB. 256 Ki characters is
 * ten times that, and small enough that decoding and parsing it cost nothing.
 */
export const MAX_SECRET_CHARS = 256 * 1024;

/** A CertificateSource refused a secret for its size, before reading or parsing it. */
export class SecretTooLargeError extends PreconditionError {
  override readonly code: string = 'SecretTooLarge';
}

/**
 * Key Vault data-plane DNS suffixes of the Azure clouds (public, China, US Government, Germany). A vault host is
 * `<vault-name>.<suffix>` on the default port, nothing more. Managed HSM (`*.managedhsm.azure.net`) is left out: it
 * holds keys only, never certificates, so no source can live there.
 */
export const KEYVAULT_HOST_SUFFIXES = ['vault.azure.net', 'vault.azure.cn', 'vault.usgovcloudapi.net', 'vault.microsoftazure.de'] as const;

// Key Vault names: 3-24 letters, digits and dashes, starting with a letter.
const VAULT_NAME = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A host of KEYVAULT_ALLOWED_HOSTS: `name` (any port) or `name:port`; lowercase. */
export interface AllowedHost {
  hostname: string;
  port?: string;
}

/** Parses KEYVAULT_ALLOWED_HOSTS (comma separated); a problem message names the bad entry. */
export function parseAllowedHosts(value: string): AllowedHost[] | string {
  const hosts: AllowedHost[] = [];
  for (const entry of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const match = /^(\[[0-9a-f:]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(entry);
    if (!match || (match[2] !== undefined && Number(match[2]) > 65_535)) {
      return `entries must be host or host:port (no scheme, path or credentials), got '${entry}'`;
    }
    hosts.push({ hostname: (match[1] as string).toLowerCase(), ...(match[2] !== undefined ? { port: match[2] } : {}) });
  }
  return hosts;
}

export type VaultHostVerdict =
  /** A Key Vault host of an Azure cloud: challenge verification always applies. */
  | { kind: 'keyVault' }
  /** Allow-listed by the operator (the sandbox): challenge verification may be off. */
  | { kind: 'allowListed' }
  | { kind: 'refused'; message: string };

/**
 * Is `vaultUrl` a Key Vault data-plane endpoint the rotator may send a token to? Parsed as WHATWG URL, as the SDK
 * does, so `https://x.vault.azure.net@127.0.0.1/` reads as credentials for 127.0.0.1 (refused), and
 * `https://x.vault.azure.net.evil.test/` is a host of evil.test (refused).
 */
export function checkVaultHost(vaultUrl: string, allowedHosts: readonly AllowedHost[]): VaultHostVerdict {
  let url: URL;
  try {
    url = new URL(vaultUrl);
  } catch {
    return { kind: 'refused', message: `'${vaultUrl}' is not a URL` };
  }
  if (url.protocol !== 'https:') return { kind: 'refused', message: `'${vaultUrl}' is not https` };
  if (url.username || url.password) return { kind: 'refused', message: `'${vaultUrl}' carries credentials before its host` };
  const hostname = url.hostname.toLowerCase();
  const allowed = allowedHosts.some((h) => h.hostname === hostname && (h.port === undefined || h.port === (url.port || '443')));
  if (allowed) return { kind: 'allowListed' };
  if (IPV4.test(hostname) || hostname.startsWith('[')) {
    return { kind: 'refused', message: `'${url.host}' is an IP address, not a Key Vault host (allow-list it in KEYVAULT_ALLOWED_HOSTS)` };
  }
  for (const suffix of KEYVAULT_HOST_SUFFIXES) {
    if (!hostname.endsWith(`.${suffix}`)) continue;
    const name = hostname.slice(0, -suffix.length - 1);
    if (!VAULT_NAME.test(name)) return { kind: 'refused', message: `'${hostname}' is not <vault-name>.${suffix}` };
    if (url.port !== '') return { kind: 'refused', message: `'${url.host}' names a port; Key Vault listens on 443 only` };
    return { kind: 'keyVault' };
  }
  return {
    kind: 'refused',
    message: `'${url.host}' is not a Key Vault host (*.${KEYVAULT_HOST_SUFFIXES.join(', *.')}) nor in KEYVAULT_ALLOWED_HOSTS`,
  };
}

/** An app scope: a subscription, a resource group of it, or sites of a resource group (a `*` glob on the name). */
export interface AppScope {
  subscriptionId: string;
  resourceGroup?: string;
  /** Site name glob; a site's slots are in its scope. */
  site?: string;
}

/** One grant of SOURCE_POLICY: apps of `scope` may use certificates named like `certificate` in vault `vaultHost`. */
export interface SourceGrant {
  scope: AppScope;
  /** Lowercase `host` or `host:port` (as in the source URL). */
  vaultHost: string;
  /** Certificate-name glob (`*` matches any run of characters); case-insensitive. */
  certificate: string;
  /** The entry as written, for messages. */
  text: string;
}

const SCOPE = /^\/subscriptions\/([^/\s]+)(?:\/resourceGroups\/([^/\s]+)(?:\/providers\/Microsoft\.Web\/sites\/([^/\s]+))?)?\/?$/i;

/** `/subscriptions/<id>[/resourceGroups/<rg>[/providers/Microsoft.Web/sites/<site glob>]]` → scope. */
export function parseAppScope(text: string): AppScope | undefined {
  const match = SCOPE.exec(text.trim());
  if (!match) return undefined;
  const scope: AppScope = { subscriptionId: (match[1] as string).toLowerCase() };
  if (match[2] !== undefined) scope.resourceGroup = match[2].toLowerCase();
  if (match[3] !== undefined) scope.site = match[3].toLowerCase();
  return scope;
}

/**
 * SOURCE_POLICY: grants separated by `;` or new lines, each `<app scope> => <vault host>/<certificate glob>`, e.g.
 * `/subscriptions/1111…/resourceGroups/rg-payments => kv-payments.vault.azure.net/client-*`.
 */
export function parseSourcePolicy(value: string): SourceGrant[] | string {
  const grants: SourceGrant[] = [];
  for (const entry of value.split(/[;\n]/).map((s) => s.trim()).filter(Boolean)) {
    const [scopeText, target, ...rest] = entry.split('=>').map((s) => s.trim());
    if (scopeText === undefined || target === undefined || rest.length > 0) {
      return `entries must read '<app scope> => <vault host>/<certificate name glob>', got '${entry}'`;
    }
    const scope = parseAppScope(scopeText);
    if (!scope) {
      return `'${scopeText}' is not an app scope (/subscriptions/<id>[/resourceGroups/<rg>[/providers/Microsoft.Web/sites/<site>]])`;
    }
    const match = /^([a-z0-9.-]+(?::\d{1,5})?)\/([0-9a-z*-]{1,127})$/i.exec(target);
    if (!match) return `'${target}' must be <vault host>/<certificate name glob>, e.g. kv-a.vault.azure.net/client-*`;
    grants.push({ scope, vaultHost: (match[1] as string).toLowerCase(), certificate: (match[2] as string).toLowerCase(), text: entry });
  }
  return grants;
}

/** The `<prefix>-consumers` tag value → scopes; entries that are not scopes are ignored (and grant nothing). */
export function parseConsumers(value: string | undefined): AppScope[] {
  if (value === undefined) return [];
  const scopes: AppScope[] = [];
  for (const entry of value.split(/[\s,;]+/).filter(Boolean)) {
    const scope = parseAppScope(entry);
    if (scope) scopes.push(scope);
  }
  return scopes;
}

function glob(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const expression = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*');
  return new RegExp(`^${expression}$`).test(value);
}

export function inScope(scope: AppScope, app: AppRef): boolean {
  if (scope.subscriptionId !== app.subscriptionId.toLowerCase()) return false;
  if (scope.resourceGroup !== undefined && scope.resourceGroup !== app.resourceGroup.toLowerCase()) return false;
  if (scope.site !== undefined && !glob(scope.site, app.site.toLowerCase())) return false;
  return true;
}

function hostOf(source: KeyVaultSource): string {
  try {
    return new URL(source.vaultUrl).host.toLowerCase();
  } catch {
    return '';
  }
}

export type SourceAuthorization =
  | { authorized: true; by: 'policy' | 'vaultTag'; grant: string }
  | { authorized: false; message: string };

/**
 * May `app` consume `source`? Granted by an operator policy entry or by the vault owner's consumers tag on the
 * certificate (`consumersTag`: undefined when the certificate is not read yet or carries none).
 */
export function authorizeSource(
  app: AppRef,
  source: KeyVaultSource,
  policy: readonly SourceGrant[],
  consumersTag: string | undefined,
  tagName: string,
): SourceAuthorization {
  const host = hostOf(source);
  const name = source.name.toLowerCase();
  for (const grant of policy) {
    if (grant.vaultHost === host && glob(grant.certificate, name) && inScope(grant.scope, app)) {
      return { authorized: true, by: 'policy', grant: grant.text };
    }
  }
  for (const scope of parseConsumers(consumersTag)) {
    if (inScope(scope, app)) return { authorized: true, by: 'vaultTag', grant: scopeText(scope) };
  }
  return {
    authorized: false,
    message:
      `no grant lets /subscriptions/${app.subscriptionId}/resourceGroups/${app.resourceGroup} (${app.site}) use ${host}/${source.name}: ` +
      `the vault owner may list the app's scope in the certificate's tag ${tagName}, or the operator may add it to SOURCE_POLICY`,
  };
}

function scopeText(scope: AppScope): string {
  let text = `/subscriptions/${scope.subscriptionId}`;
  if (scope.resourceGroup !== undefined) text += `/resourceGroups/${scope.resourceGroup}`;
  if (scope.site !== undefined) text += `/providers/Microsoft.Web/sites/${scope.site}`;
  return text;
}
