// The fleet-wide bound (MAX_PARALLEL_ROTATIONS) held by several processes at once, as several Functions instances
// hold it: each process is its own Node with its own TableRotationSlots, sharing nothing but Azurite.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { TableRotationSlots } from '../../src/azure/tableRotationSlots.js';
import { systemClock } from '../../src/core/ports.js';
import { uniqueName, useAzurite } from '../helpers/azurite.js';

const azurite = useAzurite();

interface Held {
  index: number;
  from: number;
  to: number;
}

function startHolder(env: Record<string, string>): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/azure/slots/holder.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '', CONN: azurite().connectionString, ...env },
  });
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
}

async function runHolders(processes: number, env: Record<string, string>): Promise<Array<Held | { timedOut: true }>> {
  const runs = Array.from({ length: processes }, () => startHolder(env));
  const results = await Promise.all(
    runs.map(async ({ child, lines }) => {
      const out: Array<Held | { timedOut: true }> = [];
      for await (const line of { [Symbol.asyncIterator]: () => lines }) {
        const parsed = JSON.parse(line) as Held | { timedOut: true } | { done: true };
        if ('done' in parsed) break;
        out.push(parsed);
      }
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      return out;
    }),
  );
  return results.flat();
}

/** The most intervals that overlap at one instant. */
function peakOverlap(held: Held[]): number {
  const edges = held.flatMap((h) => [
    { at: h.from, delta: 1 },
    { at: h.to, delta: -1 },
  ]);
  // At equal times an end comes first: a slot given back and taken again in the same millisecond is not two.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 0;
  for (const e of edges) {
    now += e.delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

describe('TableRotationSlots: the fleet-wide bound across processes', () => {
  it.each([
    { case: 'three processes of six rotations each never hold more than four slots at once', processes: 3, holders: 6, size: 4 },
    { case: 'four processes of three rotations each share a single slot one at a time', processes: 4, holders: 3, size: 1 },
  ])('$case', async ({ processes, holders, size }) => {
    const table = uniqueName('slots');
    await TableClient.fromConnectionString(azurite().connectionString, table, { allowInsecureConnection: true }).createTable();
    const results = await runHolders(processes, { TABLE: table, SIZE: String(size), HOLDERS: String(holders), HOLD_MS: '300' });
    const held = results.filter((r): r is Held => !('timedOut' in r));
    // Nothing lost: every rotation got a slot in the end.
    expect(held).toHaveLength(processes * holders);
    expect(peakOverlap(held)).toBeLessThanOrEqual(size);
    // The bound was reached, so the test exercised contention and not an idle fleet.
    expect(peakOverlap(held)).toBe(size);
    expect(new Set(held.map((h) => h.index))).toEqual(new Set(Array.from({ length: size }, (_, i) => i)));
    // Every slot was given back: the partition is empty.
    const rows = await new TableRotationSlots({ table: async () => TableClient.fromConnectionString(azurite().connectionString, table, { allowInsecureConnection: true }), size, clock: systemClock }).rows();
    expect(rows).toEqual([]);
  }, 120_000);

  it('a slot whose holder died frees itself when its lease expires, and not before', async () => {
    const table = uniqueName('slots');
    const client = TableClient.fromConnectionString(azurite().connectionString, table, { allowInsecureConnection: true });
    await client.createTable();
    const crashed = startHolder({ TABLE: table, SIZE: '1', TTL_MS: '3000', CRASH: '1' });
    const first = JSON.parse((await crashed.lines.next()).value as string) as { index: number; from: number };
    expect(first.index).toBe(0);
    crashed.child.kill('SIGKILL');
    const slots = new TableRotationSlots({ table: async () => client, size: 1, clock: systemClock, ttlMs: 3000, minPollMs: 50, maxPollMs: 100 });
    // Still leased: a short wait finds nothing.
    expect(await slots.acquire('survivor', 200)).toBeUndefined();
    const taken = await slots.acquire('survivor', 20_000);
    expect(taken?.index).toBe(0);
    expect(Date.now() - first.from).toBeGreaterThanOrEqual(3000);
    const [row] = await slots.rows();
    expect(row).toMatchObject({ index: 0, owner: 'survivor' });
    await taken!.release();
    expect(await slots.rows()).toEqual([]);
  }, 60_000);
});
