// Probes: a single transient failure is retried, not rolled back; a failure that persists after the commit rolls
// back inside the verification window, and the rollback is itself verified; a partner that hangs is timed out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { Config } from '../../src/core/index.js';
import { appIdOf } from '../../src/core/identity.js';
import { useAzurite } from '../helpers/azurite.js';
import { Capture, configFor, engine, refOf, reliabilityScenario, ShiftClock, suiteSeed, thumbprintOf } from './world.js';

const TRANSIENT = 'transient';
const PERSISTENT = 'persistent';
const HUNG = 'hung';

const azurite = useAzurite();
const clock = new ShiftClock();
const capture = new Capture();
const seed = suiteSeed('probes');
let sb: Sandbox;
let config: Config;

beforeAll(async () => {
  sb = await startSandbox(reliabilityScenario([TRANSIENT, PERSISTENT, HUNG].map((name) => ({ name, kind: 'ok' as const }))), {
    appOutboundTimeoutMs: 1500,
  });
  config = configFor(sb, azurite().connectionString, { PROBE_ATTEMPTS: '3' });
}, 60_000);

afterAll(async () => {
  await sb?.stop();
});

describe('probes', () => {
  it('transient failure retried, persistent failure rolled back inside the window (verified), hang timed out', async () => {
    const renewed = thumbprintOf(sb, 'latest');
    const old = thumbprintOf(sb, 0);
    const store = engine(sb, config, { clock, capture, owner: 'reader' }).deps.store;

    // 1. Persistent: committed, then the partner stops trusting the new issuer; the probe timer's re-verification
    //    inside the window rolls back, and verifies the old state before it says rolledBack.
    const committed = await engine(sb, config, { clock, capture, owner: 'timer-persistent' }).rotator.rotateApp(PERSISTENT, { trigger: 'timer' });
    expect(committed.outcome).toBe('committed');
    sb.control.setDownstreamTrust('partner', ['old-ca']);
    clock.advance(5 * 60_000);
    const report = await engine(sb, config, { clock, capture, owner: 'verify-timer' }).rotator.resumeOpen();
    capture.add(report);
    sb.control.setDownstreamTrust('partner', ['old-ca', 'new-ca']);
    const reverified = report.reverified.find((r) => r.appId === appIdOf(refOf(PERSISTENT)));
    const [rollback] = await store.listForApp(appIdOf(refOf(PERSISTENT)), 1);
    const committedRecord = await store.get(committed.rotationId ?? '');
    const insideWindow = Date.parse(rollback?.startedAt ?? '') < Date.parse(committedRecord?.verifyUntil ?? '');
    // Verified = the rollback record holds a passing via-app probe of the app presenting the old certificate.
    const rollbackVerified =
      rollback?.outcome === 'rolledBack' && rollback.probes.some((p) => p.kind === 'via-app' && p.ok && p.observedThumbprint?.toUpperCase() === old);
    expect(reverified?.status).toBe('rolledBack');
    expect(rollback).toMatchObject({ outcome: 'rolledBack', rollbackOf: committed.rotationId });
    expect(insideWindow).toBe(true);
    expect(sb.control.loadedThumbprints(refOf(PERSISTENT))).toEqual([old]);

    // 2. Transient: the partner hangs through the first verification attempt only.
    let hungOnce = false;
    let midVerify = 0;
    const transient = await engine(sb, config, {
      clock,
      capture,
      owner: 'timer-transient',
      faultHook: (b) => {
        if (b === 'afterRestart' && !hungOnce) {
          hungOnce = true;
          sb.control.setDownstreamHang('partner', true);
        }
        if (b === 'midVerify') {
          midVerify += 1;
          sb.control.setDownstreamHang('partner', false);
        }
      },
    }).rotator.rotateApp(TRANSIENT, { trigger: 'timer' });
    capture.add(transient);
    expect(midVerify).toBe(1);
    expect(transient.outcome).toBe('committed');
    expect(sb.control.loadedThumbprints(refOf(TRANSIENT))).toEqual([renewed]);

    // 3. Hang: the partner never answers; every probe is cut at PROBE_TIMEOUT_SECONDS and the app is left alone.
    sb.control.setDownstreamHang('partner', true);
    const before = sb.control.appSettings(refOf(HUNG));
    const hung = await engine(sb, config, { clock, capture, owner: 'timer-hung' }).rotator.rotateApp(HUNG, { trigger: 'timer' });
    sb.control.setDownstreamHang('partner', false);
    capture.add(hung);
    const hungText = JSON.stringify([hung.reason, hung.error, hung.record?.steps]);
    expect(hung.outcome).toBe('aborted');
    expect(hungText).toMatch(/timed out after 2000 ms/);
    expect(sb.control.appSettings(refOf(HUNG))).toEqual(before);
    expect(sb.control.loadedThumbprints(refOf(HUNG))).toEqual([old]);

    console.log(
      `probes: transient failure → ${transient.outcome} after ${midVerify + 1} attempts; persistent failure → ${rollback?.outcome} ${insideWindow ? 'inside' : 'OUTSIDE'} the ${config.verifyWindowMinutes}-minute window, rollback ${rollbackVerified ? 'verified' : 'NOT verified'}; hung partner → ${hung.outcome}, timed out at ${config.probeTimeoutSeconds} s (seed ${seed})`,
    );
    expect(rollbackVerified).toBe(true);
  }, 90_000);

  it('no key material in any log line, telemetry envelope or record of these runs', async () => {
    capture.add(await engine(sb, config, { clock, capture, owner: 'reader' }).deps.store.listAll());
    const leaks = capture.leaks();
    console.log(`secrets (probes): ${leaks.pfx} PFX, ${leaks.password} passwords, ${leaks.privateKey} private keys in ${leaks.lines} captured lines`);
    expect(leaks).toMatchObject({ pfx: 0, password: 0, privateKey: 0 });
  });
});
