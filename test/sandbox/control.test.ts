// The control API over HTTPS (<armEndpoint>/_sandbox/…): what a child process (the demo, the CLI, the
// benchmark) uses to steer and observe a sandbox it did not start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox, type Scenario } from '../../sandbox/index.js';
import { certificateClient, rawRequest, webClient } from './sdk-clients.js';

const SUB = 'ffffffff-1111-4222-8333-000000000001';
const scenario: Scenario = {
  name: 'control-test',
  cas: [{ name: 'old' }, { name: 'new' }],
  vaults: [{ name: 'kv-c', subscriptionId: SUB, resourceGroup: 'rg', certificates: [{ name: 'client', versions: [{ issuer: 'old', notAfterDays: 20 }] }] }],
  downstreams: [{ name: 'partner', trusts: ['old'] }],
  subscriptions: [
    {
      id: SUB,
      resourceGroups: [
        {
          name: 'rg',
          location: 'West Europe',
          certificates: [{ name: 'client-v0', fromVault: { vault: 'kv-c', certificate: 'client', version: 0 } }],
          sites: [{ name: 'app', downstream: 'partner', settings: { WEBSITE_LOAD_CERTIFICATES: '{{thumbprint:kv-c/client/0}}', OTHER: 'x' } }],
        },
      ],
    },
  ],
};

let sb: Sandbox;
const ctl = (path: string) => `${sb.armEndpoint}/_sandbox/${path}`;
const appPath = `apps/${SUB}/rg/app`;

beforeAll(async () => {
  sb = await startSandbox(scenario);
});
afterAll(async () => {
  await sb?.stop();
});

describe('control over HTTPS', () => {
  it('requires a bearer token', async () => {
    expect((await rawRequest(sb, ctl('counters'), { token: null })).status).toBe(401);
  });

  it('describes the running sandbox', async () => {
    const res = await rawRequest(sb, ctl('info'));
    expect(res.json).toMatchObject({ scenario: 'control-test', armEndpoint: sb.armEndpoint, vaults: { 'kv-c': sb.vaultUrl('kv-c') } });
  });

  it('renews a vault certificate, and the new version is what Key Vault serves as latest', async () => {
    const res = await rawRequest(sb, ctl('vaults/kv-c/certificates/client/versions'), { method: 'POST', body: { issuer: 'new', notAfterDays: 400 } });
    expect(res.status).toBe(201);
    const renewed = res.json as { version: string; thumbprint: string };
    const cert = await certificateClient(sb, 'kv-c').getCertificate('client');
    expect(cert.properties.version).toBe(renewed.version);
    expect((await rawRequest(sb, ctl('thumbprints/kv-c/client/latest'))).json).toEqual({ thumbprint: renewed.thumbprint });

    expect((await rawRequest(sb, ctl(`vaults/kv-c/certificates/client/versions/${renewed.version}`), { method: 'PATCH', body: { enabled: false } })).status).toBe(204);
    expect((await certificateClient(sb, 'kv-c').getCertificate('client')).properties.enabled).toBe(false);
  });

  it('adds, lists and removes faults', async () => {
    const added = await rawRequest(sb, ctl('faults'), { method: 'POST', body: { operation: 'WebApps_Get', status: 503, times: 1 } });
    expect(added.status).toBe(201);
    const id = (added.json as { id: string }).id;
    expect((await rawRequest(sb, ctl('faults'))).json).toMatchObject({ value: [{ id, status: 503, hits: 0 }] });
    expect((await rawRequest(sb, ctl(`faults/${id}`), { method: 'DELETE' })).status).toBe(204);
    expect((await rawRequest(sb, ctl('faults'))).json).toEqual({ value: [] });
  });

  it('refuses a fault that makes no sense with 400 naming the problem', async () => {
    const res = await rawRequest(sb, ctl('faults'), { method: 'POST', body: { status: 500, probability: 7 } });
    expect(res.status).toBe(400);
    expect((res.json as { error: { message: string } }).error.message).toMatch(/probability/);
  });

  it('reads and writes app settings and reads what the app loaded', async () => {
    expect((await rawRequest(sb, ctl(`${appPath}/settings`))).json).toMatchObject({ properties: { OTHER: 'x' } });
    expect((await rawRequest(sb, ctl(`${appPath}/settings`), { method: 'PUT', body: { properties: { OTHER: 'y' } } })).status).toBe(204);
    expect((await webClient(sb, SUB).webApps.listApplicationSettings('rg', 'app')).properties).toEqual({ OTHER: 'y' });
    expect((await rawRequest(sb, ctl(`${appPath}/loaded`))).json).toEqual({ thumbprints: [sb.control.thumbprint('kv-c/client/0')] });
  });

  it('changes what a downstream trusts', async () => {
    const health = `${sb.appUrl({ subscriptionId: SUB, resourceGroup: 'rg', site: 'app' })}/healthz/outbound-mtls`;
    expect((await rawRequest(sb, health, { token: null })).status).toBe(200);
    expect((await rawRequest(sb, ctl('downstreams/partner/trust'), { method: 'PUT', body: { cas: ['new'] } })).status).toBe(204);
    // The kit's answer when the partner refuses the certificate (docs/app-kit.md).
    expect((await rawRequest(sb, health, { token: null })).status).toBe(503);
    const seen = (await rawRequest(sb, ctl('downstreams/partner/seen'))).json as { value: Array<{ authorized: boolean }> };
    expect(seen.value.map((s) => s.authorized)).toEqual([true, false]);
  });

  it('lists and deletes the certificates of a subscription', async () => {
    const list = (await rawRequest(sb, ctl(`subscriptions/${SUB}/certificates`))).json as { value: Array<{ name: string; thumbprint: string }> };
    expect(list.value.map((c) => [c.name, c.thumbprint])).toEqual([['client-v0', sb.control.thumbprint('kv-c/client/0')]]);
    expect((await rawRequest(sb, ctl(`subscriptions/${SUB}/resourceGroups/rg/certificates/client-v0`), { method: 'DELETE' })).status).toBe(200);
    expect(sb.control.certificates(SUB)).toEqual([]);
  });

  it('serves the request log and counters, and resets them', async () => {
    const since = sb.control.requests().at(-1)!.seq;
    await webClient(sb, SUB).webApps.get('rg', 'app');
    const log = (await rawRequest(sb, ctl(`requests?since=${since}&surface=arm`))).json as { value: Array<{ operation: string; status: number; subscriptionId: string }> };
    expect(log.value.map((e) => [e.operation, e.status, e.subscriptionId])).toEqual([['WebApps_Get', 200, SUB]]);
    expect(((await rawRequest(sb, ctl('counters'))).json as { arm: { reads: number } }).arm.reads).toBeGreaterThan(0);
    expect((await rawRequest(sb, ctl('reset'), { method: 'POST' })).status).toBe(204);
    expect(((await rawRequest(sb, ctl('counters'))).json as { arm: { reads: number } }).arm.reads).toBe(0);
  });

  it('answers 404 for a control path it does not have', async () => {
    expect((await rawRequest(sb, ctl('nothing/here'))).status).toBe(404);
  });
});
