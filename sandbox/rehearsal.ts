// `npm start -- --az`: rehearse the manual runbook, and its rollback, with the real Azure CLI against the sandbox
// before touching production. Starts the demo world, writes a password-protected client-cert.pfx (the renewed
// version of orders' certificate, as an operator would export it), prints the environment and the `az cloud
// register` / `az login` lines, and keeps the sandbox up until Ctrl-C. `--runbook` also runs the whole runbook
// (sandbox/azRunbook.ts) and prints `az runbook: N/N commands`.
//
// az calls home at start-up, so it and this process must share a network namespace that has only loopback:
//   unshare -rn sh -c 'ip link set lo up && exec bash'     (then, in that shell: npm start -- --az &)
// docs/local-runner.md, "Rehearsing the runbook with az".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomPassword } from '../src/crypto/index.js';
import { azEnvironment, azSignInCommands, shellLine, shellQuote } from './azcli.js';
import { exportPfx, runRunbook } from './azRunbook.js';
import { DEMO_SUBSCRIPTION_ID, demoScenario, startSandbox } from './index.js';

/** Interfaces with an address other than loopback: where az could reach the internet from. */
export function nonLoopbackInterfaces(): string[] {
  return Object.entries(networkInterfaces())
    .filter(([, addresses]) => (addresses ?? []).some((a) => !a.internal))
    .map(([name]) => name);
}

export async function rehearse(argv: readonly string[] = process.argv): Promise<number> {
  const say = (line = '') => console.log(line);
  const outside = nonLoopbackInterfaces();
  if (outside.length > 0) {
    say(`WARNING: this namespace has network interfaces besides loopback (${outside.join(', ')}); az would call home from here.`);
    say("         Run inside a loopback-only namespace: unshare -rn sh -c 'ip link set lo up && exec bash'");
    say();
  }
  const sb = await startSandbox(demoScenario());
  const work = mkdtempSync(join(tmpdir(), 'mtls-rehearsal-'));
  try {
    const password = randomPassword();
    const pfxFile = join(work, 'client-cert.pfx');
    writeFileSync(pfxFile, await exportPfx(sb, 'kv-demo', 'orders-client', password), { mode: 0o600 });
    const env = azEnvironment(sb, join(work, 'azure'));
    const app = { subscriptionId: DEMO_SUBSCRIPTION_ID, resourceGroup: 'rg-apps', site: 'orders' };
    say('Sandbox up (the demo world). In this namespace, point az at it:');
    say();
    for (const [k, v] of Object.entries(env)) say(`export ${k}=${shellQuote(v)}`);
    for (const argv of azSignInCommands(sb)) say(shellLine(['az', ...argv]));
    say();
    say('The runbook\'s variables, and what it needs:');
    say(`RG=rg-apps APP_NAME=orders`);
    say(`# ./client-cert.pfx of step 1 (the renewed certificate of orders): ${pfxFile}`);
    say(`# its password: ${password}   (a sandbox certificate, nothing real)`);
    say(`# the thumbprint it replaces (the rollback's <previous-thumbprint>): ${sb.control.thumbprint('kv-demo/orders-client/0')}`);
    say(`# the renewed thumbprint: ${sb.control.thumbprint('kv-demo/orders-client/latest')}`);
    say(`# what orders loads now (changes after each az webapp restart): ${sb.control.loadedThumbprints(app).join(', ')}`);
    say();
    if (argv.includes('--runbook')) {
      const { outcomes, passed } = await runRunbook(sb, { print: (line) => say(line) });
      if (argv.includes('--once')) return passed === outcomes.length ? 0 : 1;
    } else if (argv.includes('--once')) {
      return 0;
    }
    say('Ctrl-C stops the sandbox.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
    await sb.stop();
  }
}
