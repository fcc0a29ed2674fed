// Client-side pacing of ARM calls: a local model of ARM's per-subscription token buckets, so a scan slows down
// before ARM answers 429 instead of after.
//
// Why a pipeline policy after the retry phase: the SDK retries 429s inside its pipeline (honouring Retry-After,
// at most 4 attempts, then the call is lost), so a limiter wrapped around the SDK calls never sees those attempts.
// Sitting per attempt, next to the wire, the pacer charges every attempt, re-seeds from the remaining-quota header
// of every response and charges every 429 (see DESIGN.md, "ARM throttles ...").
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from '@azure/core-rest-pipeline';

export type RequestClass = 'reads' | 'writes';

export interface PacingOptions {
  /** ARM: 25 reads per second refill, 250 burst; 10 writes per second, 200 burst (per subscription and principal). */
  readsPerSecond?: number;
  writesPerSecond?: number;
  readBurst?: number;
  writeBurst?: number;
  /**
   * Tokens the pacer leaves in ARM's bucket (default 2). Sending exactly at the refill rate keeps ARM's bucket at
   * zero, where a request that arrives a few ms early (event-loop stall, network jitter) is a 429; this margin costs
   * its size / rate once (0.2 s of reads at 10/s), not a slower rate.
   */
  reserveTokens?: number;
  /** Injected for tests; defaults to Date.now and setTimeout. */
  clock?: PacingClock;
}

export interface PacingClock {
  nowMs(): number;
  sleep(ms: number): Promise<void>;
}

export const systemPacingClock: PacingClock = {
  nowMs: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Counters for the benchmark and the scan summary (public numbers only). */
export interface PacingStats {
  /** Attempts that reached the wire (every retry counts). */
  requests: number;
  throttled: number;
  /** Attempts that had to wait for the bucket, and the total wait. */
  waits: number;
  waitedMs: number;
  byClass: Record<RequestClass, { requests: number; throttled: number; waits: number; waitedMs: number }>;
}

export function emptyPacingStats(): PacingStats {
  return {
    requests: 0,
    throttled: 0,
    waits: 0,
    waitedMs: 0,
    byClass: {
      reads: { requests: 0, throttled: 0, waits: 0, waitedMs: 0 },
      writes: { requests: 0, throttled: 0, waits: 0, waitedMs: 0 },
    },
  };
}

/**
 * A token bucket that hands out reservations: a caller that finds it empty still takes its token (the balance goes
 * negative) and is told how long to wait, so concurrent callers queue up in order instead of all waking together.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  /** Reserved and sent, answer not seen yet: the server may not have counted them when it reports its balance. */
  private inFlight = 0;
  /** Reservation order, so an answer that arrives late cannot overwrite a newer balance with an older one. */
  private issued = 0;
  private seededUpTo = 0;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly clock: Pick<PacingClock, 'nowMs'>,
    /** Tokens never handed out (see PacingOptions.reserveTokens). */
    private readonly reserveTokens = 0,
  ) {
    this.tokens = capacity;
    this.lastMs = clock.nowMs();
  }

  /**
   * Takes one token; returns how many milliseconds the caller must wait before sending (0 when available) and a
   * ticket that orders this request among the others (for `seed`).
   */
  reserve(): { waitMs: number; ticket: number } {
    this.refill();
    const needed = 1 + this.reserveTokens;
    const waitMs = this.tokens >= needed ? 0 : Math.ceil(((needed - this.tokens) / this.refillPerSecond) * 1000);
    this.tokens -= 1;
    this.inFlight += 1;
    this.issued += 1;
    return { waitMs, ticket: this.issued };
  }

  /** The answer to a reserved request arrived (whatever its status). */
  settle(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /**
   * ARM's own balance after a request. Our other requests still on the wire are subtracted: whether ARM has counted
   * them yet is unknown, and assuming it has not is the side that cannot cause a 429.
   */
  seed(remaining: number, ticket?: number): void {
    // ARM answered requests out of order: a request reserved before the last seeding one was counted earlier,
    // so its balance is older (and higher) than what we already know.
    if (ticket !== undefined) {
      if (ticket < this.seededUpTo) return;
      this.seededUpTo = ticket;
    }
    this.refill();
    this.tokens = Math.min(this.capacity, remaining - this.inFlight);
  }

  /** A 429 proves ARM's bucket is empty whatever our model said; the rejected attempt still cost a token. */
  chargeThrottle(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0) - 1;
  }

  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.clock.nowMs();
    const elapsed = Math.max(0, now - this.lastMs);
    this.lastMs = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.refillPerSecond);
  }
}

/** ARM counts GET/HEAD as reads; everything else, `POST .../list` actions included, as writes. */
export function classifyArmRequest(method: string): RequestClass {
  const m = method.toUpperCase();
  return m === 'GET' || m === 'HEAD' ? 'reads' : 'writes';
}

/** `/subscriptions/{id}/...` → id (lowercased: ARM ids are case-insensitive); undefined for tenant-level calls. */
export function subscriptionOfUrl(url: string): string | undefined {
  const match = /\/subscriptions\/([^/?#]+)/i.exec(new URL(url).pathname);
  return match ? decodeURIComponent(match[1]).toLowerCase() : undefined;
}

const REMAINING_HEADER: Record<RequestClass, string> = {
  reads: 'x-ms-ratelimit-remaining-subscription-reads',
  writes: 'x-ms-ratelimit-remaining-subscription-writes',
};

export const ARM_PACING_POLICY_NAME = 'mtlsRotatorArmPacing';

export class ArmPacer {
  readonly stats: PacingStats = emptyPacingStats();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly clock: PacingClock;
  private readonly rates: Record<RequestClass, { perSecond: number; burst: number }>;
  private readonly reserveTokens: number;

  constructor(options: PacingOptions = {}) {
    this.clock = options.clock ?? systemPacingClock;
    this.reserveTokens = options.reserveTokens ?? 2;
    this.rates = {
      reads: { perSecond: options.readsPerSecond ?? 25, burst: options.readBurst ?? 250 },
      writes: { perSecond: options.writesPerSecond ?? 10, burst: options.writeBurst ?? 200 },
    };
  }

  bucket(subscriptionId: string, requestClass: RequestClass): TokenBucket {
    const key = `${subscriptionId.toLowerCase()}|${requestClass}`;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      const { burst, perSecond } = this.rates[requestClass];
      bucket = new TokenBucket(burst, perSecond, this.clock, this.reserveTokens);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** Waits for a token of the request's bucket, sends it, and learns from the answer. */
  async send(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
    const subscription = subscriptionOfUrl(request.url) ?? 'tenant';
    const requestClass = classifyArmRequest(request.method);
    const bucket = this.bucket(subscription, requestClass);
    const { waitMs, ticket } = bucket.reserve();
    const counters = this.stats.byClass[requestClass];
    if (waitMs > 0) {
      this.stats.waits += 1;
      this.stats.waitedMs += waitMs;
      counters.waits += 1;
      counters.waitedMs += waitMs;
      try {
        await this.clock.sleep(waitMs);
      } catch (error) {
        bucket.settle();
        throw error;
      }
      if (request.abortSignal?.aborted) {
        bucket.settle();
        const aborted = new Error('The operation was aborted while waiting for ARM quota.');
        aborted.name = 'AbortError';
        throw aborted;
      }
    }
    this.stats.requests += 1;
    counters.requests += 1;
    let response: PipelineResponse;
    try {
      response = await next(request);
    } finally {
      bucket.settle();
    }
    for (const cls of ['reads', 'writes'] as const) {
      const remaining = Number.parseInt(response.headers.get(REMAINING_HEADER[cls]) ?? '', 10);
      // The ticket orders requests of one bucket only; the other class's balance is taken as it comes.
      if (Number.isFinite(remaining)) this.bucket(subscription, cls).seed(remaining, cls === requestClass ? ticket : undefined);
    }
    if (response.status === 429) {
      this.stats.throttled += 1;
      counters.throttled += 1;
      bucket.chargeThrottle();
    }
    return response;
  }

  /** The policy to add with `position: 'perRetry'` (after the retry phase: it sees every attempt). */
  policy(): PipelinePolicy {
    return { name: ARM_PACING_POLICY_NAME, sendRequest: (request, next) => this.send(request, next) };
  }

  resetStats(): void {
    Object.assign(this.stats, emptyPacingStats());
  }
}

/** A policy that only counts (ARM_PACING=false), so the benchmark can compare the two with the same figures. */
export class ArmRequestCounter {
  readonly stats: PacingStats = emptyPacingStats();

  policy(): PipelinePolicy {
    return {
      name: ARM_PACING_POLICY_NAME,
      sendRequest: async (request, next) => {
        const counters = this.stats.byClass[classifyArmRequest(request.method)];
        this.stats.requests += 1;
        counters.requests += 1;
        const response = await next(request);
        if (response.status === 429) {
          this.stats.throttled += 1;
          counters.throttled += 1;
        }
        return response;
      },
    };
  }

  resetStats(): void {
    Object.assign(this.stats, emptyPacingStats());
  }
}

/** ARM_PACING=true → a pacer; false → only counters. Both expose `stats` and `policy()`. */
export function createArmPacing(enabled: boolean, options?: PacingOptions): ArmPacer | ArmRequestCounter {
  return enabled ? new ArmPacer(options) : new ArmRequestCounter();
}
