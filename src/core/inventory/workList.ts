// The scan's worker pool: a fixed set of workers pulling jobs from a plain list, so the pending work of 10,000 queued
// apps costs 10,000 references, not 10,000 closures and promises that outlive young-generation collections.

/**
 * Jobs in the order they were pushed, taken by a fixed set of workers. It ends when the listing is done and no
 * slot listing (which adds jobs) is still running; abort() drops what has not started.
 */
export class WorkList<T extends { kind: string }> {
  private items: Array<T | undefined> = [];
  private next = 0;
  private listingDone = false;
  private slotJobsRunning = 0;
  private aborted = false;
  private waiting: Array<() => void> = [];

  push(item: T): void {
    if (this.aborted) return;
    this.items.push(item);
    this.wake();
  }

  async take(): Promise<T | undefined> {
    for (;;) {
      if (this.next < this.items.length) {
        const item = this.items[this.next] as T;
        // Taken jobs are not kept: the list would otherwise hold every site until the subscription is done.
        this.items[this.next] = undefined;
        this.next += 1;
        if (item.kind === 'slots') this.slotJobsRunning += 1;
        if (this.next === this.items.length) {
          this.items = [];
          this.next = 0;
        }
        return item;
      }
      if (this.listingDone && this.slotJobsRunning === 0) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  finished(item: T): void {
    if (item.kind === 'slots') {
      this.slotJobsRunning -= 1;
      this.wake();
    }
  }

  listed(): void {
    this.listingDone = true;
    this.wake();
  }

  abort(): void {
    this.aborted = true;
    this.items = [];
    this.next = 0;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
/**
 * Runs `size` workers over `work` until it ends. The first job that throws aborts the list (what has not started is
 * dropped) and is returned as `failure`; the others finish what they took.
 */
export function runWorkers<T extends { kind: string }>(
  work: WorkList<T>,
  size: number,
  run: (job: T) => Promise<void>,
  onFailure: (error: unknown) => void,
): Promise<void[]> {
  return Promise.all(
    Array.from({ length: size }, async () => {
      for (let job = await work.take(); job !== undefined; job = await work.take()) {
        try {
          await run(job);
        } catch (error) {
          onFailure(error);
          work.abort();
        } finally {
          work.finished(job);
        }
      }
    }),
  );
}
