// The sandbox's Key Vault surface against the real CertificateClient and SecretClient over HTTPS.
import { createHash } from 'node:crypto';
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { CertificateFormatError, readKeyVaultSecret, readPemBundle, readPfx, x5tToThumbprint } from '../../src/crypto/index.js';
import { certificateClient, rawRequest, secretClient } from './sdk-clients.js';

const SUB = 'bbbbbbbb-1111-4222-8333-000000000001';
const DAY = 86_400_000;

const scenario: Scenario = {
  name: 'keyvault-test',
  tenantId: '11112222-3333-4444-5555-666677778888',
  keyVaultPageSize: 2,
  cas: [{ name: 'ca-old' }, { name: 'ca-new' }],
  vaults: [
    {
      name: 'kv-t',
      subscriptionId: SUB,
      resourceGroup: 'rg',
      certificates: [
        {
          name: 'pfx-cert',
          versions: [
            { issuer: 'ca-old', notAfterDays: 10 },
            { issuer: 'ca-old', notAfterDays: 100 },
            { issuer: 'ca-new', notAfterDays: 365 },
          ],
        },
        { name: 'pem-cert', contentType: 'application/x-pem-file', versions: [{ issuer: 'ca-new', notAfterDays: 200 }] },
        { name: 'no-key', versions: [{ issuer: 'ca-new', notAfterDays: 200, defect: 'noPrivateKey' }] },
        { name: 'no-key-pem', contentType: 'application/x-pem-file', versions: [{ issuer: 'ca-new', notAfterDays: 200, defect: 'noPrivateKey' }] },
        { name: 'mismatch', versions: [{ issuer: 'ca-new', notAfterDays: 200, defect: 'keyMismatch' }] },
        { name: 'cert-first', contentType: 'application/x-pem-file', versions: [{ issuer: 'ca-new', notAfterDays: 200, defect: 'pemCertificateFirst' }] },
        { name: 'corrupt', versions: [{ issuer: 'ca-new', notAfterDays: 200, defect: 'corrupt' }] },
        { name: 'wrong-type', versions: [{ issuer: 'ca-new', notAfterDays: 200, defect: 'wrongContentType' }] },
        { name: 'disabled-latest', versions: [{ issuer: 'ca-old', notAfterDays: 20 }, { issuer: 'ca-new', notAfterDays: 300, enabled: false }] },
        { name: 'expired', versions: [{ issuer: 'ca-new', notBeforeDays: -100, notAfterDays: -1 }] },
        { name: 'not-yet-valid', versions: [{ issuer: 'ca-new', notBeforeDays: 5, notAfterDays: 300 }] },
        { name: 'denied', forbidden: true, versions: [{ issuer: 'ca-new', notAfterDays: 300 }] },
      ],
    },
    { name: 'kv-locked', subscriptionId: SUB, resourceGroup: 'rg', forbidden: true, certificates: [{ name: 'any', versions: [{ issuer: 'ca-new', notAfterDays: 300 }] }] },
  ],
  subscriptions: [{ id: SUB, resourceGroups: [{ name: 'rg', location: 'West Europe' }] }],
};

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox(scenario, { simulateApps: false });
});
afterAll(async () => {
  await sb?.stop();
});

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex').toUpperCase();

async function failure(p: Promise<unknown>): Promise<{ statusCode?: number; code?: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RestError);
  return { statusCode: (err as RestError).statusCode, code: (err as RestError).code };
}

describe('certificates', () => {
  it('GET /certificates/{name}/ answers the latest version, whose x5t is the SHA-1 of its cer', async () => {
    const cert = await certificateClient(sb, 'kv-t').getCertificate('pfx-cert');
    const versions = sb.control.keyVaultVersions('kv-t', 'pfx-cert');
    expect(cert.properties.version).toBe(versions[2]!.version);
    expect(hex(cert.properties.x509Thumbprint)).toBe(versions[2]!.thumbprint);
    expect(createHash('sha1').update(cert.cer!).digest('hex').toUpperCase()).toBe(versions[2]!.thumbprint);
    expect(cert.properties.expiresOn?.toISOString()).toBe(new Date(Math.floor(Date.parse(versions[2]!.notAfter) / 1000) * 1000).toISOString());
    expect(cert.properties.vaultUrl).toBe(sb.vaultUrl('kv-t'));
    expect(cert.policy?.contentType).toBe('application/x-pkcs12');
    // The trailing slash form is what the SDK sends for "latest".
    expect(sb.control.requests({ surface: 'kv', operation: 'GetCertificate' }).at(-1)?.path).toBe('/certificates/pfx-cert/');
  });

  it('GET /certificates/{name}/{version} answers that version', async () => {
    const v0 = sb.control.keyVaultVersions('kv-t', 'pfx-cert')[0]!;
    const cert = await certificateClient(sb, 'kv-t').getCertificateVersion('pfx-cert', v0.version);
    expect(cert.properties.version).toBe(v0.version);
    expect(hex(cert.properties.x509Thumbprint)).toBe(v0.thumbprint);
  });

  it('lists every version across nextLink pages', async () => {
    const before = sb.control.requests({ operation: 'GetCertificateVersions' }).length;
    const seen: string[] = [];
    for await (const p of certificateClient(sb, 'kv-t').listPropertiesOfCertificateVersions('pfx-cert')) seen.push(p.version!);
    expect(seen).toEqual(sb.control.keyVaultVersions('kv-t', 'pfx-cert').map((v) => v.version));
    // Three versions at two per page.
    expect(sb.control.requests({ operation: 'GetCertificateVersions' }).length - before).toBe(2);
  });

  it('serves the policy with the secret content type', async () => {
    const policy = await certificateClient(sb, 'kv-t').getCertificatePolicy('pem-cert');
    expect(policy.contentType).toBe('application/x-pem-file');
  });

  it.each([
    ['an expired version', 'expired', (nbf: Date, exp: Date) => exp.getTime() < Date.now() && nbf.getTime() < exp.getTime()],
    ['a version that is not yet valid', 'not-yet-valid', (nbf: Date) => nbf.getTime() > Date.now() + 4 * DAY],
  ])('reports the validity of %s in its attributes', async (_label, name, check) => {
    const cert = await certificateClient(sb, 'kv-t').getCertificate(name);
    expect(check(cert.properties.notBefore!, cert.properties.expiresOn!)).toBe(true);
  });

  it('answers 404 CertificateNotFound for a certificate that does not exist', async () => {
    expect(await failure(certificateClient(sb, 'kv-t').getCertificate('nope'))).toEqual({ statusCode: 404, code: 'CertificateNotFound' });
  });
});

describe('certificate secrets', () => {
  it('a PFX secret opens with an EMPTY password and its leaf is the certificate named by x5t', async () => {
    const cert = await certificateClient(sb, 'kv-t').getCertificate('pfx-cert');
    const secret = await secretClient(sb, 'kv-t').getSecret('pfx-cert', { version: cert.properties.version! });
    expect(secret.properties.contentType).toBe('application/x-pkcs12');
    expect(secret.properties.managed).toBe(true);
    expect(secret.properties.certificateKeyId).toBe(`${sb.vaultUrl('kv-t')}/keys/pfx-cert/${cert.properties.version}`);
    const bundle = readPfx(Buffer.from(secret.value!, 'base64'), '');
    const x5t = Buffer.from(cert.properties.x509Thumbprint!).toString('base64url');
    expect(bundle.thumbprint).toBe(x5tToThumbprint(x5t));
    expect(bundle.chainPems).toHaveLength(1);
  });

  it('GET /secrets/{name}/ answers the latest version', async () => {
    const secret = await secretClient(sb, 'kv-t').getSecret('pfx-cert');
    expect(secret.properties.version).toBe(sb.control.keyVaultVersions('kv-t', 'pfx-cert')[2]!.version);
  });

  it('a PEM secret has the private key first, then the certificate', async () => {
    const secret = await secretClient(sb, 'kv-t').getSecret('pem-cert');
    expect(secret.properties.contentType).toBe('application/x-pem-file');
    expect(secret.value!.startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect(readPemBundle(secret.value!).thumbprint).toBe(sb.control.thumbprint('kv-t/pem-cert/0'));
  });

  it.each([
    ['a PFX without private key', 'no-key', 'NoPrivateKey'],
    ['a PEM without private key', 'no-key-pem', 'NoPrivateKey'],
    ['a key that does not match the certificate', 'mismatch', 'KeyMismatch'],
    ['a corrupt PFX', 'corrupt', 'Corrupt'],
    ['a secret with a wrong content type', 'wrong-type', 'UnsupportedContentType'],
  ])('serves %s, which the project reader refuses', async (_label, name, code) => {
    const secret = await secretClient(sb, 'kv-t').getSecret(name);
    let err: unknown;
    try {
      readKeyVaultSecret(secret.properties.contentType ?? '', secret.value ?? '');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CertificateFormatError);
    expect((err as CertificateFormatError).code).toBe(code);
  });

  it('serves a PEM with the certificate before the key when asked to', async () => {
    const value = (await secretClient(sb, 'kv-t').getSecret('cert-first')).value!;
    expect(value.startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
    expect(value.indexOf('-----BEGIN PRIVATE KEY-----')).toBeGreaterThan(0);
  });

  it('answers 403 for the secret of a disabled version, while the certificate shows enabled: false', async () => {
    const cert = await certificateClient(sb, 'kv-t').getCertificate('disabled-latest');
    expect(cert.properties.enabled).toBe(false);
    expect(await failure(secretClient(sb, 'kv-t').getSecret('disabled-latest'))).toEqual({ statusCode: 403, code: 'Forbidden' });
  });

  it('answers 404 SecretNotFound for a secret that does not exist', async () => {
    expect(await failure(secretClient(sb, 'kv-t').getSecret('nope'))).toEqual({ statusCode: 404, code: 'SecretNotFound' });
  });
});

describe('access', () => {
  it.each([
    ['a certificate the caller may not read', 'kv-t', 'denied'],
    ['a vault the caller may not read', 'kv-locked', 'any'],
  ])('answers 403 Forbidden for %s', async (_label, vault, name) => {
    expect(await failure(certificateClient(sb, vault).getCertificate(name))).toEqual({ statusCode: 403, code: 'Forbidden' });
    expect(await failure(secretClient(sb, vault).getSecret(name))).toEqual({ statusCode: 403, code: 'Forbidden' });
  });

  it('challenges a request without a token (no body, nothing served), and the SDK then retries with its token', async () => {
    const since = sb.control.requests().at(-1)?.seq ?? 0;
    await secretClient(sb, 'kv-t').getSecret('pem-cert');
    const log = sb.control.requests({ since, surface: 'kv' });
    expect(log.map((e) => [e.status, e.authorized, e.hadBody, e.operation])).toEqual([
      [401, false, false, undefined],
      [200, true, false, 'GetSecret'],
    ]);
  });

  it('the challenge names the tenant and the Key Vault resource, and the 401 carries no secret', async () => {
    const res = await rawRequest(sb, `${sb.vaultUrl('kv-t')}/secrets/pem-cert/?api-version=2025-07-01`, { token: null });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer authorization="https://login.microsoftonline.com/11112222-3333-4444-5555-666677778888", resource="https://vault.azure.net"',
    );
    expect(res.json).toEqual({ error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token.' } });
  });

  it.each([
    ['without api-version', ''],
    ['with an unknown api-version', '?api-version=1.0'],
  ])('answers 400 BadParameter %s', async (_label, query) => {
    const res = await rawRequest(sb, `${sb.vaultUrl('kv-t')}/certificates/pfx-cert${query}`);
    expect(res.status).toBe(400);
    expect((res.json as { error: { code: string } }).error.code).toBe('BadParameter');
  });
});

describe('renewal through the control API', () => {
  it('renew adds a version that becomes the latest one', async () => {
    const info = sb.control.renew('kv-t', 'pem-cert', { issuer: 'ca-old', notAfterDays: 400 });
    const cert = await certificateClient(sb, 'kv-t').getCertificate('pem-cert');
    expect(cert.properties.version).toBe(info.version);
    expect(hex(cert.properties.x509Thumbprint)).toBe(info.thumbprint);
    expect(readPemBundle((await secretClient(sb, 'kv-t').getSecret('pem-cert')).value!).thumbprint).toBe(info.thumbprint);
  });
});
