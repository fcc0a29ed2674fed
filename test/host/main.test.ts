// The CLI in its own Node process: proves the host and function modules load under native Node ESM (where
// @azure/functions exposes fewer named exports than under vitest) and that SIGTERM shuts it down cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();
let child: ChildProcess | undefined;

afterEach(() => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
});

describe('src/host/main.ts', () => {
  it('serves the fixture functions from a separate process and stops on SIGTERM', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/host/main.ts', '--dir', 'test/host/fixtures', '--port', '0', '--no-timers'], {
      env: {
        PATH: process.env.PATH,
        FIXTURE_TICK_SCHEDULE: '0 0 3 * * *',
        FIXTURE_QUEUE: 'cli-work',
        FixtureStorage: azurite().connectionString,
        FUNCTIONS_KEY: 'cli-key',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));

    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the host did not start:\n${output}`)), 30_000);
      const check = (): void => {
        const m = /local host listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      proc.stdout!.on('data', check);
      void exited.then(() => reject(new Error(`the host exited early:\n${output}`)));
    });

    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    const echo = await fetch(`${url}/api/items/5`, { headers: { 'x-functions-key': 'cli-key' } });
    expect(await echo.json()).toMatchObject({ id: '5', method: 'GET' });
    expect(output).toContain("queue function 'work' listening on 'cli-work'");

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('local host stopped');
    expect(output).not.toMatch(/does not provide an export named/);
  });
});
