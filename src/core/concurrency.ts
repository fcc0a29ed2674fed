// Bounded parallelism. ARM throttles per subscription and principal; the adapters pace calls, and the
// engine keeps the number of calls in flight small so a scan never turns into a burst of 429s.

/** Maps `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () => worker());
  await Promise.all(workers);
  return results;
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/**
 * A per-key promise cache: concurrent callers share one call. A failure is cached too (one look-up per scan), unless
 * `forgetFailures` is set, in which case the next caller tries again.
 */
export class OnceCache<V> {
  private readonly entries = new Map<string, Promise<V>>();

  constructor(private readonly options: { forgetFailures?: boolean } = {}) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = load();
      // Attach a handler so a cached rejection is never reported as unhandled.
      entry.catch(() => {
        if (this.options.forgetFailures) this.entries.delete(key);
      });
      this.entries.set(key, entry);
    }
    return entry;
  }
}
