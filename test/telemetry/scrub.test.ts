import { describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate, writePfx } from '../../src/crypto/index.js';
import { newRotationId } from '../../src/core/rotate.js';
import { scrubDimensions, scrubText, secretReason, SCRUBBED_DIMENSION, REDACTED } from '../../src/telemetry/scrub.js';

const ca = createCertificateAuthority({ commonName: 'scrub test CA' });
const leaf = issueCertificate(ca, { commonName: 'client', usage: 'client' });
const pfxBase64 = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem }, 'pfx-password').toString('base64');
const keyBody = leaf.keyPem.split('\n').slice(1, -2).join('');
// Outputs of randomPassword() (24 random bytes, base64url), fixed so the test is deterministic.
const generatedPasswords = ['q3Zr9LwX_bT0kVn2-HsYc7PeJm4UaQ1d', 'Vb8sK2nQ-xR5tWz0LcYh3JpGf7MdEa9u', 'fT6yN1cWq8Zx_Kb3RmVj0LsHd5PgEu2a'];

describe('secret-looking dimensions', () => {
  it.each([
    ['a PFX in base64', 'certificate', pfxBase64, 'base64-blob'],
    ['a PEM private key', 'detail', leaf.keyPem, 'pem'],
    ['a PEM certificate (a thumbprint is the public form)', 'cert', leaf.certPem, 'pem'],
    ['a private key PEM body without its armour', 'detail', keyBody, 'base64-blob'],
    ['a PEM private key inside a sentence', 'message', `could not parse ${leaf.keyPem} as PKCS#8`, 'pem'],
    ['a dimension named password', 'password', 'hunter2', 'secret-key-name'],
    ['a dimension named pfxPassword', 'pfxPassword', 'x', 'secret-key-name'],
    ['a dimension named private_key', 'private_key', 'x', 'secret-key-name'],
    ['a dimension named secret', 'secret', 'x', 'secret-key-name'],
    ['a dimension named clientSecret', 'clientSecret', 'x', 'secret-key-name'],
    ['a dimension named accessToken', 'accessToken', 'x', 'secret-key-name'],
    ['a dimension named pfx', 'pfx', 'x', 'secret-key-name'],
    ['a storage connection string', 'storage', 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123==', 'credential-pair'],
    ['a SAS URL', 'url', 'https://a.blob.core.windows.net/c/b?sv=2022&sig=abcDEF123%3D', 'credential-pair'],
    ['"password: x" inside a message', 'message', 'login failed, password: hunter2', 'credential-pair'],
    ['a generated password', 'note', generatedPasswords[0], 'random-token'],
    ['another generated password', 'note', generatedPasswords[1], 'random-token'],
    ['a third generated password', 'note', generatedPasswords[2], 'random-token'],
    ['a long base64 run inside an ARM-looking path', 'resourceId', `/subscriptions/x/resourceGroups/${'Ab1'.repeat(50)}/providers/Microsoft.Web/sites/a`, 'base64-blob'],
  ])('%s is refused', (_what, key, value, reason) => {
    expect(secretReason(key, value)).toBe(reason);
    const { properties, removed } = scrubDimensions({ [key]: value, app: 'kept' });
    expect(properties[key]).toBeUndefined();
    expect(properties.app).toBe('kept');
    expect(removed).toEqual([{ key, reason }]);
    expect(properties[SCRUBBED_DIMENSION]).toBe(`${key}:${reason}`);
  });
});

describe('public dimensions', () => {
  it.each([
    ['an app resource id', 'app', '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-payments-westeurope/providers/Microsoft.Web/sites/payments-api'],
    ['a slot id with a 90-character resource group', 'app', `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/${'rgLongName01'.repeat(7)}rgLongName0123456789/providers/Microsoft.Web/sites/Contoso-Payments-Api2/slots/staging`],
    ['an uppercase thumbprint', 'oldThumbprint', 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'],
    ['a list of thumbprints', 'thumbprints', 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678,0123456789ABCDEF0123456789ABCDEF01234567'],
    ['a Key Vault certificate id with version', 'keyVaultCertificateId', 'https://kv-payments.vault.azure.net/certificates/payments-client/4f2a9c0e1b3d4e5f8a7b6c5d4e3f2a1b'],
    ['a Key Vault secret name', 'keyVaultSecretName', 'payments-client'],
    ['a Key Vault version', 'keyVaultVersion', '4f2a9c0e1b3d4e5f8a7b6c5d4e3f2a1b'],
    ['a rotation id (uuid)', 'rotationId', '5b0c7f0e-3d55-4f27-9a4e-6f1c2b3a4d5e'],
    ['a rotation id (ulid)', 'rotationId', '01HZY3K9V2Q8W7E6R5T4Y3U2I1'],
    ['a reason', 'reason', 'NewerVersionAvailable'],
    ['a step', 'step', 'verify'],
    ['a CamelCase app name with digits', 'site', 'ContosoPaymentsApiWest2Prod01'],
    ['an App Service certificate name', 'certificateName', 'payments-client-A1B2C3D4'],
    ['a probe message with a URL', 'message', 'via-app probe https://payments-api.azurewebsites.net/healthz/outbound-mtls answered 502 (handshake rejected)'],
    ['a number', 'daysRemaining', 6],
    ['a boolean', 'dryRun', false],
  ])('%s is kept', (_what, key, value) => {
    const { properties, removed } = scrubDimensions({ [key]: value });
    expect(removed).toEqual([]);
    expect(properties).toEqual({ [key]: String(value) });
  });

  it("keeps the engine's own rotation ids (timestamp + hex), which once scored as random tokens about half the time", () => {
    // Two ids the scenario test saw dropped, then a spread of fresh ones over several dates.
    const ids = ['20261123T140903Z-f3467b8d', '20261123T140811Z-b6ea599b'];
    for (let i = 0; i < 300; i++) ids.push(newRotationId(new Date(Date.UTC(2026, i % 12, 1 + (i % 28), i % 24, i % 60, (i * 7) % 60))));
    const dropped = ids.filter((id) => scrubDimensions({ rotationId: id }).removed.length > 0);
    expect(dropped).toEqual([]);
    expect(scrubText(`rotation ${ids[0]} of app failed`)).toBe(`rotation ${ids[0]} of app failed`);
  });

  it('leaves out undefined dimensions and adds no scrubbedDimensions when nothing was removed', () => {
    expect(scrubDimensions({ slot: undefined, app: 'a' }).properties).toEqual({ app: 'a' });
    expect(scrubDimensions(undefined).properties).toEqual({});
  });

  it('does not echo a dimension name that itself looks like key material', () => {
    const { properties } = scrubDimensions({ [keyBody]: 'x' });
    expect(JSON.stringify(properties)).not.toContain(keyBody.slice(0, 40));
    expect(properties[SCRUBBED_DIMENSION]).toBe('[redacted-name]:secret-key-name');
  });
});

describe('scrubText for exception messages and stacks', () => {
  it.each([
    ['a PEM block', `bad key ${leaf.keyPem} here`, leaf.keyPem.split('\n')[1]!],
    ['a PFX blob', `cannot read ${pfxBase64}`, pfxBase64.slice(100, 160)],
    ['a password pair', 'AccountName=a;AccountKey=c2VjcmV0a2V5MTIz==;', 'c2VjcmV0a2V5MTIz'],
  ])('redacts %s and keeps the rest of the sentence', (_what, text, secret) => {
    const out = scrubText(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it('leaves an ordinary message unchanged', () => {
    const message = "RotationStepError: restart of /subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app failed: 503 'Service Unavailable'";
    expect(scrubText(message)).toBe(message);
  });
});
