// The HTTPS prober against the sandbox's partner API (real mTLS) and a simulated app's health path.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import { ArmAppServiceGateway } from '../../src/azure/appServiceGateway.js';
import { staticTokenCredential } from '../../src/azure/credentials.js';
import { KeyVaultCertificateSource } from '../../src/azure/keyVaultSource.js';
import type { ClientCredential } from '../../src/core/ports.js';
import { createCertificateAuthority, issueCertificate, readKeyVaultSecret } from '../../src/crypto/index.js';
import { HttpsProber } from '../../src/probes/prober.js';
import { parseAllowedTargets } from '../../src/core/probeTargets.js';
import { ProbeTargetGate } from '../../src/probes/targetPolicy.js';
import { adapterScenario, APP0, VAULT } from '../azure/scenario.js';

let sb: Sandbox;
let prober: HttpsProber;
/** The sandbox's downstreams listen on 127.0.0.1: allow-listed as the sandbox settings do (PROBE_ALLOWED_TARGETS). */
const SANDBOX_TARGETS = '127.0.0.1';
const sandboxTargets = () => new ProbeTargetGate({ allowed: parseAllowedTargets(SANDBOX_TARGETS) as never, maxTargets: 5 });
let trusted: ClientCredential;
let untrusted: ClientCredential;

beforeAll(async () => {
  sb = await startSandbox(adapterScenario());
  prober = new HttpsProber({ timeoutMs: 1500, extraCaPems: [sb.caPem], targets: sandboxTargets() });
  // A certificate from the CA the partner trusts, with its key, as the rotator gets it: from the vault.
  const kv = new KeyVaultCertificateSource({ credential: staticTokenCredential(sb.token), challengeVerification: false, allowedHosts: [{ hostname: '127.0.0.1' }], tlsCa: sb.caPem });
  const latest = await kv.getLatest({ vaultUrl: sb.vaultUrl(VAULT), name: 'client-pfx' });
  const secret = await kv.getSecret({ vaultUrl: sb.vaultUrl(VAULT), name: 'client-pfx' }, latest!.version);
  const bundle = readKeyVaultSecret(secret.contentType, secret.value);
  trusted = { certPem: bundle.certPem, keyPem: bundle.keyPem, thumbprint: bundle.thumbprint };
  const rogueCa = createCertificateAuthority({ commonName: 'rogue CA' });
  const rogue = issueCertificate(rogueCa, { commonName: 'rogue client', usage: 'client' });
  untrusted = { certPem: rogue.certPem, keyPem: rogue.keyPem, thumbprint: rogue.thumbprint };
});

afterEach(() => {
  sb.control.setDownstreamHang('partner', false);
  sb.control.setRestartBehaviour(APP0, { hang: false });
});

afterAll(async () => {
  await sb?.stop();
});

function assertNoKeyMaterial(detail: string, credential: ClientCredential) {
  expect(detail).not.toContain('PRIVATE KEY');
  expect(detail).not.toContain(credential.keyPem.split('\n')[1]);
  expect(detail).not.toContain(credential.certPem.split('\n')[1]);
}

describe('direct probes (the rotator presents the candidate certificate itself)', () => {
  it('succeed with a certificate from a CA the downstream trusts, and it saw that certificate', async () => {
    const result = await prober.direct(sb.downstreamUrl('partner'), trusted);
    expect(result).toMatchObject({ kind: 'direct', ok: true, transient: false, status: 200, observedThumbprint: trusted.thumbprint });
    expect(sb.control.downstreamSeen('partner').at(-1)).toMatchObject({ thumbprint: trusted.thumbprint, authorized: true });
    assertNoKeyMaterial(result.detail, trusted);
  });

  it('fail for good with a certificate the downstream does not trust, saying why', async () => {
    const result = await prober.direct(sb.downstreamUrl('partner'), untrusted);
    expect(result).toMatchObject({ ok: false, transient: false, status: 403 });
    expect(result.detail).toMatch(/downstream answered 403: .+/);
    assertNoKeyMaterial(result.detail, untrusted);
  });

  it('fail transiently when the downstream accepts the connection and never answers', async () => {
    sb.control.setDownstreamHang('partner', true);
    const result = await prober.direct(sb.downstreamUrl('partner'), trusted);
    expect(result).toMatchObject({ ok: false, transient: true, detail: 'timed out after 1500 ms' });
    expect(result.durationMs).toBeGreaterThanOrEqual(1400);
  });

  it('fail transiently when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(p));
      });
    });
    const result = await prober.direct(`https://127.0.0.1:${port}/`, trusted);
    expect(result).toMatchObject({ ok: false, transient: true, detail: 'connection failed: ECONNREFUSED' });
  });

  it('fail for good when the downstream’s own certificate is not trusted', async () => {
    const withoutSandboxCa = new HttpsProber({ timeoutMs: 1500, targets: sandboxTargets() });
    const result = await withoutSandboxCa.direct(sb.downstreamUrl('partner'), trusted);
    expect(result).toMatchObject({ ok: false, transient: false });
    expect(result.detail).toMatch(/server's certificate is not trusted/);
  });

  it('trust the extra CAs on top of what Node trusts by default (NODE_EXTRA_CA_CERTS), not instead of it', async () => {
    // Only the unrelated CA as an extra: here the partner's certificate is not trusted...
    const otherCa = createCertificateAuthority({ commonName: 'unrelated private CA' });
    const onlyOther = new HttpsProber({ timeoutMs: 1500, extraCaPems: [otherCa.certPem], targets: sandboxTargets() });
    expect(await onlyOther.direct(sb.downstreamUrl('partner'), trusted)).toMatchObject({ ok: false, transient: false });
    // ...in a process whose default store holds the sandbox CA (NODE_EXTRA_CA_CERTS), the same prober trusts it.
    const script = `
      const { HttpsProber } = await import(${JSON.stringify(new URL('../../src/probes/prober.ts', import.meta.url).href)});
      const { ProbeTargetGate } = await import(${JSON.stringify(new URL('../../src/probes/targetPolicy.ts', import.meta.url).href)});
      const { parseAllowedTargets } = await import(${JSON.stringify(new URL('../../src/core/probeTargets.ts', import.meta.url).href)});
      const input = JSON.parse(process.env.PROBE_INPUT);
      const targets = new ProbeTargetGate({ allowed: parseAllowedTargets(${JSON.stringify(SANDBOX_TARGETS)}), maxTargets: 5 });
      const prober = new HttpsProber({ timeoutMs: 3000, extraCaPems: [input.otherCa], targets });
      const result = await prober.direct(input.url, input.credential);
      process.stdout.write(JSON.stringify({ ok: result.ok, detail: result.detail }));
    `;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          NODE_EXTRA_CA_CERTS: sb.caFile,
          PROBE_INPUT: JSON.stringify({ otherCa: otherCa.certPem, url: sb.downstreamUrl('partner'), credential: trusted }),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`probe child exited ${code}: ${stderr.slice(0, 500)}`))));
    });
    expect(JSON.parse(output)).toMatchObject({ ok: true });
  });

  it('refuse a URL that is not https without connecting', async () => {
    expect(await prober.direct('http://127.0.0.1:1/', trusted)).toMatchObject({
      ok: false,
      transient: false,
      detail: "probe target refused: 'http://127.0.0.1:1/' must use https",
    });
  });
});

describe('via-app probes (the app makes its own outbound mTLS call)', () => {
  const health = () => `${sb.appUrl(APP0)}/healthz/outbound-mtls`;

  it('succeed when the app presents the expected certificate', async () => {
    const expected = sb.control.thumbprint(`${VAULT}/client-pfx/0`);
    const result = await prober.viaApp(health(), expected.toLowerCase());
    expect(result).toMatchObject({ kind: 'via-app', ok: true, status: 200, observedThumbprint: expected });
  });

  it('fail for good when the app presents another certificate than expected', async () => {
    const result = await prober.viaApp(health(), sb.control.thumbprint(`${VAULT}/client-pfx/latest`));
    expect(result).toMatchObject({ ok: false, transient: false, observedThumbprint: sb.control.thumbprint(`${VAULT}/client-pfx/0`) });
    expect(result.detail).toMatch(/^app presented [0-9A-F]{40}, expected [0-9A-F]{40}$/);
  });

  it('fail transiently (503) while the app restarts', async () => {
    sb.control.setRestartBehaviour(APP0, { hang: true });
    await restartThroughArm();
    const result = await prober.viaApp(health());
    expect(result).toMatchObject({ ok: false, transient: true, status: 503 });
  });
});

/** Restarts app-0 through ARM, as the rotator would (the sandbox's restart behaviour decides how long it takes). */
async function restartThroughArm(): Promise<void> {
  const gateway = new ArmAppServiceGateway({ endpoint: sb.armEndpoint, credential: staticTokenCredential(sb.token), tlsCa: sb.caPem });
  await gateway.restart(APP0);
}
