// Certificate sources behind one port, keyed by kind. The core asks the registry; the registry asks the adapter of
// the source's kind. Adding a source is an adapter (src/azure/keyVaultSource.ts is the first) and one register() line
// in the composition root: the adapter parses its own references and tag values and says which hosts it may call,
// so neither the tag parser nor the inventory knows any kind.
import { PreconditionError } from '../errors.js';
import type { CertificateSecret, CertificateSource, CertificateSourceAdapter, KeyVaultCertificateVersion, KeyVaultSource, SourceHostVerdict } from '../ports.js';
import { KEY_VAULT, type SourceRef } from './sourceRef.js';

export class SourceRegistry implements CertificateSource {
  private readonly adapters = new Map<string, CertificateSourceAdapter>();

  /** Adds the adapter of one kind; a second adapter for a kind is a wiring mistake, refused. */
  register(adapter: CertificateSourceAdapter): this {
    // A kind is also a tag value's prefix (`<kind>:<uri>`): one named like a URL scheme would swallow every URL.
    if (!KIND.test(adapter.kind) || URL_SCHEMES.has(adapter.kind)) {
      throw new PreconditionError(`'${adapter.kind}' cannot name a kind of certificate source (lowercase letters, digits and dashes; not a URL scheme)`);
    }
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
    return parsedBy(adapter, ref.uri);
  }

  /**
   * A tag value is read by the kind it names (`<kind>:<uri>`), else by the registered kinds in registration order:
   * the first that accepts it reads it. Key Vault is registered first, so today's Key Vault URLs keep their meaning
   * whatever is registered later; a later kind's value that an earlier kind would also accept names its kind. The
   * kind that reads a value also decides which hosts may be called for it (`checkHost`), so this is deterministic.
   */
  parseTagValue(value: string): KeyVaultSource | string {
    const text = value.trim();
    const prefix = /^([a-z][a-z0-9-]*):(.*)$/s.exec(text);
    const named = prefix ? this.adapters.get(prefix[1] as string) : undefined;
    if (named) return parsedBy(named, (prefix as RegExpExecArray)[2] as string);
    if (this.adapters.size === 0) return `'${text}' names no certificate source: no kind of source is registered`;
    const refused: Array<[string, string]> = [];
    for (const adapter of this.adapters.values()) {
      const parsed = parsedBy(adapter, text);
      if (typeof parsed !== 'string') return parsed;
      refused.push([adapter.kind, parsed]);
    }
    // One kind: its own message, as precise as before there were kinds.
    if (refused.length === 1) return (refused[0] as [string, string])[1];
    return `'${text}' is not a source of any registered kind: ${refused.map(([kind, message]) => `${kind}: ${message}`).join('; ')}`;
  }

  /** Default deny: a source of a kind nobody registered, or whose adapter cannot answer, is refused. */
  checkHost(source: KeyVaultSource): SourceHostVerdict {
    const kind = source.kind ?? KEY_VAULT;
    const adapter = this.adapters.get(kind);
    if (!adapter) return { allowed: false, message: `is of kind '${kind}', which no registered certificate source handles (known: ${this.kinds().join(', ') || 'none'})` };
    try {
      return adapter.checkHost(source);
    } catch (error) {
      return { allowed: false, message: `could not be checked by the '${kind}' source: ${error instanceof Error ? error.message : String(error)}` };
    }
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

const KIND = /^[a-z][a-z0-9-]{0,31}$/;
const URL_SCHEMES = new Set(['http', 'https']);

/** An adapter's reading of `uri` as its own kind; a source it labels with another kind is a wiring mistake, refused. */
function parsedBy(adapter: CertificateSourceAdapter, uri: string): KeyVaultSource | string {
  const parsed = adapter.parseRef({ kind: adapter.kind, uri });
  if (typeof parsed === 'string') return parsed;
  if ((parsed.kind ?? KEY_VAULT) !== adapter.kind) return `the '${adapter.kind}' source read '${uri}' as a source of kind '${parsed.kind ?? KEY_VAULT}'`;
  return parsed;
}
