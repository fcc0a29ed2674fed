import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedApp, type LoadedCertificate, type SimulatedApp, type SimulatedAppOptions } from '../../sandbox/apps.js';
import { startDownstream, type Downstream } from '../../sandbox/downstream.js';
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
  settings?: Record<string, string>;
  restartMs?: number;
  hang?: boolean;
  outboundTimeoutMs?: number;
}): Promise<SimulatedApp> {
  const options: SimulatedAppOptions = {
    id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app1',
    serverCert: f.serverCert,
    sandboxCaPem: f.sandboxCa.certPem,
    loadCertificates: () => state.certs.map(loaded),
    settings: () => state.settings ?? {},
    downstreamUrl: () => downstream.url,
    restartMs: () => state.restartMs ?? 10,
    hangRestart: () => state.hang ?? false,
    outboundTimeoutMs: state.outboundTimeoutMs ?? 2000,
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
    expect(res.json).toMatchObject({ ok: true, presentedThumbprint: f.certA.thumbprint, downstream: { clientThumbprint: f.certA.thumbprint } });
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
    ['one certificate loaded and no setting: the only one', () => [f.certA], () => f.certA],
    ['several loaded ("*") and no setting: the one that expires last', () => [f.certA, f.certB], () => f.certB],
    ['several loaded, listed newest first: still the one that expires last', () => [f.certB, f.certA], () => f.certB],
  ])('%s', async (_name, certs, expected) => {
    const app = await startApp({ certs: certs() });
    expect((await health(app)).json.presentedThumbprint).toBe(expected().thumbprint);
  });
});

describe('a simulated app reports why its outbound mTLS call fails', () => {
  it.each([
    ['the downstream distrusts the issuer of the presented certificate', () => downstream.setTrustedCas([f.caA.certPem]), 'downstream answered 403', 'not trusted'],
    ['the presented certificate is not on the downstream allow-list', () => downstream.setAllowedThumbprints([f.certA.thumbprint]), 'downstream answered 403', 'not on the allow-list'],
  ])('%s -> 502', async (_name, arrange, reason, detail) => {
    arrange();
    const app = await startApp({ certs: [f.certB], settings: { CLIENT_CERT_THUMBPRINT: f.certB.thumbprint } });
    const res = await health(app);
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ ok: false, presentedThumbprint: f.certB.thumbprint, downstreamStatus: 403 });
    expect(String(res.json.reason)).toContain(reason);
    expect(String(res.json.reason)).toContain(detail);
  });

  it('the setting names a certificate that is not loaded -> 502 naming it, nothing presented', async () => {
    const before = downstream.seen.length;
    const app = await startApp({ certs: [f.certA], settings: { CLIENT_CERT_THUMBPRINT: f.certB.thumbprint } });
    const res = await health(app);
    expect(res.status).toBe(502);
    expect(String(res.json.reason)).toContain(`${f.certB.thumbprint} named by CLIENT_CERT_THUMBPRINT is not loaded`);
    expect(res.json.presentedThumbprint).toBeUndefined();
    expect(downstream.seen.length).toBe(before);
  });

  it('no certificate loaded at all -> 502', async () => {
    const app = await startApp({ certs: [] });
    const res = await health(app);
    expect(res.status).toBe(502);
    expect(String(res.json.reason)).toContain('no client certificate is loaded');
  });

  it('a downstream that never answers -> 502 once the bounded call times out', async () => {
    downstream.setHang(true);
    const app = await startApp({ certs: [f.certA], outboundTimeoutMs: 300 });
    const res = await health(app);
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ ok: false, presentedThumbprint: f.certA.thumbprint });
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
