// The API with CLIENT_CERT_AUTH=required, end to end over real HTTP through the local host, against the sandbox's demo
// world and Azurite: who may call, and that the caller of a manual run and of a manual rollback is written into the
// rotation record (through the queue message for a queued run) and into the telemetry of those rotations.
import { describe, expect, it } from 'vitest';
import { DEMO_SUBSCRIPTION_ID, demoScenario } from '../../sandbox/index.js';
import type { RotationRecord } from '../../src/core/records.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';
import { issue, makeCa } from '../helpers/callerPki.js';
import { useFunctionApp } from '../helpers/functionApp.js';
import { RecordingTelemetry } from '../helpers/memory-ports.js';
import { rawRequest } from '../helpers/rawHttp.js';

const azurite = useAzurite();
const KEY = 'api-callers-function-key';
const telemetry = new RecordingTelemetry();
const events = telemetry.events;

const root = makeCa('Contoso Root CA');
const issuing = issue(root, [['O', 'Contoso'], ['CN', 'Contoso Issuing CA']], { ca: true, pathLength: 0 });
const opsCli = issue(issuing, [['O', 'Contoso'], ['CN', 'ops-cli']]);
// The on-call engineer is allowed by thumbprint; ops-cli by subject and issuer.
const onCall = issue(issuing, [['O', 'Contoso'], ['CN', 'on-call']]);
const intern = issue(issuing, [['O', 'Contoso'], ['CN', 'intern']]);
const OPS_SUBJECT = 'CN=ops-cli,O=Contoso';
const ISSUER = 'CN=Contoso Issuing CA,O=Contoso';

const functionApp = useFunctionApp(azurite, () => ({
  scenario: demoScenario(),
  telemetry,
  subscriptionId: DEMO_SUBSCRIPTION_ID,
  functionsKey: KEY,
  rotationQueue: uniqueName('callers'),
  rotationTable: uniqueName('callers'),
  settings: () => ({
    CLIENT_CERT_AUTH: 'required',
    CLIENT_CERT_TRUSTED_CA: root.pem,
    CLIENT_CERT_INTERMEDIATES: issuing.pem,
    CLIENT_CERT_ALLOWED_THUMBPRINTS: onCall.thumbprint.match(/../g)!.join(':'),
    CLIENT_CERT_ALLOWED_SUBJECTS: `${OPS_SUBJECT} | ${ISSUER}`,
  }),
  queues: { visibilityTimeoutSeconds: 0, minPollingIntervalMs: 50, maxPollingIntervalMs: 250 },
}));
const { until } = functionApp;

async function call(method: string, path: string, options: { certificate?: string; headers?: Array<[string, string]>; body?: string; key?: string | null } = {}) {
  const headers: Array<[string, string]> = [...(options.headers ?? [])];
  if (options.key !== null) headers.push(['x-functions-key', options.key ?? KEY]);
  if (options.certificate !== undefined) headers.push(['X-ARR-ClientCert', options.certificate]);
  return rawRequest(`${functionApp.host.apiUrl}${path}`, method, headers, options.body);
}

describe('the API with CLIENT_CERT_AUTH=required, through the local host', () => {
  it('answers health anonymously, without a certificate and without reading a broken one', async () => {
    expect((await call('GET', '/health', { key: null })).status).toBe(200);
    expect((await call('GET', '/health', { key: null, certificate: 'garbage, more garbage' })).status).toBe(200);
  });

  it.each([
    ['no certificate', undefined, 401, 'ClientCertificateMissing'],
    ['a trusted certificate that no allow-list names', intern.header, 403, 'ClientCertificateNotAllowed'],
    ['the allowed certificate followed by extra bytes', Buffer.concat([opsCli.der, Buffer.from('x')]).toString('base64'), 400, 'ClientCertificateTrailingBytes'],
  ])('refuses the inventory for %s (%i)', async (_sentence, certificate, status, code) => {
    const res = await call('GET', '/certificates', certificate === undefined ? {} : { certificate });
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ error: { code, message: expect.any(String) } });
  });

  it('refuses the allowed certificate sent in two header lines, whichever comes first', async () => {
    for (const pair of [[opsCli.header, intern.header], [intern.header, opsCli.header]]) {
      const res = await call('GET', '/certificates', { headers: pair.map((v): [string, string] => ['X-ARR-ClientCert', v]) });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('ClientCertificateHeaderRepeated');
    }
  });

  it('still requires the function key: a good certificate does not replace it', async () => {
    expect((await call('GET', '/certificates', { certificate: opsCli.header, key: null })).status).toBe(401);
  });

  it.each([
    ['by subject and issuer', opsCli],
    ['by thumbprint (configured with colons)', onCall],
  ])('serves a caller allowed %s', async (_sentence, caller) => {
    const res = await call('GET', '/certificates', { certificate: caller.header });
    expect(res.status).toBe(200);
    expect(res.json.certificates.length).toBeGreaterThan(0);
  });

  let committed: RotationRecord;

  it('a queued run carries its caller through the queue message into the record and the telemetry', async () => {
    const res = await call('POST', '/rotations', { certificate: opsCli.header, body: JSON.stringify({ app: 'orders' }) });
    expect(res.status).toBe(202);
    const poll = String(res.headers.location).replace(/^\/api/, '');
    committed = await until('the orders rotation to finish', async () => {
      const rotations = ((await call('GET', poll, { certificate: opsCli.header })).json.rotations as RotationRecord[]).filter((r) => r.outcome !== undefined);
      return rotations[0];
    }, 90_000);
    expect(committed).toMatchObject({
      outcome: 'committed',
      trigger: 'queue',
      requestedBy: { via: 'clientCertificate', subject: OPS_SUBJECT, issuer: ISSUER, thumbprint: opsCli.thumbprint },
    });
    const ofThisRotation = events.filter((e) => e.dimensions?.rotationId === committed.id).map((e) => [e.name, e.dimensions?.requestedBy, e.dimensions?.requestedBySubject, e.dimensions?.requestedByThumbprint]);
    expect(ofThisRotation).toEqual(
      expect.arrayContaining([
        ['RotationStarted', 'clientCertificate', OPS_SUBJECT, opsCli.thumbprint],
        ['RotationCommitted', 'clientCertificate', OPS_SUBJECT, opsCli.thumbprint],
      ]),
    );
  }, 120_000);

  it('a manual rollback records who asked for it, in its record and its telemetry', async () => {
    const res = await call('POST', `/rotations/${committed.id}/rollback`, { certificate: onCall.header, body: JSON.stringify({ reason: 'on-call rollback' }) });
    expect(res.status).toBe(200);
    expect(res.json.outcome).toBe('rolledBack');
    const rollback = res.json.record as RotationRecord;
    expect(rollback).toMatchObject({ rollbackOf: committed.id, trigger: 'http', requestedBy: { via: 'clientCertificate', subject: 'CN=on-call,O=Contoso', thumbprint: onCall.thumbprint } });
    const stored = (await call('GET', `/rotations/${rollback.id}`, { certificate: onCall.header })).json as RotationRecord;
    expect(stored.requestedBy).toEqual(rollback.requestedBy);
    const rolledBack = events.find((e) => e.name === 'RotationRolledBack' && e.dimensions?.rotationId === rollback.id);
    expect(rolledBack?.dimensions).toMatchObject({ requestedBy: 'clientCertificate', requestedBySubject: 'CN=on-call,O=Contoso', requestedByThumbprint: onCall.thumbprint });
  }, 120_000);
});
