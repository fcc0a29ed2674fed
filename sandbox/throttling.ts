// ARM's per-subscription request throttling, modelled as token buckets (one for reads, one for writes per
// subscription). Azure documents 250 burst / 25 per s for reads and 200 / 10 per s for writes; `POST …/list`
// actions count as writes.
//
// Time scale: `timeScale` multiplies the REFILL RATE only; the bursts stay as configured. With timeScale 10
// a scan that would need 40 s of quota waits on real Azure needs 4 s here. The ratio a benchmark reports,
// wall time / quotaFloorSeconds(...), is the same at every scale as long as the client's own overhead stays
// small against the refill interval.

export interface BucketSpec {
  burst: number;
  perSecond: number;
}

export interface ThrottlingOptions {
  /** Reject with 429 when a bucket is empty. Default false (buckets are still computed for the headers). */
  enabled?: boolean;
  /** Refill-rate multiplier (see file comment). Default 1. */
  timeScale?: number;
  reads?: BucketSpec;
  writes?: BucketSpec;
}

export const ARM_READS: BucketSpec = { burst: 250, perSecond: 25 };
export const ARM_WRITES: BucketSpec = { burst: 200, perSecond: 10 };

export type RequestClass = 'read' | 'write';

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this request (the x-ms-ratelimit-remaining-subscription-* value). */
  remaining: number;
  /** When refused: how long until one token is back. */
  retryAfterMs: number;
}

class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly ratePerMs: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.ratePerMs);
      this.last = now;
    }
  }

  take(now: number, enforce: boolean): TakeResult {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { allowed: true, remaining: Math.floor(this.tokens), retryAfterMs: 0 };
    }
    const retryAfterMs = Math.ceil((1 - this.tokens) / this.ratePerMs);
    if (enforce) return { allowed: false, remaining: 0, retryAfterMs };
    // Throttling off: the request goes through and the bucket stays empty rather than going negative, so the
    // header reports what a real subscription would have left (0) without punishing later requests.
    this.tokens = 0;
    return { allowed: true, remaining: 0, retryAfterMs: 0 };
  }
}

export class ArmThrottle {
  private readonly buckets = new Map<string, TokenBucket>();
  private opts: Required<ThrottlingOptions>;

  constructor(
    opts: ThrottlingOptions = {},
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.opts = ArmThrottle.normalise(opts);
  }

  static normalise(o: ThrottlingOptions): Required<ThrottlingOptions> {
    const timeScale = o.timeScale ?? 1;
    if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new RangeError(`throttling timeScale must be a positive number, got ${timeScale}`);
    for (const [k, b] of [
      ['reads', o.reads],
      ['writes', o.writes],
    ] as const) {
      if (b !== undefined && (!(b.burst >= 1) || !(b.perSecond > 0))) throw new RangeError(`throttling ${k} needs burst >= 1 and perSecond > 0`);
    }
    return { enabled: o.enabled ?? false, timeScale, reads: o.reads ?? ARM_READS, writes: o.writes ?? ARM_WRITES };
  }

  get options(): Required<ThrottlingOptions> {
    return { ...this.opts };
  }

  /** New options start every bucket full. */
  configure(opts: ThrottlingOptions): void {
    this.opts = ArmThrottle.normalise(opts);
    this.buckets.clear();
  }

  reset(): void {
    this.buckets.clear();
  }

  take(subscriptionId: string, cls: RequestClass): TakeResult {
    const key = `${subscriptionId.toLowerCase()}|${cls}`;
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const spec = cls === 'read' ? this.opts.reads : this.opts.writes;
      bucket = new TokenBucket(spec.burst, (spec.perSecond * this.opts.timeScale) / 1000, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now, this.opts.enabled);
  }
}

/**
 * The least wall time in which `reads` reads and `writes` writes against ONE subscription can complete under
 * the model (the two buckets refill in parallel). A benchmark divides its wall time by this.
 */
export function quotaFloorSeconds(reads: number, writes: number, opts: ThrottlingOptions = {}): number {
  const o = ArmThrottle.normalise(opts);
  const floor = (n: number, b: BucketSpec) => Math.max(0, n - b.burst) / (b.perSecond * o.timeScale);
  return Math.max(floor(reads, o.reads), floor(writes, o.writes));
}
