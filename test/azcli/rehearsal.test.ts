// `npm start -- --az`: the rehearsal mode prints what an operator needs to run the runbook with az against the
// sandbox (environment, cloud registration, service principal sign-in, the runbook's variables and PFX), from a
// loopback-only namespace. The printed sign-in is the one test/azcli/runbook.test.ts runs with the real az.
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const namespaceWorks = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' }).status === 0;
if (!namespaceWorks) console.log("rehearsal: skipped: 'unshare -rn' with 'ip link set lo up' does not work here");

function rehearseOnce(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" --import tsx local/demo.ts --az --once', process.execPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe.skipIf(!namespaceWorks)('npm start -- --az (rehearsal mode), in a loopback-only namespace', () => {
  let output = '';
  it('starts the sandbox and exits 0 with --once', async () => {
    const run = await rehearseOnce();
    output = run.output;
    expect(run.code, output).toBe(0);
  }, 120_000);

  it.each([
    ['no warning: the namespace has only loopback', (o: string) => !/WARNING/.test(o)],
    ['az gets its own configuration directory and trusts the sandbox CA', (o: string) => /^export AZURE_CONFIG_DIR=\S+$/m.test(o) && /^export REQUESTS_CA_BUNDLE=\S+sandbox-ca\.pem$/m.test(o)],
    ['telemetry is off', (o: string) => /^export AZURE_CORE_COLLECT_TELEMETRY=false$/m.test(o)],
    ['the cloud is registered with ARM and an AD FS-style authority on 127.0.0.1', (o: string) => /^az cloud register --name \S+ --endpoint-resource-manager https:\/\/127\.0\.0\.1:\d+\/ --endpoint-active-directory https:\/\/127\.0\.0\.1:\d+\/adfs /m.test(o)],
    ['the sign-in is a service principal of the sandbox tenant', (o: string) => /^az login --service-principal --username [0-9a-f-]{36} --password \S+ --tenant [0-9a-f-]{36} --output json$/m.test(o)],
    ["the runbook's variables, its PFX and the rollback thumbprint", (o: string) => /^RG=rg-apps APP_NAME=orders$/m.test(o) && /client-cert\.pfx/.test(o) && /<previous-thumbprint>\): [0-9A-F]{40}$/m.test(o)],
  ])('prints: %s', (_what, holds) => {
    expect(holds(output), output).toBe(true);
  });
});
