import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TELEMETRY_EVENTS, type TelemetryEventName } from '../../src/core/events.js';
import { createCertificateAuthority, issueCertificate, writePfx, randomPassword } from '../../src/crypto/index.js';
import {
  createTelemetry,
  processTelemetry,
  shutdownProcessTelemetry,
  TelemetryConfigError,
  type AppTelemetry,
} from '../../src/telemetry/index.js';
import { remoteSettingsManager } from '../../src/telemetry/appInsights.js';
import { startIngestion, type IngestionEndpoint } from '../helpers/ingestion.js';

const APP = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Web/sites/payments-api';
/** Dimensions that are text already: they arrive exactly as sent. */
const TEXT_DIMENSIONS = {
  app: APP,
  slot: 'staging',
  subscription: '00000000-0000-0000-0000-000000000001',
  oldThumbprint: 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678',
  newThumbprint: '0123456789ABCDEF0123456789ABCDEF01234567',
  keyVaultCertificateId: 'https://kv.vault.azure.net/certificates/payments-client',
  keyVaultVersion: '4f2a9c0e1b3d4e5f8a7b6c5d4e3f2a1b',
  reason: 'NearingExpiry',
  step: 'verify',
};

describe('Application Insights telemetry through the real SDK to a local ingestion endpoint', () => {
  let ingestion: IngestionEndpoint;
  let telemetry: AppTelemetry;
  const warnings: string[] = [];

  beforeAll(async () => {
    ingestion = await startIngestion();
    telemetry = ingestion.createTelemetry({ roleName: 'mtls-rotator-under-test', onWarning: (w) => warnings.push(w) });
  });
  afterAll(async () => {
    await telemetry?.shutdown();
    await ingestion?.stop();
  });

  it.each(TELEMETRY_EVENTS.map((name) => [name]))('event %s arrives with its dimensions and measurements', async (name) => {
    const rotationId = `rot-${name}`;
    telemetry.event(name as TelemetryEventName, { ...TEXT_DIMENSIONS, rotationId, attempts: 2, unset: undefined }, { durationMs: 1234 });
    await telemetry.flush();
    const item = await ingestion.waitFor(name, (e) => e.properties.rotationId === rotationId);
    expect(item.kind).toBe('event');
    // The number arrives as text and the undefined one not at all.
    expect(item.properties).toEqual({ ...TEXT_DIMENSIONS, rotationId, attempts: '2' });
    expect(item.measurements).toEqual({ durationMs: 1234 });
    expect(item.tags['ai.cloud.role']).toBe('mtls-rotator-under-test');
  });

  it('flush() returns only once the metric has been delivered (the metric reader alone would wait 60 s)', async () => {
    telemetry.metric('CertificateDaysRemaining', 6, { app: APP, binding: 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' });
    await telemetry.flush();
    const metric = ingestion.metrics('CertificateDaysRemaining').find((m) => m.properties.app === APP);
    expect(metric?.value).toBe(6);
    expect(metric?.count).toBe(1);
    expect(metric?.properties.binding).toBe('A1B2C3D4E5F60718293A4B5C6D7E8F9012345678');
  });

  it('an exception arrives with its rotation id, type, message and cause chain', async () => {
    class RotationStepError extends Error {
      override name = 'RotationStepError';
    }
    const error = new RotationStepError('restart did not finish', { cause: new Error('503 Service Unavailable') });
    telemetry.exception(error, { rotationId: 'rot-exception-1', step: 'restart', app: APP });
    await telemetry.flush();
    const item = await ingestion.waitForException((e) => e.properties.rotationId === 'rot-exception-1');
    expect(item.name).toBe('RotationStepError');
    expect(item.message).toBe('restart did not finish');
    expect(item.properties).toMatchObject({ rotationId: 'rot-exception-1', step: 'restart', app: APP, errorType: 'RotationStepError', cause: 'Error: 503 Service Unavailable' });
  });

  it('nothing secret reaches an envelope: PFX, password and private key are scrubbed from events, metrics and exceptions', async () => {
    const ca = createCertificateAuthority({ commonName: 'leak test CA' });
    const leaf = issueCertificate(ca, { commonName: 'client', usage: 'client' });
    const password = randomPassword();
    const pfx = writePfx({ certPem: leaf.certPem, keyPem: leaf.keyPem }, password).toString('base64');
    const keyLine = leaf.keyPem.split('\n')[1]!;
    const leaky = { rotationId: 'rot-leak', pfx, certificateBase64: pfx, pfxPassword: password, note: leaf.keyPem, detail: `key ${leaf.keyPem}` };
    telemetry.event('RotationFailed', { ...leaky, reason: 'StageFailed' });
    telemetry.metric('CertificateDaysRemaining', 3, { ...leaky, app: 'leak-app' });
    telemetry.exception(new Error(`could not wrap ${leaf.keyPem} with password=${password}`, { cause: new Error(pfx) }), leaky);
    await telemetry.flush();

    const event = await ingestion.waitFor('RotationFailed', (e) => e.properties.rotationId === 'rot-leak');
    expect(event.properties.reason).toBe('StageFailed');
    expect(event.properties.scrubbedDimensions?.split(',').map((s) => s.split(':')[0]).sort()).toEqual(
      ['certificateBase64', 'detail', 'note', 'pfx', 'pfxPassword'],
    );
    await ingestion.waitFor('CertificateDaysRemaining', (m) => m.properties.app === 'leak-app');
    const exception = await ingestion.waitForException((e) => e.properties.rotationId === 'rot-leak');
    expect(exception.message).toContain('[redacted]');

    const everything = ingestion.bodies.join('\n');
    for (const secret of [pfx.slice(0, 64), pfx.slice(1000, 1064), password, keyLine, 'PRIVATE KEY']) {
      expect(everything).not.toContain(secret);
    }
  });

  it('refuses an event name that is not in TELEMETRY_EVENTS and sends nothing for it', async () => {
    telemetry.event('RotationExploded' as TelemetryEventName, { rotationId: 'rot-unknown' });
    await telemetry.flush();
    expect(ingestion.envelopes.some((e) => e.name === 'RotationExploded')).toBe(false);
    expect(warnings).toContain("telemetry: refused event 'RotationExploded': not in TELEMETRY_EVENTS");
  });

  it('opens no connection beyond the ingestion endpoint, even past the remote-settings poll window (15 s)', async () => {
    // The vitest network guard fails this test on any non-loopback connect or DNS look-up; the SDK's
    // remote-settings poll would fire 5-15 s after start, live metrics and statsbeat within seconds.
    expect(remoteSettingsManager()?.worker).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 16_000));
    telemetry.event('ScanCompleted', { rotationId: 'rot-after-wait' });
    await telemetry.flush();
    await ingestion.waitFor('ScanCompleted', (e) => e.properties.rotationId === 'rot-after-wait');
    const paths = new Set(ingestion.requests.map((r) => `${r.method} ${r.path}`));
    expect([...paths]).toEqual(['POST /v2.1/track']);
    expect(process.env.APPLICATION_INSIGHTS_NO_STATSBEAT).toBe('true');
    expect(warnings.filter((w) => w.includes('remote-settings'))).toEqual([]);
  }, 40_000);
});

describe('telemetry set-up', () => {
  it.each([
    ['no connection string', undefined],
    ['an empty connection string', ''],
    ['a blank connection string', '   '],
  ])('%s gives the quiet no-op', async (_what, connectionString) => {
    const telemetry = createTelemetry(connectionString);
    expect(telemetry.enabled).toBe(false);
    telemetry.event('ScanCompleted', { app: 'a' });
    await expect(telemetry.flush()).resolves.toBeUndefined();
  });

  it.each([
    ['no instrumentation key', 'IngestionEndpoint=https://127.0.0.1:1/', /must contain InstrumentationKey=<guid>/],
    ['a key that is not a GUID', 'InstrumentationKey=not-a-guid-secret-ish', /must contain InstrumentationKey=<guid>/],
    ['a plain-http endpoint', 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:1/', /IngestionEndpoint must be https/],
    ['an endpoint that is not a URL', 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=::nope', /IngestionEndpoint that is not a URL/],
  ])('a connection string with %s is refused with a message naming the setting', (_what, connectionString, message) => {
    let error: unknown;
    try {
      createTelemetry(connectionString);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TelemetryConfigError);
    expect((error as Error).message).toMatch(/^APPLICATIONINSIGHTS_CONNECTION_STRING /);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('not-a-guid-secret-ish');
  });

  it('processTelemetry starts once per process and refuses a changed connection string', async () => {
    const ingestion = await startIngestion();
    try {
      const env = { APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString };
      const first = processTelemetry(env, { ingestionCaPem: ingestion.caPem });
      expect(first.enabled).toBe(true);
      expect(processTelemetry(env)).toBe(first);
      expect(() => processTelemetry({})).toThrow(TelemetryConfigError);
      first.event('ScanCompleted', { rotationId: 'rot-process' });
      await first.flush();
      await ingestion.waitFor('ScanCompleted', (e) => e.properties.rotationId === 'rot-process');
    } finally {
      await shutdownProcessTelemetry();
      await ingestion.stop();
    }
    expect(processTelemetry({}).enabled).toBe(false);
    await shutdownProcessTelemetry();
  });
});
