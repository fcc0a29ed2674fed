// The sandbox's request log and counters: what tests and the benchmark assert on ("how many ARM writes did
// a rotation cost", "was the bodyless challenge request acted on").

export interface RequestLogEntry {
  seq: number;
  at: string;
  surface: 'arm' | 'kv' | 'control' | 'login';
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
  subscriptionId?: string;
  /** REST spec operationId (WebApps_List, GetSecret, …); undefined when no route matched. */
  operation?: string;
  /** 'read' | 'write' for ARM operations. */
  class?: 'read' | 'write';
  /** Vault name for Key Vault requests. */
  vault?: string;
  authorized: boolean;
  /** Whether the request carried a body (the Key Vault client's first, unauthenticated request has none). */
  hadBody: boolean;
  throttled?: boolean;
  fault?: string;
  durationMs: number;
}

export interface SubscriptionCounters {
  reads: number;
  writes: number;
  throttled: number;
}

export interface Counters {
  arm: {
    /** Authenticated ARM requests that matched an operation, by class (429s included). */
    reads: number;
    writes: number;
    /** Refused by the throttling model. */
    throttled: number;
    /** Answered by an injected fault (status or hang). */
    faulted: number;
    unauthorized: number;
    byOperation: Record<string, number>;
    bySubscription: Record<string, SubscriptionCounters>;
  };
  keyVault: {
    /** Authenticated Key Vault requests. */
    requests: number;
    unauthorized: number;
    faulted: number;
    byOperation: Record<string, number>;
  };
  /** POST …/restart calls that reached an app (or were counted for it when apps are not simulated). */
  restarts: number;
}

// Scale runs make tens of thousands of requests; beyond this the oldest entries go (counters stay exact).
const MAX_LOG_ENTRIES = 200_000;

function emptyCounters(): Counters {
  return {
    arm: { reads: 0, writes: 0, throttled: 0, faulted: 0, unauthorized: 0, byOperation: {}, bySubscription: {} },
    keyVault: { requests: 0, unauthorized: 0, faulted: 0, byOperation: {} },
    restarts: 0,
  };
}

export class Recorder {
  private log: RequestLogEntry[] = [];
  private seq = 0;
  private c: Counters = emptyCounters();

  constructor(private readonly sink?: (line: string) => void) {}

  record(e: Omit<RequestLogEntry, 'seq' | 'at'>): void {
    const entry: RequestLogEntry = { seq: ++this.seq, at: new Date().toISOString(), ...e };
    this.log.push(entry);
    if (this.log.length > MAX_LOG_ENTRIES) this.log.splice(0, this.log.length - MAX_LOG_ENTRIES);
    if (e.surface === 'arm') {
      if (!e.authorized) this.c.arm.unauthorized++;
      else if (e.operation !== undefined && e.class !== undefined) {
        const sub = e.subscriptionId?.toLowerCase();
        if (e.class === 'read') this.c.arm.reads++;
        else this.c.arm.writes++;
        this.c.arm.byOperation[e.operation] = (this.c.arm.byOperation[e.operation] ?? 0) + 1;
        if (sub !== undefined) {
          const s = (this.c.arm.bySubscription[sub] ??= { reads: 0, writes: 0, throttled: 0 });
          if (e.class === 'read') s.reads++;
          else s.writes++;
          if (e.throttled) s.throttled++;
        }
        if (e.throttled) this.c.arm.throttled++;
        if (e.fault !== undefined) this.c.arm.faulted++;
      }
    } else if (e.surface === 'kv') {
      if (!e.authorized) this.c.keyVault.unauthorized++;
      else {
        this.c.keyVault.requests++;
        if (e.operation !== undefined) this.c.keyVault.byOperation[e.operation] = (this.c.keyVault.byOperation[e.operation] ?? 0) + 1;
        if (e.fault !== undefined) this.c.keyVault.faulted++;
      }
    }
    this.sink?.(
      `${e.surface.toUpperCase()} ${e.method} ${e.path} ${e.status} ${e.operation ?? '-'}${e.throttled ? ' throttled' : ''}${e.fault ? ` fault=${e.fault}` : ''} ${e.durationMs.toFixed(0)}ms`,
    );
  }

  countRestart(): void {
    this.c.restarts++;
  }

  entries(filter: { since?: number; surface?: RequestLogEntry['surface']; operation?: string } = {}): RequestLogEntry[] {
    return this.log.filter(
      (e) =>
        (filter.since === undefined || e.seq > filter.since) &&
        (filter.surface === undefined || e.surface === filter.surface) &&
        (filter.operation === undefined || e.operation === filter.operation),
    );
  }

  counters(): Counters {
    return structuredClone(this.c);
  }

  reset(): void {
    this.log = [];
    this.c = emptyCounters();
  }
}
