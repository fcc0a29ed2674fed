// The CLI's output is complete whatever its stdout is. A pipe on POSIX takes 64 KiB at a time; the rest waits in
// the process until the reader takes it, and a CLI that exited right after writing lost it
// (`mtls-rotator plan --json | jq` saw 64 KiB of JSON). Here the real entry point (src/cli.ts) writes a plan of
// more than a mebibyte, over a large sandbox, into a pipe read slowly and into a file.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaleScenario, startSandbox, type Sandbox } from '../sandbox/index.js';
import { useAzurite } from './helpers/azurite.js';
import { sandboxEnv } from './integration/world.js';

const azurite = useAzurite();
const APPS = 1500;
let sb: Sandbox;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  const scenario = scaleScenario({ subscriptions: 1, appsPerSubscription: APPS, due: 100 });
  sb = await startSandbox(scenario);
  const facts = scenario.meta?.facts as { subscriptionIds: string[] };
  // No ARM pacing: the sandbox's remaining-quota headers would pace 1,500 settings reads to the real quota floor
  // (minutes); the output, not the scan, is under test.
  env = sandboxEnv(sb, azurite().connectionString, facts.subscriptionIds.join(','), { ARM_PACING: 'false' });
  dir = mkdtempSync(join(tmpdir(), 'cli-output-'));
}, 120_000);

afterAll(async () => {
  await sb?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function childEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_EXTRA_CA_CERTS: sb.caFile, ...env };
}

/** Runs `plan --json` with stdout a pipe that the test leaves unread for a while, then reads with a pause per chunk. */
function planThroughSlowPipe(): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'plan', '--json'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let first = true;
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      child.stdout.pause();
      // The first pause outlasts the child's writing (and, before the fix, its exit); then a short one per chunk.
      setTimeout(() => child.stdout.resume(), first ? 1500 : 5);
      first = false;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(chunks), stderr }));
  });
}

describe('mtls-rotator output of more than 1 MiB', () => {
  it('reaches a slow reader through a pipe in full, as JSON that parses', async () => {
    const run = await planThroughSlowPipe();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(1024 * 1024);
    const plan = JSON.parse(run.stdout.toString('utf8')) as { apps: unknown[] };
    expect(plan.apps).toHaveLength(APPS);
  }, 180_000);

  it('reaches a file in full', async () => {
    const file = join(dir, 'plan.json');
    const fd = openSync(file, 'w');
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'plan', '--json'], { env: childEnv(), stdio: ['ignore', fd, 'inherit'] });
      child.on('error', reject);
      child.on('close', resolve);
    });
    closeSync(fd);
    expect(code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(Buffer.byteLength(text)).toBeGreaterThan(1024 * 1024);
    expect((JSON.parse(text) as { apps: unknown[] }).apps).toHaveLength(APPS);
  }, 180_000);

  it('stops quietly when the reader goes away early (| head): no EPIPE crash, the status of the command', async () => {
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'plan', '--json'], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.once('data', () => child.stdout.destroy());
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(run.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(run.code).toBe(0);
  }, 180_000);
});
