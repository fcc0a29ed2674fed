// Fault injection for the ARM and Key Vault surfaces. A fault matches requests by operation (the REST spec's
// operationId, e.g. "WebApps_ListApplicationSettings", "GetSecret"), optionally by subscription and by a path
// fragment, and then delays, fails or hangs them. Probabilistic faults draw from a seeded RNG so a run replays.

export interface FaultSpec {
  /**
   * operationIds to match; '*' = every ARM and Key Vault operation, 'arm:*' / 'kv:*' = every operation of one
   * surface. Default '*'.
   */
  operation?: string | string[];
  subscriptionId?: string;
  /** Case-insensitive fragment of the request path (e.g. a site name). */
  pathContains?: string;
  /** Answer with this status (429, 500, 503, …) instead of serving the request. */
  status?: number;
  /** Error code in the body; default per status (TooManyRequests, InternalServerError, ServiceUnavailable, …). */
  code?: string;
  message?: string;
  /** Retry-After seconds (default 1 for 429 and 503, none otherwise). */
  retryAfterSeconds?: number;
  /** Delay before answering (or before failing when `status` is set). */
  latencyMs?: number;
  /** Never answer (the client's timeout decides). */
  hang?: boolean;
  /** Applies to this many matching requests, then expires. Default: unlimited. */
  times?: number;
  /** Chance (0..1) that a matching request is affected. Default 1. */
  probability?: number;
}

export interface ActiveFault extends FaultSpec {
  id: string;
  /** How many requests it affected. */
  hits: number;
}

export type Surface = 'arm' | 'kv';

export interface FaultMatchInput {
  surface: Surface;
  operation: string;
  subscriptionId?: string;
  path: string;
}

/** mulberry32: tiny, fast, good enough to make probabilistic faults replayable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function validateFault(spec: FaultSpec): void {
  if (spec.status !== undefined && (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599)) {
    throw new RangeError(`fault status must be an HTTP error status (400-599), got ${spec.status}`);
  }
  if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) {
    throw new RangeError(`fault probability must be within 0..1, got ${spec.probability}`);
  }
  if (spec.times !== undefined && (!Number.isInteger(spec.times) || spec.times < 1)) {
    throw new RangeError(`fault times must be a positive integer, got ${spec.times}`);
  }
  if (spec.latencyMs !== undefined && !(spec.latencyMs >= 0)) throw new RangeError(`fault latencyMs must be >= 0`);
  if (spec.retryAfterSeconds !== undefined && !(spec.retryAfterSeconds >= 0)) throw new RangeError(`fault retryAfterSeconds must be >= 0`);
  if (spec.status === undefined && spec.latencyMs === undefined && !spec.hang) {
    throw new RangeError('a fault needs status, latencyMs or hang');
  }
}

export class FaultRegistry {
  private faults: ActiveFault[] = [];
  private nextId = 1;
  private random: () => number;

  constructor(private seed = 1) {
    this.random = seededRandom(seed);
  }

  add(spec: FaultSpec): string {
    validateFault(spec);
    const id = `fault-${this.nextId++}`;
    this.faults.push({ ...spec, id, hits: 0 });
    return id;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  /** Removes every fault and restarts the RNG from the seed (so the next run replays). */
  clear(seed = this.seed): void {
    this.faults = [];
    this.seed = seed;
    this.random = seededRandom(seed);
  }

  list(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The first fault that applies to this request (consuming one of its `times`), or undefined. */
  match(input: FaultMatchInput): ActiveFault | undefined {
    if (this.faults.length === 0) return undefined;
    for (const f of this.faults) {
      if (!matches(f, input)) continue;
      if (f.probability !== undefined && f.probability < 1 && this.random() >= f.probability) continue;
      f.hits += 1;
      if (f.times !== undefined && f.hits >= f.times) this.faults = this.faults.filter((x) => x !== f);
      return { ...f };
    }
    return undefined;
  }
}

function matches(f: FaultSpec, input: FaultMatchInput): boolean {
  const ops = f.operation === undefined ? ['*'] : Array.isArray(f.operation) ? f.operation : [f.operation];
  const opOk = ops.some(
    (o) => o === '*' || o === `${input.surface}:*` || o.toLowerCase() === input.operation.toLowerCase(),
  );
  if (!opOk) return false;
  if (f.subscriptionId !== undefined && f.subscriptionId.toLowerCase() !== input.subscriptionId?.toLowerCase()) return false;
  if (f.pathContains !== undefined && !input.path.toLowerCase().includes(f.pathContains.toLowerCase())) return false;
  return true;
}

export function defaultFaultCode(status: number): string {
  switch (status) {
    case 429:
      return 'TooManyRequests';
    case 500:
      return 'InternalServerError';
    case 502:
      return 'BadGateway';
    case 503:
      return 'ServiceUnavailable';
    case 504:
      return 'GatewayTimeout';
    case 403:
      return 'Forbidden';
    case 409:
      return 'Conflict';
    default:
      return status >= 500 ? 'InternalServerError' : 'BadRequest';
  }
}
