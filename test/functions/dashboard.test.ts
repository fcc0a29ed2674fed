// GET /api/dashboard and its assets through the local host: the API's own authentication (the function key, and the
// client certificate when CLIENT_CERT_AUTH=required), the CSP and the other headers on every answer, the key repeated
// only on the page's own asset URLs and escaped there, and a clear 404 for an asset it does not have. Serving the
// page reads no Azure API, so the settings point at closed loopback ports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxAppSettings } from '../../local/sandboxSettings.js';
import { configureServices, resetServices } from '../../src/functions/app/services.js';
import { DASHBOARD_CSP, dashboardPage } from '../../src/functions/dashboard/page.js';
import { startLocalHost, type LocalHost } from '../../src/host/index.js';
import { issue, makeCa } from '../helpers/callerPki.js';
import { rawRequest } from '../helpers/rawHttp.js';

const KEY = 'dashboard-test-key_0123';

function settings(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...sandboxAppSettings({
      armEndpoint: 'https://127.0.0.1:9',
      token: 'unused',
      subscriptionId: '00000000-0000-4000-8000-0000000000d1',
      storageConnectionString: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;',
      functionsKey: KEY,
    }),
    RENEW_BEFORE_DAYS: '21',
    ...extra,
  };
}

async function startHost(extra: Record<string, string> = {}): Promise<LocalHost> {
  resetServices();
  configureServices({});
  return startLocalHost({
    register: () => import('../../src/functions/index.js'),
    settings: settings(extra),
    localSettings: false,
    port: 0,
    log: () => undefined,
    timers: { scheduled: false },
    queues: { enabled: false },
  });
}

describe('the dashboard with the function key alone (CLIENT_CERT_AUTH=off)', () => {
  let host: LocalHost;
  beforeAll(async () => {
    host = await startHost();
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    resetServices();
  });
  const get = (path: string, headers: Array<[string, string]> = []) => rawRequest(`${host.url}${path}`, 'GET', headers);

  it.each([
    ['the page without a key', '/api/dashboard'],
    ['the page with a wrong key', '/api/dashboard?code=not-the-key'],
    ['the script without a key', '/api/dashboard/dashboard.js'],
    ['the style sheet with a wrong key in the header', '/api/dashboard/dashboard.css'],
  ])('refuses %s (401), as every API route', async (_sentence, path) => {
    const res = await get(path, path.endsWith('.css') ? [['x-functions-key', 'wrong']] : []);
    expect(res.status).toBe(401);
    expect(res.text).not.toContain('<html');
  });

  it('serves the page with ?code=: the CSP, no inline script, the key only on its own asset URLs, the renewal window', async () => {
    const res = await get(`/api/dashboard?code=${KEY}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-frame-options']).toBe('DENY');
    // Every script has a src (served by the app itself); no inline script, style or event attribute.
    expect(res.text.match(/<script\b[^>]*>/g)).toEqual([`<script type="module" src="/api/dashboard/dashboard.js?code=${KEY}">`]);
    expect(res.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=|https?:\/\//i);
    expect(res.text).toContain('data-api="/api"');
    expect(res.text).toContain('data-renew-before-days="21"');
  });

  it.each([
    ['the script', 'dashboard.js', 'text/javascript; charset=utf-8', /fetch\(/],
    ['the style sheet', 'dashboard.css', 'text/css; charset=utf-8', /prefers-color-scheme/],
    ['the icon', 'icon.svg', 'image/svg+xml', /<svg/],
  ])('serves %s with its type and the same headers', async (_sentence, asset, type, content) => {
    const res = await get(`/api/dashboard/${asset}?code=${KEY}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text).toMatch(content);
  });

  it('answers an asset it does not have with a 404 that lists the ones it has', async () => {
    const res = await get(`/api/dashboard/secrets.json?code=${KEY}`);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('NotFound');
    expect(res.json.error.message).toContain("no asset 'secrets.json'; it serves dashboard.js, dashboard.css, icon.svg");
  });

  it('writes no script or other origin into the page, whatever the key it is opened with', () => {
    const page = dashboardPage({ pagePath: '/api/dashboard', apiPath: '/api', code: '"><script>alert(1)</script>', renewBeforeDays: 30 });
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('?code=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"');
  });
});

describe('the dashboard with CLIENT_CERT_AUTH=required', () => {
  const root = makeCa('Dashboard Root CA');
  const operator = issue(root, [['O', 'Contoso'], ['CN', 'operator']]);
  const stranger = issue(makeCa('Other Root CA'), [['O', 'Contoso'], ['CN', 'operator']]);
  let host: LocalHost;
  beforeAll(async () => {
    host = await startHost({
      CLIENT_CERT_AUTH: 'required',
      CLIENT_CERT_TRUSTED_CA: root.pem,
      CLIENT_CERT_ALLOWED_THUMBPRINTS: operator.thumbprint,
    });
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    resetServices();
  });

  it.each([
    ['no certificate', undefined, '/api/dashboard', 401, 'ClientCertificateMissing'],
    ['a certificate from another CA', stranger.header, '/api/dashboard', 401, undefined],
    ['no certificate, for the script', undefined, '/api/dashboard/dashboard.js', 401, 'ClientCertificateMissing'],
    ['the allowed certificate', operator.header, '/api/dashboard', 200, undefined],
    ['the allowed certificate, for the script', operator.header, '/api/dashboard/dashboard.js', 200, undefined],
  ])('with the key and %s: %i', async (_sentence, certificate, path, status, code) => {
    const headers: Array<[string, string]> = [['x-functions-key', KEY]];
    if (certificate !== undefined) headers.push(['X-ARR-ClientCert', certificate]);
    const res = await rawRequest(`${host.url}${path}`, 'GET', headers);
    expect(res.status).toBe(status);
    if (code !== undefined) expect(res.json.error.code).toBe(code);
    if (status !== 200) expect(res.text).not.toContain('<html');
  });
});
