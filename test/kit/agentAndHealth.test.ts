// The kit presents the loaded certificate to a real mTLS server, and its health route answers the rotator's
// verification contract from the real outbound call: pass with the presented thumbprint, or 503 with the reason.
import https from 'node:https';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClientCertificateNotFoundError,
  createClientAgent,
  createHealthHandler,
  createUndiciDispatcher,
  loadClientCertificate,
  type HealthHandlerOptions,
  type LoadedClientCertificate,
} from '../../kit/src/index.js';
import { startDownstream, type Downstream } from '../../sandbox/downstream.js';
import { certsDirectory, makeKitFixtures, type KitFixtures } from './fixtures.js';

let f: KitFixtures;
let dir: { path: string; remove(): void };
let partner: Downstream;
const load = (thumbprint: string): LoadedClientCertificate => loadClientCertificate({ env: { WEBSITE_PRIVATE_CERTS_PATH: dir.path, WEBSITE_LOAD_CERTIFICATES: thumbprint } });

beforeAll(async () => {
  f = makeKitFixtures();
  dir = certsDirectory([f.ordersNew, f.untrusted]);
  partner = await startDownstream({ name: 'partner', trustedCaPems: [f.partnerCa.certPem], serverCert: f.serverCert });
});

afterEach(() => {
  partner.setTrustedCas([f.partnerCa.certPem]);
  partner.setHang(false);
});

afterAll(async () => {
  await partner?.stop();
  dir?.remove();
});

describe('createClientAgent presents the loaded certificate', () => {
  it('a local server that requires client certificates sees the thumbprint of the loaded certificate', async () => {
    const seen: string[] = [];
    const server = https.createServer({ key: f.serverCert.keyPem, cert: f.serverCert.certPem, ca: [f.partnerCa.certPem], requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      seen.push(peer.fingerprint.replace(/:/g, ''));
      res.end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const agent = createClientAgent(load(f.ordersNew.thumbprint), { ca: f.sandboxCa.certPem });
    try {
      const { port } = server.address() as AddressInfo;
      const status = await new Promise<number>((resolve, reject) => {
        https.get(`https://127.0.0.1:${port}/`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      expect(status).toBe(200);
      expect(seen).toEqual([f.ordersNew.thumbprint]);
    } finally {
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('createUndiciDispatcher needs the undici package and says so when it is absent', async () => {
    const installed = await import('undici' as string).then(() => true, () => false);
    const attempt = createUndiciDispatcher(load(f.ordersNew.thumbprint));
    if (installed) {
      const dispatcher = await attempt;
      expect(typeof dispatcher.close).toBe('function');
      await dispatcher.close();
    } else {
      await expect(attempt).rejects.toThrow("createUndiciDispatcher needs the 'undici' package");
    }
  });
});

describe('createHealthHandler answers the verification contract from the real partner call', () => {
  let app: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    app = undefined;
  });

  async function health(options: Omit<HealthHandlerOptions, 'ca' | 'timeoutMs'> & { timeoutMs?: number }) {
    app = createServer(createHealthHandler({ ca: f.sandboxCa.certPem, timeoutMs: 2000, ...options }));
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`http://127.0.0.1:${(app.address() as AddressInfo).port}/healthz/outbound-mtls`);
    return { status: response.status, header: response.headers.get('x-presented-thumbprint'), json: (await response.json()) as Record<string, unknown> };
  }

  it('the partner accepts the certificate: 200 pass, the presented thumbprint in body and header, the partner status', async () => {
    const answer = await health({ certificate: load(f.ordersNew.thumbprint), partnerUrl: partner.url });
    expect(answer).toEqual({
      status: 200,
      header: f.ordersNew.thumbprint,
      json: { status: 'pass', presentedThumbprint: f.ordersNew.thumbprint, partner: { status: 200 } },
    });
    expect(partner.seen.at(-1)).toMatchObject({ thumbprint: f.ordersNew.thumbprint, authorized: true });
  });

  it.each<[string, () => void, () => string, RegExp, number | undefined]>([
    ['the partner does not trust the issuer', () => undefined, () => f.untrusted.thumbprint, /the partner answered 403/, 403],
    ['the partner stopped trusting the CA of the loaded certificate', () => partner.setTrustedCas([f.otherCa.certPem]), () => f.ordersNew.thumbprint, /the partner answered 403/, 403],
    ['the partner never answers', () => partner.setHang(true), () => f.ordersNew.thumbprint, /did not answer within 2000 ms/, undefined],
  ])('%s: 503 fail, still naming the presented thumbprint', async (_name, arrange, presented, reason, partnerStatus) => {
    arrange();
    const answer = await health({ certificate: load(presented()), partnerUrl: partner.url });
    expect(answer.status).toBe(503);
    expect(answer.header).toBe(presented());
    expect(answer.json).toMatchObject({ status: 'fail', presentedThumbprint: presented() });
    expect(String(answer.json.reason)).toMatch(reason);
    expect((answer.json.partner as { status?: number } | undefined)?.status).toBe(partnerStatus);
  });

  it('the certificate cannot be loaded: 503 fail with the loader reason, nothing presented, the partner not called', async () => {
    const before = partner.seen.length;
    const answer = await health({
      certificate: () => loadClientCertificate({ env: { WEBSITE_PRIVATE_CERTS_PATH: dir.path, WEBSITE_LOAD_CERTIFICATES: f.billing.thumbprint } }),
      partnerUrl: partner.url,
    });
    expect(answer.status).toBe(503);
    expect(answer.header).toBeNull();
    expect(answer.json.status).toBe('fail');
    expect(answer.json.presentedThumbprint).toBeUndefined();
    expect(String(answer.json.reason)).toMatch(/is not loaded: .*\.p12 does not exist/);
    expect(partner.seen.length).toBe(before);
    expect(() => loadClientCertificate({ env: { WEBSITE_PRIVATE_CERTS_PATH: dir.path, WEBSITE_LOAD_CERTIFICATES: f.billing.thumbprint } })).toThrow(ClientCertificateNotFoundError);
  });

  it('no answer contains key material', async () => {
    const certificate = load(f.ordersNew.thumbprint);
    const answers = [await health({ certificate, partnerUrl: partner.url })];
    partner.setTrustedCas([]);
    answers.push(await health({ certificate, partnerUrl: partner.url }));
    for (const answer of answers) {
      const text = JSON.stringify(answer);
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(certificate.pfx.toString('base64').slice(0, 40));
    }
  });
});
