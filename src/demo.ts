// `npm start`: the local Azure sandbox with the demo scenario, on 127.0.0.1 free ports, until Ctrl-C.
// `--once` prints the endpoints and exits (a smoke test of the start-up). The full demo (rotator, Azurite,
// timers) builds on this.
import { DEMO_EXPECTED_OUTCOMES, DEMO_SUBSCRIPTION_ID, demoScenario, startSandbox } from '../sandbox/index.js';

async function main(): Promise<void> {
  const once = process.argv.includes('--once');
  const verbose = process.argv.includes('--verbose');
  const sandbox = await startSandbox(demoScenario(), verbose ? { log: (line) => console.log(`  ${line}`) } : {});
  const scenario = sandbox.scenario;

  const lines = [
    `mtls-rotator sandbox (scenario '${scenario.name}') is up; relative days count from ${sandbox.startedAt.toISOString()}`,
    '',
    `ARM endpoint      ${sandbox.armEndpoint}`,
    `CA certificate    ${sandbox.caFile}   (trust it: NODE_EXTRA_CA_CERTS=${sandbox.caFile}, or tlsOptions: { ca })`,
    `Bearer token      ${sandbox.token}   (any non-empty bearer is accepted)`,
    `Tenant            ${sandbox.tenantId}`,
    `Subscription      ${DEMO_SUBSCRIPTION_ID}`,
  ];
  for (const v of scenario.vaults ?? []) lines.push(`Key Vault ${v.name.padEnd(8)} ${sandbox.vaultUrl(v.name)}`);
  for (const d of scenario.downstreams ?? []) lines.push(`Downstream ${d.name.padEnd(14)} ${sandbox.downstreamUrl(d.name)}  trusts ${d.trusts.join(', ')}`);
  lines.push('', 'Apps and what the rotator should do with them:');
  for (const sub of scenario.subscriptions) {
    for (const rg of sub.resourceGroups) {
      for (const site of rg.sites ?? []) {
        const refs = [{ name: site.name, slot: undefined as string | undefined }, ...(site.slots ?? []).map((s) => ({ name: `${site.name}/${s.name}`, slot: s.name }))];
        for (const r of refs) {
          const url = sandbox.appUrl({ subscriptionId: sub.id, resourceGroup: rg.name, site: site.name, slot: r.slot });
          lines.push(`  ${r.name.padEnd(16)} ${url}`);
          lines.push(`  ${''.padEnd(16)} ${DEMO_EXPECTED_OUTCOMES[r.name] ?? ''}`);
        }
      }
    }
  }
  lines.push(
    '',
    'Try:',
    `  curl --cacert ${sandbox.caFile} -H "Authorization: Bearer ${sandbox.token}" "${sandbox.armEndpoint}/subscriptions/${DEMO_SUBSCRIPTION_ID}/providers/Microsoft.Web/sites?api-version=2025-05-01"`,
    `  curl --cacert ${sandbox.caFile} -H "Authorization: Bearer ${sandbox.token}" "${sandbox.armEndpoint}/_sandbox/counters"`,
  );
  console.log(lines.join('\n'));

  if (once) {
    await sandbox.stop();
    return;
  }
  console.log('\nPress Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await sandbox.stop();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`sandbox failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
