// A queue function whose invocations take the time their message says, and that records how many ran at once:
// the local host's batch polling (batchSize, newBatchThreshold) seen from the function's side.
import { app } from '@azure/functions';

export const seen = { running: 0, peak: 0, done: [] as string[] };

app.storageQueue('slow', {
  queueName: '%SLOW_QUEUE%',
  connection: 'SlowStorage',
  handler: async (message: unknown) => {
    const { id, holdMs } = message as { id: string; holdMs: number };
    seen.running += 1;
    seen.peak = Math.max(seen.peak, seen.running);
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    seen.running -= 1;
    seen.done.push(id);
  },
});
