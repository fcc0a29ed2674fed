// The health-shapes figure: apps whose health paths answer the way real frameworks do (sandbox/README.md, "Health
// shapes"), one app per shape plus apps whose partner refuses the new certificate. The engine scans and rotates
// everything due, twice. Every app must end as the verification contract says (docs/operations.md), each record must
// say how strongly it was verified, and the second run must restart none of the apps it rolled back.
// Outcomes are measured from the outside too: the sandbox's settings, restart counts and the partner's own log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEALTH_SHAPES, startSandbox, type HealthShape, type Sandbox } from '../../sandbox/index.js';
import type { Dependencies } from '../../src/composition.js';
import { createRotator, type Config, type Rotator } from '../../src/core/index.js';
import type { RotationResult } from '../../src/core/rotate.js';
import { useAzurite } from '../helpers/azurite.js';
import { appRef, deps as makeDeps, independentApps, sandboxConfig, SUB, VAULT, type IndependentApp } from './world.js';

interface Expectation {
  app: IndependentApp & { health: HealthShape };
  outcome: 'committed' | 'rolledBack' | 'failed';
  /** committed: the record's verification strength. */
  verification?: 'thumbprint' | 'status';
  /** Not committed: why the second run holds the version back. */
  heldBack?: 'CandidateRejected' | 'BackingOff';
  /** A pattern the first run's reason must match. */
  reason?: RegExp;
}

// Keyed by sentences: what each app is, and what must become of it.
const TABLE: Array<[string, Expectation]> = [
  ['the kit reports the presented thumbprint: committed, verified by thumbprint', { app: { name: 'kit', health: 'kit' }, outcome: 'committed', verification: 'thumbprint' }],
  [
    'the kit with mtls-rotation-health-expect=thumbprint: committed, verified by thumbprint',
    { app: { name: 'kit-strict', health: 'kit', tags: { 'mtls-rotation-health-expect': 'thumbprint' } }, outcome: 'committed', verification: 'thumbprint' },
  ],
  ["ASP.NET Core's text `Healthy`: committed on status", { app: { name: 'aspnet-text', health: 'aspnet-text' }, outcome: 'committed', verification: 'status' }],
  [
    "ASP.NET Core's JSON writer with the thumbprint in the check's data: committed, verified by thumbprint",
    { app: { name: 'aspnet-json', health: 'aspnet-json' }, outcome: 'committed', verification: 'thumbprint' },
  ],
  ['Spring Boot actuator {"status":"UP"}: committed on status', { app: { name: 'spring', health: 'spring' }, outcome: 'committed', verification: 'status' }],
  ['a plain `OK`: committed on status', { app: { name: 'plain-ok', health: 'plain-ok' }, outcome: 'committed', verification: 'status' }],
  ['a 204: committed on status', { app: { name: 'no-content', health: 'no-content' }, outcome: 'committed', verification: 'status' }],
  [
    '{"ok":true,"thumbprint":…} (another common name): committed, verified by thumbprint',
    { app: { name: 'alias', health: 'thumbprint-alias' }, outcome: 'committed', verification: 'thumbprint' },
  ],
  [
    'slow to come back after a restart (503 while it warms up): committed once it answers, verified by thumbprint',
    { app: { name: 'slow', health: 'slow-start', warmupMs: 1500 }, outcome: 'committed', verification: 'thumbprint' },
  ],
  [
    'answers 200 although its partner refuses the new certificate: committed, and the record says only status was verified',
    { app: { name: 'blind', health: 'status-blind', calls: 'strict' }, outcome: 'committed', verification: 'status' },
  ],
  [
    'a 302 to the login page (App Service Authentication) is not a pass: switched back, and as the old state cannot pass either, failed for a person; the version is rejected',
    { app: { name: 'redirect', health: 'redirect-login' }, outcome: 'failed', reason: /^RollbackUnverified/, heldBack: 'CandidateRejected' },
  ],
  [
    'the thumbprint alias app whose partner refuses the new certificate answers 500: rolled back, the version rejected',
    { app: { name: 'alias-refused', health: 'thumbprint-alias', calls: 'strict' }, outcome: 'rolledBack', reason: /^VerificationFailed/, heldBack: 'CandidateRejected' },
  ],
  [
    // A 503 alone would be "the app did not come back"; a 503 carrying the app's own verdict, followed by a rollback
    // that passes on the old certificate, proves the candidate bad.
    'the kit app whose partner refuses the new certificate answers 503 fail: rolled back, the version rejected',
    { app: { name: 'kit-refused', health: 'kit', calls: 'strict' }, outcome: 'rolledBack', reason: /^VerificationFailed/, heldBack: 'CandidateRejected' },
  ],
  [
    'Spring Boot DOWN (503) when its partner refuses the new certificate: rolled back, the version rejected',
    { app: { name: 'spring-refused', health: 'spring', calls: 'strict' }, outcome: 'rolledBack', reason: /^VerificationFailed/, heldBack: 'CandidateRejected' },
  ],
  [
    'ASP.NET Core text Unhealthy (503) when its partner refuses the new certificate: rolled back, the version rejected',
    { app: { name: 'aspnet-refused', health: 'aspnet-text', calls: 'strict' }, outcome: 'rolledBack', reason: /^VerificationFailed/, heldBack: 'CandidateRejected' },
  ],
  [
    'slow to come back and never healthy on the new certificate (a 503 without a verdict, then its partner refusing): rolled back, the version rejected',
    { app: { name: 'slow-refused', health: 'slow-start', warmupMs: 1500, calls: 'strict' }, outcome: 'rolledBack', reason: /^VerificationFailed/, heldBack: 'CandidateRejected' },
  ],
];

const azurite = useAzurite();
let sb: Sandbox;
let config: Config;
let deps: Dependencies;
let rotator: Rotator;
const first = new Map<string, RotationResult>();
const second = new Map<string, RotationResult>();
const restartsAfterFirst = new Map<string, number>();
const restartsAfterSecond = new Map<string, number>();

beforeAll(async () => {
  sb = await startSandbox(independentApps(TABLE.map(([, e]) => e.app)));
  config = sandboxConfig(sb, azurite().connectionString, SUB, { ROTATION_TABLE: `shapes${Date.now().toString(36)}` });
  deps = makeDeps(sb, config);
  rotator = createRotator(deps, config);

  for (const result of (await rotator.rotateDue({ trigger: 'cli' })).results) first.set(result.name, result);
  for (const [, { app }] of TABLE) restartsAfterFirst.set(app.name, sb.control.restarts(appRef(app.name)));
  for (const result of (await rotator.rotateDue({ trigger: 'cli' })).results) second.set(result.name, result);
  for (const [, { app }] of TABLE) restartsAfterSecond.set(app.name, sb.control.restarts(appRef(app.name)));

  const committed = TABLE.filter(([, e]) => first.get(e.app.name)?.outcome === 'committed').length;
  const rolledBack = TABLE.filter(([, e]) => e.outcome !== 'committed' && switchedBack(e.app.name)).length;
  const retried = TABLE.filter(([, e]) => e.outcome !== 'committed' && restartsAfterSecond.get(e.app.name) !== restartsAfterFirst.get(e.app.name)).length;
  const shapes = new Set(TABLE.map(([, e]) => e.app.health)).size;
  console.log(`health shapes: ${shapes} shapes, committed ${committed}, rolled back ${rolledBack}, retried after rollback ${retried}`);
}, 600_000);

afterAll(async () => {
  await sb?.stop();
});

const oldTp = (name: string) => sb.control.thumbprint(`${VAULT}/${name}-client/0`);
const newTp = (name: string) => sb.control.thumbprint(`${VAULT}/${name}-client/latest`);
/** Seen from the sandbox: the app loads its old certificate again and names it in its setting. */
const switchedBack = (name: string) =>
  sb.control.appSettings(appRef(name)).CLIENT_CERT_THUMBPRINT === oldTp(name) && sb.control.loadedThumbprints(appRef(name)).join() === oldTp(name);

describe('health shapes: one app per framework shape, rotated twice', () => {
  it('the table covers every health shape the sandbox models', () => {
    expect(new Set(TABLE.map(([, e]) => e.app.health))).toEqual(new Set(HEALTH_SHAPES));
  });

  it.each(TABLE)('%s', async (_sentence, expected) => {
    const name = expected.app.name;
    const result = first.get(name);
    expect(result?.outcome, `${name}: ${result?.reason}`).toBe(expected.outcome);
    if (expected.reason) expect(result?.reason).toMatch(expected.reason);
    const record = await deps.store.get(result?.rotationId ?? '');
    expect(record?.outcome).toBe(expected.outcome);

    if (expected.outcome === 'committed') {
      expect(record?.verification).toBe(expected.verification);
      // From the outside: the app runs on the new certificate, restarted once.
      expect(sb.control.appSettings(appRef(name)).CLIENT_CERT_THUMBPRINT).toBe(newTp(name));
      expect(sb.control.loadedThumbprints(appRef(name))).toEqual([newTp(name)]);
      expect(restartsAfterFirst.get(name)).toBe(1);
    } else {
      expect(switchedBack(name), `${name} is back on its old certificate`).toBe(true);
      // Switched and restarted, then switched back and restarted: twice, in the first run only.
      expect(restartsAfterFirst.get(name)).toBe(2);
      const plan = (await rotator.plan()).apps.find((a) => a.name === name);
      expect(plan?.action).toBe('alert');
      expect(plan?.bindings[0]).toMatchObject({ reason: expected.heldBack, heldBackBy: result?.rotationId, due: false });
    }
  });

  it('the status-blind app committed although its partner refused the new certificate: the partner log shows it, the record says status', () => {
    const seen = sb.control.downstreamSeen('strict').filter((s) => s.thumbprint === newTp('blind'));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => !s.authorized)).toBe(true);
  });

  it('the second run changes nothing: no app is rotated or restarted again, rolled back or not', () => {
    expect([...second.values()].filter((r) => r.outcome !== 'skipped')).toEqual([]);
    for (const [, { app }] of TABLE) expect(restartsAfterSecond.get(app.name), app.name).toBe(restartsAfterFirst.get(app.name));
  });
});
