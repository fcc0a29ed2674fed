// The network half of the probe target policy, with real TLS servers on loopback that record who connected: a name is
// resolved once, every address is checked, and the probe connects to the checked address while SNI and the server
// certificate check still use the name. Names resolve through an injected table (the network guard allows no other
// look-up), always for `localhost`, which the guard lets through to wherever the pin says.
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowedTargets, type ProbeTargetPolicy } from '../../src/core/probeTargets.js';
import type { ClientCredential } from '../../src/core/ports.js';
import { issueCertificate } from '../../src/crypto/index.js';
import { HttpsProber } from '../../src/probes/prober.js';
import { PIN_MS, ProbeTargetGate } from '../../src/probes/targetPolicy.js';
import { recordingPki, startRecordingTlsServer, type RecordingTlsServer } from '../helpers/recordingTlsServer.js';
import { scriptedResolver } from '../helpers/scriptedResolver.js';

function policy(allowList: string): ProbeTargetPolicy {
  return { allowed: parseAllowedTargets(allowList) as ProbeTargetPolicy['allowed'], maxTargets: 5 };
}

const v4 = (address: string): LookupAddress => ({ address, family: 4 });

let good: RecordingTlsServer;
let hostile: RecordingTlsServer;
let credential: ClientCredential;

beforeAll(async () => {
  // The same port on two loopback addresses: a probe that re-resolved would reach the other one.
  good = await startRecordingTlsServer('127.0.0.2');
  hostile = await startRecordingTlsServer('127.0.0.1', good.port);
  const client = issueCertificate(recordingPki().ca, { commonName: 'candidate', usage: 'client' });
  credential = { certPem: client.certPem, keyPem: client.keyPem, thumbprint: client.thumbprint };
});

afterAll(async () => {
  await good?.close();
  await hostile?.close();
});

function prober(gate: ProbeTargetGate): HttpsProber {
  return new HttpsProber({ timeoutMs: 3000, extraCaPems: [recordingPki().ca.certPem], targets: gate });
}

describe('ProbeTargetGate.admit', () => {
  it.each([
    ['a name that resolves to loopback', [v4('127.0.0.1')], /localhost resolves to 127\.0\.0\.1, which is a loopback address/],
    ['a name with one public and one private address', [v4('20.50.2.1'), v4('10.0.0.5')], /resolves to 10\.0\.0\.5, which is a private address/],
    ['a name that resolves to the metadata endpoint', [v4('169.254.169.254')], /the cloud instance metadata endpoint/],
    ['a name that resolves to IPv4-mapped loopback', [{ address: '::ffff:127.0.0.1', family: 6 }], /IPv4-mapped 127\.0\.0\.1: a loopback address/],
    ['a name with no address', [], /localhost has no address/],
  ])('refuses %s', async (_sentence, answer, reason) => {
    const gate = new ProbeTargetGate(policy(''), { resolver: scriptedResolver(answer) });
    const admission = await gate.admit('https://localhost:8443/');
    expect(admission.ok).toBe(false);
    if (!admission.ok) expect(admission.reason).toMatch(reason);
  });

  it('refuses a name that does not resolve, and asks again next time (a failure is not pinned)', async () => {
    let calls = 0;
    const gate = new ProbeTargetGate(policy(''), {
      resolver: async () => {
        calls += 1;
        throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
      },
    });
    expect(await gate.admit('https://localhost/')).toEqual({ ok: false, reason: "'https://localhost/': localhost could not be resolved (ENOTFOUND)" });
    await gate.admit('https://localhost/');
    expect(calls).toBe(2);
  });

  it('resolves a name once while its pin lasts, then again', async () => {
    let now = 0;
    const resolver = scriptedResolver([v4('20.50.2.1')]);
    const gate = new ProbeTargetGate(policy(''), { resolver, now: () => now });
    await gate.admit('https://localhost/a');
    await gate.admit('https://LOCALHOST:8443/b');
    expect(resolver.calls).toBe(1);
    now += PIN_MS;
    await gate.admit('https://localhost/a');
    expect(resolver.calls).toBe(2);
  });

  it('does not resolve an address literal', async () => {
    const resolver = scriptedResolver([v4('20.50.2.1')]);
    const admission = await new ProbeTargetGate(policy(''), { resolver }).admit('https://20.50.2.1/');
    expect(admission).toMatchObject({ ok: true, target: { address: '20.50.2.1', family: 4 } });
    expect(resolver.calls).toBe(0);
  });
});

describe('HttpsProber.direct under the policy (real TLS, recorded by the servers)', () => {
  it('connects to the checked address even when the name answers differently afterwards (no rebinding)', async () => {
    const resolver = scriptedResolver([v4('127.0.0.2')], [v4('127.0.0.1')]);
    const probe = prober(new ProbeTargetGate(policy('127.0.0.2'), { resolver }));
    const url = `https://localhost:${good.port}/ping`;
    const goodBefore = good.presented().length;
    const hostileBefore = hostile.seen.length;
    expect(await probe.admitTarget(url)).toBeUndefined();
    const first = await probe.direct(url, credential);
    const second = await probe.direct(url, credential);
    expect([first.ok, second.ok]).toEqual([true, true]);
    expect(resolver.calls).toBe(1);
    expect(good.presented().slice(goodBefore).map((h) => [h.local, h.clientThumbprint, h.servername])).toEqual([
      ['127.0.0.2', credential.thumbprint, 'localhost'],
      ['127.0.0.2', credential.thumbprint, 'localhost'],
    ]);
    expect(hostile.seen.length).toBe(hostileBefore);
  });

  it('checks the server certificate against the name, not the pinned address', async () => {
    // A certificate for the address 127.0.0.2 only: it would pass a check against the pinned address, not one
    // against the name in the URL.
    const addressOnly = issueCertificate(recordingPki().ca, { commonName: '127.0.0.2', usage: 'server', altNames: ['127.0.0.2'] });
    const server = await startRecordingTlsServer('127.0.0.2', 0, addressOnly);
    try {
      const resolver = scriptedResolver([v4('127.0.0.2')]);
      const probe = prober(new ProbeTargetGate(policy('127.0.0.2'), { resolver }));
      const result = await probe.direct(`https://localhost:${server.port}/`, credential);
      expect(result).toMatchObject({ ok: false, transient: false });
      expect(result.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
      expect(server.seen.map((s) => s.local)).toEqual(['127.0.0.2']);
    } finally {
      await server.close();
    }
  });

  it('refuses a loopback target without connecting when loopback is not allow-listed', async () => {
    const before = hostile.seen.length;
    const probe = prober(new ProbeTargetGate(policy(''), { resolver: scriptedResolver([v4('127.0.0.1')]) }));
    for (const url of [`https://localhost:${hostile.port}/`, `https://127.0.0.1:${hostile.port}/`, `https://0x7f000001:${hostile.port}/`]) {
      const result = await probe.direct(url, credential);
      expect(result).toMatchObject({ ok: false, transient: false, detail: expect.stringMatching(/^probe target refused: .*loopback/) });
    }
    expect(hostile.seen.length).toBe(before);
  });
});
