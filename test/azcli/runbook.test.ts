// The manual runbook, and its rollback, run with the real Azure CLI (Debian's azure-cli) against the sandbox, in a
// network namespace that has only loopback (az calls home at start-up; nothing may leave the machine). The child
// (sandbox/azRunbook.ts) starts the sandbox inside that namespace, runs every az command and checks each one from
// the sandbox's side; this test reads its report. Without az: skipped, and it says so, except in CI (CI=true),
// where a missing az is a failure (.ci/run installs it).
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Outcome {
  title: string;
  command: string;
  ok: boolean;
  why?: string;
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const az = findOnPath('az');
const inCi = process.env.CI === 'true';
const namespaceWorks = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' }).status === 0;
const missing = az === undefined ? 'az (Debian package azure-cli) is not installed' : !namespaceWorks ? "'unshare -rn' with 'ip link set lo up' does not work here" : undefined;
if (missing !== undefined && !inCi) console.log(`az runbook: skipped: ${missing}`);

function runInLoopbackNamespace(): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']) delete env[name];
  return new Promise((resolve, reject) => {
    // The sandbox must live in the same namespace as az: loopback there is not the test runner's loopback.
    const child = spawn('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && exec "$0" --import tsx sandbox/azRunbook.ts', process.execPath], {
      env: { ...env, AZ_CLI: az ?? 'az' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe.skipIf(missing !== undefined && !inCi)('the runbook with the real az client, against the sandbox, offline', () => {
  let report: { passed: number; total: number; outcomes: Outcome[] } | undefined;
  let output = '';

  it('runs every command of the runbook and its rollback, each checked on the sandbox side', async () => {
    expect(missing, 'CI installs azure-cli (.ci/run) and needs a loopback-only namespace').toBeUndefined();
    const run = await runInLoopbackNamespace();
    output = run.output;
    console.log(output.split('\n').filter((l) => !l.startsWith('AZ_RUNBOOK_RESULT ')).join('\n'));
    const line = output.split('\n').find((l) => l.startsWith('AZ_RUNBOOK_RESULT '));
    expect(line, output).toBeDefined();
    report = JSON.parse(line!.slice('AZ_RUNBOOK_RESULT '.length)) as typeof report;
    expect(report!.outcomes.filter((o) => !o.ok), output).toEqual([]);
    expect(output).toMatch(new RegExp(`^az runbook: ${report!.total}/${report!.total} commands$`, 'm'));
    expect(run.code, output).toBe(0);
  }, 900_000);

  it.each([
    ['signs in as a service principal', /^az login --service-principal /],
    ['shows the signed-in account', /^az account show /],
    ['lists the subscriptions', /^az account list /],
    ['lists the web apps', /^az webapp list /],
    ['shows a web app', /^az webapp show --resource-group rg-apps --name orders /],
    ['lists app settings without a query', /^az webapp config appsettings list (?!.*--query)/],
    ['lists app settings with the runbook query', /^az webapp config appsettings list .*--query '\[\?name==/],
    ['sets an app setting', /^az webapp config appsettings set .*--settings WEBSITE_LOAD_CERTIFICATES=/],
    ['sets an app setting on a slot', /^az webapp config appsettings set .*--slot staging /],
    ['sets a slot setting', /^az webapp config appsettings set .*--slot-settings /],
    ['deletes an app setting', /^az webapp config appsettings delete /],
    ['uploads a certificate', /^az webapp config ssl upload /],
    ['lists certificates with the runbook query', /^az webapp config ssl list .*hostNames==null/],
    ['shows a certificate', /^az webapp config ssl show /],
    ['deletes a certificate by thumbprint', /^az webapp config ssl delete .*--certificate-thumbprint /],
    ['restarts the app', /^az webapp restart /],
    ['lists the deployment slots', /^az webapp deployment slot list /],
  ])('the run covers: %s', (_what, command) => {
    expect(report, 'the runbook run above did not report').toBeDefined();
    const matching = report!.outcomes.filter((o) => command.test(o.command));
    expect(matching.length, `no command matches ${String(command)}`).toBeGreaterThan(0);
    expect(matching.filter((o) => !o.ok)).toEqual([]);
  });
});
