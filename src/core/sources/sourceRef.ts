// Where a certificate comes from, as a rotation record keeps it: the kind of source and the certificate's address
// there, never a source's own field names. Key Vault is the first kind; a PEM in a blob or an ACME issuer would be
// another kind with its own adapter (registry.ts).

/** A certificate at a source, all its versions: `{ kind: 'keyvault', uri: 'https://v.vault.azure.net/certificates/name' }`. */
export interface SourceRef {
  kind: string;
  uri: string;
}

/** One version of a source's certificate. */
export interface SourceVersionRef extends SourceRef {
  version: string;
}

export const KEY_VAULT = 'keyvault';

/**
 * The id of one version: the reference's uri and the version, '/'-joined. For Key Vault it is the certificate version
 * id Key Vault itself uses (`<vault>/certificates/<name>/<version>`), so a version the source reports and a version a
 * record names compare as equal strings; an adapter of another kind gives its versions ids of the same form.
 */
export function versionIdOf(ref: SourceVersionRef): string {
  return `${ref.uri.replace(/\/+$/, '')}/${ref.version}`;
}

/** Two version ids name the same version (case and a trailing slash do not matter: Key Vault ignores both). */
export function sameVersionId(a: string, b: string): boolean {
  return a.trim().replace(/\/+$/, '').toLowerCase() === b.trim().replace(/\/+$/, '').toLowerCase();
}

/**
 * A record binding as stored before source references (Key Vault fields: `keyVaultCertificateId`, `keyVaultVersion`,
 * optionally `sourceUrl`), upgraded on read; a binding that already has `source` is returned as it is. Rows in Table
 * storage are never rewritten for this: the next save of an open record writes the new shape.
 */
export function upgradeStoredBinding<B extends { source: SourceVersionRef }>(stored: B | LegacyBinding<B>): B {
  if ('source' in stored && stored.source && typeof stored.source === 'object') return stored as B;
  const { keyVaultCertificateId, keyVaultVersion, sourceUrl, ...rest } = stored as LegacyBinding<B>;
  const id = String(keyVaultCertificateId ?? '').trim().replace(/\/+$/, '');
  const version = keyVaultVersion ?? id.slice(id.lastIndexOf('/') + 1);
  const uri = sourceUrl ?? (id.endsWith(`/${version}`) ? id.slice(0, -(version.length + 1)) : id);
  return { ...rest, source: { kind: KEY_VAULT, uri, version } } as unknown as B;
}

/** The stored shape of a binding before source references. */
export type LegacyBinding<B> = Omit<B, 'source'> & { keyVaultCertificateId: string; keyVaultVersion?: string; sourceUrl?: string };
