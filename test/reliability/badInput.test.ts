// Bad input catalogue: settings, certificates, tags, configuration, HTTP bodies and client certificates that are
// wrong in every way the platform lets them be. Each gets a clear error that names the problem, and nothing is
// written to App Service (counted from the sandbox's request log).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import type { SiteSpec, VaultCertificateSpec } from '../../sandbox/scenario.js';
import { loadConfig, type Config } from '../../src/core/index.js';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/index.js';
import { readClientCertSettings } from '../../src/core/clientCertPolicy.js';
import { authenticateCaller, clientCertGate } from '../../src/functions/auth/clientCert.js';
import { readRotationRequest } from '../../src/functions/http/rotationRequest.js';
import { errorResponse } from '../../src/functions/http/errorBoundary.js';
import { HttpRequest, InvocationContext } from '../../src/functions/http/runtime.js';
import { useAzurite } from '../helpers/azurite.js';
import { Capture, configFor, engine, sandboxEnv, ShiftClock, SUB, suiteSeed, rng, type Engine } from './world.js';

const VAULT = 'kv-rel';
const LOCKED = 'kv-locked';

interface AppCase {
  sentence: string;
  /** Vault certificate the app's source tag names; its version 0 is what the app loads (due in 10 days). */
  certificate?: Omit<VaultCertificateSpec, 'name'> & { vault?: string };
  tags?: Record<string, string>;
  /** WEBSITE_LOAD_CERTIFICATES; `{{v0}}` is the thumbprint of the app's version 0. */
  load?: string;
  /** Write the thumbprint in lowercase, as an operator may. */
  lower?: boolean;
  /** A pattern the error must match, or `rotates`: input the platform accepts, so the rotation must commit onto the renewal. */
  expect: RegExp | 'rotates';
}

const good = { issuer: 'ca', notAfterDays: 10 };
const bad = (version: Record<string, unknown>, contentType?: VaultCertificateSpec['contentType']): AppCase['certificate'] => ({
  ...(contentType ? { contentType } : {}),
  versions: [good, { issuer: 'ca', notAfterDays: 365, ...version }],
});

const APP_CASES: AppCase[] = [
  { sentence: 'WEBSITE_LOAD_CERTIFICATES in lowercase (the platform compares case-insensitively)', load: '{{v0}}', lower: true, expect: 'rotates' },
  { sentence: 'WEBSITE_LOAD_CERTIFICATES padded with spaces (the platform trims)', load: '  {{v0}} ,  ', expect: 'rotates' },
  { sentence: 'the Key Vault PEM secret has the certificate before the key (order is not meaning)', certificate: bad({ defect: 'pemCertificateFirst' }, 'application/x-pem-file'), expect: 'rotates' },
  { sentence: 'WEBSITE_LOAD_CERTIFICATES is not a thumbprint', load: 'not-a-thumbprint', expect: /WEBSITE_LOAD_CERTIFICATES|thumbprint/i },
  { sentence: 'WEBSITE_LOAD_CERTIFICATES has 40 characters that are not hex', load: 'Z'.repeat(40), expect: /WEBSITE_LOAD_CERTIFICATES|thumbprint/i },
  { sentence: 'WEBSITE_LOAD_CERTIFICATES is a short hex string', load: 'ABCDEF0123', expect: /WEBSITE_LOAD_CERTIFICATES|thumbprint/i },
  { sentence: 'WEBSITE_LOAD_CERTIFICATES has empty entries around a bad one', load: ',,xyz,', expect: /WEBSITE_LOAD_CERTIFICATES|thumbprint/i },
  { sentence: 'WEBSITE_LOAD_CERTIFICATES names a thumbprint no certificate of the webspace has, without a source', load: '0BADC0DE'.repeat(5), tags: { 'mtls-rotation-source': '' }, expect: /0BADC0DE|dangl|no certificate|not found/i },
  { sentence: 'the Key Vault version is disabled', certificate: bad({ enabled: false }), expect: /disabled/i },
  { sentence: 'the Key Vault version has expired', certificate: bad({ notAfterDays: -1 }), expect: /expire/i },
  { sentence: 'the Key Vault version is not yet valid', certificate: bad({ notBeforeDays: 5 }), expect: /not yet valid|notBefore|not valid before/i },
  { sentence: 'the Key Vault version lives shorter than the loaded one', certificate: bad({ notAfterDays: 5 }), expect: /ExpiresBeforeLoaded/ },
  { sentence: 'the Key Vault secret has no private key', certificate: bad({ defect: 'noPrivateKey' }), expect: /private key/i },
  { sentence: 'the Key Vault secret has a key that does not match the certificate', certificate: bad({ defect: 'keyMismatch' }), expect: /match/i },
  { sentence: 'the Key Vault PFX is corrupt', certificate: bad({ defect: 'corrupt' }), expect: /PFX|PKCS|corrupt|parse|read/i },
  { sentence: 'the Key Vault secret has the wrong content type', certificate: bad({ defect: 'wrongContentType' }), expect: /content.?type/i },
  { sentence: 'Key Vault answers 403 for the certificate', certificate: { forbidden: true, versions: [good, { issuer: 'ca', notAfterDays: 365 }] }, expect: /403|forbidden|denied/i },
  { sentence: 'Key Vault answers 403 for the whole vault', certificate: { vault: LOCKED, versions: [good, { issuer: 'ca', notAfterDays: 365 }] }, expect: /403|forbidden|denied/i },
  { sentence: 'the source tag is an http URL of another host', tags: { 'mtls-rotation-source': 'http://evil.example.com/certificates/x' }, expect: /tag mtls-rotation-source: /i },
  { sentence: 'the source tag is not a URL', tags: { 'mtls-rotation-source': 'my certificate' }, expect: /tag mtls-rotation-source: /i },
  { sentence: 'the source tag names a secret, not a certificate', tags: { 'mtls-rotation-source': 'https://127.0.0.1:1/secrets/x' }, expect: /tag mtls-rotation-source: /i },
  { sentence: 'the settings tag names something that is not a setting name', tags: { 'mtls-rotation-settings': 'BAD NAME!' }, expect: /tag mtls-rotation-settings: 'BAD NAME!' is not a valid/ },
  { sentence: 'the probe tag is not a URL', tags: { 'mtls-rotation-probe': 'partner-api' }, expect: /tag mtls-rotation-probe: /i },
  { sentence: 'the probe tag is a plain http URL', tags: { 'mtls-rotation-probe': 'http://127.0.0.1:1/' }, expect: /tag mtls-rotation-probe: /i },
  { sentence: 'the health tag is not a path', tags: { 'mtls-rotation-health': 'healthz' }, expect: /tag mtls-rotation-health: 'healthz' must be a path/ },
];

const appName = (i: number): string => `bad-${i}`;
const certName = (i: number): string => `cert-${i}`;

function scenario(): Scenario {
  const ownCerts = APP_CASES.flatMap((c, i) => (c.certificate ? [{ i, c }] : []));
  const site = (c: AppCase, i: number): SiteSpec => {
    const vault = c.certificate?.vault ?? VAULT;
    const cert = c.certificate ? certName(i) : 'shared';
    const v0 = `{{thumbprint:${vault}/${cert}/0}}`;
    return {
      name: appName(i),
      tags: {
        'mtls-rotation': 'enabled',
        'mtls-rotation-source': `{{source:${vault}/${cert}}}`,
        'mtls-rotation-health': '/healthz/outbound-mtls',
        'mtls-rotation-probe': '{{downstream:partner}}',
        ...c.tags,
      },
      downstream: 'partner',
      restartMs: 20,
      settings: { WEBSITE_LOAD_CERTIFICATES: (c.load ?? '{{v0}}').replace('{{v0}}', v0), OTHER: 'kept' },
    };
  };
  return {
    name: 'bad-input',
    cas: [{ name: 'ca' }],
    vaults: [
      {
        name: VAULT,
        subscriptionId: SUB,
        resourceGroup: 'rg-kv',
        certificates: [
          { name: 'shared', versions: [{ ...good, material: 'shared-0' }, { issuer: 'ca', notAfterDays: 365, material: 'shared-1' }] },
          ...ownCerts.filter(({ c }) => !c.certificate?.vault).map(({ i, c }) => {
            const { vault: _vault, ...spec } = c.certificate ?? { versions: [] };
            return { name: certName(i), ...spec };
          }),
        ],
      },
      {
        name: LOCKED,
        subscriptionId: SUB,
        resourceGroup: 'rg-kv',
        forbidden: true,
        certificates: ownCerts.filter(({ c }) => c.certificate?.vault === LOCKED).map(({ i, c }) => ({ name: certName(i), versions: c.certificate?.versions ?? [] })),
      },
    ],
    downstreams: [{ name: 'partner', trusts: ['ca'] }],
    subscriptions: [
      {
        id: SUB,
        resourceGroups: [
          { name: 'rg-kv', location: 'West Europe' },
          ...APP_CASES.map((c, i) => {
            const vault = c.certificate?.vault ?? VAULT;
            const cert = c.certificate ? certName(i) : 'shared';
            return {
              name: `rg-${appName(i)}`,
              location: 'West Europe',
              certificates: [{ name: `${appName(i)}-v0`, fromVault: { vault, certificate: cert, version: 0 as const } }],
              sites: [site(c, i)],
            };
          }),
        ],
      },
    ],
  };
}

const azurite = useAzurite();
const capture = new Capture();
const clock = new ShiftClock();
const seed = suiteSeed('bad input');
const random = rng(seed);
let sb: Sandbox;
let config: Config;
let svc: Engine;
const figures = { cases: 0, clear: 0, tolerated: 0, writes: 0, serverErrors: 0, unclear: [] as string[] };

/** App Service writes: everything but reads and the settings list action (a POST that only reads). */
function appServiceWrites(since: number): string[] {
  return sb.control
    .requests({ since, surface: 'arm' })
    .filter((r) => r.method !== 'GET' && r.operation !== 'WebApps_ListApplicationSettings' && r.operation !== 'WebApps_ListApplicationSettingsSlot')
    .map((r) => `${r.method} ${r.path}`);
}

function lastSeq(): number {
  return sb.control.requests({}).at(-1)?.seq ?? 0;
}

function tally(sentence: string, text: string, pattern: RegExp, writes: string[] = []): void {
  figures.cases += 1;
  capture.add(text);
  figures.writes += writes.length;
  if (pattern.test(text) && writes.length === 0) figures.clear += 1;
  else figures.unclear.push(`${sentence}: ${text.slice(0, 300)}${writes.length ? ` WRITES ${writes.join(', ')}` : ''}`);
}

beforeAll(async () => {
  sb = await startSandbox(scenario());
  config = configFor(sb, azurite().connectionString);
  svc = engine(sb, config, { clock, capture, owner: 'bad-input' });
  // An operator typed the thumbprint in lowercase (scenario placeholders are uppercase).
  for (const [i, c] of APP_CASES.entries()) {
    if (!c.lower) continue;
    const ref = { subscriptionId: SUB, resourceGroup: `rg-${appName(i)}`, site: appName(i) };
    const settings = sb.control.appSettings(ref);
    sb.control.setAppSettings(ref, { ...settings, WEBSITE_LOAD_CERTIFICATES: settings.WEBSITE_LOAD_CERTIFICATES?.toLowerCase() ?? '' });
  }
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

function describeResult(r: { outcome: string; reason?: string; error?: string; problems?: string[]; record?: { reason?: string; error?: string } | undefined; plan?: unknown }): string {
  return JSON.stringify({ outcome: r.outcome, reason: r.reason, error: r.error, problems: r.problems, record: r.record ? { reason: r.record.reason, error: r.record.error } : undefined, plan: r.plan });
}

/** What the HTTP API would answer for this error (the real error boundary); its log lines are captured too. */
function answer(error: unknown): string {
  const context = new InvocationContext({
    invocationId: 'bad-input',
    functionName: 'rotations',
    logHandler: (level, ...args) => capture.add(`${level} ${args.map(String).join(' ')}`),
  });
  const response = errorResponse(error, context);
  const text = `${response.status} ${JSON.stringify(response.jsonBody ?? response.body ?? '')}`;
  capture.add(text);
  if ((response.status ?? 500) >= 500) figures.serverErrors += 1;
  return text;
}

async function httpBody(body: string | undefined, headers: Record<string, string> = {}): Promise<string> {
  const request = new HttpRequest({ method: 'POST', url: 'http://127.0.0.1/api/rotations', headers, ...(body === undefined ? {} : { body: { string: body } }) });
  try {
    return `accepted ${JSON.stringify(await readRotationRequest(request))}`;
  } catch (error) {
    const e = error as { status?: number; code?: string; message?: string };
    return `${e.status} ${e.code} ${e.message} → ${answer(error)}`;
  }
}

describe('bad input catalogue', () => {
  it('every bad input gets a clear error naming the problem; nothing is written', async () => {
    // The order is drawn from the seed: no case may depend on another having run first.
    const order = APP_CASES.map((c, i) => ({ c, i, key: random() })).sort((a, b) => a.key - b.key);
    for (const { c, i } of order) {
      const since = lastSeq();
      let text: string;
      let outcome: string | undefined;
      try {
        const result = await svc.rotator.rotateApp(appName(i), { trigger: 'http' });
        outcome = result.outcome;
        text = describeResult(result);
      } catch (error) {
        text = `threw ${String(error)}`;
      }
      if (c.expect !== 'rotates') {
        tally(c.sentence, text, c.expect, appServiceWrites(since));
        continue;
      }
      figures.cases += 1;
      const cert = c.certificate ? certName(i) : 'shared';
      const renewed = sb.control.thumbprint(`${VAULT}/${cert}/latest`);
      const loaded = sb.control.loadedThumbprints({ subscriptionId: SUB, resourceGroup: `rg-${appName(i)}`, site: appName(i) });
      if (outcome === 'committed' && loaded.length === 1 && loaded[0] === renewed) figures.tolerated += 1;
      else figures.unclear.push(`${c.sentence}: should rotate, got ${text.slice(0, 300)} loading ${loaded.join(',')}`);
    }

    const env = sandboxEnv(sb, azurite().connectionString);
    const configCases: [string, Record<string, string | undefined>, RegExp][] = [
      // Unset is discovery now (every subscription the identity can list); '*' next to ids is what is ambiguous.
      ["'*' next to a subscription id", { AZURE_SUBSCRIPTION_IDS: `*,${SUB}` }, /AZURE_SUBSCRIPTION_IDS/],
      ['a subscription id that is not a GUID', { AZURE_SUBSCRIPTION_IDS: 'prod' }, /AZURE_SUBSCRIPTION_IDS/],
      ['a lease shorter than allowed', { LEASE_SECONDS: '5' }, /LEASE_SECONDS/],
      ['probe attempts that are not a number', { PROBE_ATTEMPTS: 'many' }, /PROBE_ATTEMPTS/],
      ['an ARM endpoint that is not a URL', { ARM_ENDPOINT: 'management' }, /ARM_ENDPOINT/],
      ['a schedule that is not NCRONTAB', { ROTATION_SCHEDULE: 'nightly' }, /ROTATION_SCHEDULE/],
      ['an unknown credential kind', { AZURE_CREDENTIAL: 'password' }, /AZURE_CREDENTIAL/],
      ['static credential without a token', { AZURE_STATIC_TOKEN: undefined }, /AZURE_STATIC_TOKEN/],
    ];
    for (const [sentence, change, pattern] of configCases) {
      let text: string;
      try {
        loadConfig({ ...env, ...change });
        text = 'accepted';
      } catch (error) {
        text = String((error as Error).message);
      }
      tally(`configuration: ${sentence}`, text, pattern);
    }

    const bodyCases: [string, string | undefined, Record<string, string>, RegExp][] = [
      ['no body (what the Functions host leaves of a chunked request)', undefined, { 'transfer-encoding': 'chunked' }, /^400 EmptyBody .*Content-Length/],
      ['a body that is not JSON', '{app: orders', {}, /^400 InvalidJson/],
      ['a JSON array', '["orders"]', {}, /^400 InvalidBody/],
      ['a JSON string', '"orders"', {}, /^400 InvalidBody/],
      ['an unknown field', '{"application":"orders"}', {}, /^400 UnknownField.*application/],
      ['app of the wrong type', '{"app":42}', {}, /^400 InvalidField.*app/],
      ['a subscription that is not a GUID', '{"subscription":"prod"}', {}, /^400 InvalidField.*subscription/],
      ['an app name with control characters', '{"app":"orders\\u0000"}', {}, /^400 InvalidField.*app/],
      ['a body of 100 kB', `{"app":"${'x'.repeat(100_000)}"}`, {}, /^413 /],
      ['a Content-Length that declares 10 MB', '{}', { 'content-length': String(10 * 1024 * 1024) }, /^413 /],
      ['bytes that are not UTF-8', '\udc00', {}, /^400 (InvalidEncoding|InvalidJson)/],
    ];
    for (const [sentence, body, headers, pattern] of bodyCases) tally(`HTTP body: ${sentence}`, await httpBody(body, headers), pattern);

    for (const [sentence, name, pattern] of [
      ['an app that does not exist', 'nope', /no app named 'nope'/],
      ['a name with too many slashes', 'a/b/c', /not an app name/],
      ['a resource id of something else', `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Sql/servers/x`, /not an App Service/],
    ] as const) {
      const since = lastSeq();
      let text: string;
      try {
        text = describeResult(await svc.rotator.rotateApp(name, { trigger: 'http' }));
      } catch (error) {
        text = `threw ${String(error)} → ${answer(error)}`;
      }
      tally(`rotateApp: ${sentence}`, text, pattern, appServiceWrites(since));
    }

    const ca = createCertificateAuthority({ commonName: 'api-ca' });
    const stranger = createCertificateAuthority({ commonName: 'stranger-ca' });
    const strangerLeaf = issueCertificate(stranger, { commonName: 'intruder', usage: 'client' });
    // The production path: the settings as loadConfig reads them, the gate the API builds from them.
    const { settings: certSettings } = readClientCertSettings({ CLIENT_CERT_AUTH: 'required', CLIENT_CERT_TRUSTED_CA: ca.certPem });
    const gate = clientCertGate(certSettings);
    const strangerDer = Buffer.from(strangerLeaf.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const headerCases: [string, string | undefined, RegExp][] = [
      ['no header', undefined, /^401 .*Missing/],
      ['an empty header', '', /^401 .*Missing/],
      ['garbage', '%%% not base64 %%%', /^400 .*Unreadable/],
      ['base64 of garbage', Buffer.from('hello world, not DER').toString('base64'), /^400 .*Unreadable/],
      ['a header of 64 kB', 'A'.repeat(64 * 1024), /^400 .*TooLarge/],
      ['a repeated header', `${strangerDer.toString('base64')}, ${strangerDer.toString('base64')}`, /^400 .*Repeated/],
      ['a certificate followed by extra bytes', Buffer.concat([strangerDer, Buffer.from('tail')]).toString('base64'), /^400 .*TrailingBytes/],
      ['a certificate from an untrusted CA', strangerDer.toString('base64'), /^401 .*Untrusted/],
    ];
    for (const [sentence, header, pattern] of headerCases) {
      let text: string;
      try {
        const request = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1/api/certificates', headers: header === undefined ? {} : { 'x-arr-clientcert': header } });
        const result = authenticateCaller(request, gate, new Date());
        text = result.ok ? 'accepted' : `${result.status} ${result.code} ${result.reason}`;
      } catch (error) {
        text = `threw ${String(error)}`;
      }
      tally(`X-ARR-ClientCert: ${sentence}`, text, pattern);
    }

    console.log(`bad input: ${figures.cases} cases, ${figures.clear} clear errors, ${figures.tolerated} accepted as the platform accepts them (and rotated), ${figures.writes} writes made for the rejected ones, ${figures.serverErrors} HTTP 5xx answers (seed ${seed})`);
    expect(figures.unclear).toEqual([]);
    expect(figures.cases).toBeGreaterThanOrEqual(30);
    expect(figures.writes).toBe(0);
    expect(figures.serverErrors).toBe(0);
  }, 120_000);

  it('no key material in any log line, telemetry envelope, record or answer of these cases', async () => {
    capture.add(await svc.deps.store.listAll());
    const leaks = capture.leaks();
    console.log(`secrets (bad input): ${leaks.pfx} PFX, ${leaks.password} passwords, ${leaks.privateKey} private keys in ${leaks.lines} captured lines (${capture.secrets.pfx.size} PFX watched)`);
    expect(capture.secrets.pfx.size).toBeGreaterThan(0);
    expect(leaks).toMatchObject({ pfx: 0, password: 0, privateKey: 0 });
  });
});
