// Shared by the downstream and app suites (owned with them): a sandbox CA for server certificates, two
// partner CAs for client certificates, and a bounded HTTPS GET that reports status and JSON.
import https from 'node:https';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../../src/crypto/index.js';

export interface MtlsFixtures {
  sandboxCa: IssuedCertificate;
  serverCert: IssuedCertificate;
  caA: IssuedCertificate;
  caB: IssuedCertificate;
  certA: IssuedCertificate;
  certB: IssuedCertificate;
}

export function makeFixtures(): MtlsFixtures {
  const sandboxCa = createCertificateAuthority({ commonName: 'Sandbox CA' });
  const caA = createCertificateAuthority({ commonName: 'Partner CA A' });
  const caB = createCertificateAuthority({ commonName: 'Partner CA B' });
  return {
    sandboxCa,
    caA,
    caB,
    serverCert: issueCertificate(sandboxCa, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1', 'localhost'] }),
    certA: issueCertificate(caA, { commonName: 'client-a', usage: 'client', notAfter: new Date(Date.now() + 30 * 86_400_000) }),
    certB: issueCertificate(caB, { commonName: 'client-b', usage: 'client', notAfter: new Date(Date.now() + 400 * 86_400_000) }),
  };
}

export interface GetResult {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

export function httpsGet(
  url: string,
  opts: { ca: string; cert?: IssuedCertificate; timeoutMs?: number },
): Promise<GetResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(url), {
      method: 'GET',
      ca: opts.ca,
      ...(opts.cert !== undefined ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
      agent: false,
      timeout: opts.timeoutMs ?? 10_000,
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // leave empty: the assertion on `text` or `status` will say what came back
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.end();
  });
}
