// How a Key Vault source is written as a reference: `{ kind: 'keyvault', uri: 'https://<vault>/certificates/<name>' }`,
// the same text as the `<p>-source` tag. Shared by the Key Vault adapter and anything that simulates Key Vault.
import type { KeyVaultSource } from '../ports.js';
import { parseKeyVaultSourceUrl, sourceUrlOf } from '../tags.js';
import { KEY_VAULT, type SourceRef } from './sourceRef.js';

export function parseKeyVaultRef(ref: SourceRef): KeyVaultSource | string {
  if (ref.kind !== KEY_VAULT) return `a '${ref.kind}' reference is not a Key Vault certificate`;
  return parseKeyVaultSourceUrl(ref.uri);
}

export function keyVaultRefOf(source: KeyVaultSource): SourceRef {
  return { kind: KEY_VAULT, uri: sourceUrlOf(source) };
}
