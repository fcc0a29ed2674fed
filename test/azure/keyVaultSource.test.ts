// The Key Vault certificate source against a sandbox vault over HTTPS, through the real CertificateClient and
// SecretClient (401 challenge, then bearer token).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';
import { KeyVaultCertificateSource, normalizeVaultUrl } from '../../src/azure/keyVaultSource.js';
import { PreconditionError } from '../../src/core/errors.js';
import type { KeyVaultSource } from '../../src/core/ports.js';
import { readKeyVaultSecret } from '../../src/crypto/index.js';
import { SecretTooLargeError } from '../../src/core/trust.js';
import { startHostileServer, type HostileServer } from '../security/hostile.js';
import { adapterScenario, VAULT } from './scenario.js';

let sb: Sandbox;
let kv: KeyVaultCertificateSource;
const source = (name: string): KeyVaultSource => ({ vaultUrl: sb.vaultUrl(VAULT), name });

beforeAll(async () => {
  sb = await startSandbox(adapterScenario(), { simulateApps: false });
  kv = new KeyVaultCertificateSource({ credential: staticTokenCredential(sb.token), challengeVerification: false, allowedHosts: [{ hostname: '127.0.0.1' }], tlsCa: sb.caPem });
});

afterAll(async () => {
  await sb?.stop();
});

describe('KeyVaultCertificateSource against a sandbox vault', () => {
  it('gets the latest version with its thumbprint (from x5t), dates and id', async () => {
    const [, latest] = sb.control.keyVaultVersions(VAULT, 'client-pfx');
    const version = await kv.getLatest(source('client-pfx'));
    expect(version).toMatchObject({
      source: source('client-pfx'),
      version: latest.version,
      id: latest.id,
      thumbprint: sb.control.thumbprint(`${VAULT}/client-pfx/latest`),
      enabled: true,
    });
    expect(version?.thumbprint).toMatch(/^[0-9A-F]{40}$/);
    expect(version?.expiresOn?.toISOString()).toBe(new Date(latest.notAfter).toISOString());
    expect(version?.issuer).toContain('issuing');
  });

  it('gets an older version by id', async () => {
    const [oldest] = sb.control.keyVaultVersions(VAULT, 'client-pfx');
    const version = await kv.getVersion(source('client-pfx'), oldest.version);
    expect(version?.thumbprint).toBe(sb.control.thumbprint(`${VAULT}/client-pfx/0`));
    expect(version?.version).toBe(oldest.version);
  });

  it.each([
    ['a PFX (empty password)', 'client-pfx', 'application/x-pkcs12'],
    ['a PEM (key first)', 'client-pem', 'application/x-pem-file'],
  ])('returns the secret of %s, whose leaf is the certificate Key Vault describes', async (_label, name, contentType) => {
    const latest = await kv.getLatest(source(name));
    const secret = await kv.getSecret(source(name), latest!.version);
    expect(secret.contentType).toBe(contentType);
    const bundle = readKeyVaultSecret(secret.contentType, secret.value);
    expect(bundle.thumbprint).toBe(latest!.thumbprint);
    expect(bundle.keyPem).toContain('PRIVATE KEY');
  });

  it('answers undefined for a certificate or version that does not exist', async () => {
    expect(await kv.getLatest(source('no-such-certificate'))).toBeUndefined();
    expect(await kv.getVersion(source('client-pfx'), '0'.repeat(32))).toBeUndefined();
  });

  it('reports a disabled version as disabled, and refuses its secret naming the vault and certificate', async () => {
    const version = await kv.getLatest(source('disabled'));
    expect(version?.enabled).toBe(false);
    const error = await rejection(kv.getSecret(source('disabled'), version!.version));
    expect(error).toBeInstanceOf(PreconditionError);
    expect(error.message).toContain(`${sb.vaultUrl(VAULT)}/secrets/disabled/${version!.version}`);
    expect(error.message).toMatch(/not authorized .*403/);
  });

  it('turns a 403 into a PreconditionError that names the vault and the certificate', async () => {
    const error = await rejection(kv.getLatest(source('locked')));
    expect(error).toBeInstanceOf(PreconditionError);
    expect(error.message).toContain(`${sb.vaultUrl(VAULT)}/certificates/locked`);
    expect(error.message).toMatch(/403 Forbidden/);
  });

  it('refuses a version id that is not one, without calling the vault', async () => {
    sb.control.resetCounters();
    await expect(kv.getVersion(source('client-pfx'), '../secrets/x')).rejects.toThrow(/is not a Key Vault version id/);
    expect(sb.control.requests({ surface: 'kv' })).toEqual([]);
  });

  it('reuses one client pair per vault, whatever the spelling of its URL', () => {
    const url = sb.vaultUrl(VAULT);
    expect(kv.clients(`${url}/`)).toBe(kv.clients(url.toUpperCase().replace('HTTPS', 'https')));
    expect(normalizeVaultUrl('https://KV.vault.azure.net/')).toBe('https://kv.vault.azure.net');
    expect(() => normalizeVaultUrl('http://kv.vault.azure.net')).toThrow(/must use https/);
  });
});

describe('trust boundaries of the adapter', () => {
  let hostile: HostileServer;
  beforeAll(async () => {
    hostile = await startHostileServer();
  });
  afterAll(async () => {
    await hostile?.close();
  });

  it.each([
    ['another port of 127.0.0.1 than the allow-listed vault', (port: number) => `https://127.0.0.1:${port}`],
    ['a host name that is not Key Vault', (port: number) => `https://kv-x.vault.azure.net.evil.test:${port}`],
    ['a Key Vault host name on another port', (port: number) => `https://kv-x.vault.azure.net:${port}`],
  ])('refuses %s before any client exists: no request, no token', async (_sentence, urlOf) => {
    const vaultHost = new URL(sb.vaultUrl(VAULT)).host;
    const strict = new KeyVaultCertificateSource({
      credential: staticTokenCredential(sb.token),
      challengeVerification: false,
      allowedHosts: [{ hostname: '127.0.0.1', port: vaultHost.split(':')[1]! }],
      tlsCa: `${sb.caPem}\n${hostile.caPem}`,
    });
    const error = await rejection(strict.getLatest({ vaultUrl: urlOf(hostile.port), name: 'x' }));
    expect(error).toBeInstanceOf(PreconditionError);
    expect(error.message).toMatch(/^Key Vault source refused: /);
    await expect(strict.getSecret({ vaultUrl: urlOf(hostile.port), name: 'x' }, 'v1')).rejects.toThrow(/Key Vault source refused/);
    expect(hostile.log).toEqual([]);
    // The allow-listed vault itself is still served.
    expect((await strict.getLatest(source('client-pfx')))?.thumbprint).toMatch(/^[0-9A-F]{40}$/);
  });

  it('reads a certificate whose response is within the bound, and refuses one over it before parsing, without retrying', async () => {
    const tight = new KeyVaultCertificateSource({
      credential: staticTokenCredential(sb.token),
      challengeVerification: false,
      allowedHosts: [{ hostname: '127.0.0.1' }],
      tlsCa: sb.caPem,
      maxResponseBytes: 200,
    });
    sb.control.resetCounters();
    const error = await rejection(tight.getLatest(source('client-pfx')));
    expect(error).toBeInstanceOf(PreconditionError);
    expect(error.message).toMatch(/ResponseTooLarge.*declares \d+ bytes, more than the 200 bytes allowed/);
    // The challenge (401) and one authorised GET: a refused size is not retried.
    expect(sb.control.requests({ surface: 'kv' }).filter((r) => r.authorized)).toHaveLength(1);
    const secretError = await rejection(tight.getSecret(source('client-pfx'), sb.control.keyVaultVersions(VAULT, 'client-pfx')[0]!.version));
    expect(secretError).toBeInstanceOf(SecretTooLargeError);
    const roomy = new KeyVaultCertificateSource({
      credential: staticTokenCredential(sb.token),
      challengeVerification: false,
      allowedHosts: [{ hostname: '127.0.0.1' }],
      tlsCa: sb.caPem,
      maxResponseBytes: 64 * 1024,
    });
    expect((await roomy.getLatest(source('client-pfx')))?.thumbprint).toBe(sb.control.thumbprint(`${VAULT}/client-pfx/latest`));
  });
});

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
