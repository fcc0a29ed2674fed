// `npm start -- --once`: the whole demo in a child process (Azurite, sandbox, local Functions host, nightly scan,
// queue fan-out, summary) exits 0 only when every outcome the demo scenario expects happened.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function runDemo(): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  // The demo talks to 127.0.0.1 only; a proxy setting must not route that anywhere.
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/demo.ts', '--once'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('npm start -- --once', () => {
  it('rotates the demo world as the scenario expects, prints the summary and exits 0', async () => {
    const { code, output } = await runDemo();
    expect(code, output).toBe(0);
    const row = (app: string) => output.split('\n').find((line) => line.startsWith(`${app} `)) ?? '';
    expect(row('orders')).toMatch(/[0-9A-F]{8} → [0-9A-F]{8}\s+\d+\s+committed/);
    expect(row('orders/staging')).toMatch(/committed/);
    expect(row('payments')).toMatch(/aborted\s+PreflightFailed/);
    expect(row('billing')).toMatch(/rolledBack\s+VerificationFailed/);
    expect(row('reports')).toMatch(/committed/);
    expect(row('inventory')).toMatch(/0BADC0DE → [0-9A-F]{8}.*committed\s+thumbprint\s+DanglingThumbprint/);
    expect(row('legacy-portal')).toMatch(/untouched/);
    // Apps whose health paths follow no contract of ours commit, verified on status; the kit's apps on thumbprint.
    expect(row('orders')).toMatch(/committed\s+thumbprint/);
    for (const app of ['catalog', 'shipping', 'notify', 'pricing']) expect(row(app), app).toMatch(/[0-9A-F]{8} → [0-9A-F]{8}\s+\d+\s+committed\s+status/);
    // The second run does not roll billing's failed version out again.
    expect(output).toMatch(/^  billing: not retried: CandidateRejected \(a newer Key Vault version or force clears it\)/m);
    expect(output).not.toMatch(/restarted \d+ time\(s\) by the second run|rotated again by the second run/);
    // Canary rollout: a source shared by five apps whose new version breaks them: only the canary was restarted onto it.
    expect(output).toMatch(/^ {2}wave 1 of 3: app\d\d \(canary\) rolledBack$/m);
    expect(output).toContain('Blast radius: 1 of 5 apps restarted onto the bad certificate, 4 untouched, alert raised');
    expect(output).toContain('Every outcome the demo scenario expects happened.');
    // Secrets stay secret: no PEM or PFX material in what the demo prints.
    expect(output).not.toMatch(/BEGIN (RSA |EC )?PRIVATE KEY|BEGIN CERTIFICATE/);
  }, 180_000);
});
