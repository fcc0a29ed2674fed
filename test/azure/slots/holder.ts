// One "instance" of the function app for tableRotationSlots.test.ts: HOLDERS concurrent rotations, each taking a
// slot, holding it HOLD_MS and giving it back. Prints one JSON line per slot taken, { index, from, to } (epoch ms,
// the machine's clock that every process of the test shares), then {"done":true}. With CRASH=1 it takes one slot,
// prints it and hangs until killed, the way a recycled instance leaves its slot behind.
import { TableClient } from '@azure/data-tables';
import { systemClock } from '../../../src/core/ports.js';
import { TableRotationSlots } from '../../../src/azure/tableRotationSlots.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const client = TableClient.fromConnectionString(env('CONN'), env('TABLE'), { allowInsecureConnection: true });
const slots = new TableRotationSlots({
  table: async () => client,
  size: Number(env('SIZE')),
  clock: systemClock,
  ttlMs: Number(process.env.TTL_MS ?? 120_000),
  minPollMs: 50,
  maxPollMs: 200,
});
const owner = `holder-${process.pid}`;

if (process.env.CRASH === '1') {
  const slot = await slots.acquire(owner, 30_000);
  process.stdout.write(JSON.stringify({ index: slot?.index, from: Date.now() }) + '\n');
  setInterval(() => undefined, 1_000);
} else {
  const holdMs = Number(env('HOLD_MS'));
  await Promise.all(
    Array.from({ length: Number(env('HOLDERS')) }, async () => {
      const slot = await slots.acquire(owner, 60_000);
      if (slot === undefined) {
        process.stdout.write(JSON.stringify({ timedOut: true }) + '\n');
        return;
      }
      const from = Date.now();
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      const to = Date.now();
      await slot.release();
      process.stdout.write(JSON.stringify({ index: slot.index, from, to }) + '\n');
    }),
  );
  process.stdout.write(JSON.stringify({ done: true }) + '\n');
}
