// Client-certificate authentication of the API on its production path: the settings as loadConfig reads them
// (readClientCertSettings, the one parser), the gate the composition root builds from them, the header as the
// Functions host hands it over, and the real HTTP handlers answering. The end-to-end run over real HTTP, with the
// caller written into records and telemetry, is test/functions/apiCallers.test.ts; the attacks are
// test/security/attacks/api-callers.ts.
import { readFileSync } from 'node:fs';
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientCertVerifier, formatDistinguishedName, parseDistinguishedName, readClientCertSettings, type ClientCertSettings } from '../../../src/core/clientCertPolicy.js';
import { loadConfig } from '../../../src/core/config.js';
import { createCertificateAuthority, issueCertificate, pemToDer } from '../../../src/crypto/index.js';
import { certificatesHandler, rotationHandler } from '../../../src/functions/app/handlers.js';
import { resetServices, services } from '../../../src/functions/app/services.js';
import { authenticateCaller, clientCertGate, MAX_CLIENT_CERT_HEADER_BYTES, readClientCertificateHeader } from '../../../src/functions/auth/clientCert.js';
import { CLIENT_AUTH, issue, makeCa, makeCertificate, SERVER_AUTH, type TestCertificate } from '../../helpers/callerPki.js';

const DAY = 86_400_000;
const now = new Date();
const days = (d: number): Date => new Date(now.getTime() + d * DAY);

// One PKI for the file: a root, an issuing intermediate under it, callers under both.
const root = makeCa('Contoso Root CA', { pathLength: 1 });
const issuing = issue(root, [['O', 'Contoso'], ['CN', 'Contoso Issuing CA']], { ca: true, pathLength: 0 });
const opsCli = issue(issuing, [['O', 'Contoso'], ['CN', 'ops-cli']]);
const direct = issue(root, [['O', 'Contoso'], ['CN', 'direct-caller']]);
const otherRoot = makeCa('Fabrikam Root CA');

const required = (extra: Record<string, string> = {}): Record<string, string> => ({
  CLIENT_CERT_AUTH: 'required',
  CLIENT_CERT_TRUSTED_CA: root.pem,
  CLIENT_CERT_INTERMEDIATES: issuing.pem,
  ...extra,
});
const settingsOf = (env: Record<string, string>): ClientCertSettings => {
  const { settings, problems } = readClientCertSettings(env);
  expect(problems).toEqual([]);
  return settings;
};
const request = (headers: Record<string, string> = {}, url = 'http://127.0.0.1/api/certificates'): HttpRequest => new HttpRequest({ method: 'GET', url, headers });
const authenticate = (env: Record<string, string>, header: string | undefined, at = now) =>
  authenticateCaller(request(header === undefined ? {} : { 'x-arr-clientcert': header }), clientCertGate(settingsOf(env)), at);

describe('readClientCertSettings: the one parser of the CLIENT_CERT_ settings', () => {
  it.each([
    ['unset means off', {}],
    ['off reads nothing else, not even a broken CA', { CLIENT_CERT_AUTH: 'off', CLIENT_CERT_TRUSTED_CA: 'junk', CLIENT_CERT_ALLOWED_SUBJECTS: '???' }],
    ['the mode is case-insensitive', { CLIENT_CERT_AUTH: ' Off ' }],
  ])('%s', (_sentence, env) => {
    expect(readClientCertSettings(env)).toEqual({ settings: { mode: 'off' }, problems: [] });
  });

  it.each([
    ['PEM text', root.pem],
    ['base64 of the PEM', Buffer.from(root.pem).toString('base64')],
    ['PEM with literal \\n sequences, as the portal stores it', root.pem.replace(/\n/g, '\\n')],
    ['the same CA twice (kept once)', root.pem + root.pem],
  ])('reads the trust anchor as %s', (_sentence, value) => {
    const settings = settingsOf({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: value });
    expect(settings).toMatchObject({ mode: 'required', trustedCaPems: [expect.stringContaining('BEGIN CERTIFICATE')], intermediatePems: [] });
  });

  it('normalises thumbprints pasted from Windows (U+200E, spaces), OpenSSL (colons) or in lowercase', () => {
    const spaced = `\u200e${opsCli.thumbprint.toLowerCase().match(/../g)!.join(' ')}`;
    const colons = direct.thumbprint.match(/../g)!.join(':');
    expect(settingsOf(required({ CLIENT_CERT_ALLOWED_THUMBPRINTS: `${spaced}, ${colons},` }))).toMatchObject({
      allowedThumbprints: [opsCli.thumbprint, direct.thumbprint],
    });
  });

  it.each([
    ['one entry', 'CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso', ['CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso']],
    ['spaces and lowercase or long attribute types', ' cn = ops-cli , organizationName=Contoso|CN=Contoso Issuing CA, o=Contoso ', ['CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso']],
    ['dotted OIDs and the Windows OID. prefix', '2.5.4.3=ops-cli,OID.2.5.4.10=Contoso | CN=X', ['CN=ops-cli,O=Contoso | CN=X']],
    ['escaped separators inside values', 'CN=Smith\\, John\\; ops\\|cli | CN=A\\+B', ['CN=Smith\\, John\\; ops\\|cli | CN=A\\+B']],
    ['several entries, by ";" and by new lines (also literal \\n)', 'CN=a | CN=ca;CN=b | CN=ca\nCN=c | CN=ca\\nCN=d | CN=ca', ['CN=a | CN=ca', 'CN=b | CN=ca', 'CN=c | CN=ca', 'CN=d | CN=ca']],
    ['a multi-valued RDN', 'CN=ops+UID=42,O=Contoso | CN=ca', ['CN=ops+UID=42,O=Contoso | CN=ca']],
  ])('reads CLIENT_CERT_ALLOWED_SUBJECTS with %s', (_sentence, value, texts) => {
    const settings = settingsOf(required({ CLIENT_CERT_ALLOWED_SUBJECTS: value }));
    expect(settings.mode === 'required' ? settings.allowedNames?.map((n) => n.text) : undefined).toEqual(texts);
  });

  it('keeps RFC 4514 order: the first RDN written is the last one in the certificate', () => {
    const rdns = parseDistinguishedName('CN=ops-cli,O=Contoso,C=NL');
    expect(rdns.map((rdn) => rdn[0]!.type)).toEqual(['2.5.4.6', '2.5.4.10', '2.5.4.3']);
    expect(formatDistinguishedName(rdns)).toBe('CN=ops-cli,O=Contoso,C=NL');
  });

  const leaf = issueCertificate(createCertificateAuthority({ commonName: 'RSA Issuer' }), { commonName: 'a-leaf', usage: 'client' });
  const noKeyCertSign = makeCertificate({ subject: 'CA without keyCertSign', ca: true, keyUsage: ['cRLSign'] });
  const noKeyUsage = makeCertificate({ subject: 'CA without keyUsage', ca: true, keyUsage: null });
  const noBasicConstraints = makeCertificate({ subject: 'no basicConstraints', keyUsage: ['keyCertSign'], extendedKeyUsage: null });
  it.each([
    ['an unknown mode', { CLIENT_CERT_AUTH: 'optional' }, /^CLIENT_CERT_AUTH must be one of off, required, got 'optional'$/],
    ['required without an anchor', { CLIENT_CERT_AUTH: 'required' }, /^CLIENT_CERT_TRUSTED_CA is required when CLIENT_CERT_AUTH is 'required'/],
    ['an anchor that is neither PEM nor base64 of it', required({ CLIENT_CERT_TRUSTED_CA: 'not a cert!' }), /^CLIENT_CERT_TRUSTED_CA must be PEM certificates/],
    ['base64 that is not PEM', required({ CLIENT_CERT_TRUSTED_CA: 'aGVsbG8=' }), /^CLIENT_CERT_TRUSTED_CA must be PEM certificates/],
    ['a PEM block that is not a certificate', required({ CLIENT_CERT_TRUSTED_CA: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }), /^CLIENT_CERT_TRUSTED_CA is not a readable X.509 certificate$/],
    ['a leaf (CA:FALSE) as the anchor', required({ CLIENT_CERT_TRUSTED_CA: leaf.certPem }), /^CLIENT_CERT_TRUSTED_CA \(CN=a-leaf\) is not a CA certificate \(basicConstraints CA:FALSE\)/],
    ['a leaf next to a real CA (the whole setting is refused)', required({ CLIENT_CERT_TRUSTED_CA: root.pem + opsCli.pem }), /^CLIENT_CERT_TRUSTED_CA certificate 2 of 2 \(CN=ops-cli,O=Contoso\) is not a CA certificate/],
    ['a CA without keyCertSign as the anchor', required({ CLIENT_CERT_TRUSTED_CA: noKeyCertSign.pem }), /^CLIENT_CERT_TRUSTED_CA \(CN=CA without keyCertSign\) may not sign certificates \(keyUsage lacks keyCertSign\)/],
    ['a CA without a keyUsage extension as the anchor', required({ CLIENT_CERT_TRUSTED_CA: noKeyUsage.pem }), /^CLIENT_CERT_TRUSTED_CA \(CN=CA without keyUsage\) has no keyUsage extension/],
    ['a certificate without basicConstraints as the anchor', required({ CLIENT_CERT_TRUSTED_CA: noBasicConstraints.pem }), /^CLIENT_CERT_TRUSTED_CA \(CN=no basicConstraints\) is not a CA certificate \(it has no basicConstraints CA:TRUE\)/],
    ['a leaf as an intermediate', required({ CLIENT_CERT_INTERMEDIATES: opsCli.pem }), /^CLIENT_CERT_INTERMEDIATES \(CN=ops-cli,O=Contoso\) is not a CA certificate/],
    ['a thumbprint of the wrong length', required({ CLIENT_CERT_ALLOWED_THUMBPRINTS: 'ABC123' }), /^CLIENT_CERT_ALLOWED_THUMBPRINTS entry 'ABC123' is not a SHA-1 thumbprint/],
    ['a subject entry without an issuer', required({ CLIENT_CERT_ALLOWED_SUBJECTS: 'CN=ops-cli' }), /^CLIENT_CERT_ALLOWED_SUBJECTS entry 'CN=ops-cli' must be '<subject> \| <issuer>'/],
    ['a subject entry with an unknown attribute type', required({ CLIENT_CERT_ALLOWED_SUBJECTS: 'XX=1 | CN=ca' }), /^CLIENT_CERT_ALLOWED_SUBJECTS entry 'XX=1 \| CN=ca': unknown attribute type 'XX'/],
    ['a subject entry that is not TYPE=value', required({ CLIENT_CERT_ALLOWED_SUBJECTS: 'ops-cli | CN=ca' }), /^CLIENT_CERT_ALLOWED_SUBJECTS entry 'ops-cli \| CN=ca': 'ops-cli' is not TYPE=value/],
    ['a subject entry with an empty value', required({ CLIENT_CERT_ALLOWED_SUBJECTS: 'CN= | CN=ca' }), /an attribute without a value/],
  ])('refuses %s, naming the setting', (_sentence, env, problem) => {
    const { problems } = readClientCertSettings(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(problem);
  });

  it('reports every problem at once and never echoes certificate text', () => {
    const value = 'c2VjcmV0LWxvb2tpbmctdmFsdWU=';
    const { problems } = readClientCertSettings({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: value, CLIENT_CERT_ALLOWED_THUMBPRINTS: 'x' });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toContain(value);
  });

  it('is what loadConfig runs at start-up: the same settings, the same problems', () => {
    const sample = JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> };
    const env = required({ CLIENT_CERT_ALLOWED_THUMBPRINTS: opsCli.thumbprint.toLowerCase() });
    expect(loadConfig({ ...sample.Values, ...env }).clientCert).toEqual(readClientCertSettings(env).settings);
    expect(() => loadConfig({ ...sample.Values, ...required({ CLIENT_CERT_TRUSTED_CA: opsCli.pem }) })).toThrow(/CLIENT_CERT_TRUSTED_CA \(CN=ops-cli,O=Contoso\) is not a CA certificate/);
  });
});

describe('readClientCertificateHeader: exactly one certificate', () => {
  const pem = opsCli.pem;
  it.each([
    ['base64 DER, as App Service forwards it', opsCli.header],
    ['base64url DER', opsCli.der.toString('base64url')],
    ['PEM whose line breaks a front end folded into spaces', pem.trim().replace(/\n/g, ' ')],
    ['URL-encoded PEM (nginx $ssl_client_escaped_cert)', encodeURIComponent(pem)],
    ['base64 of the PEM text', Buffer.from(pem).toString('base64')],
  ])('reads %s', (_sentence, value) => {
    const reading = readClientCertificateHeader(value);
    expect(reading.ok && reading.der.equals(opsCli.der)).toBe(true);
  });

  it.each([
    ['no header', undefined, 'ClientCertificateMissing', /missing or empty/],
    ['an empty header', '  ', 'ClientCertificateMissing', /missing or empty/],
    ['a header repeated (Node joins repeats with ", ")', `${opsCli.header}, ${direct.header}`, 'ClientCertificateHeaderRepeated', /more than once/],
    ['a header repeated (the Functions host joins repeats with ",")', `${opsCli.header},${direct.header}`, 'ClientCertificateHeaderRepeated', /more than once/],
    ['a repeated one-line PEM header', `${pem.trim().replace(/\n/g, ' ')}, ${direct.pem.trim().replace(/\n/g, ' ')}`, 'ClientCertificateHeaderRepeated', /more than once/],
    ['two PEM blocks in one header', (pem + issuing.pem).replace(/\n/g, ' '), 'ClientCertificateMultiple', /holds 2 PEM blocks/],
    ['two DER certificates joined', Buffer.concat([opsCli.der, issuing.der]).toString('base64'), 'ClientCertificateMultiple', /more than one certificate/],
    ['a valid DER followed by extra bytes', Buffer.concat([opsCli.der, Buffer.from('extra')]).toString('base64'), 'ClientCertificateTrailingBytes', /5 byte\(s\) after the certificate/],
    ['a valid DER followed by one zero byte', Buffer.concat([opsCli.der, Buffer.alloc(1)]).toString('base64'), 'ClientCertificateTrailingBytes', /1 byte\(s\) after/],
    ['a PEM block with text after it', `${pem.trim().replace(/\n/g, ' ')} trailing`, 'ClientCertificateUnreadable', /nothing around it/],
    ['a private key instead of a certificate', '-----BEGIN PRIVATE KEY----- AAAA -----END PRIVATE KEY-----', 'ClientCertificateUnreadable', /not one PEM CERTIFICATE block/],
    ['garbage text', 'not a certificate!!', 'ClientCertificateUnreadable', /neither base64 DER nor PEM/],
    ['base64 that is not DER', Buffer.from('hello world').toString('base64'), 'ClientCertificateUnreadable', /not a DER certificate/],
    ['a truncated certificate', opsCli.der.subarray(0, 100).toString('base64'), 'ClientCertificateUnreadable', /not a DER certificate/],
    ['broken URL encoding', '%E0%A4%A', 'ClientCertificateUnreadable', /not valid URL-encoded/],
    ['a header over the size bound', 'A'.repeat(MAX_CLIENT_CERT_HEADER_BYTES + 1), 'ClientCertificateHeaderTooLarge', /exceeds 16384 bytes/],
  ])('refuses %s', (_sentence, value, code, reason) => {
    const reading = readClientCertificateHeader(value);
    expect(reading).toMatchObject({ ok: false, code });
    expect(reading.ok ? '' : reading.reason).toMatch(reason);
  });
});

describe('authenticateCaller: the chain, the dates, the allow-lists', () => {
  const expired = issue(issuing, 'expired', { notBefore: days(-30), notAfter: days(-1) });
  const notYetValid = issue(issuing, 'future', { notBefore: days(1), notAfter: days(30) });
  const fromOtherRoot = issue(otherRoot, [['O', 'Contoso'], ['CN', 'ops-cli']]);
  // The issuing CA's names, another key: a certificate it signs names the right issuer.
  const forgedIssuing = makeCertificate({ subject: issuing.subject, issuerName: root.subject, ca: true });
  const forged = issue(forgedIssuing, [['O', 'Contoso'], ['CN', 'ops-cli']]);
  const signedByLeaf = issue(opsCli, 'minted-by-a-leaf');
  const serverOnly = issue(issuing, 'web', { extendedKeyUsage: [SERVER_AUTH] });
  const keyEnciphermentOnly = issue(issuing, 'no-signature', { keyUsage: ['keyEncipherment'] });
  const selfSigned = makeCertificate({ subject: [['O', 'Contoso'], ['CN', 'ops-cli']], extendedKeyUsage: [CLIENT_AUTH] });
  // pathLen: root allows one CA below it; a second intermediate under the issuing CA (pathLen 0) breaks it.
  const deeper = issue(issuing, 'Deeper CA', { ca: true });
  const underDeeper = issue(deeper, 'too-deep');
  const expiredIntermediate = issue(root, 'Old Issuing CA', { ca: true, notBefore: days(-800), notAfter: days(-1) });
  const fromExpiredIntermediate = issue(expiredIntermediate, 'orphan', { notBefore: days(-30), notAfter: days(30) });
  const rsaCa = createCertificateAuthority({ commonName: 'RSA Client CA' });
  const rsaCaller = issueCertificate(rsaCa, { commonName: 'rsa-caller', usage: 'client' });
  const allowedName = 'CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso';

  it.each([
    ['no certificate', {}, undefined, 401, 'ClientCertificateMissing', /client certificate is required/],
    ['an expired certificate', {}, expired.header, 401, 'ClientCertificateExpired', /expired at /],
    ['a certificate not yet valid', {}, notYetValid.header, 401, 'ClientCertificateNotYetValid', /is not valid before /],
    ['a certificate of an untrusted CA', {}, fromOtherRoot.header, 401, 'ClientCertificateUntrusted', /its issuer CN=Fabrikam Root CA,O=Contoso is none of CLIENT_CERT_TRUSTED_CA or CLIENT_CERT_INTERMEDIATES/],
    ['a forged issuer: the right names, another key', {}, forged.header, 401, 'ClientCertificateUntrusted', /names CN=Contoso Issuing CA,O=Contoso as its issuer, but the signature does not verify/],
    ['a certificate signed with a trusted leaf\'s key', {}, signedByLeaf.header, 401, 'ClientCertificateUntrusted', /its issuer CN=ops-cli,O=Contoso is none of/],
    ['a self-signed certificate with an allowed subject', { CLIENT_CERT_ALLOWED_SUBJECTS: allowedName }, selfSigned.header, 401, 'ClientCertificateUntrusted', /is none of/],
    ['a CA certificate itself', {}, issuing.header, 401, 'ClientCertificateIsCa', /is a CA certificate/],
    ['a server-only certificate', {}, serverOnly.header, 401, 'ClientCertificateWrongUsage', /lacks clientAuth/],
    ['a certificate whose key may not sign', {}, keyEnciphermentOnly.header, 401, 'ClientCertificateWrongUsage', /lacks digitalSignature/],
    ['a chain longer than a CA\'s pathLen allows', required({ CLIENT_CERT_INTERMEDIATES: issuing.pem + deeper.pem }), underDeeper.header, 401, 'ClientCertificatePathTooLong', /pathLen 0 allows 0 CA certificate\(s\) below it, not 1/],
    ['a certificate under an expired intermediate', required({ CLIENT_CERT_INTERMEDIATES: expiredIntermediate.pem }), fromExpiredIntermediate.header, 401, 'ClientCertificateIssuerNotValid', /Old Issuing CA, which is outside its validity period/],
    ['a certificate under an intermediate that is not configured', { CLIENT_CERT_INTERMEDIATES: '' }, opsCli.header, 401, 'ClientCertificateUntrusted', /its issuer CN=Contoso Issuing CA,O=Contoso is none of CLIENT_CERT_TRUSTED_CA$/],
    ['a trusted certificate not on the thumbprint allow-list', { CLIENT_CERT_ALLOWED_THUMBPRINTS: direct.thumbprint }, opsCli.header, 403, 'ClientCertificateNotAllowed', /neither its thumbprint/],
    ['a trusted certificate whose subject is allowed under another issuer', { CLIENT_CERT_ALLOWED_SUBJECTS: 'CN=ops-cli,O=Contoso | CN=Contoso Root CA,O=Contoso' }, opsCli.header, 403, 'ClientCertificateNotAllowed', /nor its subject and issuer/],
    ['a trusted certificate matching an allowed subject only in reversed RDN order', { CLIENT_CERT_ALLOWED_SUBJECTS: 'O=Contoso,CN=ops-cli | CN=Contoso Issuing CA,O=Contoso' }, opsCli.header, 403, 'ClientCertificateNotAllowed', /not allowed|neither/],
    ['a trusted certificate matching an allowed subject only without case', { CLIENT_CERT_ALLOWED_SUBJECTS: 'CN=OPS-CLI,O=Contoso | CN=Contoso Issuing CA,O=Contoso' }, opsCli.header, 403, 'ClientCertificateNotAllowed', /neither/],
    ['two certificates joined', {}, Buffer.concat([opsCli.der, issuing.der]).toString('base64'), 400, 'ClientCertificateMultiple', /more than one certificate/],
    ['a repeated header', {}, `${opsCli.header}, ${opsCli.header}`, 400, 'ClientCertificateHeaderRepeated', /more than once/],
  ])('refuses %s (%#)', (_sentence, extra, header, status, code, reason) => {
    const result = authenticate(required(extra), header);
    expect(result).toMatchObject({ ok: false, status, code });
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });

  it.each([
    ['a certificate of the issuing CA, chained through the configured intermediate', {}, opsCli],
    ['a certificate issued by the anchor directly', {}, direct],
    ['an allowed thumbprint (lowercase, with colons)', { CLIENT_CERT_ALLOWED_THUMBPRINTS: opsCli.thumbprint.toLowerCase().match(/../g)!.join(':') }, opsCli],
    ['an allowed subject and issuer (RFC 4514 order)', { CLIENT_CERT_ALLOWED_SUBJECTS: allowedName }, opsCli],
    ['either allow-list (thumbprint of another, subject of this one)', { CLIENT_CERT_ALLOWED_THUMBPRINTS: direct.thumbprint, CLIENT_CERT_ALLOWED_SUBJECTS: allowedName }, opsCli],
  ])('accepts %s and names the caller', (_sentence, extra, expected: TestCertificate) => {
    expect(authenticate(required(extra), expected.header)).toMatchObject({ ok: true, caller: { via: 'clientCertificate', thumbprint: expected.thumbprint } });
  });

  it('names the caller by RFC 4514 subject and issuer, as the allow-list takes them', () => {
    expect(authenticate(required(), opsCli.header)).toEqual({
      ok: true,
      caller: { via: 'clientCertificate', subject: 'CN=ops-cli,O=Contoso', issuer: 'CN=Contoso Issuing CA,O=Contoso', thumbprint: opsCli.thumbprint },
    });
  });

  it('keeps accepting the renewed certificate of an allowed subject, where a thumbprint allow-list would not', () => {
    const renewed = issue(issuing, [['O', 'Contoso'], ['CN', 'ops-cli']]);
    expect(authenticate(required({ CLIENT_CERT_ALLOWED_SUBJECTS: allowedName }), renewed.header).ok).toBe(true);
    expect(authenticate(required({ CLIENT_CERT_ALLOWED_THUMBPRINTS: opsCli.thumbprint }), renewed.header)).toMatchObject({ status: 403 });
  });

  it('verifies RSA chains from the project\'s own issuer too', () => {
    expect(authenticate({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: rsaCa.certPem }, pemToDer(rsaCaller.certPem).toString('base64'))).toMatchObject({
      ok: true,
      caller: { subject: 'CN=rsa-caller', issuer: 'CN=RSA Client CA' },
    });
  });

  it('judges dates at the injected time, not the wall clock', () => {
    expect(authenticate(required(), opsCli.header, days(400))).toMatchObject({ ok: false, code: 'ClientCertificateExpired' });
  });

  it('with the gate off, the function key is the caller and the header is not read', () => {
    expect(authenticateCaller(request({ 'x-arr-clientcert': 'garbage, garbage' }), clientCertGate({ mode: 'off' }), now)).toEqual({ ok: true, caller: { via: 'functionKey' } });
  });

  it('a verifier never throws, whatever DER it is given', () => {
    const verifier = new ClientCertVerifier(settingsOf(required()) as Extract<ClientCertSettings, { mode: 'required' }>);
    for (const der of [Buffer.alloc(0), Buffer.from([0x30, 0x80]), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]), opsCli.der.subarray(0, opsCli.der.length - 1)]) {
      expect(verifier.verify(der, now)).toMatchObject({ ok: false, code: 'ClientCertificateUnreadable' });
    }
  });
});

describe('the real API handlers with CLIENT_CERT_AUTH=required', () => {
  const sample = JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> };
  const context = () => new InvocationContext({ functionName: 'certificates', invocationId: 'inv-9', logHandler: () => undefined });
  const useSettings = (env: Record<string, string>): void => {
    // Loopback-only endpoints: a refused request must never get as far as a call.
    for (const [k, v] of Object.entries({ ...sample.Values, ARM_ENDPOINT: 'https://127.0.0.1:9', ...env })) vi.stubEnv(k, v);
    resetServices();
  };
  afterEach(() => {
    vi.unstubAllEnvs();
    resetServices();
  });

  it.each([
    ['no certificate', {}, 401, 'ClientCertificateMissing'],
    ['a certificate of another CA', { 'x-arr-clientcert': issue(otherRoot, 'stranger').header }, 401, 'ClientCertificateUntrusted'],
    ['a repeated header', { 'x-arr-clientcert': `${opsCli.header}, ${opsCli.header}` }, 400, 'ClientCertificateHeaderRepeated'],
    ['a certificate with trailing bytes', { 'x-arr-clientcert': Buffer.concat([opsCli.der, Buffer.from([0])]).toString('base64') }, 400, 'ClientCertificateTrailingBytes'],
    ['a trusted certificate off the allow-list', { 'x-arr-clientcert': direct.header }, 403, 'ClientCertificateNotAllowed'],
  ])('answers %s with %i and a JSON reason, before any work', async (_sentence, headers, status, code) => {
    useSettings(required({ CLIENT_CERT_ALLOWED_SUBJECTS: 'CN=ops-cli,O=Contoso | CN=Contoso Issuing CA,O=Contoso' }));
    const response = new HttpResponse((await certificatesHandler(request(headers), context())) as object);
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ error: { code, message: expect.any(String), correlationId: 'inv-9' } });
    if (status === 401) expect(response.headers.get('www-authenticate')).toMatch(/X-ARR-ClientCert/);
  });

  it('answers 503 naming the setting while a leaf is configured as the anchor', async () => {
    useSettings(required({ CLIENT_CERT_TRUSTED_CA: opsCli.pem }));
    const response = new HttpResponse((await rotationHandler(request({ 'x-arr-clientcert': issue(opsCli, 'minted').header }, 'http://127.0.0.1/api/rotations/x'), context())) as object);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'ConfigurationError', message: expect.stringMatching(/CLIENT_CERT_TRUSTED_CA \(CN=ops-cli,O=Contoso\) is not a CA certificate/) } });
  });

  it('starts with CLIENT_CERT_AUTH=off even when the other CLIENT_CERT_ settings are unreadable', () => {
    useSettings({ CLIENT_CERT_AUTH: 'off', CLIENT_CERT_TRUSTED_CA: 'garbage', CLIENT_CERT_INTERMEDIATES: '-----BEGIN CERTIFICATE-----', CLIENT_CERT_ALLOWED_SUBJECTS: '|||' });
    expect(services().clientCert).toEqual({ mode: 'off' });
  });
});
