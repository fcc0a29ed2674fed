// Key Vault's side of the certificate source port, shared by its adapter (src/azure/keyVaultSource.ts) and anything
// that simulates Key Vault: how a Key Vault source is written (a reference `{ kind: 'keyvault', uri:
// 'https://<vault>/certificates/<name>' }`, the same text as the `<p>-source` tag) and which hosts it may be fetched
// from (a Key Vault data-plane host of a public or sovereign cloud, or a host the operator allow-listed in
// KEYVAULT_ALLOWED_HOSTS: the sandbox).
import type { KeyVaultSource, SourceHostVerdict } from '../ports.js';
import { sourceUrlOf } from '../tags.js';
import type { AllowedHost } from '../trust.js';
import { KEY_VAULT, type SourceRef } from './sourceRef.js';

export function parseKeyVaultRef(ref: SourceRef): KeyVaultSource | string {
  if (ref.kind !== KEY_VAULT) return `a '${ref.kind}' reference is not a Key Vault certificate`;
  return parseKeyVaultSourceUrl(ref.uri);
}

export function keyVaultRefOf(source: KeyVaultSource): SourceRef {
  return { kind: KEY_VAULT, uri: sourceUrlOf(source) };
}

/**
 * `https://<vault-host>/certificates/<name>` (a trailing slash is tolerated) → source.
 * Returns a problem message instead when the value is not such a URL.
 */
export function parseKeyVaultSourceUrl(value: string): KeyVaultSource | string {
  const trimmed = value.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return `'${trimmed}' is not a URL; expected https://<vault-host>/certificates/<name>`;
  }
  if (url.protocol !== 'https:') return `'${trimmed}' must use https`;
  if (url.search || url.hash || url.username || url.password) {
    return `'${trimmed}' must not have a query, fragment or credentials`;
  }
  const match = /^\/certificates\/([0-9A-Za-z-]{1,127})\/?$/.exec(url.pathname);
  if (!match) return `'${trimmed}' must have the form https://<vault-host>/certificates/<name>`;
  return { vaultUrl: `https://${url.host}`, name: match[1] as string };
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


/** The port's host check for a Key Vault source: a vault host of the clouds or an allow-listed host, nothing else. */
export function checkKeyVaultSourceHost(source: KeyVaultSource, allowedHosts: readonly AllowedHost[]): SourceHostVerdict {
  const verdict = checkVaultHost(source.vaultUrl, allowedHosts);
  if (verdict.kind === 'refused') return { allowed: false, message: `is not a Key Vault source: ${verdict.message}` };
  return { allowed: true };
}
