// The canary-rollout part of the demo: five apps load one Key Vault certificate whose new version breaks
// the apps' own outbound call (their partner does not trust its issuer, though the partner the tags name does). The
// canary is rolled back, the four others are never touched, and the halt is alerted. It runs in a child process with
// its own Azurite, sandbox and function host, because the demo's host holds the process-wide function app services.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const APPS = 5;

/** Runs the rollout demo and prints its lines through `say`; returns what did not happen as expected. */
export async function rolloutDemo(say: (...lines: string[]) => void): Promise<string[]> {
  say('', `A source shared by ${APPS} apps whose new version breaks the apps' own outbound call (canary rollout):`);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  for (const line of output.trimEnd().split('\n')) say(`  ${line}`);
  return code === 0 ? [] : [`canary rollout demo: ${output.split('\n').find((l) => l.startsWith('Unexpected')) ?? `exit ${code}`}`];
}

async function child(): Promise<number> {
  const { startAzurite } = await import('./azurite.js');
  const { measureBlastRadius } = await import('../bench/rollout.js');
  const azurite = await startAzurite();
  try {
    const r = await measureBlastRadius(azurite.connectionString, APPS);
    for (const [i, wave] of r.rollout.waves.entries()) {
      console.log(`wave ${i + 1} of ${r.rollout.waves.length}: ${wave.apps.map((a) => `${a.name}${a.role ? ` (${a.role})` : ''} ${a.state === 'pending' ? 'held' : a.state}`).join(', ')}`);
    }
    console.log(`RolloutHalted: ${String(r.alerts[0]?.dimensions.evidence ?? 'none').replace(/ rotation \S+/, '')}`);
    console.log(r.line.replace(/^blast radius/, 'Blast radius'));
    const expected = `blast radius: 1 of ${APPS} apps restarted onto the bad certificate, ${APPS - 1} untouched, alert raised`;
    if (r.line !== expected) {
      console.log(`Unexpected: ${r.line}`);
      return 1;
    }
    return 0;
  } finally {
    await azurite.stop();
  }
}

if (process.argv.includes('--child') && process.argv[1] === fileURLToPath(import.meta.url)) {
  child().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.log(`Unexpected: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
