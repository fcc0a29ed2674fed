import { describe, expect, it } from 'vitest';
import { getTag, parseAppTags, parseKeyVaultSourceUrl, sourceUrlOf } from '../../src/core/tags.js';

describe('parseAppTags', () => {
  it('reads a fully configured app', () => {
    const { config, problems } = parseAppTags({
      'mtls-rotation': 'enabled',
      'mtls-rotation-probe': ' https://partner.example/ping   https://127.0.0.1:8443/ ',
      'mtls-rotation-health': '/healthz/outbound-mtls',
      'mtls-rotation-source': 'https://kv1.vault.azure.net/certificates/client-cert',
      'mtls-rotation-settings': 'CLIENT_CERT_THUMBPRINT, OTHER_THUMB,WEBSITE_LOAD_CERTIFICATES',
      'mtls-rotation-slots': 'true',
    });
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
  ])('reports %s as a problem naming the tag', (_sentence, tags, problem) => {
    expect(parseAppTags({ 'mtls-rotation': 'enabled', ...tags }).problems).toEqual([problem]);
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
