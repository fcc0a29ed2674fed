import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDownstream, type Downstream } from '../../sandbox/downstream.js';
import { httpsGet, makeFixtures, type MtlsFixtures } from './mtls-fixtures.js';

let f: MtlsFixtures;
let downstream: Downstream;

beforeAll(async () => {
  f = makeFixtures();
  downstream = await startDownstream({ name: 'partner', trustedCaPems: [f.caA.certPem], serverCert: f.serverCert });
});

afterAll(async () => {
  await downstream?.stop();
});

function resetDownstream(): void {
  downstream.setTrustedCas([f.caA.certPem]);
  downstream.setAllowedThumbprints(undefined);
  downstream.setHang(false);
}

describe('a downstream that authenticates callers by client certificate', () => {
  it('listens on loopback with a server certificate the sandbox CA vouches for', () => {
    expect(downstream.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it.each([
    ['a client certificate from the trusted CA is authorized', () => f.certA, 200, 'client-a', undefined],
    ['a caller without a client certificate is refused', () => undefined, 403, undefined, 'no client certificate presented'],
    ['a client certificate from an untrusted CA is refused', () => f.certB, 403, 'client-b', 'not trusted'],
  ])('%s', async (_name, cert, status, subjectCn, reason) => {
    resetDownstream();
    const before = downstream.seen.length;
    const res = await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: cert() });
    expect(res.status).toBe(status);
    expect(res.json.ok).toBe(status === 200);
    const seen = downstream.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.authorized).toBe(status === 200);
    if (cert() !== undefined) {
      expect(seen[0]!.thumbprint).toBe(cert()!.thumbprint);
      expect(seen[0]!.subject).toBe(`CN=${subjectCn}`);
    }
    if (status === 200) {
      expect(res.json).toMatchObject({ clientThumbprint: f.certA.thumbprint, subject: 'CN=client-a', issuer: 'CN=Partner CA A' });
    } else {
      expect(String(res.json.reason)).toContain(reason);
      expect(seen[0]!.reason).toContain(reason);
    }
  });

  it.each([
    ['a thumbprint on the allow-list is authorized (compared case-insensitively)', () => [f.certA.thumbprint.toLowerCase()], 200],
    ['a thumbprint missing from the allow-list is refused even from a trusted CA', () => [f.certB.thumbprint], 403],
    ['an empty allow-list refuses everyone', () => [], 403],
  ])('%s', async (_name, allowList, status) => {
    resetDownstream();
    downstream.setAllowedThumbprints(allowList());
    const res = await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certA });
    expect(res.status).toBe(status);
    if (status === 403) expect(String(res.json.reason)).toContain('not on the allow-list');
  });

  it('a trust change at run time applies to the very next call', async () => {
    resetDownstream();
    expect((await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certB })).status).toBe(403);
    downstream.setTrustedCas([f.caB.certPem]);
    expect((await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certB })).status).toBe(200);
    expect((await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certA })).status).toBe(403);
    downstream.setTrustedCas([]);
    const none = await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certB });
    expect(none.status).toBe(403);
    expect(String(none.json.reason)).toContain('no trusted CA');
  });

  it('a hanging downstream accepts the connection and never answers', async () => {
    resetDownstream();
    downstream.setHang(true);
    await expect(httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certA, timeoutMs: 300 })).rejects.toThrow('client timeout');
    downstream.setHang(false);
    expect((await httpsGet(downstream.url, { ca: f.sandboxCa.certPem, cert: f.certA })).status).toBe(200);
  });
});
