import { readFileSync } from 'node:fs';
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/core/config.js';
import { ConfigError } from '../../../src/core/errors.js';
import { createCertificateAuthority, issueCertificate, pemToDer, type IssuedCertificate } from '../../../src/crypto/index.js';
import {
  authenticateClientCertificate,
  clientCertificateOf,
  clientCertSettingsFromConfig,
  parseClientCertSettings,
  withClientCertificateAuth,
  type ClientCertSettings,
} from '../../../src/functions/auth/clientCert.js';

const DAY = 86_400_000;
const now = new Date();
const daysFromNow = (d: number): Date => new Date(now.getTime() + d * DAY);

// One PKI for the whole file: key generation is the slow part.
const trustedCa = createCertificateAuthority({ commonName: 'Contoso Client CA' });
const otherCa = createCertificateAuthority({ commonName: 'Fabrikam CA' });
// Same distinguished name as the trusted CA, its own key: a certificate it signs names the right issuer.
const forgedCa = createCertificateAuthority({ commonName: 'Contoso Client CA' });
const expiredCa = createCertificateAuthority({ commonName: 'Old Contoso CA', notBefore: daysFromNow(-800), notAfter: daysFromNow(-1) });
const secondTrustedCa = createCertificateAuthority({ commonName: 'Contoso Client CA 2' });

const client = issueCertificate(trustedCa, { commonName: 'ops-automation', usage: 'client' });
const clientOfSecondCa = issueCertificate(secondTrustedCa, { commonName: 'ops-automation-2', usage: 'client' });
const expired = issueCertificate(trustedCa, { commonName: 'expired', usage: 'client', notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
const notYetValid = issueCertificate(trustedCa, { commonName: 'future', usage: 'client', notBefore: daysFromNow(1), notAfter: daysFromNow(30) });
const fromOtherCa = issueCertificate(otherCa, { commonName: 'ops-automation', usage: 'client' });
const forged = issueCertificate(forgedCa, { commonName: 'ops-automation', usage: 'client' });
const serverOnly = issueCertificate(trustedCa, { commonName: 'web', usage: 'server' });
const fromExpiredCa = issueCertificate(expiredCa, { commonName: 'orphan', usage: 'client' });

const base64Der = (c: IssuedCertificate): string => pemToDer(c.certPem).toString('base64');

const policy = { trustedCaPems: [trustedCa.certPem, secondTrustedCa.certPem, expiredCa.certPem], now };

describe('authenticateClientCertificate', () => {
  it.each([
    ['no header at all', null, {}, 'ClientCertificateMissing', /client certificate is required/],
    ['an empty header', '   ', {}, 'ClientCertificateMissing', /missing or empty/],
    ['garbage text', 'not a certificate!!', {}, 'ClientCertificateUnreadable', /not a readable X.509 certificate/],
    ['base64 that is not a certificate', Buffer.from('hello world, not DER').toString('base64'), {}, 'ClientCertificateUnreadable', /not a readable/],
    ['a PEM block with a corrupt body', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', {}, 'ClientCertificateUnreadable', /not a readable/],
    ['an oversized header', 'A'.repeat(16 * 1024 + 1), {}, 'ClientCertificateTooLarge', /exceeds 16384 bytes/],
    ['an expired certificate', base64Der(expired), {}, 'ClientCertificateExpired', /expired at /],
    ['a certificate not yet valid', base64Der(notYetValid), {}, 'ClientCertificateNotYetValid', /is not valid before /],
    ['a certificate from an untrusted CA', base64Der(fromOtherCa), {}, 'ClientCertificateUntrusted', /issuer CN=Fabrikam CA.*not signed by a trusted CA|not signed by a trusted CA.*Fabrikam/],
    [
      'a forged issuer: same DN as the trusted CA, signed by another key',
      base64Der(forged),
      {},
      'ClientCertificateUntrusted',
      /issuer CN=Contoso Client CA\); the signature does not verify/,
    ],
    ['a certificate whose CA has expired', base64Der(fromExpiredCa), {}, 'ClientCertificateIssuerNotValid', /issued by CN=Old Contoso CA, which is outside its validity period/],
    ['the CA certificate itself', base64Der(trustedCa), {}, 'ClientCertificateIsCa', /is a CA certificate/],
    ['a server-only certificate (no clientAuth usage)', base64Der(serverOnly), {}, 'ClientCertificateWrongUsage', /not valid for client authentication/],
    [
      'a trusted certificate that is not on the allow-list',
      base64Der(client),
      { allowedThumbprints: [clientOfSecondCa.thumbprint] },
      'ClientCertificateNotAllowed',
      /is not in CLIENT_CERT_ALLOWED_THUMBPRINTS/,
    ],
  ])('rejects %s with 403', (_sentence, header, extra, code, reason) => {
    const result = authenticateClientCertificate(header, { ...policy, ...extra });
    expect(result).toMatchObject({ ok: false, status: 403, code });
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });

  const pem = client.certPem;
  it.each([
    ['base64 DER, as App Service forwards it', base64Der(client), {}, client],
    ['PEM', pem, {}, client],
    ['PEM whose newlines a proxy folded into spaces', pem.replace(/\n/g, ' '), {}, client],
    ['URL-encoded PEM (nginx $ssl_client_escaped_cert)', encodeURIComponent(pem), {}, client],
    ['base64 of the PEM text', Buffer.from(pem).toString('base64'), {}, client],
    ['a chain, using its first certificate as the leaf', pem + trustedCa.certPem, {}, client],
    ['a certificate of the second trusted CA', base64Der(clientOfSecondCa), {}, clientOfSecondCa],
    ['an allow-listed certificate, thumbprint in lowercase', base64Der(client), { allowedThumbprints: [client.thumbprint.toLowerCase()] }, client],
  ])('accepts %s', (_sentence, header, extra, expected) => {
    const result = authenticateClientCertificate(header, { ...policy, ...extra });
    expect(result).toMatchObject({ ok: true, thumbprint: expected.thumbprint });
  });

  it('names the subject and issuer of an accepted certificate', () => {
    expect(authenticateClientCertificate(base64Der(client), policy)).toMatchObject({
      ok: true,
      subject: 'CN=ops-automation',
      issuer: 'CN=Contoso Client CA',
    });
  });

  it('judges validity at the injected time, not the wall clock', () => {
    const later = { ...policy, now: daysFromNow(400) };
    expect(authenticateClientCertificate(base64Der(client), later)).toMatchObject({ ok: false, code: 'ClientCertificateExpired' });
  });
});

describe('parseClientCertSettings', () => {
  const caBase64 = Buffer.from(trustedCa.certPem).toString('base64');

  it.each([
    ['unset means off', {}, { mode: 'off', trustedCaPems: [] }],
    ['off ignores a broken CA setting', { CLIENT_CERT_AUTH: 'off', CLIENT_CERT_TRUSTED_CA: 'junk' }, { mode: 'off', trustedCaPems: [] }],
  ])('%s', (_sentence, env, expected) => {
    expect(parseClientCertSettings(env)).toEqual(expected);
  });

  it.each([
    ['PEM text', trustedCa.certPem],
    ['base64 of the PEM', caBase64],
    ['PEM with literal \\n sequences, as the portal stores it', trustedCa.certPem.replace(/\n/g, '\\n')],
  ])('reads the trusted CA as %s', (_sentence, value) => {
    const settings = parseClientCertSettings({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: value });
    expect(settings.mode).toBe('required');
    expect(settings.trustedCaPems).toHaveLength(1);
    expect(authenticateClientCertificate(base64Der(client), { trustedCaPems: settings.trustedCaPems, now }).ok).toBe(true);
  });

  it('reads several concatenated CAs', () => {
    const settings = parseClientCertSettings({ CLIENT_CERT_AUTH: 'Required', CLIENT_CERT_TRUSTED_CA: trustedCa.certPem + secondTrustedCa.certPem });
    expect(settings.trustedCaPems).toHaveLength(2);
  });

  it('normalises allow-list entries pasted from Windows (U+200E, spaces) and OpenSSL (colons)', () => {
    const spaced = `\u200e${client.thumbprint.toLowerCase().match(/../g)!.join(' ')}`;
    const colons = clientOfSecondCa.thumbprint.match(/../g)!.join(':');
    const settings = parseClientCertSettings({
      CLIENT_CERT_AUTH: 'required',
      CLIENT_CERT_TRUSTED_CA: trustedCa.certPem,
      CLIENT_CERT_ALLOWED_THUMBPRINTS: `${spaced}, ${colons},`,
    });
    expect(settings.allowedThumbprints).toEqual([client.thumbprint, clientOfSecondCa.thumbprint]);
  });

  it.each([
    ['an unknown mode', { CLIENT_CERT_AUTH: 'optional' }, /CLIENT_CERT_AUTH must be 'off' or 'required', got 'optional'/],
    ['required without a CA', { CLIENT_CERT_AUTH: 'required' }, /CLIENT_CERT_TRUSTED_CA is required when CLIENT_CERT_AUTH is 'required'/],
    ['a CA that is neither PEM nor base64', { CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: 'not a cert!' }, /CLIENT_CERT_TRUSTED_CA is neither PEM text nor base64 of it/],
    ['base64 that is not PEM', { CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: 'aGVsbG8=' }, /CLIENT_CERT_TRUSTED_CA is base64 but does not decode to PEM/],
    [
      'a PEM block that is not a certificate',
      { CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' },
      /CLIENT_CERT_TRUSTED_CA is not a readable X.509 certificate/,
    ],
    ['a client certificate instead of its CA', { CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: client.certPem }, /CLIENT_CERT_TRUSTED_CA \(CN=ops-automation\) is not a CA certificate/],
    [
      'a bad allow-list entry, alongside a missing CA (both reported)',
      { CLIENT_CERT_AUTH: 'required', CLIENT_CERT_ALLOWED_THUMBPRINTS: 'ABC123' },
      /2 problems[\s\S]*CLIENT_CERT_TRUSTED_CA is required[\s\S]*CLIENT_CERT_ALLOWED_THUMBPRINTS entry 'ABC123' is not a SHA-1 thumbprint/,
    ],
  ])('rejects %s with a ConfigError naming the setting', (_sentence, env, message) => {
    expect(() => parseClientCertSettings(env)).toThrow(ConfigError);
    expect(() => parseClientCertSettings(env)).toThrow(message);
  });

  it('never echoes a CA setting value into the error', () => {
    const value = 'c2VjcmV0LWxvb2tpbmctdmFsdWU=';
    expect(() => parseClientCertSettings({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: value })).not.toThrow(value);
  });
});

describe('withClientCertificateAuth', () => {
  const settings: ClientCertSettings = { mode: 'required', trustedCaPems: [trustedCa.certPem] };
  const request = (headers: Record<string, string>) => new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/certificates', headers });
  const context = () => new InvocationContext({ functionName: 'certificates', invocationId: 'inv-9', logHandler: () => undefined });

  it('answers 403 with a JSON reason and does not run the handler', async () => {
    let ran = false;
    const handler = withClientCertificateAuth(async () => {
      ran = true;
      return { status: 200 };
    }, { settings: () => settings });
    const init = await handler(request({ 'x-arr-clientcert': base64Der(fromOtherCa) }), context());
    const res = new HttpResponse(init as object);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      error: { code: 'ClientCertificateUntrusted', message: expect.stringMatching(/not signed by a trusted CA/), correlationId: 'inv-9' },
    });
    expect(ran).toBe(false);
  });

  it('runs the handler for an accepted certificate and tells it who called', async () => {
    const handler = withClientCertificateAuth(async (req) => ({ status: 200, jsonBody: { caller: clientCertificateOf(req)?.thumbprint } }), {
      settings: () => settings,
    });
    const res = await handler(request({ 'X-ARR-ClientCert': base64Der(client) }), context());
    expect(res).toMatchObject({ status: 200, jsonBody: { caller: client.thumbprint } });
  });

  it('lets every request through when the mode is off', async () => {
    const handler = withClientCertificateAuth(async () => ({ status: 204 }), { settings: () => ({ mode: 'off', trustedCaPems: [] }) });
    expect(await handler(request({}), context())).toEqual({ status: 204 });
  });
});

describe('clientCertSettingsFromConfig', () => {
  it('takes the settings loadConfig validated, and they authenticate the same way', () => {
    const sample = JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> };
    const config = loadConfig({
      ...sample.Values,
      CLIENT_CERT_AUTH: 'required',
      CLIENT_CERT_TRUSTED_CA: Buffer.from(trustedCa.certPem).toString('base64'),
      CLIENT_CERT_ALLOWED_THUMBPRINTS: client.thumbprint.toLowerCase(),
    });
    const settings = clientCertSettingsFromConfig(config);
    expect(settings).toMatchObject({ mode: 'required', allowedThumbprints: [client.thumbprint] });
    expect(authenticateClientCertificate(base64Der(client), { ...settings, now }).ok).toBe(true);
    expect(authenticateClientCertificate(base64Der(clientOfSecondCa), { ...settings, now })).toMatchObject({ code: 'ClientCertificateUntrusted' });
  });
});
