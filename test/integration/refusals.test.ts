// Candidates the engine must refuse and apps whose settings or tags it cannot trust: each refused with a message
// that names the reason, and nothing written. Also RenewalMissing (alert only) and two bindings in one restart.
// One sandbox and one Azurite; one app per case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import type { CertificateVersionSpec } from '../../sandbox/scenario.js';
import { createRotator, type Config, type RotationResult, type Rotator } from '../../src/core/index.js';
import { useAzurite } from '../helpers/azurite.js';
import { appRef, deps as makeDeps, independentApps, sandboxConfig, SUB, VAULT, watch } from './world.js';

const NEW: CertificateVersionSpec = { issuer: 'ca-new', notBeforeDays: -1, notAfterDays: 365 };
const thumb = (name: string) => `{{thumbprint:${VAULT}/${name}-client/0}}`;

interface RefusedCase {
  app: string;
  renewals?: CertificateVersionSpec[];
  contentType?: 'application/x-pem-file';
  forbidden?: boolean;
  /** skipped = refused on Key Vault's metadata when planning; aborted = refused on the secret, before any upload. */
  outcome: 'skipped' | 'aborted';
  message: RegExp;
}

// Keyed by the sentence the test prints.
const REFUSED: Record<string, RefusedCase> = {
  'the renewed version is disabled in Key Vault': { app: 'ref-disabled', renewals: [{ ...NEW, enabled: false }], outcome: 'skipped', message: /Disabled: version \w+ is disabled in Key Vault/ },
  'the renewed version has expired': { app: 'ref-expired', renewals: [{ issuer: 'ca-new', notBeforeDays: -400, notAfterDays: -1 }], outcome: 'skipped', message: /Expired: version \w+ expired on / },
  'the renewed version is not valid yet': { app: 'ref-notyet', renewals: [{ issuer: 'ca-new', notBeforeDays: 5, notAfterDays: 365 }], outcome: 'skipped', message: /NotYetValid: version \w+ is not valid before / },
  'the renewed version expires before the loaded one': { app: 'ref-shorter', renewals: [{ issuer: 'ca-new', notBeforeDays: -1, notAfterDays: 5 }], outcome: 'skipped', message: /ExpiresBeforeLoaded: version \w+ expires on .*, not after the loaded certificate/ },
  'the secret has no private key': { app: 'ref-nokey', renewals: [{ ...NEW, defect: 'noPrivateKey' }], outcome: 'aborted', message: /CandidateRefused: NoPrivateKey: version \w+: no private key/ },
  "the secret's key does not match the certificate": { app: 'ref-keymismatch', renewals: [{ ...NEW, defect: 'keyMismatch' }], outcome: 'aborted', message: /CandidateRefused: KeyMismatch: version \w+: the private key does not match/ },
  'the secret is a corrupt PFX': { app: 'ref-corrupt', renewals: [{ ...NEW, defect: 'corrupt' }], outcome: 'aborted', message: /CandidateRefused: Corrupt: version \w+: the PFX is not a DER\/BER PKCS#12 structure/ },
  'the secret has the wrong content type': { app: 'ref-contenttype', renewals: [{ ...NEW, defect: 'wrongContentType' }], outcome: 'aborted', message: /CandidateRefused: UnsupportedContentType: .*unsupported secret content type/ },
  'Key Vault answers 403 for the certificate': { app: 'ref-forbidden', forbidden: true, outcome: 'skipped', message: /get Key Vault certificate .*: not authorized \(answered 403 Forbidden/ },
};

interface MalformedCase {
  app: string;
  settings?: Record<string, string>;
  tags?: Record<string, string>;
  message: RegExp;
}

const MALFORMED: Record<string, MalformedCase> = {
  'WEBSITE_LOAD_CERTIFICATES holds something that is not a thumbprint': {
    app: 'bad-load',
    settings: { WEBSITE_LOAD_CERTIFICATES: `${thumb('bad-load')},not-a-thumbprint`, CLIENT_CERT_THUMBPRINT: thumb('bad-load') },
    message: /WEBSITE_LOAD_CERTIFICATES has entries that are not thumbprints: 'not-a-thumbprint'/,
  },
  'WEBSITE_LOAD_CERTIFICATES is empty': {
    app: 'bad-empty',
    settings: { WEBSITE_LOAD_CERTIFICATES: ' ', CLIENT_CERT_THUMBPRINT: thumb('bad-empty') },
    message: /WEBSITE_LOAD_CERTIFICATES is not set/,
  },
  'the health tag is not a path': {
    app: 'bad-health',
    tags: { 'mtls-rotation-health': 'healthz' },
    message: /tag mtls-rotation-health: 'healthz' must be a path/,
  },
  'the settings tag names something that is not a setting name': {
    app: 'bad-settings-tag',
    tags: { 'mtls-rotation-settings': 'CLIENT CERT' },
    message: /tag mtls-rotation-settings: 'CLIENT CERT' is not a valid app setting name/,
  },
};

function scenario(): Scenario {
  const world = independentApps([
    ...Object.values(REFUSED).map((c) => ({
      name: c.app,
      ...(c.renewals ? { renewals: c.renewals } : {}),
      ...(c.forbidden ? { forbidden: true } : {}),
    })),
    ...Object.values(MALFORMED).map((c) => ({ name: c.app, ...(c.settings ? { settings: c.settings } : {}) })),
    // Near expiry, and Key Vault has nothing newer than what the app loads.
    { name: 'renewal-missing', renewals: [] },
    { name: 'two-a' },
    { name: 'two-b' },
  ]);
  const groups = world.subscriptions[0]!.resourceGroups;
  for (const c of Object.values(MALFORMED)) {
    const site = groups.find((g) => g.name === `rg-${c.app}`)!.sites![0]!;
    site.tags = { ...site.tags, ...c.tags };
  }
  // One app loading two certificates (both linked to Key Vault) that are both due: one pass, one restart.
  const a = groups.find((g) => g.name === 'rg-two-a')!;
  const b = groups.find((g) => g.name === 'rg-two-b')!;
  a.certificates = [
    { name: 'two-a-client-v0', fromVault: { vault: VAULT, certificate: 'two-a-client', version: 0 }, linked: true },
    { name: 'two-b-client-v0', fromVault: { vault: VAULT, certificate: 'two-b-client', version: 0 }, linked: true },
  ];
  const site = a.sites![0]!;
  site.name = 'two-bindings';
  delete site.tags!['mtls-rotation-source'];
  delete site.tags!['mtls-rotation-settings'];
  site.settings = { WEBSITE_LOAD_CERTIFICATES: `${thumb('two-a')}, ${thumb('two-b')}`, OTHER: 'kept' };
  b.sites = [];
  b.certificates = [];
  return world;
}

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;
let rotator: Rotator;

beforeAll(async () => {
  sb = await startSandbox(scenario());
  config = sandboxConfig(sb, azurite().connectionString, SUB);
  rotator = createRotator(makeDeps(sb, config), config);
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

/** What an operator reads about a result: the record's reason, or the plan's refusals and problems. */
function messageOf(result: RotationResult): string {
  const lines = [result.reason ?? '', ...(result.problems ?? [])];
  for (const b of result.plan?.bindings ?? []) {
    if (b.refusal) lines.push(`${b.refusal.refusal}: ${b.refusal.message}`);
    if (b.problem) lines.push(b.problem);
  }
  return lines.join('\n');
}

describe('refused candidates: a message naming the reason, zero writes', () => {
  it.each(Object.entries(REFUSED))('%s', async (_sentence, c) => {
    const before = sb.control.appSettings(appRef(c.app));
    const w = watch(sb);
    const result = await rotator.rotateApp(c.app, { trigger: 'cli' });
    expect(result.outcome).toBe(c.outcome);
    expect(messageOf(result)).toMatch(c.message);
    // The refusal is a finding, not a leak: no key material in what the operator reads.
    expect(messageOf(result)).not.toMatch(/PRIVATE KEY|MII[A-Za-z0-9+/]{40}/);
    expect(w.changes()).toEqual([]);
    expect(sb.control.appSettings(appRef(c.app))).toEqual(before);
  });
});

describe('malformed settings and tags: a message naming the setting or tag, zero writes', () => {
  it.each(Object.entries(MALFORMED))('%s', async (_sentence, c) => {
    const w = watch(sb);
    const result = await rotator.rotateApp(c.app, { trigger: 'cli' });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'AppProblems' });
    expect(result.problems?.join('\n')).toMatch(c.message);
    expect(w.changes()).toEqual([]);
  });
});

describe('no change needed or possible', () => {
  it('RenewalMissing (near expiry, nothing newer in Key Vault) is an alert in the plan and changes nothing', async () => {
    const w = watch(sb);
    const plan = await rotator.plan({ app: 'renewal-missing' });
    expect(plan.apps[0]).toMatchObject({ action: 'alert' });
    expect(plan.apps[0]?.bindings[0]).toMatchObject({ reason: 'RenewalMissing', due: false });
    expect(plan.apps[0]?.bindings[0]?.message).toMatch(/and Key Vault has no newer version$/);
    const result = await rotator.rotateApp('renewal-missing', { trigger: 'cli' });
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'NothingDue' });
    expect(w.changes()).toEqual([]);
  });

  it('a source Key Vault refuses to read (403) is not reported as having nothing newer: the alert names the 403', async () => {
    const plan = await rotator.plan({ app: 'ref-forbidden' });
    const binding = plan.apps[0]?.bindings[0];
    expect(plan.apps[0]).toMatchObject({ action: 'alert' });
    expect(binding).toMatchObject({ reason: 'RenewalMissing', due: false });
    expect(binding?.message).toMatch(/^certificate [0-9A-F]{40} expires on .*, and no renewal can be looked up: .*403 Forbidden/);
    expect(binding?.message).not.toMatch(/has no newer version/);
  });
});

describe('two bindings', () => {
  it('an app loading two due certificates gets both switched in one settings write and one restart, order kept', async () => {
    const ref = { ...appRef('two-a'), site: 'two-bindings' };
    const newA = sb.control.thumbprint(`${VAULT}/two-a-client/latest`);
    const newB = sb.control.thumbprint(`${VAULT}/two-b-client/latest`);
    const restarts = sb.control.restarts(ref);
    const w = watch(sb);
    const result = await rotator.rotateApp('two-bindings', { trigger: 'cli' });
    expect(result.outcome, result.reason).toBe('committed');
    expect(result.record?.bindings).toHaveLength(2);
    // Entries replaced in place: the separator the operator wrote is kept too.
    expect(sb.control.appSettings(ref)).toEqual({ WEBSITE_LOAD_CERTIFICATES: `${newA}, ${newB}`, OTHER: 'kept' });
    expect(sb.control.restarts(ref)).toBe(restarts + 1);
    const ops = w.changes({ site: 'two-bindings' }).map((r) => r.operation);
    expect(ops.filter((o) => o === 'WebApps_UpdateApplicationSettings')).toHaveLength(1);
    expect(ops.filter((o) => o === 'WebApps_Restart')).toHaveLength(1);
    expect(sb.control.loadedThumbprints(ref).sort()).toEqual([newA, newB].sort());
  });
});
