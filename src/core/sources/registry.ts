// Certificate sources behind one port, keyed by kind. The core asks the registry; the registry asks the adapter of
// the source's kind. Adding a source is an adapter (src/azure/keyVaultSource.ts is the first) and one register() line
// in the composition root.
import { PreconditionError } from '../errors.js';
import type { CertificateSecret, CertificateSource, CertificateSourceAdapter, KeyVaultCertificateVersion, KeyVaultSource } from '../ports.js';
import { KEY_VAULT, type SourceRef } from './sourceRef.js';

export class SourceRegistry implements CertificateSource {
  private readonly adapters = new Map<string, CertificateSourceAdapter>();

  /** Adds the adapter of one kind; a second adapter for a kind is a wiring mistake, refused. */
  register(adapter: CertificateSourceAdapter): this {
    if (this.adapters.has(adapter.kind)) throw new PreconditionError(`a certificate source of kind '${adapter.kind}' is already registered`);
    this.adapters.set(adapter.kind, adapter);
    return this;
  }

  kinds(): string[] {
    return [...this.adapters.keys()];
  }

  private adapterOf(kind: string): CertificateSourceAdapter {
    const adapter = this.adapters.get(kind);
    if (!adapter) throw new PreconditionError(`no certificate source of kind '${kind}' is registered (known: ${this.kinds().join(', ') || 'none'})`);
    return adapter;
  }

  parseRef(ref: SourceRef): KeyVaultSource | string {
    const adapter = this.adapters.get(ref.kind);
    if (!adapter) return `'${ref.kind}' is not a known kind of certificate source (known: ${this.kinds().join(', ') || 'none'})`;
    return adapter.parseRef(ref);
  }

  refOf(source: KeyVaultSource): SourceRef {
    return this.adapterOf(source.kind ?? KEY_VAULT).refOf(source);
  }

  getLatest(source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined> {
    return this.adapterOf(source.kind ?? KEY_VAULT).getLatest(source);
  }

  getVersion(source: KeyVaultSource, version: string): Promise<KeyVaultCertificateVersion | undefined> {
    return this.adapterOf(source.kind ?? KEY_VAULT).getVersion(source, version);
  }

  getSecret(source: KeyVaultSource, version: string): Promise<CertificateSecret> {
    return this.adapterOf(source.kind ?? KEY_VAULT).getSecret(source, version);
  }
}
