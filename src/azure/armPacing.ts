// Client-side pacing of ARM calls: a local model of ARM's per-subscription token buckets, so a scan slows down
// before ARM answers 429 instead of after.
//
// Why a pipeline policy after the retry phase: the SDK retries 429s inside its pipeline (honouring Retry-After,
// at most 4 attempts, then the call is lost), so a limiter wrapped around the SDK calls never sees those attempts.
// Sitting per attempt, next to the wire, the pacer charges every attempt, re-seeds from the remaining-quota header
// of every response and charges every 429 (see DESIGN.md, "ARM throttles ...").
//
// Why a share: ARM's bucket is per subscription and principal, and every instance of the function app rotates with
// the same identity. The remaining-quota header is the one truth they share; a pacer that believed the whole balance
// and the whole refill were its own would, with N instances, spend N times the refill once the burst is gone (a 429
// per instance per refill interval). So each pacer measures its share of the bucket's consumption from the headers
// (how much the balance fell, plus what ARM refilled, against how many of those requests were its own), and below
// a low-water mark it spends only that share of the balance and refills at that share of the rate: the refill rate
// divided by the number of instances drawing on it, observed rather than configured (instances come and go).
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
  /**
   * Below this fraction of the burst (default 0.3) the balance is shared: the pacer spends and refills only its
   * observed share. Above it every instance spends freely; the mark leaves room for what all instances have on the
   * wire when they cross it (a rotation has one ARM call in flight; host.json allows 12 rotations per instance).
   */
  lowWaterFraction?: number;
  /** How far back the share is measured (default 10 s: about 100 writes at ARM's refill rate). */
  shareWindowMs?: number;
  /** False: the pacer takes the whole balance as its own (one process; the comparison in tests). Default true. */
  shareQuota?: boolean;
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
  /** Our answers that carried the balance, and the balances seen, for the share (oldest first). */
  private wire = 0;
  private readonly samples: Array<{ atMs: number; remaining: number; sent: number }> = [];
  /** Our part of the bucket's consumption, 1 until measured (alone until proven otherwise). */
  private ourShare = 1;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly clock: Pick<PacingClock, 'nowMs'>,
    /** Tokens never handed out (see PacingOptions.reserveTokens). */
    private readonly reserveTokens = 0,
    private readonly sharing: { lowWater: number; windowMs: number } | undefined = undefined,
  ) {
    this.tokens = capacity;
    this.lastMs = clock.nowMs();
  }

  /** Our measured part of the bucket's consumption (1 = nobody else draws on it). */
  share(): number {
    return this.ourShare;
  }

  /** The refill this pacer may count on: its share of ARM's rate once the balance is low. */
  private rate(): number {
    return this.refillPerSecond * (this.sharing !== undefined && this.tokens < this.sharing.lowWater ? this.ourShare : 1);
  }

  /**
   * Takes one token; returns how many milliseconds the caller must wait before sending (0 when available) and a
   * ticket that orders this request among the others (for `seed`).
   */
  reserve(): { waitMs: number; ticket: number } {
    this.refill();
    const needed = 1 + this.reserveTokens;
    const waitMs = this.tokens >= needed ? 0 : Math.ceil(((needed - this.tokens) / this.rate()) * 1000);
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
    if (this.sharing === undefined) {
      this.tokens = Math.min(this.capacity, remaining - this.inFlight);
      return;
    }
    this.measureShare(remaining);
    // Above the low-water mark the balance is everyone's to spend; below it, only our share of it is ours.
    const { lowWater } = this.sharing;
    const ours = remaining > lowWater ? remaining - lowWater + lowWater * this.ourShare : remaining * this.ourShare;
    this.tokens = Math.min(this.capacity, ours - this.inFlight);
  }

  /**
   * Between an older balance and this one, ARM's bucket lost (older - now) and refilled rate × elapsed: that is what
   * everyone consumed; our answers in between are what we consumed. A window where the bucket stood full says
   * nothing (its refill was wasted) and is skipped.
   */
  private measureShare(remaining: number): void {
    const now = this.clock.nowMs();
    // What we put on the wire, answered or not: ARM counts a request when it arrives, so a balance may include ours
    // whose answer is still on its way (reserved ones still waiting in the pacer are not counted).
    const sent = this.wire;
    this.samples.push({ atMs: now, remaining, sent });
    const windowMs = this.sharing!.windowMs;
    // A balance taken with the bucket full cannot be a base (its refill was wasted), nor can one past the window.
    while (this.samples.length > 1 && (this.samples[0]!.remaining >= this.capacity - 1 || now - this.samples[1]!.atMs >= windowMs)) {
      this.samples.shift();
    }
    const oldest = this.samples[0]!;
    const elapsedMs = now - oldest.atMs;
    const consumed = oldest.remaining - remaining + (elapsedMs / 1000) * this.refillPerSecond;
    const ours = sent - oldest.sent;
    if (elapsedMs <= 0 || consumed <= 0 || ours <= 0) return;
    // Floor 1/64: a share measured near zero would stall this instance for good; 64 instances is past any fleet here.
    const measured = Math.min(1, Math.max(1 / 64, ours / consumed));
    // A short window measures jitter as much as consumption (answers arrive in bursts): early on it may only lower
    // the share, the side that cannot cause a 429; a window of a second or more sets it either way.
    if (elapsedMs >= Math.min(1000, windowMs / 2) || measured < this.ourShare) this.ourShare = measured;
  }

  /** One of the reserved requests goes on the wire now (after its wait). */
  sent(): void {
    this.wire += 1;
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
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed / 1000) * this.rate());
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
  private readonly lowWaterFraction: number | undefined;
  private readonly shareWindowMs: number;

  constructor(options: PacingOptions = {}) {
    this.clock = options.clock ?? systemPacingClock;
    this.reserveTokens = options.reserveTokens ?? 2;
    this.lowWaterFraction = options.shareQuota === false ? undefined : (options.lowWaterFraction ?? 0.3);
    this.shareWindowMs = options.shareWindowMs ?? 10_000;
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
      const sharing = this.lowWaterFraction === undefined ? undefined : { lowWater: burst * this.lowWaterFraction, windowMs: this.shareWindowMs };
      bucket = new TokenBucket(burst, perSecond, this.clock, this.reserveTokens, sharing);
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
    bucket.sent();
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
