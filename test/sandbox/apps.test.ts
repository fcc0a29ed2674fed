import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedApp, type LoadedCertificate, type SimulatedApp, type SimulatedAppOptions } from '../../sandbox/apps.js';
import { startDownstream, type Downstream } from '../../sandbox/downstream.js';
import type { HealthShape } from '../../sandbox/scenario.js';
import { describeCertificate, type IssuedCertificate } from '../../src/crypto/index.js';
import { httpsGet, makeFixtures, type MtlsFixtures } from './mtls-fixtures.js';

const HEALTH = '/healthz/outbound-mtls';

let f: MtlsFixtures;
let downstream: Downstream;
const apps: SimulatedApp[] = [];

beforeAll(async () => {
  f = makeFixtures();
  downstream = await startDownstream({ name: 'partner', trustedCaPems: [f.caA.certPem, f.caB.certPem], serverCert: f.serverCert });
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.stop()));
  downstream.setTrustedCas([f.caA.certPem, f.caB.certPem]);
  downstream.setAllowedThumbprints(undefined);
  downstream.setHang(false);
});

afterAll(async () => {
  await downstream?.stop();
});

function loaded(cert: IssuedCertificate): LoadedCertificate {
  return { thumbprint: cert.thumbprint, certPem: cert.certPem, keyPem: cert.keyPem, notAfter: describeCertificate(cert.certPem).notAfter };
}

/** An app whose platform state (loaded certificates, settings, restart behaviour) the test changes at will. */
async function startApp(state: {
  certs: IssuedCertificate[];
  /** WEBSITE_LOAD_CERTIFICATES; default: the thumbprints of `certs`, which is what the platform loaded. */
  load?: string;
  settings?: Record<string, string>;
  restartMs?: number;
  hang?: boolean;
  outboundTimeoutMs?: number;
  health?: HealthShape;
  warmupMs?: number;
}): Promise<SimulatedApp> {
  const options: SimulatedAppOptions = {
    id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app1',
    serverCert: f.serverCert,
    sandboxCaPem: f.sandboxCa.certPem,
    loadCertificates: () => state.certs.map(loaded),
    settings: () => ({ WEBSITE_LOAD_CERTIFICATES: state.load ?? state.certs.map((c) => c.thumbprint).join(','), ...state.settings }),
    downstreamUrl: () => downstream.url,
    restartMs: () => state.restartMs ?? 10,
    hangRestart: () => state.hang ?? false,
    outboundTimeoutMs: state.outboundTimeoutMs ?? 2000,
    ...(state.health !== undefined ? { health: state.health } : {}),
    ...(state.warmupMs !== undefined ? { warmupMs: state.warmupMs } : {}),
  };
  const app = await startSimulatedApp(options);
  apps.push(app);
  return app;
}

const health = (app: SimulatedApp) => httpsGet(`https://${app.hostName}${HEALTH}`, { ca: f.sandboxCa.certPem });

describe('a simulated app presents the certificate it loaded to its downstream', () => {
  it('an app started with certificate A presents A, and the downstream sees A', async () => {
    const app = await startApp({ certs: [f.certA], settings: { CLIENT_CERT_THUMBPRINT: f.certA.thumbprint } });
    const res = await health(app);
    expect(res.status).toBe(200);
    // The kit's answer: the verification contract (docs/app-kit.md).
    expect(res.json).toEqual({ status: 'pass', presentedThumbprint: f.certA.thumbprint, partner: { status: 200 } });
    expect(res.headers['x-presented-thumbprint']).toBe(f.certA.thumbprint);
    expect(downstream.seen.at(-1)).toMatchObject({ thumbprint: f.certA.thumbprint, authorized: true });
    expect(app.loadedThumbprints()).toEqual([f.certA.thumbprint]);
  });

  it('after the platform loads B and the setting names B, it presents B only once restarted', async () => {
    const state = { certs: [f.certA], settings: { CLIENT_CERT_THUMBPRINT: f.certA.thumbprint } as Record<string, string> };
    const app = await startApp(state);
    state.certs = [f.certA, f.certB];
    state.settings = { CLIENT_CERT_THUMBPRINT: f.certB.thumbprint.toLowerCase() };
    // Like App Service, the running process keeps what it loaded and its environment until it restarts.
    expect((await health(app)).json.presentedThumbprint).toBe(f.certA.thumbprint);
    await app.restart();
    expect(app.restarts).toBe(1);
    expect(app.loadedThumbprints()).toEqual([f.certA.thumbprint, f.certB.thumbprint]);
    const res = await health(app);
    expect(res.status).toBe(200);
    expect(res.json.presentedThumbprint).toBe(f.certB.thumbprint);
    expect(downstream.seen.at(-1)?.thumbprint).toBe(f.certB.thumbprint);
  });

  it.each([
    ['one certificate loaded and no setting: the only one', () => [f.certA], undefined, () => f.certA],
    ['several loaded ("*") and no setting: the newest (then the one that expires last)', () => [f.certA, f.certB], '*', () => f.certB],
    ['several loaded, listed newest first: still the newest', () => [f.certB, f.certA], '*', () => f.certB],
  ])('%s', async (_name, certs, load, expected) => {
    const app = await startApp({ certs: certs(), ...(load !== undefined ? { load } : {}) });
    expect((await health(app)).json.presentedThumbprint).toBe(expected().thumbprint);
  });
});

describe('a simulated app reports why its outbound mTLS call fails', () => {
  it.each([
    ['the downstream distrusts the issuer of the presented certificate', () => downstream.setTrustedCas([f.caA.certPem]), 'the partner answered 403', 'not trusted'],
    ['the presented certificate is not on the downstream allow-list', () => downstream.setAllowedThumbprints([f.certA.thumbprint]), 'the partner answered 403', 'not on the allow-list'],
  ])('%s -> 503', async (_name, arrange, reason, detail) => {
    arrange();
    const app = await startApp({ certs: [f.certB], settings: { CLIENT_CERT_THUMBPRINT: f.certB.thumbprint } });
    const res = await health(app);
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ status: 'fail', presentedThumbprint: f.certB.thumbprint, partner: { status: 403 } });
    expect(String(res.json.reason)).toContain(reason);
    expect(String(res.json.reason)).toContain(detail);
  });

  it('the setting names a certificate that is not loaded -> 503 naming it, nothing presented', async () => {
    const before = downstream.seen.length;
    const app = await startApp({ certs: [f.certA], settings: { CLIENT_CERT_THUMBPRINT: f.certB.thumbprint } });
    const res = await health(app);
    expect(res.status).toBe(503);
    expect(String(res.json.reason)).toContain(`${f.certB.thumbprint} named by CLIENT_CERT_THUMBPRINT is not loaded`);
    expect(res.json.presentedThumbprint).toBeUndefined();
    expect(downstream.seen.length).toBe(before);
  });

  it('no certificate loaded at all -> 503', async () => {
    const app = await startApp({ certs: [] });
    const res = await health(app);
    expect(res.status).toBe(503);
    expect(String(res.json.reason)).toContain('no client certificate is loaded');
  });

  it('a downstream that never answers -> 503 once the bounded call times out', async () => {
    downstream.setHang(true);
    const app = await startApp({ certs: [f.certA], outboundTimeoutMs: 300 });
    const res = await health(app);
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ status: 'fail', presentedThumbprint: f.certA.thumbprint });
    expect(String(res.json.reason)).toContain('did not answer within 300 ms');
  });

  it('no answer of the app contains key material', async () => {
    const app = await startApp({ certs: [f.certA, f.certB] });
    const answers = [await health(app), await httpsGet(`https://${app.hostName}/`, { ca: f.sandboxCa.certPem })];
    downstream.setTrustedCas([]);
    answers.push(await health(app));
    for (const answer of answers) {
      expect(answer.text).not.toContain('PRIVATE KEY');
      expect(answer.text).not.toContain(f.certA.keyPem.split('\n')[1]);
      expect(answer.text).not.toContain(f.certB.keyPem.split('\n')[1]);
    }
    expect(answers[1]!.json).toEqual({ ok: true, site: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app1' });
  });
});

describe('a simulated app restarts like App Service', () => {
  it('answers 503 while a slow restart is under way, then serves again', async () => {
    const app = await startApp({ certs: [f.certA], restartMs: 400 });
    const restarted = app.restart();
    const during = await health(app);
    expect(during.status).toBe(503);
    expect(app.loadedThumbprints()).toEqual([]);
    await restarted;
    expect((await health(app)).status).toBe(200);
  });

  it('a restart that hangs resolves at once and leaves the app answering 503 until a restart completes', async () => {
    const state = { certs: [f.certA], hang: true };
    const app = await startApp(state);
    await app.restart();
    expect((await health(app)).status).toBe(503);
    expect((await httpsGet(`https://${app.hostName}/`, { ca: f.sandboxCa.certPem })).status).toBe(503);
    state.hang = false;
    await app.restart();
    expect(app.restarts).toBe(2);
    expect((await health(app)).status).toBe(200);
  });
});

describe('a simulated app answers its health path in the shape of its framework', () => {
  // What each answers when the partner accepts the presented certificate (A) and when it refuses it (B, whose CA the
  // partner does not trust). `calls` = the app makes its outbound call on a health request.
  type Expected = { status: number; text?: RegExp; json?: Record<string, unknown>; headers?: Record<string, string | RegExp> };
  const shapes: Array<[HealthShape, { calls: boolean; accepted: () => Expected; refused: () => Expected }]> = [
    ['kit', {
      calls: true,
      accepted: () => ({ status: 200, json: { status: 'pass', presentedThumbprint: f.certA.thumbprint }, headers: { 'x-presented-thumbprint': f.certA.thumbprint } }),
      refused: () => ({ status: 503, json: { status: 'fail', presentedThumbprint: f.certB.thumbprint, partner: { status: 403 } } }),
    }],
    ['aspnet-text', {
      calls: true,
      accepted: () => ({ status: 200, text: /^Healthy$/, headers: { 'content-type': /^text\/plain/ } }),
      refused: () => ({ status: 503, text: /^Unhealthy$/ }),
    }],
    ['aspnet-json', {
      calls: true,
      accepted: () => ({ status: 200, json: { status: 'Healthy', entries: { 'outbound-mtls': { status: 'Healthy', data: { thumbprint: f.certA.thumbprint } } } } }),
      refused: () => ({ status: 503, json: { status: 'Unhealthy', entries: { 'outbound-mtls': { status: 'Unhealthy', data: { thumbprint: f.certB.thumbprint } } } } }),
    }],
    ['spring', {
      calls: true,
      accepted: () => ({ status: 200, json: { status: 'UP' }, headers: { 'content-type': /^application\/vnd\.spring-boot\.actuator\.v3\+json/ } }),
      refused: () => ({ status: 503, json: { status: 'DOWN' } }),
    }],
    ['plain-ok', { calls: false, accepted: () => ({ status: 200, text: /^OK$/ }), refused: () => ({ status: 200, text: /^OK$/ }) }],
    ['no-content', { calls: false, accepted: () => ({ status: 204, text: /^$/ }), refused: () => ({ status: 204, text: /^$/ }) }],
    ['redirect-login', {
      calls: false,
      accepted: () => ({ status: 302, headers: { location: '/.auth/login/aad?post_login_redirect_uri=%2Fhealthz%2Foutbound-mtls' } }),
      refused: () => ({ status: 302, headers: { location: /^\/\.auth\/login\/aad/ } }),
    }],
    ['thumbprint-alias', {
      calls: true,
      accepted: () => ({ status: 200, json: { ok: true, thumbprint: f.certA.thumbprint } }),
      refused: () => ({ status: 500, json: { ok: false, thumbprint: f.certB.thumbprint } }),
    }],
    ['status-blind', {
      calls: true,
      accepted: () => ({ status: 200, json: { alive: true, partner: 'reachable' } }),
      refused: () => ({ status: 200, json: { alive: true } }),
    }],
    ['slow-start', {
      calls: true,
      accepted: () => ({ status: 200, json: { status: 'pass', presentedThumbprint: f.certA.thumbprint } }),
      refused: () => ({ status: 503, json: { status: 'fail', presentedThumbprint: f.certB.thumbprint } }),
    }],
  ];

  const check = (answer: Awaited<ReturnType<typeof health>>, expected: Expected) => {
    expect(answer.status).toBe(expected.status);
    if (expected.text) expect(answer.text).toMatch(expected.text);
    if (expected.json) expect(answer.json).toMatchObject(expected.json);
    for (const [name, value] of Object.entries(expected.headers ?? {})) {
      if (typeof value === 'string') expect(answer.headers[name]).toBe(value);
      else expect(String(answer.headers[name])).toMatch(value);
    }
  };

  it.each(shapes)('%s: its answer when the partner accepts and when it refuses the certificate', async (shape, expected) => {
    downstream.setTrustedCas([f.caA.certPem]);
    const accepting = await startApp({ certs: [f.certA], health: shape, warmupMs: 0 });
    const refused = await startApp({ certs: [f.certB], health: shape, warmupMs: 0 });
    const before = downstream.seen.length;
    check(await health(accepting), expected.accepted());
    check(await health(refused), expected.refused());
    const calls = downstream.seen.slice(before);
    if (expected.calls) {
      expect(calls.map((c) => [c.thumbprint, c.authorized])).toEqual([
        [f.certA.thumbprint, true],
        [f.certB.thumbprint, false],
      ]);
    } else {
      expect(calls).toEqual([]);
    }
  });

  it('slow-start answers 503 for its warm-up after every start, then the kit answer', async () => {
    const app = await startApp({ certs: [f.certA], health: 'slow-start', warmupMs: 600 });
    const early = await health(app);
    expect([early.status, early.text]).toEqual([503, 'Service Unavailable']);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await health(app)).status).toBe(200);
    await app.restart();
    expect((await health(app)).status).toBe(503);
  });

  it('redirect-login sends every path to the login page, not only the health path', async () => {
    const app = await startApp({ certs: [f.certA], health: 'redirect-login' });
    const root = await httpsGet(`https://${app.hostName}/`, { ca: f.sandboxCa.certPem });
    expect([root.status, root.headers.location]).toEqual([302, '/.auth/login/aad?post_login_redirect_uri=%2F']);
  });
});
