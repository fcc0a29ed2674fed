import { describe, expect, it } from 'vitest';
import { parseAllowedTargets, type ProbeTargetPolicy } from '../../src/core/probeTargets.js';
import { parseKeyVaultSourceUrl } from '../../src/core/sources/keyVaultRef.js';
import { SourceRegistry } from '../../src/core/sources/registry.js';
import { getTag, parseAppTags, sourceUrlOf } from '../../src/core/tags.js';
import { FakeClock, FakeKeyVault } from '../helpers/memory-ports.js';

/** The sandbox's policy: its downstreams listen on 127.0.0.1. */
const loopbackAllowed: ProbeTargetPolicy = { allowed: parseAllowedTargets('127.0.0.1') as ProbeTargetPolicy['allowed'], maxTargets: 5 };
/** The source tag is read by the registered kinds; here Key Vault's, as in the composition root. */
const KEY_VAULT_ONLY = new SourceRegistry().register(new FakeKeyVault(new FakeClock()));

describe('parseAppTags', () => {
  it('reads a fully configured app', () => {
    const { config, problems } = parseAppTags({
      'mtls-rotation': 'enabled',
      'mtls-rotation-probe': ' https://partner.example/ping   https://127.0.0.1:8443/ ',
      'mtls-rotation-health': '/healthz/outbound-mtls',
      'mtls-rotation-source': 'https://kv1.vault.azure.net/certificates/client-cert',
      'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT, OTHER_THUMB,WEBSITE_LOAD_CERTIFICATES',
      'mtls-rotation-slots': 'true',
    }, 'mtls-rotation', loopbackAllowed, KEY_VAULT_ONLY);
    expect(problems).toEqual([]);
    expect(config).toEqual({
      enabled: true,
      probeUrls: ['https://partner.example/ping', 'https://127.0.0.1:8443/'],
      healthPath: '/healthz/outbound-mtls',
      source: { vaultUrl: 'https://kv1.vault.azure.net', name: 'client-cert' },
      settings: ['CLIENT_CERT_THUMBPRINT', 'OTHER_THUMB'],
      slots: true,
    });
  });

  it.each([
    ['no tags: not opted in', undefined, false],
    ['enabled in another case', { 'MTLS-Rotation': 'Enabled' }, true],
    ['disabled', { 'mtls-rotation': 'disabled' }, false],
    ['another prefix does not count', { 'other-rotation': 'enabled' }, false],
  ])('opt-in: %s', (_sentence, tags, enabled) => {
    expect(parseAppTags(tags).config.enabled).toBe(enabled);
  });

  it.each([
    ['absent: the default, status', {}, undefined, []],
    ['status', { 'mtls-rotation-health-expect': 'status' }, undefined, []],
    ['thumbprint, in any case and with spaces', { 'mtls-rotation-health-expect': ' Thumbprint ' }, 'thumbprint', []],
    ['a bad value is a problem naming the tag and the value', { 'mtls-rotation-health-expect': 'json' }, undefined, ["tag mtls-rotation-health-expect: 'json' must be 'status' or 'thumbprint'"]],
  ])('health-expect: %s', (_sentence, tags, expect_, problems) => {
    const parsed = parseAppTags({ 'mtls-rotation': 'enabled', 'mtls-rotation-health': '/h', ...tags });
    expect(parsed.config.healthExpect).toBe(expect_);
    expect(parsed.problems).toEqual(problems);
  });

  it('uses a configured prefix', () => {
    const { config } = parseAppTags({ contoso: 'enabled', 'contoso-health': '/h' }, 'contoso');
    expect(config).toMatchObject({ enabled: true, healthPath: '/h' });
  });

  it.each([
    ['an http probe URL', { 'mtls-rotation-probe': 'http://partner.example/' }, "tag mtls-rotation-probe: 'http://partner.example/' must use https"],
    ['a probe that is not a URL', { 'mtls-rotation-probe': 'partner.example' }, "tag mtls-rotation-probe: 'partner.example' is not a URL"],
    ['a health path without a slash', { 'mtls-rotation-health': 'healthz' },
      "tag mtls-rotation-health: 'healthz' must be a path starting with '/' (e.g. /healthz/outbound-mtls)"],
    ['a health URL instead of a path', { 'mtls-rotation-health': '//evil.example/x' },
      "tag mtls-rotation-health: '//evil.example/x' must be a path starting with '/' (e.g. /healthz/outbound-mtls)"],
    ['a source that is a secret URL', { 'mtls-rotation-source': 'https://kv.vault.azure.net/secrets/x' },
      "tag mtls-rotation-source: 'https://kv.vault.azure.net/secrets/x' must have the form https://<vault-host>/certificates/<name>"],
    ['a source over http', { 'mtls-rotation-source': 'http://kv.vault.azure.net/certificates/x' },
      "tag mtls-rotation-source: 'http://kv.vault.azure.net/certificates/x' must use https"],
    ['a settings list with an invalid name', { 'mtls-rotation-settings': 'GOOD,bad name' },
      "tag mtls-rotation-settings: 'bad name' is not a valid app setting name"],
    ['slots that is not true or false', { 'mtls-rotation-slots': 'yes' }, "tag mtls-rotation-slots: 'yes' must be 'true' or 'false'"],
    ['a health path with a backslash (a slash to WHATWG parsers)', { 'mtls-rotation-health': '/\\evil.example/x' },
      "tag mtls-rotation-health: '/\\evil.example/x' must be a path starting with '/' (e.g. /healthz/outbound-mtls)"],
    ['a probe on loopback without an allow-list', { 'mtls-rotation-probe': 'https://127.0.0.1:8443/' },
      "tag mtls-rotation-probe: 'https://127.0.0.1:8443/' is refused: 127.0.0.1 is a loopback address, not allowed by PROBE_ALLOWED_TARGETS"],
    ['a probe with credentials', { 'mtls-rotation-probe': 'https://user:pw@partner.example/' },
      "tag mtls-rotation-probe: 'https://user:pw@partner.example/' must not contain credentials"],
    ['six probe targets (the default bound is five)', { 'mtls-rotation-probe': [1, 2, 3, 4, 5, 6].map((n) => `https://p${n}.example/`).join(' ') },
      'tag mtls-rotation-probe: 6 probe targets, at most 5 are allowed (PROBE_MAX_TARGETS)'],
  ])('reports %s as a problem naming the tag', (_sentence, tags, problem) => {
    expect(parseAppTags({ 'mtls-rotation': 'enabled', ...tags }, 'mtls-rotation', undefined, KEY_VAULT_ONLY).problems).toEqual([problem]);
  });

  it('refuses a source tag when no registry of sources is given (no kind is assumed)', () => {
    const { config, problems } = parseAppTags({ 'mtls-rotation': 'enabled', 'mtls-rotation-source': 'https://kv1.vault.azure.net/certificates/client' });
    expect(config.source).toBeUndefined();
    expect(problems).toEqual(["tag mtls-rotation-source: 'https://kv1.vault.azure.net/certificates/client' names no certificate source: no kind of source is registered"]);
  });

  it('keeps no probe target at all when one is refused (probing the rest would verify less than the owner asked)', () => {
    const { config, problems } = parseAppTags({ 'mtls-rotation': 'enabled', 'mtls-rotation-probe': 'https://partner.example/ https://10.0.0.1/' });
    expect(problems).toHaveLength(1);
    expect(config.probeUrls).toEqual([]);
  });

  it('counts a repeated probe URL once against the bound', () => {
    const { config, problems } = parseAppTags({ 'mtls-rotation-probe': Array(9).fill('https://partner.example/').join(' ') });
    expect(problems).toEqual([]);
    expect(config.probeUrls).toEqual(['https://partner.example/']);
  });
});

describe('sources', () => {
  it('parses and prints a source URL with a port and a trailing slash', () => {
    const source = parseKeyVaultSourceUrl('https://127.0.0.1:9443/certificates/client-a/');
    expect(source).toEqual({ vaultUrl: 'https://127.0.0.1:9443', name: 'client-a' });
    expect(sourceUrlOf(source as never)).toBe('https://127.0.0.1:9443/certificates/client-a');
  });

  it('reads tags case-insensitively', () => {
    expect(getTag({ 'Mtls-Rotation-Health': '/x' }, 'mtls-rotation-health')).toBe('/x');
  });
});
