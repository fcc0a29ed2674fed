// What stands in front of the handlers, through the local runner: the client certificate when
// CLIENT_CERT_AUTH=required (403 with a JSON reason, health exempt) and a misconfigured app (503 naming the
// setting, never a stack). No rotation happens here, so no sandbox: the ARM endpoint is never called.
import { afterEach, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate, pemToDer } from '../../src/crypto/pki.js';
import { sandboxAppSettings } from '../../local/sandboxSettings.js';
import { resetServices } from '../../src/functions/app/services.js';
import { startLocalHost, type LocalHost } from '../../src/host/index.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();
const KEY = 'guards-test-key';
let host: LocalHost | undefined;

afterEach(async () => {
  await host?.stop();
  host = undefined;
  resetServices();
});

async function start(overrides: Record<string, string>): Promise<LocalHost> {
  const settings = {
    ...sandboxAppSettings({
      armEndpoint: 'https://127.0.0.1:9',
      token: 'unused',
      subscriptionId: '3f2b9c1e-5d4a-4e7b-9a10-6c2d8e4f1a01',
      storageConnectionString: azurite().connectionString,
      functionsKey: KEY,
      rotationQueue: uniqueName('guard'),
      rotationTable: uniqueName('guard'),
    }),
    ...overrides,
  };
  host = await startLocalHost({
    register: () => import('../../src/functions/index.js'),
    settings,
    localSettings: false,
    port: 0,
    log: () => undefined,
    timers: { scheduled: false },
    queues: { enabled: false },
  });
  return host;
}

async function get(h: LocalHost, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${h.apiUrl}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text) as any };
}

describe('client-certificate authentication on the API (CLIENT_CERT_AUTH=required)', () => {
  const ca = createCertificateAuthority({ commonName: 'API clients CA' });
  const stranger = createCertificateAuthority({ commonName: 'API clients CA' });
  const client = issueCertificate(ca, { commonName: 'ops-client', usage: 'client' });
  const forged = issueCertificate(stranger, { commonName: 'ops-client', usage: 'client' });
  const header = (pem: string) => pemToDer(pem).toString('base64');

  it.each([
    // 401: the caller is not authenticated (403 is kept for a trusted certificate that an allow-list does not name).
    ['no certificate is refused', undefined, 401, 'ClientCertificateMissing'],
    ['a certificate from a CA with the same name but another key is refused', () => header(forged.certPem), 401, 'ClientCertificateUntrusted'],
    ['a certificate of the trusted CA passes to the handler', () => header(client.certPem), 404, 'NotFound'],
  ])('%s', async (_sentence, cert, status, code) => {
    const h = await start({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: ca.certPem });
    const headers: Record<string, string> = { 'x-functions-key': KEY };
    if (cert) headers['x-arr-clientcert'] = cert();
    const res = await get(h, '/rotations/no-such-rotation', headers);
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
  }, 60_000);

  it('leaves health anonymous and certificate-free', async () => {
    const h = await start({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: ca.certPem });
    const res = await get(h, '/health');
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('ok');
  }, 60_000);
});

describe('a misconfigured app', () => {
  it('answers 503 naming the setting, on the API and (without values) on health, never a stack', async () => {
    const h = await start({ PROBE_ATTEMPTS: 'many' });
    const api = await get(h, '/certificates', { 'x-functions-key': KEY });
    expect(api.status).toBe(503);
    expect(api.json.error).toMatchObject({ code: 'ConfigurationError', message: expect.stringContaining('PROBE_ATTEMPTS') });
    const health = await get(h, '/health');
    expect(health.status).toBe(503);
    expect(health.json.error.message).toContain('PROBE_ATTEMPTS');
    expect(health.json.error.message).not.toContain('many');
    expect(api.text + health.text).not.toMatch(/\n\s+at /);
  }, 60_000);
});
