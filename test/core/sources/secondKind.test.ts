// A second kind of certificate source, defined in this file only, to show that adding one needs no change to the tag
// parser (src/core/tags.ts) or the trust rules (src/core/trust.ts): the registry hands its tag values and its host
// check to its adapter, and the inventory asks only the registry. The kind is a PEM dropped at
// `https://<host>/<folder>/<name>[.pem]`, whose only host is drops.example.test.
import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateSecret, CertificateSourceAdapter, KeyVaultCertificateVersion, KeyVaultSource, SourceHostVerdict, SourceRef } from '../../../src/core/ports.js';
import { SourceRegistry } from '../../../src/core/sources/registry.js';
import { sourceTagValueOf } from '../../../src/core/sources/sourceRef.js';
import { parseAppTags } from '../../../src/core/tags.js';
import { scanInventory } from '../../../src/core/scan.js';
import { describeCertificate } from '../../../src/crypto/x509.js';
import { CertificateFactory, createWorld, SUB, VAULT_URL, type World } from '../../helpers/memory-ports.js';

const DROPS = 'drops.example.test';

class PemDropSource implements CertificateSourceAdapter {
  readonly kind = 'pemdrop';
  readonly log: Array<{ op: string; target: string }> = [];
  private readonly latest = new Map<string, KeyVaultCertificateVersion>();

  parseRef(ref: SourceRef): KeyVaultSource | string {
    const match = /^https:\/\/([a-z0-9.-]+)\/([a-z0-9-]+\/[a-z0-9-]+)(?:\.pem)?\/?$/.exec(ref.uri.trim());
    if (ref.kind !== this.kind || !match) return `'${ref.uri.trim()}' must have the form https://<host>/<folder>/<name>[.pem]`;
    return { kind: this.kind, vaultUrl: `https://${match[1]}`, name: match[2] as string };
  }

  refOf(source: KeyVaultSource): SourceRef {
    return { kind: this.kind, uri: `${source.vaultUrl}/${source.name}` };
  }

  checkHost(source: KeyVaultSource): SourceHostVerdict {
    this.log.push({ op: 'checkHost', target: source.vaultUrl });
    return new URL(source.vaultUrl).host === DROPS ? { allowed: true } : { allowed: false, message: `is not a PEM drop: only ${DROPS} holds them` };
  }

  put(source: KeyVaultSource, certPem: string): void {
    const d = describeCertificate(certPem);
    const id = `${source.vaultUrl}/${source.name}/v1`;
    this.latest.set(id.slice(0, -3), { source, version: 'v1', id, thumbprint: d.thumbprint, enabled: true, notBefore: d.notBefore, expiresOn: d.notAfter });
  }

  async getLatest(source: KeyVaultSource): Promise<KeyVaultCertificateVersion | undefined> {
    this.log.push({ op: 'getLatest', target: `${source.vaultUrl}/${source.name}` });
    return this.latest.get(`${source.vaultUrl}/${source.name}`);
  }

  async getVersion(source: KeyVaultSource, version: string): Promise<KeyVaultCertificateVersion | undefined> {
    this.log.push({ op: 'getVersion', target: `${source.vaultUrl}/${source.name}/${version}` });
    return version === 'v1' ? this.latest.get(`${source.vaultUrl}/${source.name}`) : undefined;
  }

  async getSecret(source: KeyVaultSource, version: string): Promise<CertificateSecret> {
    // A scan reads no secret; the tests below assert this is never reached.
    this.log.push({ op: 'getSecret', target: `${source.vaultUrl}/${source.name}/${version}` });
    throw new Error('a scan must not read a secret');
  }
}

const certs = new CertificateFactory();
let oldCert: ReturnType<CertificateFactory['client']>;
let newCert: ReturnType<CertificateFactory['client']>;
beforeAll(() => {
  oldCert = certs.client('client', -340, 20);
  newCert = certs.client('client', -1, 365);
});

function arrange(): { world: World; drops: PemDropSource } {
  // The operator grants both the usual vault and the drop host; the drop kind's own host rule still applies first.
  const world = createWorld({ certs, config: { SOURCE_POLICY: `/subscriptions/${SUB} => kv1.vault.azure.net/*; /subscriptions/${SUB} => ${DROPS}/*` } });
  const drops = new PemDropSource();
  // The one registration line a new kind adds beside Key Vault's.
  world.deps.sources = new SourceRegistry().register(world.keyVault).register(drops);
  drops.put({ kind: 'pemdrop', vaultUrl: `https://${DROPS}`, name: 'team/client' }, newCert.certPem);
  world.keyVault.add({ vaultUrl: VAULT_URL, name: 'client' }, newCert);
  return { world, drops };
}

describe('a second source kind registered beside Key Vault', () => {
  it.each<[string, string, { kind?: string; vaultUrl: string; name: string } | RegExp]>([
    ['a drop URL is read by the drop kind', `https://${DROPS}/team/client.pem`, { kind: 'pemdrop', vaultUrl: `https://${DROPS}`, name: 'team/client' }],
    ['a Key Vault URL as written today, which the drop kind would accept too, is still read by Key Vault (registered first)', `${VAULT_URL}/certificates/client`, { vaultUrl: VAULT_URL, name: 'client' }],
    ['Key Vault named explicitly (keyvault:<url>), as docs/operations.md allows', `keyvault:${VAULT_URL}/certificates/client`, { vaultUrl: VAULT_URL, name: 'client' }],
    ['a value naming its kind is read by that kind only', `pemdrop:${VAULT_URL}/certificates/client`,
      { kind: 'pemdrop', vaultUrl: VAULT_URL, name: 'certificates/client' }],
    ['a value no kind accepts is refused with each kind\'s reason', 'https://kv1.vault.azure.net/a/b/c',
      /^tag mtls-rotation-source: 'https:\/\/kv1\.vault\.azure\.net\/a\/b\/c' is not a source of any registered kind: keyvault: .*certificates\/<name>; pemdrop: .*<folder>\/<name>/],
    ['a prefix that names no registered kind is not a kind', 'acme:https://issuer.example.test/orders/1', /is not a source of any registered kind/],
  ])('tag parsing: %s', (_sentence, value, expected) => {
    const { world } = arrange();
    const parsed = parseAppTags({ 'mtls-rotation': 'enabled', 'mtls-rotation-source': value }, 'mtls-rotation', undefined, world.deps.sources);
    if (expected instanceof RegExp) {
      expect(parsed.config.source).toBeUndefined();
      expect(parsed.problems.join('\n')).toMatch(expected);
    } else {
      expect(parsed.problems).toEqual([]);
      expect(parsed.config.source).toEqual(expected);
    }
  });

  it.each<[string, SourceRef]>([
    ['a Key Vault certificate (the bare URL, as always)', { kind: 'keyvault', uri: `${VAULT_URL}/certificates/client` }],
    ['a drop whose address Key Vault would also accept', { kind: 'pemdrop', uri: `https://${DROPS}/certificates/client` }],
  ])('the source tag the rotator writes on what it uploads reads back as the same kind: %s', (_sentence, ref) => {
    const { world } = arrange();
    const read = world.deps.sources.parseTagValue(sourceTagValueOf(ref));
    expect(typeof read === 'string' ? read : world.deps.sources.refOf(read)).toEqual(ref);
  });

  it.each<[string, string, 'due' | RegExp, string[], string[]]>([
    ['a drop on its own host is checked by the drop kind, then read from it', `https://${DROPS}/team/client.pem`, 'due', ['checkHost', 'getLatest'], []],
    ['a drop on another host is refused by the drop kind before anything is read', 'https://drops.evil.test/team/client.pem',
      /^SourceNotAuthorized: https:\/\/drops\.evil\.test\/.* is not a PEM drop: only drops\.example\.test holds them$/, ['checkHost'], []],
    ["a Key Vault address named as a drop gets the drop kind's host rule, not Key Vault's", `pemdrop:${VAULT_URL}/certificates/client`,
      /^SourceNotAuthorized: .* is not a PEM drop/, ['checkHost'], []],
    ['a Key Vault source in the same registry still gets Key Vault\'s rule', 'https://kv1.vault.azure.net.evil.test/certificates/client',
      /^SourceNotAuthorized: .* is not a Key Vault source: .*is not a Key Vault host/, [], []],
    ['a Key Vault source on a vault host is read from Key Vault only', `${VAULT_URL}/certificates/client`, 'due', [], ['getLatest']],
  ])('host check in the inventory: %s', async (_sentence, tag, expected, dropOps, vaultOps) => {
    const { world, drops } = arrange();
    const vaultReads = world.keyVault.log.length;
    world.appService.addSite({
      subscriptionId: SUB,
      name: 'app',
      tags: { 'mtls-rotation': 'enabled', 'mtls-rotation-health': '/healthz/outbound-mtls', 'mtls-rotation-source': tag },
      settings: { WEBSITE_LOAD_CERTIFICATES: oldCert.thumbprint },
    });
    const scan = await scanInventory(world.deps, world.config);
    const binding = scan.apps[0]!.bindings[0]!;
    if (expected === 'due') {
      expect(binding.problem).toBeUndefined();
      expect(binding.evaluation).toMatchObject({ due: true });
      expect(binding.latest?.thumbprint).toBe(newCert.thumbprint);
    } else {
      expect(binding.problem).toMatch(expected);
      expect(binding.evaluation).toMatchObject({ due: false, refusal: { refusal: 'SourceNotAuthorized' } });
      expect(binding.latest).toBeUndefined();
    }
    expect(drops.log.map((entry) => entry.op)).toEqual(dropOps);
    expect(world.keyVault.log.slice(vaultReads).map((entry) => entry.op)).toEqual(vaultOps);
  });

  it.each<[string, () => unknown, RegExp]>([
    ['a second adapter for a kind is a wiring mistake', () => new SourceRegistry().register(new PemDropSource()).register(new PemDropSource()), /already registered/],
    ['a kind named like a URL scheme would swallow every URL', () => new SourceRegistry().register(Object.assign(new PemDropSource(), { kind: 'https' })), /not a URL scheme/],
  ])('registration refuses: %s', (_sentence, register, message) => {
    expect(register).toThrow(message);
  });

  it('a source of a kind nobody registered is refused by the host check (default deny)', () => {
    const registry = new SourceRegistry().register(new PemDropSource());
    expect(registry.checkHost({ kind: 'acme', vaultUrl: `https://${DROPS}`, name: 'team/client' })).toEqual({
      allowed: false,
      message: "is of kind 'acme', which no registered certificate source handles (known: pemdrop)",
    });
  });
});
