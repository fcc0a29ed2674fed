// The verification contract of the via-app probe (docs/operations.md, "Verification contract"), shape by shape, over
// real HTTPS: a small local server answers each health shape the frameworks document, the HttpsProber judges it.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/index.js';
import { judgeHealthAnswer, normaliseThumbprint, THUMBPRINT_KEYS } from '../../src/probes/healthContract.js';
import { HttpsProber } from '../../src/probes/prober.js';

const EXPECTED = 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678';
const OTHER = '0000111122223333444455556666777788889999';
const colons = (t: string) => t.match(/../g)!.join(':').toLowerCase();

interface Shape {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

const json = (value: unknown, status = 200, headers: Record<string, string> = {}): Shape => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(value),
});
const text = (body: string, status = 200): Shape => ({ status, headers: { 'content-type': 'text/plain' }, body });

/** ASP.NET Core's UIResponseWriter-style JSON: checks under entries.<name>, their data under `.data`. */
const aspNetJson = (status: string, data: Record<string, unknown> = {}) =>
  json({ status, totalDuration: '00:00:00.0123', entries: { 'outbound-mtls': { status, duration: '00:00:00.01', data } } }, status === 'Unhealthy' ? 503 : 200);
/** Spring Boot actuator with show-details: indicators under components.<name>.details. */
const springDetails = (status: string, details: Record<string, unknown>, code = 200) =>
  json({ status, components: { partner: { status, details } } }, code);

let server: https.Server;
let base: string;
let prober: HttpsProber;
const shapes = new Map<string, Shape>();

beforeAll(async () => {
  const ca = createCertificateAuthority({ commonName: 'health contract test CA' });
  const leaf = issueCertificate(ca, { commonName: '127.0.0.1', usage: 'server', altNames: ['127.0.0.1'] });
  server = https.createServer({ cert: leaf.certPem, key: leaf.keyPem }, (request, response) => {
    const shape = shapes.get(decodeURIComponent((request.url ?? '/').slice(1)));
    if (!shape) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(shape.status, shape.headers ?? {});
    response.end(shape.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  prober = new HttpsProber({ timeoutMs: 5000, extraCaPems: [ca.certPem] });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

type Row = [
  sentence: string,
  shape: Shape,
  expectation: { thumbprint?: string; requireReport?: boolean },
  verdict: { ok: boolean; transient?: boolean; verification?: 'thumbprint' | 'status'; observed?: string; detail: RegExp },
];

const rows: Row[] = [
  // Bare 2xx: what most apps have.
  ['ASP.NET Core text Healthy passes on status', text('Healthy'), { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /status only/ }],
  ['ASP.NET Core text Degraded passes (ASP.NET answers 200 for it)', text('Degraded'), {}, { ok: true, verification: 'status', detail: /answered 200/ }],
  ['ASP.NET Core text Unhealthy with 200 fails for good', text('Unhealthy'), {}, { ok: false, transient: false, detail: /says 'Unhealthy'/ }],
  ['ASP.NET Core text Unhealthy with 503 fails transiently', text('Unhealthy', 503), {}, { ok: false, transient: true, detail: /answered 503/ }],
  ['ASP.NET Core JSON writer Healthy passes on status', aspNetJson('Healthy'), { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /status only/ }],
  ['ASP.NET Core JSON writer Unhealthy (503) fails', aspNetJson('Unhealthy'), {}, { ok: false, transient: true, detail: /answered 503: Unhealthy/ }],
  ['ASP.NET Core JSON writer Unhealthy with 200 fails for good', json({ status: 'Unhealthy', entries: {} }), {}, { ok: false, transient: false, detail: /says status 'Unhealthy'/ }],
  ['Spring Boot {"status":"UP"} passes on status', json({ status: 'UP' }), { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /status only/ }],
  ['Spring Boot {"status":"DOWN"} with 200 fails for good', json({ status: 'DOWN' }), {}, { ok: false, transient: false, detail: /says status 'DOWN'/ }],
  ['Spring Boot {"status":"DOWN"} with 503 fails transiently', json({ status: 'DOWN' }, 503), {}, { ok: false, transient: true, detail: /answered 503: DOWN/ }],
  ['Spring Boot OUT_OF_SERVICE with 200 fails', json({ status: 'out_of_service' }), {}, { ok: false, transient: false, detail: /OUT_OF_SERVICE/i }],
  ['health+json "fail" with 200 fails', json({ status: 'fail' }), {}, { ok: false, transient: false, detail: /status 'fail'/ }],
  ['health+json "warn" passes', json({ status: 'warn' }), {}, { ok: true, verification: 'status', detail: /answered 200/ }],
  ['a plain OK passes on status', text('OK'), { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /status only/ }],
  ['204 with no body passes on status', { status: 204 }, { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /answered 204/ }],
  // Redirects and refusals.
  ['302 to /login fails and names where it redirects', { status: 302, headers: { location: '/login?next=/healthz' } }, {}, { ok: false, transient: false, detail: /302 redirecting to \/login\?next=\/healthz: a redirect proves nothing/ }],
  ['301 fails too', { status: 301, headers: { location: 'https://127.0.0.1/healthz/' } }, {}, { ok: false, transient: false, detail: /301 redirecting to .*a redirect proves nothing/ }],
  ['401 fails for good', text('Unauthorized', 401), {}, { ok: false, transient: false, detail: /answered 401/ }],
  ['502 (the outbound call failed) fails for good', json({ status: 'fail', reason: 'partner refused the client certificate' }, 502), {}, { ok: false, transient: false, detail: /502: partner refused/ }],
  // Thumbprint reports.
  ...THUMBPRINT_KEYS.map(
    (key): Row => [`JSON '${key}' reporting the expected thumbprint confirms it`, json({ ok: true, [key]: EXPECTED }), { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ),
  ['a key in another case counts ("Thumbprint")', json({ Thumbprint: EXPECTED.toLowerCase() }), { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ['a colon-separated lower-case value counts', json({ thumbprint: colons(EXPECTED) }), { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ['header x-presented-thumbprint confirms it', { ...text('OK'), headers: { 'x-presented-thumbprint': EXPECTED } }, { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ['header x-client-cert-thumbprint confirms it', { status: 204, headers: { 'x-client-cert-thumbprint': EXPECTED.toLowerCase() } }, { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ['a mismatching thumbprint fails for good, naming both', json({ ok: true, thumbprint: OTHER }), { thumbprint: EXPECTED }, { ok: false, transient: false, observed: OTHER, detail: new RegExp(`^app presented ${OTHER}, expected ${EXPECTED}$`) }],
  ['a mismatching header fails although the body matches', { ...json({ thumbprint: EXPECTED }), headers: { 'content-type': 'application/json', 'x-presented-thumbprint': OTHER } }, { thumbprint: EXPECTED }, { ok: false, transient: false, observed: OTHER, detail: /presented 0000/ }],
  ['ASP.NET Core JSON writer data (entries.<name>.data) is read', aspNetJson('Healthy', { clientCertificateThumbprint: EXPECTED }), { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ['Spring Boot details (components.<name>.details) are read', springDetails('UP', { certThumbprint: EXPECTED }), { thumbprint: EXPECTED }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
  ['a nested mismatch fails', springDetails('UP', { thumbprint: OTHER }), { thumbprint: EXPECTED }, { ok: false, transient: false, observed: OTHER, detail: /presented 0000/ }],
  ['a report deeper than depth 4 is not read', json({ a: { b: { c: { d: { e: { thumbprint: OTHER } } } } } }), { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /status only/ }],
  ['a value that is not a thumbprint is no report', json({ status: 'UP', thumbprint: 'n/a' }), { thumbprint: EXPECTED }, { ok: true, verification: 'status', detail: /status only/ }],
  ['without an expected thumbprint a report passes on status only', json({ thumbprint: OTHER }), {}, { ok: true, verification: 'status', observed: OTHER, detail: /no single expected/ }],
  // expect=thumbprint: the report is mandatory.
  ['expect=thumbprint without a report fails for good', json({ status: 'UP' }), { thumbprint: EXPECTED, requireReport: true }, { ok: false, transient: false, detail: /without reporting the certificate/ }],
  ['expect=thumbprint with a 204 fails', { status: 204 }, { thumbprint: EXPECTED, requireReport: true }, { ok: false, transient: false, detail: /204 without reporting/ }],
  ['expect=thumbprint with the expected report passes', json({ thumbprint: EXPECTED }), { thumbprint: EXPECTED, requireReport: true }, { ok: true, verification: 'thumbprint', observed: EXPECTED, detail: /presenting/ }],
];

describe('the via-app verification contract, over real HTTPS', () => {
  it.each(rows)('%s', async (sentence, shape, expectation, verdict) => {
    shapes.set(sentence, shape);
    const result = await prober.viaApp(`${base}/${encodeURIComponent(sentence)}`, expectation.thumbprint, expectation.requireReport ? { requireReport: true } : {});
    expect(result).toMatchObject({ kind: 'via-app', ok: verdict.ok, status: shape.status });
    if (verdict.transient !== undefined) expect(result.transient).toBe(verdict.transient);
    expect(result.verification).toBe(verdict.verification);
    expect(result.observedThumbprint).toBe(verdict.observed);
    expect(result.detail).toMatch(verdict.detail);
  });
});

describe('the contract as a pure function', () => {
  it.each([
    ['40 hex digits', EXPECTED.toLowerCase(), EXPECTED],
    ['colons and spaces removed', ` ${colons(EXPECTED)} `, EXPECTED],
    ['39 digits is not a thumbprint', EXPECTED.slice(1), undefined],
    ['a SHA-256 is not a thumbprint', 'AB'.repeat(32), undefined],
    ['non-hex is not a thumbprint', 'G'.repeat(40), undefined],
  ])('normaliseThumbprint: %s', (_sentence, value, expected) => {
    expect(normaliseThumbprint(value)).toBe(expected);
  });

  it('keeps key material out of the detail an app sends back', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\n-----END PRIVATE KEY-----';
    const verdict = judgeHealthAnswer({ status: 500, headers: {}, body: JSON.stringify({ reason: `broken ${pem}` }) });
    expect(verdict.detail).toContain('[pem]');
    expect(verdict.detail).not.toContain('MIIEvQ');
  });
});
